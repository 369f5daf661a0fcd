#!/usr/bin/env bash
# Status page benchmark: how fast Doorman serves its status page (HTML and summary.json), next
# to nginx serving the very same bytes as static files, in one interleaved run on loopback.
#
# The page is rendered from a snapshot read at most once a second, so this measures the
# serving path a crowd hits during an outage, not SQLite. Ratios are what to read: the machine
# is shared, absolute numbers move with its load.
#
# Needs: wrk, nginx (Debian packages), a release build (built unless SKIP_BUILD=1).
# Env: DURATION [5] seconds per measurement, ROUNDS [3], CONNECTIONS [32].
set -euo pipefail

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/bench/out"
mkdir -p "$OUT"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

for tool in wrk nginx curl; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install $tool)" >&2; exit 1; }
done
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && cargo build --release -p doorman-cli)
fi
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/doorman

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NGINX_PORT=$(free_port)
GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)

# nginx: the origin (its /healthz feeds the status page) and the static reference.
mkdir -p "$WORK/www/status/api/v2" "$WORK/nginx"
echo ok > "$WORK/www/healthz"
cat > "$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx;
    proxy_temp_path $WORK/nginx;
    fastcgi_temp_path $WORK/nginx;
    uwsgi_temp_path $WORK/nginx;
    scgi_temp_path $WORK/nginx;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/www;
        location = /status { default_type text/html; try_files /status.html =404; }
        location = /status/api/v2/summary.json { default_type application/json; }
    }
}
EOF
nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)

cat > "$WORK/doorman.toml" <<EOF
[server]
data_dir = "$WORK/data"
[[listeners]]
addr = "127.0.0.1:$GW_PORT"
[admin]
addr = "127.0.0.1:$ADMIN_PORT"
[logging]
level = "warn"
[[upstreams]]
name = "chat"
targets = ["127.0.0.1:$NGINX_PORT"]
health_check = { path = "/healthz", interval_ms = 1000 }
[[routes]]
name = "all"
upstream = "chat"
[status]
path = "/status"
EOF
"$BIN" serve --config "$WORK/doorman.toml" --workers 1 2>"$WORK/doorman.log" &
PIDS+=($!)
for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$GW_PORT/status" >/dev/null 2>&1 && break
    sleep 0.1
done
sleep 2 # a few health checks, so the page has bars and a sparkline

# nginx serves exactly what Doorman serves.
curl -sf "http://127.0.0.1:$GW_PORT/status" > "$WORK/www/status.html"
curl -sf "http://127.0.0.1:$GW_PORT/status/api/v2/summary.json" > "$WORK/www/status/api/v2/summary.json"
echo "page $(wc -c < "$WORK/www/status.html") bytes, summary.json $(wc -c < "$WORK/www/status/api/v2/summary.json") bytes"

rps() { wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
declare -A best
for round in $(seq "$ROUNDS"); do
    for what in html json; do
        path=/status
        [ "$what" = json ] && path=/status/api/v2/summary.json
        for server in nginx doorman; do
            port=$NGINX_PORT
            [ "$server" = doorman ] && port=$GW_PORT
            r=$(rps "http://127.0.0.1:$port$path")
            echo "round $round $what $server: $r req/s"
            key="$what-$server"
            if [ -z "${best[$key]:-}" ] || awk "BEGIN {exit !($r > ${best[$key]})}"; then
                best[$key]=$r
            fi
        done
    done
done
{
    echo "status page, best of $ROUNDS rounds × ${DURATION}s, $CONNECTIONS connections, wrk -t1, one worker each"
    for what in html json; do
        n=${best[$what-nginx]}; d=${best[$what-doorman]}
        echo "$what: nginx $n req/s, doorman $d req/s, doorman/nginx $(awk "BEGIN {printf \"%.2f\", $d / $n}")"
    done
} | tee "$OUT/status.txt"
