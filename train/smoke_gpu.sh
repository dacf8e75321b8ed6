#!/usr/bin/env bash
# The first check on a GPU machine: two GRPO steps of the tiny Qwen2.5-VL and Qwen3-VL under each shipped
# accelerate config (DeepSpeed ZeRO-3, FSDP, DDP: bf16 and NCCL, the path the CPU tests cannot take) and in one
# process, each verified from inside the run by videossr.train.sharding_check. Prints one PASS/FAIL line per
# run; the exit status is the number of failures.
#
#   bash train/smoke_gpu.sh [DATASET]
#
# DATASET: a dataset folder or Hub id (default: a 24-row videossr-30k built here from the embedded demo corpus).
# NUM_GPUS (default: all visible) sets the processes of the multi-GPU runs; with one GPU only the
# single-process run is possible. Logs and reports stay in the printed work folder.
set -uo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python}
if [ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ]; then PY=.venv/bin/python; fi
NUM_GPUS=${NUM_GPUS:-$("$PY" -c "import torch; print(torch.cuda.device_count())")}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/videossr-smoke-XXXXXX")
echo "work folder: $WORK ($NUM_GPUS GPU(s))"
if [ "$NUM_GPUS" -lt 1 ]; then
  echo "FAIL no GPU visible (torch.cuda.device_count() == 0)"
  exit 1
fi

DATASET=${1:-}
if [ -z "$DATASET" ]; then
  "$PY" build/run.py --datasets videossr-30k --num-samples 24 --out-dir "$WORK/data" --no-progress \
    > "$WORK/build.log" 2>&1 || { echo "FAIL building the smoke dataset (log: $WORK/build.log)"; exit 1; }
  DATASET=$WORK/data/videossr-30k
fi

for kind in qwen2_5_vl qwen3_vl; do
  "$PY" -m videossr.train.tiny --kind "$kind" --out "$WORK/$kind" > /dev/null 2>&1 \
    || { echo "FAIL building the tiny $kind"; exit 1; }
done

failures=0
check() {  # check NAME EXPECT KIND LAUNCH...
  local name=$1 expect=$2 kind=$3
  shift 3
  local log="$WORK/$name-$kind.log"
  if "$@" -m videossr.train.sharding_check --dataset "$DATASET" --model "$WORK/$kind" --expect "$expect" \
      --report-dir "$WORK/report-$name-$kind" > "$log" 2>&1; then
    echo "PASS $name $kind"
  else
    echo "FAIL $name $kind: $(grep -h 'sharding check' "$log" | head -1) (log: $log)"
    failures=$((failures + 1))
  fi
}

for kind in qwen2_5_vl qwen3_vl; do
  check single single "$kind" "$PY"
  if [ "$NUM_GPUS" -ge 2 ]; then
    for pair in deepspeed_zero3:deepspeed fsdp:fsdp ddp:ddp; do
      check "${pair%%:*}" "${pair##*:}" "$kind" "$PY" -m accelerate.commands.launch \
        --config_file "train/configs/${pair%%:*}.yaml" --num_processes "$NUM_GPUS"
    done
  fi
done
[ "$NUM_GPUS" -ge 2 ] || echo "SKIP deepspeed_zero3, fsdp, ddp: they need at least 2 GPUs"
echo "$failures failure(s)"
exit "$failures"
