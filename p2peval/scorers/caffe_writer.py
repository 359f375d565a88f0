"""Write Caffe model files (binary ``NetParameter``) for tests and benchmarks.

The inverse of ``p2peval.scorers.caffe_proto``: the same field numbers, written by hand. It writes
both layer forms (``layer``, field 100, and the legacy ``layers``, field 2, with V1 type enums)
and both blob shape encodings (``shape``: a ``BlobShape``; ``legacy``: num/channels/height/width,
so a bias of 20 values is stored as (1, 1, 1, 20)), packed or unpacked, float32 or float64.

Blob values are streamed to the file one blob at a time (a blob may be given as a function that
makes it), so a full-width 538 MB FCN-8s can be written without holding it in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Union

import numpy as np

from p2peval.core.atomic import atomic_path
from p2peval.scorers.caffe_proto import (
    V1_TYPE_IDS,
    WIRE_I32,
    WIRE_I64,
    WIRE_LEN,
    WIRE_VARINT,
)

BlobSource = Union[np.ndarray, Callable[[], np.ndarray]]


def varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # int32/int64 negatives are ten-byte varints
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def field_varint(number: int, value: int) -> bytes:
    return key(number, WIRE_VARINT) + varint(value)


def field_bytes(number: int, payload: bytes) -> bytes:
    return key(number, WIRE_LEN) + varint(len(payload)) + payload


def field_packed_varints(number: int, values) -> bytes:
    return field_bytes(number, b"".join(varint(int(v)) for v in values))


@dataclass
class BlobSpec:
    shape: tuple[int, ...]
    source: BlobSource  # array, or a function returning it (called once, when written)


@dataclass
class LayerSpec:
    name: str
    type: str
    bottoms: list[str] = field(default_factory=list)
    tops: list[str] = field(default_factory=list)
    blobs: list[BlobSpec] = field(default_factory=list)
    conv: dict | None = None  # num_output, pad, kernel_size, stride, bias_term
    pool: dict | None = None  # pool, kernel_size, stride
    crop: dict | None = None  # axis, offset


@dataclass(frozen=True)
class WriteOptions:
    form: Literal["layer", "layers"] = "layer"
    shape_encoding: Literal["shape", "legacy"] = "shape"
    packed: bool = True  # packed repeated floats (what Caffe writes) or one field per value
    dtype: Literal["float32", "float64"] = "float32"  # data (field 5) or double_data (field 8)


def _blob_header(spec: BlobSpec, opt: WriteOptions) -> tuple[bytes, int]:
    """Bytes of the BlobProto before its values, and the byte size of the value part."""
    shape = tuple(int(s) for s in spec.shape)
    if opt.shape_encoding == "shape":
        head = field_bytes(7, field_packed_varints(1, shape))
    else:
        if len(shape) > 4:
            raise ValueError("legacy blob shapes have at most 4 axes")
        legacy = (1,) * (4 - len(shape)) + shape
        head = b"".join(field_varint(i + 1, d) for i, d in enumerate(legacy))
    n = int(np.prod(shape, dtype=np.int64))
    size = 4 if opt.dtype == "float32" else 8
    number, wire = (5, WIRE_I32) if opt.dtype == "float32" else (8, WIRE_I64)
    if opt.packed:
        head += key(number, WIRE_LEN) + varint(n * size)
        return head, n * size
    return head, n * (len(key(number, wire)) + size)


def _blob_values(spec: BlobSpec, opt: WriteOptions) -> np.ndarray | bytes:
    arr = spec.source() if callable(spec.source) else spec.source
    arr = np.asarray(arr)
    if tuple(arr.shape) != tuple(spec.shape):
        raise ValueError(f"blob shape {arr.shape} differs from its spec {spec.shape}")
    dtype = "<f4" if opt.dtype == "float32" else "<f8"
    flat = np.ascontiguousarray(arr.reshape(-1), dtype=dtype)
    if opt.packed:
        return flat
    number, wire = (5, WIRE_I32) if opt.dtype == "float32" else (8, WIRE_I64)
    k = np.frombuffer(key(number, wire), dtype=np.uint8)
    rec = np.empty((flat.size, k.size + flat.itemsize), dtype=np.uint8)
    rec[:, :k.size] = k
    rec[:, k.size:] = flat.view(np.uint8).reshape(flat.size, flat.itemsize)
    return rec.tobytes()


def _conv_bytes(p: dict) -> bytes:
    out = field_varint(1, p["num_output"])
    if "bias_term" in p:
        out += field_varint(2, int(p["bias_term"]))
    for number, k in ((3, "pad"), (4, "kernel_size"), (6, "stride")):
        if k in p:  # repeated uint32, unpacked as protoc writes proto2 fields
            out += field_varint(number, p[k])
    return out


def _layer_header(layer: LayerSpec, opt: WriteOptions) -> bytes:
    if opt.form == "layer":
        out = field_bytes(1, layer.name.encode()) + field_bytes(2, layer.type.encode())
        out += b"".join(field_bytes(3, b.encode()) for b in layer.bottoms)
        out += b"".join(field_bytes(4, t.encode()) for t in layer.tops)
        if layer.conv is not None:
            out += field_bytes(106, _conv_bytes(layer.conv))
        if layer.pool is not None:
            out += field_bytes(121, b"".join(field_varint(n, layer.pool[k]) for n, k in
                                             ((1, "pool"), (2, "kernel_size"), (3, "stride")) if k in layer.pool))
        if layer.crop is not None:
            out += field_bytes(144, field_varint(1, layer.crop.get("axis", 2))
                               + b"".join(field_varint(2, o) for o in layer.crop["offset"]))
        return out
    out = b"".join(field_bytes(2, b.encode()) for b in layer.bottoms)
    out += b"".join(field_bytes(3, t.encode()) for t in layer.tops)
    out += field_bytes(4, layer.name.encode()) + field_varint(5, V1_TYPE_IDS[layer.type])
    if layer.conv is not None:
        out += field_bytes(10, _conv_bytes(layer.conv))
    if layer.pool is not None:
        out += field_bytes(19, b"".join(field_varint(n, layer.pool[k]) for n, k in
                                        ((1, "pool"), (2, "kernel_size"), (3, "stride")) if k in layer.pool))
    return out


def write_caffemodel(path: str | Path, layers: list[LayerSpec], *, name: str = "",
                     options: WriteOptions = WriteOptions()) -> Path:
    """Write ``layers`` as a binary NetParameter (atomically: temp file, then rename).

    In the legacy ``layers`` form, layers whose type has no V1 enum (Input, Crop) are left out,
    as Caffe's own V1 files could not hold them.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        layer_field = 100 if options.form == "layer" else 2
        blobs_field = 7 if options.form == "layer" else 6
        with open(tmp, "wb") as f:
            if name:
                f.write(field_bytes(1, name.encode()))
            for layer in layers:
                if options.form == "layers" and layer.type not in V1_TYPE_IDS:
                    continue
                head = _layer_header(layer, options)
                blob_parts = []
                total = len(head)
                for spec in layer.blobs:
                    bhead, nbytes = _blob_header(spec, options)
                    blen = len(bhead) + nbytes
                    prefix = key(blobs_field, WIRE_LEN) + varint(blen)
                    blob_parts.append((prefix + bhead, spec))
                    total += len(prefix) + blen
                f.write(key(layer_field, WIRE_LEN) + varint(total) + head)
                for prefix, spec in blob_parts:
                    f.write(prefix)
                    values = _blob_values(spec, options)
                    f.write(memoryview(values).cast("B") if isinstance(values, np.ndarray) else values)
                    del values
    return path


# ---------------------------------------------------------------------------------------------
# FCN-8s in the layout of the reference deploy network (as Caffe saves it, Split layers included)

def fcn8s_layers(weights: dict[str, BlobSource], config: dict) -> list[LayerSpec]:
    """All layers of FCN-8s with ``weights`` (``conv1_1.weight`` -> (out, in, kh, kw) array...).

    Deconvolution weights are (in, out, kh, kw), the layout of Caffe and of PyTorch's
    ``ConvTranspose2d``. Shapes come from ``config`` (widths, fc_width, num_outputs), so a
    blob may be a function that makes it.
    """
    import torch

    from p2peval.scorers.fcn8s import FCN8s, FCN8sConfig

    with torch.device("meta"):
        model = FCN8s(FCN8sConfig.from_dict(config))
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}

    def blobs(name: str, bias: bool = True) -> list[BlobSpec]:
        names = [f"{name}.weight"] + ([f"{name}.bias"] if bias else [])
        return [BlobSpec(shapes[n], weights[n]) for n in names]

    def conv(name, bottom, pad, k, n_out, stride=1, bias=True, ltype="Convolution"):
        p = {"num_output": n_out, "kernel_size": k, "stride": stride}
        if pad:
            p["pad"] = pad
        if not bias:
            p["bias_term"] = False
        return LayerSpec(name, ltype, [bottom], [name], blobs(name, bias), conv=p)

    k_out = int(config["num_outputs"])
    layers = [LayerSpec("data", "Input", [], ["data"]),
              LayerSpec("data_data_0_split", "Split", ["data"],
                        ["data_data_0_split_0", "data_data_0_split_1"])]
    bottom = "data_data_0_split_0"
    for (block, n), width in zip(((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)), config["widths"]):
        for i in range(1, n + 1):
            name = f"conv{block}_{i}"
            layers.append(conv(name, bottom, 100 if name == "conv1_1" else 1, 3, width))
            layers.append(LayerSpec(f"relu{block}_{i}", "ReLU", [name], [name]))
            bottom = name
        layers.append(LayerSpec(f"pool{block}", "Pooling", [bottom], [f"pool{block}"],
                                pool={"pool": 0, "kernel_size": 2, "stride": 2}))
        bottom = f"pool{block}"
        if block in (3, 4):
            layers.append(LayerSpec(f"pool{block}_pool{block}_0_split", "Split", [bottom],
                                    [f"{bottom}_{bottom}_0_split_0", f"{bottom}_{bottom}_0_split_1"]))
            bottom = f"{bottom}_{bottom}_0_split_0"
    fc = int(config["fc_width"])
    layers += [conv("fc6_cs", bottom, 0, 7, fc), LayerSpec("relu6_cs", "ReLU", ["fc6_cs"], ["fc6_cs"]),
               conv("fc7_cs", "fc6_cs", 0, 1, fc), LayerSpec("relu7_cs", "ReLU", ["fc7_cs"], ["fc7_cs"]),
               conv("score_fr", "fc7_cs", 0, 1, k_out),
               conv("upscore2", "score_fr", 0, 4, k_out, 2, False, "Deconvolution"),
               LayerSpec("upscore2_upscore2_0_split", "Split", ["upscore2"],
                         ["upscore2_upscore2_0_split_0", "upscore2_upscore2_0_split_1"]),
               conv("score_pool4", "pool4_pool4_0_split_1", 0, 1, k_out),
               LayerSpec("score_pool4c", "Crop", ["score_pool4", "upscore2_upscore2_0_split_0"],
                         ["score_pool4c"], crop={"axis": 2, "offset": [5]}),
               LayerSpec("fuse_pool4", "Eltwise", ["upscore2_upscore2_0_split_1", "score_pool4c"], ["fuse_pool4"]),
               conv("upscore_pool4", "fuse_pool4", 0, 4, k_out, 2, False, "Deconvolution"),
               LayerSpec("upscore_pool4_upscore_pool4_0_split", "Split", ["upscore_pool4"],
                         ["upscore_pool4_upscore_pool4_0_split_0", "upscore_pool4_upscore_pool4_0_split_1"]),
               conv("score_pool3", "pool3_pool3_0_split_1", 0, 1, k_out),
               LayerSpec("score_pool3c", "Crop", ["score_pool3", "upscore_pool4_upscore_pool4_0_split_0"],
                         ["score_pool3c"], crop={"axis": 2, "offset": [9]}),
               LayerSpec("fuse_pool3", "Eltwise", ["upscore_pool4_upscore_pool4_0_split_1", "score_pool3c"], ["fuse_pool3"]),
               conv("upscore8", "fuse_pool3", 0, 16, k_out, 8, False, "Deconvolution"),
               LayerSpec("score", "Crop", ["upscore8", "data_data_0_split_1"], ["score"],
                         crop={"axis": 2, "offset": [31]})]
    return layers


def random_fcn8s_weights(config: dict, seed: int = 0) -> dict[str, Callable[[], np.ndarray]]:
    """Lazily generated random FCN-8s weights (He-style scales; each blob made when written).

    Each blob has its own generator seeded from (seed, blob index), so the values do not depend
    on the order in which blobs are made.
    """
    import torch

    from p2peval.scorers.fcn8s import FCN8s, FCN8sConfig

    with torch.device("meta"):
        model = FCN8s(FCN8sConfig.from_dict(config))
    out: dict[str, Callable[[], np.ndarray]] = {}
    for i, (name, t) in enumerate(model.state_dict().items()):
        shape = tuple(t.shape)

        def make(shape=shape, i=i, bias=name.endswith(".bias")) -> np.ndarray:
            rng = np.random.default_rng([seed, i])
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            std = 0.5 if bias else float(np.sqrt(2.0 / max(fan_in, 1)))
            return (rng.standard_normal(shape, dtype=np.float32) * np.float32(std))
        out[name] = make
    return out


def write_fcn8s_caffemodel(path: str | Path, weights: dict[str, BlobSource], config: dict, *,
                           name: str = "fcn8s", options: WriteOptions = WriteOptions()) -> Path:
    """Write an FCN-8s model file with ``weights`` (arrays or functions, by parameter name)."""
    return write_caffemodel(path, fcn8s_layers(weights, config), name=name, options=options)
