"""The repository stands alone: every page, link and fixture it refers to is inside it, and no
test can be skipped.

The checks read the files git tracks (or, outside a git checkout, every file under the root but
build outputs), so a fresh clone runs them as they are.
"""

from __future__ import annotations

import re
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEXT_SUFFIXES = {".py", ".md", ".sh", ".toml", ".txt", ".cfg", ".ini", ".yml", ".yaml", ".js", ".css",
                 ".c", ".json", ".csv", ".tex", ".html", ""}
NOT_SOURCE = {".git", ".venv", "build", "__pycache__", ".pytest_cache"}
# Built from pieces so that this file does not match its own patterns.
OUTSIDE_PATHS = ("../" + "shared", "/work/" + "shared")
SKIP_PATTERNS = [re.compile(p) for p in (
    r"pytest\s*\.\s*skip\s*\(",
    r"mark\s*\.\s*skip(if)?\b",
    r"importorskip",
    r"\bskipif\s*\(",
    r"allow_module_level",
)]
MD_NAME = re.compile(r"(?<![\w{}*<>$:/.-])((?:\.{1,2}/)*\w[\w./-]*\.md)(?!\w|\.\w)")
LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@lru_cache(maxsize=1)
def tracked_files() -> tuple[Path, ...]:
    """Files of the repository: git's list in a checkout, else a walk that leaves out build outputs."""
    if (ROOT / ".git").exists():
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, check=True).stdout.decode()
        paths = [ROOT / p for p in out.split("\0") if p]
    else:
        paths = [p for p in ROOT.rglob("*") if not NOT_SOURCE.intersection(p.relative_to(ROOT).parts)]
    return tuple(sorted(p for p in paths if p.is_file()))


def text_files() -> list[Path]:
    return [p for p in tracked_files() if p.suffix in TEXT_SUFFIXES and b"\0" not in p.read_bytes()[:4096]]


def markdown_pages() -> list[Path]:
    return [p for p in tracked_files() if p.suffix == ".md"]


def rel(p: Path) -> str:
    return p.relative_to(ROOT).as_posix()


def test_nothing_points_outside_the_repository():
    hits = [f"{rel(p)}:{n}: {line.strip()}"
            for p in text_files()
            for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
            if any(s in line for s in OUTSIDE_PATHS)]
    assert not hits, "paths outside the repository:\n" + "\n".join(hits)


def cited_markdown(name: str) -> bool:
    """Whether a ``*.md`` name is a citation of a repository file rather than an output name
    (``--out t.md``, ``OUT/README.md``, ``results/demo/table.md`` written by a command).

    Citations are upper-case names (README.md, a project document) and paths that start in a
    directory of the repository that git keeps (``docs/...``, ``tests/fixtures/...``, ``../x.md``).
    """
    if "/" not in name:
        return Path(name).stem.isupper()
    if name.startswith("../"):
        return True
    first = name.split("/")[0]
    if not (ROOT / first).is_dir():
        return False
    if (ROOT / ".git").exists():
        ignored = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT).returncode == 0
        return not ignored
    return True


def test_every_cited_markdown_file_exists():
    """A ``*.md`` file cited in code, scripts or docs exists in the repository: by its path from
    the root or from the citing file, or (a bare name such as README.md) by its file name."""
    names = {p.name for p in tracked_files()}
    missing = []
    for p in text_files():
        if p.suffix in {".json", ".csv", ".tex", ".html"} or p == Path(__file__).resolve():
            continue  # generated outputs, and the examples of this file
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
            for m in MD_NAME.finditer(line):
                name = m.group(1)
                if not cited_markdown(name):
                    continue
                if "/" in name:
                    ok = (ROOT / name).is_file() or (p.parent / name).resolve().is_file()
                else:
                    ok = name in names
                if not ok:
                    missing.append(f"{rel(p)}:{n}: {name}")
    assert not missing, "cited markdown files that are not in the repository:\n" + "\n".join(missing)


def test_citation_rule():
    """Project documents and repository paths count as citations; output names do not."""
    assert cited_markdown("CHANGES.md") and cited_markdown("README.md")
    assert cited_markdown("docs/nowhere.md") and cited_markdown("../nowhere.md")
    assert not cited_markdown("t.md") and not cited_markdown("OUT/README.md")
    assert not cited_markdown("results/demo/table.md")  # written by make demo, ignored by git
    assert MD_NAME.findall("see docs/reference.md, section 1; https://x.org/a/B.md") == ["docs/reference.md"]
    assert MD_NAME.findall("(../docs/a.md) f'.README.md.tmp{pid}' README.md.") == ["../docs/a.md", "README.md"]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|__", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found, seen, fenced = set(), {}, False
    for line in page.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        m = None if fenced else HEADING.match(line)
        if m:
            base = slug(m.group(2))
            k = seen.get(base, 0)
            found.add(base if k == 0 else f"{base}-{k}")
            seen[base] = k + 1
    return found


def links(page: Path) -> list[tuple[int, str]]:
    out, fenced = [], False
    for n, line in enumerate(page.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            out.extend((n, m.group(1)) for m in LINK.finditer(re.sub(r"`[^`]*`", "", line)))
    return out


def test_markdown_links_resolve():
    """Relative links of the README and the docs pages lead to files that exist, and anchors to
    headings that exist."""
    broken = []
    for page in markdown_pages():
        for n, target in links(page):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists() or ROOT not in dest.parents and dest != ROOT:
                broken.append(f"{rel(page)}:{n}: {target} (no such file in the repository)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{rel(page)}:{n}: {target} (no heading with that anchor)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_readme_is_a_landing_page():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert len(readme.splitlines()) <= 220
    docs = {t.partition("#")[0] for _, t in links(ROOT / "README.md") if t.startswith("docs/")}
    pages = {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}
    assert pages <= docs, f"docs pages the README does not link: {sorted(pages - docs)}"


def test_every_fixture_says_where_it_comes_from():
    folders = [d for d in sorted((ROOT / "tests" / "fixtures").iterdir()) if d.is_dir()]
    assert folders, "tests/fixtures/ holds the test data kept in the repository"
    for d in folders:
        assert (d / "README.md").is_file(), f"{rel(d)} has no README.md saying where its files come from"


def test_no_test_can_be_skipped():
    """Zero skipped tests: no skip marker, skip call or importorskip anywhere in the suite (a test
    whose system dependency is missing fails and says how to install it)."""
    hits = [f"{rel(p)}:{n}: {line.strip()}"
            for p in sorted((ROOT / "tests").rglob("*.py")) if p != Path(__file__).resolve()
            for n, line in enumerate(p.read_text().splitlines(), 1)
            if any(pat.search(line) for pat in SKIP_PATTERNS)]
    assert not hits, "tests that can be skipped:\n" + "\n".join(hits)
    config = (ROOT / "pyproject.toml").read_text()
    addopts = re.search(r"^addopts\s*=\s*(.*)$", config, re.M)
    assert addopts is None or not re.search(r"(^|\s|\")(-m|-k|--deselect)\b", addopts.group(1)), \
        "pytest's addopts deselect tests"


@pytest.mark.parametrize("pattern,line", [
    (0, "    pytest.skip('no gpu')"),
    (1, "@pytest.mark.skipif(True, reason='x')"),
    (1, "pytestmark = pytest.mark.skip"),
    (2, "np = pytest.importorskip('numpy')"),
    (3, "c = skipif(not C_BUILT)"),
])
def test_skip_patterns_catch_skips(pattern, line):
    """The patterns of ``test_no_test_can_be_skipped`` (which leaves this file out) find the usual
    ways to skip."""
    assert SKIP_PATTERNS[pattern].search(line)
