"""``p2peval bench import-caffe``: time and peak memory of importing a full-width Caffe FCN-8s."""

from __future__ import annotations

from p2peval.commands import nonneg_int, positive_int

HELP = ("Benchmark 'scorer import-caffe' on a full-width FCN-8s model file (134.5 M parameters, "
        "about 538 MB, the size of fcn-8s-cityscapes.caffemodel) written with random weights by "
        "p2peval's own writer: wall time and peak resident memory of the import, each run in a fresh "
        "process, as medians. Optionally checks float32 against float64 at full width (--parity-size).")

EXAMPLES = ("  p2peval bench import-caffe --out results/benchmarks\n"
            "  p2peval bench import-caffe --repeats 5 --parity-size 256x256 --parity-size 1024x2048")


def add_arguments(p) -> None:
    p.add_argument("--out", default="results/benchmarks", help="folder for import_caffe.json")
    p.add_argument("--repeats", type=positive_int, default=3, help="import runs (median reported)")
    p.add_argument("--workdir", default=None, help="where to write the temporary model file "
                   "(default: a temporary folder, removed afterwards)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of the random weights")
    p.add_argument("--parity-size", action="append", default=[], metavar="HxW",
                   help="also run the imported full-width model on a random input of this size in "
                        "float32 and float64 and record the difference (repeatable)")



def run(args) -> int:
    from dataclasses import fields

    from p2peval.bench.import_caffe import ImportCaffeBenchOptions, run_benchmark

    opts = ImportCaffeBenchOptions(**{f.name: getattr(args, f.name) for f in fields(ImportCaffeBenchOptions)})
    run_benchmark(opts)  # prints its summary; the figures go to --out
    return 0
