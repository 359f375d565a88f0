"""``p2peval study init``: study files from results folders, the example studies, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from p2peval.cli import main
from studies.config import load_study

EXAMPLES = Path(__file__).resolve().parents[1] / "studies" / "examples"
# example -> (algorithms, pairing the file names imply)
CASES = {
    "colorization": (("desaturated", "tinted"), "same-input"),
    "maps": (("smooth", "noisy"), "different-input"),
}


def _init(folder: Path, algos, *extra: str, out: Path | None = None) -> list[str]:
    argv = ["study", "init", "--real", str(folder / "real")]
    for a in algos:
        argv += ["--algorithm", f"{a}={folder / 'results' / a}"]
    return argv + ["--out", str(out or folder / "study.toml"), *extra]


def _run(argv, capsys) -> tuple[int, str, str]:
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def examples(tmp_path) -> Path:
    """A copy of the example studies without their study files."""
    dst = tmp_path / "examples"
    shutil.copytree(EXAMPLES, dst)
    for name in CASES:
        (dst / name / "study.toml").unlink()
    return dst


@pytest.mark.parametrize("name", sorted(CASES))
def test_init_writes_the_committed_example_study(examples, tmp_path, capsys, name):
    algos, pairing = CASES[name]
    folder = examples / name
    rc, out, err = _run(_init(folder, algos, "--practice-trials", "2", "--main-trials", "8"), capsys)
    assert rc == 0, err
    assert f"{pairing} (from the file names)" in out and "12 real images" in out
    written = (folder / "study.toml").read_text()
    assert written == (EXAMPLES / name / "study.toml").read_text()
    cfg = load_study(folder / "study.toml")
    assert cfg.name == name and cfg.pairing == pairing and list(cfg.algorithms) == list(algos)
    assert cfg.real == (folder / "real").resolve()
    assert (cfg.practice_trials, cfg.main_trials) == (2, 8)
    db = f"sqlite:///{tmp_path / 'check.db'}"
    assert _run(["study", "serve", str(folder / "study.toml"), "--check", "--db", db], capsys)[0] == 0
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "real", "results", "study.toml"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_committed_examples_pass_the_serve_check(tmp_path, capsys, name):
    rc, out, err = _run(["study", "serve", str(EXAMPLES / name / "study.toml"), "--check",
                         "--db", f"sqlite:///{tmp_path / 'x.db'}"], capsys)
    assert rc == 0, err
    assert "{'" + CASES[name][0][0] + "': 12" in out


def test_given_pairing_wins_and_names_with_dots_are_quoted(examples, tmp_path, capsys):
    folder = examples / "colorization"
    out = tmp_path / "s" / "mine.toml"
    argv = ["study", "init", "--real", str(folder / "real"), "--algorithm",
            f"v1.2+x={folder / 'results' / 'tinted'}", "--pairing", "different-input",
            "--practice-trials", "1", "--main-trials", "3", "--out", str(out)]
    rc, _, err = _run(argv, capsys)
    assert rc == 0, err
    cfg = load_study(out)
    assert cfg.name == "mine" and cfg.pairing == "different-input"
    assert cfg.algorithms == {"v1.2+x": (folder / "results" / "tinted").resolve()}


def _bad_cases(ex: Path, tmp: Path) -> dict[str, tuple[list[str], str]]:
    col, maps = ex / "colorization", ex / "maps"
    few = ("--practice-trials", "10", "--main-trials", "40")
    ok = ("--practice-trials", "2", "--main-trials", "8")
    mixed = tmp / "mixed"
    shutil.copytree(col / "results" / "tinted", mixed)
    shutil.copy(maps / "results" / "noisy" / "tile000_fake_B.png", mixed)
    return {
        "too few images": (_init(col, ["tinted"], *few), "has 12 images; a session needs 50"),
        "no matching names for same-input": (_init(maps, ["smooth"], *ok, "--pairing", "same-input"),
                                             "no real image for the same input"),
        "missing real folder": (["study", "init", "--real", str(tmp / "nope"), "--algorithm",
                                 f"a={col / 'results' / 'tinted'}", "--out", str(col / "study.toml")],
                                "--real: no such folder"),
        "missing algorithm folder": (["study", "init", "--real", str(col / "real"), "--algorithm",
                                      f"a={tmp / 'nope'}", "--out", str(col / "study.toml")],
                                     "--algorithm a: no such folder"),
        "no NAME=DIR": (["study", "init", "--real", str(col / "real"), "--algorithm", "tinted",
                         "--out", str(col / "study.toml")], "expected NAME=DIR"),
        "no algorithm": (["study", "init", "--real", str(col / "real"), "--out", str(col / "study.toml")],
                         "--algorithm NAME=DIR is required"),
        "names partly matching": (["study", "init", "--real", str(col / "real"), "--algorithm",
                                   f"m={mixed}", "--out", str(col / "study.toml"), *ok],
                                  "12 of 13 generated images have a real image of the same input"),
        "bad study name": (_init(col, ["tinted"], *ok, "--name", "no spaces"), "'name' must be"),
        "bad trial count": (_init(col, ["tinted"], "--main-trials", "0"), "argument --main-trials: must be"),
        "not a toml file": (_init(col, ["tinted"], *ok, out=col / "study.txt"), "ends in .toml"),
    }


@pytest.mark.parametrize("case", ["too few images", "no matching names for same-input",
                                  "missing real folder", "missing algorithm folder", "no NAME=DIR",
                                  "no algorithm", "names partly matching", "bad study name",
                                  "bad trial count", "not a toml file"])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(examples, tmp_path, capsys, case):
    argv, expect = _bad_cases(examples, tmp_path)[case]
    before = {p for p in examples.rglob("*")}
    rc, out, err = _run(argv, capsys)
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("p2peval: error: ") and expect in err
    assert "Traceback" not in err and ".tmp" not in err  # names the file asked for, not a draft
    assert {p for p in examples.rglob("*")} == before  # no study file, no leftover draft


def test_existing_study_file_is_kept_without_force(examples, capsys):
    folder = examples / "colorization"
    target = folder / "study.toml"
    target.write_text("# mine\n")
    argv = _init(folder, ["tinted"], "--practice-trials", "2", "--main-trials", "8")
    rc, _, err = _run(argv, capsys)
    assert rc == 2 and "exists; give --force" in err and target.read_text() == "# mine\n"
    assert _run(argv + ["--force"], capsys)[0] == 0
    assert load_study(target).algorithms.keys() == {"tinted"}
