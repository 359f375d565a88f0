"""Comparison tables: snapshots of markdown and LaTeX, best-by-direction, published rows, paired
significance against an independent bootstrap, bad input through the CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from p2peval.cli import main
from p2peval.metrics.confusion import compute_scores
from p2peval.report.scorefile import make_score, write_score
from p2peval.report.tables import build_table, render

FCN = ("per_pixel_acc", "per_class_acc", "class_iou")


def _fcn_score(path: Path, label: str, values, se, *, files="abc", frames=None, mode="reference") -> Path:
    ci = {k: [v - 2 * s, v + 2 * s] for k, v, s in zip(FCN, values, se)}
    ci.update({k + "_se": s for k, s in zip(FCN, se)})
    extra = {}
    if frames is not None:
        ids, conf = frames
        side = path.with_name(path.stem + ".frames.npz")
        np.savez(side, ids=np.array(ids), confusion=conf)
        extra["frames_file"] = side.name
    s = make_score("fcn-score", dict(zip(FCN, values)), {k: True for k in FCN}, label=label, ci=ci,
                   counts={"images": 3}, inputs={"file_list_sha256": files}, confusion_mode=mode,
                   protocol={"name": "pix2pix", "index19": mode}, comparable_with_published=False, **extra)
    write_score(path, s)
    return path


def _color_score(path: Path, label: str, values, se) -> Path:
    keys = ("L", "a", "b")
    ci = {k: [v - 2 * s, v + 2 * s] for k, v, s in zip(keys, values, se)}
    ci.update({k + "_se": s for k, s in zip(keys, se)})
    write_score(path, make_score("color-hist", dict(zip(keys, values)), {k: True for k in keys}, label=label,
                                 ci=ci, counts={"images": 3}, inputs={"file_list_sha256": "abc"}))
    return path


@pytest.fixture
def fixed_scores(tmp_path):
    return [
        _fcn_score(tmp_path / "l1.json", "L1", (0.4213, 0.1502, 0.1101), (0.0102, 0.0051, 0.0034)),
        _fcn_score(tmp_path / "cgan.json", "L1+cGAN", (0.6604, 0.2299, 0.1712), (0.0121, 0.0061, 0.0041)),
        _color_score(tmp_path / "l1c.json", "L1", (0.8123, 0.6911, 0.7034), (0.011, 0.012, 0.013)),
        _color_score(tmp_path / "cganc.json", "L1+cGAN", (0.8634, 0.8421, 0.8187), (0.010, 0.011, 0.012)),
    ]


MD_SNAPSHOT = """\
| Row | Source | Per-pixel acc. | Per-class acc. | Class IOU | Lab L | Lab a | Lab b |
|---|---|---:|---:|---:|---:|---:|---:|
| L1 | measured | 0.421 ± 0.010 | 0.150 ± 0.005 | 0.110 ± 0.003 | 0.812 ± 0.011 | 0.691 ± 0.012 | 0.703 ± 0.013 |
| L1+cGAN | measured | **0.660** ± 0.012 | **0.230** ± 0.006 | **0.171** ± 0.004 | **0.863** ± 0.010 | **0.842** ± 0.011 | **0.819** ± 0.012 |
| L1 (published) | published [losses] | 0.420 | 0.150 | 0.110 |  |  |  |
| GAN (published) | published [losses] | 0.220 | 0.050 | 0.010 |  |  |  |
| cGAN (published) | published [losses] | 0.570 | 0.220 | 0.160 |  |  |  |
| L1+GAN (published) | published [losses] | 0.640 | 0.200 | 0.150 |  |  |  |
| L1+cGAN (published) | published [losses] | 0.660 | 0.230 | 0.170 |  |  |  |
| ground truth (published) | published [losses] | 0.800 | 0.260 | 0.210 |  |  |  |

- best measured value per column in bold (Class IOU higher; Lab L higher; Lab a higher; Lab b higher; Per-class acc. higher; Per-pixel acc. higher is better)
- +/- is the bootstrap standard error from the score file
- no significance marks: no two rows were scored on the same images with per-image data
- measured rows not comparable with published numbers (other protocol, data or scorer): L1, L1+cGAN
- published [losses]: pix2pix (Isola et al., CVPR 2017), Table 1 (losses); Cityscapes labels -> photo, 256x256, reference FCN-8s
"""

LATEX_SNAPSHOT = r"""\begin{tabular}{lrrr}
\toprule
Row & Per-pixel acc. & Per-class acc. & Class IOU \\
\midrule
L1 & 0.421 [0.401, 0.442] & 0.150 [0.140, 0.160] & 0.110 [0.103, 0.117] \\
L1+cGAN & \textbf{0.660} [0.636, 0.685] & \textbf{0.230} [0.218, 0.242] & \textbf{0.171} [0.163, 0.179] \\
\bottomrule
\end{tabular}

% best measured value per column in bold (Class IOU higher; Per-class acc. higher; Per-pixel acc. higher is better)
% [lo, hi] is the confidence interval from the score file
% no significance marks: no two rows were scored on the same images with per-image data
"""


def test_markdown_snapshot_joins_metrics_and_adds_published(fixed_scores):
    text = render(build_table(fixed_scores, published=["losses"]), "md")
    assert text == MD_SNAPSHOT


def test_latex_snapshot(fixed_scores):
    text = render(build_table(fixed_scores[:2], ci_style="interval"), "latex")
    assert text == LATEX_SNAPSHOT


def test_latex_with_published_rows_escapes_and_labels(fixed_scores):
    text = render(build_table(fixed_scores[:2], published=["losses"]), "latex")
    assert r"L1+cGAN \textit{(published)}" in text
    assert r"ground truth \textit{(published)} & published [losses]" in text
    assert text.count(r"\midrule") == 2  # header rule and the rule before the published block
    assert r"\textbf{0.660} $\pm$ 0.012" in text


def test_best_marked_by_direction(tmp_path):
    def score(name, value):
        write_score(tmp_path / f"{name}.json", make_score(
            "fid", {"fid": value, "acc": 1 - value / 100}, {"fid": False, "acc": True}, label=name,
            counts={}, inputs={}))
        return tmp_path / f"{name}.json"
    paths = [score("a", 30.0), score("b", 12.5), score("c", 40.0)]
    t = build_table(paths)
    assert t.best[("fid", "fid")] == {"b"}  # lower is better
    assert t.best[("fid", "acc")] == {"b"}
    md = render(t, "md")
    assert "**12.500**" in md and "**30.000**" not in md
    # CSV: machine-readable best flags and full-precision values.
    rows = list(csv.DictReader(io.StringIO(render(t, "csv"))))
    assert [r["fid best"] for r in rows] == ["0", "1", "0"]
    assert float(rows[1]["fid"]) == 12.5
    assert "<b>12.500</b>" in render(t, "html")


def test_published_rows_are_labelled_and_never_best(fixed_scores):
    t = build_table(fixed_scores[:1] + fixed_scores[1:2], published=["losses"])
    pub = [r for r in t.rows if r.published]
    assert [r.label for r in pub] == ["L1", "GAN", "cGAN", "L1+GAN", "L1+cGAN", "ground truth"]
    # ground truth (0.80) is higher than every measured row but is not marked best.
    assert t.best[("fcn-score", "per_pixel_acc")] == {"L1+cGAN"}
    html = render(t, "html")
    assert '<tr class="published"><td>ground truth (published)</td>' in html


def _frames(rng, n, acc):
    """Per-frame (19, 20) extended confusion matrices with diagonal share ``acc``."""
    conf = np.zeros((n, 19, 20), np.int64)
    for i in range(n):
        for c in rng.choice(19, 5, replace=False):
            tot = int(rng.integers(200, 400))
            right = int(rng.binomial(tot, acc))
            conf[i, c, c] = right
            conf[i, c, (c + 1) % 19] = tot - right
    return conf


def _independent_paired_ci(ca, cb, key, n_resamples, seed, level=0.95):
    rng = np.random.default_rng(seed)
    n = len(ca)
    diffs = []
    for _ in range(n_resamples):
        idx = rng.integers(0, n, n)
        diffs.append(compute_scores(ca[idx], "reference")[key] - compute_scores(cb[idx], "reference")[key])
    d = compute_scores(ca, "reference")[key] - compute_scores(cb, "reference")[key]
    q_lo, q_hi = np.quantile(diffs, [(1 - level) / 2, 1 - (1 - level) / 2])
    r = max(d - q_lo, q_hi - d)  # the symmetric interval (the clipping at +/-1 does not bite here)
    return d - r, d + r


def test_paired_significance_for_fcn_scores(tmp_path):
    rng = np.random.default_rng(0)
    ids = [f"c_000000_{i:06d}" for i in range(40)]
    good, bad = _frames(rng, 40, 0.8), _frames(rng, 40, 0.6)
    sa = compute_scores(good, "reference")
    sb = compute_scores(bad, "reference")
    pa = _fcn_score(tmp_path / "a.json", "good", [sa[k] for k in FCN], (0.01, 0.01, 0.01), frames=(ids, good))
    # Frames stored in another order: rows are aligned by frame id.
    perm = rng.permutation(40)
    pb = _fcn_score(tmp_path / "b.json", "bad", [sb[k] for k in FCN], (0.01, 0.01, 0.01),
                    frames=([ids[i] for i in perm], bad[perm]))
    pc = _fcn_score(tmp_path / "c.json", "same", [sa[k] for k in FCN], (0.01, 0.01, 0.01), frames=(ids, good))
    t = build_table([pa, pb, pc], n_resamples=500)
    assert t.marks[("bad", "fcn-score", "per_pixel_acc")] == "*"
    assert ("same", "fcn-score", "per_pixel_acc") not in t.marks  # identical frames: difference 0
    c = next(c for c in t.comparisons if c.b == "bad" and c.key == "per_pixel_acc")
    assert c.a == "good" and c.difference == pytest.approx(sa["per_pixel_acc"] - sb["per_pixel_acc"], abs=1e-12)
    lo, hi = _independent_paired_ci(good, bad, "per_pixel_acc", 500, seed=1)
    # Monte Carlo: the interval is about 0.011 wide; independent 500-resample intervals with other
    # seeds move its ends by under 0.001.
    assert c.ci[0] == pytest.approx(lo, abs=0.002) and c.ci[1] == pytest.approx(hi, abs=0.002)
    assert 0.005 < hi - lo < 0.02
    assert "*" in render(t, "md").split("| bad |")[1].split("\n")[0]


def test_no_pairing_when_images_differ(tmp_path):
    rng = np.random.default_rng(1)
    ids = [f"c_000000_{i:06d}" for i in range(10)]
    a = _fcn_score(tmp_path / "a.json", "a", (0.8, 0.3, 0.2), (0.01,) * 3, frames=(ids, _frames(rng, 10, 0.9)))
    b = _fcn_score(tmp_path / "b.json", "b", (0.5, 0.2, 0.1), (0.01,) * 3, files="other",
                   frames=(ids, _frames(rng, 10, 0.3)))
    t = build_table([a, b])
    assert t.comparisons == [] and t.marks == {}


def test_color_hist_rows_paired_from_sidecars(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(2)
    for name, shift in (("real", 0), ("near", 3), ("far", 40)):
        d = tmp_path / name
        d.mkdir()
        for i in range(8):
            base = np.random.default_rng(i).integers(0, 200, (1, 1, 3))
            img = np.clip(base + rng.normal(0, 20, (16, 16, 3)) + shift, 0, 255).astype(np.uint8)
            Image.fromarray(img).save(d / f"{i}.png")
    assert main(["color-hist", str(tmp_path / "near"), str(tmp_path / "far"), "--reference",
                 str(tmp_path / "real"), "--out", str(tmp_path / "s"), "--quiet", "--workers", "0",
                 "--n-resamples", "100"]) == 0
    t = build_table(sorted((tmp_path / "s").glob("*.json")), n_resamples=300)
    assert t.best[("color-hist", "L")] == {"near"}
    assert t.marks[("far", "color-hist", "L")] == "*"
    assert all(c.method.startswith("paired symmetric bootstrap over 8 images") for c in t.comparisons)


def test_study_rows_and_their_comparisons(tmp_path):
    rows = [{"label": "L1", "values": {"pct_labeled_real": 2.8}, "ci": {"pct_labeled_real": [1.0, 4.9],
                                                                         "pct_labeled_real_se": 1.0},
             "higher_is_better": {"pct_labeled_real": True}},
            {"label": "L1+cGAN", "values": {"pct_labeled_real": 18.9}, "ci": {"pct_labeled_real": [14.0, 24.0],
                                                                               "pct_labeled_real_se": 2.5},
             "higher_is_better": {"pct_labeled_real": True}}]
    comps = [{"a": "L1", "b": "L1+cGAN", "difference": -16.1, "ci": [-21.0, -11.0], "p_permutation": 0.0002}]
    write_score(tmp_path / "study.json", make_score("study", {"pct_labeled_real/L1": 2.8}, {"pct_labeled_real": True},
                                                    counts={}, inputs={}, rows=rows, comparisons=comps))
    t = build_table([tmp_path / "study.json"], published=["study-map2photo"])
    md = render(t, "md")
    assert "| L1+cGAN | measured | **18.9** ± 2.5 |" in md
    assert "| L1 | measured | 2.8 ± 1.0* |" in md
    assert "| L1+cGAN (published) | published [study-map2photo] | 18.9 ± 2.5 |" in md


def _cli(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_outputs_and_list(fixed_scores, tmp_path, capsys):
    rc, out, err = _cli(["table", *map(str, fixed_scores), "--published", "losses"], capsys)
    assert rc == 0 and out == MD_SNAPSHOT
    rc, out, _ = _cli(["table", *map(str, fixed_scores[:2]), "--out", str(tmp_path / "t.tex"), "--ci", "interval"], capsys)
    assert rc == 0 and (tmp_path / "t.tex").read_text() == LATEX_SNAPSHOT
    rc, out, _ = _cli(["table", *map(str, fixed_scores[:2]), "--comparisons", str(tmp_path / "c.json")], capsys)
    assert rc == 0 and json.loads((tmp_path / "c.json").read_text()) == []  # no per-frame data
    rc, out, _ = _cli(["table", "--list-published"], capsys)
    assert rc == 0 and "losses" in out and "color-losses" in out and "0.66 / 0.23 / 0.17" in out
    rc, out, _ = _cli(["table", str(fixed_scores[0]), str(fixed_scores[1]), "--label", "x", "--label", "y",
                       "--format", "csv"], capsys)
    assert rc == 0 and [r["row"] for r in csv.DictReader(io.StringIO(out))] == ["x", "y"]


@pytest.mark.parametrize("case", ["missing", "notjson", "notscore", "nonnumeric", "duplicate", "published",
                                  "labels", "frames", "rows", "ci"])
def test_cli_bad_input(fixed_scores, tmp_path, capsys, case):
    argv = ["table", str(fixed_scores[0]), str(fixed_scores[1])]
    out_file = tmp_path / "t.md"
    out_file.write_text("keep me")
    bad = tmp_path / "bad.json"
    if case == "missing":
        argv.append(str(tmp_path / "nope.json"))
        expect = "nope.json: no such score file"
    elif case == "notjson":
        bad.write_text("{not json")
        argv.append(str(bad))
        expect = "bad.json: not a JSON score file"
    elif case == "notscore":
        bad.write_text(json.dumps({"hello": 1}))
        argv.append(str(bad))
        expect = "bad.json: not a p2peval score file"
    elif case == "nonnumeric":
        write_score(bad, make_score("x", {"v": "high"}, {"v": True}, counts={}, inputs={}))
        argv.append(str(bad))
        expect = "value 'v' is str, not a number"
    elif case == "duplicate":
        argv.append(str(fixed_scores[0]))
        expect = "two score files give fcn-score for row 'L1'"
    elif case == "published":
        argv += ["--published", "nosuch"]
        expect = "unknown published table 'nosuch'; valid choices: color-losses"
    elif case == "labels":
        argv += ["--label", "only-one"]
        expect = "--label given 1 times for 2 score files"
    elif case == "frames":
        s = json.loads(Path(fixed_scores[0]).read_text())
        s["frames_file"] = "gone.npz"
        write_score(fixed_scores[0], s)
        s = json.loads(Path(fixed_scores[1]).read_text())
        s["frames_file"] = "gone2.npz"
        write_score(fixed_scores[1], s)
        expect = "gone2.npz: per-image file named by 'frames_file' is missing"
    elif case == "rows":
        write_score(bad, make_score("study", {}, {}, counts={}, inputs={}, rows=[{"values": {}}]))
        argv.append(str(bad))
        expect = "'rows' must be a list of objects with a 'label'"
    elif case == "ci":
        write_score(bad, make_score("x", {"v": 0.5}, {"v": True}, counts={}, inputs={}, ci={"v": "wide"}))
        argv.append(str(bad))
        expect = "bad.json: ci 'v' is not [lo, hi] numbers"
    rc, _, err = _cli(argv + ["--out", str(out_file)], capsys)
    assert rc == 2
    lines = [l for l in err.splitlines() if l.startswith("p2peval: error:")]
    assert len(lines) == 1 and expect in lines[0], err
    assert "Traceback" not in err
    assert out_file.read_text() == "keep me"


def test_cli_options_between_score_files(fixed_scores, tmp_path, capsys):
    """Options may stand between the positional score files; the table is the same."""
    paths = [str(p) for p in fixed_scores]
    out = tmp_path / "t.md"
    rc, _, err = _cli(["table", paths[0], "--out", str(out), *paths[1:]], capsys)
    assert rc == 0, err
    assert _cli(["table", *paths], capsys)[1] == out.read_text()
