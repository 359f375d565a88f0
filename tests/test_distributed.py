"""``torchrun --nproc-per-node 2`` (gloo on CPU) gives the same score file as one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evaluate_data import make_scorer, write_cityscapes, write_results
from p2peval.cli import main
from p2peval.core.distributed import DistContext, shard

ROOT = Path(__file__).resolve().parents[1]


def torchrun(*args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "p2peval", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    ids = write_cityscapes(root / "cs", 5)  # odd: the ranks get 3 and 2 frames
    write_results(root / "res", [f"{i}_leftImg8bit.png" for i in ids])
    make_scorer(root / "scorer.pt")
    return root


def test_shard_is_interleaved_and_complete():
    items = list(range(11))
    parts = [shard(items, DistContext(rank=r, world_size=3)) for r in range(3)]
    assert parts[1] == [1, 4, 7, 10]
    assert sorted(sum(parts, [])) == items


@pytest.mark.slow
def test_two_gloo_processes_match_one(data, tmp_path):
    common = ["--cityscapes", str(data / "cs"), "--scorer", str(data / "scorer.pt"), "--bootstrap", "100",
              "--seed", "2", "--workers", "0", "--quiet"]
    one = tmp_path / "one.json"
    assert main(["fcn-score", str(data / "res"), *common, "--out", str(one)]) == 0
    two = tmp_path / "two.json"
    p = torchrun("fcn-score", str(data / "res"), *common, "--out", str(two))
    assert p.returncode == 0, p.stderr[-2000:]
    a, b = json.loads(one.read_text()), json.loads(two.read_text())
    assert b["inputs"]["processes"] == 2 and a["inputs"]["processes"] == 1
    for key in ("values", "confusion_matrix", "ci", "per_class", "counts"):
        assert a[key] == b[key], key
    assert not list(tmp_path.glob("*.partial*"))


@pytest.mark.slow
def test_bad_file_on_one_rank_stops_every_rank(data, tmp_path):
    """A truncated file in rank 1's shard: no hang, exit non-zero, the error printed once."""
    import shutil
    res = tmp_path / "res"
    shutil.copytree(data / "res", res)
    frames = sorted(p.name for p in res.iterdir())
    ordered = sorted(frames, key=lambda n: (n.rsplit("_", 3)[0], n))
    bad = res / ordered[1]  # the second frame in the reference order: rank 1's first
    bad.write_bytes(bad.read_bytes()[:100])
    p = torchrun("fcn-score", str(res), "--cityscapes", str(data / "cs"), "--scorer", str(data / "scorer.pt"),
                 "--workers", "0", "--quiet", "--out", str(tmp_path / "s.json"), timeout=120)
    assert p.returncode != 0
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("p2peval: error:")]
    assert len(errors) == 1 and bad.name in errors[0], p.stderr[-2000:]
    assert not (tmp_path / "s.json").exists()
