"""``p2peval scorer list``: the scorer architectures."""

from __future__ import annotations

HELP = "List the scorer architectures (all build offline, without pretrained weights)."
EXAMPLES = "  p2peval scorer list\n  p2peval scorer list --json"


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="print names, descriptions and default configs as JSON")


def run(args) -> int:
    import json

    from p2peval.scorers.registry import ARCHS

    if args.json:
        print(json.dumps({n: {"description": ARCHS.get(n).description,
                              "default_config": ARCHS.get(n).default_config,
                              "size_multiple": ARCHS.get(n).size_multiple}
                          for n in ARCHS.names()}, indent=2))
        return 0
    for name in ARCHS.names():
        print(f"{name:<24} {ARCHS.get(name).description}")
    return 0
