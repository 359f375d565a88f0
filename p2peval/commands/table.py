"""``p2peval table``: comparison tables from score files."""

from p2peval.commands import confidence_level, nonneg_int, positive_int

HELP = ("Comparison table from score files: one row per label, columns per metric with +/- or "
        "[lo, hi], best value per column in bold, published rows beside, paired significance marks.")
EXAMPLES = """  p2peval table scores/*.json
  p2peval table scores/*.json --published losses --format latex --out table.tex
  p2peval table scores/L1.json scores/cgan.json --label L1 --label cGAN --ci interval
  p2peval table --list-published"""


def add_arguments(p):
    p.add_argument("scores", nargs="*", metavar="SCOREFILES", help="score files (fcn-score, label-score, color-hist, study)")
    p.add_argument("--format", default=None, choices=("md", "latex", "csv", "html"),
                   help="output format (default: from --out's suffix, else md)")
    p.add_argument("--out", help="write the table here (atomically) instead of printing it")
    p.add_argument("--published", action="append", default=[], metavar="NAME",
                   help="add the rows of a published table (see --list-published); repeatable")
    p.add_argument("--list-published", action="store_true", help="list the published tables and exit")
    p.add_argument("--label", action="append", help="row label per score file (default: the file's label)")
    p.add_argument("--ci", default="se", choices=("se", "interval", "none"),
                   help="uncertainty shown: +/- standard error (se), [lo, hi] (interval) or none")
    p.add_argument("--n-resamples", type=positive_int, default=1000, help="paired bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=nonneg_int, default=0)
    p.add_argument("--level", type=confidence_level, default=0.95)
    p.add_argument("--comparisons", metavar="JSON", help="also write every paired comparison as JSON")


def run(args):
    from pathlib import Path

    from p2peval.core.atomic import write_json_atomic
    from p2peval.core.errors import ConfigError
    from p2peval.report.tables import (
        build_table,
        comparisons_json,
        list_published,
        render,
    )

    if args.list_published:
        print(list_published())
        return 0
    if not (0 < args.level < 1):
        raise ConfigError(f"--level must be in (0, 1), got {args.level}")
    fmt = args.format
    if fmt is None and args.out:
        fmt = {".md": "md", ".tex": "latex", ".csv": "csv", ".html": "html"}.get(Path(args.out).suffix.lower(), "md")
    table = build_table(args.scores, labels=args.label, published=args.published, ci_style=args.ci,
                        n_resamples=args.n_resamples, seed=args.seed, level=args.level)
    text = render(table, fmt or "md")
    if args.out:
        from p2peval.core.atomic import write_text_atomic

        out = write_text_atomic(args.out, text)
        print(f"table -> {out}")
    else:
        print(text, end="")
    if args.comparisons:
        write_json_atomic(args.comparisons, comparisons_json(table))
    return 0
