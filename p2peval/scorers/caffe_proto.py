"""Read Caffe model files (binary ``NetParameter``) without Caffe and without generated code.

A hand-written reader of the protobuf wire format, knowing only the few fields a model file
needs (docs/reference.md section 1):

- ``NetParameter``: name=1, layers=2 (legacy ``V1LayerParameter``), layer=100 (``LayerParameter``)
- ``LayerParameter``: name=1, type=2 (string), bottom=3, top=4, blobs=7,
  convolution_param=106, pooling_param=121, crop_param=144
- ``V1LayerParameter``: bottom=2, top=3, name=4, type=5 (enum), blobs=6, convolution_param=10,
  pooling_param=19
- ``BlobProto``: num/channels/height/width=1..4 (legacy shape), data=5 (float32), shape=7
  (``BlobShape.dim``=1, int64), double_data=8

The file is memory-mapped; blob data stay where they are in the file (``BlobData`` records
their byte ranges), so a reader of the 513 MB reference model holds no copy of it.
``BlobData.copy_into`` copies one blob into a caller's array in chunks and tells the kernel to
drop the mapped pages it has read, so the peak memory of an import is about one model size.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from p2peval.core.errors import InputError

WIRE_VARINT, WIRE_I64, WIRE_LEN, WIRE_I32 = 0, 1, 2, 5

# V1LayerParameter.LayerType (caffe.proto), for files written in the legacy ``layers`` form.
V1_LAYER_TYPES = {
    0: "None", 1: "Accuracy", 2: "BNLL", 3: "Concat", 4: "Convolution", 5: "Data",
    6: "Dropout", 7: "EuclideanLoss", 8: "Flatten", 9: "HDF5Data", 10: "HDF5Output",
    11: "Im2col", 12: "ImageData", 13: "InfogainLoss", 14: "InnerProduct", 15: "LRN",
    16: "MultinomialLogisticLoss", 17: "Pooling", 18: "ReLU", 19: "Sigmoid", 20: "Softmax",
    21: "SoftmaxWithLoss", 22: "Split", 23: "TanH", 24: "WindowData", 25: "Eltwise",
    26: "Power", 27: "SigmoidCrossEntropyLoss", 28: "HingeLoss", 29: "MemoryData",
    30: "ArgMax", 31: "Threshold", 32: "DummyData", 33: "Slice", 34: "MVN", 35: "AbsVal",
    36: "Silence", 37: "ContrastiveLoss", 38: "Exp", 39: "Deconvolution",
}
V1_TYPE_IDS = {v: k for k, v in V1_LAYER_TYPES.items()}

# Copy blobs in pieces of this many bytes, dropping the file pages read after each piece.
COPY_CHUNK_BYTES = 64 << 20


class WireError(Exception):
    """Malformed protobuf at byte ``pos``; ``truncated`` when a field runs past the end."""

    def __init__(self, message: str, pos: int, truncated: bool = False):
        super().__init__(message)
        self.pos, self.truncated = pos, truncated


def read_varint(buf, pos: int, end: int) -> tuple[int, int]:
    """Decode a base-128 varint at ``pos``; returns (value, next position)."""
    value = shift = 0
    start = pos
    while True:
        if pos >= end:
            raise WireError("varint runs past the end of its message", start, truncated=True)
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
        if shift >= 70:
            raise WireError("varint longer than 10 bytes", start)


def iter_fields(buf, start: int, end: int):
    """Yield ``(field number, wire type, value, field start)`` for one message in buf[start:end].

    ``value`` is an int for varint and fixed-width fields and a ``(begin, end)`` byte range for
    length-delimited ones (strings, sub-messages, packed arrays): nothing is copied.
    """
    pos = start
    while pos < end:
        at = pos
        key, pos = read_varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0", at)
        if wire == WIRE_VARINT:
            value, pos = read_varint(buf, pos, end)
        elif wire == WIRE_LEN:
            length, pos = read_varint(buf, pos, end)
            if pos + length > end:
                raise WireError(f"field {number} declares {length} bytes but only {end - pos} remain",
                                at, truncated=True)
            value = (pos, pos + length)
            pos += length
        elif wire == WIRE_I32:
            if pos + 4 > end:
                raise WireError(f"32-bit field {number} runs past the end", at, truncated=True)
            value = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        elif wire == WIRE_I64:
            if pos + 8 > end:
                raise WireError(f"64-bit field {number} runs past the end", at, truncated=True)
            value = int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        else:  # 3/4 (groups) never occur in caffe.proto; 6/7 do not exist
            raise WireError(f"wire type {wire} (field {number}) does not occur in a Caffe model", at)
        yield number, wire, value, at


def _varints(buf, wire: int, value) -> list[int]:
    """A repeated integer field occurrence, packed (a byte range of varints) or not (one int)."""
    if wire == WIRE_VARINT:
        return [value]
    if wire != WIRE_LEN:
        raise WireError("integer field with a fixed-width wire type", 0)
    out, pos = [], value[0]
    while pos < value[1]:
        v, pos = read_varint(buf, pos, value[1])
        out.append(v)
    return out


def _string(buf, value, at: int) -> str:
    if not isinstance(value, tuple):
        raise WireError("expected a string", at)
    try:
        return bytes(buf[value[0]:value[1]]).decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("string field is not UTF-8", at) from None


@dataclass
class BlobData:
    """Where a blob's values lie in the file: byte ranges of little-endian float32 or float64."""

    shape: tuple[int, ...]
    legacy_shape: bool  # shape came from num/channels/height/width (always 4-D)
    chunks: list[tuple[str, int, int]] = field(default_factory=list)  # (dtype '<f4'|'<f8', begin, end)
    offset: int = 0  # byte offset of the BlobProto in the file

    @property
    def count(self) -> int:
        return sum((e - b) // (4 if dt == "<f4" else 8) for dt, b, e in self.chunks)

    def matches(self, expected: tuple[int, ...]) -> bool:
        """Caffe's rule: a legacy 4-D shape matches ``expected`` left-padded with ones."""
        if not self.legacy_shape:
            return tuple(self.shape) == tuple(expected)
        if len(expected) > 4:
            return False
        return tuple(self.shape) == (1,) * (4 - len(expected)) + tuple(expected)

    def copy_into(self, out: np.ndarray, mm) -> None:
        """Copy the values into the float32 array ``out`` (flattened), releasing file pages."""
        if not out.flags.c_contiguous or out.dtype != np.float32 or out.size != self.count:
            raise ValueError(f"copy_into needs a C-contiguous float32 array of {self.count} values")
        flat = out.reshape(-1)
        o = 0
        for dtype, begin, end in self.chunks:
            size = 4 if dtype == "<f4" else 8
            step = max(size, COPY_CHUNK_BYTES // size * size)
            for b in range(begin, end, step):
                e = min(end, b + step)
                view = np.frombuffer(mm, dtype=dtype, count=(e - b) // size, offset=b)
                flat[o:o + view.size] = view
                o += view.size
                del view
                _drop_pages(mm, b, e)

    def to_numpy(self, mm) -> np.ndarray:
        """A float32 copy with the blob's own shape."""
        arr = np.empty(self.shape, dtype=np.float32)
        self.copy_into(arr, mm)
        return arr


def _drop_pages(mm, begin: int, end: int) -> None:
    """Tell the kernel the mapped pages of [begin, end) are no longer needed (keeps RSS flat)."""
    if not hasattr(mm, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
        return
    page = mmap.PAGESIZE
    b = begin // page * page
    e = min(len(mm), (end + page - 1) // page * page)
    if e > b:
        mm.madvise(mmap.MADV_DONTNEED, b, e - b)


@dataclass
class CaffeLayer:
    name: str
    type: str
    bottoms: list[str]
    tops: list[str]
    blobs: list[BlobData]
    params: dict  # the few layer settings checked on import: conv, pool, crop
    offset: int  # byte offset of the layer in the file


@dataclass
class CaffeNet:
    name: str
    form: str  # "layer" (field 100) or "layers" (legacy field 2)
    layers: list[CaffeLayer]

    def by_name(self) -> dict[str, CaffeLayer]:
        return {layer.name: layer for layer in self.layers}


def parse_blob(buf, begin: int, end: int) -> BlobData:
    legacy = {}
    shape: list[int] | None = None
    chunks: list[tuple[str, int, int]] = []
    for number, wire, value, at in iter_fields(buf, begin, end):
        if number in (1, 2, 3, 4) and wire == WIRE_VARINT:  # num, channels, height, width
            legacy[number] = value
        elif number == 7 and wire == WIRE_LEN:  # BlobShape
            shape = shape or []
            for n2, w2, v2, _ in iter_fields(buf, *value):
                if n2 == 1:
                    shape.extend(_varints(buf, w2, v2))
        elif number in (5, 8):  # data (float32) / double_data (float64)
            dtype, size = ("<f4", 4) if number == 5 else ("<f8", 8)
            if wire == WIRE_LEN:  # packed
                if (value[1] - value[0]) % size:
                    raise WireError(f"packed blob data of {value[1] - value[0]} bytes is not a whole "
                                    f"number of {size}-byte values", at)
                chunks.append((dtype, value[0], value[1]))
            elif (wire, size) in ((WIRE_I32, 4), (WIRE_I64, 8)):  # unpacked: one value per field
                chunks.append((dtype, at + _key_len(buf, at), at + _key_len(buf, at) + size))
            else:
                raise WireError(f"blob data field with wire type {wire}", at)
    if shape is None:
        dims = tuple(legacy.get(i, 0) for i in (1, 2, 3, 4))
        # A legacy blob with no dims at all is an empty blob.
        out = BlobData(shape=dims, legacy_shape=True, chunks=_merge(chunks), offset=begin)
    else:
        out = BlobData(shape=tuple(shape), legacy_shape=False, chunks=_merge(chunks), offset=begin)
    expected = int(np.prod(out.shape, dtype=np.int64)) if out.shape else 0
    if out.count != expected:
        raise WireError(f"blob holds {out.count} values but its shape {out.shape} needs {expected}", begin)
    return out


def _key_len(buf, at: int) -> int:
    n = 1
    while buf[at + n - 1] >= 0x80:
        n += 1
    return n


def _merge(chunks: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Join byte ranges of one dtype that are adjacent (unpacked values one after another)."""
    out: list[tuple[str, int, int]] = []
    for c in chunks:
        if out and out[-1][0] == c[0] and out[-1][2] == c[1]:
            out[-1] = (c[0], out[-1][1], c[2])
        else:
            out.append(c)
    return out


def _conv_params(buf, begin: int, end: int) -> dict:
    p: dict = {"pad": [], "kernel_size": [], "stride": []}
    names = {1: "num_output", 2: "bias_term", 5: "group", 9: "pad_h", 10: "pad_w", 11: "kernel_h", 12: "kernel_w",
             13: "stride_h", 14: "stride_w"}
    for number, wire, value, _ in iter_fields(buf, begin, end):
        if number in (3, 4, 6):
            p[{3: "pad", 4: "kernel_size", 6: "stride"}[number]].extend(_varints(buf, wire, value))
        elif number == 18:
            p.setdefault("dilation", []).extend(_varints(buf, wire, value))
        elif number in names and wire == WIRE_VARINT:
            p[names[number]] = value
    return p


def conv_geometry(p: dict) -> dict:
    """(kernel, stride, pad) as (h, w) pairs with Caffe's defaults (stride 1, pad 0)."""
    def pair(key: str, h: str, w: str, default: int | None):
        if h in p or w in p:
            return (p.get(h, default), p.get(w, default))
        vals = p.get(key) or ([] if default is None else [default])
        if not vals:
            return (None, None)
        return (vals[0], vals[-1])
    return {"kernel": pair("kernel_size", "kernel_h", "kernel_w", None),
            "stride": pair("stride", "stride_h", "stride_w", 1),
            "pad": pair("pad", "pad_h", "pad_w", 0),
            "dilation": tuple((p.get("dilation") or [1])[:1] * 2),
            "group": p.get("group", 1)}


def _pool_params(buf, begin: int, end: int) -> dict:
    """MAX/AVE, kernel, stride, pad as (h, w) pairs with Caffe's defaults, and the rounding."""
    names = {1: "pool", 2: "kernel_size", 3: "stride", 4: "pad", 5: "kernel_h", 6: "kernel_w",
             7: "stride_h", 8: "stride_w", 9: "pad_h", 10: "pad_w", 12: "global_pooling",
             13: "round_mode"}
    raw = {names[n]: v for n, w, v, _ in iter_fields(buf, begin, end) if n in names and w == WIRE_VARINT}

    def pair(key: str, default):
        one = raw.get(key, default)
        return (raw.get(f"{key.split('_')[0]}_h", one), raw.get(f"{key.split('_')[0]}_w", one))
    return {"pool": raw.get("pool", 0), "kernel": pair("kernel_size", None), "stride": pair("stride", 1),
            "pad": pair("pad", 0), "global": bool(raw.get("global_pooling", 0)),
            "round_mode": raw.get("round_mode", 0)}


def _crop_params(buf, begin: int, end: int) -> dict:
    p: dict = {"axis": 2, "offset": []}
    for number, wire, value, _ in iter_fields(buf, begin, end):
        if number == 1 and wire == WIRE_VARINT:
            p["axis"] = value - (1 << 64) if value >= 1 << 63 else value  # int32 may be negative
        elif number == 2:
            p["offset"].extend(_varints(buf, wire, value))
    return p


# Field numbers of the two layer messages: name, type, bottom, top, blobs, conv, pool, crop.
_LAYER_FIELDS = {
    "layer": dict(name=1, type=2, bottom=3, top=4, blobs=7, conv=106, pool=121, crop=144),
    "layers": dict(name=4, type=5, bottom=2, top=3, blobs=6, conv=10, pool=19, crop=None),
}


def parse_layer(buf, begin: int, end: int, form: str) -> CaffeLayer:
    f = _LAYER_FIELDS[form]
    name, ltype, bottoms, tops, blobs, params = "", "", [], [], [], {}
    for number, wire, value, at in iter_fields(buf, begin, end):
        if number == f["name"] and wire == WIRE_LEN:
            name = _string(buf, value, at)
        elif number == f["type"]:
            if form == "layer":
                ltype = _string(buf, value, at)
            elif wire == WIRE_VARINT:
                ltype = V1_LAYER_TYPES.get(value, f"V1 type {value}")
        elif number == f["bottom"] and wire == WIRE_LEN:
            bottoms.append(_string(buf, value, at))
        elif number == f["top"] and wire == WIRE_LEN:
            tops.append(_string(buf, value, at))
        elif number == f["blobs"] and wire == WIRE_LEN:
            blobs.append(parse_blob(buf, *value))
        elif number == f["conv"] and wire == WIRE_LEN:
            params["conv"] = _conv_params(buf, *value)
        elif number == f["pool"] and wire == WIRE_LEN:
            params["pool"] = _pool_params(buf, *value)
        elif f["crop"] is not None and number == f["crop"] and wire == WIRE_LEN:
            params["crop"] = _crop_params(buf, *value)
        elif form == "layers" and number == 1 and wire == WIRE_LEN:
            raise WireError("layer in the pre-2014 V0 format (upgrade it with Caffe's "
                            "upgrade_net_proto_binary first)", at)
    return CaffeLayer(name, ltype, bottoms, tops, blobs, params, begin)


def parse_net(buf, size: int) -> CaffeNet:
    """Parse a whole ``NetParameter`` held in ``buf`` (bytes, memoryview or mmap)."""
    name, layers, forms = "", [], set()
    for number, wire, value, at in iter_fields(buf, 0, size):
        if number == 1 and wire == WIRE_LEN:
            name = _string(buf, value, at)
        elif number in (100, 2) and wire == WIRE_LEN:
            form = "layer" if number == 100 else "layers"
            forms.add(form)
            layers.append(parse_layer(buf, *value, form))
    if not layers:
        raise WireError("no layers (field 100 or 2): not a Caffe NetParameter", 0)
    form = "layer" if forms == {"layer"} else "layers" if forms == {"layers"} else "mixed"
    return CaffeNet(name, form, layers)


def _describe_non_caffe(head: bytes) -> str:
    if head.startswith(b"\x89PNG") or head[:3] == b"\xff\xd8\xff":
        return "an image"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (a PyTorch checkpoint?)"
    if head.lstrip()[:6] in (b"name: ", b"layer ", b"layer{", b"input:") or head.lstrip().startswith(b"#"):
        return "a text prototxt (the network definition, not the weights)"
    return ""


class CaffeModelFile:
    """A memory-mapped Caffe model file; use as a context manager.

    ``net`` describes every layer; blob values are read with ``blob.copy_into(out, self.mm)``
    or ``blob.to_numpy(self.mm)``. Raises ``InputError`` (one line) for a file that is missing,
    empty, truncated or not a Caffe model.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError("no such Caffe model file", self.path)
        self.size = self.path.stat().st_size
        if self.size == 0:
            raise InputError("empty file, not a Caffe model", self.path)
        try:
            self._file = open(self.path, "rb")
            self.mm = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as e:
            self.close()
            raise InputError(f"cannot read the file ({e.strerror or e})", self.path) from None
        try:
            self.net = parse_net(self.mm, self.size)
        except WireError as e:
            head = bytes(self.mm[:64])
            self.close()
            what = _describe_non_caffe(head)
            if what:
                raise InputError(f"not a Caffe model file: this looks like {what}", self.path) from None
            if e.truncated:
                raise InputError(f"truncated or corrupt Caffe model: at byte {e.pos} of {self.size}, {e}",
                                 self.path) from None
            raise InputError(f"not a Caffe model file (binary NetParameter): at byte {e.pos}, {e}",
                             self.path) from None

    def close(self) -> None:
        mm, self.mm = getattr(self, "mm", None), None
        if mm is not None:
            try:
                mm.close()
            except BufferError:  # a caller still holds a view; the mapping goes with it
                pass
        f = getattr(self, "_file", None)
        if f is not None:
            f.close()

    def __enter__(self) -> "CaffeModelFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_caffemodel(path: str | Path) -> tuple[CaffeNet, dict[str, list[np.ndarray]]]:
    """Parse a model file and copy out every blob: ``(net, {layer name: [float32 arrays]})``.

    Convenient for small files and tests; imports use ``CaffeModelFile`` to avoid holding the
    arrays twice.
    """
    with CaffeModelFile(path) as f:
        arrays = {layer.name: [b.to_numpy(f.mm) for b in layer.blobs]
                  for layer in f.net.layers if layer.blobs}
        return f.net, arrays


def file_sha256(path: str | Path, chunk: int = 8 << 20) -> str:
    """sha256 of a file read in chunks (does not map it into memory)."""
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()
