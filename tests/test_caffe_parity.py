"""The imported scorer computes Caffe's function: parity with real Caffe outputs on the fixture.

Tolerance: the fixture's README (tests/fixtures/caffe_fcn8s_tiny/README.md) measured a float64
recomputation within 1.1e-3 of Caffe's float32 scores (about 8e-7 of the largest score); two
float32 implementations that sum in a different order therefore differ by float32 rounding only, so we allow
``atol = 1e-5 * max|score|`` (about 0.015 here). Labels may differ only at near-ties: pixels
whose Caffe top-2 margin is below ``2 * atol`` (each of the two scores may move by atol).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from p2peval.scorers.caffe_import import import_caffe, load_fcn8s_caffemodel
from p2peval.scorers.caffe_writer import WriteOptions, random_fcn8s_weights, write_fcn8s_caffemodel
from p2peval.scorers.checkpoint import load_scorer
from p2peval.scorers.fcn8s import FCN8s, FCN8sConfig

CASES = ["seed1_256x256", "seed2_256x256", "seed3_192x320"]
MEAN_BGR = np.array((72.78044, 83.21195, 73.45286), np.float32)


def preprocess(png) -> torch.Tensor:
    """The fixture README's preprocessing: RGB -> BGR, minus the mean, no /255, CHW, batch 1."""
    x = np.array(Image.open(png), dtype=np.float32)[:, :, ::-1] - MEAN_BGR
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]


def near_tie_margin(score: np.ndarray) -> np.ndarray:
    top2 = np.sort(score, axis=0)[-2:]
    return top2[1] - top2[0]


@pytest.fixture(scope="module")
def caffe_dir(fixtures_dir):
    return fixtures_dir / "caffe_fcn8s_tiny"


@pytest.fixture(scope="module")
def imported(caffe_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("caffe") / "tiny.pt"
    import_caffe(caffe_dir / "tiny.caffemodel", out)
    model, meta = load_scorer(out, arch="fcn8s")
    return model, meta


@pytest.mark.parametrize("case", CASES)
def test_scores_and_labels_match_caffe(imported, caffe_dir, case):
    model, meta = imported
    assert meta["config"] == {"widths": [4, 8, 16, 32, 32], "fc_width": 64, "num_outputs": 20}
    x = preprocess(caffe_dir / f"input_{case}.png")
    with torch.no_grad():
        blobs = model.forward_blobs(x)
        score = model(x)[0].numpy()
    ref = np.load(caffe_dir / f"score_{case}.npy")[0]
    atol = 1e-5 * float(np.abs(ref).max())
    for name in ("score_fr", "upscore2"):  # early blobs localise a failure
        want = np.load(caffe_dir / f"{name}_{case}.npy")
        np.testing.assert_allclose(blobs[name].numpy(), want, rtol=0, atol=atol)
    assert score.shape == ref.shape
    np.testing.assert_allclose(score, ref, rtol=0, atol=atol)
    label = np.load(caffe_dir / f"label_{case}.npy")
    assert np.array_equal(label, ref.argmax(0).astype(np.uint8))  # the fixture is consistent
    differ = score.argmax(0) != label
    assert not (differ & (near_tie_margin(ref) >= 2 * atol)).any()
    assert differ.sum() <= 4  # README: at most 4 pixels of any case have a margin < 1e-2


@pytest.mark.slow  # 15-35 s on 2 shared cores: a float64 forward at 1024x2048
def test_float32_noise_at_evaluation_size(caffe_dir):
    """At 1024x2048 (the evaluation size) float32 stays within the same tolerance of float64."""
    model = load_fcn8s_caffemodel(caffe_dir / "tiny.caffemodel", sha256=False).model
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.uniform(-80, 180, (1, 3, 1024, 2048)).astype(np.float32))
    with torch.no_grad():
        s32 = model(x)[0]
        s64 = model.double()(x.double())[0]
    assert s32.shape == (20, 1024, 2048)
    atol = 1e-5 * float(s64.abs().max())
    assert float((s32.double() - s64).abs().max()) <= atol
    differ = s32.argmax(0) != s64.argmax(0)
    margin = torch.from_numpy(near_tie_margin(s64.numpy()))
    assert not (differ & (margin >= 2 * atol)).any()


def test_full_vgg_widths_map(tmp_path):
    """Full VGG16 conv widths (64..512) map and load; fc width kept small to fit CI."""
    config = {"widths": [64, 128, 256, 512, 512], "fc_width": 32, "num_outputs": 20}
    weights = random_fcn8s_weights(config, seed=3)
    path = write_fcn8s_caffemodel(tmp_path / "wide.caffemodel", weights, config,
                                  options=WriteOptions("layers", "legacy"))
    imported = load_fcn8s_caffemodel(path)
    assert imported.config == config
    state = imported.model.state_dict()
    reference = FCN8s(FCN8sConfig.from_dict(config)).state_dict()
    assert list(state) == list(reference)
    for name, t in state.items():
        assert t.shape == reference[name].shape
        np.testing.assert_array_equal(t.numpy(), weights[name]())


def test_parity_through_the_cli(tmp_path, caffe_dir, capsys):
    """import-caffe, then ``p2peval segment --save-scores``: Caffe's scores and labels."""
    import shutil

    from p2peval.cli import main

    ckpt = tmp_path / "tiny.pt"
    assert main(["scorer", "import-caffe", str(caffe_dir / "tiny.caffemodel"), "--out", str(ckpt)]) == 0
    for case in CASES:
        h, w = (int(v) for v in case.split("_")[1].split("x"))
        images = tmp_path / case
        images.mkdir()
        shutil.copy(caffe_dir / f"input_{case}.png", images)
        out = tmp_path / f"out_{case}"
        assert main(["segment", str(images), "--scorer", str(ckpt), "--out", str(out), "--save-scores",
                     "--size", f"{h}x{w}", "--quiet"]) == 0
        score = np.load(out / f"input_{case}_scores.npy")
        ref = np.load(caffe_dir / f"score_{case}.npy")[0]
        assert score.dtype == np.float32 and score.shape == ref.shape
        atol = 1e-5 * float(np.abs(ref).max())
        np.testing.assert_allclose(score, ref, rtol=0, atol=atol)
        labels = np.asarray(Image.open(out / f"input_{case}_trainIds.png"))
        differ = labels != np.load(caffe_dir / f"label_{case}.npy")
        assert not (differ & (near_tie_margin(ref) >= 2 * atol)).any()
    capsys.readouterr()
