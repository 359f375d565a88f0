"""``p2peval protocols``: list the named protocols."""

HELP = "List the named evaluation protocols and all their settings."
EXAMPLES = "  p2peval protocols\n  p2peval protocols --json"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print the settings as JSON")


def run(args):
    import json

    from p2peval.scoring.protocols import PROTOCOLS

    if args.json:
        print(json.dumps({n: PROTOCOLS.get(n).settings() for n in PROTOCOLS.names()}, indent=2))
        return 0
    for name in PROTOCOLS.names():
        p = PROTOCOLS.get(name)
        tag = "comparable with published tables" if p.comparable_with_published else "NOT comparable with published tables"
        print(f"{name}  ({tag})\n  {p.description}")
        print(f"  resolution={p.eval_resolution} image_resize={p.image_resize} label_resize={p.label_resize} "
              f"generated_size={p.generated_size[0]}x{p.generated_size[1]} index19={p.index19}\n")
    return 0
