"""``ablation run cyclegan-losses`` on a tiny toy-city: every variant trained once, both
generators scored (fcn-score labels -> photo, label-score photo -> labels), resumable."""

import json

import pytest
import torch

from evaluate_data import scoring_options

from p2peval.cli import main
from p2peval.report.scorefile import read_score

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SMALL = ["--size", "32", "--steps", "1", "--set", "generator.ngf=2", "--set", "generator.n_blocks=1",
         "--set", "discriminator.ndf=2", "--set", "sample_images=0", "--n-resamples", "20",
         "--device", "cpu", "--quiet"]
VARIANTS = ["cycle_alone", "gan_alone", "gan+forward", "gan+backward", "cyclegan"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from p2peval.scorers.checkpoint import save_scorer
    from p2peval.scorers.registry import build_scorer
    from p2peval.data.toycity import generate_toycity
    base = tmp_path_factory.mktemp("cgabl")
    generate_toycity(base / "toy", 2, 2, size=32, seed=3, progress=False, workers=1)
    torch.manual_seed(0)
    model, config = build_scorer("fcn8s-tiny")  # untrained: the plumbing is under test, not the value
    save_scorer(base / "scorer.pt", model, arch="fcn8s-tiny", config=config)
    return base / "toy", base / "scorer.pt"


def test_every_variant_both_directions(toy, tmp_path, capsys):
    from p2peval.scoring.fcn_score import fcn_score
    from p2peval.scoring.label_score import label_score
    data, scorer = toy
    out = tmp_path / "cg"
    args = ["ablation", "run", "cyclegan-losses", "--data", str(data), "--out", str(out), "--scorer", str(scorer),
            *SMALL, "--variant", "cycle_alone", "--variant", "gan+forward"]
    assert main(args) == 0
    for v in ("cycle_alone", "gan+forward"):
        l2p = read_score(out / "scores" / "labels2photo" / f"{v}.json")
        p2l = read_score(out / "scores" / "photo2labels" / f"{v}.json")
        assert l2p["label"] == p2l["label"] == v
        assert l2p["metric"] == "fcn-score" and p2l["metric"] == "label-score"
        assert l2p["protocol"]["name"] == "cyclegan" and l2p["ablation"]["task"] == "labels2photo"
        assert l2p["ablation"]["config"]["trainer"] == "cyclegan"
        m = json.loads((out / "results" / v / "photo2labels" / "manifest.json").read_text())
        assert m["direction"] == "BtoA" and m["generator"] == "G_B"
    # the same numbers as scoring a variant's folders directly
    v = "gan+forward"
    direct = fcn_score(out / "results" / v / "labels2photo", scorer=scorer, **scoring_options(
        cityscapes=data, protocol="cyclegan", n_resamples=20, show_progress=False))
    assert direct["values"] == read_score(out / "scores" / "labels2photo" / f"{v}.json")["values"]
    direct = label_score(out / "results" / v / "photo2labels", **scoring_options(
        cityscapes=data, protocol="cyclegan", n_resamples=20, show_progress=False))
    assert direct["values"] == read_score(out / "scores" / "photo2labels" / f"{v}.json")["values"]
    summary = json.loads((out / "ablation.json").read_text())
    assert list(summary["variants"]) == ["cycle_alone", "gan+forward"] and summary["protocol"] == "cyclegan"
    assert torch.load(out / "runs" / "cycle_alone" / "checkpoint.pt", weights_only=False)["model"]["D_A"] is None
    capsys.readouterr()
    assert main(args) == 0  # finished variants are skipped
    assert capsys.readouterr().out.count(": done (") == 2
    assert main([*args, "--set", "generator.ngf=4"]) == 2
    assert "made with a different config (changed: generator.ngf)" in capsys.readouterr().err


def test_variant_losses_as_the_paper():
    """Which terms each variant trains (domain A = labels: forward cycle = lambda_A); no identity."""
    from trainers.ablations import ABLATIONS, variant_config
    ab = ABLATIONS.get("cyclegan-losses")
    assert [v.name for v in ab.variants] == VARIANTS and ab.tasks == ("labels2photo", "photo2labels")
    expect = {"cycle_alone": (False, 10, 10), "gan_alone": (True, 0, 0), "gan+forward": (True, 10, 0),
              "gan+backward": (True, 0, 10), "cyclegan": (True, 10, 10)}
    for v in ab.variants:
        c = variant_config(ab, v, "data", size=128, epochs=200)
        assert (c.loss.gan, c.loss.lambda_A, c.loss.lambda_B) == expect[v.name] and c.loss.lambda_identity == 0
        assert (c.data.crop_size, c.data.load_size, c.generator.n_blocks) == (128, 143, 6)
        assert (c.optim.n_epochs, c.optim.n_epochs_decay, c.data.layout) == (100, 100, "cityscapes")
