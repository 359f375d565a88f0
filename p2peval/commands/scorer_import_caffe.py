"""``p2peval scorer import-caffe``: the reference Caffe FCN-8s as a p2peval checkpoint."""

from __future__ import annotations

HELP = ("Convert a Caffe FCN-8s model file (fcn-8s-cityscapes.caffemodel, the scorer behind every "
        "published FCN-score) to a p2peval scorer checkpoint, without Caffe. Both layer forms "
        "(layer/layers) and both blob shape encodings are read; every blob is mapped to FCN-8s by "
        "layer name and its shape checked; channel widths are read from the blobs. The checkpoint "
        "records the source file's sha256 and the protocol pix2pix.")
EXAMPLES = ("  p2peval scorer import-caffe fcn-8s-cityscapes.caffemodel --out scorers/fcn8s-caffe.pt\n"
            "  p2peval fcn-score RESULTS --cityscapes CITYSCAPES --scorer scorers/fcn8s-caffe.pt")


def add_arguments(p) -> None:
    p.add_argument("model", help="Caffe model file (.caffemodel, binary NetParameter)")
    p.add_argument("--out", required=True, help="checkpoint to write (.pt)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--ignore-extra-layers", action="store_true",
                   help="load a file that also holds weights of layers FCN-8s does not have, ignoring "
                        "them (as Caffe does when it loads weights into the deploy net); they are listed "
                        "in the checkpoint")
    p.add_argument("--json", action="store_true", help="print the checkpoint's metadata as JSON")


def run(args) -> int:
    import json
    import time
    from pathlib import Path

    from p2peval.core.errors import InputError
    from p2peval.scorers.caffe_import import import_caffe

    out = Path(args.out)
    if out.exists() and not args.force:
        raise InputError("exists; pass --force to replace it", out)
    if out.resolve() == Path(args.model).resolve():
        raise InputError("--out is the model file itself", out)
    t0 = time.perf_counter()
    meta = import_caffe(args.model, out, show_progress=True, allow_extra=args.ignore_extra_layers)
    seconds = time.perf_counter() - t0
    if args.json:
        print(json.dumps({**meta, "out": str(out), "seconds": round(seconds, 2)}, indent=2))
        return 0
    src, cfg = meta["source"], meta["config"]
    print(f"imported {src['caffemodel']} ({src['size_bytes']:,} bytes, sha256 {src['sha256']})")
    print(f"  layers {src['n_layers']} ({src['layer_form']} form, blob shapes: "
          f"{', '.join(src['shape_encoding'])}); FCN-8s widths {cfg['widths']}, fc {cfg['fc_width']}, "
          f"{cfg['num_outputs']} outputs")
    if src.get("ignored_layers"):
        print(f"  ignored layers with weights that FCN-8s does not have: {', '.join(src['ignored_layers'])}")
    print(f"  wrote {out} (arch fcn8s, protocol {meta['protocol']}, weights sha256 "
          f"{meta['weights_sha256'][:16]}...) in {seconds:.1f} s")
    return 0
