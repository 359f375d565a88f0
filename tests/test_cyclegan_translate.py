"""CycleGAN translate: both directions, results folder contract, outputs equal an independent
forward of the saved generator, testA/testB folders, and one command for runs of either trainer."""

import json
import shutil

import numpy as np
import pytest
import torch

from p2peval.cli import main
from p2peval.core.imageio import list_images, read_rgb, write_png
from p2peval.report.scorefile import sha256_file
from trainers.cyclegan.config import CycleGANConfig, apply_overrides
from trainers.cyclegan.train import train
from trainers.cyclegan.translate import translate

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = ["data.load_size=36", "data.crop_size=32", "generator.ngf=2", "generator.n_blocks=1",
        "discriminator.ndf=2", "sample_images=0", "device=cpu", "steps=2"]


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    from p2peval.data.toycity import generate_toycity
    base = tmp_path_factory.mktemp("cgtr")
    generate_toycity(base / "toy", 3, 2, size=32, seed=1, progress=False, workers=1)
    c = apply_overrides(CycleGANConfig(), [f"data.root={base / 'toy'}", *TINY])
    return base / "toy", train(c, base / "run", show_progress=False)


def _independent(run, name, x):
    """The saved generator's weights in a freshly built network, on a (C, H, W) input in [-1, 1]."""
    from trainers.cyclegan.networks import ResnetGenerator
    G = ResnetGenerator(3, 3, ngf=2, n_blocks=1)
    G.load_state_dict(torch.load(run / "generator.pt", weights_only=False)[name])
    with torch.no_grad():
        y = G(x[None])[0].numpy().transpose(1, 2, 0)
    return np.round((y + 1) * 127.5).clip(0, 255)


@pytest.mark.parametrize("direction,name", [("AtoB", "G_A"), ("BtoA", "G_B")])
def test_both_directions_on_cityscapes_ids(toy_run, tmp_path, direction, name):
    from PIL import Image

    from p2peval.data.cityscapes import list_frames
    from p2peval.data.labels import label_ids_to_color
    toy, run = toy_run
    out = translate(run, toy, tmp_path / "res", direction=direction, size=64, show_progress=False)
    frames = list_frames(toy, "val")
    assert sorted(p.name for p in list_images(out)) == sorted(f"{f.id}_leftImg8bit.png" for f in frames)
    m = json.loads((out / "manifest.json").read_text())
    assert m["trainer"] == "cyclegan" and m["direction"] == direction and m["generator"] == name
    assert m["size"] == [64, 64] and m["split"] == "val" and m["n_images"] == len(frames)
    assert m["checkpoint_sha256"] == sha256_file(run / "generator.pt")
    f = frames[0]
    if direction == "AtoB":  # colour labels, nearest-neighbour resized
        src = label_ids_to_color(np.asarray(Image.open(f.label_ids)))
        src = np.asarray(Image.fromarray(src).resize((64, 64), Image.NEAREST))
    else:  # photos, bicubic
        src = np.asarray(Image.open(f.image).convert("RGB").resize((64, 64), Image.BICUBIC))
    x = torch.from_numpy(src.transpose(2, 0, 1).copy()).float() / 127.5 - 1
    got = read_rgb(out / f"{f.id}_leftImg8bit.png")
    assert np.abs(_independent(run, name, x) - got).max() <= 1


def test_labels_to_photo_reads_no_photos(toy_run, tmp_path):
    toy, run = toy_run
    shutil.copytree(toy / "cityscapes" / "gtFine", tmp_path / "labels_only" / "gtFine")
    a = translate(run, tmp_path / "labels_only", tmp_path / "a", show_progress=False)
    b = translate(run, toy, tmp_path / "b", show_progress=False)
    names = [p.name for p in list_images(b)]
    assert names == [p.name for p in list_images(a)]
    assert all(np.array_equal(read_rgb(a / n), read_rgb(b / n)) for n in names)


def test_test_folders_and_one_command_for_both_trainers(toy_run, tmp_path, capsys):
    toy, _ = toy_run
    rng = np.random.default_rng(0)
    imgs = {}
    for folder, n in (("trainA", 2), ("trainB", 3), ("testA", 2), ("testB", 1)):
        for i in range(n):
            imgs[(folder, i)] = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            write_png(tmp_path / "d" / folder / f"{folder}{i}.png", imgs[(folder, i)])
    run = train(apply_overrides(CycleGANConfig(), [f"data.root={tmp_path / 'd'}", *TINY]), tmp_path / "run",
                show_progress=False)
    assert main(["translate", str(run), "--data", str(tmp_path / "d"), "--out", str(tmp_path / "ab"), "--quiet"]) == 0
    assert sorted(p.name for p in list_images(tmp_path / "ab")) == sorted(
        f"testA{i}_{k}.png" for i in range(2) for k in ("fake_B", "real_A"))
    assert np.array_equal(read_rgb(tmp_path / "ab" / "testA1_real_A.png"), imgs[("testA", 1)])
    assert main(["translate", str(run), "--data", str(tmp_path / "d"), "--out", str(tmp_path / "ba"),
                 "--direction", "BtoA", "--quiet"]) == 0
    assert sorted(p.name for p in list_images(tmp_path / "ba")) == ["testB0_fake_A.png", "testB0_real_B.png"]
    x = torch.from_numpy(imgs[("testB", 0)].transpose(2, 0, 1).copy()).float() / 127.5 - 1
    assert np.abs(_independent(run, "G_B", x) - read_rgb(tmp_path / "ba" / "testB0_fake_A.png")).max() <= 1
    capsys.readouterr()
    # a pix2pix run through the same command; it translates only in its trained direction
    p2p = tmp_path / "p2p"
    assert main(["train", "pix2pix", "--data", str(toy), "--out", str(p2p), "--quiet",
                 *[a for s in ["data.load_size=36", "data.crop_size=32", "generator.ngf=2", "discriminator.ndf=2",
                               "sample_images=0", "device=cpu", "steps=1"] for a in ("--set", s)]]) == 0
    assert main(["translate", str(p2p), "--data", str(toy), "--out", str(tmp_path / "p"), "--quiet"]) == 0
    assert json.loads((tmp_path / "p" / "manifest.json").read_text())["trainer"] == "pix2pix"
    capsys.readouterr()
    assert main(["translate", str(p2p), "--data", str(toy), "--out", str(tmp_path / "q"), "--direction", "BtoA"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "this pix2pix run was trained AtoB" in err
    assert main(["translate", str(run), "--data", str(toy), "--out", str(tmp_path / "q"), "--size", "30"]) == 2
    assert "--size 30: must be a positive multiple of 4" in capsys.readouterr().err
