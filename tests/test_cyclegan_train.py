"""CycleGAN training on tiny data: run folder, resume bit-identical (weights, pools, loss log)
after a stop and after SIGKILL, NaN stop, the data layouts, bad input through the CLI."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from p2peval.cli import main
from p2peval.core.imageio import read_rgb, write_png
from trainers.common.runtime import TrainingDiverged
from trainers.cyclegan.config import CycleGANConfig, apply_overrides
from trainers.cyclegan.train import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ROOT = Path(__file__).resolve().parents[1]

# pool of 2: swaps start at the third step, so resuming must restore the pools and their RNG
TINY = ["data.load_size=36", "data.crop_size=32", "generator.ngf=2", "generator.n_blocks=1",
        "discriminator.ndf=2", "loss.pool_size=2", "sample_images=2", "device=cpu"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    from p2peval.data.toycity import generate_toycity
    out = tmp_path_factory.mktemp("toy")
    generate_toycity(out, 4, 2, size=32, seed=0, progress=False, workers=1)
    return out


def cfg(root, *sets):
    return apply_overrides(CycleGANConfig(), [f"data.root={root}", *TINY, *sets])


def rows(run):
    with open(run / "losses.csv", newline="") as f:
        return list(csv.DictReader(f))


def sets_args(sets):
    return [a for s in sets for a in ("--set", s)]


def assert_same_state(a: Path, b: Path):
    ca = torch.load(a / "checkpoint.pt", weights_only=False)
    cb = torch.load(b / "checkpoint.pt", weights_only=False)
    assert ca["step"] == cb["step"]
    for net in ("G_A", "G_B", "D_A", "D_B"):
        assert all(torch.equal(ca["model"][net][k], cb["model"][net][k]) for k in ca["model"][net]), net
    for opt in ("opt_G", "opt_D"):
        sa, sb = ca["model"][opt]["state"], cb["model"][opt]["state"]
        assert all(torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"]) for i in sa)
    for side in ("A", "B"):
        pa, pb = ca["pools"][0][side], cb["pools"][0][side]
        assert len(pa["images"]) == len(pb["images"]) == 2 and pa["rng"] == pb["rng"]
        assert all(torch.equal(x, y) for x, y in zip(pa["images"], pb["images"]))
    assert (a / "losses.csv").read_text() == (b / "losses.csv").read_text()
    ga = torch.load(a / "generator.pt", weights_only=False)
    gb = torch.load(b / "generator.pt", weights_only=False)
    assert all(torch.equal(ga["G_B"][k], gb["G_B"][k]) for k in ga["G_B"])


def test_run_folder_and_schedule(toy, tmp_path):
    # 4 images per domain, 4 steps per epoch; 1 + 2 epochs: lr 1, 2/3, 1/3 of 2e-4 by epoch
    run = train(cfg(toy, "optim.n_epochs=1", "optim.n_epochs_decay=2"), tmp_path / "run", show_progress=False)
    r = rows(run)
    assert [x["step"] for x in r] == [str(i) for i in range(1, 13)]
    assert [float(x["lr"]) for x in r] == pytest.approx([2e-4] * 4 + [2e-4 * 2 / 3] * 4 + [2e-4 / 3] * 4, rel=1e-5)
    assert list(r[0]) == ["step", "epoch", "lr", "D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"]
    assert all(np.isfinite(float(v)) for x in r for k, v in x.items() if k not in ("step", "epoch"))
    config = json.loads((run / "config.json").read_text())
    assert config["trainer"] == "cyclegan" and config["loss"]["lambda_identity"] == 0.5
    g = torch.load(run / "generator.pt", weights_only=False)
    assert set(g) >= {"G_A", "G_B", "config", "step"} and g["step"] == 12
    grid = read_rgb(run / "samples" / "epoch_0003.png")
    assert grid.shape == (2 * 32, 6 * 32, 3)  # real_A | fake_B | rec_A | real_B | fake_A | rec_B


def test_resume_after_stop_is_bit_identical(toy, tmp_path):
    sets = ["steps=6", "checkpoint_every=2"]
    a = train(cfg(toy, *sets), tmp_path / "a", show_progress=False)
    b = train(cfg(toy, *sets), tmp_path / "b", show_progress=False, max_steps=3)
    assert torch.load(b / "checkpoint.pt", weights_only=False)["step"] == 3 and not (b / "generator.pt").exists()
    with open(b / "losses.csv", "a") as f:  # a row written after the checkpoint, then stopped
        f.write("4,1,0.0002,9,9,9,9,9,9,9,9\n")
    train(cfg(toy, *sets), b, resume=True, show_progress=False)
    assert_same_state(a, b)


def test_resume_after_sigkill_is_bit_identical(toy, tmp_path):
    sets = TINY + ["steps=40", "checkpoint_every=1", "sample_images=0"]
    a = train(apply_overrides(CycleGANConfig(), [f"data.root={toy}", *sets]), tmp_path / "a", show_progress=False)
    b = tmp_path / "b"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "p2peval", "train", "cyclegan", "--data", str(toy),
                             "--out", str(b), "--quiet", *sets_args(sets)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (b / "losses.csv").exists() and len(rows(b)) >= 5:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = torch.load(b / "checkpoint.pt", weights_only=False)["step"]
    assert 0 < killed_at < 40 and not (b / "generator.pt").exists()  # killed mid-run
    assert main(["train", "cyclegan", "--out", str(b), "--resume", "--quiet"]) == 0
    assert_same_state(a, b)


def test_nan_stops_and_keeps_the_checkpoint(toy, tmp_path, monkeypatch, capsys):
    import trainers.cyclegan.losses as L
    real, calls = L.cycle_loss, {"n": 0}

    def nan_at_third_step(rec, target, weight):
        calls["n"] += 1  # two cycle terms per step
        out = real(rec, target, weight)
        return out * float("nan") if calls["n"] == 5 else out

    monkeypatch.setattr(L, "cycle_loss", nan_at_third_step)
    run = tmp_path / "run"
    rc = main(["train", "cyclegan", "--data", str(toy), "--out", str(run), "--quiet",
               *sets_args(TINY + ["steps=5", "checkpoint_every=2"])])
    err = capsys.readouterr().err
    assert rc == 3 == TrainingDiverged.exit_code
    assert err.count("\n") == 1 and "diverged at step 2" in err and "cycle_A=nan" in err
    assert f"{run / 'checkpoint.pt'} (step 2)" in err
    assert torch.load(run / "checkpoint.pt", weights_only=False)["step"] == 2 and not (run / "generator.pt").exists()


def _images(folder: Path, n: int, side: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    for i in range(n):
        write_png(folder / f"{i}.png", rng.integers(0, 256, (side, side, 3), dtype=np.uint8))


def test_unaligned_folders_and_greyscale(tmp_path):
    from trainers.cyclegan.data import list_domains
    _images(tmp_path / "d" / "trainA", 3)
    _images(tmp_path / "d" / "trainB", 2, seed=1)
    layout, a, b = list_domains(tmp_path / "d", "auto", "train")
    assert layout == "unaligned" and len(a) == 3 and len(b) == 2
    run = train(cfg(tmp_path / "d", "steps=2", "data.channels_A=1", "loss.lambda_identity=0"),
                tmp_path / "run", show_progress=False)
    gens = torch.load(run / "generator.pt", weights_only=False)
    assert gens["G_A"]["model.1.weight"].shape[1] == 1  # G_A reads one channel
    last = max((k for k in gens["G_B"] if k.endswith(".weight")), key=lambda k: int(k.split(".")[1]))
    assert gens["G_B"][last].shape[0] == 1  # G_B writes one


def test_pix2pix_pairs_read_unpaired(tmp_path):
    from trainers.cyclegan.data import UnpairedDataset, list_domains
    rng = np.random.default_rng(0)
    for i in range(4):
        left = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        write_png(tmp_path / "train" / f"{i}.png", np.concatenate([left, 255 - left], 1))
    layout, a, b = list_domains(tmp_path, "auto", "train")
    assert layout == "pix2pix" and [r.id for r in a] == [r.id for r in b]
    assert np.array_equal(a[2].load(), 255 - b[2].load())  # the halves of one file
    ds = UnpairedDataset(a, b, cfg(tmp_path).data, train=True)
    picks = [ds.pick(e, i) for e in range(20) for i in range(4)]
    assert sum(ia != ib for ia, ib in picks) > 40  # the sides are drawn independently


def test_bad_input_is_one_line(toy, tmp_path, capsys):
    base = sets_args(TINY + ["steps=1"])
    _images(tmp_path / "d" / "trainA", 2)
    (tmp_path / "d" / "trainB").mkdir()
    rc = main(["train", "cyclegan", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "r1"), "--quiet", *base])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and f"{tmp_path / 'd' / 'trainB'}: no images in this domain folder" in err
    _images(tmp_path / "e" / "trainB", 2)
    rc = main(["train", "cyclegan", "--data", str(tmp_path / "e"), "--out", str(tmp_path / "r2"), "--quiet", *base])
    assert rc == 2 and f"{tmp_path / 'e' / 'trainA'}: domain folder is missing" in capsys.readouterr().err
    rc = main(["train", "cyclegan", "--data", str(toy), "--out", str(tmp_path / "r3"), "--quiet", *base,
               "--set", "data.channels_B=1"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "loss.lambda_identity=0.5" in err and "equal channel counts" in err
    assert not (tmp_path / "r3").exists()  # refused before anything is written
    p2p = tmp_path / "p2p"
    assert main(["train", "pix2pix", "--data", str(toy), "--out", str(p2p), "--quiet",
                 *sets_args(["data.load_size=36", "data.crop_size=32", "generator.ngf=2", "discriminator.ndf=2",
                             "sample_images=0", "device=cpu", "steps=1"])]) == 0
    before = {p.name: p.stat().st_mtime_ns for p in p2p.iterdir()}
    rc = main(["train", "cyclegan", "--data", str(toy), "--out", str(p2p), "--resume", "--quiet", *base])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and f"{p2p / 'config.json'}: a pix2pix run folder, not a CycleGAN one" in err
    assert {p.name: p.stat().st_mtime_ns for p in p2p.iterdir()} == before  # nothing touched
    rc = main(["train", "cyclegan", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "r4"), "--quiet"])
    assert rc == 2 and "nothing: no such dataset folder" in capsys.readouterr().err


def test_bf16_autocast_and_channels_last(toy, tmp_path):
    """Same first-step losses with channels_last (same maths, other memory order); bf16 autocast
    changes them a little (it is active) and keeps them close."""
    base = ["steps=1", "sample_images=0"]
    first = {}
    for name, extra in (("fp32", []), ("cl", ["channels_last=true"]),
                        ("bf16", ["precision=bf16", "channels_last=true"])):
        run = train(cfg(toy, *base, *extra), tmp_path / name, show_progress=False)
        first[name] = {k: float(v) for k, v in rows(run)[0].items() if k not in ("step", "epoch", "lr")}
    for k, v in first["fp32"].items():
        assert first["cl"][k] == pytest.approx(v, rel=1e-4), k
        assert first["bf16"][k] == pytest.approx(v, rel=5e-2, abs=1e-3), k
    assert first["bf16"] != first["fp32"]
