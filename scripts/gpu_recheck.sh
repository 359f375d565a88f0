#!/usr/bin/env bash
# Short CUDA re-check of the scoring loop: the two fcn-score benchmarks at steady state, CPU-CUDA
# agreement of a whole fcn-score run, and first-maximum ties on CUDA.  Usage: gpu_recheck.sh OUTDIR
set -u
OUT=${1:?}; PY=${PY:-python3}; W=$(mktemp -d)
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
"$PY" - <<'PY'
import numpy as np, torch
x = np.random.default_rng(8).integers(0, 3, (4, 20, 64, 64)).astype(np.float32)
got = torch.from_numpy(x).cuda().max(1).indices.cpu().numpy()
print("cuda max(1).indices equals numpy argmax on ties:", bool((got == x.argmax(1)).all()))
PY
for a in "fast 512" "pix2pix 64"; do set -- $a
  timeout 200 "$PY" -m p2peval bench fcn-score --protocol $1 --n $2 --workers 12 --device cuda --repeats 3 \
    --out "$OUT/fcn_score_$1_cuda.json" | grep -v '^ \|^{\|^}'
done
"$PY" -m p2peval data toycity "$W/toy" --n 8 --val 8 --size 128 --workers 8 > /dev/null
"$PY" -m p2peval scorer train --data "$W/toy/cityscapes" --arch fcn8s-small --out "$W/s.pt" --device cuda --steps 40 --batch-size 4 --quiet
for d in cpu cuda; do "$PY" -m p2peval fcn-score "$W/toy/cityscapes/leftImg8bit/val/pixelstadt" --cityscapes "$W/toy/cityscapes" \
  --scorer "$W/s.pt" --device $d --out "$W/$d.json" > /dev/null; done
"$PY" -c "import json,sys; a,b=(json.load(open(f'$W/{d}.json'))['confusion_matrix'] for d in ('cpu','cuda')); print('fcn-score confusion cpu == cuda:', a==b)"
