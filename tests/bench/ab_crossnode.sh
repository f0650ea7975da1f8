#!/usr/bin/env bash
# Before/after comparison of two chatnode builds on the same fixed cross-node load: for each
# run, a fresh redis-server and two chatnodes of one build, 1,000 WebSocket clients of the
# load generator in rooms of 10 sending RATE messages/s for 10 s. Prints, per run, the CPU
# seconds both chatnodes and Redis used during the load (utime + stime from /proc) and the
# load generator's latency p50/p99. Runs alternate between the two builds, so a drift of the
# machine hits both alike.
#
#   tests/bench/ab_crossnode.sh BEFORE_CHATNODE AFTER_CHATNODE [RATE] [REPS]
#
# RATE defaults to 5000 messages/s (50,000 deliveries/s), REPS to 3. The load generator is
# taken from build-release/ (tests/bench/compare.sh builds it) or from $LOADGEN.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
before=${1:?usage: ab_crossnode.sh BEFORE_CHATNODE AFTER_CHATNODE [RATE] [REPS]}
after=${2:?usage: ab_crossnode.sh BEFORE_CHATNODE AFTER_CHATNODE [RATE] [REPS]}
rate=${3:-5000}
reps=${4:-3}
loadgen=${LOADGEN:-$top/build-release/tests/bench/loadgen/loadgen}
[[ -x $loadgen ]] || { echo "no load generator at $loadgen (run tests/bench/compare.sh once)" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
hz=$(getconf CLK_TCK)
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; echo "nothing listens on $1" >&2; exit 1; }

run() { # $1: label, $2: chatnode binary
  local rp pa pb r a b
  rp=$(free_port); pa=$(free_port); pb=$(free_port)
  redis-server --port "$rp" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null &
  r=$!; pids=("$r"); wait_port "$rp"
  for port in "$pa" "$pb"; do
    "$2" --app chat --allow-anonymous --handshake-rate 0 --host 127.0.0.1 --port "$port" \
      --rate 100000 --burst 100000 --redis "redis://127.0.0.1:$rp" 2>>"$work/chatnode.log" &
    pids+=("$!")
  done
  a=${pids[1]}; b=${pids[2]}
  wait_port "$pa"; wait_port "$pb"
  local a0 b0 r0
  a0=$(cpu_ticks "$a"); b0=$(cpu_ticks "$b"); r0=$(cpu_ticks "$r")
  "$loadgen" --connect-to "127.0.0.1:$pa,127.0.0.1:$pb" --scenario chat --transport websocket \
    --clients 1000 --rooms 100 --rate "$rate" --duration 10 >"$work/report.json" 2>/dev/null
  local chat=$(( $(cpu_ticks "$a") - a0 + $(cpu_ticks "$b") - b0 )) redis=$(( $(cpu_ticks "$r") - r0 ))
  kill "$a" "$b" "$r"; wait "$a" "$b" "$r" 2>/dev/null || true; pids=()
  node -e '
    const [label, chat, redis, hz, file] = process.argv.slice(1);
    const r = JSON.parse(require("fs").readFileSync(file, "utf8"));
    const s = (t) => (t / hz).toFixed(2);
    console.log(`${label}  chatnodes ${s(chat)} s CPU, redis ${s(redis)} s, ` +
      `delivered ${Math.round(r.delivered_per_s)}/s, p50 ${(r.latency_us.p50 / 1000).toFixed(1)} ms, ` +
      `p99 ${(r.latency_us.p99 / 1000).toFixed(1)} ms, backlog ${r.backlog}`);
  ' "$1" "$chat" "$redis" "$hz" "$work/report.json"
}

echo "cross-node chat, 1,000 clients, $rate messages/s for 10 s, $reps runs each" >&2
for _ in $(seq "$reps"); do
  run before "$before"
  run after "$after"
done
