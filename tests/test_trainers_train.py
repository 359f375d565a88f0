"""pix2pix training on tiny toy-city data: every objective and discriminator, resume
equivalence, NaN guard, data jitter and directions, colorization."""

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from p2peval.cli import main
from p2peval.core.imageio import read_rgb, write_png
from trainers.common.runtime import TrainingDiverged
from trainers.pix2pix.config import TrainConfig, apply_overrides
from trainers.pix2pix.train import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


TINY = ["data.load_size=36", "data.crop_size=32", "generator.ngf=4", "discriminator.ndf=4",
        "sample_images=2", "device=cpu"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    from p2peval.data.toycity import generate_toycity
    out = tmp_path_factory.mktemp("toy")
    generate_toycity(out, 4, 2, size=32, seed=0, progress=False, workers=1)
    return out


def cfg(root, *sets):
    return apply_overrides(TrainConfig(), [f"data.root={root}", *TINY, *sets])


def read_losses(run):
    with open(run / "losses.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("objective", ["l1", "gan", "cgan", "l1+gan", "l1+cgan"])
def test_every_objective_trains(toy, tmp_path, objective):
    run = train(cfg(toy, f"loss.objective={objective}", "steps=2"), tmp_path / "run", show_progress=False)
    rows = read_losses(run)
    assert [r["step"] for r in rows] == ["1", "2"]
    has_gan, has_l1 = "gan" in objective, "l1" in objective
    for r in rows:
        assert (r["D_real"] != "") == has_gan and (r["G_GAN"] != "") == has_gan
        assert (r["G_L1"] != "") == has_l1
        assert all(np.isfinite(float(v)) for k, v in r.items() if v and k not in ("step", "epoch"))
    ckpt = torch.load(run / "checkpoint.pt", weights_only=False)
    assert ckpt["step"] == 2 and (ckpt["model"]["D"] is None) == (not has_gan)
    if has_gan:  # D sees the input in the conditional objectives: 3 + 3 channels, else 3
        first = next(v for k, v in ckpt["model"]["D"].items() if k.endswith("weight"))
        assert first.shape[1] == (6 if "cgan" in objective else 3)
    # training moved the generator away from a fresh initialisation with the same seed
    torch.manual_seed(0)
    from trainers.pix2pix.config import validate
    from trainers.pix2pix.step import build_networks
    G0, _ = build_networks(validate(cfg(toy, f"loss.objective={objective}")))
    g = torch.load(run / "generator.pt", weights_only=False)["G"]
    assert any(not torch.equal(g[k], v) for k, v in G0.state_dict().items() if v.is_floating_point())


@pytest.mark.parametrize("arch,size", [("pixel", 32), ("patch16", 32), ("patch70", 32), ("patch286", 128)])
def test_every_discriminator_trains(toy, tmp_path, arch, size):
    c = cfg(toy, f"discriminator.arch={arch}", "steps=1", f"data.crop_size={size}",
            f"data.load_size={size}", "sample_images=0")
    run = train(c, tmp_path / "run", show_progress=False)
    assert len(read_losses(run)) == 1
    assert json.loads((run / "config.json").read_text())["discriminator"]["arch"] == arch


def _hand_gan_loss(mode: str, logits: np.ndarray, real: bool) -> float:
    """The two GAN losses written out in float64: least squares against 1/0 (LSGAN), binary
    cross-entropy of sigmoid(logit) against 1/0 as log(1 + exp(-+x)) (vanilla)."""
    x = np.asarray(logits, dtype=np.float64)
    if mode == "lsgan":
        return float(np.mean((x - (1.0 if real else 0.0)) ** 2))
    return float(np.mean(np.logaddexp(0.0, -x if real else x)))


def test_gan_losses_on_fixed_logits():
    """Hand-computed values on a fixed 2x2 patch map, and logits far out where a sigmoid saturates."""
    from trainers.pix2pix.losses import gan_loss

    logits = torch.tensor([[[[-2.0, -0.5], [0.0, 1.5]]]])
    assert gan_loss("lsgan", logits, True).item() == pytest.approx((9 + 2.25 + 1 + 0.25) / 4, rel=1e-6)
    assert gan_loss("lsgan", logits, False).item() == pytest.approx((4 + 0.25 + 0 + 2.25) / 4, rel=1e-6)
    xs = [-2.0, -0.5, 0.0, 1.5]
    real = sum(math.log(1 + math.exp(-x)) for x in xs) / 4  # -log sigmoid(x)
    fake = sum(math.log(1 + math.exp(x)) for x in xs) / 4   # -log(1 - sigmoid(x))
    assert gan_loss("vanilla", logits, True).item() == pytest.approx(real, rel=1e-6)
    assert gan_loss("vanilla", logits, False).item() == pytest.approx(fake, rel=1e-6)
    far = torch.tensor([[[[-40.0, 40.0]]]])  # log(1 + e^40) = 40 + 4e-18: no overflow, no clamp
    assert gan_loss("vanilla", far, True).item() == pytest.approx(20.0, rel=1e-6)
    assert gan_loss("vanilla", far, False).item() == pytest.approx(20.0, rel=1e-6)
    assert gan_loss("lsgan", far, True).item() == pytest.approx((41 ** 2 + 39 ** 2) / 2, rel=1e-6)


@pytest.mark.parametrize("mode", ["lsgan", "vanilla"])
def test_lsgan_loss_values(toy, tmp_path, monkeypatch, mode):
    """The logged losses of the first step are the GAN losses of D's outputs in that step,
    computed independently here from the patch maps D returned (read through a forward hook):
    D on the fake pair, D on the real pair (the D step), then D on the fake pair (the G step)."""
    from trainers.pix2pix import step as step_module

    outputs: list[np.ndarray] = []
    build = step_module.build_networks

    def build_and_watch(config):
        G, D = build(config)
        D.register_forward_hook(lambda _m, _i, out: outputs.append(out.detach().double().numpy()))
        return G, D

    monkeypatch.setattr(step_module, "build_networks", build_and_watch)
    c = cfg(toy, f"loss.gan_mode={mode}", "steps=1", "generator.dropout=0", "sample_images=0")
    run = train(c, tmp_path / "run", show_progress=False)
    row = read_losses(run)[0]
    assert len(outputs) == 3 and outputs[0].shape[1] == 1
    pred_fake, pred_real, pred_g = outputs
    assert float(row["D_fake"]) == pytest.approx(_hand_gan_loss(mode, pred_fake, False), rel=2e-5)
    assert float(row["D_real"]) == pytest.approx(_hand_gan_loss(mode, pred_real, True), rel=2e-5)
    assert float(row["G_GAN"]) == pytest.approx(_hand_gan_loss(mode, pred_g, True), rel=2e-5)
    # the two modes differ on these outputs, so the comparison tells them apart
    other = "vanilla" if mode == "lsgan" else "lsgan"
    assert abs(_hand_gan_loss(other, pred_real, True) - float(row["D_real"])) > 1e-3


def test_resume_reaches_the_same_weights(toy, tmp_path):
    sets = ["steps=5", "checkpoint_every=2", "data.batch_size=2"]
    a = train(cfg(toy, *sets), tmp_path / "a", show_progress=False)
    b = train(cfg(toy, *sets), tmp_path / "b", show_progress=False, max_steps=3)
    assert torch.load(b / "checkpoint.pt", weights_only=False)["step"] == 3
    assert not (b / "generator.pt").exists()
    with open(b / "losses.csv", "a") as f:  # a row written after the checkpoint, then "killed"
        f.write("4,1,0.0002,9,9,9,9\n")
    train(cfg(toy, *sets), b, resume=True, show_progress=False)
    ga = torch.load(a / "generator.pt", weights_only=False)["G"]
    gb = torch.load(b / "generator.pt", weights_only=False)["G"]
    assert all(torch.equal(ga[k], gb[k]) for k in ga)
    da = torch.load(a / "checkpoint.pt", weights_only=False)["model"]
    db = torch.load(b / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(da["D"][k], db["D"][k]) for k in da["D"])
    assert (a / "losses.csv").read_text() == (b / "losses.csv").read_text()
    # 5 steps, the last round(2.5) = 2 decaying: lr * (1 - k / 3)
    assert [float(r["lr"]) for r in read_losses(a)] == pytest.approx([2e-4] * 3 + [2e-4 * 2 / 3, 2e-4 / 3], rel=1e-5)
    # 4 pairs, batch 2: 2 steps per epoch -> samples after epochs 1 and 2
    assert sorted(p.name for p in (a / "samples").iterdir()) == [f"epoch_{i:04d}.png" for i in (1, 2)]
    grid = read_rgb(a / "samples" / "epoch_0001.png")
    assert grid.shape == (2 * 32, 3 * 32, 3)  # rows: input | output | target


def test_lr_schedule_linear_decay():
    """The reference's rule in iterations: constant, then the k-th of n decay steps has
    lr * (1 - k / (n + 1))."""
    from trainers.pix2pix.step import lr_factor
    c = apply_overrides(TrainConfig(), ["optim.decay_fraction=0.5"])
    assert [lr_factor(c, s, 6) for s in range(6)] == pytest.approx([1, 1, 1, 0.75, 0.5, 0.25])
    c = apply_overrides(TrainConfig(), ["optim.decay_fraction=0.25"])
    assert [lr_factor(c, s, 8) for s in range(8)] == pytest.approx([1] * 6 + [2 / 3, 1 / 3])
    c = apply_overrides(TrainConfig(), ["optim.schedule=constant"])
    assert [lr_factor(c, s, 5) for s in range(5)] == [1.0] * 5


def test_nan_loss_stops_and_keeps_checkpoint(toy, tmp_path, monkeypatch, capsys):
    import trainers.pix2pix.losses as L
    real, calls = L.l1_loss, {"n": 0}

    def l1_nan_at_third(fake, target):
        calls["n"] += 1
        out = real(fake, target)
        return out * float("nan") if calls["n"] == 3 else out

    monkeypatch.setattr(L, "l1_loss", l1_nan_at_third)
    run = tmp_path / "run"
    rc = main(["train", "pix2pix", "--data", str(toy), "--out", str(run), "--quiet",
               *[a for s in TINY + ["steps=5", "checkpoint_every=2"] for a in ("--set", s)]])
    err = capsys.readouterr().err
    assert rc == 3 == TrainingDiverged.exit_code
    assert err.count("\n") == 1 and "diverged at step 2" in err and "G_L1=nan" in err
    assert "(step 2)" in err and str(run / "checkpoint.pt") in err
    assert torch.load(run / "checkpoint.pt", weights_only=False)["step"] == 2
    assert not (run / "generator.pt").exists()


def test_existing_run_needs_resume_and_same_config(toy, tmp_path, capsys):
    run = tmp_path / "run"
    base = ["train", "pix2pix", "--data", str(toy), "--out", str(run), "--quiet",
            *[a for s in TINY + ["steps=1"] for a in ("--set", s)]]
    assert main(base) == 0
    capsys.readouterr()
    assert main(base) == 2
    assert "already exists; pass --resume" in capsys.readouterr().err
    assert main(base + ["--resume", "--set", "generator.ngf=8"]) == 2
    assert "changed: generator.ngf" in capsys.readouterr().err
    assert main(base + ["--resume"]) == 0  # finished: nothing left to do, same files
    # resume with the saved config only (no --set)
    assert main(["train", "pix2pix", "--out", str(run), "--resume", "--quiet"]) == 0


def test_bad_data_is_one_line(tmp_path, capsys):
    (tmp_path / "d" / "train").mkdir(parents=True)
    write_png(tmp_path / "d" / "train" / "1.png", np.zeros((8, 9, 3), np.uint8))  # odd width
    rc = main(["train", "pix2pix", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "r"), "--quiet",
               *[a for s in TINY + ["steps=1"] for a in ("--set", s)]])
    err = capsys.readouterr().err
    assert rc == 2 and "1.png: pix2pix pair image has odd width 9" in err
    rc = main(["train", "pix2pix", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "r2")])
    assert rc == 2 and "nothing: no such dataset folder" in capsys.readouterr().err


def test_pair_jitter_aligned_and_direction(tmp_path):
    """A and B get the same crop and mirror; BtoA swaps the halves; the jitter depends only on
    (seed, epoch, index)."""
    from trainers.pix2pix.data import PairDataset, list_records
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    write_png(tmp_path / "train" / "1.png", np.concatenate([img, 255 - img], 1))
    c = apply_overrides(TrainConfig(), ["data.load_size=40", "data.crop_size=32"]).data
    _, recs = list_records(tmp_path, "pix2pix", "train")
    ds = PairDataset(recs, c, train=True, seed=0)
    flips = set()
    for epoch in range(12):
        item = ds[(epoch, 0)]
        # B = 255 - A pixelwise (same crop, same mirror); bicubic resizing keeps the relation
        # up to rounding
        a = (item["A"] + 1) * 127.5
        b = (item["B"] + 1) * 127.5
        assert torch.allclose(a + b, torch.full_like(a, 255.0), atol=1.01)
        assert torch.equal(ds[(epoch, 0)]["A"], item["A"])
        flips.add(ds._jitter(epoch, 0)[2])
    assert flips == {True, False}
    c.direction = "BtoA"
    swapped = PairDataset(recs, c, train=False)[0]
    plain = PairDataset(recs, apply_overrides(TrainConfig(), []).data, train=False, size=32)[0]
    assert torch.equal(swapped["A"], plain["B"]) and torch.equal(swapped["B"], plain["A"])
    assert torch.equal(torch.round((plain["A"] + 1) * 127.5), torch.from_numpy(img.transpose(2, 0, 1)).float())


def test_cityscapes_native_convention(toy):
    """Native layout: A = colour label, B = photo (labels -> photo is AtoB)."""
    from p2peval.data.cityscapes import list_frames
    from trainers.pix2pix.data import PairDataset, list_records
    layout, recs = list_records(toy, "auto", "val")
    assert layout == "cityscapes" and [r.id for r in recs] == [f.id for f in list_frames(toy, "val")]
    c = apply_overrides(TrainConfig(), []).data
    item = PairDataset(recs, c, train=False, size=32)[0]
    f = list_frames(toy, "val")[0]
    from PIL import Image
    color = np.asarray(Image.open(f.color).convert("RGB").resize((32, 32), Image.NEAREST))
    photo = np.asarray(Image.open(f.image).convert("RGB").resize((32, 32), Image.BICUBIC))
    assert np.array_equal(np.round((item["A"].numpy().transpose(1, 2, 0) + 1) * 127.5), color)
    assert np.array_equal(np.round((item["B"].numpy().transpose(1, 2, 0) + 1) * 127.5), photo)


def test_colorization_mode(toy, tmp_path):
    """L -> ab: the generator maps 1 channel to 2; translated images keep the input's lightness."""
    from skimage import color as skcolor

    from trainers.pix2pix.translate import translate
    c = cfg(toy / "pix2pix", "data.mode=colorization", "data.direction=AtoB", "steps=1")
    run = train(c, tmp_path / "run", show_progress=False)
    g = torch.load(run / "generator.pt", weights_only=False)["G"]
    assert g["model.model.0.weight"].shape[1] == 1 and g["model.model.3.weight"].shape[1] == 2
    res = translate(run, toy / "pix2pix", tmp_path / "res", show_progress=False)
    fake = read_rgb(res / "1_fake_B.png")
    real = read_rgb(res / "1_real_B.png")
    # the target photo (B half of the pair) resized to 32, as the dataset does
    from PIL import Image
    pair = read_rgb(toy / "pix2pix" / "val" / "1.png")
    photo = np.asarray(Image.fromarray(pair[:, pair.shape[1] // 2:]).resize((32, 32), Image.BICUBIC))
    assert np.abs(real.astype(int) - photo).max() <= 1
    L_fake = skcolor.rgb2lab(fake)[..., 0]
    L_photo = skcolor.rgb2lab(photo)[..., 0]
    # gamut clipping can change L where the predicted ab leaves sRGB; most pixels keep it
    assert np.median(np.abs(L_fake - L_photo)) < 1.0


def test_colorspace_matches_skimage():
    from skimage import color as skcolor

    from trainers.pix2pix.colorspace import lab_to_rgb, rgb_to_lab
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (40, 40, 3)).astype(np.uint8)
    assert np.abs(rgb_to_lab(x) - skcolor.rgb2lab(x)).max() < 1e-6
    lab = skcolor.rgb2lab(x)
    lab[..., 1:] += rng.normal(0, 20, lab[..., 1:].shape)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-image warns when it clips negative Z, as we do
        ref = skcolor.lab2rgb(lab)
    assert np.abs(lab_to_rgb(lab) - ref).max() < 1e-6


def test_colorization_of_single_images(tmp_path):
    """``data.layout=images``: a folder of plain photos, colourised from their own lightness."""
    from trainers.pix2pix.translate import translate
    rng = np.random.default_rng(5)
    for split in ("train", "val"):
        for i in range(2):
            write_png(tmp_path / "photos" / split / f"im{i}.png", rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
    c = apply_overrides(TrainConfig(), [f"data.root={tmp_path / 'photos'}", *TINY, "data.layout=images",
                                        "data.mode=colorization", "steps=1"])
    run = train(c, tmp_path / "run", show_progress=False)
    res = translate(run, tmp_path / "photos", tmp_path / "res", show_progress=False)
    names = sorted(p.name for p in res.iterdir() if p.suffix == ".png")
    assert names == [f"im{i}_{k}.png" for i in range(2) for k in ("fake_B", "real_A", "real_B")]
    grey = read_rgb(res / "im0_real_A.png")
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()


def test_killed_run_resumes_to_the_same_weights(toy, tmp_path):
    """SIGKILL a training process after its first checkpoint, resume it, compare with an
    uninterrupted run: identical weights and loss log."""
    import os
    import signal
    import subprocess
    import sys
    import time
    sets = TINY + ["steps=120", "checkpoint_every=10", "sample_images=0"]
    root = Path(__file__).resolve().parents[1]
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "p2peval", "train", "pix2pix", "--data", str(toy), "--out", str(run), "--quiet",
           *[a for s in sets for a in ("--set", s)]]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (run / "checkpoint.pt").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-500:]
    assert not (run / "generator.pt").exists()  # it really stopped before the end
    done = torch.load(run / "checkpoint.pt", weights_only=False)["step"]
    assert 10 <= done < 120
    resumed = subprocess.run(cmd + ["--resume"], cwd=root, env=env, capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-500:]
    ref = train(cfg(toy, *sets[len(TINY):]), tmp_path / "ref", show_progress=False)
    a = torch.load(ref / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(run / "checkpoint.pt", weights_only=False)["model"]
    for net in ("G", "D"):
        assert all(torch.equal(a[net][k], b[net][k]) for k in a[net]), net
    assert (ref / "losses.csv").read_text() == (run / "losses.csv").read_text()
