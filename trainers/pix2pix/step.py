"""One pix2pix iteration: G forward, D step on (real, fake.detach()), G step through a frozen D.

``Pix2PixModel`` holds the networks and optimisers; ``train`` and ``bench train-step`` both use it.
Under DistributedDataParallel the D step goes through the wrapped D (gradients all-reduced) and
the G step through the plain D module (D is not updated there, so nothing to synchronise).
"""

from __future__ import annotations

import torch
from torch import nn

from p2peval.core.errors import ConfigError
from trainers.common.runtime import autocast, ddp_wrap, fused_adam, memory_format
from trainers.common.schedule import linear_decay_factor
from trainers.pix2pix import losses as L
from trainers.pix2pix.config import TrainConfig, channels
from trainers.pix2pix.networks import (
    build_discriminator,
    build_generator,
    init_weights,
    output_size,
    receptive_field,
)


def build_networks(config: TrainConfig) -> tuple[nn.Module, nn.Module | None]:
    """Generator and (when the objective has a GAN term) discriminator, initialised N(0, 0.02)."""
    cin, cout = channels(config)
    g, d = config.generator, config.discriminator
    G = build_generator(g.arch, cin, cout, g.num_downs, g.ngf, g.norm, g.dropout)
    init_weights(G)
    obj = L.OBJECTIVES.get(config.loss.objective)
    D = None
    if obj.gan:
        D = build_discriminator(d.arch, cin + cout if obj.conditional else cout, d.ndf, d.norm, d.n_layers)
        side = output_size(D, config.data.crop_size)
        if side < 1:
            raise ConfigError(f"discriminator {d.arch}: a {config.data.crop_size}x{config.data.crop_size} image "
                              f"is smaller than its receptive field ({receptive_field(D)}) allows "
                              "(empty output map); use a larger data.crop_size or a shallower discriminator")
        init_weights(D)
    return G, D


def lr_factor(config: TrainConfig, step: int, total: int) -> float:
    """Learning-rate multiplier at ``step`` (0-based): constant, or constant then linear to 0.

    The linear schedule follows the reference (``n_epochs`` constant + ``n_epochs_decay`` linear),
    counted in iterations: the last ``decay_fraction`` of the run decays linearly towards 0.
    """
    o = config.optim
    if o.schedule == "constant" or o.decay_fraction == 0:
        return 1.0
    n_decay = max(1, round(total * o.decay_fraction))
    return linear_decay_factor(step, total - n_decay, n_decay)  # k-th decay step: 1 - k/(n+1)


class Pix2PixModel:
    """Networks, optimisers and the iteration of the paper (``optimize_parameters``)."""

    def __init__(self, config: TrainConfig, device: torch.device, ddp: bool = False):
        self.config, self.device = config, device
        self.objective = L.OBJECTIVES.get(config.loss.objective)
        G, D = build_networks(config)
        fmt = memory_format(config.channels_last)
        self.G = G.to(device, memory_format=fmt)
        self.D = D.to(device, memory_format=fmt) if D is not None else None
        o = config.optim
        self.opt_G = fused_adam(self.G.parameters(), o.lr, o.beta1, o.beta2)
        self.opt_D = fused_adam(self.D.parameters(), o.lr, o.beta1, o.beta2) if self.D is not None else None
        self.G_run, self.D_run = self.G, self.D
        if ddp:
            self.G_run = ddp_wrap(self.G, device)
            if self.D is not None:
                self.D_run = ddp_wrap(self.D, device)

    def _autocast(self):
        return autocast(self.config.precision, self.device)

    def _d_input(self, real_A: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        # cGAN: D sees (x, y) concatenated on channels, (B, Cin + Cout, H, W); GAN: y only.
        return torch.cat([real_A, out], 1) if self.objective.conditional else out

    def set_lr(self, factor: float) -> None:
        for opt in (self.opt_G, self.opt_D):
            if opt is not None:
                for group in opt.param_groups:
                    group["lr"] = self.config.optim.lr * factor

    def step(self, real_A: torch.Tensor, real_B: torch.Tensor) -> dict[str, torch.Tensor]:
        """One iteration on a batch (B, Cin, H, W) -> (B, Cout, H, W); returns detached losses."""
        cfg, obj = self.config, self.objective
        if cfg.channels_last:
            real_A = real_A.contiguous(memory_format=torch.channels_last)
            real_B = real_B.contiguous(memory_format=torch.channels_last)
        out: dict[str, torch.Tensor] = {}
        with self._autocast():
            fake_B = self.G_run(real_A)
        if obj.gan:
            # D step: real pairs -> 1, fake pairs (no gradient into G) -> 0; loss halved.
            self.D.requires_grad_(True)
            self.opt_D.zero_grad(set_to_none=True)
            with self._autocast():
                pred_fake = self.D_run(self._d_input(real_A, fake_B.detach()))
                pred_real = self.D_run(self._d_input(real_A, real_B))
            loss_D_fake = L.gan_loss(cfg.loss.gan_mode, pred_fake, False)
            loss_D_real = L.gan_loss(cfg.loss.gan_mode, pred_real, True)
            loss_D = 0.5 * (loss_D_fake + loss_D_real)
            loss_D.backward()
            self.opt_D.step()
            out.update(D_real=loss_D_real.detach(), D_fake=loss_D_fake.detach())
            self.D.requires_grad_(False)
        # G step: fool the (frozen) D and stay close to the target in L1.
        self.opt_G.zero_grad(set_to_none=True)
        loss_G = torch.zeros((), device=real_A.device)
        if obj.gan:
            with self._autocast():
                pred = self.D(self._d_input(real_A, fake_B))
            loss_G_gan = L.gan_loss(cfg.loss.gan_mode, pred, True)
            loss_G = loss_G + loss_G_gan
            out["G_GAN"] = loss_G_gan.detach()
        if obj.l1:
            loss_G_l1 = L.l1_loss(fake_B, real_B)
            loss_G = loss_G + cfg.loss.lambda_l1 * loss_G_l1
            out["G_L1"] = loss_G_l1.detach()
        loss_G.backward()
        self.opt_G.step()
        return out

    def state_dict(self) -> dict:
        return {"G": self.G.state_dict(), "opt_G": self.opt_G.state_dict(),
                "D": self.D.state_dict() if self.D is not None else None,
                "opt_D": self.opt_D.state_dict() if self.opt_D is not None else None}

    def load_state_dict(self, state: dict) -> None:
        self.G.load_state_dict(state["G"])
        self.opt_G.load_state_dict(state["opt_G"])
        if self.D is not None:
            self.D.load_state_dict(state["D"])
            self.opt_D.load_state_dict(state["opt_D"])
