#!/usr/bin/env bash
# Fulcrum behind nginx and HAProxy (docs/DEPLOYMENT.md, "Behind a proxy or load balancer"). Each
# proxy runs from a config written into the run's folder (nothing under /etc is touched), with one
# worker, and is stopped at the end. Needs `nginx` and `haproxy` on the PATH (Debian: apt-get
# install nginx haproxy) and a built distribution (FULCRUM_NO_BUILD=1).
#   CASES="race grpc rolling clients" bash bench/proxy.sh
# race:    one server with --http-idle-timeout-secs IDLE (1); each proxy keeps upstream connections
#          alive for PROXY_IDLE (60 s: nginx's upstream keepalive_timeout, HAProxy's idle pool), then
#          for less than IDLE (the setting DEPLOYMENT.md asks for); requests are sent one at a time
#          with idle gaps around IDLE (GAPS), ROUNDS per gap: the answers counted by status.
# grpc:    nginx grpc_pass and HAProxy in h2 mode in front of the gRPC port: unary and streaming
#          calls, a 6 MB request, a deadline, and a SIGTERM to the server mid-load (bench/proxy_grpc.py).
# rolling: two servers behind each proxy (ROLLING_PROXIES, default "nginx haproxy") (health checks on /v2/health/ready where the proxy has
#          them), the load of bench/rolling.py through the proxy, SIGTERM to the first server at
#          KILL_AT; for each DELAYS value of --shutdown-delay-secs, one line of counted outcomes.
# clients: what the server sees of the client through the proxy: X-Forwarded-For and traceparent
#          in the slow-request log, and 64 concurrent clients over the proxy's pooled connections
#          with --http-max-connections CAP (16).
# Retries: as each proxy comes unless NGINX_RETRY (proxy_next_upstream's value, e.g. "error timeout
# http_503 non_idempotent"), NGINX_GRPC_RETRY (grpc_next_upstream's) or HAPROXY_RETRY (retry-on's,
# e.g. "conn-failure empty-response 503") is set.
# Ports: PORT (21400) and up: servers at PORT and PORT+10 (gRPC +1, metrics +2), nginx at PORT+20
# (HTTP) and PORT+21 (gRPC), HAProxy at PORT+30 and PORT+31, its stats at PORT+32.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
PORT=${PORT:-21400}
CASES=${CASES:-"race grpc rolling clients"}
IDLE=${IDLE:-1}
PROXY_IDLE=${PROXY_IDLE:-60}
GAPS=${GAPS:-"0.9,0.99,1.0,1.01,1.1"}
ROUNDS=${ROUNDS:-20}
DELAYS=${DELAYS:-"0 5"}
PY=${PY:-python3}
GRPC_PY=${GRPC_PY:-/tmp/tritonc-venv/bin/python}
FULCRUM=${FULCRUM:-$ROOT/fulcrum}
export FULCRUM_NO_BUILD=1
OUT=${OUT:-"$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)-proxy"}
mkdir -p "$OUT"
A=$PORT B=$((PORT + 10)) NGINX=$((PORT + 20)) HAPROXY=$((PORT + 30))
PIDS=()

cleanup() {
  local p
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null; done
  PIDS=()
}
trap cleanup EXIT

serve() { # port log [serve options...]: in the background; sets SERVER
  local port=$1 log=$2
  shift 2
  "$FULCRUM" serve --http-port "$port" --grpc-port $((port + 1)) --metrics-port $((port + 2)) \
    --model-control-mode explicit --load-model fraud_classifier --monitoring false "$@" >"$log" 2>&1 &
  SERVER=$!
  PIDS+=("$SERVER")
  bench_wait_ready "$port" 180 "$SERVER" || { cat "$log"; exit 1; }
}

# nginx.conf for upstream servers "$@" (ports): HTTP on NGINX, gRPC (h2c, prior knowledge) on
# NGINX+1; upstream keep-alive for $KEEPALIVE_TIMEOUT.
nginx_conf() {
  local dir=$1 keepalive_timeout=$2 http_servers="" grpc_servers="" p
  shift 2
  for p in "$@"; do
    http_servers+="    server 127.0.0.1:$p max_fails=1 fail_timeout=10s;"$'\n'
    grpc_servers+="    server 127.0.0.1:$((p + 1)) max_fails=1 fail_timeout=10s;"$'\n'
  done
  mkdir -p "$dir/tmp"
  cat >"$dir/nginx.conf" <<EOF
user root;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log info;
daemon off;
events { worker_connections 4096; }
http {
  log_format upstream '\$remote_addr "\$request" \$status upstream=\$upstream_addr '
                      'upstream_status=\$upstream_status \$request_time';
  access_log $dir/access.log upstream;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  upstream fulcrum_http {
$http_servers    keepalive 32;
    keepalive_timeout $keepalive_timeout;
  }
  upstream fulcrum_grpc {
$grpc_servers    keepalive 32;
    keepalive_timeout $keepalive_timeout;
  }
  server {
    listen 127.0.0.1:$NGINX;
    client_max_body_size 64m;
    location / {
      proxy_pass http://fulcrum_http;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      ${NGINX_RETRY:+proxy_next_upstream $NGINX_RETRY;}
    }
  }
  server {
    listen 127.0.0.1:$((NGINX + 1)) http2;
    client_max_body_size 64m;
    location / {
      grpc_pass grpc://fulcrum_grpc;
      grpc_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      ${NGINX_GRPC_RETRY:+grpc_next_upstream $NGINX_GRPC_RETRY;}
    }
  }
}
EOF
}

# haproxy.cfg for upstream servers "$@" (ports): HTTP on HAPROXY, gRPC (h2 both sides) on
# HAPROXY+1; idle upstream connections kept for $POOL_PURGE.
haproxy_conf() {
  local dir=$1 pool_purge=$2 http_servers="" grpc_servers="" p i=0
  shift 2
  for p in "$@"; do
    i=$((i + 1))
    http_servers+="  server s$i 127.0.0.1:$p check inter 1s fall 2 rise 2 pool-purge-delay $pool_purge"$'\n'
    grpc_servers+="  server s$i 127.0.0.1:$((p + 1)) proto h2 check port $p inter 1s fall 2 rise 2"$'\n'
  done
  mkdir -p "$dir"
  cat >"$dir/haproxy.cfg" <<EOF
global
  log stdout format raw local0 info
  maxconn 4096
defaults
  mode http
  log global
  option httplog
  timeout connect 5s
  timeout check 3s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 120s
  option http-keep-alive
  option forwardfor
  http-reuse always
frontend http
  bind 127.0.0.1:$HAPROXY
  default_backend fulcrum_http
backend fulcrum_http
  option httpchk GET /v2/health/ready
  http-check expect status 200
  ${HAPROXY_RETRY:+retry-on $HAPROXY_RETRY}
  option redispatch 1
$http_servers
frontend grpc
  bind 127.0.0.1:$((HAPROXY + 1)) proto h2
  default_backend fulcrum_grpc
backend fulcrum_grpc
  option httpchk GET /v2/health/ready
  http-check expect status 200
$grpc_servers
listen stats
  bind 127.0.0.1:$((HAPROXY + 2))
  stats enable
  stats uri /stats
EOF
}

start_nginx() { # dir: nginx in the foreground of a background job; sets PROXY
  nginx -c "$1/nginx.conf" -p "$1" >"$1/nginx.out" 2>&1 &
  PROXY=$!
  PIDS+=("$PROXY")
  sleep 1
  kill -0 "$PROXY" 2>/dev/null || { cat "$1/nginx.out" "$1/error.log"; exit 1; }
}

start_haproxy() { # dir; sets PROXY
  haproxy -db -f "$1/haproxy.cfg" >"$1/haproxy.log" 2>&1 &
  PROXY=$!
  PIDS+=("$PROXY")
  sleep 2
  kill -0 "$PROXY" 2>/dev/null || { cat "$1/haproxy.log"; exit 1; }
}

stop() { # pid: TERM and wait, and forget it
  kill -TERM "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  local p keep=()
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}

race() {
  serve "$A" "$OUT/race-server.log" --http-idle-timeout-secs "$IDLE"
  local proxy_idle dir
  # The proxy's idle time first as it comes (longer than the server's), then shorter than it.
  for proxy_idle in "${PROXY_IDLE}s" "$((IDLE * 1000 / 2))ms"; do
    dir="$OUT/race-nginx-$proxy_idle"
    nginx_conf "$dir" "$proxy_idle" "$A"
    start_nginx "$dir"
    echo "race nginx keepalive_timeout=$proxy_idle server idle=${IDLE}s: $($PY "$ROOT/bench/proxy_race.py" "$NGINX" "$GAPS" "$ROUNDS")" | tee -a "$OUT/proxy.txt"
    stop "$PROXY"
    dir="$OUT/race-haproxy-$proxy_idle"
    haproxy_conf "$dir" "$proxy_idle" "$A"
    start_haproxy "$dir"
    echo "race haproxy pool-purge-delay=$proxy_idle server idle=${IDLE}s: $($PY "$ROOT/bench/proxy_race.py" "$HAPROXY" "$GAPS" "$ROUNDS")" | tee -a "$OUT/proxy.txt"
    stop "$PROXY"
  done
  stop "$SERVER"
}

grpc() {
  local name dir port
  for name in nginx haproxy; do
    serve "$A" "$OUT/grpc-$name-server.log" --shutdown-delay-secs 0
    dir="$OUT/grpc-$name"
    if [ "$name" = nginx ]; then
      nginx_conf "$dir" 60s "$A"
      start_nginx "$dir"
      port=$((NGINX + 1))
    else
      haproxy_conf "$dir" 60s "$A"
      start_haproxy "$dir"
      port=$((HAPROXY + 1))
    fi
    echo "grpc $name: $("$GRPC_PY" "$ROOT/bench/proxy_grpc.py" "$port" "$SERVER")" | tee -a "$OUT/proxy.txt"
    wait "$SERVER" 2>/dev/null
    echo "grpc $name: server exit $?" | tee -a "$OUT/proxy.txt"
    stop "$SERVER"
    stop "$PROXY"
  done
}

rolling() {
  local name delay dir port a line code
  for name in ${ROLLING_PROXIES:-nginx haproxy}; do
    for delay in $DELAYS; do
      serve "$A" "$OUT/rolling-$name-a-$delay.log" --shutdown-delay-secs "$delay"
      a=$SERVER
      serve "$B" "$OUT/rolling-$name-b-$delay.log" --shutdown-delay-secs "$delay"
      dir="$OUT/rolling-$name-$delay"
      if [ "$name" = nginx ]; then
        nginx_conf "$dir" 60s "$A" "$B"
        start_nginx "$dir"
        port=$NGINX
      else
        haproxy_conf "$dir" 60s "$A" "$B"
        start_haproxy "$dir"
        port=$HAPROXY
      fi
      # bench/rolling.py's load and counting, the proxy as both "servers" and never dropped by
      # rolling.py's own poller (the proxy does the balancing).
      line=$(LAG=100000 $PY "$ROOT/bench/rolling.py" "$a" "$port" "$port" "$BENCH_FRAUD_BODY")
      wait "$a" 2>/dev/null
      code=$?
      echo "rolling $name shutdown-delay-secs=$delay exit=$code $line" | tee -a "$OUT/proxy.txt"
      grep -c ' 50[234] ' "$dir/access.log" 2>/dev/null | sed "s/^/rolling $name: 50x lines in nginx access.log: /" >>"$OUT/proxy.txt"
      stop "$a"
      stop "$SERVER"
      stop "$PROXY"
    done
  done
}

clients() {
  local name dir port
  for name in nginx haproxy; do
    serve "$A" "$OUT/clients-$name-server.log" --http-max-connections "${CAP:-16}" --log-slow-requests-ms 0
    dir="$OUT/clients-$name"
    if [ "$name" = nginx ]; then
      nginx_conf "$dir" 60s "$A"
      start_nginx "$dir"
      port=$NGINX
    else
      haproxy_conf "$dir" 60s "$A"
      start_haproxy "$dir"
      port=$HAPROXY
    fi
    curl -s -o /dev/null -H 'Content-Type: application/json' -H 'X-Forwarded-For: 203.0.113.7' \
      -H 'traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' \
      --data-binary "@$BENCH_FRAUD_BODY" "http://127.0.0.1:$port/v2/models/fraud_classifier/infer"
    sleep 1
    echo "clients $name slow-request line: $(grep -m1 'event=' "$OUT/clients-$name-server.log" | grep -o 'client=[^ ]*\|forwarded_for=[^ ]*\|trace_id=[^ ]*' | tr '\n' ' ')" | tee -a "$OUT/proxy.txt"
    echo "clients $name c=64 through the proxy, server --http-max-connections ${CAP:-16}: $(hey -n 3000 -c 64 -m POST -T application/json -D "$BENCH_FRAUD_BODY" "http://127.0.0.1:$port/v2/models/fraud_classifier/infer" 2>&1 | sed -n '/Status code distribution/,/^$/p;/Error distribution/,/^$/p' | tr -s ' \n' ' ')" | tee -a "$OUT/proxy.txt"
    stop "$SERVER"
    stop "$PROXY"
  done
}

for c in $CASES; do "$c"; done
echo "results: $OUT"
