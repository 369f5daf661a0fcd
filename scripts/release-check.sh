#!/usr/bin/env bash
# What ships, checked: the release binary's size, the Debian package built and (as root)
# installed and run as its systemd unit would run it, and the Containerfile linted.
# scripts/test.sh runs it after the tests; docs/install.md explains each artifact.
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_BINARY_MB=${MAX_BINARY_MB:-25}

cargo build --release --locked -q -p doorman-cli
bin=target/release/doorman
bytes=$(stat -c %s "$bin")
mb=$(( (bytes + 1048575) / 1048576 ))
echo "release binary: $bytes bytes (≤ $mb MB; the limit is $MAX_BINARY_MB MB)"
if [ "$mb" -gt "$MAX_BINARY_MB" ]; then
  echo "release-check.sh: $bin is $mb MB, over $MAX_BINARY_MB MB: did the release profile gain debug info? (Cargo.toml [profile.release])"
  exit 1
fi
if readelf -S "$bin" | grep -q '\.debug_info'; then
  echo "release-check.sh: $bin carries .debug_info; the release profile must not (use --profile profiling)"
  exit 1
fi

scripts/package-assets.sh "$bin"
rm -rf target/debian
cargo deb -q -p doorman-cli --no-build --locked
deb=$(ls target/debian/doorman_*.deb)
echo "package: $deb ($(stat -c %s "$deb") bytes)"
python3 scripts/package_test.py "$deb"

hadolint Containerfile
echo "Containerfile: hadolint clean (not built: no container engine runs here; docs/install.md)"
