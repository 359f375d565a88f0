"""The CycleGAN side of ``p2peval bench train-step --model cyclegan`` (``trainers.bench_cli``).

The baseline is a minimal re-implementation, written here, of how the reference implementation
(junyanz/pytorch-CycleGAN-and-pix2pix, ``CycleGANModel.optimize_parameters`` and
``util/image_pool.py``) structures its iteration: forward fake_B, rec_A, fake_A, rec_B;
``set_requires_grad([D_A, D_B], False)``; identity forwards, GAN terms through ``GANLoss`` (an
``MSELoss`` against a target tensor expanded to the prediction), ``L1Loss`` cycle and identity
terms; one backward and step over both generators; ``set_requires_grad(True)``; D_A on real_B and
pool(fake_B), backward; D_B on real_A and pool(fake_A), backward; one step over both
discriminators; ``torch.optim.Adam`` defaults. Both run the same networks (ResNet generators,
70x70 PatchGANs, instance norm) on the same data, interleaved repeat by repeat.
"""

from __future__ import annotations

import itertools
import random


class ReferenceImagePool:
    """The reference's pool: tensors unsqueezed and concatenated, Python's ``random``."""

    def __init__(self, pool_size: int, seed: int = 0):
        self.pool_size, self.num_imgs, self.images = pool_size, 0, []
        self.rng = random.Random(seed)

    def query(self, images):
        import torch
        if self.pool_size == 0:
            return images
        return_images = []
        for image in images:
            image = torch.unsqueeze(image.data, 0)
            if self.num_imgs < self.pool_size:
                self.num_imgs += 1
                self.images.append(image)
                return_images.append(image)
            elif self.rng.uniform(0, 1) > 0.5:
                random_id = self.rng.randint(0, self.pool_size - 1)
                tmp = self.images[random_id].clone()
                self.images[random_id] = image
                return_images.append(tmp)
            else:
                return_images.append(image)
        return torch.cat(return_images, 0)


class ReferenceStyleStep:
    """The reference's ``optimize_parameters`` re-implemented for comparison (see module doc)."""

    def __init__(self, G_A, G_B, D_A, D_B, lr=2e-4, lambda_A=10.0, lambda_B=10.0, lambda_identity=0.5,
                 pool_size=50):
        import torch
        self.G_A, self.G_B, self.D_A, self.D_B = G_A, G_B, D_A, D_B
        self.lambda_A, self.lambda_B, self.lambda_idt = lambda_A, lambda_B, lambda_identity
        self.opt_G = torch.optim.Adam(itertools.chain(G_A.parameters(), G_B.parameters()), lr=lr, betas=(0.5, 0.999))
        self.opt_D = torch.optim.Adam(itertools.chain(D_A.parameters(), D_B.parameters()), lr=lr, betas=(0.5, 0.999))
        self.criterionGAN = torch.nn.MSELoss()
        self.criterionCycle, self.criterionIdt = torch.nn.L1Loss(), torch.nn.L1Loss()
        self.fake_A_pool, self.fake_B_pool = ReferenceImagePool(pool_size), ReferenceImagePool(pool_size)
        self.real_label, self.fake_label = torch.tensor(1.0), torch.tensor(0.0)

    def _gan(self, pred, real: bool):
        target = (self.real_label if real else self.fake_label).to(pred.device).expand_as(pred)
        return self.criterionGAN(pred, target)

    @staticmethod
    def _set_requires_grad(nets, flag: bool) -> None:
        for net in nets:
            for p in net.parameters():
                p.requires_grad = flag

    def _backward_D_basic(self, netD, real, fake):
        loss_D = (self._gan(netD(real), True) + self._gan(netD(fake.detach()), False)) * 0.5
        loss_D.backward()
        return loss_D

    def step(self, real_A, real_B) -> None:
        fake_B = self.G_A(real_A)
        rec_A = self.G_B(fake_B)
        fake_A = self.G_B(real_B)
        rec_B = self.G_A(fake_A)
        self._set_requires_grad([self.D_A, self.D_B], False)
        self.opt_G.zero_grad()
        if self.lambda_idt > 0:
            idt_A = self.G_A(real_B)
            loss_idt_A = self.criterionIdt(idt_A, real_B) * self.lambda_B * self.lambda_idt
            idt_B = self.G_B(real_A)
            loss_idt_B = self.criterionIdt(idt_B, real_A) * self.lambda_A * self.lambda_idt
        else:
            loss_idt_A = loss_idt_B = 0
        loss_G = (self._gan(self.D_A(fake_B), True) + self._gan(self.D_B(fake_A), True)
                  + self.criterionCycle(rec_A, real_A) * self.lambda_A
                  + self.criterionCycle(rec_B, real_B) * self.lambda_B + loss_idt_A + loss_idt_B)
        loss_G.backward()
        self.opt_G.step()
        self._set_requires_grad([self.D_A, self.D_B], True)
        self.opt_D.zero_grad()
        self._backward_D_basic(self.D_A, real_B, self.fake_B_pool.query(fake_B))
        self._backward_D_basic(self.D_B, real_A, self.fake_A_pool.query(fake_A))
        self.opt_D.step()


def implementations(args, device):
    """{name: zero-argument step} for CycleGAN on fixed random data, and the networks' description."""
    import torch

    from trainers.cyclegan.config import CycleGANConfig, apply_overrides, validate
    from trainers.cyclegan.step import CycleGANModel, build_networks

    sets = [f"data.crop_size={args.size}", f"data.load_size={args.size}", f"data.batch_size={args.batch}",
            *args.set]

    def config(*extra):
        return validate(apply_overrides(CycleGANConfig(), sets + list(extra)))

    def ours(precision: str, channels_last: bool):
        cfg = config(f"precision={precision}", f"channels_last={channels_last}")
        torch.manual_seed(0)
        return CycleGANModel(cfg, device).step

    def baseline():
        cfg = config()
        if not cfg.loss.gan:
            from p2peval.core.errors import ConfigError
            raise ConfigError("--set loss.gan=false: the reference-style step always trains discriminators; "
                              "add --no-baseline")
        torch.manual_seed(0)
        G_A, G_B, D_A, D_B = (n.to(device) for n in build_networks(cfg))
        lc = cfg.loss
        return ReferenceStyleStep(G_A, G_B, D_A, D_B, cfg.optim.lr, lc.lambda_A, lc.lambda_B, lc.lambda_identity,
                                  lc.pool_size).step

    steps = {"p2peval": ours(args.precision, args.channels_last)}
    if not args.no_baseline:
        steps["reference_style"] = baseline()
    if args.compare_fp32 and (args.precision != "fp32" or args.channels_last):
        steps["p2peval_fp32"] = ours("fp32", False)
    cfg = config()
    g = torch.Generator().manual_seed(0)
    A = (torch.rand(args.batch, cfg.data.channels_A, args.size, args.size, generator=g) * 2 - 1).to(device)
    B = (torch.rand(args.batch, cfg.data.channels_B, args.size, args.size, generator=g) * 2 - 1).to(device)
    impls = {k: (lambda fn=fn: fn(A, B)) for k, fn in steps.items()}
    g_ = cfg.generator
    return impls, (f"2 x ResNet generator ({g_.n_blocks} blocks, ngf {g_.ngf}, {g_.norm} norm) + 2 x 70x70 PatchGAN, "
                   f"LSGAN + cycle + identity {cfg.loss.lambda_identity}, pools of {cfg.loss.pool_size}")
