#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Debian packages), then runs formatting,
# lints and every test. README's second command; .ci/run calls it too.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "test.sh: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# openssl: the TLS tests make throw-away certificates with rcgen, but curl/openssl are handy for
# the demo checks below. (Redis and Chromium join this list with the issues that need them.)
apt_install curl

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
mkdir -p target
set +e
cargo test --workspace --locked 2>&1 | tee target/test-output.txt
status=${PIPESTATUS[0]}
set -e
summary=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } } END { printf "%d passed, %d failed", p, f }' target/test-output.txt)
echo "$summary"
if [ "$status" -ne 0 ]; then
  echo "test.sh: cargo test failed (exit $status); full output in target/test-output.txt"
  exit "$status"
fi
