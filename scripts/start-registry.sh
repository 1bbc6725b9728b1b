#!/bin/sh
# Start Debian's docker-registry on 127.0.0.1:${REGISTRY_PORT:-5000}, in the background.
#
#   scripts/start-registry.sh [DIR]          start (idempotent); DIR holds config, storage, pid, log
#   scripts/start-registry.sh --stop [DIR]   stop the registry this script started in DIR
#
# DIR defaults to ${REGISTRY_DIR:-/tmp/virtctl-registry}. Already running (pid file + /v2/ answers)
# → nothing to do. Installs the docker-registry package with apt-get when it is missing.
set -eu

ACTION=start
if [ "${1:-}" = "--stop" ]; then ACTION=stop; shift; fi
DIR=${1:-${REGISTRY_DIR:-/tmp/virtctl-registry}}
PORT=${REGISTRY_PORT:-5000}
PIDFILE="$DIR/registry.pid"
PYTHON=${PYTHON:-python3}

answers() {   # does a distribution registry answer GET /v2/ on our port?
    "$PYTHON" - "$PORT" <<'EOF' 2>/dev/null
import sys, http.client
try:
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=1)
    c.request("GET", "/v2/")
    r = c.getresponse()
    sys.exit(0 if r.status in (200, 401) and r.getheader("Docker-Distribution-Api-Version") else 1)
except OSError:
    sys.exit(1)
EOF
}

our_pid_alive() {   # a zombie (exited, not yet reaped by its new parent) counts as gone
    [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && \
        ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$(cat "$PIDFILE")/stat" 2>/dev/null
}

if [ "$ACTION" = stop ]; then
    if our_pid_alive; then
        kill "$(cat "$PIDFILE")"
        i=0; while our_pid_alive && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        echo "registry stopped"
    fi
    rm -f "$PIDFILE"
    exit 0
fi

if our_pid_alive && answers; then
    echo "registry already running on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"
    exit 0
fi
if answers; then
    # e.g. started by another checkout: any distribution registry on loopback serves the tests
    echo "a registry already answers on 127.0.0.1:$PORT (not started from $DIR); using it"
    exit 0
fi

BIN=$(command -v docker-registry || command -v registry || true)
if [ -z "$BIN" ]; then
    echo "installing docker-registry (apt-get)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-registry >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
             apt-get install -y --no-install-recommends docker-registry >/dev/null; }
    BIN=$(command -v docker-registry || command -v registry)
fi

mkdir -p "$DIR/storage"
cat > "$DIR/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $DIR/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
EOF

# setsid: the registry must outlive this script and the shell that called it
setsid "$BIN" serve "$DIR/config.yml" >>"$DIR/registry.log" 2>&1 </dev/null &
echo $! > "$PIDFILE"

i=0
until answers; do
    if ! our_pid_alive; then
        echo "error: registry exited; last log lines:" >&2
        tail -n 5 "$DIR/registry.log" >&2
        rm -f "$PIDFILE"
        exit 1
    fi
    i=$((i + 1))
    if [ $i -gt 150 ]; then
        echo "error: registry did not answer on 127.0.0.1:$PORT within 15 s" >&2
        exit 1
    fi
    sleep 0.1
done
echo "registry running on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"), storage $DIR/storage)"
