#!/usr/bin/env bash
# One-command set-up: Python 3.12 venv in .venv/, Debian libraries for video decoding and headless rendering,
# the package with its pinned dependencies (requirements.lock), then the main job on the built-in default.
#   bash scripts/setup.sh            # install + main job
#   bash scripts/setup.sh --no-run   # install only (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_MAIN=1
[[ "${1:-}" == "--no-run" ]] && RUN_MAIN=0

find_python312() {
  if command -v python3.12 >/dev/null 2>&1 && python3.12 -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
    command -v python3.12; return
  fi
  local root
  root="$( (command -v pyenv >/dev/null 2>&1 && pyenv root) || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
  for p in "$root"/versions/3.12*/bin/python3.12; do
    [[ -x "$p" ]] && { echo "$p"; return; }
  done
  return 1
}

# System libraries: FFmpeg 5.1 for torchcodec (otherwise lerobot silently falls back to pyav), EGL/OSMesa for MuJoCo.
DEB_PKGS="libavutil57 libavcodec59 libavformat59 libavdevice59 libavfilter8 libswscale6 libswresample4 libegl1 libgl1 libosmesa6"
missing=$(for p in $DEB_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [[ -n "$missing" ]]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    echo "[setup] installing Debian packages: $missing"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
  else
    echo "[setup] WARNING: cannot install $missing (no apt-get); video decoding falls back to pyav, rendering may fail" >&2
  fi
fi

if [[ ! -x .venv/bin/python ]]; then
  PY=$(find_python312) || { echo "[setup] ERROR: Python 3.12 not found (need python3.12 on PATH or pyenv's 3.12; lerobot 0.6.1 requires >= 3.12)" >&2; exit 1; }
  echo "[setup] creating .venv with $PY"
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
echo "[setup] installing rabc and pinned dependencies (a few minutes the first time)"
.venv/bin/python -m pip install -q -c requirements.lock -e ".[dev]"

if [[ $RUN_MAIN -eq 1 ]]; then
  echo "[setup] running the main job (python scripts/main.py)"
  MUJOCO_GL=egl HF_HUB_OFFLINE=1 .venv/bin/python scripts/main.py
fi
