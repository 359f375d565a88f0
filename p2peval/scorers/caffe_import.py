"""Import the reference FCN-8s from a Caffe model file: map every blob to
``p2peval.scorers.fcn8s.FCN8s`` by layer name, check the topology, write a p2peval checkpoint.

The file itself is read by ``p2peval.scorers.caffe_proto``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from p2peval.core.errors import InputError
from p2peval.scorers.caffe_proto import (
    CaffeModelFile,
    CaffeNet,
    conv_geometry,
    file_sha256,
)


@dataclass(frozen=True)
class ParamLayer:
    """A layer of FCN-8s that holds weights, and the geometry the PyTorch model assumes."""

    name: str
    type: str  # "Convolution" or "Deconvolution"
    bias: bool
    stride: int
    pad: int


def fcn8s_param_layers() -> list[ParamLayer]:
    """The weight-holding layers of FCN-8s in network order (docs/reference.md section 1)."""
    from p2peval.scorers.fcn8s import conv_layer_names
    layers = [ParamLayer(n, "Convolution", True, 1, 100 if n == "conv1_1" else 1)
              for n in conv_layer_names()]
    layers += [ParamLayer("fc6_cs", "Convolution", True, 1, 0),
               ParamLayer("fc7_cs", "Convolution", True, 1, 0),
               ParamLayer("score_fr", "Convolution", True, 1, 0),
               ParamLayer("upscore2", "Deconvolution", False, 2, 0),
               ParamLayer("score_pool4", "Convolution", True, 1, 0),
               ParamLayer("upscore_pool4", "Deconvolution", False, 2, 0),
               ParamLayer("score_pool3", "Convolution", True, 1, 0),
               ParamLayer("upscore8", "Deconvolution", False, 8, 0)]
    return layers


# Crop layers (blob-free) and their offsets on axes 2 and 3.
FCN8S_CROPS = {"score_pool4c": 5, "score_pool3c": 9, "score": 31}


class TopologyError(Exception):
    """The file is a Caffe model but not an FCN-8s; the message names the first mismatch."""


def _fmt(shape) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def infer_fcn8s_config(net: CaffeNet) -> dict:
    """Channel widths, fc width and number of outputs, read from the blobs' shapes."""
    layers = net.by_name()

    def first_dim(name: str) -> int:
        layer = layers.get(name)
        if layer is None:
            with_blobs = [l.name for l in net.layers if l.blobs]
            listed = ", ".join(with_blobs[:8]) + (", ..." if len(with_blobs) > 8 else "")
            raise TopologyError(f"missing layer {name} of FCN-8s (layers with weights in the "
                                f"file: {listed or 'none'})")
        if not layer.blobs:
            raise TopologyError(f"layer {name} has no weights")
        b = layer.blobs[0]
        dims = b.shape[-4:] if b.legacy_shape else b.shape
        if len(dims) != 4:
            raise TopologyError(f"layer {name}: weight has shape {_fmt(b.shape)}, FCN-8s expects "
                                f"a 4-D convolution weight")
        return int(dims[0])

    widths = [first_dim(f"conv{b}_1") for b in range(1, 6)]
    return {"widths": widths, "fc_width": first_dim("fc6_cs"),
            "num_outputs": first_dim("score_fr")}


def check_fcn8s(net: CaffeNet, expected: dict[str, tuple[int, ...]], allow_extra: bool = False) -> list[str]:
    """Refuse (``TopologyError``) anything that would not compute the FCN-8s function.

    ``expected`` maps parameter names (``conv1_1.weight``) to PyTorch shapes. Checked in
    network order: presence, type, number of blobs, every shape (Caffe's legacy 4-D shapes
    left-padded with ones), and, where the file records them, stride, pad, group, dilation,
    pooling and crop offsets. A layer with weights that FCN-8s lacks is refused unless
    ``allow_extra`` (Caffe itself ignores such layers when it loads weights into a deploy net);
    returns the names of the layers ignored.
    """
    layers = net.by_name()
    known = set()
    ignored: list[str] = []
    for spec in fcn8s_param_layers():
        known.add(spec.name)
        layer = layers.get(spec.name)
        if layer is None:
            raise TopologyError(f"missing layer {spec.name} of FCN-8s")
        if layer.type and layer.type != spec.type:
            raise TopologyError(f"layer {spec.name} is a {layer.type} layer, FCN-8s has a {spec.type}")
        names = [f"{spec.name}.weight"] + ([f"{spec.name}.bias"] if spec.bias else [])
        if len(layer.blobs) != len(names):
            what = "weight and bias" if spec.bias else "a weight and no bias"
            raise TopologyError(f"layer {spec.name} has {len(layer.blobs)} blobs, FCN-8s has {what}")
        for pname, blob in zip(names, layer.blobs):
            if not blob.matches(expected[pname]):
                raise TopologyError(f"layer {spec.name}: {pname.split('.')[1]} has shape "
                                    f"{_fmt(blob.shape)}, FCN-8s expects {_fmt(expected[pname])}")
        conv = layer.params.get("conv")
        if conv is not None:
            g = conv_geometry(conv)
            want = {"stride": (spec.stride,) * 2, "pad": (spec.pad,) * 2, "dilation": (1, 1), "group": 1}
            for key, value in want.items():
                got = tuple(g[key]) if isinstance(value, tuple) else g[key]
                if got != value:
                    raise TopologyError(f"layer {spec.name} has {key} {g[key]}, FCN-8s uses {value}")
    for layer in net.layers:
        if layer.blobs and layer.name not in known:
            if not allow_extra:
                raise TopologyError(f"layer {layer.name} ({layer.type}) has weights but is not part of "
                                    f"FCN-8s (--ignore-extra-layers loads the rest, as Caffe would)")
            ignored.append(layer.name)
        pool = layer.params.get("pool")
        if pool is not None and (pool["pool"], pool["kernel"], pool["stride"], pool["pad"], pool["global"],
                                 pool["round_mode"]) != (0, (2, 2), (2, 2), (0, 0), False, 0):
            raise TopologyError(f"layer {layer.name}: pooling {pool}, FCN-8s uses MAX 2x2 stride 2, "
                                f"pad 0, rounding up")
        crop = layer.params.get("crop")
        if crop is not None and layer.name in FCN8S_CROPS:
            offs = crop["offset"] or [0]
            if crop["axis"] != 2 or any(o != FCN8S_CROPS[layer.name] for o in offs):
                raise TopologyError(f"layer {layer.name} crops axis {crop['axis']} at offset "
                                    f"{offs}, FCN-8s crops axis 2 at {FCN8S_CROPS[layer.name]}")
    return ignored


@dataclass
class ImportedScorer:
    model: "object"  # FCN8s with the file's weights, eval mode, CPU
    config: dict
    source: dict


def load_fcn8s_caffemodel(path: str | Path, show_progress: bool = False, sha256: bool = True,
                          allow_extra: bool = False) -> ImportedScorer:
    """Read a Caffe FCN-8s model file into ``FCN8s`` (widths inferred from the blobs).

    Each blob is copied once from the memory-mapped file into its tensor; the model is built
    on the meta device and takes the tensors as they are, so peak memory is about one model
    size. Raises ``InputError`` naming the file for anything that is not a loadable FCN-8s.
    """
    import torch

    from p2peval.core.progress import progress
    from p2peval.scorers.fcn8s import FCN8s, FCN8sConfig

    path = Path(path)
    digest = file_sha256(path) if sha256 and path.is_file() else None
    with CaffeModelFile(path) as f:
        net = f.net
        try:
            cfg = infer_fcn8s_config(net)
            with torch.device("meta"):
                model = FCN8s(FCN8sConfig.from_dict(cfg))
            expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
            ignored = check_fcn8s(net, expected, allow_extra=allow_extra)
        except TopologyError as e:
            raise InputError(f"not the FCN-8s topology: {e}", path) from None
        layers = net.by_name()
        state: dict[str, torch.Tensor] = {}
        specs = fcn8s_param_layers()
        bar = progress(total=len(specs), desc="import-caffe", unit="layer", disable=not show_progress)
        for spec in specs:
            names = [f"{spec.name}.weight"] + ([f"{spec.name}.bias"] if spec.bias else [])
            for pname, blob in zip(names, layers[spec.name].blobs):
                t = torch.empty(expected[pname], dtype=torch.float32)
                blob.copy_into(t.numpy(), f.mm)
                state[pname] = t
            bar.update(1)
        bar.close()
        encodings = sorted({"legacy" if b.legacy_shape else "shape"
                            for l in net.layers for b in l.blobs})
        dtypes = sorted({dt for l in net.layers for b in l.blobs for dt, _, _ in b.chunks})
    model.load_state_dict(state, assign=True)
    model.eval()
    source = {"caffemodel": path.name, "sha256": digest, "size_bytes": path.stat().st_size,
              "net_name": net.name, "layer_form": net.form, "shape_encoding": encodings,
              "data_dtypes": ["float32" if d == "<f4" else "float64" for d in dtypes],
              "n_layers": len(net.layers), "ignored_layers": ignored}
    return ImportedScorer(model, cfg, source)


def import_caffe(path: str | Path, out: str | Path, show_progress: bool = False,
                 allow_extra: bool = False) -> dict:
    """Convert a Caffe FCN-8s model file to a p2peval checkpoint; returns its metadata."""
    from p2peval.scorers.checkpoint import save_scorer

    imported = load_fcn8s_caffemodel(path, show_progress=show_progress, allow_extra=allow_extra)
    meta = save_scorer(out, imported.model, arch="fcn8s", config=imported.config,
                       protocol="pix2pix", source=imported.source)
    return meta
