"""``p2peval scorer info``: a checkpoint's metadata, with its weights verified."""

from __future__ import annotations

HELP = ("Show a scorer checkpoint's metadata (architecture, widths, classes, protocol, training) "
        "and verify that its weights match the recorded sha256 and fit the architecture.")
EXAMPLES = "  p2peval scorer info scorers/toy.pt\n  p2peval scorer info scorers/toy.pt --json"


def add_arguments(p) -> None:
    p.add_argument("checkpoint", help="scorer checkpoint (.pt)")
    p.add_argument("--json", action="store_true", help="print the metadata as JSON")


def run(args) -> int:
    import json

    from p2peval.scorers.checkpoint import load_scorer

    model, meta = load_scorer(args.checkpoint)  # raises on any mismatch
    n_params = sum(p.numel() for p in model.parameters())
    meta = {**meta, "parameters": n_params, "verified": True}
    if args.json:
        print(json.dumps(meta, indent=2, default=str))
        return 0
    print(f"checkpoint     {args.checkpoint}")
    print(f"architecture   {meta['arch']}  ({n_params:,} parameters)")
    print(f"config         {json.dumps(meta.get('config'))}")
    print(f"outputs        {meta['num_outputs']} (classes: {len(meta['classes'])} Cityscapes train ids)")
    print(f"protocol       {meta['protocol']}")
    print(f"weights sha256 {meta['weights_sha256']}  (verified)")
    tr = meta.get("training")
    if tr:
        c = tr.get("config", {})
        print(f"training       {tr.get('step')}/{tr.get('total_steps')} steps "
              f"({tr.get('epochs_done', 0):.2f} epochs of {tr.get('train_frames')} frames"
              f"{', finished' if tr.get('finished') else ', unfinished'}); "
              f"{c.get('optimizer')} lr {c.get('lr')} batch {c.get('batch_size')} seed {c.get('seed')}")
        print(f"               data {tr.get('data')}; input {tr.get('input')}")
        if tr.get("last_loss") is not None:
            print(f"               last loss {tr['last_loss']:.4f}")
        if tr.get("validation"):
            v = tr["validation"][-1]
            print(f"validation     epoch {v['epoch']}: per-pixel {v['per_pixel_acc']:.3f} "
                  f"per-class {v['per_class_acc']:.3f} IoU {v['class_iou']:.3f} on {v['frames']} val frames")
    if meta.get("source"):
        print(f"source         {json.dumps(meta['source'])}")
    return 0
