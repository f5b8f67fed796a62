#!/usr/bin/env bash
# scripts/test.sh - full local/CI test run for axum-token-auth.
#
# What it does:
#   1. installs redis-server / PostgreSQL / nodejs+npm / python3-jwt + python3-cryptography
#      via apt when missing (Debian/Ubuntu) and the npm packages of the test OpenID
#      Provider (scripts/oidc), the DPoP reference client (scripts/dpop) and the MCP
#      TypeScript SDK (scripts/mcp), `npm ci`,
#      when missing or older than their lock files,
#   2. starts a throwaway redis, a throwaway 6-node Redis Cluster (3 masters, 3
#      replicas) and a throwaway PostgreSQL cluster on free 127.0.0.1 ports
#      inside a mktemp -d directory,
#   3. exports connection/restart variables (see "Exported environment" below),
#   4. runs the cargo checks (see the "CARGO SECTION" near the end),
#   5. on exit (success, failure or Ctrl-C) stops both servers and removes the
#      temp dir, preserving the exit status.
#
# Usage:
#   scripts/test.sh                 # services + full cargo section
#   scripts/test.sh CMD [ARGS...]   # services, then run CMD instead of the
#                                   # cargo section, e.g.
#                                   #   scripts/test.sh cargo test --all-features --test it seams::
#                                   #   scripts/test.sh bash   (interactive shell)
#
# Knobs (environment variables):
#   TEST_SH_SKIP_CARGO=1   start/check/stop the services but skip the cargo
#                          section (useful to test this script itself).
#   TEST_SH_KEEP_TMP=1     do not delete the temp dir on exit (servers are
#                          still stopped); handy to inspect logs.
#
# Exported environment (for the tests):
#   REDIS_URL              redis://127.0.0.1:PORT/
#   DATABASE_URL           postgres://USER@127.0.0.1:PORT/axum_token_auth_test
#   TEST_REDIS_SERVER_BIN  path of redis-server
#   TEST_REDIS_PORT        redis port
#   TEST_REDIS_DIR         redis working dir (AOF lives here)
#   TEST_REDIS_CONF        config file; restart with `$TEST_REDIS_SERVER_BIN $TEST_REDIS_CONF`
#                          (daemonizes, pidfile/logfile inside TEST_REDIS_DIR)
#   REDIS_CLUSTER_NODES    127.0.0.1:P1,...,127.0.0.1:P6: a throwaway Redis Cluster of
#                          3 masters with one replica each (cluster-node-timeout 2000 ms)
#   TEST_REDIS_CLUSTER_DIR its nodes' dirs: $TEST_REDIS_CLUSTER_DIR/PORT/{redis.conf,
#                          redis.pid,redis.log}; restart a stopped node with
#                          `$TEST_REDIS_SERVER_BIN $TEST_REDIS_CLUSTER_DIR/PORT/redis.conf`
#   TEST_PG_CTL            path of pg_ctl
#   TEST_PG_DATA           data dir (port/listen/socket settings are in its
#                          postgresql.conf, so restarts need no extra options)
#   TEST_PG_USER           unprivileged OS user owning TEST_PG_DATA; when this
#                          script runs as root, run pg_ctl as
#                          `runuser -u $TEST_PG_USER -- $TEST_PG_CTL -D $TEST_PG_DATA -w stop -m fast`
#   TEST_PG_PORT           postgres port
#   TEST_PG_LOG            log file writable by TEST_PG_USER. When restarting,
#                          pass `-l $TEST_PG_LOG` to `pg_ctl start` (or give the
#                          pg_ctl child Stdio::null()): without -l the server
#                          keeps the caller's stdout/stderr open, so a test that
#                          captures pg_ctl's output through pipes
#                          (Command::output()) blocks until the server exits.
#                          The regular server log is written by the logging
#                          collector to $(dirname $TEST_PG_LOG)/log/postgresql.log.
#   TEST_NODE_BIN          absolute path of node (>= 18)
#   TEST_PYJWT_PYTHON      a python3 that imports PyJWT and cryptography (Debian's
#                          python3-jwt, python3-cryptography), for tests/it/legacy.rs and
#                          the second DPoP client scripts/dpop/proof.py
#   TEST_MCP_JS            absolute path of scripts/mcp/discover.mjs: the MCP TypeScript
#                          SDK discovering the API (tests/it/resource_metadata.rs)
#   TEST_DPOP_JS           absolute path of scripts/dpop/proof.mjs: DPoP proofs by npm
#                          `dpop` (panva), run with $TEST_NODE_BIN (tests/it/dpop_interop.rs)
#   TEST_DPOP_PY           absolute path of scripts/dpop/proof.py: DPoP proofs by PyJWT,
#                          run with $TEST_PYJWT_PYTHON
#   TEST_SSF_PY            absolute path of scripts/ssf/set.py: Security Event Tokens
#                          and logout tokens signed by PyJWT (any header and claims,
#                          optionally tampered), run with $TEST_PYJWT_PYTHON
#                          (tests/it/set_minter.rs)
#   TEST_OIDC_PROVIDER     absolute path of scripts/oidc/provider.mjs, a loopback
#                          OpenID Provider (oidc-provider) the tests start
#                          themselves: `$TEST_NODE_BIN $TEST_OIDC_PROVIDER --port P
#                          --keys KEYS.json --ready-file F` (see the file's header
#                          and tests/it/common/oidc.rs). Not started by this script.
set -euo pipefail

readonly DB_NAME=axum_token_auth_test
readonly SERVICE_TIMEOUT_S=30
readonly NODE_MIN_MAJOR=18 # oidc-provider 8.x

log() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd -P)
cd "$REPO_ROOT"

# Never trust connection settings from the outer environment: we start our own
# servers, and libpq/redis-cli would otherwise pick up PGHOST, PGSSLMODE, ...
unset REDIS_URL REDIS_CLUSTER_NODES DATABASE_URL REDISCLI_AUTH
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^PG' || true)

IS_ROOT=0
[[ $(id -u) -eq 0 ]] && IS_ROOT=1

# ---------------------------------------------------------------------------
# cleanup (registered before anything is started)
# ---------------------------------------------------------------------------
TMP_ROOT=""
REDIS_PORT=""
REDIS_DIR=""
PG_BIN=""
PG_DATA=""
PG_USER=""
POLICY_RC_D_CREATED=0

as_pg_user() {
  if [[ $IS_ROOT -eq 1 ]]; then
    # cd first: the unprivileged user may not be able to read our cwd.
    (cd "$TMP_ROOT" && runuser -u "$PG_USER" -- "$@")
  else
    (cd "$TMP_ROOT" && "$@")
  fi
}

# PID exists and is not a zombie (daemonized servers are re-parented to
# PID 1, which in some containers reaps exited children only lazily).
pid_alive() {
  [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0 # no procfs: trust kill -0
  stat=${stat##*) }                                     # field 3 follows "(comm) "
  [[ ${stat:0:1} != Z ]]
}

# wait_gone PID SECONDS -> 0 once PID is gone
wait_gone() {
  local pid=$1 i
  for ((i = 0; i < $2 * 10; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  ! pid_alive "$pid"
}

# pid from our pidfile, if it belongs to a live redis-server
redis_pid() {
  local pid
  [[ -n $REDIS_DIR && -s $REDIS_DIR/redis.pid ]] || return 0
  pid=$(<"$REDIS_DIR/redis.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  if pid_alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == redis-server* ]]; then
    echo "$pid"
  fi
}

# Stop via our own pidfile only (also after a test restarted redis with
# $TEST_REDIS_CONF, which rewrites the pidfile); never send SHUTDOWN to
# whatever happens to listen on the port.
stop_redis() {
  local pid
  pid=$(redis_pid)
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
}

# The nodes of the throwaway Redis Cluster, each by its own pidfile (also after a
# test restarted one).
REDIS_CLUSTER_DIR=""
REDIS_CLUSTER_PORTS=()
REDIS_CLUSTER_BUS_PORTS=()
stop_redis_cluster() {
  local port pid
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    pid=$(cluster_node_pid "$port")
    [[ -n $pid ]] || continue
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
  done
}

cluster_node_pid() {
  local f=$REDIS_CLUSTER_DIR/$1/redis.pid pid
  [[ -n $REDIS_CLUSTER_DIR && -s $f ]] || return 0
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  if pid_alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == redis-server* ]]; then
    echo "$pid"
  fi
}

stop_postgres() {
  [[ -n $PG_DATA && -f $PG_DATA/postmaster.pid ]] || return 0
  local pid
  pid=$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] && pid_alive "$pid" || return 0
  as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -t 15 stop -m fast >/dev/null 2>&1 ||
    as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -t 10 stop -m immediate >/dev/null 2>&1 || true
  if pid_alive "$pid"; then
    kill -QUIT "$pid" 2>/dev/null || true
    wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
  fi
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM HUP
  stop_redis
  stop_redis_cluster
  stop_postgres
  if [[ $POLICY_RC_D_CREATED -eq 1 ]]; then
    rm -f /usr/sbin/policy-rc.d
  fi
  if [[ -n $TMP_ROOT && -d $TMP_ROOT ]]; then
    if [[ ${TEST_SH_KEEP_TMP:-0} == 1 ]]; then
      printf '==> kept temp dir %s\n' "$TMP_ROOT" >&2
    else
      rm -rf -- "$TMP_ROOT"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------------------
# rust toolchain (checked up front so a missing component fails fast)
# ---------------------------------------------------------------------------
RUN_CARGO=1
if (($#)) || [[ ${TEST_SH_SKIP_CARGO:-0} == 1 ]]; then
  RUN_CARGO=0
fi

if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
  export PATH="$HOME/.cargo/bin:$PATH" # rustup install, non-login shell
fi

ensure_component() { # ensure_component <cargo subcommand> <rustup component>
  cargo "$1" --version >/dev/null 2>&1 && return 0
  command -v rustup >/dev/null 2>&1 ||
    die "cargo $1 is missing and rustup is not available to install component $2"
  log "installing rustup component $2"
  rustup component add "$2" </dev/null ||
    die "cargo $1 is missing and 'rustup component add $2' failed (offline?); install it and re-run"
  cargo "$1" --version >/dev/null 2>&1 || die "cargo $1 still unavailable after installing $2"
}
if [[ $RUN_CARGO -eq 1 ]]; then
  command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH (install Rust via rustup)"
  ensure_component fmt rustfmt
  ensure_component clippy clippy
fi

# ---------------------------------------------------------------------------
# install missing packages
# ---------------------------------------------------------------------------
find_pg_bin() {
  local d best
  # Debian layout; pick the highest installed major version.
  best=$(for d in /usr/lib/postgresql/*/bin; do
    [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] && echo "$d"
  done | sort -V | tail -n1)
  if [[ -n $best ]]; then
    echo "$best"
    return 0
  fi
  # other layouts: initdb/pg_ctl on PATH
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v pg_ctl)"
    return 0
  fi
  return 1
}

apt_lists_present() {
  compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 ||
    die "missing packages ($*) and apt-get is not available; install them manually"
  [[ $IS_ROOT -eq 1 ]] ||
    die "missing packages ($*); run as root or install them: apt-get install $*"

  # Keep the packages from auto-starting their own services (redis on 6379,
  # the Debian 'main' PostgreSQL cluster on 5432): we only use throwaway
  # instances. policy-rc.d is honoured by invoke-rc.d and deb-systemd-invoke;
  # we only create (and later remove) it when none exists.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# temporary, created by axum-token-auth scripts/test.sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    POLICY_RC_D_CREATED=1
  fi

  export DEBIAN_FRONTEND=noninteractive
  # wait for a dpkg lock held by e.g. unattended-upgrades instead of failing
  local -a apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
  local -a install=(apt-get "${apt_opts[@]}" install -y --no-install-recommends "$@")
  # apt-get update at most once: up front when there are no package lists
  # (fresh container), otherwise only if the install fails on stale lists.
  if ! apt_lists_present; then
    log "apt-get update"
    apt-get "${apt_opts[@]}" update -q </dev/null
    "${install[@]}" </dev/null
  elif ! "${install[@]}" </dev/null; then
    log "install failed, retrying after apt-get update"
    apt-get "${apt_opts[@]}" update -q </dev/null
    "${install[@]}" </dev/null
  fi

  if [[ $POLICY_RC_D_CREATED -eq 1 ]]; then
    rm -f /usr/sbin/policy-rc.d
    POLICY_RC_D_CREATED=0
  fi
}

missing=()
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  missing+=(redis-server)
fi
if ! PG_BIN=$(find_pg_bin); then
  missing+=(postgresql)
  # Do not let the package create (and start) the default 'main' cluster.
  # postgresql-common's createcluster.conf includes this directory.
  if [[ $IS_ROOT -eq 1 ]]; then
    mkdir -p /etc/postgresql-common/createcluster.d
    printf '# created by axum-token-auth scripts/test.sh: no default cluster\ncreate_main_cluster = false\n' \
      >/etc/postgresql-common/createcluster.d/axum-token-auth-no-main-cluster.conf
  fi
fi
# npm comes separately below, only when it is needed and still missing (a
# NodeSource nodejs bundles it and conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
# PyJWT, for the legacy-format tests (they mint tokens exactly as the seed systems do),
# and with cryptography (EC, Ed25519, RSA keys) for the second DPoP client.
find_pyjwt_python() {
  local py
  for py in /usr/bin/python3 "$(command -v python3 2>/dev/null || true)"; do
    [[ -n $py && -x $py ]] &&
      "$py" -c 'import jwt; from cryptography.hazmat.primitives.asymmetric import ed25519' >/dev/null 2>&1 &&
      { echo "$py"; return 0; }
  done
  return 1
}
find_pyjwt_python >/dev/null || missing+=(python3-jwt python3-cryptography)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt_install "${missing[@]}"
fi

REDIS_SERVER=$(command -v redis-server) || die "redis-server not found after install"
REDIS_CLI=$(command -v redis-cli) || die "redis-cli not found after install"
PG_BIN=$(find_pg_bin) || die "PostgreSQL server binaries (initdb/pg_ctl/postgres) not found after install"
NODE_BIN=$(command -v node) || die "node not found after install"
PYJWT_PYTHON=$(find_pyjwt_python) || die "no python3 with PyJWT and cryptography after installing python3-jwt python3-cryptography"
[[ $NODE_BIN == /* ]] || die "node resolves to '$NODE_BIN', not to an executable file"

# ---------------------------------------------------------------------------
# npm packages of the test OpenID Provider (scripts/oidc)
# ---------------------------------------------------------------------------
OIDC_DIR=$REPO_ROOT/scripts/oidc
node_major=$("$NODE_BIN" -p 'process.versions.node.split(".")[0]' 2>/dev/null) || node_major=0
[[ $node_major =~ ^[0-9]+$ ]] && ((node_major >= NODE_MIN_MAJOR)) ||
  die "$NODE_BIN is node $("$NODE_BIN" --version 2>/dev/null || echo '?'); the test OpenID Provider needs node >= $NODE_MIN_MAJOR"
# npm ci replaces node_modules wholesale, so the directory's mtime says when
# it was installed; touch it afterwards in case npm kept the directory itself.
if [[ ! -d $OIDC_DIR/node_modules || $OIDC_DIR/package-lock.json -nt $OIDC_DIR/node_modules ]]; then
  if ! command -v npm >/dev/null 2>&1; then
    log "installing npm"
    apt_install npm
  fi
  log "npm ci --prefix scripts/oidc (test OpenID Provider)"
  npm ci --prefix "$OIDC_DIR" --no-audit --no-fund --ignore-scripts </dev/null ||
    die "npm ci in $OIDC_DIR failed (registry unreachable?)"
  touch "$OIDC_DIR/node_modules"
fi
if ! oidc_check=$(cd "$OIDC_DIR" && "$NODE_BIN" --input-type=module -e "await import('oidc-provider')" </dev/null 2>&1); then
  printf '%s\n' "$oidc_check" >&2
  die "node cannot load oidc-provider from $OIDC_DIR/node_modules; remove that directory and re-run"
fi

# ---------------------------------------------------------------------------
# npm packages of the DPoP reference client (scripts/dpop: panva's `dpop`)
# ---------------------------------------------------------------------------
DPOP_DIR=$REPO_ROOT/scripts/dpop
if [[ ! -d $DPOP_DIR/node_modules || $DPOP_DIR/package-lock.json -nt $DPOP_DIR/node_modules ]]; then
  if ! command -v npm >/dev/null 2>&1; then
    log "installing npm"
    apt_install npm
  fi
  log "npm ci --prefix scripts/dpop (DPoP reference client)"
  npm ci --prefix "$DPOP_DIR" --no-audit --no-fund --ignore-scripts </dev/null ||
    die "npm ci in $DPOP_DIR failed (registry unreachable?)"
  touch "$DPOP_DIR/node_modules"
fi
if ! dpop_check=$(echo | "$NODE_BIN" "$DPOP_DIR/proof.mjs" ES256 2>&1); then
  printf '%s\n' "$dpop_check" >&2
  die "node cannot run $DPOP_DIR/proof.mjs; remove $DPOP_DIR/node_modules and re-run"
fi
if ! dpop_check=$(echo | "$PYJWT_PYTHON" "$DPOP_DIR/proof.py" EdDSA 2>&1); then
  printf '%s\n' "$dpop_check" >&2
  die "$PYJWT_PYTHON cannot run $DPOP_DIR/proof.py"
fi

# ---------------------------------------------------------------------------
# npm packages of the MCP reference client (scripts/mcp: @modelcontextprotocol/sdk)
# ---------------------------------------------------------------------------
MCP_DIR=$REPO_ROOT/scripts/mcp
if [[ ! -d $MCP_DIR/node_modules || $MCP_DIR/package-lock.json -nt $MCP_DIR/node_modules ]]; then
  if ! command -v npm >/dev/null 2>&1; then
    log "installing npm"
    apt_install npm
  fi
  log "npm ci --prefix scripts/mcp (MCP TypeScript SDK)"
  npm ci --prefix "$MCP_DIR" --no-audit --no-fund --ignore-scripts </dev/null ||
    die "npm ci in $MCP_DIR failed (registry unreachable?)"
  touch "$MCP_DIR/node_modules"
fi
if ! mcp_check=$(cd "$MCP_DIR" && "$NODE_BIN" --input-type=module -e "await import('@modelcontextprotocol/sdk/client/auth.js')" </dev/null 2>&1); then
  printf '%s\n' "$mcp_check" >&2
  die "node cannot load @modelcontextprotocol/sdk from $MCP_DIR/node_modules; remove that directory and re-run"
fi

# ---------------------------------------------------------------------------
# temp dir + unprivileged postgres user
# ---------------------------------------------------------------------------
if [[ $IS_ROOT -eq 1 ]]; then
  # postgres refuses to run as root.
  if id -u postgres >/dev/null 2>&1; then
    PG_USER=postgres
  else
    if ! id -u tokenauth >/dev/null 2>&1; then
      log "creating system user tokenauth"
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin tokenauth
    fi
    PG_USER=tokenauth
  fi
else
  PG_USER=$(id -un)
fi

make_tmp_root() {
  local base
  for base in "${TMPDIR:-/tmp}" /tmp; do
    TMP_ROOT=$(mktemp -d "$base/axum-token-auth-test.XXXXXX") || continue
    chmod 0755 "$TMP_ROOT"
    # the postgres user must be able to reach its data dir
    if [[ $IS_ROOT -eq 0 ]] || runuser -u "$PG_USER" -- test -x "$TMP_ROOT"; then
      return 0
    fi
    rm -rf -- "$TMP_ROOT"
    TMP_ROOT=""
  done
  die "could not create a temp dir accessible to user $PG_USER"
}
make_tmp_root

# free_ports N -> N distinct free loopback TCP ports, one per line
free_ports() {
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
    s.close()
EOF
  else
    local n=0 p
    local -A seen=()
    while ((n < $1)); do
      p=$((20000 + RANDOM % 30000))
      [[ -n ${seen[$p]:-} ]] && continue
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        seen[$p]=1
        echo "$p"
        n=$((n + 1))
      fi
    done
  fi
}

dump_log() {
  local f=$1
  if [[ -f $f ]]; then
    printf -- '----- %s (last 60 lines) -----\n' "$f" >&2
    tail -n 60 "$f" >&2 || true
    printf -- '----- end of %s -----\n' "$f" >&2
  fi
}

# ---------------------------------------------------------------------------
# redis
# ---------------------------------------------------------------------------
REDIS_DIR=$TMP_ROOT/redis
REDIS_CONF=$REDIS_DIR/redis.conf
mkdir -p "$REDIS_DIR"

start_redis() {
  cat >"$REDIS_CONF" <<EOF
# throwaway redis for axum-token-auth tests (generated by scripts/test.sh)
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize yes
supervised no
pidfile $REDIS_DIR/redis.pid
logfile $REDIS_DIR/redis.log
dir $REDIS_DIR
save ""
appendonly yes
appendfsync everysec
databases 16
EOF
  rm -f "$REDIS_DIR/redis.pid"
  "$REDIS_SERVER" "$REDIS_CONF" >>"$REDIS_DIR/redis.log" 2>&1 || return 1
  local t0=$SECONDS pid info
  while ((SECONDS - t0 < SERVICE_TIMEOUT_S)); do
    sleep 0.1
    pid=$(redis_pid)
    if [[ -z $pid ]]; then
      # redis writes its pidfile only after binding the port; no live pid
      # after a few seconds means it exited (e.g. port taken).
      ((SECONDS - t0 < 5)) || return 1
    else
      # Ready once *our* process answers on the port (not some other server
      # that grabbed the port in between). timeout: a foreign process holding
      # the port might accept and never answer.
      info=$(timeout 2 "$REDIS_CLI" -h 127.0.0.1 -p "$REDIS_PORT" info server 2>/dev/null | tr -d '\r') || true
      [[ $info == *"process_id:$pid"* ]] && return 0
    fi
  done
  return 1
}

# ---------------------------------------------------------------------------
# postgres
# ---------------------------------------------------------------------------
PG_ROOT=$TMP_ROOT/pg
PG_DATA=$PG_ROOT/data
PG_SOCK=$PG_ROOT/sock
PG_LOG=$PG_ROOT/postgres.log # early startup output (pg_ctl -l)
PG_LOG_DIR=$PG_ROOT/log       # logging collector output

dump_pg_logs() {
  dump_log "$PG_LOG"
  dump_log "$PG_LOG_DIR/postgresql.log"
}

init_postgres() {
  mkdir -p "$PG_SOCK"
  : >"$PG_LOG"
  if [[ $IS_ROOT -eq 1 ]]; then
    chown -R "$PG_USER": "$PG_ROOT"
  fi
  chmod 0700 "$PG_SOCK"
  if ! as_pg_user "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_USER" --auth=trust \
    --encoding=UTF8 --no-locale --no-sync --no-instructions >"$PG_ROOT/initdb.log" 2>&1; then
    dump_log "$PG_ROOT/initdb.log"
    die "initdb failed"
  fi
  cat >"$PG_DATA/pg_hba.conf" <<'EOF'
# throwaway cluster for axum-token-auth tests (generated by scripts/test.sh)
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   trust
EOF
}

start_postgres() {
  # Everything a restart needs lives in the data dir, so
  # `pg_ctl -D $TEST_PG_DATA -w start` works without -o options.
  cat >"$PG_DATA/postgresql.auto.conf" <<EOF
# generated by scripts/test.sh (throwaway test cluster)
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
max_connections = 100
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
log_line_prefix = '%m [%p] %q%u@%d '
# The logging collector writes the server log into the temp dir and detaches
# the postmaster from the stdout/stderr of whoever runs "pg_ctl start".
logging_collector = on
log_directory = '$PG_LOG_DIR'
log_filename = 'postgresql.log'
log_rotation_age = 0
log_rotation_size = 0
EOF
  if [[ $IS_ROOT -eq 1 ]]; then
    chown "$PG_USER": "$PG_DATA/pg_hba.conf" "$PG_DATA/postgresql.auto.conf"
  fi
  as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$SERVICE_TIMEOUT_S" start >/dev/null 2>&1 || return 1
  local t0=$SECONDS
  while ((SECONDS - t0 < SERVICE_TIMEOUT_S)); do
    "$PG_BIN/pg_isready" -q -t 2 -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres && return 0
    sleep 0.1
  done
  return 1
}

# ---------------------------------------------------------------------------
# start both (retry on a fresh port if one got taken in between)
# ---------------------------------------------------------------------------
svc_start=$SECONDS

started=0
for attempt in 1 2 3; do
  REDIS_PORT=$(free_ports 1)
  log "starting redis on 127.0.0.1:$REDIS_PORT"
  if start_redis; then
    started=1
    break
  fi
  dump_log "$REDIS_DIR/redis.log"
  stop_redis
  log "redis did not come up (attempt $attempt)"
done
[[ $started -eq 1 ]] || die "could not start redis-server"

# ---------------------------------------------------------------------------
# redis cluster: 3 masters + 3 replicas
# ---------------------------------------------------------------------------
REDIS_CLUSTER_DIR=$TMP_ROOT/redis-cluster

start_redis_cluster() {
  local port d t0 pid info i
  mkdir -p "$REDIS_CLUSTER_DIR"
  for i in "${!REDIS_CLUSTER_PORTS[@]}"; do
    port=${REDIS_CLUSTER_PORTS[$i]}
    d=$REDIS_CLUSTER_DIR/$port
    mkdir -p "$d"
    cat >"$d/redis.conf" <<EOF
# throwaway redis cluster node for axum-token-auth tests (generated by scripts/test.sh)
bind 127.0.0.1
port $port
protected-mode yes
daemonize yes
supervised no
pidfile $d/redis.pid
logfile $d/redis.log
dir $d
save ""
appendonly yes
appendfsync everysec
cluster-enabled yes
cluster-config-file $d/nodes.conf
cluster-node-timeout 2000
# the bus port explicitly: the default (port + 10000) may be taken or above 65535
cluster-port ${REDIS_CLUSTER_BUS_PORTS[$i]}
# a replica may always take over (its master was just killed by a test)
cluster-replica-validity-factor 0
EOF
    "$REDIS_SERVER" "$d/redis.conf" >>"$d/redis.log" 2>&1 || return 1
  done
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    t0=$SECONDS
    while :; do
      pid=$(cluster_node_pid "$port")
      if [[ -n $pid ]]; then
        info=$(timeout 2 "$REDIS_CLI" -h 127.0.0.1 -p "$port" info server 2>/dev/null | tr -d '\r') || true
        [[ $info == *"process_id:$pid"* ]] && break
      fi
      ((SECONDS - t0 < 10)) || return 1
      sleep 0.1
    done
  done
  local -a addrs=()
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do addrs+=("127.0.0.1:$port"); done
  timeout 60 "$REDIS_CLI" --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes \
    >"$REDIS_CLUSTER_DIR/create.log" 2>&1 || { cat "$REDIS_CLUSTER_DIR/create.log" >&2; return 1; }
  # Ready once every node says ok and agrees on the slots (and both replicas sync).
  t0=$SECONDS
  while ((SECONDS - t0 < SERVICE_TIMEOUT_S)); do
    local ok=1
    for port in "${REDIS_CLUSTER_PORTS[@]}"; do
      [[ $("$REDIS_CLI" -p "$port" cluster info 2>/dev/null | tr -d '\r') == *cluster_state:ok* ]] || ok=0
      if [[ $("$REDIS_CLI" -p "$port" role 2>/dev/null | head -n1) == slave ]]; then
        [[ $("$REDIS_CLI" -p "$port" info replication 2>/dev/null | tr -d '\r') == *master_link_status:up* ]] || ok=0
      fi
    done
    if [[ $ok -eq 1 ]] && "$REDIS_CLI" --cluster check "${addrs[0]}" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

started=0
for attempt in 1 2 3; do
  mapfile -t cluster_ports < <(free_ports 12)
  REDIS_CLUSTER_PORTS=("${cluster_ports[@]:0:6}")
  REDIS_CLUSTER_BUS_PORTS=("${cluster_ports[@]:6:6}")
  log "starting a redis cluster (3 masters, 3 replicas) on 127.0.0.1:${REDIS_CLUSTER_PORTS[*]}"
  if start_redis_cluster; then
    started=1
    break
  fi
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do dump_log "$REDIS_CLUSTER_DIR/$port/redis.log"; done
  stop_redis_cluster
  rm -rf -- "$REDIS_CLUSTER_DIR"
  log "redis cluster did not come up (attempt $attempt)"
done
[[ $started -eq 1 ]] || die "could not start the redis cluster"
REDIS_CLUSTER_NODES=$(printf '127.0.0.1:%s,' "${REDIS_CLUSTER_PORTS[@]}")
REDIS_CLUSTER_NODES=${REDIS_CLUSTER_NODES%,}

log "initializing postgres cluster in $PG_DATA (user $PG_USER, $PG_BIN)"
init_postgres
started=0
for attempt in 1 2 3; do
  PG_PORT=$(free_ports 1)
  while [[ $PG_PORT == "$REDIS_PORT" || " ${cluster_ports[*]} " == *" $PG_PORT "* ]]; do PG_PORT=$(free_ports 1); done
  log "starting postgres on 127.0.0.1:$PG_PORT"
  if start_postgres; then
    started=1
    break
  fi
  dump_pg_logs
  stop_postgres
  log "postgres did not come up (attempt $attempt)"
done
[[ $started -eq 1 ]] || die "could not start postgres"

log "creating database $DB_NAME"
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" "$DB_NAME"

export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"
export DATABASE_URL="postgres://$PG_USER@127.0.0.1:$PG_PORT/$DB_NAME"
export TEST_REDIS_SERVER_BIN=$REDIS_SERVER
export TEST_REDIS_PORT=$REDIS_PORT
export TEST_REDIS_DIR=$REDIS_DIR
export TEST_REDIS_CONF=$REDIS_CONF
export REDIS_CLUSTER_NODES
export TEST_REDIS_CLUSTER_DIR=$REDIS_CLUSTER_DIR
export TEST_PG_CTL=$PG_BIN/pg_ctl
export TEST_PG_DATA=$PG_DATA
export TEST_PG_USER=$PG_USER
export TEST_PG_PORT=$PG_PORT
export TEST_PG_LOG=$PG_LOG
export TEST_NODE_BIN=$NODE_BIN
export TEST_PYJWT_PYTHON=$PYJWT_PYTHON
export TEST_OIDC_PROVIDER=$OIDC_DIR/provider.mjs
export TEST_DPOP_JS=$DPOP_DIR/proof.mjs
export TEST_DPOP_PY=$DPOP_DIR/proof.py
export TEST_SSF_PY=$REPO_ROOT/scripts/ssf/set.py
export TEST_MCP_JS=$MCP_DIR/discover.mjs

# sanity check through the exported URLs
[[ $(timeout 10 "$REDIS_CLI" -u "$REDIS_URL" ping 2>/dev/null) == PONG ]] ||
  { dump_log "$REDIS_DIR/redis.log"; die "redis does not answer PING at $REDIS_URL"; }
[[ $(PGCONNECT_TIMEOUT=10 timeout 20 "$PG_BIN/psql" "$DATABASE_URL" -XAtqc 'select 1' 2>&1) == 1 ]] ||
  { dump_pg_logs; die "postgres does not answer at $DATABASE_URL"; }

log "services ready in $((SECONDS - svc_start))s: REDIS_URL=$REDIS_URL REDIS_CLUSTER_NODES=$REDIS_CLUSTER_NODES DATABASE_URL=$DATABASE_URL"

# ---------------------------------------------------------------------------
# custom command instead of the cargo section
# ---------------------------------------------------------------------------
if (($#)); then
  log "running: $*"
  "$@"
  exit $?
fi

if [[ $RUN_CARGO -eq 0 ]]; then
  log "TEST_SH_SKIP_CARGO=1: skipping cargo section"
  exit 0
fi

# ===========================================================================
# CARGO SECTION - the actual checks; adjust here. Fails fast (set -e).
# ===========================================================================
log "cargo fmt --all -- --check"
cargo fmt --all -- --check

log "cargo clippy --all-targets --all-features -- -D warnings"
cargo clippy --all-targets --all-features -- -D warnings

log "cargo test --all-features"
cargo test --all-features

log "cargo test --no-default-features --features rust_crypto --lib"
cargo test --no-default-features --features rust_crypto --lib

log "docs as docs.rs builds them (scripts/check-docs.sh: warnings are errors, every public module has an example, feature badges)"
bash scripts/check-docs.sh
# (cargo build --all-targets --features aws_lc_rs,rust_crypto is covered by
#  the --all-features clippy/test runs above.)
# ===========================================================================
# END OF CARGO SECTION
# ===========================================================================

log "all checks passed"
