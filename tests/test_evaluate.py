"""fcn-score end to end against an independent numpy/PIL version of the reference evaluator."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from evaluate_data import make_scorer, scoring_options, write_cityscapes, write_results
from p2peval.cli import main
from p2peval.scoring.fcn_score import fcn_score
from p2peval.scoring.label_score import label_score
from p2peval.data.labels import LABELS, TRAIN_LABELS
from p2peval.report.scorefile import read_score
from test_confusion import reference_eval, strict_eval

MEAN_BGR = (72.78044, 83.21195, 73.45286)
N_FRAMES = 7


def ref_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Raw ids -> train ids, written out from the class table (cityscapesScripts' id2trainId)."""
    id2train = {lab.id: lab.train_id for lab in LABELS}
    out = np.full(label_ids.shape, 255, dtype=np.uint8)
    for i, t in id2train.items():
        out[label_ids == i] = t
    return out


def reference_predictions(ckpt: Path, frames: list[tuple[Path, Path]], protocol: str = "pix2pix",
                          size_multiple: int = 1):
    """The reference evaluator's steps in numpy: imresize, float32, RGB->BGR, in-place float64
    mean subtraction, CHW, forward, argmax. ``fast``: labels nearest-downsampled instead.
    ``size_multiple`` > 1: the input is reflect-padded at the bottom and right to multiples of it
    (numpy's ``np.pad``) and the scores are cropped back to the top-left H x W."""
    from p2peval.scorers.registry import build_scorer

    ck = torch.load(ckpt, weights_only=True)
    model, _ = build_scorer(ck["arch"], ck["config"])
    model.load_state_dict(ck["state_dict"])
    model.eval()
    pairs = []
    for label_path, result_path in frames:
        label = ref_train_ids(np.array(Image.open(label_path)))
        im = Image.open(result_path).convert("RGB")
        if protocol == "fast":
            label = np.array(Image.fromarray(label).resize(im.size, Image.NEAREST))
        else:
            im = im.resize((label.shape[1], label.shape[0]), Image.BILINEAR)  # scipy.misc.imresize
        in_ = np.array(im, dtype=np.float32)
        in_ = in_[:, :, ::-1]
        in_ -= np.array(MEAN_BGR)
        in_ = in_.transpose((2, 0, 1)).copy()
        h, w = in_.shape[1:]
        in_ = np.pad(in_, ((0, 0), (0, -h % size_multiple), (0, -w % size_multiple)), mode="reflect")
        with torch.no_grad():
            score = model(torch.from_numpy(in_)[None])[0].numpy()[:, :h, :w]
        pairs.append((label, score.argmax(axis=0)))
    return pairs


RAW_BICYCLE = next(lab.id for lab in LABELS if lab.train_id == 18)
RAW_CAR = next(lab.id for lab in LABELS if lab.train_id == 13)
DROP = (1, 4)  # positions (in sorted frame order) of the frames the reference's quirk drops


def _label_position_map(label_hw, result_hw) -> np.ndarray:
    """For each pixel of the nearest-downsampled label (``fast``), the flat index of its source."""
    idx = np.arange(label_hw[0] * label_hw[1], dtype=np.int32).reshape(label_hw)
    return np.array(Image.fromarray(idx).resize((result_hw[1], result_hw[0]), Image.NEAREST))


def _place_reference_drops(frames, scorer) -> None:
    """Rewrite the labels so that the reference drops exactly the frames at ``DROP``.

    The reference drops a frame when a pixel of ground truth 18 (bicycle) is predicted as index
    19. Predictions do not depend on label content, so: no bicycle anywhere (car instead), then in
    each ``DROP`` frame one bicycle pixel where the scorer predicts 19 at label resolution
    (``pix2pix``) and one where it does after the label is downsampled (``fast``). The other
    frames keep their index-19 predictions on other classes: the reference's hist[gt + 1, 0].
    """
    for label_path, _ in frames:
        lab = np.array(Image.open(label_path))
        lab[lab == RAW_BICYCLE] = RAW_CAR
        Image.fromarray(lab).save(label_path)
    full = reference_predictions(scorer, frames, "pix2pix")
    fast = reference_predictions(scorer, frames, "fast")
    for k in DROP:
        label_path, _ = frames[k]
        lab = np.array(Image.open(label_path))
        (_, p_full), (_, p_fast) = full[k], fast[k]
        assert (p_full == 19).any() and (p_fast == 19).any(), "the scorer predicts no 19 here"
        lab.flat[np.flatnonzero(p_full == 19)[0]] = RAW_BICYCLE
        lab.flat[_label_position_map(lab.shape, p_fast.shape)[p_fast == 19][0]] = RAW_BICYCLE
        Image.fromarray(lab).save(label_path)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("fcn")
    ids = write_cityscapes(root / "cs", N_FRAMES)
    names = [f"{i}_leftImg8bit.png" for i in ids]
    write_results(root / "res", names)
    make_scorer(root / "scorer.pt")
    sorted_ids = sorted(ids, key=lambda i: (i.rsplit("_", 2)[0], i))
    frames = [(root / "cs" / "gtFine" / "val" / i.rsplit("_", 2)[0] / f"{i}_gtFine_labelIds.png",
               root / "res" / f"{i}_leftImg8bit.png") for i in sorted_ids]
    _place_reference_drops(frames, root / "scorer.pt")
    return {"root": root, "ids": sorted_ids, "frames": frames, "scorer": root / "scorer.pt"}


def run_score(data, **kw):
    kw.setdefault("cityscapes", data["root"] / "cs")
    kw.setdefault("n_resamples", 100)
    kw.setdefault("show_progress", False)
    kw.setdefault("workers", 0)
    return fcn_score(kw.pop("results", data["root"] / "res"), scorer=data["scorer"], **scoring_options(**kw))


@pytest.mark.parametrize("protocol", ["pix2pix", "pix2pix-strict", "fast"])
def test_matches_reference_evaluator(data, protocol):
    pairs = reference_predictions(data["scorer"], data["frames"], protocol)
    s = run_score(data, protocol=protocol)
    if protocol == "pix2pix":
        (acc, cl, iu), dropped = reference_eval(pairs)
    else:
        (acc, cl, iu) = strict_eval(pairs)
        dropped = reference_eval(pairs)[1]
    v = s["values"]
    assert (v["per_pixel_acc"], v["per_class_acc"], v["class_iou"]) == pytest.approx((acc, cl, iu), abs=1e-12)
    assert s["counts"]["frames_dropped_by_reference_quirk"] == dropped
    assert s["counts"]["pixels_predicted_index19"] == sum(int(((p == 19) & (g < 19)).sum()) for g, p in pairs)
    assert s["counts"]["frames"] == N_FRAMES and s["counts"]["images"] == N_FRAMES
    # The data exercise both halves of the quirk: two frames dropped, and the five kept ones
    # carry index-19 predictions (counted in hist[gt + 1, 0] by the reference).
    assert dropped == len(DROP) == 2
    kept = [(g, p) for k, (g, p) in enumerate(pairs) if k not in DROP]
    assert reference_eval(kept)[1] == 0
    assert sum(((p == 19) & (g < 18)).any() for g, p in kept) == N_FRAMES - len(DROP)
    assert sum(int(((p == 19) & (g < 18)).sum()) for g, p in kept) > 20
    if protocol == "fast":
        assert any("not comparable" in n for n in s["notes"])
    assert s["comparable_with_published"] is False  # toy sizes and a tiny scorer


def test_batch_size_and_workers_do_not_change_the_result(data):
    a = run_score(data, batch_size=1, workers=0, protocol="fast")
    b = run_score(data, batch_size=3, workers=2, protocol="fast")
    c = run_score(data, batch_size=2, workers=1, protocol="pix2pix")
    d = run_score(data, batch_size=1, workers=0, protocol="pix2pix")
    assert a["confusion_matrix"] == b["confusion_matrix"] and a["values"] == b["values"]
    assert a["ci"] == b["ci"]
    assert c["confusion_matrix"] == d["confusion_matrix"] and c["values"] == d["values"]


def test_score_file_contract(data, tmp_path):
    res = tmp_path / "res"
    shutil.copytree(data["root"] / "res", res)
    (res / "manifest.json").write_text(json.dumps({"trainer": "pix2pix", "label": "L1+cGAN", "size": [32, 32]}))
    out = tmp_path / "score.json"
    rc = main(["fcn-score", str(res), "--cityscapes", str(data["root"] / "cs"), "--scorer",
               str(data["scorer"]), "--out", str(out), "--bootstrap", "50", "--seed", "3",
               "--workers", "0", "--quiet"])
    assert rc == 0
    s = read_score(out)
    assert s["metric"] == "fcn-score" and s["label"] == "L1+cGAN" and s["manifest"]["trainer"] == "pix2pix"
    assert set(s["values"]) == {"per_pixel_acc", "per_class_acc", "class_iou"}
    for m, v in s["values"].items():
        lo, hi = s["ci"][m]
        assert lo <= v <= hi and s["ci"][m + "_se"] >= 0
    assert s["ci"]["n_resamples"] == 50 and s["ci"]["seed"] == 3
    assert s["per_class"]["names"] == [lab.name for lab in TRAIN_LABELS] and len(s["per_class"]["iou"]) == 19
    assert np.mean(s["per_class"]["iou"]) == pytest.approx(s["values"]["class_iou"], abs=1e-12)
    assert s["protocol"]["name"] == "pix2pix" and s["scorer"]["arch"] == "fcn8s-tiny"
    assert s["inputs"]["n_files"] == N_FRAMES and len(s["inputs"]["file_list_sha256"]) == 64
    assert s["counts"]["skipped"]  # ignored ground-truth pixels are reported
    assert not list(tmp_path.glob("*.partial*"))


def _numbered(data, tmp_path, order: list[str]) -> Path:
    res = tmp_path / "numbered"
    res.mkdir()
    for n, fid in enumerate(order, start=1):
        shutil.copy(data["root"] / "res" / f"{fid}_leftImg8bit.png", res / f"{n}_fake_B.png")
        Image.new("RGB", (4, 4)).save(res / f"{n}_real_A.png")  # companions are not scored
    return res


def test_match_sorted_and_csv(data, tmp_path):
    base = run_score(data, protocol="fast")
    res = _numbered(data, tmp_path, data["ids"])
    s = run_score(data, results=res, match="sorted", protocol="fast")
    assert s["confusion_matrix"] == base["confusion_matrix"] and s["values"] == base["values"]
    assert sum(s["counts"]["skipped"].get(k, 0) for k in s["counts"]["skipped"] if "companion" in k) == N_FRAMES
    # A CSV numbering in another order.
    shuffled = list(reversed(data["ids"]))
    (tmp_path / "csv").mkdir()
    res2 = _numbered(data, tmp_path / "csv", shuffled)
    table = tmp_path / "ids.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["n", "cityscapes_id"])
        for n, fid in enumerate(shuffled, start=1):
            w.writerow([n, fid])
    s2 = run_score(data, results=res2, match=str(table), protocol="fast")
    assert s2["confusion_matrix"] == base["confusion_matrix"]
    # With the wrong (sorted) pairing the numbers change: the matching matters.
    s3 = run_score(data, results=res2, match="sorted", protocol="fast")
    assert s3["confusion_matrix"] != base["confusion_matrix"]


def _label_folder(data, tmp_path, kind: str) -> Path:
    d = tmp_path / f"labels_{kind}"
    d.mkdir()
    for (label_path, _), fid in zip(data["frames"], data["ids"]):
        t = ref_train_ids(np.array(Image.open(label_path)))
        if kind == "ids":
            Image.fromarray(t).save(d / f"{fid}.png")
        else:
            col = np.zeros(t.shape + (3,), np.uint8)
            for lab in TRAIN_LABELS:
                col[t == lab.train_id] = lab.color
            Image.fromarray(col).save(d / f"{fid}.png")
    return d


def test_labels_folder_train_ids_and_colours(data, tmp_path):
    base = run_score(data, protocol="pix2pix")
    for kind in ("ids", "color"):
        s = run_score(data, cityscapes=None, labels=_label_folder(data, tmp_path, kind), protocol="pix2pix")
        assert s["confusion_matrix"] == base["confusion_matrix"], kind
        assert s["inputs"]["labels"]["source"] == "label images"


def test_jpeg_colour_labels_decode_to_nearest_class(data, tmp_path):
    """JPEG-compressed colour labels: scored against an independent nearest-colour decoding."""
    d = _label_folder(data, tmp_path, "color")
    jd = tmp_path / "jpeg_labels"
    jd.mkdir()
    for p in d.iterdir():
        Image.open(p).save(jd / (p.stem + ".jpg"), quality=75)
    s = run_score(data, cityscapes=None, labels=jd, protocol="pix2pix", max_unmatched=0.5)
    palette = np.array([lab.color for lab in LABELS if lab.train_id != 255] +
                       [lab.color for lab in LABELS if lab.train_id == 255], dtype=np.float64)
    train = np.array([lab.train_id for lab in LABELS if lab.train_id != 255] +
                     [255 for lab in LABELS if lab.train_id == 255], dtype=np.uint8)
    ref = reference_predictions(data["scorer"], [(d / f"{i}.png", r) for (_, r), i in zip(data["frames"], data["ids"])])
    pairs = []
    for (_, pred), fid in zip(ref, data["ids"]):
        rgb = np.array(Image.open(jd / f"{fid}.jpg").convert("RGB"), dtype=np.float64)
        d2 = ((rgb[:, :, None, :] - palette[None, None]) ** 2).sum(-1)
        # Ties between equal colours (pole / polegroup) go to the first: the class colour.
        gt = train[d2.argmin(-1)]
        gt[np.sqrt(d2.min(-1)) > 60] = 255
        pairs.append((gt, pred))
    (acc, cl, iu), _ = reference_eval(pairs)
    assert (s["values"]["per_pixel_acc"], s["values"]["per_class_acc"], s["values"]["class_iou"]) == \
        pytest.approx((acc, cl, iu), abs=1e-12)


def test_preprocessing_is_bit_exact():
    from p2peval.scoring.inference import preprocess
    from p2peval.scoring.protocols import get_protocol

    rgb = np.stack(np.meshgrid(np.arange(256), np.arange(256)[::-1], indexing="ij"), -1)
    rgb = np.concatenate([rgb, (rgb[..., :1] * 7) % 256], -1).astype(np.uint8)  # (256, 256, 3)
    ours = preprocess(torch.from_numpy(rgb)[None], get_protocol("pix2pix"))[0].numpy()
    in_ = np.array(rgb, dtype=np.float32)[:, :, ::-1]
    in_ -= np.array(MEAN_BGR)
    assert ours.dtype == np.float32
    assert np.array_equal(ours, in_.transpose((2, 0, 1)))


def test_label_score_matches_strict_numpy(data, tmp_path):
    pred = tmp_path / "pred"
    pred.mkdir()
    rng = np.random.default_rng(5)
    pairs = []
    for (label_path, _), fid in zip(data["frames"], data["ids"]):
        gt = ref_train_ids(np.array(Image.open(label_path)))  # 32x64
        small = rng.integers(0, 19, size=(16, 32)).astype(np.uint8)
        small[rng.random(small.shape) < 0.1] = 255  # black: no class -> an error
        col = np.zeros(small.shape + (3,), np.uint8)
        for lab in TRAIN_LABELS:
            col[small == lab.train_id] = lab.color
        Image.fromarray(col).save(pred / f"{fid}_leftImg8bit.png")
        up = np.repeat(np.repeat(small, 2, 0), 2, 1)  # nearest x2 = PIL NEAREST here
        pairs.append((gt, np.where(up == 255, 19, up)))
    s = label_score(pred, **scoring_options(cityscapes=data["root"] / "cs", n_resamples=50, show_progress=False, workers=0))
    acc, cl, iu = strict_eval(pairs)
    assert (s["values"]["per_pixel_acc"], s["values"]["per_class_acc"], s["values"]["class_iou"]) == \
        pytest.approx((acc, cl, iu), abs=1e-12)
    assert s["metric"] == "label-score" and s["scorer"] is None


def test_segment_writes_what_the_scorer_sees(data, tmp_path):
    out = tmp_path / "seg"
    rc = main(["segment", str(data["root"] / "res"), "--scorer", str(data["scorer"]), "--out", str(out),
               "--cityscapes", str(data["root"] / "cs"), "--save-scores", "--quiet"])
    assert rc == 0
    ref = reference_predictions(data["scorer"], data["frames"])
    for (_, pred), fid in zip(ref, data["ids"]):
        ids = np.array(Image.open(out / f"{fid}_leftImg8bit_trainIds.png"))
        assert np.array_equal(ids, pred)
        scores = np.load(out / f"{fid}_leftImg8bit_scores.npy")
        assert scores.dtype == np.float32 and scores.shape == (20, 32, 64)
        assert np.array_equal(scores.argmax(0), pred)
        assert np.array(Image.open(out / f"{fid}_leftImg8bit_color.png")).shape == (32, 64, 3)


def test_resume_after_a_bad_file(data, tmp_path, capsys):
    res = tmp_path / "res"
    shutil.copytree(data["root"] / "res", res)
    bad = res / f"{data['ids'][4]}_leftImg8bit.png"
    good = bad.read_bytes()
    bad.write_bytes(good[: len(good) // 2])  # truncated
    out = tmp_path / "score.json"
    args = ["fcn-score", str(res), "--cityscapes", str(data["root"] / "cs"), "--scorer", str(data["scorer"]),
            "--out", str(out), "--bootstrap", "50", "--workers", "0", "--batch-size", "1", "--quiet"]
    assert main(args) == 2
    assert bad.name in capsys.readouterr().err
    partial = tmp_path / "score.json.partial.npz"
    with np.load(partial) as z:
        assert len(z["frame_ids"]) == 4  # the frames before the bad one
    bad.write_bytes(good)
    assert main(args) == 0
    assert "resuming: 4 frames" in capsys.readouterr().err
    s = read_score(out)
    assert s["counts"]["frames_resumed_from_partial_state"] == 4
    fresh = run_score(data, n_resamples=50)
    assert s["confusion_matrix"] == fresh["confusion_matrix"] and s["values"] == fresh["values"]
    assert s["ci"] == fresh["ci"]
    assert not partial.exists()


def test_size_multiple_scorer_pads_and_crops(tmp_path):
    """An smp scorer (sizes must be multiples of 32) scores 40x40 results: the checkpoint's size
    multiple is applied, and the scores equal an independent run on numpy reflect-padded inputs
    cropped back to the top-left 40x40."""
    ids = write_cityscapes(tmp_path / "cs", 2, label_hw=(40, 80))
    write_results(tmp_path / "res", [f"{i}_leftImg8bit.png" for i in ids], hw=(40, 40))
    make_scorer(tmp_path / "unet.pt", arch="unet-resnet18", gain=1.0)
    s = fcn_score(tmp_path / "res", scorer=tmp_path / "unet.pt", **scoring_options(
        cityscapes=tmp_path / "cs", protocol="fast", n_resamples=10, show_progress=False, workers=0))
    frames = [(tmp_path / "cs" / "gtFine" / "val" / i.rsplit("_", 2)[0] / f"{i}_gtFine_labelIds.png",
               tmp_path / "res" / f"{i}_leftImg8bit.png") for i in sorted(ids)]
    pairs = reference_predictions(tmp_path / "unet.pt", frames, "fast", size_multiple=32)
    v = s["values"]
    assert (v["per_pixel_acc"], v["per_class_acc"], v["class_iou"]) == pytest.approx(strict_eval(pairs), abs=1e-12)
    assert s["counts"]["frames"] == 2 and s["counts"]["pixels"] == sum(int((g < 19).sum()) for g, _ in pairs)


def _two_convs(seed: int) -> torch.nn.Module:
    """Two 3x3 convolutions: each output pixel sees the 5x5 input pixels around it."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv2d(8, 20, 3, padding=1)).eval()


@pytest.mark.parametrize("hw", [(40, 40), (40, 70), (33, 64)], ids=["40x40", "40x70", "33x64"])
def test_padded_scores_equal_an_unpadded_run_where_the_field_allows(hw):
    """With a receptive field of 5x5 (radius 2), padding at the bottom/right can only change the
    last two rows and columns: everywhere else the padded, cropped scores equal the unpadded run."""
    from p2peval.scoring.inference import scorer_logits

    net = _two_convs(0)
    h, w = hw
    x = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        padded = scorer_logits(net, x, 32)
        plain = net(x)
    assert padded.shape == (2, 20, h, w)
    assert torch.allclose(padded[..., : h - 2, : w - 2], plain[..., : h - 2, : w - 2], atol=1e-5, rtol=0)
    if h % 32 and w % 32:  # the padding is real: the border differs from zero-padded convolution
        assert not torch.allclose(padded[..., h - 1, :], plain[..., h - 1, :], atol=1e-3)


def test_marker_pixel_is_found_where_it_was(tmp_path):
    """One white pixel on black, scored by a 3x3 box filter (class 1 where the 3x3 window holds the
    marker, else class 0) through fcn-score with a size multiple of 32: the predicted class-1
    pixels are exactly the marker's 3x3 neighbourhood (cut at the image border), so the crop is
    aligned, including next to the padded border and at the corner."""
    from evaluate_data import frame_ids

    net = torch.nn.Conv2d(3, 20, 3, padding=1, padding_mode="replicate")
    background, marker = -sum(MEAN_BGR), 3 * 255 - sum(MEAN_BGR)  # one pixel, channels summed
    with torch.no_grad():
        net.weight.zero_()
        net.weight[1] = 1.0
        net.bias.fill_(-1e4)
        net.bias[0] = 0.0
        net.bias[1] = -(9 * background + (marker - background) / 2)  # 1 marker pixel in the window
    h, w = 40, 40
    places = [(10, 12), (38, 37), (39, 39), (0, 39)]
    ids = frame_ids(len(places))
    road, sidewalk = (next(lab.id for lab in LABELS if lab.train_id == t) for t in (0, 1))
    for fid, (r, c) in zip(ids, places):
        photo = np.zeros((h, w, 3), np.uint8)
        photo[r, c] = 255
        (tmp_path / "res").mkdir(exist_ok=True)
        Image.fromarray(photo).save(tmp_path / "res" / f"{fid}_leftImg8bit.png")
        lab = np.full((h, w), road, np.uint8)
        lab[max(r - 1, 0): r + 2, max(c - 1, 0): c + 2] = sidewalk
        d = tmp_path / "cs" / "gtFine" / "val" / fid.rsplit("_", 2)[0]
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(lab).save(d / f"{fid}_gtFine_labelIds.png")
    meta = {"arch": "box3x3", "num_outputs": 20}
    s = fcn_score(tmp_path / "res", scorer=(net, meta, 32), **scoring_options(
        cityscapes=tmp_path / "cs", protocol="fast", n_resamples=10, show_progress=False, workers=0))
    hist = np.array(s["confusion_matrix"])
    n_marked = 9 + 9 + 4 + 4  # interior, one row above the padding, bottom-right and top-right corners
    assert hist[1, 1] == n_marked and hist[0, 0] == len(places) * h * w - n_marked
    assert hist.sum() == hist[0, 0] + hist[1, 1]  # nothing off the diagonal


def test_numbered_pair_images_as_labels(data, tmp_path):
    """pix2pix A|B pair images <n>.png (photo | colour label) with numbered results <n>_fake_B.png."""
    base = run_score(data, protocol="pix2pix")
    colour = _label_folder(data, tmp_path, "color")
    pairs_dir = tmp_path / "pairs"
    pairs_dir.mkdir()
    for n, fid in enumerate(data["ids"], start=1):
        lab = np.array(Image.open(colour / f"{fid}.png"))  # (32, 64, 3)
        photo = np.full_like(lab, 90)
        Image.fromarray(np.concatenate([photo, lab], axis=1)).save(pairs_dir / f"{n}.png")
    res = _numbered(data, tmp_path, data["ids"])
    s = run_score(data, results=res, cityscapes=None, labels=pairs_dir, labels_side="B", protocol="pix2pix")
    assert s["confusion_matrix"] == base["confusion_matrix"]


def test_toycity_ground_truth_colours_score_perfectly(tmp_path, capsys):
    """label-score of toy-city's own gtFine colour images: every counted pixel right."""
    from p2peval.data.toycity import generate_toycity

    generate_toycity(tmp_path / "toy", n_train=1, n_val=3, size=32, seed=0, progress=False, workers=1)
    frames = sorted((tmp_path / "toy" / "cityscapes" / "gtFine" / "val").rglob("*_gtFine_color.png"))
    pred = tmp_path / "pred"
    pred.mkdir()
    ids_csv = (tmp_path / "toy" / "pix2pix" / "val_ids.csv").read_text().split()[1:]
    number = {row.split(",")[1]: row.split(",")[0] for row in ids_csv}
    for f in frames:  # numbered like pix2pix outputs, paired through toy-city's CSV
        shutil.copy(f, pred / f"{number[f.name[: -len('_gtFine_color.png')]]}_fake_B.png")
    out = tmp_path / "s.json"
    assert main(["label-score", str(pred), "--cityscapes", str(tmp_path / "toy"), "--match",
                 str(tmp_path / "toy" / "pix2pix" / "val_ids.csv"), "--out", str(out), "--bootstrap", "20",
                 "--workers", "0", "--quiet"]) == 0
    s = read_score(out)
    hist = np.array(s["confusion_matrix"])
    assert s["values"]["per_pixel_acc"] == pytest.approx(1.0, abs=1e-9)
    assert hist.sum() == np.trace(hist) > 0 and s["counts"]["frames"] == 3


def test_label_score_counts_predictions_that_are_no_class(data, tmp_path):
    pred = tmp_path / "pred"
    pred.mkdir()
    n_black = 0
    for (label_path, _), fid in zip(data["frames"], data["ids"]):
        gt = ref_train_ids(np.array(Image.open(label_path)))
        col = np.zeros(gt.shape + (3,), np.uint8)  # all black: no class anywhere
        Image.fromarray(col).save(pred / f"{fid}_leftImg8bit.png")
        n_black += int((gt < 19).sum())
    s = label_score(pred, **scoring_options(cityscapes=data["root"] / "cs", n_resamples=10, show_progress=False, workers=0))
    assert s["values"]["per_pixel_acc"] == 0.0
    assert s["counts"]["pixels_predicted_no_class"] == n_black == s["counts"]["pixels"]
    assert "frames_dropped_by_reference_quirk" not in s["counts"]


def test_tf32_is_switched_off_for_cuda_runs_and_restored():
    """The switch only touches torch's backend flags, so it can be checked without a GPU."""
    from p2peval.scoring.inference import tf32_disabled
    from p2peval.scoring.protocols import get_protocol

    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    try:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        with pytest.raises(RuntimeError):
            with tf32_disabled("cuda:0", get_protocol("pix2pix")):
                assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
                raise RuntimeError("stop")
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        with tf32_disabled("cpu", get_protocol("pix2pix")):
            assert torch.backends.cuda.matmul.allow_tf32  # CPU runs leave the flags alone
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def test_score_file_keeps_per_frame_matrices_for_paired_tables(data, tmp_path):
    """fcn-score writes its per-frame confusion matrices beside the JSON; two rows scored on the
    same images are then compared in tables by a paired bootstrap, and copies keep the sidecar."""
    from p2peval.metrics.confusion import frame_confusion
    from p2peval.report.scorefile import copy_score
    from p2peval.report.tables import build_table

    out = tmp_path / "a.json"
    assert main(["fcn-score", str(data["root"] / "res"), "--cityscapes", str(data["root"] / "cs"),
                 "--scorer", str(data["scorer"]), "--out", str(out), "--bootstrap", "50",
                 "--workers", "0", "--quiet"]) == 0
    s = read_score(out)
    assert "frames" not in s and s["frames_file"] == "a.frames.npz"
    with np.load(tmp_path / s["frames_file"]) as z:
        ids, conf = list(z["ids"]), z["confusion"]
    assert ids == sorted(data["ids"]) and conf.shape == (N_FRAMES, 19, 20)
    # Independent: the per-frame matrices of the reference predictions.
    pairs = dict(zip(data["ids"], reference_predictions(data["scorer"], data["frames"], "pix2pix")))
    for fid, c in zip(ids, conf):
        g, p = pairs[fid]
        assert (c == frame_confusion(g, p)).all()
    # The table pairs the row with a copy of itself (difference exactly 0: no mark) ...
    b = copy_score(out, tmp_path / "sub" / "b.json", label="copy")
    assert (tmp_path / "sub" / "b.frames.npz").exists()
    t = build_table([out, b], n_resamples=50)
    assert not any(k[0] == "copy" for k in t.marks)
    paired = [c for c in t.comparisons if {c.a, c.b} == {s["label"], "copy"}]
    assert paired and all(c.difference == 0 for c in paired)
