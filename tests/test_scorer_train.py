"""Scorer training, checkpoints, resume, and the scorer commands."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from p2peval.cli import main
from p2peval.data.labels import LABELS
from scorer_data import make_cityscapes, train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny networks gain nothing from a second thread and lose a lot on a busy machine."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="module")
def cs(tmp_path_factory) -> Path:
    return make_cityscapes(tmp_path_factory.mktemp("cs") / "cityscapes", n_train=4, n_val=2)


def run_cli(*argv, capsys):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, err, *needles):
    assert rc == 2, err
    lines = [l for l in err.strip().splitlines() if l]
    assert len(lines) == 1 and lines[0].startswith("p2peval: error:"), err
    assert "Traceback" not in err
    for n in needles:
        assert str(n) in lines[0], (n, lines[0])


# -- training inputs ---------------------------------------------------------------------------

def test_training_input_is_downsampled_then_upsampled_photo(cs):
    """Input = photo -> 256x256 (PIL bicubic) -> label size (PIL bilinear) -> BGR - mean;
    target = train ids of the full-resolution label."""
    from p2peval.data.cityscapes import list_frames
    from p2peval.scoring.protocols import get_protocol
    from p2peval.scorers.data import Augment, ScorerTrainingSet

    frames = list_frames(cs, "train")
    ds = ScorerTrainingSet(frames, get_protocol("pix2pix"))
    x, y = ds.item(1)
    photo = Image.open(frames[1].image).convert("RGB")
    raw = np.asarray(Image.open(frames[1].label_ids))
    h, w = raw.shape
    small = photo.resize((256, 256), Image.BICUBIC)
    back = np.array(small.resize((w, h), Image.BILINEAR), np.float32)[:, :, ::-1]
    back -= np.array((72.78044, 83.21195, 73.45286))  # in place, float64 mean: the reference's way
    expected = back.transpose(2, 0, 1)
    np.testing.assert_array_equal(x.numpy(), expected)
    lut = np.full(256, 255, np.int64)
    for lab in LABELS:
        lut[lab.id] = lab.train_id
    np.testing.assert_array_equal(y.numpy(), lut[raw])
    assert y.dtype == torch.int64 and set(np.unique(y.numpy())) <= set(range(19)) | {255}
    # Mirror and crop apply to input and target alike.
    xm, ym = ds.item(1, Augment(crop=(3, 5, 16, 20), mirror=True))
    np.testing.assert_array_equal(xm.numpy(), expected[:, 3:19, 5:25][:, :, ::-1])
    np.testing.assert_array_equal(ym.numpy(), lut[raw][3:19, 5:25][:, ::-1])


def test_missing_photo_is_refused(tmp_path, capsys):
    root = make_cityscapes(tmp_path / "cs", n_train=2, n_val=1)
    victim = sorted((root / "leftImg8bit" / "train").rglob("*.png"))[0]
    victim.unlink()
    rc, _, err = run_cli("scorer", "train", "--data", root, "--arch", "fcn8s-tiny", "--out",
                         tmp_path / "s.pt", "--steps", "1", capsys=capsys)
    assert_one_line_error(rc, err, victim, "missing")
    assert not (tmp_path / "s.pt").exists()


# -- training, checkpoints, resume -----------------------------------------------------------

def _sha256_recipe(state: dict) -> str:
    """The documented weights hash: sorted names, 'name|dtype|shape' line, raw bytes."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def test_train_writes_verified_checkpoint_with_metadata(cs, tmp_path):
    from p2peval.scorers.checkpoint import load_scorer, read_checkpoint

    out = tmp_path / "s.pt"
    meta = train(cs, arch="fcn8s-tiny", out=out, steps=3, batch_size=2, save_every=2,
                        show_progress=False)
    ckpt = read_checkpoint(out)
    assert ckpt["arch"] == "fcn8s-tiny" and ckpt["protocol"] == "pix2pix"
    assert ckpt["config"]["widths"] == [4, 8, 16, 32, 32] and ckpt["num_outputs"] == 20
    assert len(ckpt["classes"]) == 19 and ckpt["classes"][0] == "road"
    assert ckpt["weights_sha256"] == _sha256_recipe(ckpt["state_dict"]) == meta["weights_sha256"]
    tr = ckpt["training"]
    assert tr["step"] == tr["total_steps"] == 3 and tr["finished"]
    assert tr["config"]["batch_size"] == 2 and tr["config"]["seed"] == 0
    assert len(tr["validation"]) == 1  # 4 frames, batch 2: one epoch ends at step 2
    model, m = load_scorer(out, arch="fcn8s-tiny")
    assert not model.training
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 32, 64)).shape == (1, 20, 32, 64)


def test_resume_reaches_same_weights(cs, tmp_path, monkeypatch):
    """4 steps in one go == 2 steps, killed, then resumed for the rest (exactly, on CPU)."""
    from p2peval.scorers import train as train_mod

    kw = dict(arch="fcn8s-tiny", steps=4, batch_size=1, save_every=1, crop=(24, 48),
              show_progress=False)
    full = train(cs, out=tmp_path / "full.pt", **kw)

    real_lr = train_mod.learning_rate

    def killed_at_step_2(cfg, step, total):
        if step == 2:
            raise KeyboardInterrupt
        return real_lr(cfg, step, total)

    monkeypatch.setattr(train_mod, "learning_rate", killed_at_step_2)
    with pytest.raises(KeyboardInterrupt):
        train(cs, out=tmp_path / "cut.pt", **kw)
    state = torch.load(tmp_path / "cut.state.pt", weights_only=True)
    assert state["step"] == 2
    monkeypatch.setattr(train_mod, "learning_rate", real_lr)
    resumed = train(cs, out=tmp_path / "cut.pt", **kw)
    a = torch.load(tmp_path / "full.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "cut.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert full["weights_sha256"] == resumed["weights_sha256"]
    assert resumed["training"]["step"] == 4
    # A run without resume from scratch differs from the 2-step state (training did happen).
    assert not torch.equal(state["model"]["score_fr.weight"], b["score_fr.weight"])


def test_resume_with_other_settings_is_refused(cs, tmp_path, capsys):
    out = tmp_path / "s.pt"
    base = ["scorer", "train", "--data", cs, "--arch", "fcn8s-tiny", "--out", out, "--steps", "1",
            "--quiet"]
    rc, _, err = run_cli(*base, capsys=capsys)
    assert rc == 0, err
    before = out.read_bytes()
    rc, _, err = run_cli(*base[:-1], "--lr", "0.01", "--quiet", capsys=capsys)
    assert_one_line_error(rc, err, "s.state.pt", "lr", "--no-resume")
    assert out.read_bytes() == before  # nothing written is lost
    # A finished run is not trained again.
    rc, out_text, err = run_cli(*base[:-1], capsys=capsys)
    assert rc == 0 and "already trained" in out_text
    assert out.read_bytes() == before
    # More steps continue from the saved state.
    rc, _, err = run_cli(*base[:-3], "--steps", "2", "--quiet", capsys=capsys)
    assert rc == 0, err
    assert torch.load(out, weights_only=True)["training"]["step"] == 2


def test_small_fcn_learns_synthetic_scenes(tmp_path):
    """A tiny FCN-8s beats the majority-class baseline on held-out frames after a short run."""
    from p2peval.data.cityscapes import list_frames, read_train_ids

    root = make_cityscapes(tmp_path / "cs", n_train=6, n_val=3, h=32, w=64, seed=3)
    meta = train(root, arch="fcn8s-tiny", out=tmp_path / "s.pt", steps=60, batch_size=2,
                        lr=3e-3, show_progress=False, save_every=1000)
    v = meta["training"]["validation"][-1]
    # Baseline: always predict the most common class of the val labels (independent numpy).
    gts = np.concatenate([read_train_ids(f.label_ids).ravel() for f in list_frames(root, "val")])
    gts = gts[gts != 255]
    baseline = np.bincount(gts).max() / gts.size
    assert v["per_pixel_acc"] > baseline + 0.15, (v, baseline)
    losses = meta["training"]["validation"]
    assert losses[-1]["train_loss"] < losses[0]["train_loss"]


def test_validation_matches_numpy_confusion(cs, tmp_path):
    from p2peval.data.cityscapes import list_frames
    from p2peval.scoring.protocols import get_protocol
    from p2peval.scorers.data import ScorerTrainingSet
    from p2peval.scorers.registry import build_scorer
    from p2peval.scorers.train import validate

    torch.manual_seed(5)
    model, _ = build_scorer("fcn8s-tiny")
    frames = list_frames(cs, "val")
    proto = get_protocol("pix2pix-strict")
    v = validate(model, frames, proto, torch.device("cpu"))
    ds = ScorerTrainingSet(frames, proto)
    hist = np.zeros((19, 20), np.int64)
    with torch.no_grad():
        for i in range(len(ds)):
            x, y = ds.item(i)
            pred = model(x[None]).argmax(1)[0].numpy()
            g = y.numpy()
            for gi, pi in zip(g[g < 19], pred[g < 19]):
                hist[gi, pi] += 1
    diag = np.diag(hist[:, :19])
    assert v["per_pixel_acc"] == pytest.approx(diag.sum() / hist.sum())
    assert v["per_class_acc"] == pytest.approx(np.mean(diag / (hist.sum(1) + 1e-12)))


def test_smp_scorer_trains_with_padding(tmp_path):
    """smp encoders need multiples of 32: a 40x80 frame is padded at the bottom/right (input 0,
    target ignore). The batch holds the frame unchanged in its top-left corner; the step's loss is
    the cross-entropy of the real pixels only; validation equals an independent run on the
    numpy reflect-padded input, cropped back to the top-left 40x80."""
    import dataclasses

    import torch.nn.functional as F

    from p2peval.data.cityscapes import list_frames
    from p2peval.scorers.checkpoint import load_scorer
    from p2peval.scorers.data import ScorerTrainingSet
    from p2peval.scorers.registry import build_scorer
    from p2peval.scorers.train import ScorerTrainConfig, StepBatches
    from p2peval.scoring.protocols import get_protocol
    from test_confusion import reference_eval

    h, w = 40, 80
    root = make_cityscapes(tmp_path / "cs", n_train=1, n_val=1, h=h, w=w)
    meta = train(root, arch="unet-resnet18", out=tmp_path / "u.pt", steps=1,
                        show_progress=False)
    assert meta["num_outputs"] == 19 and meta["training"]["validation"][0]["frames"] == 1
    proto = get_protocol("pix2pix")
    train_set = ScorerTrainingSet(list_frames(root, "train"), proto)
    cfg = ScorerTrainConfig(**meta["training"]["config"])

    # The batch: the unaugmented frame at the top-left, zeros and ignore elsewhere.
    x, y = StepBatches(train_set, dataclasses.replace(cfg, mirror=False), 1, 0, 1, 32, root)._batch(0)
    x0, y0 = train_set.item(0)
    assert x.shape == (1, 3, 64, 96) and y.shape == (1, 64, 96)
    assert torch.equal(x[0, :, :h, :w], x0) and torch.equal(y[0, :h, :w], y0)
    assert (x[..., h:, :] == 0).all() and (x[..., w:] == 0).all()
    assert (y[:, h:] == 255).all() and (y[..., w:] == 255).all()

    # The step's loss: initial weights on the batch it trained on, cross-entropy of the 40x80 frame.
    x, y = StepBatches(train_set, cfg, 1, 0, 1, 32, root)._batch(0)
    torch.manual_seed(cfg.seed)
    model0, _ = build_scorer("unet-resnet18")
    logits = model0.train()(x)[..., :h, :w]
    expect = F.cross_entropy(logits, y[:, :h, :w], ignore_index=255).item()
    assert meta["training"]["last_loss"] == pytest.approx(expect, rel=1e-5)

    # Validation: the trained model on the reflect-padded val photo, cropped back.
    model, _ = load_scorer(tmp_path / "u.pt", arch="unet-resnet18")
    xv, yv = ScorerTrainingSet(list_frames(root, "val"), proto, cache_bytes=0).item(0)
    padded = np.pad(xv.numpy(), ((0, 0), (0, 64 - h), (0, 96 - w)), mode="reflect")
    with torch.no_grad():
        pred = model.eval()(torch.from_numpy(padded)[None])[0, :, :h, :w].argmax(0).numpy()
    (acc, cl, iu), _ = reference_eval([(yv.numpy(), pred)])
    v = meta["training"]["validation"][0]
    assert (v["per_pixel_acc"], v["per_class_acc"], v["class_iou"]) == pytest.approx((acc, cl, iu), abs=1e-12)


def test_pad_to_multiple():
    from p2peval.scorers.data import pad_target, pad_to_multiple

    x = torch.ones(1, 3, 40, 70)
    p = pad_to_multiple(x, 32)
    assert p.shape == (1, 3, 64, 96) and p[:, :, 40:].abs().sum() == 0 and p[:, :, :40, :70].eq(1).all()
    y = torch.zeros(1, 40, 70, dtype=torch.int64)
    q = pad_target(y, 32)
    assert q.dtype == torch.int64 and q.shape == (1, 64, 96)
    assert (q[:, 40:] == 255).all() and (q[:, :, 70:] == 255).all() and (q[:, :40, :70] == 0).all()


# -- checkpoints refused by load_scorer (what fcn-score relies on) ----------------------------

@pytest.fixture(scope="module")
def ckpt(cs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ck") / "tiny.pt"
    train(cs, arch="fcn8s-tiny", out=out, steps=1, show_progress=False)
    return out


def _edited(ckpt: Path, tmp_path: Path, edit) -> Path:
    d = torch.load(ckpt, weights_only=True)
    edit(d)
    p = tmp_path / "edited.pt"
    torch.save(d, p)
    return p


def test_load_scorer_refusals(ckpt, tmp_path):
    from p2peval.core.errors import InputError
    from p2peval.scorers.checkpoint import load_scorer, weights_sha256

    with pytest.raises(InputError, match="expected 'fcn8s'"):
        load_scorer(ckpt, arch="fcn8s")

    def other_classes(d):
        d["classes"] = list(d["classes"][:18]) + ["tram"]
    with pytest.raises(InputError, match="class set"):
        load_scorer(_edited(ckpt, tmp_path, other_classes))

    def edited_weight(d):
        d["state_dict"]["score_fr.bias"][0] += 1.0
    with pytest.raises(InputError, match="sha256"):
        load_scorer(_edited(ckpt, tmp_path, edited_weight))

    def wrong_widths(d):  # consistent hash, but weights do not fit the declared widths
        d["config"]["widths"] = [8, 8, 16, 32, 32]
        d["weights_sha256"] = weights_sha256(d["state_dict"])
    with pytest.raises(InputError, match="conv1_1.weight has shape"):
        load_scorer(_edited(ckpt, tmp_path, wrong_widths))

    def extra_param(d):
        d["state_dict"]["extra.weight"] = torch.zeros(2)
        d["weights_sha256"] = weights_sha256(d["state_dict"])
    with pytest.raises(InputError, match="unknown to fcn8s-tiny"):
        load_scorer(_edited(ckpt, tmp_path, extra_param))


def test_scorer_info_cli(ckpt, tmp_path, capsys):
    import json

    rc, out, err = run_cli("scorer", "info", ckpt, "--json", capsys=capsys)
    assert rc == 0, err
    meta = json.loads(out)
    assert meta["arch"] == "fcn8s-tiny" and meta["verified"] and meta["parameters"] == 279_904
    assert meta["weights_sha256"] == _sha256_recipe(torch.load(ckpt, weights_only=True)["state_dict"])
    rc, out, err = run_cli("scorer", "info", ckpt, capsys=capsys)
    assert rc == 0 and "verified" in out and "fcn8s-tiny" in out

    bad = _edited(ckpt, tmp_path, lambda d: d["state_dict"]["conv1_1.bias"].mul_(2))
    rc, _, err = run_cli("scorer", "info", bad, capsys=capsys)
    assert_one_line_error(rc, err, bad, "sha256")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    rc, _, err = run_cli("scorer", "info", junk, capsys=capsys)
    assert_one_line_error(rc, err, junk, "not a readable scorer checkpoint")
    plain = tmp_path / "plain.pt"
    torch.save({"a": torch.zeros(1)}, plain)
    rc, _, err = run_cli("scorer", "info", plain, capsys=capsys)
    assert_one_line_error(rc, err, plain, "not a p2peval scorer checkpoint")
    rc, _, err = run_cli("scorer", "info", tmp_path / "missing.pt", capsys=capsys)
    assert_one_line_error(rc, err, "missing.pt", "no such")


def test_scorer_list_cli(capsys):
    import json

    rc, out, _ = run_cli("scorer", "list", capsys=capsys)
    assert rc == 0
    names = [line.split()[0] for line in out.strip().splitlines()]
    assert {"fcn8s", "fcn8s-small", "fcn8s-tiny", "unet-resnet34", "deeplabv3plus-resnet50"} <= set(names)
    rc, out, _ = run_cli("scorer", "list", "--json", capsys=capsys)
    assert json.loads(out)["fcn8s"]["default_config"]["fc_width"] == 4096


def test_scorer_train_cli_bad_inputs(cs, tmp_path, capsys):
    out = tmp_path / "s.pt"
    rc, _, err = run_cli("scorer", "train", "--data", tmp_path / "nowhere", "--arch", "fcn8s-tiny",
                         "--out", out, capsys=capsys)
    assert_one_line_error(rc, err, "nowhere", "no such folder")
    rc, _, err = run_cli("scorer", "train", "--data", cs, "--arch", "fcn9s", "--out", out, capsys=capsys)
    assert_one_line_error(rc, err, "fcn9s", "fcn8s-tiny", "unet-resnet34")
    rc, _, err = run_cli("scorer", "train", "--data", cs, "--arch", "fcn8s-tiny", "--out", out,
                         "--optimizer", "rmsprop", capsys=capsys)
    assert_one_line_error(rc, err, "rmsprop", "adam, sgd")
    rc, _, err = run_cli("scorer", "train", "--data", cs, "--arch", "unet-resnet18", "--out", out,
                         "--widths", "8,8,8,8,8", capsys=capsys)
    assert_one_line_error(rc, err, "--widths", "unet-resnet18")
    rc, _, err = run_cli("scorer", "train", "--data", tmp_path, "--arch", "fcn8s-tiny", "--out", out,
                         capsys=capsys)
    assert_one_line_error(rc, err, "not a Cityscapes root")
    if not torch.cuda.is_available():
        rc, _, err = run_cli("scorer", "train", "--data", cs, "--arch", "fcn8s-tiny", "--out", out,
                             "--device", "cuda", capsys=capsys)
        assert_one_line_error(rc, err, "no CUDA device")
    # Malformed option values are argparse errors: exit 2, one line naming the option.
    rc = main(["scorer", "train", "--data", str(cs), "--arch", "fcn8s-tiny", "--out", str(out),
               "--crop", "12by4"])
    err = capsys.readouterr().err
    assert rc == 2 and "argument --crop" in err and "expected HxW" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_scorer_train_cli_subprocess(cs, tmp_path):
    """End to end through the console entry point, with a custom width and a crop."""
    out = tmp_path / "cli.pt"
    r = subprocess.run([sys.executable, "-m", "p2peval", "scorer", "train", "--data", str(cs),
                        "--arch", "fcn8s", "--widths", "4,4,8,8,8", "--fc-width", "16",
                        "--out", str(out), "--epochs", "1", "--crop", "16x32", "--batch-size", "2"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    assert "validation" in r.stdout and "train fcn8s" in r.stderr  # progress lines
    d = torch.load(out, weights_only=True)
    assert d["config"]["widths"] == [4, 4, 8, 8, 8] and d["config"]["fc_width"] == 16
    assert d["training"]["step"] == 2 and d["training"]["config"]["crop"] == [16, 32]


def test_torchrun_two_processes_match_one(cs, tmp_path):
    """Two gloo processes sharing each batch of 2 reach the weights of one process (float tolerance)."""
    torchrun = Path(sys.executable).with_name("torchrun")
    common = ["scorer", "train", "--data", str(cs), "--arch", "fcn8s-tiny", "--steps", "3",
              "--batch-size", "2", "--quiet"]
    r = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "p2peval",
                        *common, "--out", str(tmp_path / "ddp.pt")],
                       capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    assert main([*common, "--out", str(tmp_path / "one.pt")]) == 0
    a = torch.load(tmp_path / "ddp.pt", weights_only=True)
    b = torch.load(tmp_path / "one.pt", weights_only=True)
    assert a["training"]["world_size"] == 2 and b["training"]["world_size"] == 1
    for k in b["state_dict"]:
        torch.testing.assert_close(a["state_dict"][k], b["state_dict"][k], rtol=1e-4, atol=1e-5)
    # Not trivially equal to the initial weights: training moved them.
    from p2peval.scorers.registry import build_scorer
    torch.manual_seed(0)
    init, _ = build_scorer("fcn8s-tiny")
    assert not torch.allclose(init.state_dict()["score_fr.weight"], b["state_dict"]["score_fr.weight"])


def test_loader_workers_do_not_change_weights(cs, tmp_path):

    kw = dict(arch="fcn8s-tiny", steps=3, batch_size=2, show_progress=False, validate_each_epoch=False)
    a = train(cs, out=tmp_path / "w0.pt", workers=0, **kw)
    b = train(cs, out=tmp_path / "w1.pt", workers=1, **kw)
    assert a["weights_sha256"] == b["weights_sha256"]


def test_corrupt_photo_in_loader_worker_is_one_line(tmp_path, capsys):
    root = make_cityscapes(tmp_path / "cs", n_train=2, n_val=1)
    victim = sorted((root / "leftImg8bit" / "train").rglob("*.png"))[1]
    victim.write_bytes(victim.read_bytes()[:60])  # truncated PNG
    rc, _, err = run_cli("scorer", "train", "--data", root, "--arch", "fcn8s-tiny", "--out",
                         tmp_path / "s.pt", "--steps", "2", "--workers", "1", "--quiet", capsys=capsys)
    assert_one_line_error(rc, err, victim.name, "truncated")


def test_sgd_and_lr_schedules(cs, tmp_path):
    from p2peval.scorers.train import ScorerTrainConfig, learning_rate

    poly = ScorerTrainConfig(arch="fcn8s-tiny", lr=0.01)
    assert [learning_rate(poly, s, 10) for s in (0, 5, 9)] == pytest.approx(
        [0.01, 0.01 * 0.5 ** 0.9, 0.01 * 0.1 ** 0.9])
    const = ScorerTrainConfig(arch="fcn8s-tiny", lr=0.01, lr_schedule="constant")
    assert learning_rate(const, 9, 10) == 0.01
    train(cs, arch="fcn8s-tiny", out=tmp_path / "sgd.pt", steps=2, optimizer="sgd",
                 lr=1e-4, lr_schedule="constant", show_progress=False, validate_each_epoch=False)
    state = torch.load(tmp_path / "sgd.state.pt", weights_only=True)
    groups = state["optimizer"]["param_groups"]
    assert groups[0]["momentum"] == 0.9 and groups[0]["lr"] == 1e-4
    assert all("momentum_buffer" in s for s in state["optimizer"]["state"].values())
