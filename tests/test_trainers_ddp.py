"""torchrun with 2 gloo processes equals one process on the same global batch.

Exact equality needs a configuration whose gradient does not depend on how the batch is split:
BatchNorm uses per-process batch statistics (DDP with 2 x 1 is not batch 2 without SyncBatchNorm),
dropout draws per-process masks, and with InstanceNorm the conv bias before it gets a gradient
that is zero up to rounding, which Adam normalises into +-lr steps of random sign. So the test
uses no normalisation and no dropout: then DDP's averaged gradients equal the single-process
gradient up to float rounding.
"""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SETS = ["data.load_size=36", "data.crop_size=32", "generator.ngf=4", "discriminator.ndf=4",
        "generator.norm=none", "discriminator.norm=none", "generator.dropout=0", "data.batch_size=2",
        "steps=3", "sample_images=0", "device=cpu"]


@pytest.mark.timeout(300)
def test_ddp_two_processes_equal_one(tmp_path):
    from p2peval.data.toycity import generate_toycity
    generate_toycity(tmp_path / "toy", 4, 1, size=32, seed=2, progress=False, workers=1)
    args = ["train", "pix2pix", "--data", str(tmp_path / "toy"), "--quiet",
            *[a for s in SETS for a in ("--set", s)]]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    one = subprocess.run([sys.executable, "-m", "p2peval", *args, "--out", str(tmp_path / "one")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                          "-m", "p2peval", *args, "--out", str(tmp_path / "two")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert two.returncode == 0, two.stderr[-2000:]
    assert two.stdout.count("run folder:") == 1  # only rank 0 reports
    a = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "two" / "checkpoint.pt", weights_only=False)["model"]
    # Tolerance: 1% of the most any weight can move in 3 Adam steps (3 * lr = 6e-4). Rounding
    # differences (gradient sums in another order) stay far below; a wrong split of the batch
    # (both processes on the same pairs, or a missing all-reduce) moves weights by ~lr.
    for net in ("G", "D"):
        for k in a[net]:
            diff = (a[net][k] - b[net][k]).abs().max().item()
            assert diff < 6e-6, (net, k, diff)
    one_init = torch.load(tmp_path / "one" / "generator.pt", weights_only=False)["G"]
    assert all(torch.equal(one_init[k], a["G"][k]) for k in a["G"])  # generator.pt = final G
    rows = [list(csv.DictReader(open(tmp_path / d / "losses.csv"))) for d in ("one", "two")]
    for r1, r2 in zip(*rows):
        for k in ("D_real", "D_fake", "G_GAN", "G_L1"):
            assert float(r1[k]) == pytest.approx(float(r2[k]), rel=1e-4)
    assert len(rows[0]) == len(rows[1]) == 3
