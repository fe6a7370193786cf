#!/usr/bin/env bash
# The seed options of issue 15 (training/lowres_fer_training/models/seeds.py), trained with exactly the recipe and
# budget of efc_all_s32 (training/reproduce.sh step 1), so that the comparison table of
# models/MODEL_CARD.md ("Seed options (issue 15)") is fair. Resumable: re-running skips
# finished runs and resumes interrupted ones from their last epoch.
#
#   bash training/reproduce_seeds.sh            # train both, export, calibrate, quantise, evaluate
#   bash training/reproduce_seeds.sh train      # only train (and resume) both, efc_sr first
#   bash training/reproduce_seeds.sh efc_sr     # only train (and resume) the SR pyramid run
#   bash training/reproduce_seeds.sh efc_rvn    # only train (and resume) the voting run
#   bash training/reproduce_seeds.sh evaluate   # only export, calibrate, quantise, evaluate finished runs
#
# CPU cost on one thread (efc_all_s32 took 2.7 h for 150 epochs): a training step of
# efc_rvn measured 5.1x the EFC's (about 14 h), of efc_sr 1.1x (3-4 h). The checkpoints live in
# training/runs/efc_rvn_s32/ and training/runs/efc_sr_s32/ and are committed with log.jsonl
# (.gitignore): one file per run, last.pt while it trains (the next session resumes from it),
# best.pt once it is done (reproduce.sh's header: the checkpoint policy).
# Exports go to models/<run>.onnx with a manifest entry (role "candidate": not used by the
# node until a row of the table wins), then calibration (training/calibrate.py), INT8/FP16
# variants (training/quantize.py), the Rust evaluator's JSON (models/<run>.eval.json) and
# classify_bench's output (models/<run>.bench.txt); training/render_seed_table.py prints the
# model card's comparison table from them.
set -euo pipefail
# shellcheck source=training/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
step=${1:-all}
# The recipe of efc_all_s32 (reproduce.sh), only --arch differs. The cheaper run first, so
# its row is filled sessions before the voting run's.
case "$step" in all|train|efc_sr) run efc_sr_s32 --arch efc_sr --epochs 150 --weight-decay 0.02 --threads 1 ;; esac
case "$step" in all|train|efc_rvn) run efc_rvn_s32 --arch efc_rvn --epochs 150 --weight-decay 0.02 --threads 1 ;; esac
[ "$step" = all ] || [ "$step" = evaluate ] || exit 0
# Export and evaluate the runs whose 150 epochs are done (`evaluate` does only this, so a
# finished run's row can be filled while the other still trains); the table leaves the
# others empty.
for name in efc_rvn_s32 efc_sr_s32; do
  finished "$name" 150 || { echo "$name: not finished ($RUNS/$name/log.jsonl), left out"; continue; }
  evaluate_candidate "$name"  # common.sh: export, calibrate, ferplus_eval -> models/<name>.eval.json
  "$PY" training/quantize.py "models/$name.onnx" --data "$DATA"
done
# Cost per face on this machine (one thread, batch 1 and 16), the baseline included, then the table.
for name in efc_all_s32 efc_rvn_s32 efc_sr_s32; do
  [ -f "models/$name.onnx" ] || continue
  scripts/env.sh cargo run --release --bin classify_bench -- --model "$name.onnx" | tee "models/$name.bench.txt"
done
"$PY" training/render_seed_table.py models
