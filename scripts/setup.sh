#!/usr/bin/env bash
# One-command set-up for genrescope on Debian/Ubuntu (`make setup` runs it):
#   1. system packages: PortAudio, ffmpeg (tests write M4A with it), PulseAudio and ALSA's pulse plugin (the
#      capture tests record through a real daemon), chromium (dashboard tests);
#      installed when running as root, otherwise listed;
#   2. the project's virtual environment, .venv in the repository root;
#   3. the Python packages, torch first (see install_python_packages).
# Safe to re-run: each step checks before acting, and step 3 is skipped while
# pyproject.toml and this script are unchanged (a stamp in .venv records their hash).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(make libportaudio2 ffmpeg pulseaudio pulseaudio-utils alsa-utils
              libasound2-plugins chromium)
PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.setup-stamp

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
    sed -n "s/^ *\"\($1==[^\"]*\)\".*/\1/p" pyproject.toml
}

install_python_packages() {
    local key
    key=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$STAMP" 2>/dev/null)" = "$key" ]; then
        say "Python packages up to date (pyproject.toml unchanged)"
        return
    fi
    local torch torchaudio
    torch=$(pinned torch)
    torchaudio=$(pinned torchaudio)
    : "${torch:?no torch== pin in pyproject.toml}" "${torchaudio:?no torchaudio== pin in pyproject.toml}"
    # torch alone first, then the pair: pip then never picks a torchaudio that drags a
    # different torch in, nor resolves torch through the rest of the dependencies.
    say "installing $torch"
    "$VENV/bin/pip" install "$torch"
    say "installing $torch $torchaudio"
    "$VENV/bin/pip" install "$torch" "$torchaudio"
    say "installing genrescope (editable) with [train,test]"
    "$VENV/bin/pip" install -e '.[train,test]'
    echo "$key" >"$STAMP"
}

install_system_packages
create_venv
install_python_packages
say "done"
