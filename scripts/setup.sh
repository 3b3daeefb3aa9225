#!/usr/bin/env bash
# One-command set-up for genrescope on Debian/Ubuntu: `scripts/setup.sh runtime` (what
# `make demo` needs) or `scripts/setup.sh dev` (`make test`: + training and test tools).
#   1. system packages: PortAudio, ffmpeg (tests write M4A with it), PulseAudio and ALSA's pulse plugin (the
#      capture tests record through a real daemon), chromium (dashboard tests), icecast2 (the
#      radio-stream test runs a real Icecast server);
#      installed when running as root, otherwise listed;
#   2. the project's virtual environment, .venv in the repository root;
#   3. the Python packages: runtime = genrescope alone (numpy + onnxruntime, no torch,
#      ≈0.5 GB); dev = + [train,test] (torch); with an NVIDIA GPU, + [gpu].
# Safe to re-run: each step checks before acting, and step 3 is skipped while
# pyproject.toml and this script are unchanged (a stamp per mode in .venv records their hash).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(make libportaudio2 ffmpeg pulseaudio pulseaudio-utils alsa-utils
              libasound2-plugins chromium icecast2)
PYTHON=${PYTHON:-python3}
VENV=.venv
MODE=${1:-dev}
case "$MODE" in runtime|dev) ;; *) echo "usage: scripts/setup.sh [runtime|dev]" >&2; exit 2 ;; esac

say() { echo "setup: $*"; }

missing_apt_packages() {
    local package
    for package in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
            || echo "$package"
    done
    # `python -m venv` needs ensurepip, which Debian ships separately.
    "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || echo python3-venv
}

install_system_packages() {
    if ! command -v dpkg-query >/dev/null; then
        say "not Debian-like; make sure these are installed: ${APT_PACKAGES[*]}"
        return
    fi
    local missing
    mapfile -t missing < <(missing_apt_packages)
    if [ ${#missing[@]} -eq 0 ]; then
        say "system packages present"
    elif [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        say "MISSING system packages (install them as root): ${missing[*]}; continuing"
    else
        say "installing system packages: ${missing[*]}"
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    fi
}

create_venv() {
    if [ -x "$VENV/bin/python" ]; then
        say "$VENV present"
    else
        say "creating $VENV with $("$PYTHON" --version)"
        "$PYTHON" -m venv "$VENV"
    fi
}

pinned() {  # the exact requirement pyproject.toml pins for package $1, e.g. torch==2.9.1
    sed -n "s/^ *\"\($1==[^\"]*\)\".*/\1/p" pyproject.toml | head -n 1
}

has_gpu() { command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; }

install_python_packages() {
    local key extras
    key=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
    # dev includes runtime: either stamp satisfies a runtime set-up.
    if [ "$(cat "$VENV/.setup-$MODE" 2>/dev/null)" = "$key" ] \
        || { [ "$MODE" = runtime ] && [ "$(cat "$VENV/.setup-dev" 2>/dev/null)" = "$key" ]; }; then
        say "Python packages up to date ($MODE; pyproject.toml unchanged)"
        return
    fi
    extras=""
    if [ "$MODE" = dev ]; then
        extras="train,test"
        # torch alone first: pip then never resolves it through the rest of the dependencies.
        say "installing $(pinned torch)"
        "$VENV/bin/pip" install "$(pinned torch)"
    fi
    say "installing genrescope (editable)${extras:+ with [$extras]}"
    "$VENV/bin/pip" install -e ".${extras:+[$extras]}"
    if has_gpu; then
        # onnxruntime-gpu and onnxruntime are one module: the GPU build must replace the CPU one.
        say "NVIDIA GPU found: adding [gpu] (torch with CUDA, onnxruntime-gpu in place of onnxruntime)"
        [ "$MODE" = dev ] || "$VENV/bin/pip" install "$(pinned torch)"  # dev has it already
        "$VENV/bin/pip" uninstall -y onnxruntime
        "$VENV/bin/pip" install --force-reinstall --no-deps "$(pinned onnxruntime-gpu)"
    fi
    echo "$key" >"$VENV/.setup-$MODE"
}

install_system_packages
create_venv
install_python_packages
say "done"
