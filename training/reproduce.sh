#!/usr/bin/env bash
# Reproduce every committed model from scratch (CPU: about 2.5 h on 2 cores; a GPU
# is used automatically when present). Resumable: re-running skips finished runs.
#
#   bash training/reproduce.sh            # train, export to models/, evaluate
#   bash training/reproduce.sh efc_all    # only step 1 (the long run; resumable, safe to interrupt)
#   bash training/reproduce.sh efc_all_kd # only the distilled variant of step 1 (long, resumable; not the default)
#   bash training/reproduce.sh efc_all_kd_rvn # the same, distilled from the crop-voting model (long, resumable)
#
# The long run's checkpoints live in training/runs/efc_all_s32/ and are committed
# (last.pt, best.pt, log.jsonl) so that the next session resumes where this one
# stopped; the other runs are short and are rebuilt.
#
# Steps (see models/MODEL_CARD.md for the figures each produced):
#   1. efc_all_s32  : EFC trained on all resolutions (the node's default classifier)
#   2. efc_r48_s32  : the single-resolution baseline (48 px only), for the routing benchmark
#   3. experts      : efc_all_s32 fine-tuned on each resolution bin of training/routing.py
#   4. rrn_s32      : the resolution recognition network
# Every emotion model is calibrated on Valid after its export (training/calibrate.py)
# and gets INT8 and FP16 variants (training/quantize.py) for `classifier.precision`.
set -euo pipefail
# shellcheck source=training/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# Recipe (models/MODEL_CARD.md, "Training"): soft vote labels, half the faces through a
# random camera (training/degrade.py), rotation/scale and erasing, one-cycle schedule.
# One thread: the run shares a 2-core machine with everything else for many hours.
run efc_all_s32 --epochs 150 --weight-decay 0.02 --threads 1
[ "${1:-all}" = efc_all ] && exit 0
# The distilled candidate (issue 9): the same recipe, distilled from efc_all_s32 seeing the clean
# 48 px face, the winner of training/ab_recipe.sh's 12-epoch Valid A/Bs. Over its 150 epochs it tied
# with efc_all_s32 on Valid and lost on Test, so it is not the default and not part of `all`
# (models/MODEL_CARD.md, "Distillation at full budget"); only `bash training/reproduce.sh efc_all_kd`
# trains (and resumes) it.
if [ "${1:-all}" = efc_all_kd ]; then
  run efc_all_kd_s32 --epochs 150 --weight-decay 0.02 --threads 1 --teacher "$RUNS/efc_all_s32/best.pt"
  # Once its 150 epochs are done (a time-boxed slot may leave earlier): exported as a candidate,
  # calibrated like the default, evaluated on Test. Only the evaluator's JSON is committed; the ONNX
  # file and its manifest entry are not.
  finished efc_all_kd_s32 150 || exit 0
  evaluate_candidate efc_all_kd_s32
  exit 0
fi
# The same student distilled from a stronger 48 px teacher (issue 9): efc_rvn_s32, the crop-voting
# seed option (reproduce_seeds.sh), 1.3 points above efc_all_s32 at 48 px on Valid. Long and
# resumable like efc_all_kd; best on a GPU (docs/training-on-a-gpu.md), where the teacher's forward
# pass is cheap.
if [ "${1:-all}" = efc_all_kd_rvn ]; then
  finished efc_rvn_s32 150 || { echo "efc_all_kd_rvn needs the finished teacher first: bash training/reproduce_seeds.sh efc_rvn" >&2; exit 1; }
  run efc_all_kd_rvn_s32 --epochs 150 --weight-decay 0.02 --threads 1 --teacher "$RUNS/efc_rvn_s32/best.pt"
  finished efc_all_kd_rvn_s32 150 || exit 0
  evaluate_candidate efc_all_kd_rvn_s32
  exit 0
fi
run efc_r48_s32 --epochs 10 --resolutions 48 --select 48 --threads 1
# Export (which resets the model's manifest entry), then fit the class balance and the
# temperature on Valid (training/calibrate.py; the node applies both).
"$PY" training/export.py "$RUNS/efc_all_s32/best.pt" models/efc_all_s32.onnx --data "$DATA"
"$PY" training/calibrate.py models/efc_all_s32.onnx --data "$DATA"
"$PY" training/quantize.py models/efc_all_s32.onnx --data "$DATA"  # INT8/FP16 variants (classifier.precision)
"$PY" training/export.py "$RUNS/efc_r48_s32/best.pt" models/efc_r48_s32.onnx --data "$DATA" --role baseline
"$PY" training/calibrate.py models/efc_r48_s32.onnx --data "$DATA"
"$PY" - <<'PYEOF' > "$RUNS/experts.txt"
import sys; sys.path.insert(0, "training")
import routing
for b in routing.BINS:
    lo, hi = b["face_px"]
    print(b["name"], ",".join(map(str, b["resolutions"])), f"{lo},{min(hi, 1e6)}", b.get("model", "-"))
PYEOF
while read -r name res px model; do
  if [ "$model" = "-" ]; then  # fine-tune the all-resolution model on this bin
    run "expert_$name" --epochs 5 --lr 1e-3 --resolutions "$res" --select "$res" --init "$RUNS/efc_all_s32/best.pt" --threads 1
    ckpt="$RUNS/expert_$name/best.pt"
  else                         # an already trained single-resolution model serves this bin
    ckpt="$RUNS/$model/best.pt"
  fi
  "$PY" training/export.py "$ckpt" "models/expert_$name.onnx" --data "$DATA" --role expert --face-px "$px"
  "$PY" training/calibrate.py "models/expert_$name.onnx" --data "$DATA"
  "$PY" training/quantize.py "models/expert_$name.onnx" --data "$DATA"
done < "$RUNS/experts.txt"
[ -f "$RUNS/rrn_s32/best.pt" ] || "$PY" training/train_rrn.py --data "$DATA" --out "$RUNS/rrn_s32" --epochs 4 --threads 1
"$PY" training/export.py "$RUNS/rrn_s32/best.pt" models/rrn_s32.onnx --data "$DATA" --role resolution_recogniser
