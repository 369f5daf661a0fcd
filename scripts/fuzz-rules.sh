#!/usr/bin/env bash
# Fuzz the rules language (parse + compile + evaluate) for N seconds (default 60); kept for the
# commands people already know. scripts/fuzz.sh runs any target.
#
#   scripts/fuzz-rules.sh          # 60 s
#   scripts/fuzz-rules.sh 600      # 10 min
set -euo pipefail
exec "$(dirname "$0")/fuzz.sh" rules "${1:-60}"
