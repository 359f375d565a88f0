"""Named end-to-end reproductions: generate data -> train a scorer -> train and translate every
variant -> fcn-score and color-hist -> comparison table and colour plot, with a README.

A preset is data (a frozen ``Preset`` in the ``PRESETS`` registry). Every step is skipped when its
output exists and is complete, so a stopped run continues where it stopped. Bulky intermediates
(data, checkpoints, image folders) go under ``OUT/work/`` (git-ignored by ``OUT/.gitignore``);
the small outputs (score files, table, plot, README) sit at the top of ``OUT``.

    OUT/README.md            every file and the command that made it
    OUT/reproduce.json       the preset, the step log and timings
    OUT/table.md, table.tex  the comparison table (measured rows + the paper's rows)
    OUT/color.png            log probability of the Lab marginals, every row against the real photos
    OUT/scores/<row>.fcn-score.json, <row>.color-hist.json (+ .frames.npz)
    OUT/work/                toy-city, scorer, pix2pix runs, translated images (not committed)

``p2peval`` never imports ``trainers`` at module level: the chain imports it when it runs.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from p2peval.core.errors import ConfigError
from p2peval.core.registry import Registry
from trainers.chain import Step, run_steps, score_complete, scorer_finished

# Row labels as the paper prints them (Table 1), by ablation variant name.
PAPER_LABELS = {"l1": "L1", "gan": "GAN", "cgan": "cGAN", "l1+gan": "L1+GAN", "l1+cgan": "L1+cGAN",
                "ground_truth": "ground truth"}


@dataclass(frozen=True)
class Preset:
    """Everything a reproduction run depends on."""

    name: str
    description: str
    # toy-city
    n_train: int
    n_val: int
    size: int                       # pix2pix training and generated size
    native_height: int              # height of the Cityscapes-layout photos and labels (width 2x)
    # scorer (trained on toy-city photos the way the reference FCN-8s was trained)
    scorer_arch: str
    scorer_steps: int
    scorer_batch_size: int
    scorer_lr: float
    # pix2pix variants of an ablation set (trainers.ablations)
    ablation: str
    variants: tuple[str, ...]
    train_steps: int
    train_overrides: tuple[str, ...] = ()
    # scoring
    protocol: str = "pix2pix"
    n_resamples: int = 1000
    published: tuple[str, ...] = ("losses", "color-losses")
    seed: int = 0
    budget: str = ""                # what the preset was sized for

    def settings(self) -> dict:
        return asdict(self)


PRESETS: Registry[Preset] = Registry("preset")
PRESETS.register("toycity-smoke", Preset(
    name="toycity-smoke",
    description="CI-sized run of the whole chain (two loss variants, tiny networks, a few steps); "
                "checks the plumbing, not the paper's findings",
    n_train=8, n_val=4, size=64, native_height=64,
    scorer_arch="fcn8s-tiny", scorer_steps=4, scorer_batch_size=2, scorer_lr=1e-3,
    ablation="losses", variants=("l1", "l1+cgan"), train_steps=6,
    train_overrides=("generator.ngf=8", "discriminator.ndf=8", "checkpoint_every=1000", "sample_images=0"),
    n_resamples=100, budget="under 2 minutes on 2 CPU cores"))
PRESETS.register("toycity-losses", Preset(
    name="toycity-losses",
    description="the pix2pix loss ablation (Table 1: L1, GAN, cGAN, L1+GAN, L1+cGAN, ground truth) "
                "on toy-city at 128x128, with Lab colour histograms (Figure 7)",
    n_train=100, n_val=30, size=128, native_height=128,
    scorer_arch="fcn8s-small", scorer_steps=250, scorer_batch_size=4, scorer_lr=2e-3,
    ablation="losses", variants=("l1", "gan", "cgan", "l1+gan", "l1+cgan"), train_steps=1200,
    train_overrides=("generator.ngf=32", "discriminator.ndf=32", "checkpoint_every=100", "sample_images=0"),
    n_resamples=1000, budget="under an hour on a 2-core CPU with one torch thread"))


@dataclass(frozen=True)
class ComparisonPreset:
    """pix2pix (paired) and CycleGAN (unpaired) side by side on toy-city, both directions."""

    name: str
    description: str
    n_train: int
    n_val: int
    size: int                       # training and generated size of both trainers
    native_height: int
    scorer_arch: str
    scorer_steps: int
    scorer_batch_size: int
    scorer_lr: float
    pix2pix_steps: int              # per direction (one L1+cGAN run each way)
    pix2pix_overrides: tuple[str, ...]
    cyclegan_steps: int             # one run gives both directions
    cyclegan_overrides: tuple[str, ...]
    protocol: str = "cyclegan"
    n_resamples: int = 1000
    published: tuple[str, ...] = ("cyclegan-labels2photo", "cyclegan-photo2labels")
    seed: int = 0
    budget: str = ""

    def settings(self) -> dict:
        return asdict(self)


PRESETS.register("toycity-cyclegan", ComparisonPreset(
    name="toycity-cyclegan",
    description="pix2pix (L1+cGAN, paired) and CycleGAN (unpaired, no identity loss) on toy-city at "
                "128x128, labels -> photo (FCN-score, Lab colour) and photo -> labels (label-score), "
                "as the CycleGAN paper's Cityscapes comparison",
    n_train=40, n_val=20, size=128, native_height=128,
    scorer_arch="fcn8s-tiny", scorer_steps=120, scorer_batch_size=4, scorer_lr=2e-3,
    pix2pix_steps=160, pix2pix_overrides=("generator.ngf=16", "discriminator.ndf=16", "checkpoint_every=100",
                                          "sample_images=0"),
    cyclegan_steps=200, cyclegan_overrides=("generator.ngf=8", "generator.n_blocks=3", "discriminator.ndf=16",
                                            "checkpoint_every=100", "sample_images=0"),
    n_resamples=1000, budget="about 10 minutes on 2 busy CPU cores with one torch thread"))


def get_preset(name: str) -> Preset:
    return PRESETS.get(name)


@dataclass
class Chain:
    preset: Preset
    out: Path
    steps: list[Step] = field(default_factory=list)

    @property
    def work(self) -> Path:
        return self.out / "work"


def _rel(p: Path, out: Path) -> str:
    try:
        return str(p.relative_to(out))
    except ValueError:
        return str(p)


def build_chain(preset: Preset, out: Path, *, device: str = "cpu", show_progress: bool = True) -> Chain:
    """The steps of ``preset`` writing under ``out`` (nothing runs yet)."""
    if isinstance(preset, ComparisonPreset):
        return build_comparison_chain(preset, out, device=device, show_progress=show_progress)
    ch = Chain(preset, Path(out))
    p, w, o = preset, ch.work, ch.out
    data, scorer = w / "toycity", w / "scorer.pt"
    abl = w / "ablation"
    gt = w / "results" / "ground_truth"
    scores = o / "scores"
    rows = list(p.variants) + ["ground_truth"]
    label = {r: PAPER_LABELS.get(r, r) for r in rows}
    results = {**{v: abl / "results" / v for v in p.variants}, "ground_truth": gt}
    fcn_files = {r: scores / f"{_safe(r)}.fcn-score.json" for r in rows}
    color_files = {r: scores / f"{_safe(r)}.color-hist.json" for r in rows}
    sets = " ".join(f"--set {s}" for s in p.train_overrides)

    _data_and_scorer_steps(ch, p, data, scorer, gt, device, show_progress)

    for v in p.variants:
        abl_score = abl / "scores" / f"{v}.json"

        def do_variant(v=v):
            from trainers.ablations import run_ablation
            run_ablation(p.ablation, data, abl, scorer, size=p.size, steps=p.train_steps,
                         overrides=p.train_overrides, device=device, protocol=p.protocol,
                         n_resamples=p.n_resamples, seed=p.seed, variants=[v], show_progress=show_progress)

        ch.steps.append(Step(f"train+translate+fcn-score {v}",
                             [_rel(abl / "runs" / v, o), _rel(results[v], o), _rel(abl_score, o)],
                             f"p2peval ablation run {p.ablation} --data {_rel(data, o)} --out {_rel(abl, o)} "
                             f"--scorer {_rel(scorer, o)} --size {p.size} --steps {p.train_steps} {sets} "
                             f"--variant {v} --protocol {p.protocol} --n-resamples {p.n_resamples} --seed {p.seed}",
                             lambda s=abl_score: score_complete(s), do_variant))

        def do_copy(v=v, src=abl_score):
            from p2peval.report.scorefile import copy_score
            copy_score(src, fcn_files[v], label=label[v], variant=v)  # with its per-frame sidecar

        ch.steps.append(Step(f"fcn-score file {v}", [_rel(fcn_files[v], o)],
                             f"copy of {_rel(abl_score, o)} with label {label[v]!r}",
                             lambda f=fcn_files[v]: score_complete(f), do_copy))

    _gt_fcn_step(ch, p, gt, fcn_files["ground_truth"], data, scorer, device, show_progress)

    for r in rows:
        def do_color(r=r):
            from p2peval.scoring.color_hist import color_hist
            color_hist(results[r], gt, label=label[r], n_resamples=p.n_resamples, seed=p.seed,
                       show_progress=show_progress).write(color_files[r])

        ch.steps.append(Step(f"color-hist {r}", [_rel(color_files[r], o)],
                             f"p2peval color-hist {_rel(results[r], o)} --reference {_rel(gt, o)} "
                             f"--label '{label[r]}' --n-resamples {p.n_resamples} --seed {p.seed} "
                             f"--out {_rel(color_files[r], o)}",
                             lambda f=color_files[r]: score_complete(f), do_color))

    all_scores = [fcn_files[r] for r in rows] + [color_files[r] for r in rows]
    _table_and_plot_steps(ch, p, all_scores, [color_files[r] for r in rows],
                          " ".join(_rel(results[r], o) for r in rows), gt)
    return ch


def build_comparison_chain(preset: ComparisonPreset, out: Path, *, device: str = "cpu",
                           show_progress: bool = True) -> Chain:
    """data -> scorer -> pix2pix both ways and CycleGAN (both generators) through the ablation runner
    -> labelled score files -> colour -> one table."""
    ch = Chain(preset, Path(out))
    p, w, o = preset, ch.work, ch.out
    data, scorer, gt = w / "toycity", w / "scorer.pt", w / "results" / "ground_truth"
    scores = o / "scores"
    common = f"--size {p.size} --protocol {p.protocol} --n-resamples {p.n_resamples} --seed {p.seed}"
    _data_and_scorer_steps(ch, p, data, scorer, gt, device, show_progress)
    # (label, metric, results folder, ablation score file)
    made: list[tuple[str, str, Path, Path]] = []
    runs = (("pix2pix", "losses", "l1+cgan", p.pix2pix_steps, p.pix2pix_overrides, w / "pix2pix-labels2photo"),
            ("pix2pix", "photo2labels", "l1+cgan", p.pix2pix_steps, p.pix2pix_overrides, w / "pix2pix-photo2labels"),
            ("CycleGAN", "cyclegan-losses", "cyclegan", p.cyclegan_steps, p.cyclegan_overrides, w / "cyclegan"))
    for label, ablation, variant, steps, overrides, abl in runs:
        if ablation == "cyclegan-losses":
            outputs = [(m, abl / "results" / variant / t, abl / "scores" / t / f"{variant}.json")
                       for m, t in (("fcn-score", "labels2photo"), ("label-score", "photo2labels"))]
        else:
            m = "fcn-score" if ablation == "losses" else "label-score"
            outputs = [(m, abl / "results" / variant, abl / "scores" / f"{variant}.json")]

        def do_run(ablation=ablation, variant=variant, steps=steps, overrides=overrides, abl=abl):
            from trainers.ablations import run_ablation
            run_ablation(ablation, data, abl, scorer, size=p.size, steps=steps, overrides=overrides,
                         device=device, protocol=p.protocol, n_resamples=p.n_resamples, seed=p.seed,
                         variants=[variant], show_progress=show_progress)

        sets = " ".join(f"--set {x}" for x in overrides)
        ch.steps.append(Step(f"train+translate+score {label} ({ablation})",
                             [_rel(abl / "runs" / variant, o)] + [_rel(x, o) for _, _, x in outputs],
                             f"p2peval ablation run {ablation} --data {_rel(data, o)} --out {_rel(abl, o)} "
                             f"--scorer {_rel(scorer, o)} --steps {steps} {sets} --variant {variant} {common}",
                             lambda files=[x for _, _, x in outputs]: all(score_complete(f) for f in files), do_run))
        made += [(label, m, res, src) for m, res, src in outputs]
    files: list[Path] = []
    for label, metric, _, src in made:
        dst = scores / f"{_safe(label)}.{metric}.json"
        files.append(dst)

        def do_copy(src=src, dst=dst, label=label):
            from p2peval.report.scorefile import copy_score
            copy_score(src, dst, label=label)

        ch.steps.append(Step(f"{metric} file {label}", [_rel(dst, o)], f"copy of {_rel(src, o)} with label {label!r}",
                             lambda f=dst: score_complete(f), do_copy))
    gt_fcn = scores / "ground_truth.fcn-score.json"
    files.append(gt_fcn)
    _gt_fcn_step(ch, p, gt, gt_fcn, data, scorer, device, show_progress)
    photo_rows = [(label, res) for label, m, res, _ in made if m == "fcn-score"] + [("ground truth", gt)]
    color_files = {label: scores / f"{_safe(label)}.color-hist.json" for label, _ in photo_rows}
    for label, res in photo_rows:
        def do_color(label=label, res=res):
            from p2peval.scoring.color_hist import color_hist
            color_hist(res, gt, label=label, n_resamples=p.n_resamples, seed=p.seed,
                       show_progress=show_progress).write(color_files[label])

        ch.steps.append(Step(f"color-hist {label}", [_rel(color_files[label], o)],
                             f"p2peval color-hist {_rel(res, o)} --reference {_rel(gt, o)} --label '{label}' "
                             f"--n-resamples {p.n_resamples} --seed {p.seed} --out {_rel(color_files[label], o)}",
                             lambda f=color_files[label]: score_complete(f), do_color))
    files += list(color_files.values())
    _table_and_plot_steps(ch, p, files, [color_files[label] for label, _ in photo_rows],
                          " ".join(_rel(r, o) for _, r in photo_rows), gt)
    return ch


def _data_and_scorer_steps(ch: Chain, p, data: Path, scorer: Path, gt: Path, device: str, show_progress: bool) -> None:
    o = ch.out

    def do_data():
        from p2peval.data.toycity import generate_toycity
        generate_toycity(data, p.n_train, p.n_val, size=p.size, seed=p.seed, native_height=p.native_height,
                         progress=show_progress)

    def data_done():
        f = data / "toycity.json"
        return f.is_file() and json.loads(f.read_text()).get("complete") is True

    ch.steps.append(Step("data", [_rel(data, o)],
                         f"p2peval data toycity {_rel(data, o)} --n {p.n_train} --val {p.n_val} --size {p.size} "
                         f"--native-height {p.native_height} --seed {p.seed}", data_done, do_data))

    def do_scorer():
        from p2peval.scorers.train import (
            ScorerTrainConfig,
            ScorerTrainRun,
            train_scorer,
        )
        train_scorer(data, ScorerTrainConfig(arch=p.scorer_arch, protocol=p.protocol, steps=p.scorer_steps,
                                             batch_size=p.scorer_batch_size, lr=p.scorer_lr, seed=p.seed),
                     out=scorer, run=ScorerTrainRun(device=device, show_progress=show_progress,
                                                    validate_each_epoch=False))

    ch.steps.append(Step("scorer", [_rel(scorer, o)],
                         f"p2peval scorer train --data {_rel(data, o)} --arch {p.scorer_arch} --out {_rel(scorer, o)} "
                         f"--steps {p.scorer_steps} --batch-size {p.scorer_batch_size} --lr {p.scorer_lr} "
                         f"--protocol {p.protocol} --seed {p.seed} --no-val", lambda: scorer_finished(scorer), do_scorer))
    ch.steps.append(Step("ground-truth row", [_rel(gt, o)],
                         f"(library) trainers.reproduce.write_ground_truth_row: the real val photos at "
                         f"{p.size}x{p.size} (PIL bicubic), named <id>_leftImg8bit.png",
                         lambda: _gt_done(data, gt), lambda: write_ground_truth_row(data, gt, p.size)))


def _gt_fcn_step(ch: Chain, p, gt: Path, target: Path, data: Path, scorer: Path, device: str,
                 show_progress: bool) -> None:
    o = ch.out

    def do_gt_fcn():
        from p2peval.report.scorefile import write_score
        from p2peval.scoring.fcn_score import fcn_score
        from p2peval.scoring.options import Execution, GroundTruth, Intervals
        s = fcn_score(gt, scorer=scorer, truth=GroundTruth(cityscapes=data), protocol=p.protocol,
                      label=PAPER_LABELS["ground_truth"], intervals=Intervals(p.n_resamples, p.seed),
                      run=Execution(device=device, show_progress=show_progress, workers=0))
        write_score(target, s)

    ch.steps.append(Step("fcn-score ground truth", [_rel(target, o)],
                         f"p2peval fcn-score {_rel(gt, o)} --cityscapes {_rel(data, o)} --scorer {_rel(scorer, o)} "
                         f"--protocol {p.protocol} --label 'ground truth' --bootstrap {p.n_resamples} --workers 0 "
                         f"--out {_rel(target, o)}", lambda: score_complete(target), do_gt_fcn))


def _table_and_plot_steps(ch: Chain, p, files: list[Path], color_files: list[Path], color_dirs: str,
                          gt: Path) -> None:
    o = ch.out
    pub = " ".join(f"--published {n}" for n in p.published)

    def do_tables():
        from p2peval.report.tables import write_table
        kw = dict(published=list(p.published), n_resamples=p.n_resamples, seed=p.seed)
        write_table(files, o / "table.md", "md", **kw)
        write_table(files, o / "table.tex", "latex", **kw)

    ch.steps.append(Step("table", ["table.md", "table.tex"],
                         f"p2peval table {' '.join(_rel(f, o) for f in files)} {pub} --out table.md  (and --out table.tex)",
                         lambda: False, do_tables))

    def do_plot():
        from p2peval.report.scorefile import read_score
        from p2peval.scoring.color_hist import plot_color_hist
        plot_color_hist([read_score(f) for f in color_files], o / "color.png",
                        title=f"{p.name}: Lab marginals of every row (dotted: real photos)")

    ch.steps.append(Step("colour plot", ["color.png"],
                         f"p2peval color-hist {color_dirs} --reference {_rel(gt, o)} --plot color.png",
                         lambda: False, do_plot))


def _safe(name: str) -> str:
    return name.replace("/", "_").replace(" ", "_")


def _gt_done(data: Path, gt: Path) -> bool:
    from p2peval.data.cityscapes import list_frames

    if not (data / "toycity.json").is_file() or not gt.is_dir():
        return False
    return all((gt / f"{f.id}_leftImg8bit.png").is_file() for f in list_frames(data, "val"))


def write_ground_truth_row(data: Path, out: Path, size: int) -> Path:
    """The "ground truth" results folder: every real val photo at ``size`` x ``size`` (bicubic),
    named by its Cityscapes id, as the paper's ground-truth row (real photos at 256x256)."""
    from p2peval.core.imageio import read_rgb, write_png
    from p2peval.data.cityscapes import list_frames
    from p2peval.scorers.data import downsample_photo

    for f in list_frames(data, "val"):
        target = out / f"{f.id}_leftImg8bit.png"
        if not target.is_file():
            write_png(target, downsample_photo(read_rgb(f.image), (size, size)), photo=True)
    return out


def _readme(ch: Chain, command: str) -> str:
    p = ch.preset
    lines = [f"# Reproduction `{p.name}`", "", p.description + ".", "",
             f"Made by `{command}` (sized for {p.budget}). Every step below is skipped when its output "
             "exists, so rerunning the command resumes a stopped run. Paths are relative to this folder; "
             "`work/` holds the bulky intermediates and is not committed.", "",
             "Toy-city stands in for Cityscapes and the scorer is trained on toy-city: the numbers show "
             "the paper's phenomena in miniature and are not comparable with the published rows printed "
             "beside them.", "",
             "| step | files | command | time |", "|---|---|---|---|"]
    for s in ch.steps:
        t = "-" if s.seconds is None else f"{s.seconds:.0f} s"
        lines.append(f"| {s.name} | {', '.join(f'`{x}`' for x in s.outputs)} | `{s.command}` | {t} |")
    lines += ["", "Settings (`reproduce.json` has them all):", "", "```", json.dumps(p.settings(), indent=2), "```", ""]
    return "\n".join(lines)


def run_preset(name: str, out: str | Path, *, device: str = "cpu", show_progress: bool = True,
               command: str | None = None, log: Callable[[str], None] = print) -> Chain:
    """Run every step of preset ``name`` into ``out`` (resuming), then write README.md and
    reproduce.json. Returns the chain with each step's time."""
    from p2peval.core.atomic import write_json_atomic, write_text_atomic

    preset = get_preset(name)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings_file = out / "reproduce.json"
    if settings_file.is_file():
        old = json.loads(settings_file.read_text()).get("preset")
        if old is not None and old != json.loads(json.dumps(preset.settings())):  # tuples -> lists
            raise ConfigError(f"{out}: made by another version of preset {name!r} (or another preset); "
                              "use another --out or remove it")
    gi = out / ".gitignore"
    if not gi.exists():
        gi.write_text("# bulky intermediates of the reproduction (data, checkpoints, images)\nwork/\n")
    command = command or f"p2peval reproduce {name} --out {out}"
    ch = build_chain(preset, out, device=device, show_progress=show_progress)
    t_all = time.monotonic()
    before = json.loads(settings_file.read_text()).get("steps", {}) if settings_file.is_file() else {}
    record = {"preset": preset.settings(), "command": command, "steps": {}}

    def save(steps: dict) -> None:
        record["steps"] = steps
        write_json_atomic(settings_file, record)

    run_steps(ch.steps, previous=before, log=log, on_step=save)
    record["total_seconds_this_run"] = round(time.monotonic() - t_all, 1)
    write_json_atomic(settings_file, record)
    write_text_atomic(out / "README.md", _readme(ch, command))
    return ch
