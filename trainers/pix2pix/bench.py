"""The pix2pix side of ``p2peval bench train-step`` (``trainers.bench_cli``): seconds per pix2pix
iteration (D step + G step) against a reference-style step.

The baseline is a minimal re-implementation, written here, of how the widely used PyTorch
reference (junyanz/pytorch-CycleGAN-and-pix2pix, ``Pix2PixModel.optimize_parameters``) structures
its iteration: forward G; ``set_requires_grad(D, True)``; D backward on ``fake.detach()`` and the
real pair through its ``GANLoss`` (target tensor expanded to the prediction); step;
``set_requires_grad(D, False)``; G backward (GAN + 100 * L1); step; with ``torch.optim.Adam``
defaults. Both run the same networks (U-Net 256 + 70x70 PatchGAN, BatchNorm) on the same data,
interleaved repeat by repeat, so machine load hits both alike.
"""

from __future__ import annotations


class ReferenceStyleStep:
    """The reference's ``optimize_parameters`` re-implemented for comparison (see module doc)."""

    def __init__(self, G, D, lr=2e-4, lambda_l1=100.0):
        import torch
        self.G, self.D, self.lambda_l1 = G, D, lambda_l1
        self.opt_G = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
        self.opt_D = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
        self.criterion = torch.nn.BCEWithLogitsLoss()
        self.l1 = torch.nn.L1Loss()
        self.real_label, self.fake_label = torch.tensor(1.0), torch.tensor(0.0)

    def _gan(self, pred, real: bool):
        target = (self.real_label if real else self.fake_label).to(pred.device).expand_as(pred)
        return self.criterion(pred, target)

    @staticmethod
    def _set_requires_grad(net, flag: bool) -> None:
        for p in net.parameters():
            p.requires_grad = flag

    def step(self, real_A, real_B) -> None:
        import torch
        fake_B = self.G(real_A)
        self._set_requires_grad(self.D, True)
        self.opt_D.zero_grad()
        fake_AB = torch.cat((real_A, fake_B), 1)
        loss_D_fake = self._gan(self.D(fake_AB.detach()), False)
        real_AB = torch.cat((real_A, real_B), 1)
        loss_D_real = self._gan(self.D(real_AB), True)
        ((loss_D_fake + loss_D_real) * 0.5).backward()
        self.opt_D.step()
        self._set_requires_grad(self.D, False)
        self.opt_G.zero_grad()
        fake_AB = torch.cat((real_A, fake_B), 1)
        loss_G = self._gan(self.D(fake_AB), True) + self.l1(fake_B, real_B) * self.lambda_l1
        loss_G.backward()
        self.opt_G.step()


def implementations(args, device):
    """{name: zero-argument step} for pix2pix on fixed random data, and the networks' description."""
    import torch

    from trainers.pix2pix.config import TrainConfig, apply_overrides, validate
    from trainers.pix2pix.step import Pix2PixModel, build_networks

    sets = [f"data.crop_size={args.size}", f"data.load_size={args.size}", f"data.batch_size={args.batch}",
            *args.set]

    def ours(precision: str, channels_last: bool):
        cfg = validate(apply_overrides(TrainConfig(), sets + [f"precision={precision}",
                                                              f"channels_last={channels_last}"]))
        torch.manual_seed(0)
        return Pix2PixModel(cfg, device).step

    def baseline():
        cfg = validate(apply_overrides(TrainConfig(), sets))
        torch.manual_seed(0)
        G, D = build_networks(cfg)
        return ReferenceStyleStep(G.to(device), D.to(device)).step

    steps = {"p2peval": ours(args.precision, args.channels_last)}
    if not args.no_baseline:
        steps["reference_style"] = baseline()
    if args.compare_fp32 and (args.precision != "fp32" or args.channels_last):
        steps["p2peval_fp32"] = ours("fp32", False)
    g = torch.Generator().manual_seed(0)
    A = (torch.rand(args.batch, 3, args.size, args.size, generator=g) * 2 - 1).to(device)
    B = (torch.rand(args.batch, 3, args.size, args.size, generator=g) * 2 - 1).to(device)
    impls = {k: (lambda fn=fn: fn(A, B)) for k, fn in steps.items()}
    return impls, "U-Net (num_downs = log2(size), ngf 64, BatchNorm) + 70x70 PatchGAN, L1+cGAN"
