#!/usr/bin/env bash
# CUDA checks and figures, for a machine with one NVIDIA GPU (CI has none).
#   scripts/gpu_check.sh OUTDIR [CAFFE_FIXTURE_DIR]
# Writes OUTDIR/log.txt, the CUDA benchmark JSONs and OUTDIR/gpu_parity.json.
# PY selects the interpreter (default: .venv/bin/python, else python3).
set -u
OUT=${1:?usage: scripts/gpu_check.sh OUTDIR [CAFFE_FIXTURE_DIR]}
FIX=${2:-tests/fixtures/caffe_fcn8s_tiny}
PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
mkdir -p "$OUT"
W=$(mktemp -d)
LOG=$OUT/log.txt
: > "$LOG"

step() {  # step NAME SECONDS CMD...: run with a time limit, log everything, never stop the script
    local name=$1 limit=$2; shift 2
    local t0=$(date +%s.%N)
    echo "== $name: $*" | tee -a "$LOG"
    timeout "$limit" "$@" >> "$LOG" 2>&1
    local rc=$?
    echo "== $name: rc=$rc, $(python3 -c "print(f'{$(date +%s.%N)-$t0:.1f}')") s" | tee -a "$LOG"
}

step env 60 bash -c "nvidia-smi -L; nproc; $PY -c 'import torch, sys; print(sys.version.split()[0], torch.__version__, torch.version.cuda, torch.cuda.get_device_name())'"
step bench-fast 150 "$PY" -m p2peval bench fcn-score --protocol fast --device cuda --n 64 --repeats 3 --workers 8 \
    --out "$OUT/fcn_score_fast_cuda.json"
step bench-pix2pix 150 "$PY" -m p2peval bench fcn-score --protocol pix2pix --device cuda --n 8 --repeats 3 --workers 8 \
    --out "$OUT/fcn_score_pix2pix_cuda.json"
step train-fp32 90 "$PY" -m p2peval bench train-step --size 256 --batch 1 --device cuda --repeats 50 --warmup 5 \
    --out "$OUT/train_step_cuda_256.json"
step train-bf16 90 "$PY" -m p2peval bench train-step --size 256 --batch 1 --device cuda --precision bf16 --channels-last \
    --compare-fp32 --no-baseline --repeats 50 --warmup 5 --out "$OUT/train_step_cuda_256_bf16.json"
# Whole commands on CUDA: data, scorer training, fcn-score on CPU / CUDA / torchrun+nccl, pix2pix train + translate.
step toycity 60 "$PY" -m p2peval data toycity "$W/toy" --n 16 --val 8 --size 128 --workers 8
step scorer-train 90 "$PY" -m p2peval scorer train --data "$W/toy/cityscapes" --arch fcn8s-small --out "$W/scorer.pt" \
    --device cuda --steps 60 --batch-size 4
for dev in cpu cuda; do
    step "fcn-score-$dev" 90 "$PY" -m p2peval fcn-score "$W/toy/cityscapes/leftImg8bit/val/pixelstadt" --cityscapes "$W/toy/cityscapes" \
        --scorer "$W/scorer.pt" --device $dev --out "$W/score_$dev.json"
done
step fcn-score-torchrun 120 "$PY" -m torch.distributed.run --nproc-per-node 1 -m p2peval fcn-score \
    "$W/toy/cityscapes/leftImg8bit/val/pixelstadt" --cityscapes "$W/toy/cityscapes" --scorer "$W/scorer.pt" --device cuda \
    --out "$W/score_torchrun.json"
step pix2pix-train 90 "$PY" -m p2peval train pix2pix --data "$W/toy" --out "$W/run" --device cuda --quiet \
    --set steps=40 --set generator.ngf=32 --set discriminator.ndf=32
step translate 60 "$PY" -m p2peval translate "$W/run" --data "$W/toy" --out "$W/translated" --device cuda --quiet
step parity 240 "$PY" scripts/gpu_parity.py --fixture "$FIX" --scores "$W" --out "$OUT/gpu_parity.json"
rm -rf "$W"
