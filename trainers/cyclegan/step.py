"""One CycleGAN iteration (reference ``CycleGANModel.optimize_parameters``).

Forward fake_B = G_A(real_A), rec_A = G_B(fake_B), fake_A = G_B(real_B), rec_B = G_A(fake_A);
one generator step on GAN + cycle + identity terms with both discriminators frozen; then one
discriminator step: D_A on real_B vs pool(fake_B), D_B on real_A vs pool(fake_A), each loss halved.

``CycleGANModel`` holds the four networks, one Adam over both generators, one over both
discriminators and the two pools; ``train`` and ``bench train-step`` both use it. Under
DistributedDataParallel the steps go through the wrapped networks (gradients all-reduced); the
generator step reads the discriminators through the plain modules (they are not updated there).
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from p2peval.core.errors import ConfigError
from trainers.common.networks import init_weights, output_size, receptive_field
from trainers.common.runtime import autocast, ddp_wrap, fused_adam, memory_format
from trainers.common.schedule import linear_decay_factor
from trainers.cyclegan import losses as L
from trainers.cyclegan.config import CycleGANConfig
from trainers.cyclegan.networks import build_discriminator, build_generator
from trainers.cyclegan.pool import ImagePool

LOSS_NAMES = ("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B")


def build_networks(config: CycleGANConfig) -> tuple[nn.Module, nn.Module, nn.Module | None, nn.Module | None]:
    """(G_A: A -> B, G_B: B -> A, D_A judging B, D_B judging A), initialised N(0, 0.02).

    The discriminators are None when ``loss.gan`` is off (cycle losses alone)."""
    d, g, dc = config.data, config.generator, config.discriminator
    G_A = build_generator(d.channels_A, d.channels_B, g.ngf, g.n_blocks, g.norm)
    G_B = build_generator(d.channels_B, d.channels_A, g.ngf, g.n_blocks, g.norm)
    for net in (G_A, G_B):
        init_weights(net)
    if not config.loss.gan:
        return G_A, G_B, None, None
    D_A = build_discriminator(d.channels_B, dc.ndf, dc.n_layers, dc.norm)
    D_B = build_discriminator(d.channels_A, dc.ndf, dc.n_layers, dc.norm)
    if output_size(D_A, d.crop_size) < 1:
        raise ConfigError(f"discriminator with {dc.n_layers} layers: a {d.crop_size}x{d.crop_size} image is "
                          f"smaller than its receptive field ({receptive_field(D_A)}) allows (empty output "
                          "map); use a larger data.crop_size or fewer discriminator.n_layers")
    for net in (D_A, D_B):
        init_weights(net)
    return G_A, G_B, D_A, D_B


def schedule_length(config: CycleGANConfig, steps_per_epoch: int) -> int:
    """Total iterations of the run."""
    o = config.optim
    return config.steps or (o.n_epochs + o.n_epochs_decay) * steps_per_epoch


def lr_factor(config: CycleGANConfig, step: int, steps_per_epoch: int) -> float:
    """Learning-rate multiplier at 0-based ``step``: the reference's linear rule by epoch
    (``n_epochs`` constant, ``n_epochs_decay`` decaying), or by iteration when ``steps`` is set."""
    o = config.optim
    if o.schedule == "constant":
        return 1.0
    if config.steps is not None:
        n_decay = config.steps // 2
        return linear_decay_factor(step, config.steps - n_decay, n_decay)
    return linear_decay_factor(step // steps_per_epoch, o.n_epochs, o.n_epochs_decay)


class CycleGANModel:
    """Networks, optimisers, pools and the iteration of the reference."""

    def __init__(self, config: CycleGANConfig, device: torch.device, ddp: bool = False, pool_seed: int = 0):
        self.config, self.device = config, device
        fmt = memory_format(config.channels_last)
        nets = build_networks(config)
        self.G_A, self.G_B, self.D_A, self.D_B = (None if n is None else n.to(device, memory_format=fmt) for n in nets)
        o = config.optim
        self.opt_G = fused_adam(itertools.chain(self.G_A.parameters(), self.G_B.parameters()), o.lr, o.beta1, o.beta2)
        self.gan = config.loss.gan
        self.opt_D = (fused_adam(itertools.chain(self.D_A.parameters(), self.D_B.parameters()), o.lr, o.beta1, o.beta2)
                      if self.gan else None)
        # One pool per discriminator, each with its own random stream.
        self.pool_A = ImagePool(config.loss.pool_size, seed=pool_seed * 2 + 1)  # fakes of domain A, for D_B
        self.pool_B = ImagePool(config.loss.pool_size, seed=pool_seed * 2)      # fakes of domain B, for D_A
        self.G_A_run, self.G_B_run, self.D_A_run, self.D_B_run = self.G_A, self.G_B, self.D_A, self.D_B
        if ddp:
            self.G_A_run, self.G_B_run = ddp_wrap(self.G_A, device), ddp_wrap(self.G_B, device)
            if self.gan:
                self.D_A_run, self.D_B_run = ddp_wrap(self.D_A, device), ddp_wrap(self.D_B, device)

    def _autocast(self):
        return autocast(self.config.precision, self.device)

    def set_lr(self, factor: float) -> None:
        for opt in (self.opt_G, self.opt_D):
            if opt is not None:
                for group in opt.param_groups:
                    group["lr"] = self.config.optim.lr * factor

    def step(self, real_A: torch.Tensor, real_B: torch.Tensor) -> dict[str, torch.Tensor]:
        """One iteration on (B, Ca, H, W) and (B, Cb, H, W) batches; returns detached, weighted
        loss terms (named as the reference logs them)."""
        cfg, lc = self.config, self.config.loss
        if cfg.channels_last:
            real_A = real_A.contiguous(memory_format=torch.channels_last)
            real_B = real_B.contiguous(memory_format=torch.channels_last)
        ac = self._autocast
        out: dict[str, torch.Tensor] = {}
        with ac():
            fake_B = self.G_A_run(real_A)
            rec_A = self.G_B_run(fake_B)
            fake_A = self.G_B_run(real_B)
            rec_B = self.G_A_run(fake_A)
        # Generator step, discriminators frozen.
        if self.gan:
            self.D_A.requires_grad_(False)
            self.D_B.requires_grad_(False)
        self.opt_G.zero_grad(set_to_none=True)
        loss_G = torch.zeros((), device=real_A.device)
        if lc.lambda_identity > 0:
            with ac():
                idt_A = self.G_A_run(real_B)  # G_A should leave B images unchanged
                idt_B = self.G_B_run(real_A)
            out["idt_A"] = L.identity_loss(idt_A, real_B, lc.lambda_B, lc.lambda_identity)
            out["idt_B"] = L.identity_loss(idt_B, real_A, lc.lambda_A, lc.lambda_identity)
        if self.gan:
            with ac():
                pred_A, pred_B = self.D_A(fake_B), self.D_B(fake_A)
            out["G_A"] = L.generator_gan_loss(lc.gan_mode, pred_A)
            out["G_B"] = L.generator_gan_loss(lc.gan_mode, pred_B)
        if lc.lambda_A > 0:
            out["cycle_A"] = L.cycle_loss(rec_A, real_A, lc.lambda_A)
        if lc.lambda_B > 0:
            out["cycle_B"] = L.cycle_loss(rec_B, real_B, lc.lambda_B)
        for v in out.values():
            loss_G = loss_G + v
        loss_G.backward()
        self.opt_G.step()
        if self.gan:
            # Discriminator step on pooled fakes (no gradient into the generators).
            self.D_A.requires_grad_(True)
            self.D_B.requires_grad_(True)
            self.opt_D.zero_grad(set_to_none=True)
            pooled_B, pooled_A = self.pool_B.query(fake_B), self.pool_A.query(fake_A)
            with ac():
                pr_A, pf_A = self.D_A_run(real_B), self.D_A_run(pooled_B)
            loss_D_A = L.discriminator_loss(lc.gan_mode, pr_A, pf_A)
            with ac():
                pr_B, pf_B = self.D_B_run(real_A), self.D_B_run(pooled_A)
            loss_D_B = L.discriminator_loss(lc.gan_mode, pr_B, pf_B)
            (loss_D_A + loss_D_B).backward()
            self.opt_D.step()
            out["D_A"], out["D_B"] = loss_D_A, loss_D_B
        return {k: v.detach() for k, v in out.items()}

    def state_dict(self) -> dict:
        return {"G_A": self.G_A.state_dict(), "G_B": self.G_B.state_dict(), "opt_G": self.opt_G.state_dict(),
                "D_A": self.D_A.state_dict() if self.gan else None,
                "D_B": self.D_B.state_dict() if self.gan else None,
                "opt_D": self.opt_D.state_dict() if self.gan else None}

    def load_state_dict(self, state: dict) -> None:
        self.G_A.load_state_dict(state["G_A"])
        self.G_B.load_state_dict(state["G_B"])
        self.opt_G.load_state_dict(state["opt_G"])
        if self.gan:
            self.D_A.load_state_dict(state["D_A"])
            self.D_B.load_state_dict(state["D_B"])
            self.opt_D.load_state_dict(state["opt_D"])

    def pools_state(self) -> dict:
        return {"A": self.pool_A.state_dict(), "B": self.pool_B.state_dict()}

    def load_pools_state(self, state: dict) -> None:
        self.pool_A.load_state_dict(state["A"], self.device)
        self.pool_B.load_state_dict(state["B"], self.device)
