"""fcn-score --precision: refused for the published protocols before any work, bf16 runs on the
CPU as an independent autocast computation says, and the score file records the precision."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from evaluate_data import make_scorer, write_cityscapes, write_results
from PIL import Image
from test_confusion import strict_eval
from test_evaluate import MEAN_BGR, ref_train_ids

from p2peval.cli import main
from p2peval.report.scorefile import read_score

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("precision")
    ids = write_cityscapes(root / "cs", 4)
    write_results(root / "res", [f"{i}_leftImg8bit.png" for i in ids])
    make_scorer(root / "scorer.pt")
    frames = [(root / "cs" / "gtFine" / "val" / i.rsplit("_", 2)[0] / f"{i}_gtFine_labelIds.png",
               root / "res" / f"{i}_leftImg8bit.png") for i in ids]
    return {"root": root, "frames": frames}


def fcn(data, out, *extra):
    return main(["fcn-score", str(data["root"] / "res"), "--cityscapes", str(data["root"] / "cs"),
                 "--scorer", str(data["root"] / "scorer.pt"), "--out", str(out), "--bootstrap", "20",
                 "--workers", "0", "--quiet", *extra])


@pytest.mark.parametrize("protocol", ["pix2pix", "pix2pix-strict"])
@pytest.mark.parametrize("precision", ["bf16", "tf32"])
def test_refused_for_the_published_protocols_before_any_work(tmp_path, capsys, protocol, precision):
    out = tmp_path / "score.json"
    rc = main(["fcn-score", str(tmp_path / "missing"), "--cityscapes", str(tmp_path / "missing"),
               "--scorer", str(tmp_path / "missing.pt"), "--protocol", protocol, "--precision", precision,
               "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1  # the option, not the missing files: checked first
    assert f"--precision {precision}: protocol {protocol} is scored in fp32 only" in err[0]
    assert not out.exists()


def test_tf32_refused_on_the_cpu(data, tmp_path, capsys):
    rc = fcn(data, tmp_path / "s.json", "--protocol", "fast", "--precision", "tf32")
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--precision tf32 needs a CUDA device" in err[0]
    assert not (tmp_path / "s.json").exists()


def bf16_reference(ckpt, frames):
    """Protocol fast in numpy/PIL, the forward pass under CPU autocast to bfloat16, the argmax over
    the logits in float32."""
    from p2peval.scorers.registry import build_scorer

    ck = torch.load(ckpt, weights_only=True)
    model, _ = build_scorer(ck["arch"], ck["config"])
    model.load_state_dict(ck["state_dict"])
    model.eval()
    pairs = []
    for label_path, result_path in frames:
        im = Image.open(result_path).convert("RGB")
        label = np.array(Image.fromarray(ref_train_ids(np.array(Image.open(label_path)))).resize(im.size, Image.NEAREST))
        x = np.array(im, dtype=np.float32)[:, :, ::-1] - np.array(MEAN_BGR)
        x = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32))[None]
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(x)
        pairs.append((label, logits[0].float().numpy().argmax(axis=0)))
    return pairs


def test_bf16_on_cpu_matches_autocast_and_is_recorded(data, tmp_path):
    assert fcn(data, tmp_path / "bf16.json", "--protocol", "fast", "--precision", "bf16") == 0
    assert fcn(data, tmp_path / "fp32.json", "--protocol", "fast") == 0
    s16, s32 = read_score(tmp_path / "bf16.json"), read_score(tmp_path / "fp32.json")
    assert s16["protocol"]["precision"] == "bf16" and s32["protocol"]["precision"] == "fp32"
    assert any("bf16" in n for n in s16["notes"]) and not any("bf16" in n for n in s32["notes"])
    acc, cl, iu = strict_eval(bf16_reference(data["root"] / "scorer.pt", data["frames"]))
    v = s16["values"]
    assert (v["per_pixel_acc"], v["per_class_acc"], v["class_iou"]) == pytest.approx((acc, cl, iu), abs=1e-12)
    # bf16 keeps 8 bits of mantissa: with this scorer some labels change, so the two runs differ
    assert s16["confusion_matrix"] != s32["confusion_matrix"]


def test_tf32_switch_turns_tf32_on_for_precision_tf32_and_restores():
    """Flags only, so it runs without a GPU."""
    from p2peval.scoring.inference import tf32_disabled
    from p2peval.scoring.protocols import get_protocol

    proto = get_protocol("fast").with_precision("tf32")
    assert dataclasses.asdict(proto)["precision"] == "tf32"
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    try:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        with tf32_disabled("cuda:0", proto):
            assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
