"""Comparison tables from score files, like the pix2pix paper's: one row per label, columns per
metric, the best value per column marked by the metric's direction, published rows beside.

Rows: a score file gives one row (label: ``--label``, else the file's ``label``, else its
manifest's, else the file name); a file with a ``rows`` list (study analyses) gives one row per
entry. Rows of several metrics with the same label are joined into one row; rows are grouped by
the metrics they have. Published rows (``p2peval.report.published``) are appended, marked as published,
and never take part in the "best" marking (they were measured on other data with another scorer).

Significance between rows scored on the same images: the column's best row is compared with every
other row by a paired bootstrap of the difference (the same resampled images on both sides); a
``*`` marks a value whose 95% interval of the difference from the best excludes 0. The interval is
the symmetric bootstrap interval, the same rule as the score files' intervals
(``p2peval.metrics.bootstrap``). This needs
per-image data next to each score file, named by the score file's ``frames_file`` key (a path
relative to the score file) or given inline under ``frames``:

* ``fcn-score`` / ``label-score``: an ``.npz`` with ``ids`` (N,) str, the frame ids, and
  ``confusion`` (N, 19, 20) int64, the per-frame extended confusion matrices of
  ``p2peval.metrics.confusion.frame_confusion`` (inline: ``{"ids": [...], "confusion": [...]}``).
  Two rows are paired when their ``inputs.file_list_sha256`` and confusion modes are equal.
* ``color-hist``: the sidecar written by ``p2peval color-hist`` (``ids``, ``counts``, ``ref_ids``,
  ``ref_counts``, ``bins``); paired when the result ids, reference ids and bins are equal.
* ``study``: rows of one analysis file are compared with the file's own ``comparisons``
  (permutation test p-value).
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from p2peval.core.atomic import write_text_atomic
from p2peval.core.errors import ConfigError, InputError
from p2peval.data.manifest import manifest_label

CONFUSION_METRICS = ("fcn-score", "label-score")
HEADERS = {
    "per_pixel_acc": "Per-pixel acc.", "per_class_acc": "Per-class acc.", "class_iou": "Class IOU",
    "L": "Lab L", "a": "Lab a", "b": "Lab b", "pct_labeled_real": "% labeled real",
}
FORMATS = ("md", "latex", "csv", "html")
CI_STYLES = ("se", "interval", "none")


@dataclass
class Entry:
    """One metric's numbers for one row."""

    metric: str
    values: dict
    ci: dict
    higher_is_better: dict
    path: Path | None = None
    score: dict | None = None     # the whole score file (pairing data), None for published rows
    row: dict | None = None       # the entry of a multi-row file


@dataclass
class Row:
    label: str
    entries: dict[str, Entry] = field(default_factory=dict)
    published: str | None = None  # published table name, None for measured rows

    @property
    def group(self) -> tuple[str, ...]:
        return tuple(self.entries)


@dataclass(frozen=True)
class Column:
    metric: str
    key: str
    header: str
    higher_is_better: bool
    decimals: int


@dataclass
class Comparison:
    """Paired bootstrap of ``value(a) - value(b)`` over shared images."""

    metric: str
    key: str
    a: str
    b: str
    difference: float
    ci: tuple[float, float]
    significant: bool
    method: str


@dataclass
class Table:
    columns: list[Column]
    rows: list[Row]
    best: dict[tuple[str, str], set[str]]          # (metric, key) -> labels of the best rows
    marks: dict[tuple[str, str, str], str]         # (label, metric, key) -> "*"
    comparisons: list[Comparison]
    notes: list[str]
    ci_style: str = "se"


# ---------------------------------------------------------------- loading

def _check_values(values, path) -> dict:
    if not isinstance(values, dict):
        raise InputError("'values' is not an object; cannot render it as a table row", path)
    for k, v in values.items():
        if v is not None and not isinstance(v, (int, float)):
            raise InputError(f"value {k!r} is {type(v).__name__}, not a number; cannot render it", path)
    return values


def _check_ci(ci, values: dict, path) -> dict:
    """The CI entries a table shows must be numbers: [lo, hi] and ``<key>_se``."""
    if ci is None:
        return {}
    if not isinstance(ci, dict):
        raise InputError("'ci' is not an object; cannot render it", path)
    num = (int, float)
    for k in values:
        iv, se = ci.get(k), ci.get(k + "_se")
        if iv is not None and not (isinstance(iv, (list, tuple)) and len(iv) == 2
                                   and all(x is None or isinstance(x, num) for x in iv)):
            raise InputError(f"ci {k!r} is not [lo, hi] numbers; cannot render it", path)
        if se is not None and not isinstance(se, num):
            raise InputError(f"ci {k + '_se'!r} is not a number; cannot render it", path)
    return ci


def entries_of(path: str | Path, label: str | None = None) -> list[tuple[str, Entry]]:
    """(label, entry) pairs of one score file (several for files with a ``rows`` list)."""
    from p2peval.report.scorefile import read_score

    path = Path(path)
    score = read_score(path)
    metric = str(score["metric"])
    rows = score.get("rows")
    if rows is not None:
        if label is not None:
            raise ConfigError(f"{path}: --label cannot rename the {len(rows)} rows of a multi-row score file")
        if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("label"), str)
                                                   for r in rows):
            raise InputError("'rows' must be a list of objects with a 'label'; cannot render it", path)
        out = []
        for r in rows:
            hib = r.get("higher_is_better", score["higher_is_better"])
            values = _check_values(r.get("values"), path)
            out.append((r["label"], Entry(metric, values, _check_ci(r.get("ci"), values, path), hib, path,
                                          score, r)))
        return out
    label = label or score.get("label") or manifest_label(score.get("manifest")) or path.stem
    values = _check_values(score["values"], path)
    return [(str(label), Entry(metric, values, _check_ci(score.get("ci"), values, path),
                               score["higher_is_better"], path, score))]


def load_rows(paths: list[str | Path], labels: list[str] | None = None) -> list[Row]:
    """Rows from score files, joined by label; refuses two files giving one metric one label."""
    if labels is not None and len(labels) != len(paths):
        raise ConfigError(f"--label given {len(labels)} times for {len(paths)} score files")
    rows: dict[str, Row] = {}
    for i, p in enumerate(paths):
        for label, entry in entries_of(p, labels[i] if labels else None):
            row = rows.setdefault(label, Row(label))
            if entry.metric in row.entries:
                other = row.entries[entry.metric].path
                raise ConfigError(f"two score files give {entry.metric} for row {label!r} ({other} and {p}); "
                                  "give each a --label")
            row.entries[entry.metric] = entry
    # Group rows by the metrics they have, keeping first-appearance order within and across groups.
    order = list(rows.values())
    groups: list[tuple[str, ...]] = []
    for r in order:
        if r.group not in groups:
            groups.append(r.group)
    return [r for g in groups for r in order if r.group == g]


def published_rows(names: list[str]) -> tuple[list[Row], list[str]]:
    """Rows of the named published tables, and one note per table."""
    from p2peval.report.published import get_published

    rows, notes = [], []
    for name in names:
        t = get_published(name)
        for r in t.score_rows():
            row = Row(r["label"], published=name)
            row.entries[t.metric] = Entry(t.metric, r["values"], r["ci"], r["higher_is_better"])
            rows.append(row)
        notes.append(f"published [{name}]: {t.source}; {t.task}" + (f"; {t.note}" if t.note else ""))
    return rows, notes


# ---------------------------------------------------------------- paired bootstrap

def _frames_data(entry: Entry) -> dict | None:
    from p2peval.report.scorefile import read_sidecar

    return read_sidecar(entry.score or {}, entry.path)


def _confusion_mode(score: dict) -> str | None:
    return score.get("confusion_mode") or (score.get("protocol") or {}).get("index19")


def _paired_confusion(ea: Entry, eb: Entry, keys, n_resamples, seed, level):
    from p2peval.metrics.bootstrap import bootstrap, summarise
    from p2peval.metrics.confusion import frame_hists, scores_from_hist

    sa, sb = ea.score, eb.score
    if (sa["inputs"].get("file_list_sha256") is None
            or sa["inputs"].get("file_list_sha256") != sb["inputs"].get("file_list_sha256")):
        return None
    mode = _confusion_mode(sa)
    if mode is None or mode != _confusion_mode(sb):
        return None
    fa, fb = _frames_data(ea), _frames_data(eb)
    if fa is None or fb is None or "confusion" not in fa or "confusion" not in fb:
        return None
    ida, idb = [str(x) for x in fa["ids"]], [str(x) for x in fb["ids"]]
    if sorted(ida) != sorted(idb) or len(set(ida)) != len(ida):
        return None
    ob = {fid: i for i, fid in enumerate(idb)}
    ca = np.asarray(fa["confusion"], np.int64)
    cb = np.asarray(fb["confusion"], np.int64)[[ob[f] for f in ida]]
    flat = []
    for c in (ca, cb):
        hist, extra, _ = frame_hists(c, mode)
        n = hist.shape[-1]
        flat.append((np.concatenate([hist.reshape(len(c), -1), extra], 1).astype(np.float64), n))

    def scores(w, f):
        tot = w @ f[0]
        n = f[1]
        return scores_from_hist(tot[:, : n * n].reshape(-1, n, n), tot[:, n * n:] if mode == "strict" else None)

    def stat(w):
        a, b = scores(w, flat[0]), scores(w, flat[1])
        return {k: a[k] - b[k] for k in keys}

    one = np.ones((1, len(ida)))
    point = {k: float(v[0]) for k, v in stat(one).items()}
    samples = bootstrap(stat, (len(ida),), paired=True, n_resamples=n_resamples, seed=seed)
    ci = summarise(samples, point, level, bounds=(-1.0, 1.0))
    return point, ci, f"paired symmetric bootstrap over {len(ida)} frames"


def _paired_color(ea: Entry, eb: Entry, keys, n_resamples, seed, level):
    from p2peval.metrics.bootstrap import bootstrap, summarise
    from p2peval.metrics.color import LabBins, intersection_from_counts

    fa, fb = _frames_data(ea), _frames_data(eb)
    if fa is None or fb is None or not all("counts" in f and "ref_counts" in f for f in (fa, fb)):
        return None
    if ea.score.get("bins") != eb.score.get("bins"):
        return None
    ida, idb = [str(x) for x in fa["ids"]], [str(x) for x in fb["ids"]]
    ra, rb = [str(x) for x in fa["ref_ids"]], [str(x) for x in fb["ref_ids"]]
    if ida != idb or ra != rb:  # both sidecars are sorted by key
        return None
    if not np.array_equal(fa["ref_counts"], fb["ref_counts"]):
        return None
    bins = LabBins.from_dict(ea.score["bins"])
    ca, cb = fa["counts"].astype(np.float64), fb["counts"].astype(np.float64)
    ref = fa["ref_counts"].astype(np.float64)
    paired_ref = ea.score["inputs"].get("pairing") == "paired" and eb.score["inputs"].get("pairing") == "paired"

    def stat(w, w_ref):
        r = w_ref @ ref
        a = intersection_from_counts(w @ ca, r, bins)
        b = intersection_from_counts(w @ cb, r, bins)
        return {k: a[k] - b[k] for k in keys}

    point = {k: float(v[0]) for k, v in stat(np.ones((1, len(ida))), np.ones((1, len(ra)))).items()}
    samples = bootstrap(stat, (len(ida), len(ra)), paired=paired_ref, n_resamples=n_resamples, seed=seed)
    ci = summarise(samples, point, level, bounds=(-1.0, 1.0))
    return point, ci, (f"paired symmetric bootstrap over {len(ida)} images"
                                              + ("" if paired_ref else ", reference resampled independently"))


def _study_comparison(ea: Entry, eb: Entry, key, a: str, b: str, level: float):
    if ea.score is not eb.score:
        return None
    for c in ea.score.get("comparisons") or []:
        if {c.get("a"), c.get("b")} == {a, b} and c.get("p_permutation") is not None:
            sign = 1 if c["a"] == a else -1
            lo, hi = c.get("ci", [None, None])
            ci = (sign * lo, sign * hi) if sign == 1 else (-hi, -lo)
            return Comparison(ea.metric, key, a, b, sign * c["difference"], ci,
                              c["p_permutation"] < 1 - level, "permutation test of participant rates")
    return None


def paired_comparison(ra: Row, rb: Row, metric: str, keys: list[str], *, n_resamples: int = 1000,
                      seed: int = 0, level: float = 0.95) -> list[Comparison]:
    """Comparisons ``a - b`` for the metric's ``keys``; empty when the rows are not paired."""
    ea, eb = ra.entries.get(metric), rb.entries.get(metric)
    if ea is None or eb is None or ea.score is None or eb.score is None:
        return []
    if metric == "study":
        out = [_study_comparison(ea, eb, k, ra.label, rb.label, level) for k in keys]
        return [c for c in out if c is not None]
    if metric in CONFUSION_METRICS:
        res = _paired_confusion(ea, eb, keys, n_resamples, seed, level)
    elif metric == "color-hist":
        res = _paired_color(ea, eb, keys, n_resamples, seed, level)
    else:
        return []
    if res is None:
        return []
    point, ci, method = res
    out = []
    for k in keys:
        lo, hi = ci[k]
        out.append(Comparison(metric, k, ra.label, rb.label, point[k], (lo, hi), not (lo <= 0 <= hi), method))
    return out


# ---------------------------------------------------------------- building

def _columns(rows: list[Row]) -> list[Column]:
    cols: dict[tuple[str, str], Column] = {}
    for r in rows:
        for metric, e in r.entries.items():
            for k in e.values:
                if (metric, k) not in cols:
                    decimals = 1 if metric == "study" else 3
                    cols[(metric, k)] = Column(metric, k, HEADERS.get(k, k), bool(e.higher_is_better.get(k, True)),
                                               decimals)
    # Headers must be unique: qualify clashes with the metric name.
    headers = [c.header for c in cols.values()]
    return [Column(c.metric, c.key, f"{c.metric} {c.header}" if headers.count(c.header) > 1 else c.header,
                   c.higher_is_better, c.decimals) for c in cols.values()]


def build_table(paths: list[str | Path], *, labels: list[str] | None = None, published: list[str] | None = None,
                ci_style: str = "se", n_resamples: int = 1000, seed: int = 0, level: float = 0.95) -> Table:
    """Read score files and build the table (best marks, significance marks, notes)."""
    if ci_style not in CI_STYLES:
        raise ConfigError(f"unknown CI style {ci_style!r}; valid choices: {', '.join(CI_STYLES)}")
    if not paths and not published:
        raise ConfigError("no score files given (and no --published table)")
    rows = load_rows(list(paths), labels)
    pub_rows, notes = published_rows(list(published or []))
    for r in pub_rows:
        if any(m.label == r.label and m.published == r.published for m in pub_rows if m is not r):
            raise ConfigError(f"published table {r.published} has two rows {r.label!r}")
    all_rows = rows + pub_rows
    columns = _columns(all_rows)
    best: dict[tuple[str, str], set[str]] = {}
    marks: dict[tuple[str, str, str], str] = {}
    comparisons: list[Comparison] = []
    cache: dict[tuple[str, str, str], list[Comparison]] = {}
    for col in columns:
        cand = [(r, r.entries[col.metric].values.get(col.key)) for r in rows
                if col.metric in r.entries and r.entries[col.metric].values.get(col.key) is not None]
        if len(cand) < 2:
            continue
        top = (max if col.higher_is_better else min)(v for _, v in cand)
        best[(col.metric, col.key)] = {r.label for r, v in cand if v == top}
        best_row = next(r for r, v in cand if v == top)
        keys = [c.key for c in columns if c.metric == col.metric]
        for r, v in cand:
            if r is best_row:
                continue
            ck = (col.metric, best_row.label, r.label)
            if ck not in cache:
                cache[ck] = paired_comparison(best_row, r, col.metric, keys, n_resamples=n_resamples,
                                              seed=seed, level=level)
                comparisons.extend(cache[ck])
            for c in cache[ck]:
                if c.key == col.key and c.significant and r.label not in best[(col.metric, col.key)]:
                    marks[(r.label, col.metric, col.key)] = "*"
    notes = _legend(columns, rows, pub_rows, comparisons, ci_style, level, n_resamples) + notes
    return Table(columns, all_rows, best, marks, comparisons, notes, ci_style)


def _legend(columns, rows, pub_rows, comparisons, ci_style, level, n_resamples) -> list[str]:
    dirs = sorted({f"{c.header} {'higher' if c.higher_is_better else 'lower'}" for c in columns})
    out = [f"best measured value per column in bold ({'; '.join(dirs)} is better)"]
    if ci_style == "se":
        out.append("+/- is the bootstrap standard error from the score file")
    elif ci_style == "interval":
        out.append("[lo, hi] is the confidence interval from the score file")
    if comparisons:
        n_sig = sum(c.significant for c in comparisons)
        out.append(f"* differs significantly from the column's best ({100 * level:g}% paired symmetric bootstrap "
                   "interval "
                   f"of the difference excludes 0, {n_resamples} resamples over the shared images); "
                   f"{len(comparisons)} comparisons, {n_sig} significant")
    else:
        out.append("no significance marks: no two rows were scored on the same images with per-image data")
    not_comparable = [r.label for r in rows for e in r.entries.values() if e.score is not None
                      and e.metric in CONFUSION_METRICS and not e.score.get("comparable_with_published", False)]
    if pub_rows and not_comparable:
        out.append("measured rows not comparable with published numbers (other protocol, data or scorer): "
                   + ", ".join(dict.fromkeys(not_comparable)))
    return out


# ---------------------------------------------------------------- rendering

def _fmt(v: float | None, d: int) -> str:
    return "-" if v is None else f"{v:.{d}f}"


def _cell_parts(table: Table, row: Row, col: Column) -> tuple[str, str, bool, str]:
    """(value text, uncertainty text, is best, mark)."""
    e = row.entries.get(col.metric)
    v = None if e is None else e.values.get(col.key)
    if v is None:
        return "", "", False, ""
    unc = ""
    if table.ci_style == "se" and e.ci.get(col.key + "_se") is not None:
        unc = f"{e.ci[col.key + '_se']:.{col.decimals}f}"
    elif table.ci_style == "interval" and isinstance(e.ci.get(col.key), (list, tuple)) \
            and None not in e.ci[col.key]:
        lo, hi = e.ci[col.key]
        unc = f"[{lo:.{col.decimals}f}, {hi:.{col.decimals}f}]"
    if row.published is not None:  # published rows are shown, never marked
        return _fmt(v, col.decimals), unc, False, ""
    is_best = row.label in table.best.get((col.metric, col.key), set())
    return _fmt(v, col.decimals), unc, is_best, table.marks.get((row.label, col.metric, col.key), "")


def _cell_text(table: Table, row: Row, col: Column, bold, plus_minus: str, sup, escape=str) -> str:
    """One cell in a markup: ``bold``/``sup`` wrap text, ``plus_minus`` joins a standard error
    (intervals follow after a space); empty where the row has no value."""
    v, unc, is_best, mark = _cell_parts(table, row, col)
    if not v:
        return ""
    t = bold(escape(v)) if is_best else escape(v)
    if unc:
        t += (plus_minus if table.ci_style == "se" else " ") + escape(unc)
    if mark:
        t += sup(escape(mark))
    return t


def _label(row: Row) -> str:
    return row.label + (" (published)" if row.published else "")


def _source(row: Row) -> str:
    if row.published:
        return f"published [{row.published}]"
    return "measured"


def render_markdown(table: Table) -> str:
    has_pub = any(r.published for r in table.rows)
    head = ["Row"] + (["Source"] if has_pub else []) + [c.header for c in table.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + (["---"] if has_pub else [])
                                                            + ["---:"] * len(table.columns)) + "|"]
    for r in table.rows:
        cells = [_cell_text(table, r, c, lambda t: f"**{t}**", " ± ", str) for c in table.columns]
        lines.append("| " + " | ".join([_label(r).replace("|", "\\|")] + ([_source(r)] if has_pub else [])
                                       + cells) + " |")
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in table.notes) + "\n"


def _tex(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"),
                 ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\^{}")):
        s = s.replace(a, b)
    return s.replace("->", r"$\rightarrow$").replace("+/-", r"$\pm$")


def render_latex(table: Table) -> str:
    has_pub = any(r.published for r in table.rows)
    ncols = len(table.columns)
    spec = "l" + ("l" if has_pub else "") + "r" * ncols
    head = ["Row"] + (["Source"] if has_pub else []) + [c.header for c in table.columns]
    out = [r"\begin{tabular}{" + spec + "}", r"\toprule", " & ".join(_tex(h) for h in head) + r" \\", r"\midrule"]
    prev = table.rows[0].published if table.rows else None
    for r in table.rows:
        if (r.published is None) != (prev is None):  # a rule between measured and published rows
            out.append(r"\midrule")
        prev = r.published
        cells = [_cell_text(table, r, c, lambda t: rf"\textbf{{{t}}}", r" $\pm$ ",
                            lambda t: r"\textsuperscript{" + t + "}") for c in table.columns]
        label = _tex(r.label) + (r" \textit{(published)}" if r.published else "")
        out.append(" & ".join([label] + ([_tex(_source(r))] if has_pub else []) + cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", ""]
    out += [f"% {n}" for n in table.notes]
    return "\n".join(out) + "\n"


def render_html(table: Table) -> str:
    has_pub = any(r.published for r in table.rows)
    e = html.escape
    head = ["Row"] + (["Source"] if has_pub else []) + [c.header for c in table.columns]
    out = ["<table class=\"p2peval\">", "<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr></thead>",
           "<tbody>"]
    for r in table.rows:
        cells = ["<td>" + _cell_text(table, r, c, lambda t: f"<b>{t}</b>", " &plusmn; ",
                                     lambda t: f"<sup>{t}</sup>", e) + "</td>" for c in table.columns]
        cls = ' class="published"' if r.published else ""
        out.append(f"<tr{cls}><td>{e(_label(r))}</td>" + (f"<td>{e(_source(r))}</td>" if has_pub else "")
                   + "".join(cells) + "</tr>")
    out += ["</tbody>", "</table>"] + [f"<p>{e(n)}</p>" for n in table.notes]
    return "\n".join(out) + "\n"


def render_csv(table: Table) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    head = ["row", "source"]
    for c in table.columns:
        head += [c.header, f"{c.header} lo", f"{c.header} hi", f"{c.header} se", f"{c.header} best",
                 f"{c.header} mark"]
    w.writerow(head)
    for r in table.rows:
        line = [r.label, _source(r)]
        for c in table.columns:
            e = r.entries.get(c.metric)
            v = None if e is None else e.values.get(c.key)
            ci = {} if e is None else e.ci
            lohi = ci.get(c.key) if isinstance(ci.get(c.key), (list, tuple)) else [None, None]
            _, _, is_best, mark = _cell_parts(table, r, c)
            line += ["" if v is None else repr(float(v)),
                     "" if lohi[0] is None else repr(float(lohi[0])), "" if lohi[1] is None else repr(float(lohi[1])),
                     "" if ci.get(c.key + "_se") is None else repr(float(ci[c.key + "_se"])),
                     int(is_best) if v is not None else "", mark]
        w.writerow(line)
    return buf.getvalue()


RENDERERS = {"md": render_markdown, "latex": render_latex, "csv": render_csv, "html": render_html}


def render(table: Table, fmt: str = "md") -> str:
    """The table as markdown, LaTeX (booktabs), CSV or HTML."""
    try:
        return RENDERERS[fmt](table)
    except KeyError:
        raise ConfigError(f"unknown table format {fmt!r}; valid choices: {', '.join(FORMATS)}") from None


def comparisons_json(table: Table) -> list[dict]:
    return [{"metric": c.metric, "key": c.key, "a": c.a, "b": c.b, "difference": c.difference,
             "ci": list(c.ci), "significant": c.significant, "method": c.method} for c in table.comparisons]


def write_table(paths: list[str | Path], out: str | Path, fmt: str | None = None, **kwargs) -> Path:
    """Build and write a table (format from ``fmt`` or the suffix: .md, .tex, .csv, .html)."""

    out = Path(out)
    fmt = fmt or {".md": "md", ".tex": "latex", ".csv": "csv", ".html": "html"}.get(out.suffix.lower(), "md")
    text = render(build_table(paths, **kwargs), fmt)
    write_text_atomic(out, text)
    return out


def list_published() -> str:
    """One block per published table: name, source, rows."""
    from p2peval.report.published import PUBLISHED

    lines = []
    for name in PUBLISHED.names():
        t = PUBLISHED.get(name)
        lines.append(f"{name}  ({t.metric}: {', '.join(t.keys)})\n  {t.source}; {t.task}" + (f"; {t.note}" if t.note else ""))
        for r in t.rows:
            vals = " / ".join(f"{v:g}" + (f" +/- {s:g}" if r.se else "") for v, s in zip(r.values, r.se or r.values))
            lines.append(f"    {r.label:<26} {vals}")
    return "\n".join(lines)

