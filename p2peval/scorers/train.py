"""Train a segmentation scorer the way the reference FCN-8s was trained (docs/reference.md 1.6).

Inputs are Cityscapes (or toy-city) photos downsampled to the protocol's generated size and
upsampled back (``p2peval.scorers.data``); targets are the full-resolution train ids, ignore 255.
The FCN-8s keeps the reference's 20 outputs and is trained on 19 targets (index 19 is never a
target; that is how the reference model came to have a 20th output).

Resumable and deterministic: the order of the samples and their augmentation are pure functions
of ``(seed, epoch, position)``, and a sibling file ``<out stem>.state.pt`` holds the weights, the
optimizer state, the step and the RNG state. A run killed and resumed reaches the same weights as
an uninterrupted one (on CPU). Under ``torchrun`` every process takes its share of each batch and
gradients are averaged (DDP; gloo on CPU, nccl on GPU); process 0 validates and saves.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from p2peval.core.atomic import atomic_path
from p2peval.core.device import resolve_device
from p2peval.core.distributed import init_distributed, shutdown
from p2peval.core.errors import ConfigError, InputError, P2PError

STATE_FORMAT = "p2peval-scorer-train-state"
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("poly", "constant")
# Settings that may change when a run is resumed (the rest must match the saved run).
RESUMABLE_CHANGES = ("epochs", "steps", "save_every", "val_frames")


@dataclass(frozen=True)
class ScorerTrainConfig:
    """Everything that determines a scorer training run (saved in the checkpoint)."""

    arch: str
    model: dict = field(default_factory=dict)  # model config overrides; the full config once built
    protocol: str = "pix2pix"
    epochs: int = 20
    steps: int | None = None  # total optimizer steps; overrides epochs when given
    batch_size: int = 1
    optimizer: str = "adam"  # adam (default) or sgd (momentum)
    lr: float = 1e-3
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0
    lr_schedule: str = "poly"  # poly: lr * (1 - step/total)^0.9; constant
    crop: tuple[int, int] | None = None  # random crop (H, W) of input and label, for memory
    mirror: bool = True  # random horizontal mirror
    seed: int = 0
    save_every: int = 100  # steps between checkpoints (and at every epoch end, and the end)
    val_frames: int | None = None  # validate on the first N val frames (None = all)
    train_files: str = ""  # sha256 of the training frame ids (set by train_scorer)

    def total_steps(self, n_train: int) -> int:
        if self.steps is not None:
            return int(self.steps)
        return int(self.epochs) * steps_per_epoch(n_train, self.batch_size)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["crop"] = list(self.crop) if self.crop is not None else None
        return d


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    return max(1, math.ceil(n_train / batch_size))


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The permutation of the training set for ``epoch`` (independent of any RNG state)."""
    return np.random.default_rng([seed, epoch, 0x5C0]).permutation(n)


def batch_indices(seed: int, step: int, n: int, batch_size: int) -> list[tuple[int, int]]:
    """(epoch, sample index) of each item of global batch ``step``; batches are always full
    (the last batch of an epoch wraps around to the epoch's first samples)."""
    spe = steps_per_epoch(n, batch_size)
    epoch, pos = divmod(step, spe)
    order = epoch_order(seed, epoch, n)
    return [(epoch, int(order[(pos * batch_size + j) % n])) for j in range(batch_size)]


def learning_rate(cfg: ScorerTrainConfig, step: int, total: int) -> float:
    if cfg.lr_schedule == "constant":
        return cfg.lr
    return cfg.lr * (1.0 - min(step, total - 1) / max(total, 1)) ** 0.9


def make_optimizer(cfg: ScorerTrainConfig, params) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def state_path_for(out: str | Path) -> Path:
    """The resume file beside a checkpoint: ``scorer.pt`` -> ``scorer.state.pt``."""
    out = Path(out)
    return out.with_name(out.stem + ".state.pt")


def _save_atomic(obj: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _check_config(cfg: ScorerTrainConfig) -> None:
    if cfg.optimizer not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {cfg.optimizer!r}; valid choices: {', '.join(OPTIMIZERS)}")
    if cfg.lr_schedule not in SCHEDULES:
        raise ConfigError(f"unknown lr schedule {cfg.lr_schedule!r}; valid choices: {', '.join(SCHEDULES)}")
    if cfg.batch_size < 1 or cfg.epochs < 0 or (cfg.steps is not None and cfg.steps < 0):
        raise ConfigError("batch size must be >= 1, epochs and steps >= 0")
    if not cfg.lr > 0:
        raise ConfigError(f"learning rate must be > 0, got {cfg.lr}")
    if cfg.save_every < 1:
        raise ConfigError("--save-every must be >= 1")
    if cfg.crop is not None and (len(cfg.crop) != 2 or min(cfg.crop) < 1):
        raise ConfigError(f"crop must be two positive sizes H, W; got {cfg.crop}")


def _frame_list_hash(frames) -> str:
    from p2peval.report.scorefile import file_list_hash
    return file_list_hash(f.id for f in frames)


def validate(model: nn.Module, frames, protocol, device: torch.device, size_multiple: int = 1,
             show_progress: bool = False) -> dict:
    """FCN-score of the real val photos (the "ground truth" row) with the project's metrics."""
    from p2peval.core.progress import progress
    from p2peval.metrics.confusion import ConfusionAccumulator
    from p2peval.scorers.data import ScorerTrainingSet
    from p2peval.scoring.inference import scorer_logits

    ds = ScorerTrainingSet(frames, protocol, cache_bytes=0)
    acc = ConfusionAccumulator()
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for i in progress(range(len(ds)), total=len(ds), desc="validate", unit="img",
                          disable=not show_progress):
            x, y = ds.item(i)
            logits = scorer_logits(model, x[None].to(device), size_multiple)  # as fcn-score pads
            acc.update(ds.frames[i].id, y, logits.argmax(1)[0].cpu())  # (h, w)
    model.train(was_training)
    s = acc.compute("reference" if protocol.index19 == "reference" else "strict")
    return {k: s[k] for k in ("per_pixel_acc", "per_class_acc", "class_iou", "frames",
                              "pixels_predicted_index19")}


@dataclass(frozen=True)
class ScorerTrainRun:
    """How a training run is carried out; none of it changes the weights (``workers`` > 0
    prepares batches in that many processes, the batches are the same)."""

    device: str = "cpu"
    resume: bool = True
    show_progress: bool = True
    validate_each_epoch: bool = True
    workers: int = 0


def train_scorer(data: str | Path, cfg: ScorerTrainConfig, *, out: str | Path,
                 run: ScorerTrainRun = ScorerTrainRun()) -> dict:
    """Train scorer ``cfg.arch`` on ``data`` (a Cityscapes root or a toy-city folder); write ``out``.

    ``cfg.model`` overrides the architecture's default model config (e.g. FCN-8s widths); the
    checkpoint records the full one.
    Returns the checkpoint's metadata (with ``training``: steps, epochs, loss, validation).
    With ``resume`` (default) an existing ``<out stem>.state.pt`` of the same settings is continued;
    a finished run is not trained again (give more ``steps``/``epochs`` to extend it).
    """
    from p2peval.core.progress import progress
    from p2peval.data.cityscapes import find_cityscapes_root, list_frames
    from p2peval.scorers.checkpoint import save_scorer
    from p2peval.scorers.data import ScorerTrainingSet
    from p2peval.scorers.registry import ARCHS, build_scorer
    from p2peval.scoring.protocols import get_protocol

    out = Path(out)
    arch, protocol, batch_size = cfg.arch, cfg.protocol, cfg.batch_size
    device, show_progress, workers = run.device, run.show_progress, run.workers
    proto = get_protocol(protocol)
    spec = ARCHS.get(arch)
    root = find_cityscapes_root(data)
    train_frames = list_frames(root, "train")
    val_list = []
    if run.validate_each_epoch and (root / "gtFine" / "val").is_dir():
        val_list = list_frames(root, "val")
        if cfg.val_frames is not None:
            val_list = val_list[:cfg.val_frames]
    dataset = ScorerTrainingSet(train_frames, proto)

    torch.manual_seed(cfg.seed)
    model, model_cfg = build_scorer(arch, cfg.model or None)
    cfg = replace(cfg, model=model_cfg, crop=tuple(cfg.crop) if cfg.crop is not None else None,
                  train_files=_frame_list_hash(train_frames))
    _check_config(cfg)
    if workers < 0:
        raise ConfigError(f"workers must be >= 0, got {workers}")

    dist = init_distributed(device)
    try:
        dev = resolve_device(device, dist.local_rank)
        if dist.world_size > 1 and batch_size % dist.world_size:
            raise ConfigError(f"batch size {batch_size} must be a multiple of the number of "
                              f"processes ({dist.world_size})")
        n = len(dataset)
        total = cfg.total_steps(n)
        spe = steps_per_epoch(n, batch_size)
        state_path = state_path_for(out)
        if int(model_cfg.get("num_outputs", 19)) < 19:
            raise ConfigError(f"{arch} with {model_cfg.get('num_outputs')} outputs cannot learn the "
                              "19 Cityscapes classes")

        # -- resume -----------------------------------------------------------------------
        step, history, losses = 0, [], []
        saved = None
        if run.resume and state_path.exists():
            saved = _load_state(state_path, cfg)
            model.load_state_dict(saved["model"])
            step, history, losses = saved["step"], saved["history"], saved["losses"]
        model.to(dev).train()
        opt = make_optimizer(cfg, model.parameters())
        if saved is not None:
            opt.load_state_dict(saved["optimizer"])
            torch.set_rng_state(saved["rng_torch"])
        net: nn.Module = model
        if dist.world_size > 1:
            net = nn.parallel.DistributedDataParallel(
                model, device_ids=[dev.index] if dev.type == "cuda" else None)

        def save() -> dict | None:
            if not dist.is_main:
                return None
            _save_atomic({"format": STATE_FORMAT, "config": cfg.to_dict(), "step": step,
                          "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                          "optimizer": opt.state_dict(), "history": history, "losses": losses,
                          "rng_torch": torch.get_rng_state()}, state_path)
            training = {"config": cfg.to_dict(), "step": step, "total_steps": total,
                        "epochs_done": step / spe, "steps_per_epoch": spe, "train_frames": n,
                        "finished": step >= total, "world_size": dist.world_size,
                        "last_loss": losses[-1] if losses else None, "validation": history,
                        "data": str(root), "input": (
                            f"photo -> PIL bicubic {proto.generated_size[0]}x{proto.generated_size[1]}"
                            + (" -> PIL bilinear to label size" if proto.eval_resolution == "label" else "")
                            + f", {proto.channel_order} minus mean")}
            return save_scorer(out, model, arch=arch, config=model_cfg, protocol=protocol,
                               training=training)

        if step >= total:
            meta = save() if (dist.is_main and not out.exists()) else None
            if dist.is_main and show_progress:
                print(f"scorer train: {out} already trained ({step}/{total} steps); "
                      "nothing to do (raise --steps/--epochs to continue)", flush=True)
            return meta or _read_meta(out)

        batches = StepBatches(dataset, cfg, n, dist.rank, dist.world_size, spec.size_multiple, root)
        loader = torch.utils.data.DataLoader(
            batches, batch_size=None, sampler=range(step, total), num_workers=workers,
            pin_memory=dev.type == "cuda", persistent_workers=False)
        bar = progress(total=total, desc=f"train {arch}", unit="step",
                       disable=not (show_progress and dist.is_main))
        if step:
            bar.update(step)
        t0 = time.monotonic()
        for s, batch in zip(range(step, total), loader):
            if isinstance(batch, P2PError):
                raise batch
            x, y = batch
            x = x.to(dev, non_blocking=True)  # (b, 3, H', W') preprocessed, padded
            y = y.to(dev, non_blocking=True)  # (b, H', W') train ids, 255 = ignore
            for g in opt.param_groups:
                g["lr"] = learning_rate(cfg, s, total)
            logits = net(x)  # (b, num_outputs, H', W')
            # Mean over the valid pixels of the global batch, whatever the number of processes.
            valid = float((y != 255).sum().item())
            valid_all = dist.all_sum(valid)
            loss_sum = F.cross_entropy(logits, y, ignore_index=255, reduction="sum")
            loss = loss_sum * (dist.world_size / max(valid_all, 1.0))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step = s + 1
            loss_value = dist.all_sum(float(loss_sum.item())) / max(valid_all, 1.0)
            losses.append(loss_value)
            bar.set_postfix_str(f"loss {loss_value:.4f} epoch {step / spe:.2f}")
            bar.update(1)
            epoch_end = step % spe == 0
            if epoch_end and val_list and dist.is_main:
                v = validate(model, val_list, proto, dev, spec.size_multiple)
                v.update(step=step, epoch=step // spe,
                         train_loss=float(np.mean(losses[-spe:])))
                history.append(v)
                if show_progress:
                    print(f"epoch {step // spe}: loss {v['train_loss']:.4f}  val per-pixel "
                          f"{v['per_pixel_acc']:.3f} per-class {v['per_class_acc']:.3f} "
                          f"IoU {v['class_iou']:.3f}", flush=True)
            if epoch_end or step % cfg.save_every == 0 or step == total:
                save()
            dist.barrier()
        bar.close()
        if dist.is_main and show_progress:
            print(f"scorer train: {total - (saved['step'] if saved else 0)} steps in "
                  f"{time.monotonic() - t0:.1f} s; wrote {out} (resume state {state_path.name})",
                  flush=True)
        dist.barrier()
        return _read_meta(out)
    finally:
        shutdown(dist)


class StepBatches(torch.utils.data.Dataset):
    """Global step -> this process's share of that step's batch, augmented and padded.

    A pure function of the step (sample order and augmentation come from the seed), so batches
    are the same with any number of loader workers and after a resume.
    """

    def __init__(self, dataset, cfg: ScorerTrainConfig, n: int, rank: int, world: int,
                 size_multiple: int, root: Path):
        self.dataset, self.cfg, self.n = dataset, cfg, n
        self.rank, self.share = rank, cfg.batch_size // world
        self.size_multiple, self.root = size_multiple, root

    def __len__(self) -> int:
        return self.cfg.total_steps(self.n)

    def __getitem__(self, step: int):
        # A bad file in a loader worker comes back as the error itself (one clear line), not
        # wrapped in the worker's traceback.
        try:
            return self._batch(step)
        except P2PError as e:
            return e

    def _batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        from p2peval.scorers.data import draw_augment, pad_target, pad_to_multiple

        cfg = self.cfg
        items = batch_indices(cfg.seed, step, self.n, cfg.batch_size)
        items = items[self.rank * self.share:(self.rank + 1) * self.share]
        xs, ys = [], []
        for epoch, i in items:
            rng = np.random.default_rng([cfg.seed, epoch, i, 0xA06])
            aug = draw_augment(rng, self.dataset.size(i), cfg.crop, cfg.mirror)
            x, y = self.dataset.item(i, aug)
            xs.append(x)
            ys.append(y)
        if len({tuple(y.shape) for y in ys}) > 1:
            raise InputError("training frames differ in size; use --crop HxW", self.root)
        x = pad_to_multiple(torch.stack(xs), self.size_multiple)  # (b, 3, H', W')
        y = pad_target(torch.stack(ys), self.size_multiple)       # (b, H', W')
        return x, y


def _read_meta(out: Path) -> dict:
    from p2peval.scorers.checkpoint import read_checkpoint
    ckpt = read_checkpoint(out)
    return {k: v for k, v in ckpt.items() if k != "state_dict"}


def _load_state(path: Path, cfg: ScorerTrainConfig) -> dict:
    """Read a resume file and check that it belongs to a run with the same settings."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise InputError(f"unreadable resume state ({type(e).__name__}); delete it or pass "
                         "--no-resume", path) from None
    if not isinstance(saved, dict) or saved.get("format") != STATE_FORMAT:
        raise InputError("not a scorer training state file; delete it or pass --no-resume", path)
    old, new = dict(saved["config"]), cfg.to_dict()
    diff = [k for k in new if k not in RESUMABLE_CHANGES and old.get(k) != new[k]]
    if diff:
        k = diff[0]
        raise ConfigError(f"{path}: resume state was made with {k}={old.get(k)!r}, this run has "
                          f"{k}={new[k]!r}; use another --out or pass --no-resume to start over")
    return saved
