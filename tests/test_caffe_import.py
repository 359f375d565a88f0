"""``p2peval scorer import-caffe`` through the CLI: the checkpoint it writes and every refusal."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

from p2peval.cli import main
from p2peval.scorers.caffe_writer import (LayerSpec, WriteOptions, fcn8s_layers, random_fcn8s_weights,
                                          write_caffemodel, write_fcn8s_caffemodel)
from p2peval.scorers.checkpoint import load_scorer

TINY = {"widths": [4, 8, 16, 32, 32], "fc_width": 64, "num_outputs": 20}


def cli(capsys, *argv) -> tuple[int, str, str]:
    rc = main(["scorer", "import-caffe", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


def refused(capsys, model, out, *needles) -> str:
    rc, _, err = cli(capsys, model, "--out", out)
    lines = [l for l in err.splitlines() if l.startswith("p2peval: error:")]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert str(model) in lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not out.exists()
    return lines[0]


@pytest.fixture(scope="module")
def weights():
    return {k: f() for k, f in random_fcn8s_weights(TINY, seed=5).items()}


def test_import_writes_verified_checkpoint(capsys, tmp_path, fixtures_dir):
    model_file = fixtures_dir / "caffe_fcn8s_tiny" / "tiny.caffemodel"
    out = tmp_path / "tiny.pt"
    rc, stdout, _ = cli(capsys, model_file, "--out", out)
    assert rc == 0 and "widths [4, 8, 16, 32, 32]" in stdout
    model, meta = load_scorer(out, arch="fcn8s")  # verifies sha256 of weights and shapes
    assert meta["protocol"] == "pix2pix" and meta["config"] == TINY
    src = meta["source"]
    assert src["sha256"] == hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert src["size_bytes"] == model_file.stat().st_size and src["caffemodel"] == "tiny.caffemodel"
    assert src["layer_form"] == "layer" and src["shape_encoding"] == ["shape"]
    # Refuses to overwrite, and keeps the file.
    before = out.read_bytes()
    rc, _, err = cli(capsys, model_file, "--out", out)
    assert rc == 2 and "--force" in err and out.read_bytes() == before
    assert cli(capsys, model_file, "--out", out, "--force")[0] == 0


@pytest.mark.parametrize("form,encoding", [("layer", "legacy"), ("layers", "shape"), ("layers", "legacy")])
def test_import_every_form(capsys, tmp_path, weights, form, encoding):
    path = write_fcn8s_caffemodel(tmp_path / "m.caffemodel", weights, TINY, options=WriteOptions(form, encoding))
    assert cli(capsys, path, "--out", tmp_path / "m.pt")[0] == 0
    model, meta = load_scorer(tmp_path / "m.pt")
    assert meta["source"]["layer_form"] == form and meta["source"]["shape_encoding"] == [encoding]
    for name, t in model.state_dict().items():
        np.testing.assert_array_equal(t.numpy(), weights[name])


def _edit(weights, config, **changes):
    """fcn8s_layers with some layers replaced (None drops a layer)."""
    layers = []
    for layer in fcn8s_layers(weights, config):
        if layer.name in changes:
            new = changes[layer.name]
            if new is None:
                continue
            layer = new(layer)
        layers.append(layer)
    return layers


def test_refuses_wrong_shape(capsys, tmp_path, weights):
    bad = dict(weights)
    bad["fc7_cs.weight"] = np.zeros((64, 64, 3, 3), np.float32)  # a 3x3 fc7
    layers = fcn8s_layers(weights, TINY)
    for layer in layers:
        if layer.name == "fc7_cs":
            layer.blobs[0].shape, layer.blobs[0].source = (64, 64, 3, 3), bad["fc7_cs.weight"]
    path = write_caffemodel(tmp_path / "bad.caffemodel", layers)
    refused(capsys, path, tmp_path / "o.pt", "fc7_cs", "(64, 64, 3, 3)", "(64, 64, 1, 1)")


def test_refuses_other_topologies(capsys, tmp_path, weights):
    # An FCN-32s-like file: no upscore2 layer.
    path = write_caffemodel(tmp_path / "a.caffemodel", _edit(weights, TINY, upscore2=None))
    refused(capsys, path, tmp_path / "o.pt", "missing layer upscore2")
    # A classification VGG (fc6 instead of fc6_cs).
    def rename(layer):
        layer.name = "fc6"
        return layer
    path = write_caffemodel(tmp_path / "b.caffemodel", _edit(weights, TINY, fc6_cs=rename))
    refused(capsys, path, tmp_path / "o.pt", "missing layer fc6_cs")
    # upscore2 as a Convolution: same blob shape, different function.
    def as_conv(layer):
        layer.type = "Convolution"
        return layer
    path = write_caffemodel(tmp_path / "c.caffemodel", _edit(weights, TINY, upscore2=as_conv))
    refused(capsys, path, tmp_path / "o.pt", "upscore2", "Convolution", "Deconvolution")
    # Different padding on conv1_1 or a different crop offset.
    def pad0(layer):
        layer.conv = {**layer.conv, "pad": 0}
        return layer
    path = write_caffemodel(tmp_path / "d.caffemodel", _edit(weights, TINY, conv1_1=pad0))
    refused(capsys, path, tmp_path / "o.pt", "conv1_1", "pad")
    def offset(layer):
        layer.crop = {"axis": 2, "offset": [19]}
        return layer
    path = write_caffemodel(tmp_path / "e.caffemodel", _edit(weights, TINY, score=offset))
    refused(capsys, path, tmp_path / "o.pt", "score", "31")
    # Average instead of max pooling.
    def ave(layer):
        layer.pool = {**layer.pool, "pool": 1}
        return layer
    path = write_caffemodel(tmp_path / "g.caffemodel", _edit(weights, TINY, pool3=ave))
    refused(capsys, path, tmp_path / "o.pt", "pool3", "MAX")
    # An extra layer with weights.
    layers = fcn8s_layers(weights, TINY)
    layers.append(LayerSpec("fc8", "InnerProduct", ["fc7_cs"], ["fc8"], [layers[2].blobs[0]]))
    path = write_caffemodel(tmp_path / "f.caffemodel", layers)
    refused(capsys, path, tmp_path / "o.pt", "fc8", "not part of FCN-8s")
    # ... which loads, as Caffe would load it, when asked to ignore it.
    rc, stdout, _ = cli(capsys, path, "--out", tmp_path / "f.pt", "--ignore-extra-layers")
    assert rc == 0 and "fc8" in stdout
    model, meta = load_scorer(tmp_path / "f.pt")
    assert meta["source"]["ignored_layers"] == ["fc8"]
    np.testing.assert_array_equal(model.state_dict()["fc7_cs.weight"].numpy(), weights["fc7_cs.weight"])


def test_refuses_truncated(capsys, tmp_path, weights):
    data = write_fcn8s_caffemodel(tmp_path / "whole.caffemodel", weights, TINY).read_bytes()
    for cut in (3, 1000, len(data) // 2, len(data) - 1):
        path = tmp_path / f"cut{cut}.caffemodel"
        path.write_bytes(data[:cut])
        refused(capsys, path, tmp_path / "o.pt", "truncated")


PROTOTXT = """name: "fcn8s"
layer {
  name: "data"
  type: "Input"
  top: "data"
  input_param { shape { dim: 1 dim: 3 dim: 256 dim: 256 } }
}
layer {
  name: "conv1_1"
  type: "Convolution"
  bottom: "data"
  top: "conv1_1"
  convolution_param { num_output: 64 pad: 100 kernel_size: 3 }
}
"""


def test_refuses_non_caffe_files(capsys, tmp_path):
    prototxt = tmp_path / "deploy.prototxt"
    prototxt.write_text(PROTOTXT)
    refused(capsys, prototxt, tmp_path / "o.pt", "not a Caffe model", "prototxt")
    png = tmp_path / "photo.png"
    rgb = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(png)
    refused(capsys, png, tmp_path / "o.pt", "not a Caffe model")
    empty = tmp_path / "empty.caffemodel"
    empty.write_bytes(b"")
    refused(capsys, empty, tmp_path / "o.pt", "empty")
    junk = tmp_path / "junk.caffemodel"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    refused(capsys, junk, tmp_path / "o.pt")
    ckpt = tmp_path / "x.pt"
    torch.save({"a": torch.zeros(3)}, ckpt)
    refused(capsys, ckpt, tmp_path / "o.pt", "not a Caffe model")
    refused(capsys, tmp_path / "missing.caffemodel", tmp_path / "o.pt", "no such")
    # A protobuf without layers (e.g. a mean file, BlobProto).
    blob = tmp_path / "mean.binaryproto"
    blob.write_bytes(bytes([0x08, 0x01, 0x10, 0x03]))
    refused(capsys, blob, tmp_path / "o.pt", "no layers")


def test_bench_refuses_bad_options(capsys, tmp_path):
    for argv, needle in ((["--repeats", "0"], "--repeats"), (["--parity-size", "12"], "HxW")):
        rc = main(["bench", "import-caffe", "--out", str(tmp_path), "--workdir", str(tmp_path / "w"), *argv])
        err = capsys.readouterr().err
        assert rc == 2 and err.count("p2peval: error:") == 1 and needle in err, err
    assert not (tmp_path / "import_caffe.json").exists() and not (tmp_path / "w").exists()
