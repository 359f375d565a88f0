"""A study's settings, read from a TOML file (docs/studies.md, "A study file", has an example).

Paths in the file are relative to the file's own folder. Every value is checked when the file is
read; a bad value raises ``ConfigError``/``InputError`` naming the file and the key.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from p2peval.core.errors import InputError

PAIRINGS = ("same-input", "different-input")
LAYOUTS = ("sequential", "side-by-side")
ASSIGNMENTS = ("balanced",)
ASK = ("fake", "real")
ADMIN_TOKEN_ENV = "P2PEVAL_STUDY_ADMIN_TOKEN"

DEFAULT_CONSENT = (
    "This is a short study about image perception. You will see pairs of images, one real "
    "photograph and one produced by a computer program, and say which one you think is {ask}. "
    "It takes about 5 minutes. Your answers are stored with your participant ID only; no other "
    "personal data is collected. You may stop at any time. By pressing Start you agree to take part."
)
DEFAULT_INSTRUCTIONS = (
    "Each trial shows two images, {how}, each for {seconds} second(s). Then pick the one you think "
    "is {ask}. The first {practice} trials are practice and tell you whether you were right; the "
    "remaining trials do not."
)


@dataclass(frozen=True)
class VigilanceConfig:
    """Catch trials: a real image against an obviously fake one (Zhang et al. used 10%)."""

    trials: int = 0
    fakes: Path | None = None       # folder of obviously fake images
    max_failures: int = 0           # participants failing more catch trials than this are excluded


@dataclass(frozen=True)
class StudyConfig:
    """Everything that defines one real-vs-fake study."""

    name: str
    path: Path                      # the TOML file
    algorithms: dict[str, Path]     # algorithm name -> results folder (fake images)
    real: Path                      # folder of real images
    pairing: str = "same-input"     # same-input (colorization) | different-input (maps)
    layout: str = "sequential"      # sequential (one after the other) | side-by-side
    ask: str = "fake"               # the participant points at the image they think is fake|real
    practice_trials: int = 10
    main_trials: int = 40
    display_ms: int = 1000
    gap_ms: int = 300               # blank between the two images (sequential layout)
    fixation_ms: int = 500          # fixation cross before the first image
    image_size: tuple[int, int] = (256, 256)  # (H, W) every stimulus is re-encoded to
    assignment: str = "balanced"
    # A session neither completed nor started within this many minutes counts as abandoned: balanced
    # assignment stops counting it (its participant can still come back and finish).
    session_timeout_minutes: int = 60
    seed: int = 0
    title: str = "Real or fake?"
    completion_code: str = ""
    redirect_url: str = ""          # may contain {code} and {pid}
    consent: str = DEFAULT_CONSENT
    instructions: str = DEFAULT_INSTRUCTIONS
    admin_token: str = ""
    database: str = ""              # SQLAlchemy URL; default: sqlite beside the TOML file
    vigilance: VigilanceConfig = field(default_factory=VigilanceConfig)

    @property
    def n_trials(self) -> int:
        return self.practice_trials + self.main_trials + self.vigilance.trials

    @property
    def labels(self) -> tuple[str, str]:
        """Accessible names of the two answer buttons."""
        return ("First", "Second") if self.layout == "sequential" else ("Left", "Right")

    def token(self) -> str:
        """Admin token: the environment wins over the file; '' disables the admin page."""
        return os.environ.get(ADMIN_TOKEN_ENV, "") or self.admin_token

    def database_url(self) -> str:
        if self.database:
            return self.database
        return f"sqlite:///{self.path.with_suffix('.db').resolve()}"

    def text(self, template: str) -> str:
        """Consent/instruction text with {ask}, {how}, {seconds}, {practice}, {main} filled in."""
        how = "one after the other" if self.layout == "sequential" else "side by side"
        values = {"ask": self.ask, "how": how, "seconds": f"{self.display_ms / 1000:g}",
                  "practice": self.practice_trials, "main": self.main_trials}
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            return template


_KEYS = {"name", "algorithms", "real", "pairing", "layout", "ask", "practice_trials", "main_trials",
         "display_ms", "gap_ms", "fixation_ms", "image_size", "assignment", "session_timeout_minutes",
         "seed", "title",
         "completion_code", "redirect_url", "consent", "instructions", "admin_token", "database",
         "vigilance"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")


def toml_value(v) -> str:
    """A TOML literal of a bool, number, string or list of them."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _int(path: Path, key: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InputError(f"'{key}' must be an integer in [{lo}, {hi}], got {value!r}", path)
    return value


def _choice(path: Path, key: str, value, choices) -> str:
    if value not in choices:
        raise InputError(f"'{key}' must be one of {', '.join(choices)}, got {value!r}", path)
    return value


def _str(path: Path, key: str, value) -> str:
    if not isinstance(value, str):
        raise InputError(f"'{key}' must be a string, got {value!r}", path)
    return value


def _folder(path: Path, key: str, value) -> Path:
    folder = Path(_str(path, key, value)).expanduser()
    if not folder.is_absolute():
        folder = path.parent / folder
    if not folder.is_dir():
        raise InputError(f"'{key}': no such folder {str(folder)!r}", path)
    return folder.resolve()


def load_study(path: str | Path) -> StudyConfig:
    """Read and check a study TOML file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError("no such study file", path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"not a valid TOML file ({e})", path) from None
    path = path.resolve()
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise InputError(f"unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(_KEYS))}",
                         path)
    for key in ("name", "algorithms", "real"):
        if key not in raw:
            raise InputError(f"missing '{key}'", path)
    name = _str(path, "name", raw["name"])
    if not _NAME.match(name):
        raise InputError(f"'name' must be 1-64 characters of letters, digits, _.+-, got {name!r}", path)
    algos = raw["algorithms"]
    if not isinstance(algos, dict) or not algos:
        raise InputError("'algorithms' must be a table of name = \"results folder\" with at least one "
                         "entry", path)
    algorithms = {}
    for algo, folder in algos.items():
        if not _NAME.match(algo):
            raise InputError(f"algorithm name {algo!r} must be 1-64 characters of letters, digits, _.+-",
                             path)
        algorithms[algo] = _folder(path, f"algorithms.{algo}", folder)
    kw: dict = {}
    for key, lo, hi in (("practice_trials", 0, 1000), ("main_trials", 1, 10000),
                        ("display_ms", 10, 60000), ("gap_ms", 0, 60000), ("fixation_ms", 0, 60000),
                        ("seed", 0, 2**31 - 1), ("session_timeout_minutes", 1, 7 * 24 * 60)):
        if key in raw:
            kw[key] = _int(path, key, raw[key], lo, hi)
    for key, choices in (("pairing", PAIRINGS), ("layout", LAYOUTS), ("assignment", ASSIGNMENTS),
                         ("ask", ASK)):
        if key in raw:
            kw[key] = _choice(path, key, raw[key], choices)
    for key in ("title", "completion_code", "redirect_url", "consent", "instructions",
                "admin_token", "database"):
        if key in raw:
            kw[key] = _str(path, key, raw[key])
    if "image_size" in raw:
        size = raw["image_size"]
        if isinstance(size, int) and not isinstance(size, bool):
            size = [size, size]
        if (not isinstance(size, list) or len(size) != 2
                or not all(isinstance(s, int) and not isinstance(s, bool) and 16 <= s <= 2048 for s in size)):
            raise InputError(f"'image_size' must be an integer or [height, width] in [16, 2048], "
                             f"got {raw['image_size']!r}", path)
        kw["image_size"] = (size[0], size[1])
    if kw.get("redirect_url") and not kw["redirect_url"].startswith(("https://", "http://")):
        raise InputError("'redirect_url' must start with https:// or http://", path)
    vig = raw.get("vigilance", {})
    if not isinstance(vig, dict) or set(vig) - {"trials", "fakes", "max_failures"}:
        raise InputError("'vigilance' must be a table with trials, fakes, max_failures", path)
    vtrials = _int(path, "vigilance.trials", vig.get("trials", 0), 0, 1000)
    fakes = _folder(path, "vigilance.fakes", vig["fakes"]) if "fakes" in vig else None
    if vtrials and fakes is None:
        raise InputError("'vigilance.trials' > 0 needs 'vigilance.fakes' (a folder of obviously "
                         "fake images)", path)
    kw["vigilance"] = VigilanceConfig(vtrials, fakes,
                                      _int(path, "vigilance.max_failures", vig.get("max_failures", 0),
                                           0, 1000))
    return StudyConfig(name=name, path=path, algorithms=algorithms,
                       real=_folder(path, "real", raw["real"]), **kw)
