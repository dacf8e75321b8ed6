#!/usr/bin/env bash
# lmms-eval's own environment, cached outside the clone and keyed by what goes in it: a venv whose packages
# (integrations/lmms_eval/requirements.txt) come before the project's base environment (make setup), so
# lmms-eval runs with its own pins (PyAV < 16) and shares torch and friends with the project.
# Prints the environment's python. Exit status 75: the package index cannot be reached.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE_ROOT=${VIDEOSSR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/videossr}
REQUIREMENTS=integrations/lmms_eval/requirements.txt
ENV_VERSION=1
if [ ! -f .venv/base.txt ]; then
  echo "[lmms-eval] run \`make setup\` first (the project's environment is missing)" >&2
  exit 1
fi
base_site=$(cat .venv/base.txt)
base_python="$base_site/../../../bin/python"
key=$(printf '%s\n%s\n%s\n' "$ENV_VERSION" "$base_site" "$(cat "$REQUIREMENTS")" | sha256sum | cut -c1-16)
env="$CACHE_ROOT/lmms-eval-$key"
mkdir -p "$CACHE_ROOT"
exec 9>"$env.lock"
flock 9  # two concurrent first runs build it once
if [ ! -f "$env/.complete" ]; then
  echo "[lmms-eval] creating $env (lmms-eval 0.7.3 and the few packages it adds to the project's)" >&2
  rm -rf "$env"
  "$base_python" -m venv --without-pip "$env"
  own=$("$env/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$base_site" > "$own/_videossr_base.pth"
  if ! "$env/bin/python" -m pip install -q --no-deps -r "$REQUIREMENTS" >"$env.log" 2>&1; then
    probe=$(mktemp -d)
    if ! "$env/bin/python" -m pip download -q --no-deps -d "$probe" lmms_eval==0.7.3 >/dev/null 2>&1; then
      rm -rf "$probe" "$env"
      echo "[lmms-eval] the package index is unreachable: cannot install lmms-eval 0.7.3" >&2
      exit 75
    fi
    rm -rf "$probe"
    echo "[lmms-eval] installing $REQUIREMENTS failed; see $env.log" >&2
    exit 1
  fi
  "$env/bin/python" -c "from lmms_eval.tasks import TaskManager; import lmms_eval.utils" \
    || { echo "[lmms-eval] the environment in $env is incomplete; see $env.log" >&2; exit 1; }
  touch "$env/.complete"
fi
echo "$env/bin/python"
