#!/usr/bin/env bash
# Generates what the Debian package ships beside the binary, from the binary
# itself (so they always match its CLI): the man page and the shell completions, into
# target/release/package-assets/ (where cargo-deb takes build outputs from). Usage: scripts/package-assets.sh [path/to/doorman]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/doorman}
out=target/release/package-assets
[ -x "$bin" ] || { echo "package-assets.sh: $bin not found; build it with cargo build --release -p doorman-cli" >&2; exit 1; }
mkdir -p "$out"
# -n: no file name or time stamp in the gzip header, so two builds of one source are identical.
"$bin" man | gzip -9n >"$out/doorman.1.gz"
"$bin" completions bash >"$out/doorman.bash"
"$bin" completions zsh >"$out/_doorman"
"$bin" completions fish >"$out/doorman.fish"
echo "package-assets.sh: man page and completions in $out"
