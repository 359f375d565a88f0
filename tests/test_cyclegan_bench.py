"""The CycleGAN train-step benchmark: its reference-style step computes the same update as the
trainer's, and the command prints (and writes) the JSON."""

import json

import pytest
import torch

from p2peval.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def biases_before_instance_norm(net) -> set[str]:
    """Biases of convs followed by instance norm: the norm removes them, so their gradient is 0 up
    to rounding and Adam turns that noise into +-lr steps of random sign; they differ between any
    two implementations and change no output."""
    out = set()
    for name, m in net.named_modules():
        if isinstance(m, torch.nn.Sequential):
            layers = list(m.named_children())
            for (n1, a), (_, b) in zip(layers, layers[1:]):
                if isinstance(a, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) and isinstance(b, torch.nn.InstanceNorm2d):
                    out.add(f"{name}.{n1}.bias" if name else f"{n1}.bias")
    return out


def test_reference_style_step_is_the_same_iteration():
    from trainers.cyclegan.bench import ReferenceImagePool, ReferenceStyleStep
    from trainers.cyclegan.config import CycleGANConfig, apply_overrides, validate
    from trainers.cyclegan.step import CycleGANModel, build_networks
    cfg = validate(apply_overrides(CycleGANConfig(), ["data.crop_size=32", "data.load_size=32", "generator.ngf=4",
                                                      "generator.n_blocks=1", "discriminator.ndf=4"]))
    torch.manual_seed(0)
    ours = CycleGANModel(cfg, torch.device("cpu"))
    torch.manual_seed(0)
    nets = build_networks(cfg)
    ref = ReferenceStyleStep(*nets)
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        x, y = torch.rand(1, 3, 32, 32, generator=g) * 2 - 1, torch.rand(1, 3, 32, 32, generator=g) * 2 - 1
        ours.step(x, y)
        ref.step(x, y)
    for a, b in zip((ours.G_A, ours.G_B, ours.D_A, ours.D_B), nets):
        sa, sb = a.state_dict(), b.state_dict()
        skip = biases_before_instance_norm(a)
        assert skip and len(skip) < len(sa) // 2
        for k in sa:
            if k not in skip:
                assert torch.allclose(sa[k], sb[k], atol=1e-6), k
    # the reference pool's statistics match ours: fills, then swaps about half the time
    pool = ReferenceImagePool(2)
    outs = [pool.query(torch.full((1, 1), float(i))).item() for i in range(2000)]
    assert outs[:2] == [0.0, 1.0] and 0.45 < sum(o != i for i, o in enumerate(outs)) / 1998 < 0.55


def test_bench_cli_json(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert main(["bench", "train-step", "--model", "cyclegan", "--size", "32", "--repeats", "1", "--warmup", "0",
                 "--device", "cpu", "--set", "generator.ngf=2", "--set", "generator.n_blocks=1",
                 "--set", "discriminator.ndf=2", "--out", str(out)]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r == json.loads(out.read_text())
    assert set(r["median_s"]) == {"p2peval", "reference_style"} and r["speedup_vs_reference_style"] > 0
    assert "ResNet generator (1 blocks" in r["networks"] and r["overrides"][1] == "generator.n_blocks=1"
