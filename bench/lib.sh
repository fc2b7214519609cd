# shellcheck shell=bash
# SPDX-License-Identifier: MIT
#
# Shared by the scenario commands in bench/: where the binaries are, starting and stopping the
# servers under test (chatd and the Node reference peer) on loopback, running the load
# generator with a time limit, and cleaning up. Sourced, not run.
#
# Environment (all optional):
#   BUILD_DIR          build tree holding chatd and bench/chatd-bench (default: ../build)
#   CHATD, LOADGEN     the two binaries, if they live elsewhere (FLOOR: bench/chatd-floor)
#   NODE, NODE_PATH    Node.js and the directory holding the `ws` package (Debian's node-ws)
#   BENCH_TARGETS      servers to measure (default "chatd peer"; "floor" is the bare epoll relay
#                      of bench/floor, the cost of the frames alone, for the 1:1 scenarios)
#   BENCH_SERVER_CPU   CPU the server is pinned to (default 0; empty = not pinned)
#   BENCH_CLIENT_CPU   CPU the load generator is pinned to (default 1; empty = not pinned)
#   BENCH_RESULTS      where result lines are written (default: bench/results)
#   TMPDIR             where the temporary data directories go (its disk's fsync shows in 1:1)

set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(cd "$BENCH_DIR/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT_DIR/build}"
CHATD="${CHATD:-$BUILD_DIR/chatd}"
LOADGEN="${LOADGEN:-$BUILD_DIR/bench/chatd-bench}"
FLOOR="${FLOOR:-$BUILD_DIR/bench/chatd-floor}"
NODE="${NODE:-node}"
export NODE_PATH="${NODE_PATH:-/usr/share/nodejs}"
TARGETS="${BENCH_TARGETS:-chatd peer}"
SERVER_CPU="${BENCH_SERVER_CPU-0}"
CLIENT_CPU="${BENCH_CLIENT_CPU-1}"
RESULTS="${BENCH_RESULTS:-$BENCH_DIR/results}"

SERVER_PID=""
SERVER_PORT=""
SERVER_URL=""
SERVER_KIND=""
STARTED_PIDS=()
SERVER_SEQ=0
WORK=""

bench_cleanup() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
}

# forget_pid PID: PID has been reaped; it may be reused now, so the cleanup must not signal it.
forget_pid() {
  local keep=() pid
  for pid in "${STARTED_PIDS[@]}"; do
    if [ "$pid" != "$1" ]; then keep+=("$pid"); fi
  done
  STARTED_PIDS=("${keep[@]}")
}

# bench_init: checks the tools, makes the work directory, installs the cleanup trap.
bench_init() {
  local missing=""
  [ -x "$CHATD" ] || missing="$missing $CHATD"
  [ -x "$LOADGEN" ] || missing="$missing $LOADGEN"
  if [ -n "$missing" ]; then
    echo "bench: not built:$missing" >&2
    echo "bench: build first: cmake -S . -B build && cmake --build build -j2 (or set BUILD_DIR)" >&2
    exit 1
  fi
  case " $TARGETS " in
    *" peer "*)
      if ! "$NODE" -e "require('ws')" 2>/dev/null; then
        echo "bench: the reference peer needs Node.js and the ws package (Debian: node-ws); set NODE_PATH" >&2
        exit 1
      fi ;;
  esac
  mkdir -p "$RESULTS"
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/chatd-bench.XXXXXX")"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  # A fresh site secret per run: the servers accept the load generator's HS256 tokens with it.
  CHATD_BENCH_SECRET="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export CHATD_BENCH_SECRET
}

# pin CPU COMMAND...: runs COMMAND on CPU (or unpinned when CPU is empty). Exec, so the pid is the command's.
pin() {
  local cpu="$1"
  shift
  if [ -n "$cpu" ]; then exec taskset -c "$cpu" "$@"; else exec "$@"; fi
}

# chatd_args DATA_DIR LISTEN: the command line every scenario starts chatd with, plus the words
# of BENCH_CHATD_ARGS (e.g. "--ws-rx-buffer 1024").
chatd_args() {
  printf '%s\n' "$CHATD" --site-secret "$CHATD_BENCH_SECRET" --max-connections-per-ip 0 --rate 1000000 \
    --burst 1000000 --registration closed --data-dir "$1" --listen "$2" --log-level warn
  local -a extra
  read -r -a extra <<<"${BENCH_CHATD_ARGS:-}"
  if [ "${#extra[@]}" -gt 0 ]; then printf '%s\n' "${extra[@]}"; fi
}

# start_server KIND [EXTRA CHATD ARGS...]: KIND is chatd, peer or floor. Sets SERVER_PID, SERVER_PORT,
# SERVER_URL. chatd gets a new data directory unless DATA_DIR is set.
start_server() {
  local kind="$1"
  shift
  SERVER_SEQ=$((SERVER_SEQ + 1))
  local n=$SERVER_SEQ
  local out="$WORK/server-$n.out" err="$WORK/server-$n.err"
  local data="${DATA_DIR:-$WORK/data-$n}"
  case "$kind" in
    chatd)
      local -a cmd
      mapfile -t cmd < <(chatd_args "$data" 127.0.0.1:0)
      (pin "$SERVER_CPU" "${cmd[@]}" "$@") >"$out" 2>"$err" &
      ;;
    peer)
      (pin "$SERVER_CPU" "$NODE" "$BENCH_DIR/peer/peer.js" --listen 127.0.0.1:0 \
        --site-secret "$CHATD_BENCH_SECRET") >"$out" 2>"$err" &
      ;;
    floor)
      (pin "$SERVER_CPU" "$FLOOR" --listen 127.0.0.1:0) >"$out" 2>"$err" &
      ;;
    *)
      echo "bench: unknown server kind $kind" >&2
      return 1 ;;
  esac
  SERVER_PID=$!
  SERVER_KIND="$kind"
  SERVER_LOG="$err"
  STARTED_PIDS+=("$SERVER_PID")
  local line=""
  for _ in $(seq 300); do
    line="$(grep -m1 -o 'serving on http://[0-9.]*:[0-9]*/' "$out" 2>/dev/null || true)"
    [ -n "$line" ] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
    sleep 0.05
  done
  if [ -z "$line" ]; then
    echo "bench: $kind did not start:" >&2
    tail -5 "$err" >&2 || true
    return 1
  fi
  SERVER_PORT="${line##*:}"
  SERVER_PORT="${SERVER_PORT%/}"
  SERVER_URL="ws://127.0.0.1:$SERVER_PORT/ws"
}

# stop_server: SIGTERM, then SIGKILL after 10 s. A server that was already gone, or that exits
# with a failure, is reported on stderr with the end of its log and counted in SERVER_FAILURES
# (which `save` adds to the result line).
SERVER_LOG=""
SERVER_FAILURES=0
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  local gone=0 rc=0
  kill -0 "$SERVER_PID" 2>/dev/null || gone=1
  if [ "$gone" = 0 ]; then  # (a server that is gone is not signalled: its pid may be reused)
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID" 2>/dev/null
  fi
  wait "$SERVER_PID" 2>/dev/null || rc=$?
  forget_pid "$SERVER_PID"
  SERVER_PID=""
  if [ "$gone" = 1 ] || { [ "$rc" != 0 ] && [ "$rc" != 143 ]; }; then
    echo "bench: $SERVER_KIND $([ "$gone" = 1 ] && echo "had exited by itself" || echo "stopped badly") (status $rc); its last lines:" >&2
    tail -n 20 "$SERVER_LOG" >&2 || true
    SERVER_FAILURES=$((SERVER_FAILURES + 1))
  fi
}

# run_bounded OUT SECONDS COMMAND...: runs COMMAND pinned to the client CPU with output to OUT,
# in the background so that the cleanup trap can stop it (and `wait` returns on a signal);
# `timeout` ends it at SECONDS even if it would not end itself. Returns its exit status.
run_bounded() {
  local out="$1" limit="$2"
  shift 2
  # stderr (the generator's progress, a line per ramp step) is shown and kept in OUT.err.
  (pin "$CLIENT_CPU" timeout -k 5 "$limit" "$@") >"$out" 2> >(tee "$out.err" >&2) &
  local pid=$!
  STARTED_PIDS+=("$pid")
  local rc=0
  wait "$pid" || rc=$?
  forget_pid "$pid"
  return "$rc"
}

# gen SECONDS SCENARIO [ARGS...]: the load generator against the running server, with
# --time-limit SECONDS (and `timeout` 15 s later). Leaves its one result line (or a failure line)
# in GEN_LINE; its progress goes to stderr.
GEN_LINE=""
gen() {
  local limit="$1" scenario="$2"
  shift 2
  local out="$WORK/gen.out" rc=0
  run_bounded "$out" $((limit + 15)) "$LOADGEN" "$scenario" --target "$SERVER_URL" --server-pid "$SERVER_PID" \
    --label "$SERVER_KIND" --time-limit "$limit" "$@" || rc=$?
  GEN_LINE="$(head -n1 "$out")"
  if [ -z "$GEN_LINE" ]; then GEN_LINE="scenario=$scenario target=$SERVER_KIND failures=1 why=exit_$rc"; fi
}

# field LINE KEY: the value of KEY in a key=value line ("-" when missing).
field() {
  local v
  v="$(printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1)"
  printf '%s' "${v:--}"
}

# num LINE KEY: the value of KEY as a whole number (0 when missing or not a number).
num() {
  local v
  v="$(field "$1" "$2")"
  if [[ "$v" =~ ^[0-9]+$ ]]; then printf '%s' "$v"; else printf '0'; fi
}

# pick LINE PREFIX KEY...: " PREFIXKEY=value" for each KEY, to build combined lines.
pick() {
  local line="$1" prefix="$2" k
  shift 2
  for k in "$@"; do printf ' %s%s=%s' "$prefix" "$k" "$(field "$line" "$k")"; done
}

# save NAME KIND LINE: keeps the line as RESULTS/NAME.KIND (with server_failures=N when a
# server died or stopped badly since the last save).
save() {
  local line="$3"
  if [ "$SERVER_FAILURES" != 0 ]; then line+=" server_failures=$SERVER_FAILURES"; fi
  SERVER_FAILURES=0
  printf '%s\n' "$line" >"$RESULTS/$1.$2"
  # The ramp's steps of the last run, for the charts (report.js svg).
  if [ -f "$WORK/gen.out.err" ]; then
    grep -E '^[a-z]+ [^ ]+ step [0-9]+:' "$WORK/gen.out.err" >"$RESULTS/$1.$2.steps" || true
    rm -f "$WORK/gen.out.err"
  fi
}

# summary NAME: the one line for the scenario, chatd and peer side by side with the ratio.
summary() {
  "$NODE" "$BENCH_DIR/report.js" line "$RESULTS" "$1"
}
