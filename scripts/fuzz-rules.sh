#!/usr/bin/env bash
# Fuzz the rules language (parse + compile + evaluate) for N seconds (default 60).
#
#   scripts/fuzz-rules.sh          # 60 s
#   scripts/fuzz-rules.sh 600      # 10 min
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). cargo-fuzz passes nightly-only flags
# (-Zsanitizer); on the stable toolchain RUSTC_BOOTSTRAP=1 unlocks them. The corpus is
# seeded from the conformance expressions and kept in fuzz/corpus/rules (git-ignored);
# crashes land in fuzz/artifacts/rules.
set -euo pipefail
secs="${1:-60}"
cd "$(dirname "$0")/../fuzz"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p corpus/rules
if [ -z "$(ls -A corpus/rules)" ]; then
  # One seed per expression of the conformance table.
  grep -E '^\s*\((r#*)?"' ../crates/doorman-rules/tests/conformance.rs \
    | sed -E 's/^\s*\(r?(#*)"(.*)"\1, (r?#*".*"#*, )?(true|false), .*$/\2/' \
    | awk '{ f = sprintf("corpus/rules/seed-%04d", NR); printf "%s", $0 > f; close(f) }'
fi
export RUSTC_BOOTSTRAP=1
# -rss_limit_mb: the 64 MiB helper-thread stack for deep expressions is virtual memory;
# -max_len: the language caps expressions at 4,096 bytes, values add a little.
exec cargo fuzz run rules corpus/rules -- -max_total_time="$secs" -max_len=6000 -rss_limit_mb=4096 -print_final_stats=1
