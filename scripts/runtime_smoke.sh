#!/usr/bin/env bash
# The plain runtime install, as a user gets it: a fresh venv, `pip install .` (a built
# wheel, not editable), then checks that torch is absent, that only the genrescope
# namespace landed in site-packages, and that `genrescope file` streams a real MP3.
# Usage: scripts/runtime_smoke.sh [VENV_DIR] (default: a temporary folder, removed after).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-$(mktemp -d)/venv}
[ $# -ge 1 ] || trap 'rm -rf "$(dirname "$venv")"' EXIT
say() { echo "runtime-smoke: $*"; }

python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q .
say "venv size $(du -sh "$venv" | cut -f1)"

if "$venv/bin/python" -c "import torch" 2>/dev/null; then
    say "FAIL: torch is importable in the runtime install"; exit 1
fi
# Only genrescope (and its dist-info) from this project: nothing generic such as `stream` or
# `web`. The one exception is beets' plugin namespace package, where beets looks for plugins,
# and there only beetsplug/genrescope.py.
site=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
record=$(ls -d "$site"/genrescope-*.dist-info)/RECORD
foreign=$(cut -d, -f1 "$record" | grep -v -E '^(genrescope/|genrescope-[^/]*\.dist-info/|beetsplug/genrescope\.py$|beetsplug/__pycache__/genrescope\.|\.\./)' || true)
if [ -n "$foreign" ]; then
    say "FAIL: the wheel installs files outside the genrescope namespace: $foreign"; exit 1
fi

clip=$(ls "$PWD"/../shared/data/music/*.mp3 2>/dev/null | head -n 1 || true)
if [ -z "$clip" ]; then
    clip=$(mktemp -d)/tone.mp3
    ffmpeg -loglevel error -f lavfi -i "sine=frequency=440:duration=8" "$clip"
fi
out=$(cd /tmp && "$venv/bin/genrescope" file "$clip" --quiet --jsonl - | tail -n 1)
grep -q '"top"' <<<"$out" || { say "FAIL: no update from genrescope file: $out"; exit 1; }
say "ok: no torch, one namespace, genrescope file streamed $(basename "$clip")"
