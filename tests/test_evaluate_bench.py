"""``p2peval bench fcn-score`` runs and writes its JSON (figures are not asserted: speed is
measured by the benchmark, not by tests)."""

from __future__ import annotations

import json

from p2peval.cli import main


def test_bench_fcn_score_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "fcn-score", "--arch", "fcn8s-tiny", "--protocol", "fast", "--n", "2",
                 "--repeats", "1", "--label-size", "32x64", "--workers", "0", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads(out.read_text())
    assert printed["runs"] == saved["runs"]
    assert saved["command"].startswith("p2peval ") and saved["protocol"] == "fast"
    assert saved["eval_size"] == [256, 256] and saved["label_size"] == [32, 64]
    assert saved["end_to_end_images_per_s"] > 0 and saved["forward_only_images_per_s"] > 0
    assert saved["ratio_end_to_end_to_forward"] == saved["end_to_end_images_per_s"] / saved["forward_only_images_per_s"]


def test_bench_feed_null_scorer(tmp_path, capsys):
    """--forward none: the input pipeline alone, at a tiny size, with a worker and a stage table."""
    out = tmp_path / "feed.json"
    assert main(["bench", "fcn-score", "--forward", "none", "--protocol", "pix2pix", "--n", "3",
                 "--repeats", "2", "--label-size", "32x64", "--workers", "1", "--stages", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads(out.read_text())
    assert printed == saved
    assert saved["protocol"] == "pix2pix" and saved["eval_size"] == [32, 64] and saved["workers"] == 1
    assert len(saved["runs_frames_per_s"]) == 2 and saved["feed_frames_per_s"] > 0
    assert saved["feed_frames_per_s"] == sum(saved["runs_frames_per_s"]) / 2  # the median of two
    assert saved["per_worker_frames_per_s"] == saved["feed_frames_per_s"]
    stages = saved["stage_costs"]["stages"]
    for key in ("labels", "read_result", "bilinear_resize", "item_total", "to_shared_memory"):
        assert stages[key]["ms_per_frame"] > 0, key
    assert stages["item_total"]["ms_per_frame"] >= stages["bilinear_resize"]["ms_per_frame"]


def test_bench_feed_refuses_bad_options(capsys):
    assert main(["bench", "fcn-score", "--stages", "--n", "1"]) == 2
    assert "--stages needs --forward none" in capsys.readouterr().err
    assert main(["bench", "fcn-score", "--forward", "none", "--workers", "-1"]) == 2
    assert "argument --workers: must be an integer >= 0, got '-1'" in capsys.readouterr().err


def test_worker_items_are_shared_and_equal_to_in_process_items(tmp_path, monkeypatch):
    """Items decoded in a worker (written straight into shared memory, resized by the C kernel)
    equal items decoded in this process with PIL's resize, for both protocols."""
    import torch

    from p2peval.bench.fcn_feed import build_dataset
    from p2peval.bench.fcn_score import _write_data
    from p2peval.scoring.protocols import get_protocol
    from p2peval.scoring.stream import scoring_loader

    _write_data(tmp_path / "cs", 3, (64, 128), (256, 256))
    for name in ("pix2pix", "fast"):
        ds = build_dataset(tmp_path / "cs", get_protocol(name))
        monkeypatch.delenv("P2PEVAL_RESIZE_KERNEL", raising=False)
        a = [it for items in scoring_loader(ds, device="cpu", batch_size=2, workers=1) for it in items]
        monkeypatch.setenv("P2PEVAL_RESIZE_KERNEL", "pil")
        b = [it for items in scoring_loader(ds, device="cpu", batch_size=2, workers=0) for it in items]
        assert [it["key"] for it in a] == [it["key"] for it in b] and len(a) == 3
        for x, y in zip(a, b):
            assert torch.equal(x["input"], y["input"]) and torch.equal(x["gt"], y["gt"])
            assert x["gt_ignored"] == y["gt_ignored"] == int((y["gt"] >= 19).sum())
        assert a[0]["input"].is_shared() and a[0]["gt"].is_shared()


def test_forward_variant_falls_back_to_eager_when_compilation_fails(monkeypatch):
    import torch

    from p2peval.bench.fcn_score import FcnScoreBenchOptions, forward_variant

    model = torch.nn.Conv2d(3, 4, 3)

    def broken(*args, **kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", broken)
    got, info = forward_variant(model, FcnScoreBenchOptions(compile=True, channels_last=True), torch.zeros(1, 3, 8, 8))
    assert got is model and info["compile"].startswith("failed, eager used (RuntimeError: no compiler here")
    assert info["channels_last"] and model.weight.is_contiguous(memory_format=torch.channels_last)
