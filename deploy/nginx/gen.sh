#!/usr/bin/env bash
# nginx configuration for a chatcluster: chatnodes behind one address, adminnode under /admin/.
#
#   deploy/nginx/gen.sh [options] TAG=HOST:PORT...
#
# Each argument is one chatnode: its --node-tag and the address it listens on. Engine.IO
# session ids start with the node's tag ("<tag>.<random>"), so in the default mode (--mode tag)
# a request carrying ?sid= goes to the node that owns the session (one upstream per node,
# chosen by `map $arg_sid`), polling and the WebSocket upgrade alike, and a request without
# one (a new session, the chat page) goes to the node with the fewest active connections.
# --mode iphash instead sends each client address to one node (ip_hash), for clients that
# cannot be told apart by their session id.
#
# Options:
#   --prefix DIR        write DIR/nginx.conf (and create DIR/logs, DIR/tmp); run it with
#                       `nginx -p DIR -c nginx.conf` (as any user: pid file, logs and temp
#                       files all live under DIR). Without --prefix the file goes to stdout;
#                       the directory given to `nginx -p` then needs logs/ and tmp/.
#   --listen [HOST:]PORT  plain HTTP address (default 8080)
#   --mode tag|iphash   routing of Engine.IO requests (default tag)
#   --admin HOST:PORT   publish adminnode under /admin/ (prefix stripped)
#   --tls-cert FILE, --tls-key FILE
#                       add a TLS server block (same locations) on --tls-listen
#   --tls-listen [HOST:]PORT  TLS address (default 8443)
#   --path PATH         chatnode's --path (default /socket.io/)
#   --server-name NAME  server_name (default _)
#   --workers N         worker_processes (default 1; `auto` is one per core)
#   --foreground        `daemon off` (nginx stays in the foreground, for supervisors and tests)
#   --read-timeout S    proxy_read_timeout of the Engine.IO path, seconds (default 75; keep it
#                       above chatnode's ping interval + ping timeout, 25 s + 20 s by default)
set -euo pipefail

die() { printf 'gen.sh: %s\n' "$*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }

prefix="" listen=8080 mode=tag admin="" tls_cert="" tls_key="" tls_listen=8443
sio_path=/socket.io/ server_name=_ workers=1 daemon=on read_timeout=75
nodes=()
original_args=("$@")

need() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value"; }
while (($#)); do
  case $1 in
    --prefix) need "$@"; prefix=$2; shift 2 ;;
    --listen) need "$@"; listen=$2; shift 2 ;;
    --mode) need "$@"; mode=$2; shift 2 ;;
    --admin) need "$@"; admin=$2; shift 2 ;;
    --tls-cert) need "$@"; tls_cert=$2; shift 2 ;;
    --tls-key) need "$@"; tls_key=$2; shift 2 ;;
    --tls-listen) need "$@"; tls_listen=$2; shift 2 ;;
    --path) need "$@"; sio_path=$2; shift 2 ;;
    --server-name) need "$@"; server_name=$2; shift 2 ;;
    --workers) need "$@"; workers=$2; shift 2 ;;
    --foreground) daemon=off; shift ;;
    --read-timeout) need "$@"; read_timeout=$2; shift 2 ;;
    -h|--help) usage ;;
    --) shift; nodes+=("$@"); break ;;
    -*) die "unknown option $1 (--help lists them)" ;;
    *) nodes+=("$1"); shift ;;
  esac
done

((${#nodes[@]})) || die "no chatnodes given (arguments TAG=HOST:PORT)"
[[ $mode == tag || $mode == iphash ]] || die "--mode is tag or iphash, not '$mode'"
[[ $workers =~ ^([1-9][0-9]*|auto)$ ]] || die "--workers is a number or auto"
[[ $read_timeout =~ ^[1-9][0-9]*$ ]] || die "--read-timeout is a number of seconds"
[[ $sio_path == /* ]] || die "--path must start with /"
[[ $sio_path == */ ]] || sio_path+=/
[[ -n $tls_cert || -n $tls_key ]] && { [[ -n $tls_cert && -n $tls_key ]] || die "--tls-cert and --tls-key go together"; }

# HOST:PORT or [v6]:PORT, PORT 1-65535; host names and addresses only from a safe alphabet
check_addr() { # what value allow_bare_port
  local what=$1 v=$2
  if [[ $3 == yes && $v =~ ^[0-9]+$ ]]; then :
  elif [[ $v =~ ^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):([0-9]+)$ ]]; then v=${BASH_REMATCH[2]}
  else die "$what: '$2' is not HOST:PORT"; fi
  ((v >= 1 && v <= 65535)) || die "$what: port $v out of range"
}
check_addr --listen "$listen" yes
[[ -z $admin ]] || check_addr --admin "$admin" no
[[ -z $tls_cert ]] || check_addr --tls-listen "$tls_listen" yes

tags=() addrs=()
for n in "${nodes[@]}"; do
  [[ $n =~ ^([A-Za-z0-9-]+)=(.+)$ ]] || die "node '$n' is not TAG=HOST:PORT (a tag is [A-Za-z0-9-])"
  t=${BASH_REMATCH[1]} a=${BASH_REMATCH[2]}
  check_addr "node $t" "$a" no
  for old in "${tags[@]}"; do [[ $old != "$t" ]] || die "node tag '$t' given twice"; done
  tags+=("$t") addrs+=("$a")
done

abspath() { [[ $1 == /* ]] && printf '%s' "$1" || printf '%s/%s' "$(pwd)" "$1"; }
if [[ -n $tls_cert ]]; then
  tls_cert=$(abspath "$tls_cert") tls_key=$(abspath "$tls_key")
  [[ -r $tls_cert ]] || die "cannot read --tls-cert $tls_cert"
  [[ -r $tls_key ]] || die "cannot read --tls-key $tls_key"
fi

# No location writes temp files (request bodies stream to the backend, large answers wait for
# the client), so the workers never need the temp directories, whoever they run as.
# The Engine.IO location: every header an upgrade needs, no buffering (long-polling answers
# and WebSocket frames pass through as they come), and a read timeout above a heartbeat
# round (a held GET lasts up to pingInterval, a WebSocket is quiet for at most that plus
# pingTimeout). Host keeps the port the client used, so chatnode can tell a same-origin
# WebSocket from a cross-site one.
proxy_common() {
  cat <<EOF
            proxy_http_version 1.1;
            proxy_set_header Host \$http_host;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_set_header X-Real-IP \$remote_addr;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
EOF
}

locations() {
  local target
  # shellcheck disable=SC2016 # nginx variables
  if [[ $mode == tag ]]; then target='$chat_backend'; else target=chat; fi
  cat <<EOF
        # Engine.IO / Socket.IO: polling requests and upgrades with a sid go to the node
        # owning the session, new sessions by least connections ($mode mode).
        location $sio_path {
            proxy_pass http://$target;
$(proxy_common)
            proxy_buffering off;
            proxy_request_buffering off;
            # a handshake refused by a draining node (503) or not answered by a dead one is
            # tried on the next node; a request with a sid has only its own node to try
            proxy_next_upstream error timeout http_503;
            proxy_read_timeout ${read_timeout}s;
            proxy_send_timeout ${read_timeout}s;
        }

        # the chat page and its files, /healthz of one node
        location / {
            proxy_pass http://$([[ $mode == tag ]] && echo chat_new || echo chat);
$(proxy_common)
            proxy_max_temp_file_size 0;
        }

        # a chatnode's /metrics are its own figures: Prometheus scrapes each node on its port
        location = /metrics {
            return 404;
        }
EOF
  if [[ -n $admin ]]; then
    cat <<'EOF'

        # adminnode: the dashboard and the REST API, its paths without the /admin prefix
        location = /admin {
            return 301 /admin/;
        }
        location /admin/ {
            proxy_pass http://admin/;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Connection "";
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Prefix /admin;
            proxy_request_buffering off;
            proxy_read_timeout 75s;
            proxy_max_temp_file_size 0;
        }
        # the metrics (request counts by route) are for the monitoring on this host only
        location = /admin/metrics {
            allow 127.0.0.1;
            allow ::1;
            deny all;
            proxy_pass http://admin/metrics;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Connection "";
        }
EOF
  fi
}

generate() {
  cat <<EOF
# chatcluster behind nginx, generated by deploy/nginx/gen.sh (mode: $mode).
# Run: nginx -p <this directory> -c nginx.conf   (paths below are relative to -p; the
# directory needs logs/ and tmp/, which gen.sh --prefix makes)
# Regenerate instead of editing: $(printf '%q ' gen.sh "${original_args[@]}")

daemon $daemon;
worker_processes $workers;
pid nginx.pid;
error_log logs/error.log warn;
# keep WebSocket and long-polling clients at most this long on a reload or SIGQUIT
worker_shutdown_timeout 10s;

events {
    worker_connections 4096;
}

http {
    log_format chatcluster '\$remote_addr [\$time_local] "\$request" \$status \$body_bytes_sent '
                           'upstream=\$upstream_addr rt=\$request_time';
    access_log logs/access.log chatcluster;

    client_body_temp_path tmp/client_body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;

    default_type application/octet-stream;
    server_tokens off;
    absolute_redirect off;
    # chatnode's --max-payload and adminnode's --max-body decide, not nginx
    client_max_body_size 4m;

    # "Connection: upgrade" for WebSocket handshakes, empty otherwise (keeps upstream
    # connections alive between polling requests)
    map \$http_upgrade \$connection_upgrade {
        default upgrade;
        ''      '';
    }

EOF
  local i
  if [[ $mode == tag ]]; then
    printf '    # session id "<tag>.<random>" -> the upstream of that node; no sid: a new session\n'
    # shellcheck disable=SC2016 # nginx variables
    printf '    map $arg_sid $chat_backend {\n'
    printf '        default chat_new;\n'
    for i in "${!tags[@]}"; do
      printf '        "~^%s\\." node_%s;\n' "${tags[$i]}" "${tags[$i]}"
    done
    printf '    }\n\n'
    printf '    upstream chat_new {\n        zone chat_new 64k;\n        least_conn;\n'
    for i in "${!tags[@]}"; do printf '        server %s;\n' "${addrs[$i]}"; done
    printf '        keepalive 32;\n    }\n'
    for i in "${!tags[@]}"; do
      printf '    upstream node_%s {\n        zone node_%s 64k;\n        server %s;\n        keepalive 16;\n    }\n' \
        "${tags[$i]}" "${tags[$i]}" "${addrs[$i]}"
    done
  else
    printf '    # one client address -> one node\n'
    printf '    upstream chat {\n        zone chat 64k;\n        ip_hash;\n'
    for i in "${!tags[@]}"; do printf '        server %s;  # %s\n' "${addrs[$i]}" "${tags[$i]}"; done
    printf '        keepalive 32;\n    }\n'
  fi
  if [[ -n $admin ]]; then
    printf '    upstream admin {\n        zone admin 64k;\n        server %s;\n        keepalive 8;\n    }\n' "$admin"
  fi

  cat <<EOF

    server {
        listen $listen;
        server_name $server_name;

$(locations)
    }
EOF
  if [[ -n $tls_cert ]]; then
    cat <<EOF

    server {
        listen $tls_listen ssl;
        server_name $server_name;
        ssl_certificate $tls_cert;
        ssl_certificate_key $tls_key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:chatcluster_tls:1m;
        ssl_session_timeout 1h;

$(locations)
    }
EOF
  fi
  printf '}\n'
}

if [[ -z $prefix ]]; then
  generate
  exit 0
fi
mkdir -p "$prefix/logs" "$prefix/tmp"
# As root nginx runs its workers as nobody: they must be able to reach their temp files.
[[ $(id -u) -ne 0 ]] || chmod 755 "$prefix" "$prefix/tmp"
tmp=$prefix/nginx.conf.tmp.$$
generate >"$tmp"
mv -f "$tmp" "$prefix/nginx.conf"
printf '%s\n' "$prefix/nginx.conf"
