"""The demo at CI size: the whole chain (data, scorer, two pix2pix models and a CycleGAN, scores,
table, plot, samples, report, study), each output checked against an independent computation, and resume."""

from __future__ import annotations

import io
import json
from dataclasses import asdict

import numpy as np
import pytest
import torch
from PIL import Image

from trainers.demo import (
    DemoConfig,
    degrade_blur,
    degrade_color_shift,
    degraded_ok,
    run_demo,
)

ROWS = ("pix2pix-l1", "pix2pix-l1+cgan", "cyclegan", "ground_truth", "blurred")
STEPS = ["data", "scorer", "train pix2pix-l1", "translate pix2pix-l1", "train pix2pix-l1+cgan",
         "translate pix2pix-l1+cgan", "train cyclegan", "translate cyclegan", "real and degraded rows",
         *[f"fcn-score {r}" for r in ROWS], *[f"color-hist {r}" for r in ROWS],
         "table", "colour plot", "samples", "report", "study"]


def test_demo_writes_every_output_and_demo_json(tiny_demo):
    from p2peval.report.scorefile import read_score

    out, _, text, cfg = tiny_demo
    for name in ("table.md", "table.txt", "color.png", "samples.png", "report.html",
                 "study/study.toml", "demo.json", "scorer.pt"):
        assert (out / name).is_file(), name
    for row in ROWS:
        s = read_score(out / "scores" / f"{row}.fcn-score.json")
        assert s["metric"] == "fcn-score" and s["counts"]["frames"] == cfg.n_val
        assert (out / "scores" / f"{row}.fcn-score.frames.npz").is_file()
        for m in ("per_pixel_acc", "per_class_acc", "class_iou"):
            lo, hi = s["ci"][m]
            assert lo <= s["values"][m] <= hi
        c = read_score(out / "scores" / f"{row}.color-hist.json")
        assert c["metric"] == "color-hist" and c["inputs"]["n_files"] == cfg.n_val
        assert len(list((out / "images" / row).glob("*_leftImg8bit.png"))) == cfg.n_val
    assert read_score(out / "scores" / "ground_truth.color-hist.json")["values"]["L"] == pytest.approx(1.0)

    d = json.loads((out / "demo.json").read_text())
    assert d["config"] == json.loads(json.dumps(asdict(cfg)))
    assert list(d["steps"]) == STEPS and list(d["timings_s"]) == STEPS
    assert all(not s["skipped"] for s in d["steps"].values())  # first run: every step ran
    times = list(d["timings_s"].values())
    assert all(isinstance(t, float) and t >= 0 for t in times)
    assert sum(times) <= d["total_s_this_run"] + 0.1 * len(times)  # rounded to 0.1 s each
    assert d["timings_s"]["scorer"] > 0 and d["timings_s"]["train pix2pix-l1+cgan"] > 0
    assert d["load_average"]["cpus"] >= 1 and len(d["load_average"]["before"]) == 3
    assert set(d["rows"]) == set(ROWS) and d["degraded_ok"] is True
    assert "4 filters" in d["networks"]["pix2pix-l1"] and "(the paper: 64)" in d["networks"]["pix2pix-l1"]
    assert "4 filters" in text  # the network size is said in the output

    # One table: a line per row, printed and in table.md, with both metrics.
    md = (out / "table.md").read_text()
    rows_md = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| Row")]
    assert [line.split(" | ")[0][2:] for line in rows_md] == [d["rows"][r]["label"] for r in ROWS]
    assert "Per-pixel acc." in md and "Lab L" in md and md in text
    assert sum(line.count("[") == 3 for line in text.splitlines()) >= 2 * len(ROWS)  # as they come + table


def test_demo_ends_with_study_commands_and_a_valid_study(tiny_demo, capsys):
    from p2peval.cli import main
    from studies.config import load_study

    out, result, text, cfg = tiny_demo
    lines = [line for line in text.strip().splitlines() if line.strip()]
    serve, analyze = result["study_commands"]["serve"], result["study_commands"]["analyze"]
    assert lines[-2].endswith(serve) and lines[-1].endswith(analyze)
    assert serve == f"p2peval study serve {out / 'study' / 'study.toml'}"
    assert analyze.startswith(f"p2peval study analyze sqlite:///{out / 'study' / 'study.db'}")
    study = load_study(out / "study" / "study.toml")
    assert set(study.algorithms) == {"pix2pix-l1", "pix2pix-l1+cgan", "cyclegan"}
    assert study.algorithms["pix2pix-l1"] == (out / "images" / "pix2pix-l1").resolve()
    assert study.real == (out / "images" / "ground_truth").resolve()
    assert study.pairing == "same-input" and study.practice_trials + study.main_trials <= cfg.n_val
    assert main(["study", "serve", str(out / "study" / "study.toml"), "--check"]) == 0
    assert "3 algorithm(s)" in capsys.readouterr().out


def test_demo_trained_rows_come_from_the_pix2pix_trainer(tiny_demo):
    out, _, _, cfg = tiny_demo
    outputs = {}
    for row, objective in (("pix2pix-l1", "l1"), ("pix2pix-l1+cgan", "l1+cgan")):
        run = out / "runs" / row
        config = json.loads((run / "config.json").read_text())
        assert config["loss"]["objective"] == objective
        assert config["generator"]["ngf"] == cfg.gan_filters == config["discriminator"]["ndf"]
        assert config["steps"] == cfg.gan_steps and config["data"]["crop_size"] == cfg.size
        assert len((run / "losses.csv").read_text().splitlines()) == 1 + cfg.gan_steps
        manifest = json.loads((out / "images" / row / "manifest.json").read_text())
        assert manifest["trainer"] == "pix2pix" and manifest["n_images"] == cfg.n_val
        assert manifest["checkpoint"] == str(run / "generator.pt")
        files = sorted((out / "images" / row).glob("*_leftImg8bit.png"))
        outputs[row] = np.stack([np.asarray(Image.open(f)) for f in files])
        assert outputs[row].shape == (cfg.n_val, cfg.size, cfg.size, 3)
    assert not np.array_equal(outputs["pix2pix-l1"], outputs["pix2pix-l1+cgan"])


def test_demo_cyclegan_row_comes_from_the_cyclegan_trainer(tiny_demo):
    """The CycleGAN row is the CycleGAN paper's model (both cycles, no identity loss, LSGAN, an
    image pool) trained unpaired at the demo's size, and its val translations are labels -> photo."""
    from p2peval.data.cityscapes import list_frames

    out, _, _, cfg = tiny_demo
    run = out / "runs" / "cyclegan"
    config = json.loads((run / "config.json").read_text())
    assert config["trainer"] == "cyclegan" and config["steps"] == cfg.gan_steps
    assert config["loss"]["gan"] and config["loss"]["gan_mode"] == "lsgan" and config["loss"]["pool_size"] == 50
    assert config["loss"]["lambda_A"] == config["loss"]["lambda_B"] == 10 and config["loss"]["lambda_identity"] == 0
    assert config["generator"]["ngf"] == cfg.gan_filters == config["discriminator"]["ndf"]
    assert config["data"]["crop_size"] == cfg.size and config["data"]["layout"] == "cityscapes"
    assert len((run / "losses.csv").read_text().splitlines()) == 1 + cfg.gan_steps
    manifest = json.loads((out / "images" / "cyclegan" / "manifest.json").read_text())
    assert manifest["trainer"] == "cyclegan" and manifest["direction"] == "AtoB"
    files = sorted((out / "images" / "cyclegan").glob("*_leftImg8bit.png"))
    assert [f.name for f in files] == [f"{i}_leftImg8bit.png" for i in sorted(
        f.id for f in list_frames(out / "toycity", "val"))]


def test_demo_colour_plot_has_one_curve_per_row(tiny_demo):
    """color.png is exactly the figure of the rows' histograms: one solid curve per row (in row
    order, the values of the histograms in the score files) and the dotted reference."""
    import matplotlib.pyplot as plt

    from p2peval.report.scorefile import read_score
    from p2peval.scoring.color_hist import color_hist_figure

    out, result, _, _ = tiny_demo
    scores = [read_score(out / "scores" / f"{r}.color-hist.json") for r in ROWS]
    fig = color_hist_figure(scores, title=result["plot"]["title"])
    labels = [result["rows"][r]["label"] for r in ROWS]
    assert result["plot"]["rows"] == labels
    for ax, ch in zip(fig.axes, ("L", "a", "b")):
        lines = ax.get_lines()
        assert len(lines) == len(ROWS) + 1
        assert [ln.get_label().rsplit(" (", 1)[0] for ln in lines] == labels + ["reference"]
        for line, s in zip(lines, scores):
            h = np.asarray(s["histograms"]["results"][ch], float)
            with np.errstate(divide="ignore"):
                np.testing.assert_allclose(line.get_ydata(), np.log(h / h.sum()))
        assert lines[-1].get_linestyle() == ":"
        assert len({ln.get_color() for ln in lines[:-1]}) == len(ROWS)  # one colour per row
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    np.testing.assert_array_equal(np.asarray(Image.open(buf)), np.asarray(Image.open(out / "color.png")))


def test_demo_samples_sheet_holds_labels_outputs_and_photo(tiny_demo):
    from p2peval.data.cityscapes import list_frames
    from p2peval.report.figures import cell_origin

    out, result, _, cfg = tiny_demo
    sheet = np.asarray(Image.open(out / "samples.png").convert("RGB"))
    s = result["samples"]
    assert s["columns"] == ["input labels", "pix2pix L1", "pix2pix L1+cGAN", "CycleGAN", "real photo"]
    assert s["frames"] == [f.id for f in list_frames(out / "toycity", "val")][: cfg.n_samples]
    color = {f.id: f.color for f in list_frames(out / "toycity", "val")}
    n = cfg.size
    for r, fid in enumerate(s["frames"]):
        expected = [np.asarray(Image.open(color[fid]).convert("RGB").resize((n, n), Image.NEAREST))]
        expected += [np.asarray(Image.open(out / "images" / row / f"{fid}_leftImg8bit.png"))
                     for row in ("pix2pix-l1", "pix2pix-l1+cgan", "cyclegan", "ground_truth")]
        for c, img in enumerate(expected):
            y, x = cell_origin(r, c, n)
            np.testing.assert_array_equal(sheet[y:y + n, x:x + n], img)
    assert sheet.shape[1] == 5 * n + 4 * 2


def test_demo_rows_from_the_real_photos():
    """The ground-truth row is the photo downsampled with PIL bicubic; blur matches skimage."""
    from skimage.filters import gaussian

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    ours = degrade_blur(img, 3.0)
    ref = gaussian(img.astype(np.float64), sigma=3.0, mode="reflect", truncate=4.0,
                   channel_axis=-1, preserve_range=True)
    assert np.abs(ours.astype(np.float64) - ref).max() <= 0.51
    assert ours.std() < img.std() / 3
    assert degrade_color_shift(img)[0, 0].tolist() == [img[0, 0, 1], img[0, 0, 2], img[0, 0, 0]]


def test_demo_real_rows_are_the_val_photos(tiny_demo):
    from p2peval.data.cityscapes import list_frames

    out, _, _, cfg = tiny_demo
    f = list_frames(out / "toycity", "val")[0]
    photo = np.asarray(Image.open(f.image).convert("RGB").resize((cfg.size, cfg.size), Image.BICUBIC))
    gt = np.asarray(Image.open(out / "images" / "ground_truth" / f"{f.id}_leftImg8bit.png"))
    np.testing.assert_array_equal(gt, photo)
    blurred = np.asarray(Image.open(out / "images" / "blurred" / f"{f.id}_leftImg8bit.png"))
    np.testing.assert_array_equal(blurred, degrade_blur(photo, cfg.blur_sigma))


def test_demo_score_matches_independent_computation(tiny_demo):
    """One trained row's per-pixel and per-class accuracy recomputed with numpy and the scorer."""
    from p2peval.data.cityscapes import list_frames
    from p2peval.data.labels import LABELS
    from p2peval.report.scorefile import read_score
    from p2peval.scorers.checkpoint import load_scorer

    out, _, _, _ = tiny_demo
    model, _ = load_scorer(out / "scorer.pt")
    lut = np.full(256, 255, np.int64)
    for lab in LABELS:
        lut[lab.id] = lab.train_id
    hist = np.zeros((19, 19), np.int64)
    dropped = 0
    for f in list_frames(out / "toycity", "val"):
        gt = lut[np.asarray(Image.open(f.label_ids))]
        h, w = gt.shape
        img = Image.open(out / "images" / "pix2pix-l1+cgan" / f"{f.id}_leftImg8bit.png").convert("RGB")
        x = np.array(img.resize((w, h), Image.BILINEAR), np.float32)[:, :, ::-1]
        x -= np.array((72.78044, 83.21195, 73.45286))
        with torch.no_grad():
            pred = model(torch.from_numpy(x.transpose(2, 0, 1).copy())[None]).argmax(1)[0].numpy()
        k = gt < 19
        counts = np.bincount(19 * gt[k] + pred[k], minlength=361)  # the reference's bincount
        if counts.size > 361:
            dropped += 1
            continue
        hist += counts.reshape(19, 19)
    s = read_score(out / "scores" / "pix2pix-l1+cgan.fcn-score.json")
    assert s["counts"]["frames_dropped_by_reference_quirk"] == dropped
    assert s["values"]["per_pixel_acc"] == pytest.approx(np.diag(hist).sum() / (hist.sum() + 1e-12), abs=1e-9)
    assert s["values"]["per_class_acc"] == pytest.approx(np.mean(np.diag(hist) / (hist.sum(1) + 1e-12)), abs=1e-9)


def test_demo_rerun_skips_every_step(tiny_demo):
    out, result, _, cfg = tiny_demo
    files = [p for p in out.rglob("*") if p.is_file() and p.name != "demo.json"
             and not p.name.endswith(".db")]
    before = {p: p.stat().st_mtime_ns for p in files}
    buf = io.StringIO()
    again = run_demo(out, cfg, show_progress=False, file=buf)
    assert {p: p.stat().st_mtime_ns for p in files} == before  # nothing rewritten
    d = json.loads((out / "demo.json").read_text())
    assert all(s["skipped"] for s in d["steps"].values())
    assert d["timings_s"] == result["timings_s"]  # the times of the run that made each output
    assert again["table"] == result["table"]
    assert buf.getvalue().count("done, skipped") == len(STEPS)


def test_degraded_check():
    def score(v):
        return {"values": {"per_pixel_acc": v, "per_class_acc": v, "class_iou": v}}
    assert degraded_ok({"ground_truth": score(0.8), "blurred": score(0.5), "pix2pix-l1": score(0.9)}, "blurred")
    assert not degraded_ok({"ground_truth": score(0.5), "blurred": score(0.5)}, "blurred")
    assert not degraded_ok({"ground_truth": score(0.5), "blurred": score(0.6)}, "blurred")


def test_demo_fails_when_the_degraded_row_scores_as_high_as_the_real_photos(tmp_path):
    """A 'blur' of sigma 0 leaves the photos as they are: the degraded row then scores exactly as
    high as the real photos, which the demo must report as a failure."""
    cfg = DemoConfig(n_train=2, n_val=2, size=32, native_height=32, steps=2, batch_size=2,
                     trained_rows=("pix2pix-l1",), gan_steps=1, gan_filters=4, blur_sigma=0.0,
                     n_resamples=50, n_samples=1, report_frames=1)
    buf = io.StringIO()
    result = run_demo(tmp_path / "weak", cfg, show_progress=False, file=buf)
    assert result["degraded_ok"] is False
    assert result["scores"]["blurred"]["values"] == result["scores"]["ground_truth"]["values"]
    assert "FAILED: the blurred row scores at least as high as the real photos" in buf.getvalue()
    assert json.loads((tmp_path / "weak" / "demo.json").read_text())["degraded_ok"] is False


def test_demo_cli_refuses_other_settings_and_unknown_rows(tiny_demo, tmp_path, capsys):
    from p2peval.cli import main

    out, _, _, _ = tiny_demo
    rc = main(["demo", "--out", str(out), "--n-train", "5", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "other settings" in err and "n_train" in err
    fresh = tmp_path / "fresh"
    rc = main(["demo", "--out", str(fresh), "--rows", "pix2pix-l1,pix2pix-hd", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "'pix2pix-hd'" in err and "pix2pix-l1+cgan" in err
    assert not fresh.exists()  # refused before any work
    rc = main(["demo", "--out", str(fresh), "--gan-steps", "0", "--quiet"])
    assert rc == 2 and "--gan-steps" in capsys.readouterr().err and not fresh.exists()


def test_default_config_is_valid():
    cfg = DemoConfig().check()
    assert cfg.trained_rows == ("pix2pix-l1", "pix2pix-l1+cgan", "cyclegan") and cfg.size == 128
