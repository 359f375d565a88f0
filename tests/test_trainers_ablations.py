"""Ablation sets: listing, a CI-sized run (train, translate, score), resume, refusals; and the
train-step benchmark's baseline computing the same iteration."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from evaluate_data import scoring_options

from p2peval.cli import main
from p2peval.report.scorefile import read_score


pytestmark = pytest.mark.usefixtures("one_torch_thread")


ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, OMP_NUM_THREADS="1")
SMALL = ["--size", "32", "--steps", "1", "--set", "generator.ngf=4", "--set", "discriminator.ndf=4",
         "--set", "sample_images=0", "--n-resamples", "20", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from p2peval.scorers.checkpoint import save_scorer
    from p2peval.scorers.registry import build_scorer
    from p2peval.data.toycity import generate_toycity
    base = tmp_path_factory.mktemp("abl")
    generate_toycity(base / "toy", 2, 2, size=32, seed=3, progress=False, workers=1)
    torch.manual_seed(0)
    model, config = build_scorer("fcn8s-tiny")  # untrained: the plumbing is under test, not the value
    save_scorer(base / "scorer.pt", model, arch="fcn8s-tiny", config=config)
    return base / "toy", base / "scorer.pt"


def test_list_names_every_set_and_variant(capsys):
    assert main(["ablation", "list", "--json"]) == 0
    sets = json.loads(capsys.readouterr().out)
    assert set(sets) == {"losses", "generator", "discriminator", "photo2labels", "cyclegan-losses"}
    assert list(sets["losses"]["variants"]) == ["l1", "gan", "cgan", "l1+gan", "l1+cgan"]
    assert [v["overrides"] for v in sets["discriminator"]["variants"].values()] == [
        [f"discriminator.arch={a}"] for a in ("pixel", "patch16", "patch70", "patch286")]
    assert len(sets["generator"]["variants"]) == 4 and sets["photo2labels"]["task"] == "photo2labels"
    assert main(["ablation", "list"]) == 0
    assert "imagegan_286x286" in capsys.readouterr().out


def test_losses_run_scores_each_variant(toy, tmp_path, capsys):
    from p2peval.scoring.fcn_score import fcn_score
    data, scorer = toy
    out = tmp_path / "losses"
    args = ["ablation", "run", "losses", "--data", str(data), "--scorer", str(scorer), "--out", str(out),
            "--variant", "l1", "--variant", "l1+cgan", *SMALL]
    assert main(args) == 0
    for v in ("l1", "l1+cgan"):
        s = read_score(out / "scores" / f"{v}.json")
        assert s["label"] == v and s["metric"] == "fcn-score"
        assert s["ablation"]["config"]["loss"]["objective"] == v
        assert s["ablation"]["config"]["data"]["direction"] == "AtoB"  # labels -> photo
        # the same numbers as scoring the variant's results folder directly
        direct = fcn_score(out / "results" / v, scorer=scorer,
                           **scoring_options(cityscapes=data, n_resamples=20, show_progress=False))
        assert direct["values"] == s["values"]
    summary = json.loads((out / "ablation.json").read_text())
    assert set(summary["variants"]) == {"l1", "l1+cgan"}
    capsys.readouterr()
    mtime = (out / "scores" / "l1.json").stat().st_mtime_ns
    assert main(args) == 0  # resumable: finished variants are skipped
    assert "l1: done" in capsys.readouterr().out
    assert (out / "scores" / "l1.json").stat().st_mtime_ns == mtime
    assert main([*args, "--set", "generator.ngf=8"]) == 2
    assert "made with a different config (changed: generator.ngf)" in capsys.readouterr().err


def test_photo2labels_scores_label_maps(toy, tmp_path):
    from p2peval.scoring.label_score import label_score
    data, _ = toy
    out = tmp_path / "p2l"
    assert main(["ablation", "run", "photo2labels", "--data", str(data), "--out", str(out),
                 "--variant", "l1", *SMALL]) == 0
    s = read_score(out / "scores" / "l1.json")
    assert s["label"] == "l1" and s["metric"] == "label-score"
    assert s["ablation"]["config"]["data"]["direction"] == "BtoA"  # photo -> labels
    direct = label_score(out / "results" / "l1", **scoring_options(cityscapes=data, n_resamples=20,
                                                                   show_progress=False))
    assert direct["values"] == s["values"]


@pytest.mark.parametrize("args,msg", [
    (["losses"], "--scorer CKPT is required"),
    (["nosuch", "--scorer", "x.pt"], "unknown ablation set 'nosuch'; valid choices: cyclegan-losses, discriminator"),
    (["losses", "--scorer", "/nonexistent.pt"], "/nonexistent.pt: no such scorer checkpoint"),
    (["losses", "--variant", "wgan", "--scorer", "SCORER"], "unknown variant 'wgan'")])
def test_run_errors_are_one_line(toy, tmp_path, args, msg):
    data, scorer = toy
    args = [str(scorer) if a == "SCORER" else a for a in args]
    p = subprocess.run([sys.executable, "-m", "p2peval", "ablation", "run", *args, "--data", str(data),
                        "--out", str(tmp_path / "o")], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and msg in p.stderr, p.stderr
    assert not (tmp_path / "o" / "scores").exists()


def test_bench_baseline_is_the_same_iteration():
    """The benchmark's reference-style step and the trainer's step compute the same update."""
    from trainers.pix2pix.bench import ReferenceStyleStep
    from trainers.pix2pix.config import TrainConfig, apply_overrides, validate
    from trainers.pix2pix.step import Pix2PixModel, build_networks
    cfg = validate(apply_overrides(TrainConfig(), ["data.crop_size=32", "data.load_size=32",
                                                   "generator.ngf=4", "discriminator.ndf=4", "data.batch_size=2"]))
    torch.manual_seed(0)
    ours = Pix2PixModel(cfg, torch.device("cpu"))
    torch.manual_seed(0)
    G, D = build_networks(cfg)
    ref = ReferenceStyleStep(G, D)
    x, y = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    for _ in range(2):
        torch.manual_seed(1)
        ours.step(x, y)
        torch.manual_seed(1)
        ref.step(x, y)
    for a, b in ((ours.G, G), (ours.D, D)):
        sa, sb = a.state_dict(), b.state_dict()
        for k in sa:
            assert torch.allclose(sa[k].float(), sb[k].float(), atol=1e-6), k


def test_bench_cli_prints_json(tmp_path):
    out = tmp_path / "b.json"
    p = subprocess.run([sys.executable, "-m", "p2peval", "bench", "train-step", "--size", "32", "--repeats", "1",
                        "--warmup", "0", "--device", "cpu", "--set", "generator.ngf=4", "--set", "discriminator.ndf=4",
                        "--out", str(out)], cwd=ROOT, env=ENV,
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r == json.loads(out.read_text())
    assert set(r["median_s"]) == {"p2peval", "reference_style"} and r["speedup_vs_reference_style"] > 0
    assert r["command"].startswith("p2peval bench train-step") and r["overrides"] == ["generator.ngf=4",
                                                                                      "discriminator.ndf=4"]
