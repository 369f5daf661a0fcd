#!/usr/bin/env bash
# Puts the RustSec advisory database where cargo deny (deny.toml's db-path) and cargo audit
# (--db) read it: target/advisory-dbs/advisory-db-3157b0e258782691, a git checkout.
#
# A fresh clone when GitHub answers; otherwise the snapshot in scripts/advisory-db/, made into
# a one-commit repository dated as the snapshot, so both tools report that date. Prints which.
#   scripts/advisory-db.sh            set up (used by scripts/test.sh)
#   scripts/advisory-db.sh --update   refresh the committed snapshot from GitHub
set -euo pipefail
cd "$(dirname "$0")/.."
url=https://github.com/rustsec/advisory-db
# cargo-deny's directory name for the default database URL.
db=target/advisory-dbs/advisory-db-3157b0e258782691
snapshot=scripts/advisory-db/snapshot.tar.gz

if [ "${1:-}" = "--update" ]; then
  tmp=$(mktemp -d)
  git clone -q --depth 1 "$url" "$tmp/db"
  commit=$(git -C "$tmp/db" rev-parse HEAD)
  date=$(git -C "$tmp/db" log -1 --format=%cI)
  git -C "$tmp/db" archive --format=tar HEAD crates rust LICENSE.txt README.md support.toml | gzip -9n >"$snapshot"
  sed -i -e "s/^commit: .*/commit: $commit/" -e "s/^date: .*/date: $date/" scripts/advisory-db/SOURCE
  rm -rf "$tmp"
  echo "advisory-db.sh: snapshot updated to $commit ($date)"
  exit 0
fi

rm -rf "$db"
mkdir -p "$(dirname "$db")"
if timeout 20 git clone -q --depth 1 "$url" "$db" 2>/dev/null; then
  echo "advisory-db.sh: RustSec database fetched from GitHub ($(git -C "$db" log -1 --format=%cs))"
  exit 0
fi
rm -rf "$db"
mkdir -p "$db"
tar -xzf "$snapshot" -C "$db"
date=$(sed -n 's/^date: //p' scripts/advisory-db/SOURCE)
(
  cd "$db"
  git init -q
  git add -A
  GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date \
    git -c user.name=snapshot -c user.email=snapshot@localhost commit -q -m "RustSec advisory-db snapshot"
)
echo "advisory-db.sh: GitHub unreachable; using the committed snapshot of the RustSec database from ${date%%T*} (advisories published since then are not checked)"
