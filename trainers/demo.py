"""The demo: the whole job of p2peval on toy-city, end to end, in minutes on 2 CPU cores.

1. data: toy-city (train and val splits, Cityscapes layout);
2. the scorer: a small FCN-8s trained the way the reference scorer was trained;
3. trained rows: small GANs trained with the bundled trainers (``DemoConfig.trained_rows``,
   registered in ``trainers.demo_rows``), plus the real val photos (the "ground truth" row) and one
   hand-degraded copy of them;
4. each model translates the val labels;
5. FCN-score and Lab colour-histogram intersection of every row;
6. one comparison table (printed, ``table.md``);
7. the colour plot (``color.png``);
8. the sample sheet (``samples.png``);
9. the HTML report (``report.html``);
10. a ready perceptual study (``study/study.toml``) with the trained models as algorithms.

Every step is skipped when its output is there (``trainers.chain``), so a rerun resumes; the
settings and each step's time are written to ``demo.json``. The demo fails (exit 1) when the
degraded row scores as high as the real photos: the scorer then learned too little.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from p2peval.core.errors import ConfigError
from trainers.chain import Step, run_steps, score_complete, scorer_finished

DEGRADED = ("blurred", "color_shifted", "color_labels")
FCN_KEYS = ("per_pixel_acc", "per_class_acc", "class_iou")


@dataclass(frozen=True)
class DemoConfig:
    """Every setting of the demo (defaults: `make demo`, minutes on 2 CPU cores)."""

    n_train: int = 100
    n_val: int = 40
    size: int = 128                 # GAN training and translation size; every row is size x size
    native_height: int = 128        # toy-city label/photo height in the Cityscapes layout (width 2x)
    # the scorer
    arch: str = "fcn8s-tiny"
    steps: int = 300
    batch_size: int = 4
    lr: float = 3e-3
    # the trained rows (trainers.demo_rows) and their networks, smaller than the papers'
    trained_rows: tuple[str, ...] = ("pix2pix-l1", "pix2pix-l1+cgan", "cyclegan")
    gan_steps: int = 1000
    gan_filters: int = 16           # generator ngf and discriminator ndf (the pix2pix paper: 64)
    gan_checkpoint_every: int = 250
    # the hand-degraded row
    degraded: str = "blurred"
    blur_sigma: float = 2.0         # pixels at `size`
    # outputs
    n_resamples: int = 1000
    n_samples: int = 4              # frames in samples.png
    report_frames: int = 4          # frames where the rows differ most, in report.html
    seed: int = 0
    device: str = "cpu"
    # One torch thread: the numbers do not depend on the core count (reductions split over
    # threads round differently), and a busy machine does not slow the demo by contention.
    threads: int = 1

    def check(self) -> DemoConfig:
        """Refuse bad settings before any work starts."""
        from trainers.demo_rows import TRAINED_ROWS

        for name in ("n_train", "n_val", "steps", "batch_size", "gan_steps", "gan_filters",
                     "gan_checkpoint_every", "threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"demo setting {name} must be at least 1, got {getattr(self, name)}")
        if self.size < 16 or self.size & (self.size - 1):
            raise ConfigError(f"demo size must be a power of two >= 16 (U-Net), got {self.size}")
        if self.blur_sigma < 0:
            raise ConfigError(f"demo setting blur_sigma must be >= 0, got {self.blur_sigma}")
        if self.degraded not in DEGRADED:
            raise ConfigError(f"unknown degraded row {self.degraded!r}; valid: {', '.join(DEGRADED)}")
        if not self.trained_rows:
            raise ConfigError("the demo needs at least one trained row")
        for name in self.trained_rows:
            TRAINED_ROWS.get(name)  # unknown names: one line with the valid ones
        if len(set(self.trained_rows)) != len(self.trained_rows):
            raise ConfigError("a trained row is listed twice")
        return self


def degrade_blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of each channel (scipy, reflect borders), back to uint8."""
    from scipy.ndimage import gaussian_filter

    out = gaussian_filter(rgb.astype(np.float32), sigma=(sigma, sigma, 0), mode="reflect")
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def degrade_color_shift(rgb: np.ndarray) -> np.ndarray:
    """Rotate the colour channels: R<-G, G<-B, B<-R (every hue moves by about 120 degrees)."""
    return np.ascontiguousarray(rgb[:, :, [1, 2, 0]])


def _resize_nearest(rgb: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.fromarray(rgb).resize((size_hw[1], size_hw[0]), Image.NEAREST))


def row_labels(cfg: DemoConfig) -> dict[str, str]:
    """Table label of every row, in table order: trained rows, ground truth, the degraded row."""
    from trainers.demo_rows import TRAINED_ROWS

    degraded = {"blurred": f"blurred (sigma {cfg.blur_sigma:g} px)",
                "color_shifted": "colour-shifted (RGB->GBR)",
                "color_labels": "colour labels as photos"}[cfg.degraded]
    return {**{n: TRAINED_ROWS.get(n).label for n in cfg.trained_rows},
            "ground_truth": f"ground truth (real photos at {cfg.size}x{cfg.size})",
            cfg.degraded: degraded}


def write_real_rows(root: Path, images: Path, cfg: DemoConfig, show_progress: bool = True) -> None:
    """The ground-truth row (real val photos at size x size, PIL bicubic) and the degraded row."""
    from p2peval.core.imageio import read_rgb, write_png
    from p2peval.core.progress import progress
    from p2peval.data.cityscapes import list_frames
    from p2peval.scorers.data import downsample_photo

    makers: dict[str, Callable] = {
        "ground_truth": lambda photo, color: photo,
        "blurred": lambda photo, color: degrade_blur(photo, cfg.blur_sigma),
        "color_shifted": lambda photo, color: degrade_color_shift(photo),
        "color_labels": lambda photo, color: color,
    }
    rows = ("ground_truth", cfg.degraded)
    s = (cfg.size, cfg.size)
    frames = list_frames(root, "val")
    for f in progress(frames, total=len(frames), desc="real rows", unit="frame", disable=not show_progress):
        photo = downsample_photo(read_rgb(f.image), s)
        color = _resize_nearest(read_rgb(f.color), s)
        for row in rows:
            target = images / row / f"{f.id}_leftImg8bit.png"
            if not target.is_file():
                write_png(target, makers[row](photo, color), photo=True)


def _complete(folder: Path, ids: list[str], manifest: bool = False) -> bool:
    return ((not manifest or (folder / "manifest.json").is_file())
            and all((folder / f"{i}_leftImg8bit.png").is_file() for i in ids))


def _score_ok(path: Path, n_resamples: int, sha: str | None = None) -> bool:
    """A score file is reusable when it is complete, of this scorer and these resamples."""
    from p2peval.report.scorefile import read_score

    if not score_complete(path):
        return False
    s = read_score(path)
    return ((s.get("ci") or {}).get("n_resamples") == n_resamples
            and (sha is None or (s.get("scorer") or {}).get("weights_sha256") == sha))


def _newer(target: Path, sources: list[Path]) -> bool:
    """``target`` exists and is at least as new as every source (derived files are rebuilt)."""
    if not target.is_file():
        return False
    t = target.stat().st_mtime_ns
    return all(p.stat().st_mtime_ns <= t for p in sources if p.exists())


def degraded_ok(scores: dict[str, dict], degraded: str) -> bool:
    """The real photos score higher than the hand-degraded row on pixel accuracy and IoU."""
    gt, d = scores["ground_truth"]["values"], scores[degraded]["values"]
    return all(d[m] < gt[m] for m in ("per_pixel_acc", "class_iou"))


def score_line(label: str, score: dict) -> str:
    """One row of FCN-scores with their intervals."""
    cells = []
    for m in FCN_KEYS:
        lo, hi = score["ci"][m]
        cells.append(f"{score['values'][m]:.3f} [{lo:.3f}, {hi:.3f}]")
    return f"{label:<40} " + " ".join(f"{c:>22}" for c in cells)


def format_table(scores: dict[str, dict], labels: dict[str, str]) -> str:
    """Rows x (per-pixel acc, per-class acc, class IoU), each with its interval."""
    head = f"{'row':<40} {'per-pixel acc':>22} {'per-class acc':>22} {'class IoU':>22}"
    lines = [head, "-" * len(head)] + [score_line(labels[r], s) for r, s in scores.items()]
    ci = next(iter(scores.values()))["ci"]
    lines.append(f"[lo, hi]: {ci.get('level', 0.95):.0%} interval ({ci.get('method', 'bootstrap over frames')})")
    return "\n".join(lines)


@dataclass
class DemoPaths:
    """Where every output of a demo folder lies."""

    out: Path
    data: Path = field(init=False)
    root: Path = field(init=False)
    scorer: Path = field(init=False)

    def __post_init__(self):
        self.data = self.out / "toycity"
        self.root = self.data / "cityscapes"
        self.scorer = self.out / "scorer.pt"

    def images(self, row: str) -> Path:
        return self.out / "images" / row

    def run(self, row: str) -> Path:
        return self.out / "runs" / row

    def fcn(self, row: str) -> Path:
        return self.out / "scores" / f"{row}.fcn-score.json"

    def color(self, row: str) -> Path:
        return self.out / "scores" / f"{row}.color-hist.json"


def _check_same_settings(out: Path, cfg: DemoConfig) -> None:
    """A demo folder holds one set of settings: refuse others before any work."""
    f = out / "demo.json"
    if not f.is_file():
        return
    try:
        old = json.loads(f.read_text()).get("config") or {}
    except (OSError, json.JSONDecodeError):
        return
    now = json.loads(json.dumps(asdict(cfg)))  # tuples -> lists
    changed = [k for k in now if k in old and old[k] != now[k]]
    if changed:
        raise ConfigError(f"{out}: demo made with other settings (changed: {', '.join(changed)}); "
                          "use another --out or remove the folder")


def run_demo(out: str | Path = "results/demo", config: DemoConfig | None = None, *,
             show_progress: bool = True, file=None) -> dict:
    """Run (or resume) the demo into ``out``; returns the summary written to ``demo.json`` plus
    ``scores`` (row -> FCN-score) and ``table`` (the printed FCN table)."""
    import torch

    cfg = (config or DemoConfig()).check()
    out = Path(out)
    _check_same_settings(out, cfg)
    saved_threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        return _run(out, cfg, show_progress, file or sys.stdout)
    finally:
        torch.set_num_threads(saved_threads)


def _run(out: Path, cfg: DemoConfig, show_progress: bool, file) -> dict:
    from p2peval.core.atomic import write_json_atomic
    from p2peval.report.scorefile import read_score
    from trainers.demo_rows import TRAINED_ROWS

    def say(msg: str) -> None:
        print(msg, file=file, flush=True)

    t0 = time.monotonic()
    load_before = os.getloadavg()
    p = DemoPaths(out)
    out.mkdir(parents=True, exist_ok=True)
    labels = row_labels(cfg)
    rows = list(labels)
    trained = {n: TRAINED_ROWS.get(n) for n in cfg.trained_rows}
    say("p2peval demo on toy-city: small networks sized for minutes on 2 CPU cores, not the papers' "
        "(numbers are not comparable with published Cityscapes figures)")
    for t in trained.values():
        say(f"  {t.name}: {t.networks(cfg)}")
    state: dict = {"scores": {}, "val_ids": []}

    def val_ids() -> list[str]:
        if not state["val_ids"]:
            from p2peval.data.cityscapes import list_frames
            state["val_ids"] = [f.id for f in list_frames(p.root, "val")]
        return state["val_ids"]

    steps: list[Step] = []

    def do_data():
        from p2peval.data.toycity import generate_toycity
        generate_toycity(p.data, cfg.n_train, cfg.n_val, size=cfg.size, seed=cfg.seed,
                         native_height=cfg.native_height, progress=show_progress)

    def data_done():
        f = p.data / "toycity.json"
        return f.is_file() and json.loads(f.read_text()).get("complete") is True

    steps.append(Step("data", [str(p.data)],
                      f"p2peval data toycity {p.data} --n {cfg.n_train} --val {cfg.n_val} --size {cfg.size} "
                      f"--native-height {cfg.native_height} --seed {cfg.seed}", data_done, do_data))

    def do_scorer():
        from p2peval.scorers.train import (
            ScorerTrainConfig,
            ScorerTrainRun,
            train_scorer,
        )
        train_scorer(p.data, ScorerTrainConfig(arch=cfg.arch, steps=cfg.steps, batch_size=cfg.batch_size,
                                               lr=cfg.lr, seed=cfg.seed, save_every=100),
                     out=p.scorer, run=ScorerTrainRun(device=cfg.device, show_progress=show_progress,
                                                      validate_each_epoch=False))

    steps.append(Step("scorer", [str(p.scorer)],
                      f"p2peval scorer train --data {p.data} --arch {cfg.arch} --out {p.scorer} "
                      f"--steps {cfg.steps} --batch-size {cfg.batch_size} --lr {cfg.lr} --seed {cfg.seed} --no-val",
                      lambda: scorer_finished(p.scorer), do_scorer))
    for name, t in trained.items():
        steps.append(Step(f"train {name}", [str(p.run(name))], t.command(cfg, p.data, p.run(name)),
                          lambda t=t: t.finished(p.run(t.name)),
                          lambda t=t: t.train(cfg, p.data, p.run(t.name), show_progress)))
        steps.append(Step(f"translate {name}", [str(p.images(name))],
                          f"p2peval translate {p.run(name)} --data {p.data} --split val --out {p.images(name)}",
                          lambda n=name: _complete(p.images(n), val_ids(), manifest=True),
                          lambda t=t: t.translate(cfg, p.data, p.run(t.name), p.images(t.name), show_progress)))
    steps.append(Step("real and degraded rows", [str(p.images("ground_truth")), str(p.images(cfg.degraded))],
                      f"(library) trainers.demo.write_real_rows: real val photos at {cfg.size}x{cfg.size} "
                      f"and the {cfg.degraded} copy",
                      lambda: all(_complete(p.images(r), val_ids()) for r in ("ground_truth", cfg.degraded)),
                      lambda: write_real_rows(p.root, p.out / "images", cfg, show_progress)))

    def sha() -> str:
        from p2peval.scorers.checkpoint import read_checkpoint
        return read_checkpoint(p.scorer)["weights_sha256"]

    for row in rows:
        def do_fcn(row=row):
            from p2peval.core.partial_state import partial_path
            from p2peval.report.scorefile import write_score
            from p2peval.scoring.fcn_score import fcn_score
            from p2peval.scoring.options import Execution, GroundTruth, Intervals
            s = fcn_score(p.images(row), scorer=p.scorer, truth=GroundTruth(cityscapes=p.root), protocol="pix2pix",
                          label=labels[row], intervals=Intervals(cfg.n_resamples, cfg.seed),
                          run=Execution(device=cfg.device, show_progress=show_progress, partial=p.fcn(row),
                                        workers=0))
            write_score(p.fcn(row), s)
            partial_path(p.fcn(row)).unlink(missing_ok=True)
            say(score_line(labels[row], s))

        steps.append(Step(f"fcn-score {row}", [str(p.fcn(row))],
                          f"p2peval fcn-score {p.images(row)} --cityscapes {p.root} --scorer {p.scorer} "
                          f"--protocol pix2pix --label '{labels[row]}' --bootstrap {cfg.n_resamples} "
                          f"--workers 0 --out {p.fcn(row)}",
                          lambda row=row: _score_ok(p.fcn(row), cfg.n_resamples, sha()), do_fcn))

    def reference():
        if "reference" not in state:
            from p2peval.scoring.color_hist import count_images, find_images
            state["reference"] = count_images(find_images(p.images("ground_truth"), "reference"),
                                              workers=1, show_progress=show_progress,
                                              desc="color-hist reference")
        return state["reference"]

    for row in rows:
        def do_color(row=row):
            from p2peval.scoring.color_hist import color_hist
            color_hist(p.images(row), reference(), label=labels[row], n_resamples=cfg.n_resamples,
                       seed=cfg.seed, show_progress=show_progress, workers=1).write(p.color(row))

        steps.append(Step(f"color-hist {row}", [str(p.color(row))],
                          f"p2peval color-hist {p.images(row)} --reference {p.images('ground_truth')} "
                          f"--label '{labels[row]}' --n-resamples {cfg.n_resamples} --seed {cfg.seed} "
                          f"--out {p.color(row)}",
                          lambda row=row: _score_ok(p.color(row), cfg.n_resamples), do_color))

    score_files = [p.fcn(r) for r in rows] + [p.color(r) for r in rows]
    table_md, plot, samples = out / "table.md", out / "color.png", out / "samples.png"
    report, study = out / "report.html", out / "study" / "study.toml"
    plot_title = "demo rows: Lab marginals (dotted: real photos)"

    def sample_ids() -> list[str]:
        return val_ids()[: cfg.n_samples]

    sample_cols = {**{labels[n]: p.images(n) for n in trained}, "real photo": p.images("ground_truth")}

    def do_table():
        from p2peval.report.tables import write_table
        write_table(score_files, table_md, "md", n_resamples=cfg.n_resamples, seed=cfg.seed)

    def do_plot():
        from p2peval.scoring.color_hist import plot_color_hist
        plot_color_hist([read_score(p.color(r)) for r in rows], plot, title=plot_title)

    def do_samples():
        from trainers.demo_outputs import write_samples
        write_samples(samples, p.root, sample_ids(), sample_cols, cfg.size)

    def do_report():
        from p2peval.report.html import write_report
        write_report(score_files, report, title="p2peval demo on toy-city", n_frames=cfg.report_frames,
                     scorer=p.scorer, n_resamples=cfg.n_resamples, seed=cfg.seed)

    def do_study():
        from studies.init import write_study
        from trainers.demo_outputs import study_trials
        practice, main = study_trials(len(val_ids()))
        write_study(study, name="demo", real=p.images("ground_truth"), pairing="same-input",
                    algorithms={n: p.images(n) for n in trained}, practice_trials=practice,
                    main_trials=main, seed=cfg.seed, force=True)

    images = [p.images(r) / "manifest.json" for r in trained]
    steps += [
        Step("table", [str(table_md)], f"p2peval table {' '.join(map(str, score_files))} --out {table_md}",
             lambda: _newer(table_md, score_files), do_table),
        Step("colour plot", [str(plot)], "(library) p2peval.scoring.color_hist.plot_color_hist",
             lambda: _newer(plot, score_files), do_plot),
        Step("samples", [str(samples)], "(library) trainers.demo_outputs.write_samples",
             lambda: _newer(samples, images), do_samples),
        Step("report", [str(report)], f"p2peval report {' '.join(map(str, score_files))} --scorer {p.scorer} "
             f"--frames {cfg.report_frames} --out {report}", lambda: _newer(report, score_files), do_report),
        Step("study", [str(study)], "(library) studies.init.write_study, as p2peval study init",
             lambda: _newer(study, images), do_study),
    ]

    summary_path = out / "demo.json"
    before = {}
    if summary_path.is_file():
        before = json.loads(summary_path.read_text()).get("steps", {})
    summary = {"config": asdict(cfg), "command": f"p2peval demo --out {out}",
               "networks": {n: t.networks(cfg) for n, t in trained.items()},
               "rows": {r: {"label": labels[r], "images": str(p.images(r)), "fcn_score": str(p.fcn(r)),
                            "color_hist": str(p.color(r))} for r in rows},
               "steps": {}}

    def save(record: dict) -> None:
        summary["steps"] = record
        write_json_atomic(summary_path, summary)

    record = run_steps(steps, previous=before, log=say, on_step=save)

    scores = {r: read_score(p.fcn(r)) for r in rows}
    table = format_table(scores, labels)
    ok = degraded_ok(scores, cfg.degraded)
    say("\nFCN-scores of toy-city val (scorer trained on toy-city; not comparable with published "
        "Cityscapes numbers)\n" + table)
    say("\n" + table_md.read_text())
    db = study.with_suffix(".db")
    serve = f"p2peval study serve {study}"
    analyze = f"p2peval study analyze sqlite:///{db} --out {study.parent / 'analysis.json'}"
    total = time.monotonic() - t0
    summary.update({
        "degraded_ok": ok,
        "timings_s": {name: s["seconds"] for name, s in record.items()},
        "total_s_this_run": round(total, 1),
        "load_average": {"before": [round(x, 2) for x in load_before],
                         "after": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()},
        "outputs": {"table": str(table_md), "plot": str(plot), "samples": str(samples),
                    "report": str(report), "study": str(study)},
        "plot": {"title": plot_title, "rows": [labels[r] for r in rows]},
        "samples": {"frames": sample_ids(), "columns": ["input labels", *sample_cols], "cell": cfg.size},
        "study_commands": {"serve": serve, "analyze": analyze},
    })
    save(record)
    if not (out / "table.txt").is_file() or (out / "table.txt").read_text() != table + "\n":
        (out / "table.txt").write_text(table + "\n")
    say(f"wrote in {out}: scores/, table.md, table.txt, color.png, samples.png, report.html, "
        f"study/study.toml, demo.json  ({total:.0f} s this run)")
    if not ok:
        say(f"FAILED: the {cfg.degraded} row scores at least as high as the real photos on pixel "
            "accuracy or class IoU: the scorer learned too little (train it longer: more --steps)")
    say(f"\nserve the study:   {serve}\nanalyse answers:   {analyze}")
    return {**summary, "scores": scores, "table": table, "out": out}
