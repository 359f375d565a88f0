"""``p2peval study init``: a complete study file from results folders.

The pairing is read from the file names: an image's input is its stem without role suffixes
(``studies.stimuli.input_key``). When every generated image of every algorithm has a real image
of the same input the study is same-input (each fake is shown against the real image it was made
from, as in colorization); when none has, it is different-input (the real image comes from
another input, as in maps <-> aerial photos); a mix is refused, since either answer would be a
guess. The file is written to a temporary name first and checked exactly as ``study serve
--check`` checks a study file (``studies.protocol.load_checked``: settings, folders, pairing,
enough images for the trial counts); only a file that passes replaces ``--out``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from p2peval.core.errors import ConfigError, InputError, P2PError
from studies.config import PAIRINGS, toml_value
from studies.stimuli import fake_images, input_key, real_images

AUTO = "auto"
_NAME = re.compile(r"[^A-Za-z0-9_.+-]+")


@dataclass(frozen=True)
class InitResult:
    """What ``write_study`` wrote and found."""

    path: Path
    name: str
    pairing: str
    detected: bool                 # True when the pairing was read from the file names
    images: dict[str, int]         # generated images per algorithm
    reals: int
    trials: tuple[int, int]        # (practice, main)


def parse_algorithms(specs: list[str]) -> dict[str, Path]:
    """``NAME=DIR`` options -> {name: folder}; refuses bad syntax, repeats and missing folders."""
    if not specs:
        raise ConfigError("--algorithm NAME=DIR is required (once per algorithm)")
    out: dict[str, Path] = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        name = name.strip()
        if not sep or not name or not folder:
            raise ConfigError(f"--algorithm {spec!r}: expected NAME=DIR")
        if name in out:
            raise ConfigError(f"--algorithm {name!r} is given twice")
        out[name] = Path(folder).expanduser()
    return out


def check_folder(option: str, folder: Path) -> Path:
    if not folder.is_dir():
        raise InputError(f"{option}: no such folder", folder)
    return folder


def detect_pairing(real: Path, algorithms: dict[str, Path]) -> str:
    """``same-input`` or ``different-input`` from the file names (see the module docstring)."""
    real_keys = {input_key(p) for p in real_images(real)}
    matched = total = 0
    for folder in algorithms.values():
        keys = [input_key(p) for p in fake_images(folder)]
        matched += sum(k in real_keys for k in keys)
        total += len(keys)
    if matched == total:
        return "same-input"
    if matched == 0:
        return "different-input"
    raise ConfigError(f"{matched} of {total} generated images have a real image of the same input name "
                      f"in {real}, the others not; give --pairing same-input or different-input")


def default_name(out: Path) -> str:
    """A study name from the output file: its stem, or its folder's name for ``study.toml``."""
    base = out.parent.resolve().name if out.stem == "study" else out.stem
    name = _NAME.sub("-", base).strip("-._+")[:64]
    return name or "study"


def _relative(folder: Path, out: Path) -> str:
    """The folder as the study file will read it: relative to the file's own folder."""
    return Path(os.path.relpath(folder.resolve(), out.parent.resolve())).as_posix()


def study_text(*, name: str, real: Path, algorithms: dict[str, Path], pairing: str, out: Path,
               practice_trials: int, main_trials: int, layout: str, ask: str, seed: int) -> str:
    """The TOML text of a study file (paths relative to ``out``'s folder)."""
    lines = [
        "# Written by p2peval study init; check it with: p2peval study serve THIS_FILE --check",
        f"name = {toml_value(name)}",
        f"real = {toml_value(_relative(real, out))}",
        f"pairing = {toml_value(pairing)}",
        f"layout = {toml_value(layout)}",
        f"ask = {toml_value(ask)}",
        f"practice_trials = {practice_trials}",
        f"main_trials = {main_trials}",
        f"seed = {seed}",
        "",
        "[algorithms]",
    ]
    lines += [f"{toml_value(a) if not re.fullmatch(r'[A-Za-z0-9_-]+', a) else a} = "
              f"{toml_value(_relative(f, out))}" for a, f in algorithms.items()]
    return "\n".join(lines) + "\n"


def write_study(out: str | Path, *, real: str | Path, algorithms: dict[str, Path], name: str | None = None,
                pairing: str = AUTO, practice_trials: int = 10, main_trials: int = 40,
                layout: str = "sequential", ask: str = "fake", seed: int = 0,
                force: bool = False) -> InitResult:
    """Write a checked study file to ``out``; raises ``ConfigError``/``InputError`` (nothing written)
    when the folders, names or image counts do not make a valid study."""
    from studies.protocol import load_checked

    out = Path(out)
    if out.suffix.lower() != ".toml":
        raise ConfigError(f"--out {out}: a study file ends in .toml")
    if out.exists() and not force:
        raise ConfigError(f"--out {out} exists; give --force to replace it")
    if pairing not in (AUTO, *PAIRINGS):
        raise ConfigError(f"--pairing must be one of {AUTO}, {', '.join(PAIRINGS)}, got {pairing!r}")
    real = check_folder("--real", Path(real).expanduser())
    for a, folder in algorithms.items():
        check_folder(f"--algorithm {a}", folder)
    detected = pairing == AUTO
    if detected:
        pairing = detect_pairing(real, algorithms)
    name = name or default_name(out)
    text = study_text(name=name, real=real, algorithms=algorithms, pairing=pairing, out=out,
                      practice_trials=practice_trials, main_trials=main_trials, layout=layout, ask=ask,
                      seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{os.getpid()}.toml")
    tmp.write_text(text)
    try:
        config, material = load_checked(tmp)
    except P2PError as e:
        tmp.unlink(missing_ok=True)
        if e.path and Path(e.path).name == tmp.name:  # name the file being written, not its draft
            raise type(e)(str(e)[len(e.path) + 2:], out) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)
    return InitResult(out, config.name, pairing, detected,
                      {a: len(p.fakes) for a, p in material.pools.items()},
                      len(next(iter(material.pools.values())).reals),
                      (config.practice_trials, config.main_trials))
