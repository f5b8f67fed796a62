#!/usr/bin/env bash
# scripts/bench-http.sh - HTTP load comparison of axum-token-auth and its peers.
#
# Builds bench-http/ (its own cargo workspace, never part of the main crate's build)
# in release, then for every variant, in ROUNDS interleaved rounds (round 1: all
# variants, round 2: all variants, ...):
#   - starts `bench-http <variant>` on 127.0.0.1 pinned to CPU 0 (taskset),
#   - checks it once with curl: 401 without a token (200 for `bare`), 200 "hello"
#     with it, so a broken setup is never benchmarked,
#   - warms up 2 s, then runs `wrk -t1 -c32 -d${DURATION}s --latency` pinned to CPU 1
#     with `Authorization: Bearer <token>` (the same header for every variant),
#   - records req/s, p50, p99, the server's VmRSS (sampled 0.5 s before the run
#     ends, under load), its CPU time per request and, for our variants, the
#     verified-token cache's hit rate during the measured run (GET /stats before
#     and after), then stops the server.
# Prints a Markdown table (means of the rounds) and writes it, with the date, the
# machine, its load average at start and end, and the command, to
# bench-http/results.md (RESULTS_FILE=path to write elsewhere).
#
# Usage:
#   scripts/bench-http.sh
#   DURATION=30 scripts/bench-http.sh
#   VARIANTS="bare ours-hs256 handwritten" DURATION=3 scripts/bench-http.sh
#
# Knobs (environment variables):
#   DURATION   seconds per measured run (default 8)
#   ROUNDS     interleaved rounds (default 3)
#   VARIANTS   space-separated subset, in this order by default: bare handwritten
#              jwt-authorizer axum-jwt-auth ours-hs256 ours-hs256-nocache ours-rs256 ours-es256
#              ours-external-rs256 ours-external-rs256-nocache (a provider's Keycloak-shaped
#              RS256 token, verified through a trusted external issuer),
#              ours-introspected (an opaque token checked by RFC 7662 introspection at a
#              loopback endpoint in the server process, cached; not in the default list),
#              ours-hs256-redis ours-hs256-postgres ours-rs256-redis ours-rs256-postgres
#              (revocation store; need REDIS_URL / DATABASE_URL, e.g. run this script
#              as `scripts/test.sh scripts/bench-http.sh`, which starts both),
#              refresh-memory refresh-redis refresh-postgres (MODE=refresh only),
#              ours-dpop-es256 ours-dpop-eddsa (DPoP, RFC 9449: a token bound to the
#              client's key, `Authorization: DPoP`, a fresh ES256 / Ed25519 proof per
#              request; not in the default list; MODE=bearer and TOKENS=1 only)
#   MODE       bearer (default): `Authorization: Bearer`; cookie: the access cookie
#              (bare and ours-* only: the peers read no cookie); refresh: `POST
#              /refresh` rotating refresh tokens, TOKENS sessions (default 256) shared
#              by the concurrent connections, each token used once (its successor
#              goes back to the pool), default variants refresh-memory refresh-redis
#              refresh-postgres
#   TOKENS     distinct valid tokens (users) per run (default 1). 1: every request
#              carries the same token (wrk -H). N > 1: the server mints N tokens (one per
#              user, once per key: later rounds reuse them) and each request draws one
#              Zipf(ZIPF_S) by rank: a Lua script pre-formats the N requests and a
#              sequence of 2^20 draws (fixed seed: the same sequence for every variant).
#              axum-token-auth caches verified tokens (16 384 entries / 16 MiB by
#              default), so ours-* variants hit the cache for hot users and verify the
#              tail; ours-hs256-nocache (cache off) verifies every request.
#   ZIPF_S     the Zipf exponent (default 1)
#   DPOP_PROOF_RATE  proofs signed per second of a run for the ours-dpop-* variants
#              (default 40000, above what one server core verifies): wrk cannot sign
#              ES256/EdDSA, so `bench-http dpop-proofs` signs a pool per variant before
#              the rounds (WARMUP × rate for the warm-ups, DURATION × rate for the
#              measured runs: 200 000 at DURATION=5) and a Lua script sends each proof
#              once. The servers accept proofs for 4 h and start with an empty replay
#              cache, so every round reuses the pools. A run that outpaces its pool asks
#              for GET /pool-exhausted (404), which fails the run.
#
# Installs wrk (and curl) from Debian when missing: `apt-get update` runs once, and
# only when something must be installed. Loopback only. Every run ends by itself
# (wrk -d, plus a `timeout` guard around each wrk).
set -euo pipefail

readonly ALL_VARIANTS="bare handwritten jwt-authorizer axum-jwt-auth ours-hs256 ours-hs256-nocache ours-rs256 ours-es256 ours-dpop-es256 ours-dpop-eddsa ours-external-rs256 ours-external-rs256-nocache ours-introspected ours-hs256-redis ours-hs256-postgres ours-rs256-redis ours-rs256-postgres refresh-memory refresh-redis refresh-postgres"
readonly DEFAULT_VARIANTS="bare handwritten jwt-authorizer axum-jwt-auth ours-hs256 ours-hs256-nocache ours-rs256 ours-es256 ours-external-rs256 ours-external-rs256-nocache"
readonly COOKIE_VARIANTS="bare ours-hs256 ours-hs256-nocache ours-rs256 ours-es256"
readonly REFRESH_VARIANTS="refresh-memory refresh-redis refresh-postgres"
readonly WARMUP_S=2
readonly CONNECTIONS=32

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd -P)
BENCH_DIR=$REPO_ROOT/bench-http
cd "$REPO_ROOT"

(($# == 0)) || die "no arguments; knobs are environment variables: DURATION, ROUNDS, VARIANTS, TOKENS, ZIPF_S, MODE (see the header of $0)"

# the exact command, for results.md
COMMAND="scripts/bench-http.sh"
[[ -n ${VARIANTS:-} ]] && COMMAND="VARIANTS=\"$VARIANTS\" $COMMAND"
[[ -n ${TOKENS:-} ]] && COMMAND="TOKENS=$TOKENS $COMMAND"
[[ -n ${DURATION:-} ]] && COMMAND="DURATION=$DURATION $COMMAND"
[[ -n ${ROUNDS:-} ]] && COMMAND="ROUNDS=$ROUNDS $COMMAND"
[[ -n ${ZIPF_S:-} ]] && COMMAND="ZIPF_S=$ZIPF_S $COMMAND"
[[ -n ${MODE:-} ]] && COMMAND="MODE=$MODE $COMMAND"
[[ -n ${DPOP_PROOF_RATE:-} ]] && COMMAND="DPOP_PROOF_RATE=$DPOP_PROOF_RATE $COMMAND"

MODE=${MODE:-bearer}
case $MODE in
  bearer) DEFAULT_LIST=$DEFAULT_VARIANTS ;;
  cookie) DEFAULT_LIST=$COOKIE_VARIANTS ;;
  refresh) DEFAULT_LIST=$REFRESH_VARIANTS; TOKENS=${TOKENS:-256} ;;
  *) die "MODE must be bearer, cookie or refresh (got '$MODE')" ;;
esac
DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-3}
ZIPF_S=${ZIPF_S:-1}
TOKENS=${TOKENS:-1}
DPOP_PROOF_RATE=${DPOP_PROOF_RATE:-40000}
[[ $DPOP_PROOF_RATE =~ ^[1-9][0-9]*$ ]] || die "DPOP_PROOF_RATE must be a whole number ≥ 1 (got '$DPOP_PROOF_RATE')"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a whole number ≥ 1 (got '$ROUNDS')"
[[ $ZIPF_S =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "ZIPF_S must be a number (got '$ZIPF_S')"
# RS256 signing of many tokens takes a while at the first start of a key.
START_TIMEOUT_S=$((30 + TOKENS / 400))
[[ $TOKENS =~ ^[1-9][0-9]*$ ]] && ((TOKENS <= 1000000)) || die "TOKENS must be a whole number in 1..1000000 (got '$TOKENS')"
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a whole number of seconds ≥ 1 (got '$DURATION')"
read -r -a VARIANT_LIST <<<"${VARIANTS:-$DEFAULT_LIST}"
((${#VARIANT_LIST[@]})) || die "VARIANTS is empty"
for v in "${VARIANT_LIST[@]}"; do
  [[ " $ALL_VARIANTS " == *" $v "* ]] || die "unknown variant '$v' (known: $ALL_VARIANTS)"
  if [[ $MODE == refresh ]]; then
    [[ $v == refresh-* ]] || die "MODE=refresh runs refresh-* variants only (got '$v')"
  else
    [[ $v != refresh-* ]] || die "$v needs MODE=refresh"
  fi
  if [[ $MODE == cookie ]]; then
    [[ $v == bare || $v == ours-* ]] || die "MODE=cookie: $v reads no cookie (bare and ours-* only)"
  fi
  if [[ $v == ours-dpop-* ]]; then
    [[ $MODE == bearer ]] || die "$v: MODE=bearer only (a DPoP token travels in the Authorization header)"
    ((TOKENS == 1)) || die "$v: TOKENS=1 only (one client key, one bound token)"
  fi
  if [[ $v == *-redis ]]; then [[ -n ${REDIS_URL:-} ]] || die "$v needs REDIS_URL (run under scripts/test.sh)"; fi
  if [[ $v == *-postgres ]]; then [[ -n ${DATABASE_URL:-} ]] || die "$v needs DATABASE_URL (run under scripts/test.sh)"; fi
done

# ---------------------------------------------------------------------------
# cleanup: stop the server we started (by its pid), remove the temp dir
# ---------------------------------------------------------------------------
TMP=""
SERVER_PID=""
WRK_PID=""
CURRENT_VARIANT=""

stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM HUP
  if [[ -n $WRK_PID ]]; then
    kill -TERM "$WRK_PID" 2>/dev/null
    wait "$WRK_PID" 2>/dev/null
  fi
  stop_server
  [[ -n $TMP && -d $TMP ]] && rm -rf -- "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------------------
# tools
# ---------------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH (install Rust via rustup)"

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
if [[ ! -s $BENCH_DIR/fixtures/rsa2048_private.pem || ! -s $BENCH_DIR/fixtures/ec_p256_private.pem ]]; then
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
fi
if ((${#missing[@]})); then
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get: install them by hand"
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "missing ${missing[*]}: run as root or install them: apt-get install ${missing[*]}"
    SUDO=(sudo)
  fi
  log "installing ${missing[*]} (apt-get update once, then install)"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=300 update -q </dev/null
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 install -y --no-install-recommends "${missing[@]}" </dev/null
fi

# keys for ours-rs256 / ours-es256 (checked in; regenerated only when absent)
mkdir -p "$BENCH_DIR/fixtures"
if [[ ! -s $BENCH_DIR/fixtures/rsa2048_private.pem ]]; then
  log "generating bench-http/fixtures/rsa2048_private.pem"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$BENCH_DIR/fixtures/rsa2048_private.pem" 2>/dev/null
fi
if [[ ! -s $BENCH_DIR/fixtures/ec_p256_private.pem ]]; then
  log "generating bench-http/fixtures/ec_p256_private.pem"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$BENCH_DIR/fixtures/ec_p256_private.pem"
fi

# CPU pinning: server on CPU 0, wrk on CPU 1
NPROC=$(nproc)
SERVER_PIN=()
WRK_PIN=()
PIN_NOTE="and wrk sharing the only CPU (no pinning)"
if ((NPROC >= 2)); then
  SERVER_PIN=(taskset -c 0)
  WRK_PIN=(taskset -c 1)
  PIN_NOTE="on CPU 0 and wrk on CPU 1 (taskset)"
else
  log "warning: only $NPROC CPU: server and wrk share it (no pinning)"
fi

# ---------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------
export CARGO_TARGET_DIR=$BENCH_DIR/target
log "cargo build --release (bench-http, target dir bench-http/target)"
cargo build --release --manifest-path "$BENCH_DIR/Cargo.toml"
BIN=$CARGO_TARGET_DIR/release/bench-http
[[ -x $BIN ]] || die "no binary at $BIN after the build"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-http.XXXXXX")

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
  else
    local p
    while :; do
      p=$((20000 + RANDOM % 30000))
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
  fi
}

# the token file of a variant: one per signing key, so later rounds reuse the tokens
# (refresh tokens are used once: a fresh file for every refresh server)
token_family() {
  case $1 in
    ours-rs256*) echo rs256 ;;
    ours-es256*) echo es256 ;;
    ours-dpop-es256) echo dpop-es256 ;;
    ours-dpop-eddsa) echo dpop-eddsa ;;
    ours-external*) echo external ;;
    ours-introspected) echo opaque ;;
    refresh-*) echo "$1" ;;
    *) echo hs256 ;;
  esac
}

# start_server VARIANT -> sets SERVER_PID, PORT, TOKEN, TOKEN_FILE, COOKIE_NAME
start_server() {
  local variant=$1 attempt t0 minted=$TOKENS
  TOKEN_FILE=$TMP/tokens-$(token_family "$variant")
  if [[ $MODE == refresh ]]; then
    rm -f "$TOKEN_FILE"
    minted=$((2 * TOKENS)) # one pool for the warm-up, one for the measured run
  fi
  for attempt in 1 2 3; do
    PORT=$(free_port)
    rm -f "$TMP/server.log"
    "${SERVER_PIN[@]}" "$BIN" "$variant" "$PORT" "$TOKEN_FILE" "$minted" >"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    t0=$SECONDS
    while ((SECONDS - t0 < START_TIMEOUT_S)); do
      if grep -q '^LISTENING ' "$TMP/server.log" 2>/dev/null; then
        TOKEN=$(head -n1 "$TOKEN_FILE")
        COOKIE_NAME=$(awk '/^COOKIE / { print $2 }' "$TMP/server.log")
        [[ -n $TOKEN ]] || die "$variant: the server wrote no token"
        [[ $(grep -c . "$TOKEN_FILE") -eq $minted ]] || die "$variant: the server wrote $(grep -c . "$TOKEN_FILE") tokens, expected $minted"
        if [[ $MODE == refresh ]]; then
          head -n "$TOKENS" "$TOKEN_FILE" >"$TMP/pool-warmup"
          tail -n "$TOKENS" "$TOKEN_FILE" >"$TMP/pool-run"
        fi
        return 0
      fi
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.05
    done
    log "$variant did not start on port $PORT (attempt $attempt):"
    sed 's/^/    /' "$TMP/server.log" >&2 || true
    stop_server
  done
  die "could not start variant $variant"
}

# the credential header of a request with TOKEN-like $1
cred_header() {
  if [[ $MODE == cookie ]]; then
    printf 'Cookie: %s=%s' "$COOKIE_NAME" "$1"
  else
    printf 'Authorization: Bearer %s' "$1"
  fi
}

# check_server VARIANT: 401 without a token (200 for bare), 200 "hello" with it; in
# refresh mode one rotation (its successor replaces the token in the warm-up pool)
check_server() {
  local variant=$1 url="http://127.0.0.1:$PORT/hello" code body expect_none=401
  if [[ $MODE == refresh ]]; then
    local last next
    last=$(tail -n1 "$TMP/pool-warmup")
    next=$(curl -sS --max-time 10 -X POST --data-binary "$last" -w '\n%{http_code}' "http://127.0.0.1:$PORT/refresh") || die "$variant: curl failed"
    [[ ${next##*$'\n'} == 200 ]] || die "$variant: POST /refresh answered '${next//$'\n'/ | }'"
    { head -n -1 "$TMP/pool-warmup"; printf '%s\n' "${next%$'\n'*}"; } >"$TMP/pool-warmup.new"
    mv "$TMP/pool-warmup.new" "$TMP/pool-warmup"
    return 0
  fi
  [[ $variant == bare ]] && expect_none=200
  code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$url") || die "$variant: curl failed"
  [[ $code == "$expect_none" ]] || die "$variant: GET /hello without a token answered $code, expected $expect_none"
  if [[ $variant == ours-dpop-* ]]; then
    # the bound token: refused as Bearer and without a proof, accepted with a fresh
    # proof, refused with the same proof again (the replay cache is on)
    local proof
    proof=$(head -n1 "$TMP/proofs-$(token_family "$variant")-check")
    code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$url") || die "$variant: curl failed"
    [[ $code == 401 ]] || die "$variant: the bound token as Bearer answered $code, expected 401"
    code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -H "Authorization: DPoP $TOKEN" "$url") || die "$variant: curl failed"
    [[ $code == 401 ]] || die "$variant: the bound token without a proof answered $code, expected 401"
    body=$(curl -sS --max-time 5 -w '\n%{http_code}' -H "Authorization: DPoP $TOKEN" -H "DPoP: $proof" "$url") || die "$variant: curl failed"
    [[ $body == $'hello\n200' ]] || die "$variant: GET /hello with the token and a proof answered '${body//$'\n'/ | }', expected 'hello | 200'"
    code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -H "Authorization: DPoP $TOKEN" -H "DPoP: $proof" "$url") || die "$variant: curl failed"
    [[ $code == 401 ]] || die "$variant: a replayed proof answered $code, expected 401"
    return 0
  fi
  body=$(curl -sS --max-time 5 -w '\n%{http_code}' -H "$(cred_header "$TOKEN")" "$url") || die "$variant: curl failed"
  [[ $body == $'hello\n200' ]] || die "$variant: GET /hello with the token answered '${body//$'\n'/ | }', expected 'hello | 200'"
  if ((TOKENS > 1)); then # the last minted token too
    body=$(curl -sS --max-time 5 -w '\n%{http_code}' -H "$(cred_header "$(tail -n1 "$TOKEN_FILE")")" "$url") || die "$variant: curl failed"
    [[ $body == $'hello\n200' ]] || die "$variant: GET /hello with the last token answered '${body//$'\n'/ | }', expected 'hello | 200'"
  fi
}

# the verified-token cache's "hits misses entries bytes" (zeros for servers without)
cache_stats() { curl -sf --max-time 5 "http://127.0.0.1:$PORT/stats" 2>/dev/null || echo "0 0 0 0"; }

# to_us "123.45us" | "1.2ms" | "1.00s" -> microseconds
to_us() {
  awk -v v="$1" 'BEGIN {
    if (match(v, /us$/)) { printf "%.1f", substr(v, 1, RSTART - 1) }
    else if (match(v, /ms$/)) { printf "%.1f", substr(v, 1, RSTART - 1) * 1000 }
    else if (match(v, /m$/)) { printf "%.1f", substr(v, 1, RSTART - 1) * 60000000 }
    else if (match(v, /s$/)) { printf "%.1f", substr(v, 1, RSTART - 1) * 1000000 }
    else { exit 1 }
  }'
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true; }

# utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat,
# counted after the parenthesised command name)
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# wrk script for TOKENS > 1: every request pre-formatted once, then a fixed sequence
# of 2^20 Zipf(s) draws by rank (token 1 the most requested), the same for every variant
cat >"$TMP/tokens.lua" <<'LUA'
local reqs, n, seq, len, i = {}, 0, {}, 1048576, 0
function init(args)
  local file, mode, cookie, s = args[1], args[2], args[3], tonumber(args[4])
  for line in io.lines(file) do
    if #line > 0 then
      n = n + 1
      local h
      if mode == "cookie" then
        h = { ["Cookie"] = cookie .. "=" .. line }
      else
        h = { ["Authorization"] = "Bearer " .. line }
      end
      reqs[n] = wrk.format("GET", "/hello", h)
    end
  end
  assert(n > 0, "no tokens in " .. file)
  local cdf, acc = {}, 0
  for k = 1, n do
    acc = acc + 1 / k ^ s
    cdf[k] = acc
  end
  math.randomseed(20261201)
  for j = 1, len do
    local u = math.random() * acc
    local lo, hi = 1, n
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if cdf[mid] < u then lo = mid + 1 else hi = mid end
    end
    seq[j] = lo
  end
end
function request()
  i = i % len + 1
  return reqs[seq[i]]
end
LUA

# wrk script for MODE=refresh: a pool of refresh tokens; each request takes one, each
# answer (its successor) goes back, so no token is ever presented twice
cat >"$TMP/refresh.lua" <<'LUA'
local pool, head, tail = {}, 1, 0
function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      tail = tail + 1
      pool[tail] = line
    end
  end
end
function request()
  local t = ""
  if head <= tail then
    t = pool[head]
    pool[head] = nil
    head = head + 1
  end
  return wrk.format("POST", "/refresh", { ["Content-Type"] = "text/plain" }, t)
end
function response(status, headers, body)
  if status == 200 then
    tail = tail + 1
    pool[tail] = body
  end
end
LUA

# wrk script for ours-dpop-*: the bound token and a pool of proofs, each sent once (read
# a line at a time: a pool is ~100 MB); when the pool runs out, a request for
# /pool-exhausted (404) fails the run rather than replaying a proof
cat >"$TMP/dpop.lua" <<'LUA'
local next_proof, auth
function init(args)
  auth = "DPoP " .. args[1]
  next_proof = io.lines(args[2])
end
function request()
  local proof = next_proof()
  if proof == nil or #proof == 0 then
    return wrk.format("GET", "/pool-exhausted")
  end
  return wrk.format("GET", "/hello", { ["Authorization"] = auth, ["DPoP"] = proof })
end
LUA

# run_wrk SECONDS OUTFILE [POOL]; execs (call it in a subshell or with &), so that the
# pid of a background run is timeout's, which passes a TERM on to wrk
run_wrk() {
  local secs=$1 out=$2 pool=${3:-}
  local -a load=(-H "$(cred_header "$TOKEN")" "http://127.0.0.1:$PORT/hello")
  if [[ $MODE == refresh ]]; then
    load=(-s "$TMP/refresh.lua" "http://127.0.0.1:$PORT/refresh" -- "$pool")
  elif [[ $CURRENT_VARIANT == ours-dpop-* ]]; then
    load=(-s "$TMP/dpop.lua" "http://127.0.0.1:$PORT/hello" -- "$TOKEN" "$pool")
  elif ((TOKENS > 1)); then
    load=(-s "$TMP/tokens.lua" "http://127.0.0.1:$PORT/hello" -- "$TOKEN_FILE" "$MODE" "${COOKIE_NAME:--}" "$ZIPF_S")
  fi
  exec timeout --kill-after=5 $((secs + 60)) "${WRK_PIN[@]}" wrk -t1 -c"$CONNECTIONS" -d"${secs}s" --timeout 10s --latency \
    "${load[@]}" >"$out" 2>&1
}

# ---------------------------------------------------------------------------
# the runs
# ---------------------------------------------------------------------------
RESULTS=$TMP/results.tsv # round variant rps p50_us p99_us rss_kib socket_errors cpu_us_per_req hit_rate
: >"$RESULTS"
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
SAMPLE_AFTER=$(awk -v d="$DURATION" 'BEGIN { s = d - 0.5; if (s < 0.2) s = 0.2; print s }')

# mint every key's tokens once, in a server of its own: the measured servers only read
# the file (and hold none of them, for an honest RSS column)
if [[ $MODE != refresh ]]; then
  declare -A MINTED=()
  for variant in "${VARIANT_LIST[@]}"; do
    family=$(token_family "$variant")
    [[ -n ${MINTED[$family]:-} ]] && continue
    log "minting $TOKENS token(s) for $variant ($family)"
    start_server "$variant"
    stop_server
    MINTED[$family]=1
    if [[ $variant == ours-dpop-* ]]; then
      for pool in check:4 warmup:$((WARMUP_S * DPOP_PROOF_RATE)) run:$((DURATION * DPOP_PROOF_RATE)); do
        log "signing ${pool#*:} $variant proofs (${pool%%:*})"
        "$BIN" dpop-proofs "$variant" "$TOKEN_FILE" "${pool#*:}" "$TMP/proofs-$family-${pool%%:*}"
        [[ $(grep -c . "$TMP/proofs-$family-${pool%%:*}") -eq ${pool#*:} ]] || die "$variant: dpop-proofs wrote too few proofs"
      done
    fi
  done
fi

for ((round = 1; round <= ROUNDS; round++)); do
  for variant in "${VARIANT_LIST[@]}"; do
    log "round $round/$ROUNDS: $variant"
    CURRENT_VARIANT=$variant
    pool_warmup=$TMP/pool-warmup pool_run=$TMP/pool-run
    if [[ $variant == ours-dpop-* ]]; then
      pool_warmup=$TMP/proofs-$(token_family "$variant")-warmup
      pool_run=$TMP/proofs-$(token_family "$variant")-run
    fi
    start_server "$variant"
    check_server "$variant"

    (run_wrk "$WARMUP_S" "$TMP/warmup.txt" "$pool_warmup") || { cat "$TMP/warmup.txt" >&2; die "$variant: warm-up wrk failed"; }
    if [[ $variant != *-redis && $variant != *-postgres ]] && grep -q 'Non-2xx or 3xx responses' "$TMP/warmup.txt"; then
      cat "$TMP/warmup.txt" >&2
      die "$variant: wrk saw non-2xx responses in the warm-up: the setup is broken, not benchmarking it"
    fi

    read -r hits0 misses0 _ <<<"$(cache_stats)"
    cpu0=$(cpu_ticks "$SERVER_PID")
    run_wrk "$DURATION" "$TMP/wrk.txt" "$pool_run" &
    WRK_PID=$!
    sleep "$SAMPLE_AFTER" &
    wait $! # (a wait, unlike a foreground sleep, lets a TERM trap run at once)
    rss=$(rss_kib "$SERVER_PID")
    wait "$WRK_PID" || { WRK_PID=""; cat "$TMP/wrk.txt" >&2; die "$variant: wrk failed"; }
    WRK_PID=""
    cpu1=$(cpu_ticks "$SERVER_PID")
    read -r hits1 misses1 _ <<<"$(cache_stats)"
    hit_rate=$(awk -v h=$((hits1 - hits0)) -v m=$((misses1 - misses0)) 'BEGIN { if (h + m > 0) printf "%.1f", 100 * h / (h + m); else print "-" }')
    [[ -n $rss ]] || rss=$(rss_kib "$SERVER_PID")
    kill -0 "$SERVER_PID" 2>/dev/null || { sed 's/^/    /' "$TMP/server.log" >&2; die "$variant: the server died during the run"; }
    stop_server

    out=$TMP/wrk.txt
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    if [[ -n $non2xx ]]; then
      # A store that cannot keep up answers 503 (fail closed): counted and reported.
      # Anywhere else a refusal means a broken setup.
      if [[ $variant == *-redis || $variant == *-postgres ]]; then
        log "  $variant: $non2xx non-2xx responses (store timeouts answer 503)"
        printf '%s\t%s\n' "$variant" "$non2xx" >>"$TMP/non2xx.tsv"
      else
        cat "$out" >&2
        die "$variant: wrk saw non-2xx responses: the setup is broken, not benchmarking it"
      fi
    fi
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    p50=$(awk '$1 == "50%" { print $2 }' "$out")
    p99=$(awk '$1 == "99%" { print $2 }' "$out")
    errs=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$out")
    nreq=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$out")
    [[ -n $rps && -n $p50 && -n $p99 && $nreq =~ ^[1-9][0-9]*$ ]] || { cat "$out" >&2; die "$variant: could not parse wrk's output"; }
    # server CPU time per request: less sensitive to a busy machine than req/s
    cpu_us=$(awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v n="$nreq" 'BEGIN { printf "%.2f", t * 1000000 / hz / n }')
    p50=$(to_us "$p50") && p99=$(to_us "$p99") || { cat "$out" >&2; die "$variant: unknown latency unit in wrk's output"; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$variant" "$rps" "$p50" "$p99" "${rss:-0}" "${errs:-0}" "$cpu_us" "$hit_rate" >>"$RESULTS"
    log "  $variant: $rps req/s, p50 ${p50} µs, p99 ${p99} µs, RSS $((${rss:-0} / 1024)) MiB, server CPU ${cpu_us} µs/req, cache hits ${hit_rate} %"
  done
done

# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
# means over the rounds, in VARIANT_LIST order
TABLE=$(
  awk -F'\t' -v order="${VARIANT_LIST[*]}" '
    { n[$2]++; rps[$2] += $3; p50[$2] += $4; p99[$2] += $5; rss[$2] += $6; err[$2] += $7; cpu[$2] += $8
      if ($9 != "-") { hn[$2]++; hr[$2] += $9 }
      runs[$2] = runs[$2] (runs[$2] == "" ? "" : " / ") sprintf("%.0f", $3) }
    END {
      base = ("bare" in n) ? rps["bare"] / n["bare"] : 0
      print "| variant | req/s | vs bare | cache hits | p50 (µs) | p99 (µs) | RSS (MiB) | server CPU (µs/req) | req/s per round |"
      print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
      k = split(order, vs, " ")
      for (i = 1; i <= k; i++) {
        v = vs[i]; if (!(v in n)) continue
        r = rps[v] / n[v]
        ratio = base > 0 ? sprintf("%.2f", r / base) : "—"
        hits = (v in hn) ? sprintf("%.1f %%", hr[v] / hn[v]) : "—"
        printf "| %s | %.0f | %s | %s | %.0f | %.0f | %.1f | %.1f | %s |\n", v, r, ratio, hits, p50[v] / n[v], p99[v] / n[v], rss[v] / n[v] / 1024, cpu[v] / n[v], runs[v]
      }
    }' "$RESULTS"
)
TOTAL_ERRS=$(awk -F'\t' '{ s += $7 } END { print s + 0 }' "$RESULTS")

CRED="\`Authorization: Bearer\`"
[[ $MODE == cookie ]] && CRED="the access cookie (\`Cookie:\`)"
if [[ $MODE == refresh ]]; then
  TOKEN_NOTE="\`POST /refresh\`, $TOKENS sessions per run shared by the $CONNECTIONS connections (each refresh token presented once, its successor back in the pool)"
elif ((TOKENS > 1)); then
  TOKEN_NOTE="$TOKENS users' tokens in $CRED, each request drawing one Zipf(s = $ZIPF_S) by rank (a fixed sequence of 2^20 draws, the same for every variant)"
else
  TOKEN_NOTE="one token, the same $CRED header for every variant and request"
fi
if [[ " ${VARIANT_LIST[*]} " == *" ours-dpop-"* ]]; then
  TOKEN_NOTE+="; ours-dpop-*: a token bound to the client's key (cnf.jkt) in \`Authorization: DPoP\` with a fresh proof per request (ES256 / Ed25519, each proof sent once: pools of $((DURATION * DPOP_PROOF_RATE)) signed before the rounds; the in-memory replay cache remembers every one, its growth is in the RSS column)"
fi
LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
CPU_MODEL=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
[[ -n $CPU_MODEL ]] || CPU_MODEL=$(uname -m)
GIT_REV=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
if [[ -n $(git -C "$REPO_ROOT" status --porcelain 2>/dev/null | head -n1) ]]; then GIT_REV+=" (dirty work tree)"; fi
RUSTC=$(rustc --version 2>/dev/null || echo '?')
WRK_VERSION=$(wrk -v 2>&1 | head -n1 | awk '{ print $1, $2 }' || true)

REPORT=$(
  cat <<EOF
# HTTP load results: axum-token-auth and peers

- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')
- command: \`$COMMAND\`
- machine: $NPROC CPUs (\`nproc\`), $CPU_MODEL; load average at start: $LOADAVG_START, at end: $LOADAVG_END
- commit: $GIT_REV; $RUSTC; ${WRK_VERSION:-wrk}
- setup: 1-thread tokio server $PIN_NOTE, \`wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency\`, loopback, \`GET /hello\` (a handler taking \`Claims\`) with $TOKEN_NOTE; ${WARMUP_S} s warm-up per run; $ROUNDS interleaved rounds
- columns: means of the $ROUNDS rounds; "vs bare" = req/s ÷ bare's req/s; cache hits = the verified-token cache's hits ÷ lookups during the measured runs (ours only); RSS = the server's VmRSS 0.5 s before the end of the run; server CPU = the server's user + system CPU time during the measured run ÷ requests served (steadier than req/s on a busy machine)

$TABLE
EOF
)
if [[ -s $TMP/non2xx.tsv ]]; then
  REPORT+=$'\n\n'"⚠️ non-2xx responses (503: the store timed out) over all runs: $(awk -F'\t' '{ s[$1] += $2 } END { for (v in s) printf "%s%s %d", sep, v, s[v]; sep = ", " }' "$TMP/non2xx.tsv")."
fi
if ((TOTAL_ERRS > 0)); then
  REPORT+=$'\n\n'"⚠️ wrk reported $TOTAL_ERRS socket errors (connect/read/write/timeout) over all runs."
fi

OUT=${RESULTS_FILE:-$BENCH_DIR/results.md}
printf '%s\n' "$REPORT" >"$OUT"
printf '\n%s\n\n' "$REPORT"
log "written to $OUT"
