"""The pix2pix paper's ablations as named sets: train every variant, translate, score.

Each set is a list of variants (config overrides) of one task. Labels -> photo variants are
scored with ``fcn_score`` (an FCN-score per variant), photo -> labels with ``label_score``. The
data must be a Cityscapes root or a toy-city folder (the native layout, where A = colour label and
B = photo). Everything lands under ``OUT``:

    OUT/ablation.json            the set, the settings and the score file of every variant
    OUT/runs/<variant>/          run folders (resumable)
    OUT/results/<variant>/       translated val split
    OUT/scores/<variant>.json    one score file per variant, ``label`` = the variant name

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
    task: str                       # labels2photo (fcn-score) | photo2labels (label-score)
    variants: tuple[Variant, ...]


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


def variant_config(ablation: AblationSet, variant: Variant, data: Path, *, size: int = 256,
                   steps: int | None = None, epochs: int | None = None, overrides: Iterable[str] = (),
                   device: str = "auto", seed: int = 0):
    """The training config of one variant: the paper's defaults at ``size``, then the user's
    ``overrides``, then the variant's own overrides."""
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


def _check_finished(score_path: Path, config) -> None:
    """A finished variant is reused only if it was made with the same config."""
    from p2peval.core.errors import ConfigError
    from p2peval.report.scorefile import read_score
    from trainers.pix2pix.train import _flatten

    made = _flatten((read_score(score_path).get("ablation") or {}).get("config") or {})
    now = _flatten(config.to_dict())
    diffs = [k for k in now if k != "data.root" and made.get(k) != now[k]]
    if diffs:
        raise ConfigError(f"{score_path}: made with a different config (changed: {', '.join(diffs[:6])}); "
                          "use another --out or remove this variant's files")


def run_ablation(name: str, data: Path, out: Path, scorer: Path | None = None, *, size: int = 256,
                 steps: int | None = None, epochs: int | None = None, overrides: Iterable[str] = (),
                 device: str = "auto", protocol: str = "pix2pix", n_resamples: int = 1000,
                 seed: int = 0, variants: Iterable[str] | None = None,
                 show_progress: bool = True) -> dict[str, Path]:
    """Train, translate and score every variant of ablation ``name``; returns variant -> score file.

    ``scorer`` (a scorer checkpoint) is required for labels -> photo sets. ``variants`` limits
    the run to some of the set's variants.
    """
    from p2peval.data.cityscapes import find_cityscapes_root
    from p2peval.core.errors import ConfigError
    from p2peval.report.scorefile import write_json_atomic, write_score
    from trainers.pix2pix.train import resolve_device, train
    from trainers.pix2pix.translate import translate

    ablation = ABLATIONS.get(name)
    data, out = Path(data), Path(out)
    cityscapes = find_cityscapes_root(data)
    if ablation.task == "labels2photo" and scorer is None:
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
        score_path = out / "scores" / f"{v.name}.json"
        entry = {"description": v.description, "overrides": list(v.overrides),
                 "run": str(out / "runs" / v.name), "results": str(out / "results" / v.name),
                 "score": str(score_path)}
        summary["variants"][v.name] = entry
        if score_path.exists():
            _check_finished(score_path, configs[v.name])
            print(f"ablation {name}: {v.name}: done ({score_path}), skipped")
            scores[v.name] = score_path
            continue
        print(f"ablation {name}: {v.name}: training")
        run = train(configs[v.name], out / "runs" / v.name, resume=True, show_progress=show_progress)
        results = translate(run, data, out / "results" / v.name, split="val", device=device,
                            seed=seed, show_progress=show_progress)
        from p2peval.scoring.options import Execution, GroundTruth, Intervals
        if ablation.task == "labels2photo":
            from p2peval.scoring.fcn_score import fcn_score
            score = fcn_score(results, scorer=scorer, truth=GroundTruth(cityscapes=cityscapes),
                              protocol=protocol, label=v.name, intervals=Intervals(n_resamples, seed),
                              run=Execution(device=dev, show_progress=show_progress))
        else:
            from p2peval.scoring.label_score import label_score
            score = label_score(results, truth=GroundTruth(cityscapes=cityscapes), protocol=protocol,
                                label=v.name, intervals=Intervals(n_resamples, seed),
                                run=Execution(show_progress=show_progress))
        score["ablation"] = {"set": name, "variant": v.name, "description": v.description,
                             "config": configs[v.name].to_dict()}
        write_score(score_path, score)
        scores[v.name] = score_path
        write_json_atomic(out / "ablation.json", summary)
    write_json_atomic(out / "ablation.json", summary)
    return scores
