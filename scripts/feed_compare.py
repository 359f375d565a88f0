"""Feed rates of the fcn-score input pipeline, interleaved between code versions so that all see the
same machine load: this tree, this tree with PIL's resize (P2PEVAL_RESIZE_KERNEL=pil) and, with
--before TREE, another checkout. Each run is one `p2peval bench fcn-score --forward none` process.

    python scripts/feed_compare.py --before /path/to/old/checkout --out results/benchmarks/fcn_score_feed_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def one_run(tree: Path, env_extra: dict, protocol: str, workers: int, n: int, stages: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "feed.json"
        cmd = [sys.executable, "-m", "p2peval", "bench", "fcn-score", "--forward", "none", "--protocol", protocol,
               "--n", str(n), "--repeats", "1", "--workers", str(workers), "--out", str(out)]
        if stages:
            cmd.append("--stages")
        env = {**os.environ, "PYTHONPATH": str(tree), **env_extra}
        subprocess.run(cmd, env=env, cwd=tree, check=True, capture_output=True)
        return json.loads(out.read_text())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", type=Path, help="an older checkout to compare with")
    p.add_argument("--protocols", default="pix2pix,fast")
    p.add_argument("--workers", default="1,2")
    p.add_argument("--n", type=int, default=48)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    versions = {"after": (HERE, {}), "after_pil_resize": (HERE, {"P2PEVAL_RESIZE_KERNEL": "pil"})}
    if a.before:
        versions["before"] = (a.before.resolve(), {})
    rec = {"benchmark": "fcn-score feed rate (null scorer), code versions interleaved",
           "command": " ".join(["python", "scripts/feed_compare.py", *sys.argv[1:]]),
           "cpu_count": os.cpu_count(), "load_average_start": list(os.getloadavg()), "n_frames": a.n,
           "versions": {k: {"tree": str(v[0]), "env": v[1]} for k, v in versions.items()}, "results": {}}
    for proto in a.protocols.split(","):
        for w in (int(x) for x in a.workers.split(",")):
            runs: dict[str, list[float]] = {k: [] for k in versions}
            cpu: dict[str, list[float]] = {k: [] for k in versions}
            stages = {}
            for r in range(a.repeats):
                for name, (tree, env) in versions.items():
                    res = one_run(tree, env, proto, w, a.n, stages=(r == 0 and w == 1))
                    runs[name].append(res["feed_frames_per_s"])
                    cpu[name].append(res["cpu_ms_per_frame"]["workers" if w else "main"])
                    if "stage_costs" in res:
                        stages[name] = {k: v["ms_per_frame"] for k, v in res["stage_costs"]["stages"].items()}
                    print(proto, w, name, f"{res['feed_frames_per_s']:.2f} frames/s", flush=True)
            key = f"{proto}_workers{w}"
            rec["results"][key] = {
                name: {"feed_frames_per_s": statistics.median(v), "per_worker_frames_per_s": statistics.median(v) / w,
                       "runs": v, "worker_cpu_ms_per_frame": statistics.median(cpu[name]),
                       "per_worker_frames_per_s_per_cpu_core": 1000 / statistics.median(cpu[name]),
                       "worker_cpu_ms_per_frame_runs": cpu[name]} for name, v in runs.items()}
            for name, v in runs.items():
                rec["results"][key][name]["speedup_vs_before_per_repeat"] = (
                    [x / y for x, y in zip(v, runs["before"])] if "before" in runs else None)
            if stages:
                rec["results"][key]["stage_ms_per_frame"] = stages
            rec["load_average_end"] = list(os.getloadavg())
            a.out.parent.mkdir(parents=True, exist_ok=True)
            a.out.write_text(json.dumps(rec, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
