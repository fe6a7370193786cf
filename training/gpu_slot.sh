#!/usr/bin/env bash
# One time-boxed slot of the long training runs on a lent GPU machine
# (docs/training-on-a-gpu.md says how a session sends the data and fetches the results):
#
#   bash training/gpu_slot.sh SECONDS OUTDIR RUN...
#
# Resumes the runs named side by side, with exactly their recipes: efc_all_kd_s32
# (reproduce.sh efc_all_kd), efc_all_kd_rvn_s32 (reproduce.sh efc_all_kd_rvn), teacher_wide_s32
# (reproduce.sh teacher_wide), efc_all_kd_wide_s32 (reproduce.sh efc_all_kd_wide; needs the
# finished teacher), efc_all_cons_s32 (reproduce.sh efc_all_cons), efc_rvn_s32
# (reproduce_seeds.sh efc_rvn). They share the GPU and 8 threads; their data and augmentation
# run on the machine's CPU cores. Name only unfinished runs: a finished one goes on to its
# export and evaluation, which need the Rust toolchain.
# Each leaves at an epoch boundary before SECONDS (train.py --time-limit); then their
# checkpoints and logs go to OUTDIR/<run>/ and the consoles to OUTDIR/<run>.log, to be
# committed where the next session resumes. A run keeps one checkpoint (reproduce.sh's
# header): last.pt while it trains, best.pt once done; copy back what came and remove the
# .pt files that did not (an old-format best.pt is folded into last.pt by the first epoch).
# Needs a Python with the training stack (LOWRES_FER_TRAIN_PY, default python3) and the
# FER+ tarball under LOWRES_FER_SHARED (common.sh).
set -uo pipefail
secs=$1 out=$2
shift 2
runs=("$@")
[ ${#runs[@]} -gt 0 ] || { echo "usage: gpu_slot.sh SECONDS OUTDIR RUN..." >&2; exit 2; }
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
export LOWRES_FER_TRAIN_PY=${LOWRES_FER_TRAIN_PY:-python3} PYTHONUNBUFFERED=1
export LOWRES_FER_TRAIN_ARGS="--time-limit $secs --threads $((8 / ${#runs[@]}))"
mkdir -p "$out"
"$LOWRES_FER_TRAIN_PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
# Extract FER+ once before the runs start, or both would extract it over each other.
"$LOWRES_FER_TRAIN_PY" -c 'import sys; sys.path.insert(0, "training"); import pathlib; from lowres_fer_training import data; data.extract(pathlib.Path(sys.argv[1]))' \
  "${LOWRES_FER_SHARED:-../shared}/data/ferplus.tar.gz" || exit 1
for run in "${runs[@]}"; do
  case "$run" in
    efc_all_kd_s32) bash training/reproduce.sh efc_all_kd > "$out/$run.log" 2>&1 & ;;
    efc_all_kd_rvn_s32) bash training/reproduce.sh efc_all_kd_rvn > "$out/$run.log" 2>&1 & ;;
    teacher_wide_s32) bash training/reproduce.sh teacher_wide > "$out/$run.log" 2>&1 & ;;
    efc_all_kd_wide_s32) bash training/reproduce.sh efc_all_kd_wide > "$out/$run.log" 2>&1 & ;;
    efc_all_cons_s32) bash training/reproduce.sh efc_all_cons > "$out/$run.log" 2>&1 & ;;
    efc_rvn_s32) bash training/reproduce_seeds.sh efc_rvn > "$out/$run.log" 2>&1 & ;;
    *) echo "gpu_slot.sh: unknown run '$run' (efc_all_kd_s32, efc_all_kd_rvn_s32, teacher_wide_s32," \
         "efc_all_kd_wide_s32, efc_all_cons_s32 or efc_rvn_s32)" >&2; exit 2 ;;
  esac
done
wait
for run in "${runs[@]}"; do
  mkdir -p "$out/$run"
  for f in last.pt best.pt log.jsonl; do
    [ -f "training/runs/$run/$f" ] && cp "training/runs/$run/$f" "$out/$run/"
  done
  echo "$run: $(wc -l < "training/runs/$run/log.jsonl") epochs logged"
done
