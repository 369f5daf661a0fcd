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

# redis-server: the shared rate-limit tests start their own throw-away instances on loopback.
# chromium: the challenge page is solved end to end by a real headless browser.
apt_install curl redis-server chromium

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

# A short fuzz run of the rules language (parse + compile + evaluate arbitrary input); longer runs:
# scripts/fuzz-rules.sh 600. FUZZ_SECONDS=0 skips it.
if [ "${FUZZ_SECONDS:-60}" -gt 0 ]; then
  echo "== fuzz (rules language, ${FUZZ_SECONDS:-60} s)"
  set +e
  scripts/fuzz-rules.sh "${FUZZ_SECONDS:-60}" >target/fuzz-output.txt 2>&1
  fuzz_status=$?
  set -e
  tail -n 4 target/fuzz-output.txt
  if [ "$fuzz_status" -ne 0 ]; then
    echo "test.sh: the fuzz run failed (exit $fuzz_status): a crash input is in fuzz/artifacts/rules; full output in target/fuzz-output.txt"
    exit 1
  fi
fi
echo "$summary"
