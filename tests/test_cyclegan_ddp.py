"""CycleGAN under torchrun: 2 gloo processes equal one process on the same global batch.

As for pix2pix, exact equality needs a gradient that does not depend on how the batch is split:
no normalisation (instance norm leaves the conv bias before it a rounding-noise gradient that Adam
turns into +-lr steps). Three steps with pools of 50 never reach a swap, so each process's pool
returns its own fakes, as the single process's does.
"""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SETS = ["data.load_size=36", "data.crop_size=32", "generator.ngf=2", "generator.n_blocks=1",
        "discriminator.ndf=2", "generator.norm=none", "discriminator.norm=none", "data.batch_size=2",
        "steps=3", "sample_images=0", "device=cpu"]


@pytest.mark.timeout(300)
def test_ddp_two_processes_equal_one(tmp_path):
    from p2peval.data.toycity import generate_toycity
    generate_toycity(tmp_path / "toy", 4, 1, size=32, seed=2, progress=False, workers=1)
    args = ["train", "cyclegan", "--data", str(tmp_path / "toy"), "--quiet", *[a for s in SETS for a in ("--set", s)]]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    one = subprocess.run([sys.executable, "-m", "p2peval", *args, "--out", str(tmp_path / "one")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                          "-m", "p2peval", *args, "--out", str(tmp_path / "two")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert two.returncode == 0, two.stderr[-2000:]
    assert two.stdout.count("run folder:") == 1  # only rank 0 reports
    a = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "two" / "checkpoint.pt", weights_only=False)
    # 1% of the most a weight can move in 3 Adam steps (3 * lr); a wrong split or a missing
    # all-reduce moves weights by ~lr
    for net in ("G_A", "G_B", "D_A", "D_B"):
        for k in a["model"][net]:
            diff = (a["model"][net][k] - b["model"][net][k]).abs().max().item()
            assert diff < 6e-6, (net, k, diff)
    assert len(a["pools"]) == 1 and len(b["pools"]) == 2  # one pool pair per process
    assert [len(p["A"]["images"]) for p in b["pools"]] == [3, 3] and len(a["pools"][0]["A"]["images"]) == 6
    rows = [list(csv.DictReader((tmp_path / d / "losses.csv").read_text().splitlines())) for d in ("one", "two")]
    assert len(rows[0]) == len(rows[1]) == 3
    for r1, r2 in zip(*rows):
        for k in ("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"):
            assert float(r1[k]) == pytest.approx(float(r2[k]), rel=1e-4)
