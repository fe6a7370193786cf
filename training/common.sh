# Shared by training/reproduce.sh and training/reproduce_seeds.sh (sourced, not run):
# the training venv, the data path and the resumable `run` of one training run.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# LOWRES_FER_TRAIN_PY: a Python that already has the training stack (a lent GPU machine's
# image, which has no network for the venv); LOWRES_FER_TRAIN_ARGS: train.py arguments
# added after every run's own (they win), e.g. "--time-limit 540 --threads 4" for a
# time-boxed slot on such a machine (docs/training-on-a-gpu.md).
if [ -n "${LOWRES_FER_TRAIN_PY:-}" ]; then
  PY=$LOWRES_FER_TRAIN_PY
else
  scripts/setup_training.sh
  PY="${LOWRES_FER_CACHE:-$HOME/.cache/lowres_fer}/train/bin/python"
fi
DATA="${LOWRES_FER_SHARED:-$ROOT/../shared}/data/ferplus.tar.gz"
RUNS=training/runs
finished() { # name, epochs: the run's log has that many epochs
  [ -f "$RUNS/$1/log.jsonl" ] && [ "$(wc -l < "$RUNS/$1/log.jsonl")" -ge "$2" ]
}
run() { # name, then train.py arguments; skips a finished run, resumes an interrupted one
  local name=$1; shift
  local epochs; epochs=$(printf '%s\n' "$@" | awk 'p{e=$0; p=0} /^--epochs$/{p=1} END{print e}')  # the last one wins
  if finished "$name" "$epochs"; then return; fi
  # shellcheck disable=SC2086 # LOWRES_FER_TRAIN_ARGS is a list of words
  "$PY" training/train.py --data "$DATA" --out "$RUNS/$name" --resume "$@" ${LOWRES_FER_TRAIN_ARGS:-}
}
evaluate_candidate() { # name: export its best.pt as a candidate (role "candidate": the node does
  # not load it), fit its class balance and temperature on Valid, evaluate it on Test (clean and
  # under the robustness table's degradations) into models/<name>.eval.json
  "$PY" training/export.py "$RUNS/$1/best.pt" "models/$1.onnx" --data "$DATA" --role candidate
  "$PY" training/calibrate.py "models/$1.onnx" --data "$DATA"
  scripts/env.sh cargo run --release --bin ferplus_eval -- --model "$1.onnx" --data "$DATA" \
    --robustness 20,10,5 --json "models/$1.eval.json"
}
