"""The hand-written Caffe model reader and writer (protobuf wire format, docs/reference.md section 1).

Independent checks: varint bytes from the protobuf encoding documentation; the fixture written by
real Caffe, whose weights are regenerated here from its README's recipe; and the official
protobuf runtime with a small schema declared in this test (field numbers from docs/reference.md).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from p2peval.scorers.caffe_proto import BlobData, CaffeModelFile, read_caffemodel, read_varint
from p2peval.scorers.caffe_writer import (BlobSpec, LayerSpec, WriteOptions, fcn8s_layers, varint,
                                          write_caffemodel, write_fcn8s_caffemodel)

TINY_CONFIG = {"widths": [4, 8, 16, 32, 32], "fc_width": 64, "num_outputs": 20}
PARAM_LAYERS = ([f"conv{b}_{i}" for b, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)) for i in range(1, n + 1)]
                + ["fc6_cs", "fc7_cs", "score_fr", "upscore2", "score_pool4", "upscore_pool4",
                   "score_pool3", "upscore8"])


def readme_weights() -> dict[str, list[np.ndarray]]:
    """The fixture's weights, regenerated from its README (RandomState(0), network order)."""
    widths, fc, k = TINY_CONFIG["widths"], TINY_CONFIG["fc_width"], 20
    shapes: dict[str, list[tuple]] = {}
    c_in = 3
    for (block, n), w in zip(((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)), widths):
        for i in range(1, n + 1):
            shapes[f"conv{block}_{i}"] = [(w, c_in, 3, 3), (w,)]
            c_in = w
    shapes.update(fc6_cs=[(fc, widths[4], 7, 7), (fc,)], fc7_cs=[(fc, fc, 1, 1), (fc,)],
                  score_fr=[(k, fc, 1, 1), (k,)], upscore2=[(k, k, 4, 4)],
                  score_pool4=[(k, widths[3], 1, 1), (k,)], upscore_pool4=[(k, k, 4, 4)],
                  score_pool3=[(k, widths[2], 1, 1), (k,)], upscore8=[(k, k, 16, 16)])
    strides = {"upscore2": 2, "upscore_pool4": 2, "upscore8": 8}
    rng = np.random.RandomState(0)
    out = {}
    for name in PARAM_LAYERS:
        blobs = []
        for j, shape in enumerate(shapes[name]):
            if j == 1:
                std = 0.5
            elif name in strides:
                std = 1 / np.sqrt(shape[0] * (shape[2] / strides[name]) ** 2)
            elif name.startswith("score"):
                std = np.sqrt(1 / np.prod(shape[1:]))
            else:
                std = np.sqrt(2 / np.prod(shape[1:]))
            blobs.append((rng.standard_normal(shape) * std).astype(np.float32))
        out[name] = blobs
    return out


def test_varint_matches_protobuf_documentation():
    # "Encoding" page of the protobuf docs: 1 -> 01, 150 -> 96 01, 300 -> ac 02.
    assert varint(1) == b"\x01" and varint(150) == b"\x96\x01" and varint(300) == b"\xac\x02"
    assert read_varint(b"\x96\x01", 0, 2) == (150, 2)
    for n in (0, 127, 128, 2**32 + 5, 2**63 - 1):
        assert read_varint(varint(n), 0, len(varint(n)))[0] == n


def test_reader_on_caffe_written_fixture(fixtures_dir):
    net, arrays = read_caffemodel(fixtures_dir / "caffe_fcn8s_tiny" / "tiny.caffemodel")
    assert net.form == "layer" and len(net.layers) == 52
    assert sum(l.type == "Split" for l in net.layers) == 5
    expected = readme_weights()
    assert sorted(arrays) == sorted(expected)
    for name, blobs in expected.items():
        assert len(arrays[name]) == len(blobs)
        for got, want in zip(arrays[name], blobs):
            assert got.shape == want.shape and got.dtype == np.float32
            np.testing.assert_array_equal(got, want)  # bit-exact: same float32 values
    layers = net.by_name()
    assert layers["conv1_1"].params["conv"]["pad"] == [100]
    assert layers["upscore8"].params["conv"]["stride"] == [8]
    assert layers["score"].params["crop"]["offset"] == [31]


@pytest.mark.parametrize("form,encoding,dtype", list(itertools.product(
    ["layer", "layers"], ["shape", "legacy"], ["float32", "float64"])))
def test_round_trip_fcn8s(tmp_path, form, encoding, dtype):
    weights = {f"{n}.{kind}": b for n, blobs in readme_weights().items()
               for kind, b in zip(("weight", "bias"), blobs)}
    path = write_fcn8s_caffemodel(tmp_path / "m.caffemodel", weights, TINY_CONFIG,
                                  options=WriteOptions(form, encoding, True, dtype))
    net, arrays = read_caffemodel(path)
    assert net.form == form
    for name in PARAM_LAYERS:
        blobs = net.by_name()[name].blobs
        assert all(b.legacy_shape == (encoding == "legacy") for b in blobs)
        for kind, got, blob in zip(("weight", "bias"), arrays[name], blobs):
            want = weights[f"{name}.{kind}"]
            if encoding == "legacy":
                assert len(blob.shape) == 4 and blob.matches(want.shape)
            np.testing.assert_array_equal(got.reshape(want.shape), want)
    # The legacy form has no Crop or Input type: those layers are left out.
    n_all = len(fcn8s_layers(weights, TINY_CONFIG))
    assert len(net.layers) == (n_all if form == "layer" else n_all - 4)


def test_unpacked_and_split_values(tmp_path):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 2, 2, 2)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    layers = [LayerSpec("c", "Convolution", ["x"], ["c"], [BlobSpec(w.shape, w), BlobSpec(b.shape, lambda: b)]),
              LayerSpec("r", "ReLU", ["c"], ["c"])]
    for packed in (True, False):
        path = write_caffemodel(tmp_path / f"u{packed}.caffemodel", layers, name="n",
                                options=WriteOptions(packed=packed))
        net, arrays = read_caffemodel(path)
        assert net.name == "n" and [l.name for l in net.layers] == ["c", "r"]
        np.testing.assert_array_equal(arrays["c"][0], w)
        np.testing.assert_array_equal(arrays["c"][1], b)


def test_legacy_shape_rule():
    blob = BlobData(shape=(1, 1, 1, 20), legacy_shape=True)
    assert blob.matches((20,)) and blob.matches((1, 20)) and not blob.matches((20, 1))
    assert BlobData(shape=(20, 20, 4, 4), legacy_shape=True).matches((20, 20, 4, 4))
    assert not BlobData(shape=(1, 1, 1, 20), legacy_shape=False).matches((20,))


def _schema():
    """NetParameter / LayerParameter / V1LayerParameter / BlobProto, declared here by hand."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="caffe_min_test.proto", package="cmt", syntax="proto2")

    def msg(name, fields):
        m = fdp.message_type.add(name=name)
        for fname, number, ftype, label, type_name, packed in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = f".cmt.{type_name}"
            if packed:
                f.options.packed = True

    rep, opt = F.LABEL_REPEATED, F.LABEL_OPTIONAL
    msg("BlobShape", [("dim", 1, F.TYPE_INT64, rep, None, True)])
    msg("BlobProto", [("num", 1, F.TYPE_INT32, opt, None, False), ("channels", 2, F.TYPE_INT32, opt, None, False),
                      ("height", 3, F.TYPE_INT32, opt, None, False), ("width", 4, F.TYPE_INT32, opt, None, False),
                      ("data", 5, F.TYPE_FLOAT, rep, None, True), ("shape", 7, F.TYPE_MESSAGE, opt, "BlobShape", False),
                      ("double_data", 8, F.TYPE_DOUBLE, rep, None, True)])
    msg("LayerParameter", [("name", 1, F.TYPE_STRING, opt, None, False), ("type", 2, F.TYPE_STRING, opt, None, False),
                           ("bottom", 3, F.TYPE_STRING, rep, None, False), ("top", 4, F.TYPE_STRING, rep, None, False),
                           ("blobs", 7, F.TYPE_MESSAGE, rep, "BlobProto", False)])
    msg("V1LayerParameter", [("bottom", 2, F.TYPE_STRING, rep, None, False), ("top", 3, F.TYPE_STRING, rep, None, False),
                             ("name", 4, F.TYPE_STRING, opt, None, False), ("type", 5, F.TYPE_INT32, opt, None, False),
                             ("blobs", 6, F.TYPE_MESSAGE, rep, "BlobProto", False)])
    msg("NetParameter", [("name", 1, F.TYPE_STRING, opt, None, False),
                         ("layers", 2, F.TYPE_MESSAGE, rep, "V1LayerParameter", False),
                         ("layer", 100, F.TYPE_MESSAGE, rep, "LayerParameter", False)])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("cmt.NetParameter"))


def test_writer_and_reader_agree_with_protobuf_runtime(tmp_path):
    NetParameter = _schema()
    rng = np.random.default_rng(2)
    w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    # Our writer -> protobuf runtime.
    for form, encoding in itertools.product(["layer", "layers"], ["shape", "legacy"]):
        layers = [LayerSpec("conv", "Convolution", ["data"], ["conv"], [BlobSpec(w.shape, w), BlobSpec(b.shape, b)])]
        path = write_caffemodel(tmp_path / f"{form}{encoding}.caffemodel", layers, name="net",
                                options=WriteOptions(form, encoding))
        msg = NetParameter.FromString(path.read_bytes())
        layer = (msg.layer if form == "layer" else msg.layers)[0]
        assert msg.name == "net" and layer.name == "conv" and list(layer.bottom) == ["data"]
        if form == "layers":
            assert layer.type == 4  # V1 CONVOLUTION
        blob_w, blob_b = layer.blobs
        if encoding == "shape":
            assert list(blob_w.shape.dim) == [5, 3, 3, 3] and list(blob_b.shape.dim) == [5]
        else:
            assert (blob_w.num, blob_w.channels, blob_w.height, blob_w.width) == (5, 3, 3, 3)
            assert (blob_b.num, blob_b.channels, blob_b.height, blob_b.width) == (1, 1, 1, 5)
        np.testing.assert_array_equal(np.array(blob_w.data, np.float32), w.ravel())
    # Protobuf runtime -> our reader (both layer forms in one file, float64 data).
    msg = NetParameter(name="x")
    new = msg.layer.add(name="a", type="Convolution")
    new.blobs.add(shape={"dim": [5, 3, 3, 3]}, data=w.ravel().tolist())
    old = msg.layers.add(name="b", type=39)
    old.blobs.add(num=1, channels=1, height=1, width=5, double_data=b.astype(np.float64).tolist())
    path = tmp_path / "pb.caffemodel"
    path.write_bytes(msg.SerializeToString())
    with CaffeModelFile(path) as f:
        layers = f.net.by_name()  # the runtime writes field 2 before field 100
        assert f.net.form == "mixed" and (layers["a"].type, layers["b"].type) == ("Convolution", "Deconvolution")
        np.testing.assert_array_equal(layers["a"].blobs[0].to_numpy(f.mm), w)
        assert layers["b"].blobs[0].chunks[0][0] == "<f8"
        np.testing.assert_array_equal(layers["b"].blobs[0].to_numpy(f.mm).ravel(), b)


def test_chunked_copy_of_large_blobs(tmp_path, monkeypatch):
    """Blobs larger than the copy piece (fc6 of the real model: 411 MB) are copied in pieces."""
    import p2peval.scorers.caffe_proto as caffe

    rng = np.random.default_rng(3)
    big = rng.standard_normal((7, 5, 3, 3)).astype(np.float32)  # 1260 bytes
    small = rng.standard_normal(7).astype(np.float32)
    layers = [LayerSpec("a", "Convolution", [], [], [BlobSpec(big.shape, big), BlobSpec(small.shape, small)])]
    for dtype in ("float32", "float64"):
        path = write_caffemodel(tmp_path / f"{dtype}.caffemodel", layers, options=WriteOptions(dtype=dtype))
        for piece in (8, 100, 1 << 20):  # bytes; 100 is not a multiple of 8: rounded down per dtype
            monkeypatch.setattr(caffe, "COPY_CHUNK_BYTES", piece)
            _, arrays = read_caffemodel(path)
            np.testing.assert_array_equal(arrays["a"][0], big)
            np.testing.assert_array_equal(arrays["a"][1], small)
