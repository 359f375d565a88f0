"""Published numbers (docs/reference.md section 2) as data, for tables beside the user's rows.

Each ``PublishedTable`` is a named set of rows from one source. Values are as printed in the
paper (no CIs were published for FCN-scores; the perceptual studies give mean +/- standard error).
Only scores made under protocol ``pix2pix`` on real Cityscapes with the reference FCN-8s are
comparable with the FCN-score rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from p2peval.core.registry import Registry

FCN = ("per_pixel_acc", "per_class_acc", "class_iou")
LAB = ("L", "a", "b")
STUDY = "pct_labeled_real"


@dataclass(frozen=True)
class PublishedRow:
    label: str
    values: tuple[float, ...]
    se: tuple[float, ...] | None = None


@dataclass(frozen=True)
class PublishedTable:
    name: str
    source: str       # where the numbers were printed
    task: str         # dataset and direction
    metric: str       # score-file metric these rows sit beside ("fcn-score", "color-hist", "study")
    keys: tuple[str, ...]  # value names, in the order of ``PublishedRow.values``
    rows: tuple[PublishedRow, ...]
    note: str = ""

    def score_rows(self) -> list[dict]:
        """Rows shaped like score-file rows (label, metric, values, ci, higher_is_better)."""
        out = []
        for r in self.rows:
            ci = {k + "_se": se for k, se in zip(self.keys, r.se)} if r.se else {}
            out.append({"label": r.label, "metric": self.metric, "values": dict(zip(self.keys, r.values)),
                        "ci": ci, "higher_is_better": {k: True for k in self.keys}})
        return out


PUBLISHED: Registry[PublishedTable] = Registry("published table")


def _fcn(name: str, source: str, task: str, rows: list[tuple[str, float, float, float]], note: str = "",
         metric: str = "fcn-score"):
    PUBLISHED.register(name, PublishedTable(name, source, task, metric, FCN,
                                            tuple(PublishedRow(l, (a, b, c)) for l, a, b, c in rows), note))


_P2P = "pix2pix (Isola et al., CVPR 2017)"
_CS = "Cityscapes labels -> photo, 256x256, reference FCN-8s"
_fcn("losses", f"{_P2P}, Table 1 (losses)", _CS, [
    ("L1", 0.42, 0.15, 0.11), ("GAN", 0.22, 0.05, 0.01), ("cGAN", 0.57, 0.22, 0.16),
    ("L1+GAN", 0.64, 0.20, 0.15), ("L1+cGAN", 0.66, 0.23, 0.17), ("ground truth", 0.80, 0.26, 0.21)])
_fcn("generator", f"{_P2P}, Table 2 (generator, batch 10)", _CS, [
    ("encoder-decoder L1", 0.35, 0.12, 0.08), ("encoder-decoder L1+cGAN", 0.29, 0.09, 0.05),
    ("U-Net L1", 0.48, 0.18, 0.13), ("U-Net L1+cGAN", 0.55, 0.20, 0.14)])
_fcn("discriminator", f"{_P2P}, Table 3 (discriminator receptive field)", _CS, [
    ("1x1 PixelGAN", 0.39, 0.15, 0.10), ("16x16 PatchGAN", 0.65, 0.21, 0.17),
    ("70x70 PatchGAN", 0.66, 0.23, 0.17), ("286x286 ImageGAN", 0.42, 0.16, 0.11)])
_fcn("photo2labels", f"{_P2P}, photo -> labels", "Cityscapes photo -> labels, 256x256 (label-score)", [
    ("L1", 0.86, 0.42, 0.35), ("cGAN", 0.74, 0.28, 0.22), ("L1+cGAN", 0.83, 0.36, 0.29)],
    metric="label-score")
# The CycleGAN paper's comparison on Cityscapes at 128x128, scored with the pix2pix evaluator (the
# reference FCN-8s; protocol ``cyclegan``). Only the pix2pix and CycleGAN rows are given here: the
# other methods of those tables and the loss ablation are left out until checked against the paper.
_CG = "CycleGAN (Zhu et al., ICCV 2017, arXiv 1703.10593), Cityscapes comparison"
_fcn("cyclegan-labels2photo", f"{_CG}, labels -> photo (FCN-scores)", "Cityscapes labels -> photo, 128x128", [
    ("pix2pix", 0.71, 0.25, 0.18), ("CycleGAN", 0.52, 0.17, 0.11)],
    note="protocol cyclegan; pix2pix trained on paired data (an upper bound)")
_fcn("cyclegan-photo2labels", f"{_CG}, photo -> labels (classification performance)",
     "Cityscapes photo -> labels, 128x128", [
    ("pix2pix", 0.85, 0.40, 0.32), ("CycleGAN", 0.58, 0.22, 0.16)], metric="label-score",
    note="protocol cyclegan; pix2pix trained on paired data (an upper bound)")
PUBLISHED.register("color-losses", PublishedTable(
    "color-losses", f"{_P2P}, Figure 7 (secondary source)", "Cityscapes labels -> photo, Lab histogram intersection",
    "color-hist", LAB, (PublishedRow("L1", (0.81, 0.69, 0.70)), PublishedRow("cGAN", (0.87, 0.74, 0.84)),
                        PublishedRow("L1+cGAN", (0.86, 0.84, 0.82))),
    note="bins never published: p2peval's bins differ"))
for _name, _task, _rows in (
        ("study-photo2map", "maps: photo -> map, % labeled real",
         (("L1", 2.8, 1.0), ("L1+cGAN", 6.1, 1.3))),
        ("study-map2photo", "maps: map -> photo, % labeled real",
         (("L1", 0.8, 0.3), ("L1+cGAN", 18.9, 2.5))),
        ("study-colorization", "colorization, % labeled real",
         (("L2 regression", 16.3, 2.4), ("Zhang et al.", 27.8, 2.7), ("pix2pix", 22.5, 1.6)))):
    PUBLISHED.register(_name, PublishedTable(
        _name, f"{_P2P}, perceptual study", _task, "study", (STUDY,),
        tuple(PublishedRow(l, (v,), (se,)) for l, v, se in _rows), note="mean +/- bootstrap SE"))


def get_published(name: str) -> PublishedTable:
    """The published table called ``name``; unknown names raise with the valid choices."""
    return PUBLISHED.get(name)
