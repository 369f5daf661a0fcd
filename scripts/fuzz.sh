#!/usr/bin/env bash
# Fuzz one cargo-fuzz target for N seconds (default 60).
#
#   scripts/fuzz.sh rules            # the rules language, 60 s
#   scripts/fuzz.sh config 600       # loading a config file, 10 min
#   scripts/fuzz.sh clearance 600    # the challenge clearance cookie
#   scripts/fuzz.sh api_key 600      # the API-key format
#   scripts/fuzz.sh request 600      # request heads and the canonical request (host, path)
#
# What each target checks is at the top of fuzz/fuzz_targets/TARGET.rs. Needs cargo-fuzz
# (`cargo install cargo-fuzz --locked`, done here when missing). cargo-fuzz passes nightly-only
# flags (-Zsanitizer); on the stable toolchain RUSTC_BOOTSTRAP=1 unlocks them. The corpus lives in
# fuzz/corpus/TARGET (git-ignored) and is seeded when empty; crashes land in fuzz/artifacts/TARGET,
# and the output ends with the command that reproduces one.
set -euo pipefail
target="${1:?usage: scripts/fuzz.sh TARGET [SECONDS]}"
secs="${2:-60}"
cd "$(dirname "$0")/../fuzz"
if [ ! -f "fuzz_targets/$target.rs" ]; then
  echo "fuzz.sh: no target '$target'; there are: $(basename -s .rs fuzz_targets/*.rs | tr '\n' ' ')" >&2
  exit 2
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
corpus="corpus/$target"
mkdir -p "$corpus"
seeding=""
[ -n "$(ls -A "$corpus")" ] || seeding=yes
# Flags every target shares: stop after $secs, and print the counts the report quotes.
flags=(-max_total_time="$secs" -print_final_stats=1)

case "$target" in
  rules)
    if [ -n "$seeding" ]; then
      # One seed per expression of the conformance table.
      grep -E '^\s*\((r#*)?"' ../crates/doorman-rules/tests/conformance.rs \
        | sed -E 's/^\s*\(r?(#*)"(.*)"\1, (r?#*".*"#*, )?(true|false), .*$/\2/' \
        | awk -v dir="$corpus" '{ f = sprintf("%s/seed-%04d", dir, NR); printf "%s", $0 > f; close(f) }'
    fi
    # -rss_limit_mb: the 64 MiB helper-thread stack for deep expressions is virtual memory;
    # -max_len: the language caps expressions at 4,096 bytes, values add a little.
    flags+=(-max_len=6000 -rss_limit_mb=4096)
    ;;
  config)
    if [ -n "$seeding" ]; then
      # The shipped example without its comments (the whole file is 22 kB, mostly comments, and
      # long inputs make every run slow), the smallest file the tests load, and that file with
      # the example's firewall sections, then with the sections after them.
      example=$(grep -vE '^\s*(#|$)' ../examples/doorman.toml)
      base=$(awk '/^pub const BASE: &str = r#"/ { on = 1; sub(/.*r#"/, ""); } on && /^"#;/ { exit } on' \
        ../crates/doorman-config/tests/common/mod.rs)
      # The example's lines from the first header matching $1 to the one before a header
      # matching $2 (or to the end).
      section() { awk -v from="$1" -v to="${2:-}" 'to != "" && $0 ~ to { on = 0 } $0 ~ from { on = 1 } on' <<<"$example"; }
      printf '%s\n' "$example" >"$corpus/seed-example"
      printf '%s\n' "$base" >"$corpus/seed-base"
      printf '%s\n%s\n' "$base" "$(section '^\[\[lists\]\]' '^\[rate_limit\]')" >"$corpus/seed-firewall"
      printf '%s\n%s\n' "$base" "$(section '^\[rate_limit\]')" >"$corpus/seed-limits-auth-status"
    fi
    # A dictionary of the file's words: every key the example names (commented-out ones too),
    # every section header, and the fixture files the target puts next to its input.
    {
      grep -oE '^\s*#?\s*[a-z_0-9]+ =' ../examples/doorman.toml | grep -oE '[a-z_0-9]+' | sort -u | sed 's/.*/"&"/'
      grep -oE '^\s*#?\s*\[\[?[a-z_.]+\]\]?' ../examples/doorman.toml | grep -oE '\[.*' | sort -u | sed 's/.*/"&"/'
      printf '"%s"\n' lists/abuse.netset jwt.secret cert.pem key.pem
    } >corpus/config.dict
    flags+=(-max_len=8192 -dict=corpus/config.dict)
    ;;
  clearance | api_key)
    if [ -n "$seeding" ]; then
      # The target writes its own seeds (cookies and keys made by the crates themselves) when
      # DOORMAN_FUZZ_SEEDS names a directory, then exits; this also builds it.
      DOORMAN_FUZZ_SEEDS="$PWD/$corpus" cargo fuzz run "$target" -- -runs=0
    fi
    # A cookie is at most 512 bytes and a key far less; the parameters add a few dozen.
    flags+=(-max_len=1024)
    ;;
  request)
    if [ -n "$seeding" ]; then
      # The edge test's kinds of request: dot segments, escapes, absolute form, odd hosts.
      printf 'GET /x/../%%61dmin//a/./b?q=1 HTTP/1.1\r\nHost: Public.Test.:8080\r\n\r\n' >"$corpus/seed-path"
      printf 'GET http://x@admin.test/abs HTTP/1.1\r\nHost: admin.test\r\n\r\n' >"$corpus/seed-absolute"
      printf 'GET /admin%%2f..%%5c%%00/100%% HTTP/1.1\r\nHost: [::1]:80\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n' >"$corpus/seed-ambiguous"
      printf 'POST /p HTTP/1.1\r\nHost: a.test, b.test\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 18446744073709551615\r\n\r\n' >"$corpus/seed-framing"
    fi
    flags+=(-max_len=4096)
    ;;
esac
exec cargo fuzz run "$target" "$corpus" -- "${flags[@]}"
