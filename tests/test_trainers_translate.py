"""translate: results folder contract, twice the training size, dropout as in the paper."""

import json

import numpy as np
import pytest
import torch

from p2peval.cli import main
from p2peval.core.imageio import list_images, read_rgb, write_png
from p2peval.report.scorefile import sha256_file
from trainers.pix2pix.config import TrainConfig, apply_overrides
from trainers.pix2pix.train import train
from trainers.pix2pix.translate import translate


pytestmark = pytest.mark.usefixtures("one_torch_thread")

# 64x64: num_downs 6, so one decoder block has dropout (num_downs - 5)
TINY = ["data.load_size=72", "data.crop_size=64", "generator.ngf=4", "discriminator.ndf=4",
        "sample_images=0", "device=cpu", "steps=2"]


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    from p2peval.data.toycity import generate_toycity
    base = tmp_path_factory.mktemp("tr")
    generate_toycity(base / "toy", 3, 2, size=64, seed=1, progress=False, workers=1)
    c = apply_overrides(TrainConfig(), [f"data.root={base / 'toy'}", *TINY])
    return base / "toy", train(c, base / "run", show_progress=False)


def test_cityscapes_ids_at_twice_the_size(toy_run, tmp_path):
    from p2peval.data.cityscapes import list_frames
    toy, run = toy_run
    out = translate(run, toy, tmp_path / "res", size=128, show_progress=False)
    frames = list_frames(toy, "val")
    names = sorted(p.name for p in list_images(out))
    assert names == sorted(f"{f.id}_leftImg8bit.png" for f in frames)  # nothing else: fcn-score reads it
    for n in names:
        assert read_rgb(out / n).shape == (128, 128, 3)
    m = json.loads((out / "manifest.json").read_text())
    assert m["trainer"] == "pix2pix" and m["size"] == [128, 128] and m["direction"] == "AtoB"
    assert m["checkpoint_sha256"] == sha256_file(run / "generator.pt")
    assert m["config"]["generator"]["num_downs"] == 6 and m["dataset"] == str(toy)
    assert m["n_images"] == len(frames) and m["layout"] == "cityscapes"


def test_generator_as_in_the_paper_by_default(toy_run, tmp_path):
    """Default: dropout on (seed changes the output), batch statistics; --eval-mode: neither."""
    toy, run = toy_run
    a = translate(run, toy, tmp_path / "a", seed=0, show_progress=False)
    b = translate(run, toy, tmp_path / "b", seed=1, show_progress=False)
    a2 = translate(run, toy, tmp_path / "a2", seed=0, show_progress=False)
    e1 = translate(run, toy, tmp_path / "e1", seed=0, eval_mode=True, show_progress=False)
    e2 = translate(run, toy, tmp_path / "e2", seed=1, eval_mode=True, show_progress=False)
    name = list_images(a)[0].name
    img = {k: read_rgb(v / name) for k, v in dict(a=a, b=b, a2=a2, e1=e1, e2=e2).items()}
    assert not np.array_equal(img["a"], img["b"]) and np.array_equal(img["a"], img["a2"])
    assert np.array_equal(img["e1"], img["e2"]) and not np.array_equal(img["a"], img["e1"])
    # independent check of the default output: the generator in train mode, batch of one
    from trainers.pix2pix.translate import load_generator
    from trainers.pix2pix.data import PairDataset, list_records
    G, info = load_generator(run, torch.device("cpu"))
    _, recs = list_records(toy, "auto", "val")
    x = PairDataset(recs, info["config"].data, train=False)[0]["A"][None]
    torch.manual_seed(0)
    with torch.no_grad():
        y = G.train()(x)[0].numpy().transpose(1, 2, 0)
    assert np.abs(np.round((y + 1) * 127.5).clip(0, 255) - img["a"]).max() <= 1


def test_pix2pix_folder_names_and_reals(tmp_path):
    rng = np.random.default_rng(0)
    pairs = {}
    for split, n in (("train", 2), ("val", 2)):
        for i in range(n):
            ab = rng.integers(0, 256, (64, 128, 3), dtype=np.uint8)
            write_png(tmp_path / "d" / split / f"p{i}.png", ab)
            pairs[(split, i)] = ab
    c = apply_overrides(TrainConfig(), [f"data.root={tmp_path / 'd'}", *TINY, "data.direction=BtoA"])
    run = train(c, tmp_path / "run", show_progress=False)
    out = translate(run, tmp_path / "d", tmp_path / "res", show_progress=False)
    assert sorted(p.name for p in list_images(out)) == sorted(
        f"p{i}_{k}.png" for i in range(2) for k in ("fake_B", "real_A", "real_B"))
    ab = pairs[("val", 0)]
    assert np.array_equal(read_rgb(out / "p0_real_A.png"), ab[:, 64:])  # BtoA: input is the B half
    assert np.array_equal(read_rgb(out / "p0_real_B.png"), ab[:, :64])
    t = translate(run, tmp_path / "d", tmp_path / "trunc", rounding="truncate", show_progress=False)
    # the reference's tensor2im truncation: some levels come out one lower, none higher
    diff = ab[:, 64:].astype(int) - read_rgb(t / "p0_real_A.png")
    assert set(np.unique(diff)) <= {0, 1} and (diff == 1).any()


def test_translate_cli_errors(toy_run, tmp_path, capsys):
    toy, run = toy_run
    assert main(["translate", str(run), "--data", str(toy), "--out", str(tmp_path / "r"), "--size", "96", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--size 96: must be a positive multiple of 64" in err
    assert main(["translate", str(tmp_path), "--data", str(toy), "--out", str(tmp_path / "r")]) == 2
    assert "not a pix2pix run folder (no config.json)" in capsys.readouterr().err
    assert main(["translate", str(run), "--data", str(toy), "--out", str(tmp_path / "r"),
                 "--split", "test", "--quiet"]) == 2
    assert "no split 'test'" in capsys.readouterr().err
    assert main(["translate", str(run), "--data", str(toy), "--out", str(tmp_path / "ok"), "--quiet"]) == 0


def test_labels_to_photo_needs_no_photos(toy_run, tmp_path, capsys):
    """Translating labels -> photo reads only the labels; training does need the photos."""
    import shutil
    toy, run = toy_run
    shutil.copytree(toy / "cityscapes" / "gtFine", tmp_path / "labels_only" / "gtFine")
    out = translate(run, tmp_path / "labels_only", tmp_path / "res", eval_mode=True, show_progress=False)
    full = translate(run, toy, tmp_path / "full", eval_mode=True, show_progress=False)
    names = sorted(p.name for p in list_images(full))
    assert names == sorted(p.name for p in list_images(out))
    assert all(np.array_equal(read_rgb(out / n), read_rgb(full / n)) for n in names)
    rc = main(["train", "pix2pix", "--data", str(tmp_path / "labels_only"), "--out", str(tmp_path / "r"),
               "--quiet", *[a for s in TINY for a in ("--set", s)], "--set", "data.split=val"])
    assert rc == 2 and "leftImg8bit.png: photo of this frame is missing" in capsys.readouterr().err


def test_refuses_a_folder_with_other_images(toy_run, tmp_path, capsys):
    toy, run = toy_run
    write_png(tmp_path / "res" / "stranger_fake_B.png", np.zeros((4, 4, 3), np.uint8))
    assert main(["translate", str(run), "--data", str(toy), "--out", str(tmp_path / "res"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "already holds 1 other images (e.g. stranger_fake_B.png)" in err and err.count("\n") == 1
    assert [p.name for p in (tmp_path / "res").iterdir()] == ["stranger_fake_B.png"]
    # rerunning into its own folder is fine
    assert main(["translate", str(run), "--data", str(toy), "--out", str(tmp_path / "ok"), "--quiet"]) == 0
    assert main(["translate", str(run), "--data", str(toy), "--out", str(tmp_path / "ok"), "--quiet"]) == 0
