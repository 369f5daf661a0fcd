#!/usr/bin/env bash
# Starts a throw-away redis-server on 127.0.0.1 and a free port, with no persistence (no RDB, no
# AOF, working files in a temporary directory), and prints the port on stdout. How to stop it is
# printed on stderr. For trying the shared rate limiter by hand and for benchmarks; the Rust tests
# start their own servers (crates/doorman-test-support/src/redis.rs).
#
#   port=$(scripts/redis-test-server.sh)
#   ... redis://127.0.0.1:$port/ ...
#   scripts/redis-test-server.sh --stop "$port"
set -euo pipefail

if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-test-server.sh: redis-server is not on PATH; install redis-server (apt-get install redis-server) or run scripts/test.sh" >&2
  exit 1
fi

state_dir() { echo "${TMPDIR:-/tmp}/doorman-redis-test-$1"; }

if [ "${1:-}" = "--stop" ]; then
  port="${2:?usage: redis-test-server.sh --stop PORT}"
  dir=$(state_dir "$port")
  if [ -f "$dir/redis.pid" ]; then
    kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  fi
  rm -rf "$dir"
  exit 0
fi

# A port is free when nothing accepts a connection on it. Try random ports in the ephemeral
# range; redis-server's own bind is the final check (another process could take the port first).
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

for _ in $(seq 1 20); do
  port=$((20000 + RANDOM % 40000))
  port_in_use "$port" && continue
  dir=$(state_dir "$port")
  mkdir -p "$dir"
  if redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
      --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" \
      --logfile "$dir/redis.log" --loglevel warning >/dev/null 2>&1; then
    # Daemonized: wait until it answers (or gives up, e.g. lost the race for the port).
    for _ in $(seq 1 100); do
      if port_in_use "$port" && [ -f "$dir/redis.pid" ]; then
        echo "$port"
        echo "redis-test-server.sh: redis-server on 127.0.0.1:$port (pid $(cat "$dir/redis.pid")); stop with: $0 --stop $port" >&2
        exit 0
      fi
      sleep 0.05
    done
  fi
  rm -rf "$dir"
done
echo "redis-test-server.sh: could not start redis-server on a free loopback port" >&2
exit 1
