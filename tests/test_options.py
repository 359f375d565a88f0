"""Every numeric option of every command is checked while the command line is parsed.

For each command in the CLI table, each option whose type is a :class:`NumberType` gets a value
just outside its bounds (a negative number, and zero where zero is invalid): the command must stop
with exit status 2 and one line naming the option, before doing anything. A plain ``type=int`` or
``type=float`` (no bounds) fails the test, so a new option cannot skip the check.
"""

from __future__ import annotations

import argparse

import pytest

from p2peval.cli import COMMANDS, build_parser, main
from p2peval.commands import NumberType


def _numeric_options():
    cases = []
    for path in COMMANDS:
        parser, _ = build_parser(path)
        for action in parser._actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction):
                continue
            cases.append((path, action))
    return cases


def _bad_values(kind: NumberType) -> list[str]:
    bad = []
    if kind.low is not None:
        bad.append(str(kind.kind(kind.low)) if kind.low_open else str(kind.kind(kind.low - 1)))
        if kind.low >= 0:
            bad.append("-3")
    if kind.high is not None:
        bad.append(str(kind.kind(kind.high)) if kind.high_open else str(kind.kind(kind.high + 1)))
    bad.append("nan" if kind.kind is float else "1.5")
    return sorted(set(bad))


CASES = [(p, a) for p, a in _numeric_options() if a.type in (int, float) or isinstance(a.type, NumberType)]


def test_the_table_has_numeric_options():
    assert len(CASES) >= 60  # the CLI has about 75 numeric options; a broken scan finds none


@pytest.mark.parametrize("path,action", CASES, ids=[f"{' '.join(p)} {a.option_strings[-1]}" for p, a in CASES])
def test_numeric_option_refused_at_the_edge(path, action, capsys, tmp_path, monkeypatch):
    assert isinstance(action.type, NumberType), (
        f"{' '.join(path)} {action.option_strings[-1]}: numeric option without bounds (use a type from "
        "p2peval.commands)")
    monkeypatch.chdir(tmp_path)
    option = action.option_strings[-1]
    for value in _bad_values(action.type):
        assert main([*path, f"{option}={value}"]) == 2, (option, value)
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and option in err[0] and "Traceback" not in err[0], (option, value, err)
    assert list(tmp_path.iterdir()) == []  # nothing was written


def test_good_values_pass_the_types():
    for _, action in CASES:
        kind = action.type
        if not isinstance(kind, NumberType):
            continue  # reported by test_numeric_option_refused_at_the_edge
        good = kind.low + 1 if kind.low is not None else 1
        if kind.high is not None:
            good = (kind.low + kind.high) / 2 if kind.kind is float else min(good, kind.high)
        assert kind(str(kind.kind(good))) == kind.kind(good)
