#!/usr/bin/env bash
# The issue-14 measurement against the quickstart, over real sockets: latency of /me,
# refresh and login while PostgreSQL is stopped (immediate shutdown) and while Redis is
# killed (-9), and the time until /me answers 200 again once the server is back.
#
#   cargo build --example quickstart --features redis,postgres
#   scripts/test.sh bash scripts/outage-quickstart.sh
#
# Login times are dominated by the argon2 password check (slow in a debug build), up or
# down. Ports 39173/39174 on 127.0.0.1; every loop is bounded, the quickstart is stopped
# at the end (and by `timeout` after 120 s in any case).
set -u
ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
BIN=$ROOT/target/debug/examples/quickstart
[[ -x $BIN ]] || { echo "build it first: cargo build --example quickstart --features redis,postgres" >&2; exit 1; }
stats() { sort -n | awk '{a[NR]=$1} END {printf "n=%d p50=%.1fms p99=%.1fms max=%.1fms\n", NR, a[int(NR*0.5+0.5)]*1000, a[int(NR*0.99+0.5)]*1000, a[NR]*1000}'; }
run_case() {
  local store=$1 stopcmd=$2 startcmd=$3 port=$4
  STORE=$store ADDR=127.0.0.1:$port JWT_SECRET_KEY=0123456789abcdefghijklmnopqrstuvwxyzABCDEF timeout 120 $BIN >/tmp/qs-$store.log 2>&1 &
  local pid=$!
  for i in $(seq 50); do curl -s -o /dev/null 127.0.0.1:$port/health && break; sleep 0.1; done
  local body token refresh
  body=$(curl -s 127.0.0.1:$port/auth/login -H 'content-type: application/json' -d '{"username":"alice","password":"alice-password"}')
  token=$(echo "$body" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  refresh=$(echo "$body" | sed -E 's/.*"refresh_token":"([^"]+)".*/\1/')
  echo "$store up: $(for i in $(seq 50); do curl -s -o /dev/null -w '%{time_total}\n' 127.0.0.1:$port/me -H "Authorization: Bearer $token"; done | stats)"
  echo "$store up login: $(for i in $(seq 10); do curl -s -o /dev/null -w '%{time_total}\n' 127.0.0.1:$port/auth/login -H 'content-type: application/json' -d '{"username":"alice","password":"alice-password"}'; done | stats)"
  eval "$stopcmd"
  sleep 2.5   # past the Redis cache's staleness bound
  echo "$store down /me: $(for i in $(seq 100); do curl -s -o /dev/null -w '%{http_code} %{time_total}\n' 127.0.0.1:$port/me -H "Authorization: Bearer $token"; done | tee /tmp/qs-codes | awk '{print $2}' | stats) codes: $(awk '{print $1}' /tmp/qs-codes | sort | uniq -c | tr '\n' ' ')"
  echo "$store down refresh: $(for i in $(seq 30); do curl -s -o /dev/null -w '%{time_total}\n' -X POST 127.0.0.1:$port/auth/refresh -H 'content-type: application/json' -d "{\"refresh_token\":\"$refresh\"}"; done | stats)"
  echo "$store down login: $(for i in $(seq 30); do curl -s -o /dev/null -w '%{time_total}\n' 127.0.0.1:$port/auth/login -H 'content-type: application/json' -d '{"username":"alice","password":"alice-password"}'; done | stats)"
  eval "$startcmd"
  local t0=$(date +%s%N)
  for i in $(seq 1000); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' 127.0.0.1:$port/me -H "Authorization: Bearer $token")" = 200 ] && break
    sleep 0.01
  done
  echo "$store recovered after $((($(date +%s%N) - t0) / 1000000)) ms; refresh: $(curl -s -o /dev/null -w '%{http_code}' -X POST 127.0.0.1:$port/auth/refresh -H 'content-type: application/json' -d "{\"refresh_token\":\"$refresh\"}")"
  kill $pid; wait $pid 2>/dev/null
}
pgctl() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u "$TEST_PG_USER" -- "$TEST_PG_CTL" -D "$TEST_PG_DATA" "$@" >/dev/null 2>&1
  else
    "$TEST_PG_CTL" -D "$TEST_PG_DATA" "$@" >/dev/null 2>&1
  fi
}
run_case postgres 'pgctl -w -m immediate stop' 'pgctl -w -l "$TEST_PG_LOG" start' 39173
run_case redis 'kill -9 $(cat $TEST_REDIS_DIR/redis.pid)' '$TEST_REDIS_SERVER_BIN $TEST_REDIS_CONF' 39174
