#!/usr/bin/env bash
# Local chatcluster: builds what is needed and runs it on private ports, with its state under
# deploy/run/. For now the cluster is one chatnode with the chat app, anonymous sign-in allowed
# (a local development setup), keeping its messages in memory.
#
#   deploy/cluster.sh up       build if needed, start, wait until healthy, print the URLs
#   deploy/cluster.sh down     stop exactly what `up` started
#   deploy/cluster.sh status   what is running
#   deploy/cluster.sh logs     follow the logs
#
# Settings (environment): CHATCLUSTER_PORT (first port, default 8930), CHATCLUSTER_HOST
# (default 127.0.0.1).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
run=$top/deploy/run
build=$top/build-release
host=${CHATCLUSTER_HOST:-127.0.0.1}
port=${CHATCLUSTER_PORT:-8930}

say() { printf '%s\n' "$*"; }
die() { printf 'cluster.sh: %s\n' "$*" >&2; exit 1; }

deb_packages=(build-essential cmake pkg-config curl nodejs npm libuv1-dev libwebsockets-dev
  libwebsockets-evlib-uv libjansson-dev libmsgpack-dev libhiredis-dev libmicrohttpd-dev
  libjwt-dev)

install_deps() {
  local missing=()
  for p in "${deb_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # node may come from elsewhere than Debian: only ask apt for it when there is none
  if command -v node >/dev/null && command -v npm >/dev/null; then
    local keep=()
    for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || keep+=("$p"); done
    missing=("${keep[@]}")
  fi
  ((${#missing[@]})) || return 0
  [[ $(id -u) -eq 0 ]] || die "need root to install: ${missing[*]}"
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build_all() {
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
}

pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

port_taken() {
  # Something (not ours) already listens on the port?
  (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null && return 0
  return 1
}

wait_healthy() {
  local url=$1 pidfile=$2
  for _ in $(seq 1 100); do
    curl -fsS "$url/healthz" >/dev/null 2>&1 && return 0
    pid_alive "$pidfile" || return 1
    sleep 0.1
  done
  return 1
}

cmd_up() {
  mkdir -p "$run"
  local pidfile=$run/chatnode-1.pid log=$run/chatnode-1.log url="http://$host:$port"
  if pid_alive "$pidfile"; then
    say "already running (chatnode pid $(cat "$pidfile"))"
    print_urls
    return 0
  fi
  install_deps
  build_all
  port_taken "$port" && die "port $port on $host is taken by another program; set CHATCLUSTER_PORT to a free port"
  "$build/chatnode/chatnode" --host "$host" --port "$port" --app chat --allow-anonymous \
    --node-tag n1 >>"$log" 2>&1 &
  echo $! >"$pidfile"
  echo "$port" >"$run/port"
  if ! wait_healthy "$url" "$pidfile"; then
    tail -n 20 "$log" >&2
    cmd_down >/dev/null
    die "chatnode did not become healthy (log: $log)"
  fi
  say "chatcluster is up"
  print_urls
}

print_urls() {
  local p
  p=$(cat "$run/port" 2>/dev/null || echo "$port")
  say "  chat page:          http://$host:$p/"
  say "  Socket.IO endpoint: http://$host:$p/socket.io/   (app: chat, anonymous sign-in)"
  say "  health:             http://$host:$p/healthz"
  say "  logs:               $run/chatnode-1.log"
  say "  stop with:          deploy/cluster.sh down"
}

cmd_down() {
  local stopped=0
  for pidfile in "$run"/*.pid; do
    [[ -f $pidfile ]] || continue
    if pid_alive "$pidfile"; then
      local pid
      pid=$(cat "$pidfile")
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
      stopped=$((stopped + 1))
    fi
    rm -f "$pidfile"
  done
  say "stopped $stopped process(es)"
}

cmd_status() {
  local any=0
  for pidfile in "$run"/*.pid; do
    [[ -f $pidfile ]] || continue
    any=1
    local name
    name=$(basename "$pidfile" .pid)
    if pid_alive "$pidfile"; then say "$name: running (pid $(cat "$pidfile"))"
    else say "$name: not running"; fi
  done
  ((any)) || say "nothing started"
  if [[ -f $run/port ]]; then
    curl -fsS "http://$host:$(cat "$run/port")/healthz" 2>/dev/null && echo || true
  fi
}

cmd_logs() {
  ls "$run"/*.log >/dev/null 2>&1 || die "no logs yet (deploy/cluster.sh up first)"
  exec tail -n 50 -F "$run"/*.log
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  logs) cmd_logs ;;
  *) say "usage: deploy/cluster.sh up|down|status|logs"; exit 2 ;;
esac
