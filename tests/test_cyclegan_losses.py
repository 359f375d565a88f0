"""CycleGAN objective, image pool, learning-rate rule and jitter, each against an independent
computation."""

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trainers.cyclegan import losses as L
from trainers.cyclegan.config import CycleGANConfig, apply_overrides, validate
from trainers.cyclegan.pool import ImagePool

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_loss_terms_by_hand():
    pred = torch.tensor([[0.5, 2.0], [1.0, -1.0]])
    assert L.generator_gan_loss("lsgan", pred).item() == pytest.approx((0.25 + 1 + 0 + 4) / 4)
    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([0.5, -1.0])
    # 0.5 * (mean((real - 1)^2) + mean(fake^2)) = 0.5 * ((0.25 + 1) / 2 + (0.25 + 1) / 2)
    assert L.discriminator_loss("lsgan", real, fake).item() == pytest.approx(0.625)
    assert L.cycle_loss(torch.tensor([0.5, -0.5, 1.0, 0.0]), torch.zeros(4), 10.0).item() == pytest.approx(5.0)
    # lambda_identity 0.5 x weight 10 x mean |[1, 0] - 0| = 2.5
    assert L.identity_loss(torch.tensor([1.0, 0.0]), torch.zeros(2), 10.0, 0.5).item() == pytest.approx(2.5)
    # vanilla: BCE with logits; logit 0 -> log 2 either way
    assert L.discriminator_loss("vanilla", torch.zeros(3), torch.zeros(3)).item() == pytest.approx(math.log(2))


TINY = ["data.load_size=32", "data.crop_size=32", "generator.ngf=2", "generator.n_blocks=1",
        "discriminator.ndf=2", "device=cpu"]


def _model(*sets):
    from trainers.cyclegan.step import CycleGANModel
    cfg = validate(apply_overrides(CycleGANConfig(), [*TINY, *sets]))
    torch.manual_seed(0)
    return CycleGANModel(cfg, torch.device("cpu"))


def test_first_step_losses_against_the_formula():
    """Every logged term of the first iteration, recomputed from copies of the initial networks."""
    m = _model()
    G_A, G_B, D_A, D_B = (copy.deepcopy(n) for n in (m.G_A, m.G_B, m.D_A, m.D_B))
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(1, 3, 32, 32, generator=g) * 2 - 1, torch.rand(1, 3, 32, 32, generator=g) * 2 - 1
    out = m.step(a, b)
    with torch.no_grad():
        fake_B, fake_A = G_A(a), G_B(b)
        expect = {
            "G_A": F.mse_loss(D_A(fake_B), torch.ones(1, 1, 2, 2)),
            "G_B": F.mse_loss(D_B(fake_A), torch.ones(1, 1, 2, 2)),
            "cycle_A": 10 * (G_B(fake_B) - a).abs().mean(),
            "cycle_B": 10 * (G_A(fake_A) - b).abs().mean(),
            "idt_A": 0.5 * 10 * (G_A(b) - b).abs().mean(),
            "idt_B": 0.5 * 10 * (G_B(a) - a).abs().mean(),
            # D sees the pre-update fakes (the pool returns them while filling) and its own
            # initial weights: the generator step left it untouched
            "D_A": 0.5 * ((D_A(b) - 1).pow(2).mean() + D_A(fake_B).pow(2).mean()),
            "D_B": 0.5 * ((D_B(a) - 1).pow(2).mean() + D_B(fake_A).pow(2).mean()),
        }
    assert sorted(out) == sorted(expect)
    for k, v in expect.items():
        assert out[k].item() == pytest.approx(v.item(), rel=1e-5), k
    # both steps moved their networks
    for new, old in ((m.G_A, G_A), (m.G_B, G_B), (m.D_A, D_A), (m.D_B, D_B)):
        assert any(not torch.equal(p, q) for p, q in zip(new.parameters(), old.parameters()))


def test_terms_switch_off():
    a = b = torch.zeros(1, 3, 32, 32)
    assert set(_model("loss.lambda_identity=0").step(a, b)) == {"G_A", "G_B", "cycle_A", "cycle_B", "D_A", "D_B"}
    m = _model("loss.gan=false", "loss.lambda_identity=0")
    assert m.D_A is None and set(m.step(a, b)) == {"cycle_A", "cycle_B"}
    assert set(_model("loss.lambda_B=0", "loss.lambda_identity=0").step(a, b)) == {"G_A", "G_B", "cycle_A", "D_A", "D_B"}


def test_pool_fills_then_swaps_half_the_time():
    pool = ImagePool(50, seed=3)
    ids = iter(range(10**6))

    def fresh(n=1):
        return torch.tensor([float(next(ids)) for _ in range(n)]).view(n, 1, 1, 1)

    for _ in range(25):  # batches of 2 fill it: every new image comes back while filling
        x = fresh(2)
        assert torch.equal(pool.query(x), x)
    assert len(pool) == 50
    n, swapped = 4000, 0
    for _ in range(n):
        stored = {t.item() for t in pool.images}
        x = fresh()
        y = pool.query(x).item()
        assert len(pool) == 50
        if y != x.item():
            swapped += 1
            assert y in stored and x.item() in {t.item() for t in pool.images} and y not in {t.item() for t in pool.images}
        else:
            assert {t.item() for t in pool.images} == stored
    # swap probability 0.5: within 4 standard errors of a binomial proportion
    assert abs(swapped / n - 0.5) < 4 * math.sqrt(0.25 / n)
    x = fresh(3)
    assert torch.equal(ImagePool(0).query(x), x)


def test_pool_state_round_trip():
    a, b = ImagePool(3, seed=0), ImagePool(3, seed=1)
    for i in range(5):
        a.query(torch.full((1, 1, 1, 1), float(i)))
    b.load_state_dict(copy.deepcopy(a.state_dict()))
    for i in range(5, 40):
        x = torch.full((1, 1, 1, 1), float(i))
        assert torch.equal(a.query(x), b.query(x))


def test_lr_factor_every_epoch():
    from trainers.cyclegan.step import lr_factor
    c = apply_overrides(CycleGANConfig(), ["optim.n_epochs=3", "optim.n_epochs_decay=4"])
    got = [lr_factor(c, s, 2) for s in range(2 * 7)]
    # the reference's lambda_rule with epoch_count 1: 1 - max(0, e + 1 - 3) / (4 + 1)
    assert got == pytest.approx([f for f in (1, 1, 1, 0.8, 0.6, 0.4, 0.2) for _ in range(2)])
    d = CycleGANConfig()  # 100 + 100: the first decaying epoch at 100/101, the last at 1/101
    per_epoch = [lr_factor(d, e, 1) for e in range(200)]
    assert per_epoch[:100] == [1.0] * 100
    assert per_epoch[100] == pytest.approx(100 / 101) and per_epoch[199] == pytest.approx(1 / 101)
    assert all(x > y for x, y in zip(per_epoch[99:], per_epoch[100:]))
    s = apply_overrides(CycleGANConfig(), ["steps=6"])  # by iteration: 3 constant, 3 decaying
    assert [lr_factor(s, i, 1000) for i in range(6)] == pytest.approx([1, 1, 1, 0.75, 0.5, 0.25])
    k = apply_overrides(CycleGANConfig(), ["optim.schedule=constant"])
    assert {lr_factor(k, e, 1) for e in range(200)} == {1.0}


def _coordinate_image(side):
    """R = x mod 256, G = y mod 256, B = 16 * (x // 256) + y // 256: each pixel names its place."""
    y, x = np.mgrid[:side, :side]
    return np.stack([x % 256, y % 256, 16 * (x // 256) + y // 256], -1).astype(np.uint8)


@pytest.mark.parametrize("load,crop", [(286, 256), (143, 128)])
def test_jitter_random_crop_and_flip_per_domain(load, crop):
    from trainers.cyclegan.data import DomainRecord, UnpairedDataset
    img = _coordinate_image(load)  # already at the load size: the crop is exact
    rec = DomainRecord("x", False, lambda: img)
    cfg = apply_overrides(CycleGANConfig(), [f"data.load_size={load}", f"data.crop_size={crop}"]).data
    ds = UnpairedDataset([rec], [rec], cfg, train=True, seed=0)
    offsets, flips, differ = set(), set(), 0
    for epoch in range(40):
        item = ds[(epoch, 0)]
        for side in ("A", "B"):
            t = torch.round((item[side] + 1) * 127.5).to(torch.int64)  # (3, crop, crop)
            assert t.shape == (3, crop, crop)
            x = t[0] + 256 * (t[2] // 16)
            yy = t[1] + 256 * (t[2] % 16)
            flipped = bool(x[0, 0] > x[0, -1])
            x0 = int(x[0, -1]) if flipped else int(x[0, 0])
            assert 0 <= x0 <= load - crop and 0 <= int(yy[0, 0]) <= load - crop
            expect = torch.arange(x0, x0 + crop)
            assert torch.equal(x[0], expect.flip(0) if flipped else expect)
            assert torch.equal(yy[:, 0], torch.arange(int(yy[0, 0]), int(yy[0, 0]) + crop))
            offsets.add((x0, int(yy[0, 0])))
            flips.add(flipped)
        differ += not torch.equal(item["A"], item["B"])  # each domain has its own crop and mirror
        assert torch.equal(ds[(epoch, 0)]["A"], item["A"])  # a pure function of (seed, epoch, item)
    assert flips == {True, False} and len(offsets) > 20 and differ > 30


def test_unpaired_sampling_covers_a_in_order_and_b_at_random():
    from trainers.cyclegan.data import DomainRecord, UnpairedDataset
    img = np.zeros((8, 8, 3), np.uint8)
    a = [DomainRecord(str(i), False, lambda: img) for i in range(5)]
    b = [DomainRecord(str(i), False, lambda: img) for i in range(3)]
    ds = UnpairedDataset(a, b, CycleGANConfig().data, train=True, seed=0)
    assert len(ds) == 5  # max(|A|, |B|), as the reference
    picks = [ds.pick(e, i) for e in range(30) for i in range(5)]
    assert [p[0] for p in picks[:5]] == [0, 1, 2, 3, 4]
    counts = np.bincount([p[1] for p in picks], minlength=3)
    assert counts.min() > 30  # every B image drawn, independently of A
