#!/usr/bin/env bash
# Proxy benchmark: the origin directly, nginx, HAProxy and Doorman as reverse proxies in front of
# the same origin, interleaved round by round on loopback. Prints req/s, p50/p99 latency and the
# proxy's CPU time per request (median over rounds), Doorman's ratios to nginx and HAProxy, and
# writes the same as JSON to bench/out/proxy-<timestamp>.json. See bench/README.md.
#
#   bench/proxy.sh                       # 3 rounds of 10 s per target (about 2.5 minutes)
#   DURATION=3 ROUNDS=1 bench/proxy.sh   # a quick check that everything works
#
# Environment (defaults in brackets):
#   ROUNDS [3]         rounds; each runs every target once, in turn
#   DURATION [10]      seconds per trial
#   WARMUP [2]         seconds of unrecorded load per target before the first round
#   CONNECTIONS [32]   wrk keep-alive connections
#   THREADS [1]        wrk threads
#   LOADGEN_CPU [0]    CPU wrk is pinned to
#   SERVER_CPU [1]     CPU the origin and every proxy are pinned to
#   TARGETS ["direct nginx haproxy doorman"]  add doorman-fw for Doorman with a 1M-CIDR list + 500 rules,
#                      doorman-rl with one rate limit that every request is counted against (never
#                      exceeded), doorman-rl-redis with the same limit in a local redis-server,
#                      doorman-key (the route needs an API key; wrk sends one), doorman-jwt (the
#                      route needs an HS256 JWT; wrk sends one)
#                      doorman-base (the plain target run by BASE_BIN, another build: a change's
#                      cost in the same run)
#   SKIP_BUILD [0]     1: use the doorman binary as it is, without cargo build
#   DOORMAN_BIN [target/release/doorman]  binary to run, e.g. one built from another commit
#                      (combine with SKIP_BUILD=1); DOORMAN_COMMIT then names that commit in the JSON
#   KEEP_TMP [0]       1: keep the temporary directory (configs, server logs)
#   WAIT_IDLE [0]      up to this many seconds, wait for other work on the machine to fall below
#                      10% of the CPUs before starting (a shared machine's builds skew everything)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
HERE=$ROOT/bench/proxy

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
LOADGEN_CPU=${LOADGEN_CPU:-0}
SERVER_CPU=${SERVER_CPU:-1}
TARGETS=${TARGETS:-"direct nginx haproxy doorman"}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_TMP=${KEEP_TMP:-0}
WAIT_IDLE=${WAIT_IDLE:-0}
DOORMAN=${DOORMAN_BIN:-$ROOT/target/release/doorman}

log() { echo "proxy.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Tools. Installed only when missing, so a machine that has them makes no registry traffic.

# Debian's postinst starts nginx/haproxy as system services where it can. They listen on port 80
# (nginx) or nothing useful, but they are processes we did not ask for: stop them, and only when
# this run installed them, so a service someone runs on purpose is left alone.
stop_system_service() {
  local name=$1
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl stop "$name" >/dev/null 2>&1 || true
    systemctl disable "$name" >/dev/null 2>&1 || true
  elif command -v service >/dev/null; then
    service "$name" stop >/dev/null 2>&1 || true
  fi
}

install_tools() {
  local missing=() cmd pkg
  for pair in nginx:nginx haproxy:haproxy wrk:wrk curl:curl python3:python3 taskset:util-linux; do
    cmd=${pair%%:*} pkg=${pair#*:}
    command -v "$cmd" >/dev/null || PATH=$PATH:/usr/sbin command -v "$cmd" >/dev/null ||
      missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}; run as root or install them"
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null
  for pkg in "${missing[@]}"; do
    case $pkg in nginx | haproxy) stop_system_service "$pkg" ;; esac
  done
}

install_tools
export PATH=$PATH:/usr/sbin # nginx and haproxy live there; not on every root PATH

if [ "$SKIP_BUILD" != 1 ]; then
  log "building doorman (release)"
  cargo build --release -q -p doorman-cli
fi
[ -x "$DOORMAN" ] || die "$DOORMAN not found; build it with cargo build --release -p doorman-cli"
[ "$(nproc)" -ge 2 ] || log "warning: fewer than 2 CPUs; wrk and the servers share a core"

# ---------------------------------------------------------------------------------------------
# Processes we start, and their cleanup. Every server is started here, in the foreground of its
# own background job, so its PID is known; cleanup ends exactly those PIDs.

TMP=$(mktemp -d /tmp/doorman-proxy-bench.XXXXXX)
PIDS=()
REDIS_PORTS=()

cleanup() {
  local pid port
  for port in "${REDIS_PORTS[@]}"; do "$ROOT/scripts/redis-test-server.sh" --stop "$port" || true; done
  [ -z "${WRK_PID:-}" ] || PIDS+=("$WRK_PID")
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$KEEP_TMP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free loopback port: bind port 0 and let the kernel choose. Ports stay free until the server
# takes them (nothing else here binds in between).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

render() { # template output: fill @PLACEHOLDERS@
  sed -e "s|@DIR@|$TMP|g" -e "s|@ORIGIN_PORT@|$ORIGIN_PORT|g" -e "s|@PORT@|$2|g" \
    -e "s|@ADMIN_PORT@|${3:-0}|g" "$HERE/$1" >"$TMP/${1%.tmpl}"
}

# Waits until GET / on the port answers 200 with body "ok" (the origin's), through the proxy.
wait_ok() { # name port pid [header]
  local name=$1 port=$2 pid=$3 body header_args=()
  [ -z "${4:-}" ] || header_args=(-H "$4")
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || die "$name exited at start; see its log in $TMP (KEEP_TMP=1)"
    body=$(curl -fsS --max-time 1 "${header_args[@]}" "http://127.0.0.1:$port/" 2>/dev/null) && [ "$body" = ok ] &&
      return 0
    sleep 0.1
  done
  die "$name on port $port did not answer 200 ok"
}

# nginx's workers are the processes doing the work; the master only supervises.
children() { # pid → its child PIDs, space-separated
  cat /proc/"$1"/task/*/children 2>/dev/null | tr -s ' \n' ' ' | sed 's/ $//'
}

# utime+stime (clock ticks) summed over the given PIDs. /proc/PID/stat counts all threads of the
# process. Field 2 (comm) may hold spaces, so fields are counted after its closing parenthesis:
# utime and stime are then the 12th and 13th.
cpu_ticks() {
  local total=0 pid stat
  local -a f
  for pid in "$@"; do
    stat=$(cat /proc/"$pid"/stat 2>/dev/null) || die "process $pid is gone"
    read -r -a f <<<"${stat##*) }"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

start_nginx() { # name conf → master PID (workers found with children)
  local name=$1 conf=$2
  mkdir -p "$TMP/$name-tmp"
  taskset -c "$SERVER_CPU" nginx -p "$TMP/" -e "$TMP/$name-error.log" -c "$conf" \
    -g 'daemon off;' >"$TMP/$name.out" 2>&1 &
  PIDS+=($!)
  LAST_PID=$!
}

# Share of all CPUs busy over one second, in percent. Taken before any server starts: on a shared
# machine, other people's builds or fuzzers skew every number, and the JSON should say so.
busy_percent() {
  local a b
  a=$(grep '^cpu ' /proc/stat)
  sleep 1
  b=$(grep '^cpu ' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN {
    n = split(a, x); split(b, y); total = 0
    for (i = 2; i <= n; i++) total += y[i] - x[i]
    idle = (y[5] - x[5]) + (y[6] - x[6])
    printf "%.0f", total ? 100 * (total - idle) / total : 0 }'
}
BUSY_BEFORE=$(busy_percent)
if [ "$WAIT_IDLE" -gt 0 ] && [ "$BUSY_BEFORE" -gt 10 ]; then
  log "machine ${BUSY_BEFORE}% busy; waiting up to ${WAIT_IDLE}s for it to quiet down"
  deadline=$((SECONDS + WAIT_IDLE))
  while [ "$BUSY_BEFORE" -gt 10 ] && [ $SECONDS -lt $deadline ]; do
    sleep 4
    BUSY_BEFORE=$(busy_percent)
  done
fi
[ "$BUSY_BEFORE" -le 10 ] ||
  log "warning: the machine is already ${BUSY_BEFORE}% busy; results will be noisy"

# ---------------------------------------------------------------------------------------------
# Servers.

ORIGIN_PORT=$(free_port)
render nginx-origin.conf.tmpl "$ORIGIN_PORT"
start_nginx origin "$TMP/nginx-origin.conf"
ORIGIN_MASTER=$LAST_PID
wait_ok origin "$ORIGIN_PORT" "$ORIGIN_MASTER"
ORIGIN_WORKERS=$(children "$ORIGIN_MASTER")
[ -n "$ORIGIN_WORKERS" ] || die "origin nginx has no worker process"

declare -A PORT PROXY_PIDS WRK_HEADER
PORT[direct]=$ORIGIN_PORT
PROXY_PIDS[direct]=""

for target in $TARGETS; do
  case $target in
    direct) ;;
    nginx)
      PORT[nginx]=$(free_port)
      render nginx-proxy.conf.tmpl "${PORT[nginx]}"
      start_nginx nginx "$TMP/nginx-proxy.conf"
      wait_ok nginx "${PORT[nginx]}" "$LAST_PID"
      PROXY_PIDS[nginx]=$(children "$LAST_PID")
      ;;
    haproxy)
      PORT[haproxy]=$(free_port)
      render haproxy.cfg.tmpl "${PORT[haproxy]}"
      haproxy -c -q -f "$TMP/haproxy.cfg" || die "haproxy rejected its config"
      # -db: stay in the foreground as one process (no master-worker), so its PID is the worker.
      taskset -c "$SERVER_CPU" haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.out" 2>&1 &
      PIDS+=($!)
      PROXY_PIDS[haproxy]=$!
      wait_ok haproxy "${PORT[haproxy]}" "${PROXY_PIDS[haproxy]}"
      ;;
    doorman)
      PORT[doorman]=$(free_port)
      render doorman.toml.tmpl "${PORT[doorman]}" "$(free_port)"
      "$DOORMAN" check --config "$TMP/doorman.toml" >"$TMP/doorman-check.out" 2>&1 ||
        { cat "$TMP/doorman-check.out" >&2; die "doorman check failed"; }
      taskset -c "$SERVER_CPU" "$DOORMAN" serve --config "$TMP/doorman.toml" --workers 1 \
        >"$TMP/doorman.out" 2>&1 &
      PIDS+=($!)
      PROXY_PIDS[doorman]=$!
      wait_ok doorman "${PORT[doorman]}" "${PROXY_PIDS[doorman]}"
      ;;
    doorman-base)
      # The plain target with another build ($BASE_BIN, e.g. one made from the commit before a
      # change), so that a change's cost is measured in the same run as the change.
      [ -x "${BASE_BIN:-}" ] || die "doorman-base needs BASE_BIN=<path to another doorman build>"
      PORT[doorman-base]=$(free_port)
      render doorman.toml.tmpl "${PORT[doorman-base]}" "$(free_port)"
      # An older build may not know keys the template gained since; those it needs least go.
      sed -e "s|$TMP/doorman-data|$TMP/doorman-base-data|" \
        -e '/^\[limits\]$/d' -e '/^max_requests_per_connection/d' \
        "$TMP/doorman.toml" >"$TMP/doorman-base.toml"
      taskset -c "$SERVER_CPU" "$BASE_BIN" serve --config "$TMP/doorman-base.toml" --workers 1 \
        >"$TMP/doorman-base.out" 2>&1 &
      PIDS+=($!)
      PROXY_PIDS[doorman-base]=$!
      wait_ok doorman-base "${PORT[doorman-base]}" "${PROXY_PIDS[doorman-base]}"
      ;;
    doorman-fw)
      # The same Doorman with a 1,000,000-CIDR list and 500 custom rules (bench/proxy/gen_firewall.py),
      # to show what the firewall costs per request.
      PORT[doorman-fw]=$(free_port)
      render doorman.toml.tmpl "${PORT[doorman-fw]}" "$(free_port)"
      python3 "$HERE/gen_firewall.py" "$TMP"
      sed -e "s|$TMP/doorman-data|$TMP/doorman-fw-data|" "$TMP/doorman.toml" >"$TMP/doorman-fw.toml"
      cat "$TMP/firewall.toml" >>"$TMP/doorman-fw.toml"
      "$DOORMAN" check --config "$TMP/doorman-fw.toml" >"$TMP/doorman-fw-check.out" 2>&1 ||
        { cat "$TMP/doorman-fw-check.out" >&2; die "doorman check failed for doorman-fw"; }
      taskset -c "$SERVER_CPU" "$DOORMAN" serve --config "$TMP/doorman-fw.toml" --workers 1 \
        >"$TMP/doorman-fw.out" 2>&1 &
      PIDS+=($!)
      PROXY_PIDS[doorman-fw]=$!
      wait_ok doorman-fw "${PORT[doorman-fw]}" "${PROXY_PIDS[doorman-fw]}"
      ;;
    doorman-rl | doorman-rl-redis)
      # One rate limit every request counts against, high enough never to deny: what checking
      # (and the RateLimit headers) cost per request, in process or through Redis.
      PORT[$target]=$(free_port)
      render doorman.toml.tmpl "${PORT[$target]}" "$(free_port)"
      sed -e "s|$TMP/doorman-data|$TMP/$target-data|" "$TMP/doorman.toml" >"$TMP/$target.toml"
      if [ "$target" = doorman-rl-redis ]; then
        REDIS_PORT=$("$ROOT/scripts/redis-test-server.sh")
        REDIS_PORTS+=("$REDIS_PORT")
        printf '\n[rate_limit]\nbackend = "redis"\nredis_url = "redis://127.0.0.1:%s/0"\n' "$REDIS_PORT" >>"$TMP/$target.toml"
      fi
      cat >>"$TMP/$target.toml" <<'EOF'

[[rate_limits]]
id = "bench"
expression = 'true'
characteristics = ["ip.src"]
requests_per_period = 65535
period_secs = 1
EOF
      "$DOORMAN" check --config "$TMP/$target.toml" >"$TMP/$target-check.out" 2>&1 ||
        { cat "$TMP/$target-check.out" >&2; die "doorman check failed for $target"; }
      taskset -c "$SERVER_CPU" "$DOORMAN" serve --config "$TMP/$target.toml" --workers 1 \
        >"$TMP/$target.out" 2>&1 &
      PIDS+=($!)
      PROXY_PIDS[$target]=$!
      wait_ok "$target" "${PORT[$target]}" "${PROXY_PIDS[$target]}"
      ;;
    doorman-key | doorman-jwt)
      # The route requires a credential and every request carries a valid one: what checking it
      # (and writing the identity headers for the upstream) costs per request.
      PORT[$target]=$(free_port)
      render doorman.toml.tmpl "${PORT[$target]}" "$(free_port)"
      sed -e "s|$TMP/doorman-data|$TMP/$target-data|" "$TMP/doorman.toml" >"$TMP/$target.toml"
      if [ "$target" = doorman-key ]; then
        echo 'auth = { methods = ["api_key"], scopes = ["bench"] }' >>"$TMP/$target.toml"
        KEY=$("$DOORMAN" keys create --data-dir "$TMP/$target-data" --name bench --scopes bench --json |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])') ||
          die "could not create the benchmark's API key"
        WRK_HEADER[$target]="Authorization: Bearer $KEY"
      else
        echo 'auth = { methods = ["jwt:bench"], scopes = ["bench"] }' >>"$TMP/$target.toml"
        head -c 32 /dev/urandom | base64 >"$TMP/jwt.secret"
        printf '\n[[jwt_providers]]\nname = "bench"\nissuer = "https://bench.invalid/"\naudiences = ["bench"]\nhmac_secret_file = "%s"\nalgorithms = ["HS256"]\n' \
          "$TMP/jwt.secret" >>"$TMP/$target.toml"
        TOKEN=$(python3 "$HERE/mint_jwt.py" "$TMP/jwt.secret") || die "could not mint the benchmark's JWT"
        WRK_HEADER[$target]="Authorization: Bearer $TOKEN"
      fi
      "$DOORMAN" check --config "$TMP/$target.toml" >"$TMP/$target-check.out" 2>&1 ||
        { cat "$TMP/$target-check.out" >&2; die "doorman check failed for $target"; }
      taskset -c "$SERVER_CPU" "$DOORMAN" serve --config "$TMP/$target.toml" --workers 1 \
        >"$TMP/$target.out" 2>&1 &
      PIDS+=($!)
      PROXY_PIDS[$target]=$!
      wait_ok "$target" "${PORT[$target]}" "${PROXY_PIDS[$target]}" "${WRK_HEADER[$target]}"
      ;;
    *) die "unknown target $target (known: direct nginx haproxy doorman doorman-fw doorman-rl doorman-rl-redis doorman-key doorman-jwt)" ;;
  esac
done

# ---------------------------------------------------------------------------------------------
# Trials.

mkdir -p "$ROOT/bench/out"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT_JSON=$ROOT/bench/out/proxy-$STAMP.json
RAW_LOG=$ROOT/bench/out/proxy-$STAMP.log
TRIALS=$TMP/trials.tsv
echo "round target requests duration_us p50_us p90_us p99_us max_us errors proxy_ticks origin_ticks" \
  >"$TRIALS"

WRK_PID=""
run_wrk() { # port seconds [header] → wrk's output in $TMP/wrk.out
  local header_args=()
  [ -z "${3:-}" ] || header_args=(-H "$3")
  # In the background and waited for: bash runs a trap only once a foreground command ends,
  # whereas `wait` returns at once on a signal, so Ctrl-C or SIGTERM ends the run (cleanup stops
  # wrk through WRK_PID) without sitting out the trial.
  taskset -c "$LOADGEN_CPU" wrk -t "$THREADS" -c "$CONNECTIONS" -d "${2}s" --latency \
    "${header_args[@]}" -s "$HERE/report.lua" "http://127.0.0.1:$1/" >"$TMP/wrk.out" &
  WRK_PID=$!
  wait "$WRK_PID" || die "wrk failed: $(cat "$TMP/wrk.out")"
  WRK_PID="" # it has exited; its PID may be reused and must not be signalled
}

trial() { # round target
  local round=$1 target=$2
  local proxies=${PROXY_PIDS[$target]} out p0=0 p1=0 o0 o1
  # shellcheck disable=SC2086 # PID lists are meant to split
  {
    [ -z "$proxies" ] || p0=$(cpu_ticks $proxies)
    o0=$(cpu_ticks $ORIGIN_WORKERS)
    run_wrk "${PORT[$target]}" "$DURATION" "${WRK_HEADER[$target]:-}"
    out=$(cat "$TMP/wrk.out")
    [ -z "$proxies" ] || p1=$(cpu_ticks $proxies)
    o1=$(cpu_ticks $ORIGIN_WORKERS)
  }
  printf '=== round %s, %s\n%s\n\n' "$round" "$target" "$out" >>"$RAW_LOG"
  local line kv
  line=$(grep '^WRK_RESULT ' <<<"$out") || die "wrk printed no result for $target: $out"
  # "requests=N duration_us=N …" → local variables of those names
  local requests duration_us p50_us p90_us p99_us max_us
  local err_connect err_read err_write err_status err_timeout
  for kv in ${line#WRK_RESULT }; do local "$kv"; done
  local errors=$((err_connect + err_read + err_write + err_status + err_timeout))
  local proxy_ticks=-
  [ -z "$proxies" ] || proxy_ticks=$((p1 - p0))
  echo "$round $target $requests $duration_us $p50_us $p90_us $p99_us $max_us $errors" \
    "$proxy_ticks $((o1 - o0))" >>"$TRIALS"
  log "$(awk -v r="$round" -v t="$target" -v n="$requests" -v d="$duration_us" -v a="$p50_us" \
    -v b="$p99_us" -v e="$errors" 'BEGIN { printf "round %s %-8s %8.0f req/s  p50 %6.3f ms  p99 %6.3f ms  errors %d", r, t, n / (d / 1e6), a / 1000, b / 1000, e }')"
}

if [ "$WARMUP" -gt 0 ]; then
  # Fills the proxies' upstream connection pools and faults in their memory, so round 1 is not
  # the only round paying for it.
  for target in $TARGETS; do
    log "warm-up $target (${WARMUP}s)"
    run_wrk "${PORT[$target]}" "$WARMUP" "${WRK_HEADER[$target]:-}"
  done
fi

# Interleaved: each round runs every target once, so slow phases of a shared machine spread over
# all targets rather than landing on one.
for round in $(seq "$ROUNDS"); do
  for target in $TARGETS; do
    trial "$round" "$target"
  done
done

# ---------------------------------------------------------------------------------------------
# Summary.

# The commit the binary was built from: the work tree's (with -dirty when it has changes), unless
# DOORMAN_BIN names another binary, whose origin only the caller knows (DOORMAN_COMMIT).
if [ -z "${DOORMAN_COMMIT:-}" ]; then
  if [ -n "${DOORMAN_BIN:-}" ]; then
    DOORMAN_COMMIT=unknown
  else
    DOORMAN_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    git diff --quiet HEAD 2>/dev/null || DOORMAN_COMMIT+=-dirty
  fi
fi
json_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g' | tr -d '\n')"; }
cat >"$TMP/meta.json" <<EOF
{
  "timestamp": $(json_str "$STAMP"),
  "rounds": $ROUNDS,
  "duration_secs": $DURATION,
  "warmup_secs": $WARMUP,
  "connections": $CONNECTIONS,
  "threads": $THREADS,
  "loadgen_cpu": $(json_str "$LOADGEN_CPU"),
  "server_cpu": $(json_str "$SERVER_CPU"),
  "clk_tck": $(getconf CLK_TCK),
  "machine_busy_percent_before": $BUSY_BEFORE,
  "machine_busy_percent_after": $(busy_percent),
  "origin": "nginx, 1 worker, return 200 with body ok",
  "doorman_bin": $(json_str "$DOORMAN"),
  "doorman_commit": $(json_str "$DOORMAN_COMMIT"),
  "nginx_version": $(json_str "$(nginx -v 2>&1)"),
  "haproxy_version": $(json_str "$(haproxy -v 2>&1 | head -1)"),
  "wrk_version": $(json_str "$(wrk -v 2>&1 | head -1)"),
  "kernel": $(json_str "$(uname -r)"),
  "cpu_model": $(json_str "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"),
  "raw_log": $(json_str "bench/out/proxy-$STAMP.log")
}
EOF
python3 "$HERE/summarise.py" "$TRIALS" "$OUT_JSON" "$TMP/meta.json"
