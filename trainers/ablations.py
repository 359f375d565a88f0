"""The pix2pix and CycleGAN papers' ablations as named sets: train every variant, translate, score.

Each set is a list of variants (config overrides) of one trainer and task. Labels -> photo
variants are scored with ``fcn_score`` (an FCN-score per variant), photo -> labels with
``label_score``. The data must be a Cityscapes root or a toy-city folder (the native layout, where
A = colour label and B = photo). Everything lands under ``OUT``:

    OUT/ablation.json            the set, the settings and the score file of every variant
    OUT/runs/<variant>/          run folders (resumable)
    OUT/results/<variant>/       translated val split
    OUT/scores/<variant>.json    one score file per variant, ``label`` = the variant name

A CycleGAN set (task ``both``) trains each variant once and scores both of its generators:
``OUT/results/<variant>/{labels2photo,photo2labels}/`` and
``OUT/scores/{labels2photo,photo2labels}/<variant>.json`` (fcn-score and label-score).

A variant whose score file exists is skipped, so a stopped run resumes where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from p2peval.core.registry import Registry


@dataclass(frozen=True)
class Variant:
    name: str
    overrides: tuple[str, ...]      # --set style config overrides
    description: str


@dataclass(frozen=True)
class AblationSet:
    name: str
    description: str
    paper: str                      # where the comparison is in the paper
    task: str                       # labels2photo (fcn-score) | photo2labels (label-score) | both
    variants: tuple[Variant, ...]
    trainer: str = "pix2pix"        # pix2pix | cyclegan
    protocol: str = "pix2pix"       # default scoring protocol (cyclegan: 128x128 results)

    @property
    def tasks(self) -> tuple[str, ...]:
        return ("labels2photo", "photo2labels") if self.task == "both" else (self.task,)


def _objective(name: str, desc: str, *extra: str) -> Variant:
    return Variant(name, (f"loss.objective={name}", *extra), desc)


ABLATIONS: Registry[AblationSet] = Registry("ablation set")
ABLATIONS.register("losses", AblationSet(
    "losses", "objectives for labels -> photo: L1, GAN, cGAN, L1+GAN, L1+cGAN (U-Net, 70x70 D)",
    "Table 1 (FCN-scores for different losses, Cityscapes labels -> photo)", "labels2photo",
    (_objective("l1", "L1 only (no discriminator)"),
     _objective("gan", "GAN, D does not see the input"),
     _objective("cgan", "conditional GAN"),
     _objective("l1+gan", "L1 + unconditional GAN"),
     _objective("l1+cgan", "L1 + conditional GAN (the paper's choice)"))))
ABLATIONS.register("generator", AblationSet(
    "generator", "encoder-decoder vs U-Net, each trained with L1 and with L1+cGAN",
    "Table 2 (FCN-scores for different generator architectures)", "labels2photo",
    (Variant("encoder-decoder_l1", ("generator.arch=encoder-decoder", "loss.objective=l1"), "encoder-decoder, L1"),
     Variant("encoder-decoder_l1+cgan", ("generator.arch=encoder-decoder", "loss.objective=l1+cgan"),
             "encoder-decoder, L1+cGAN"),
     Variant("unet_l1", ("generator.arch=unet", "loss.objective=l1"), "U-Net, L1"),
     Variant("unet_l1+cgan", ("generator.arch=unet", "loss.objective=l1+cgan"), "U-Net, L1+cGAN"))))
ABLATIONS.register("discriminator", AblationSet(
    "discriminator", "discriminator receptive field: 1x1 PixelGAN, 16x16, 70x70 PatchGAN, 286x286 ImageGAN "
    "(L1+cGAN)", "Table 3 (FCN-scores for different receptive field sizes of the discriminator)",
    "labels2photo",
    (Variant("pixelgan_1x1", ("discriminator.arch=pixel",), "1x1 PixelGAN"),
     Variant("patchgan_16x16", ("discriminator.arch=patch16",), "16x16 PatchGAN"),
     Variant("patchgan_70x70", ("discriminator.arch=patch70",), "70x70 PatchGAN (default)"),
     Variant("imagegan_286x286", ("discriminator.arch=patch286",), "286x286 ImageGAN"))))
ABLATIONS.register("photo2labels", AblationSet(
    "photo2labels", "photo -> labels with L1, cGAN, L1+cGAN, scored as label maps",
    "Table 6 (performance of photo -> labels on Cityscapes)", "photo2labels",
    (_objective("l1", "L1 regression of the colour label image"),
     _objective("cgan", "conditional GAN"),
     _objective("l1+cgan", "L1 + conditional GAN"))))


# The CycleGAN paper's loss ablation (Cityscapes, both directions), identity loss off in every
# variant as in the paper's Cityscapes runs. Domain A is the colour labels, so the forward cycle
# labels -> photo -> labels is weighted by lambda_A and the backward one by lambda_B.
_NO_IDT = "loss.lambda_identity=0"
ABLATIONS.register("cyclegan-losses", AblationSet(
    "cyclegan-losses", "CycleGAN losses: cycle alone, GAN alone, GAN + forward cycle, GAN + backward cycle, "
    "CycleGAN (no identity loss)",
    "CycleGAN paper, loss ablation (Cityscapes labels -> photo FCN-scores, photo -> labels classification)",
    "both",
    (Variant("cycle_alone", ("loss.gan=false", _NO_IDT), "cycle losses only, no discriminators"),
     Variant("gan_alone", ("loss.lambda_A=0", "loss.lambda_B=0", _NO_IDT), "GAN terms only"),
     Variant("gan+forward", ("loss.lambda_B=0", _NO_IDT), "GAN + forward cycle (labels -> photo -> labels)"),
     Variant("gan+backward", ("loss.lambda_A=0", _NO_IDT), "GAN + backward cycle (photo -> labels -> photo)"),
     Variant("cyclegan", (_NO_IDT,), "GAN + both cycles (CycleGAN)")),
    trainer="cyclegan", protocol="cyclegan"))


def variant_config(ablation: AblationSet, variant: Variant, data: Path, *, size: int = 256,
                   steps: int | None = None, epochs: int | None = None, overrides: Iterable[str] = (),
                   device: str = "auto", seed: int = 0):
    """The training config of one variant: the paper's defaults at ``size``, then the user's
    ``overrides``, then the variant's own overrides."""
    if ablation.trainer == "cyclegan":
        return _cyclegan_variant_config(variant, data, size=size, steps=steps, epochs=epochs,
                                        overrides=overrides, device=device, seed=seed)
    from trainers.pix2pix.config import TrainConfig, apply_overrides, validate

    direction = "AtoB" if ablation.task == "labels2photo" else "BtoA"  # native layout: A = labels
    load = max(size, round(size * 286 / 256))  # the paper's 286/256 jitter, scaled
    sets = [f"data.root={data}", "data.layout=cityscapes", f"data.direction={direction}",
            f"data.crop_size={size}", f"data.load_size={load}", f"device={device}", f"seed={seed}"]
    if steps is not None:
        sets.append(f"steps={steps}")
    if epochs is not None:
        sets.append(f"epochs={epochs}")
    return validate(apply_overrides(TrainConfig(), [*sets, *overrides, *variant.overrides]))


def _cyclegan_variant_config(variant: Variant, data: Path, *, size: int, steps: int | None,
                             epochs: int | None, overrides: Iterable[str], device: str, seed: int):
    """The reference's CycleGAN at ``size`` (6 residual blocks below 256, 9 from 256; the
    286/256 jitter scaled); ``epochs`` are split half constant, half decaying."""
    from trainers.cyclegan.config import CycleGANConfig, apply_overrides, validate

    load = max(size, round(size * 286 / 256))
    sets = [f"data.root={data}", "data.layout=cityscapes", f"data.crop_size={size}", f"data.load_size={load}",
            f"generator.n_blocks={9 if size >= 256 else 6}", f"device={device}", f"seed={seed}"]
    if steps is not None:
        sets.append(f"steps={steps}")
    if epochs is not None:
        sets += [f"optim.n_epochs={epochs - epochs // 2}", f"optim.n_epochs_decay={epochs // 2}"]
    return validate(apply_overrides(CycleGANConfig(), [*sets, *overrides, *variant.overrides]))


def _check_finished(score_path: Path, config) -> None:
    """A finished variant is reused only if it was made with the same config."""
    from p2peval.core.errors import ConfigError
    from p2peval.report.scorefile import read_score
    from trainers.common.config import flatten

    made = flatten((read_score(score_path).get("ablation") or {}).get("config") or {})
    now = flatten(config.to_dict())
    diffs = [k for k in now if k != "data.root" and made.get(k) != now[k]]
    if diffs:
        raise ConfigError(f"{score_path}: made with a different config (changed: {', '.join(diffs[:6])}); "
                          "use another --out or remove this variant's files")


def run_ablation(name: str, data: Path, out: Path, scorer: Path | None = None, *, size: int = 256,
                 steps: int | None = None, epochs: int | None = None, overrides: Iterable[str] = (),
                 device: str = "auto", protocol: str | None = None, n_resamples: int = 1000,
                 seed: int = 0, variants: Iterable[str] | None = None,
                 show_progress: bool = True) -> dict[str, Path]:
    """Train, translate and score every variant of ablation ``name``; returns variant -> score file.

    ``scorer`` (a scorer checkpoint) is required for labels -> photo sets. ``variants`` limits
    the run to some of the set's variants. ``protocol`` defaults to the set's (``pix2pix``, or
    ``cyclegan`` for the CycleGAN set). CycleGAN sets key the result by ``variant/task``.
    """
    from p2peval.core.atomic import write_json_atomic
    from p2peval.core.device import resolve_device
    from p2peval.core.errors import ConfigError
    from p2peval.data.cityscapes import find_cityscapes_root
    from p2peval.report.scorefile import write_score

    ablation = ABLATIONS.get(name)
    protocol = protocol or ablation.protocol
    data, out = Path(data), Path(out)
    cityscapes = find_cityscapes_root(data)
    if "labels2photo" in ablation.tasks and scorer is None:
        raise ConfigError(f"ablation {name!r} scores photos with fcn-score: --scorer CKPT is required")
    if scorer is not None and not Path(scorer).is_file():
        from p2peval.core.errors import InputError
        raise InputError("no such scorer checkpoint", scorer)
    chosen = list(ablation.variants)
    if variants is not None:
        wanted = list(variants)
        valid = [v.name for v in ablation.variants]
        bad = [v for v in wanted if v not in valid]
        if bad:
            raise ConfigError(f"unknown variant {bad[0]!r} of ablation {name!r}; valid: {', '.join(valid)}")
        chosen = [v for v in ablation.variants if v.name in wanted]
    overrides = list(overrides)
    configs = {v.name: variant_config(ablation, v, data, size=size, steps=steps, epochs=epochs,
                                      overrides=overrides, device=device, seed=seed) for v in chosen}
    dev = str(resolve_device(device))
    summary = {"ablation": name, "description": ablation.description, "paper": ablation.paper,
               "task": ablation.task, "data": str(data), "scorer": None if scorer is None else str(scorer),
               "protocol": protocol, "size": size, "steps": steps, "epochs": epochs,
               "overrides": overrides, "variants": {}}
    scores: dict[str, Path] = {}
    for v in chosen:
        tasks = ablation.tasks
        both = len(tasks) > 1
        score_paths = {t: out / "scores" / t / f"{v.name}.json" if both else out / "scores" / f"{v.name}.json"
                       for t in tasks}
        result_dirs = {t: out / "results" / v.name / t if both else out / "results" / v.name for t in tasks}
        entry = {"description": v.description, "overrides": list(v.overrides),
                 "run": str(out / "runs" / v.name),
                 "results": str(result_dirs[tasks[0]]) if not both else {t: str(p) for t, p in result_dirs.items()},
                 "score": str(score_paths[tasks[0]]) if not both else {t: str(p) for t, p in score_paths.items()}}
        summary["variants"][v.name] = entry
        if all(p.exists() for p in score_paths.values()):
            for p in score_paths.values():
                _check_finished(p, configs[v.name])
            print(f"ablation {name}: {v.name}: done ({', '.join(str(p) for p in score_paths.values())}), skipped")
            scores.update({_key(v.name, t, both): p for t, p in score_paths.items()})
            continue
        print(f"ablation {name}: {v.name}: training")
        run = _train(ablation, configs[v.name], out / "runs" / v.name, show_progress)
        for t in tasks:
            if score_paths[t].exists():
                _check_finished(score_paths[t], configs[v.name])
                scores[_key(v.name, t, both)] = score_paths[t]
                continue
            results = _translate(ablation, run, data, result_dirs[t], t, device, seed, show_progress)
            score = _score(t, results, scorer, cityscapes, protocol, dev, n_resamples, seed, v.name, show_progress)
            score["ablation"] = {"set": name, "variant": v.name, "description": v.description,
                                 "config": configs[v.name].to_dict(), **({"task": t} if both else {})}
            write_score(score_paths[t], score)
            scores[_key(v.name, t, both)] = score_paths[t]
        write_json_atomic(out / "ablation.json", summary)
    write_json_atomic(out / "ablation.json", summary)
    return scores


def _key(variant: str, task: str, both: bool) -> str:
    return f"{variant}/{task}" if both else variant


def _train(ablation: AblationSet, config, run: Path, show_progress: bool) -> Path:
    if ablation.trainer == "cyclegan":
        from trainers.cyclegan.train import train
    else:
        from trainers.pix2pix.train import train
    return train(config, run, resume=True, show_progress=show_progress)


def _translate(ablation: AblationSet, run: Path, data: Path, out: Path, task: str, device: str, seed: int,
               show_progress: bool) -> Path:
    """The val split through the variant's generator; CycleGAN: G_A for labels -> photo, G_B back."""
    if ablation.trainer == "cyclegan":
        from trainers.cyclegan.translate import translate
        direction = "AtoB" if task == "labels2photo" else "BtoA"
        return translate(run, data, out, direction=direction, split="val", device=device,
                         show_progress=show_progress)
    from trainers.pix2pix.translate import translate
    return translate(run, data, out, split="val", device=device, seed=seed, show_progress=show_progress)


def _score(task: str, results: Path, scorer, cityscapes, protocol: str, device: str, n_resamples: int,
           seed: int, label: str, show_progress: bool) -> dict:
    from p2peval.scoring.options import Execution, GroundTruth, Intervals

    truth, intervals = GroundTruth(cityscapes=cityscapes, split="val"), Intervals(n_resamples, seed)
    if task == "labels2photo":
        from p2peval.scoring.fcn_score import fcn_score
        return fcn_score(results, scorer=scorer, truth=truth, protocol=protocol, label=label, intervals=intervals,
                         run=Execution(device=device, show_progress=show_progress))
    from p2peval.scoring.label_score import label_score
    return label_score(results, truth=truth, protocol=protocol, label=label, intervals=intervals,
                       run=Execution(show_progress=show_progress))
