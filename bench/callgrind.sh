#!/usr/bin/env bash
# Instructions per request of one Doorman build, counted by callgrind: stable where wall time on a
# shared machine is not, so a change's cost can be compared build against build.
#
#   bench/callgrind.sh target/release/doorman            # this build
#   bench/callgrind.sh /tmp/doorman-before               # another build, same load
#
# The load: the plain target of bench/proxy.sh (one route to an nginx origin), one keep-alive
# connection, 500 requests to warm up, then N (default 4000) counted requests. Prints
# "<binary> instructions/request=<n>". Needs valgrind, nginx and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:?usage: bench/callgrind.sh DOORMAN_BINARY}
N=${N:-4000}
D=$(mktemp -d /tmp/doorman-callgrind.XXXXXX)
trap 'nginx -c "$D/origin.conf" -p "$D" -s stop 2>/dev/null || true; rm -rf "$D"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
OP=$(free_port); GP=$(free_port); AP=$(free_port)
mkdir -p "$D/origin-tmp"
sed -e "s|@DIR@|$D|g" -e "s|@ORIGIN_PORT@|$OP|g" bench/proxy/nginx-origin.conf.tmpl >"$D/origin.conf"
PATH=$PATH:/usr/sbin nginx -c "$D/origin.conf" -p "$D"
# An older build may not know keys the template gained since; the counted load never needs them.
sed -e "s|@DIR@|$D|g" -e "s|@ORIGIN_PORT@|$OP|g" -e "s|@PORT@|$GP|g" -e "s|@ADMIN_PORT@|$AP|g" \
  -e '/^\[limits\]$/d' -e '/^max_requests_per_connection/d' bench/proxy/doorman.toml.tmpl >"$D/doorman.toml"
valgrind --tool=callgrind --callgrind-out-file="$D/cg.%p" "$BIN" serve --config "$D/doorman.toml" \
  --workers 1 >"$D/serve.log" 2>&1 &
VG=$!
load() {
  python3 - "$GP" "$1" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    c.request("GET", "/x?y=1", headers={"User-Agent": "bench"})
    c.getresponse().read()
PY
}
for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$GP/" && break; sleep 0.5; done
load 500
callgrind_control -z "$VG" >/dev/null
load "$N"
callgrind_control -d "$VG" >/dev/null
kill "$VG"; wait "$VG" 2>/dev/null || true
total=$(callgrind_annotate "$(ls "$D"/cg.*.1)" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
echo "$BIN instructions/request=$((total / N))"
