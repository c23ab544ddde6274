#!/usr/bin/env bash
# Node client benchmark: zk-client (this repository's package, over the Rust core) against
# node-zookeeper-client 1.1.3 (npm, pure JavaScript), against the same zk-server (release) and
# the same Apache ZooKeeper 3.8 server. Each client in its own idiom (ours: Promises;
# node-zookeeper-client: callbacks), one measurement per process (bench/node/client.mjs).
#
#   bench/node/run.sh            # build, run, print the table, update docs/benchmarks.md
#   NO_DOCS=1 bench/node/run.sh  # the same without touching docs/benchmarks.md
#
# Knobs (environment): REPS (3) runs per client, workload and server, interleaved (the client
# order alternates); RT_OPS (20000) getData one at a time; PL_OPS (200000) getData with 64
# outstanding; SET_OPS (5000) setData one at a time (durable writes); SETPL_OPS (50000)
# setData with 64 outstanding. "get-1cpu" repeats the round trip with the server's threads
# and the client on CPU 0 (taskset): unpinned, a round trip mostly pays for waking idle vCPUs
# in this VM; pinned, it shows what the client itself costs.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/node"
REPS=${REPS:-3}
RT_OPS=${RT_OPS:-20000}
PL_OPS=${PL_OPS:-200000}
SET_OPS=${SET_OPS:-5000}
SETPL_OPS=${SETPL_OPS:-50000}
PYTHON=${PYTHON:-"$ROOT/bench/.venv/bin/python"}
APACHE_SERVER_CP=/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar:/usr/share/java/slf4j-simple.jar
ZK_SERVER="$ROOT/target/release/zk-server"

WORK=$(mktemp -d /tmp/zk-node-bench.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "[node-bench] $*" >&2; }

# ---- build ----------------------------------------------------------------------------
log "building zk-server (release), the addon (release) and installing the clients"
(cd "$ROOT" && cargo build --release -p zk-server --bin zk-server)
(cd "$ROOT/bindings/node" && npm ci --ignore-scripts --no-audit --no-fund && npm run build)
(cd "$HERE" && npm ci --ignore-scripts --no-audit --no-fund)

# ---- servers --------------------------------------------------------------------------
free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$((20000 + RANDOM % 10000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    return 1
}
declare -A PORT SERVER_PID
start_server() { # kind
    local kind=$1 dir="$WORK/server-$1"
    PORT[$kind]=$(free_port)
    mkdir -p "$dir/data"
    printf 'tickTime=2000\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\nadmin.enableServer=false\n' \
        "$dir/data" "${PORT[$kind]}" > "$dir/zoo.cfg"
    if [[ $kind == zk ]]; then
        "$ZK_SERVER" start-foreground "$dir/zoo.cfg" > "$dir/log" 2>&1 &
    else
        java -Xmx512m -cp "$APACHE_SERVER_CP" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" > "$dir/log" 2>&1 &
    fi
    PIDS+=($!)
    SERVER_PID[$kind]=$!
}
start_server zk
start_server apache

run() { # client server workload ops [taskset-prefix...]
    local client=$1 server=$2 workload=$3 ops=$4
    shift 4
    "$@" node "$HERE/client.mjs" "$client" "127.0.0.1:${PORT[$server]}" "$workload" "$ops" \
        | sed "s/^{/{\"server\":\"$server\",/"
}

ALL_CPUS=$(printf '%x' $(( (1 << $(nproc)) - 1 )))
run_on_cpu0() { # client server ops
    local client=$1 server=$2 ops=$3
    taskset -a -p 1 "${SERVER_PID[$server]}" > /dev/null
    run "$client" "$server" get "$ops" taskset -c 0 | sed 's/"workload":"get"/"workload":"get-1cpu"/'
    taskset -a -p "$ALL_CPUS" "${SERVER_PID[$server]}" > /dev/null
}

wait_for() { # server: until a client gets an answer (a JVM takes a while to start)
    local deadline=$((SECONDS + 60))
    until run zk-client "$1" get 1000 > /dev/null 2>&1; do
        (( SECONDS < deadline )) || { log "$1 did not start"; cat "$WORK/server-$1/log" >&2; exit 1; }
    done
}

RESULTS="$WORK/results.jsonl"
WHEN=$(date -u '+%Y-%m-%d %H:%M UTC')
for server in zk apache; do
    log "waiting for and warming $server"
    wait_for "$server"
    run node-zookeeper-client "$server" get-pipelined 50000 > /dev/null
    run zk-client "$server" get-pipelined 50000 > /dev/null
done
for rep in $(seq 1 "$REPS"); do
    if (( rep % 2 )); then order=(node-zookeeper-client zk-client); else order=(zk-client node-zookeeper-client); fi
    for server in zk apache; do
        for client in "${order[@]}"; do
            log "rep $rep: $client against $server"
            run "$client" "$server" get "$RT_OPS" >> "$RESULTS"
            run_on_cpu0 "$client" "$server" "$RT_OPS" >> "$RESULTS"
            run "$client" "$server" get-pipelined "$PL_OPS" >> "$RESULTS"
            run "$client" "$server" set "$SET_OPS" >> "$RESULTS"
            run "$client" "$server" set-pipelined "$SETPL_OPS" >> "$RESULTS"
        done
    done
done

cp "$RESULTS" "$HERE/last-results.jsonl"
if [[ ! -x "$PYTHON" ]]; then
    log "no $PYTHON: python3 -m venv bench/.venv && bench/.venv/bin/pip install matplotlib"
    PYTHON=python3
fi
args=()
[[ -n "${NO_DOCS:-}" ]] && args+=(--no-docs)
"$PYTHON" "$HERE/report.py" "$RESULTS" "${args[@]}" \
    --when "$WHEN" --meta "reps=$REPS rt=$RT_OPS pl=$PL_OPS set=$SET_OPS setpl=$SETPL_OPS inflight=64" \
    --versions "$(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- core bindings/node || echo ' + uncommitted changes')"
