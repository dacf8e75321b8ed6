#!/usr/bin/env bash
# `make lmms-eval-check [VIUBENCH=folder]`: the VIUBench lmms-eval task checked inside lmms-eval 0.7.3's own
# environment against the project's scoring. Uses ./viubench (make demo) or VIUBENCH; without either, builds
# a small VIUBench in a temporary folder. Nothing is written into the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

started=$(date +%s)
python=$(bash scripts/lmms_eval_env.sh)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
folder=${VIUBENCH:-viubench}
if [ ! -d "$folder" ]; then
  echo "[lmms-eval] no $folder: building a small VIUBench in $work" >&2
  (cd "$work" && "$repo/.venv/bin/python" "$repo/build/run.py" --datasets viubench --num-samples viubench=18 \
    --max-pixels 64x64 --out-dir "$work" --no-progress --no-verify >&2)
  folder="$work/viubench"
fi
.venv/bin/python eval/run.py --model random --benchmarks viubench --data "viubench=$folder" \
  --out "$work/random" --no-progress --no-chart >/dev/null
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
HF_HOME="$work/hf" HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 "$python" integrations/lmms_eval/check.py \
  --viubench "$folder" --results "$work/random" --project-site "$site"
echo "[lmms-eval] check passed in $(( $(date +%s) - started )) s" >&2
