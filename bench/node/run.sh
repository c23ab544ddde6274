#!/usr/bin/env bash
# Node client benchmark: zk-client (this repository's package, over the Rust core) against
# node-zookeeper-client 1.1.3 (npm, pure JavaScript), and a floor (a raw net.Socket, see
# client.mjs), against the same zk-server (release) and the same Apache ZooKeeper 3.8 server. Each client in its own idiom (ours: Promises;
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
BENCH=node
REPS=${REPS:-3}
RT_OPS=${RT_OPS:-20000}
PL_OPS=${PL_OPS:-200000}
SET_OPS=${SET_OPS:-5000}
SETPL_OPS=${SETPL_OPS:-50000}
# shellcheck source=../clients.sh
source "$ROOT/bench/clients.sh"

# ---- build ----------------------------------------------------------------------------
log "building zk-server (release), the addon (release) and installing the clients"
(cd "$ROOT" && cargo build --release -p zk-server --bin zk-server)
(cd "$ROOT/bindings/node" && npm ci --ignore-scripts --no-audit --no-fund && npm run build)
(cd "$HERE" && npm ci --ignore-scripts --no-audit --no-fund)

# ---- servers --------------------------------------------------------------------------
start_server zk
start_server apache

run() { # client server workload ops [taskset-prefix...]
    local client=$1 server=$2 workload=$3 ops=$4
    shift 4
    "$@" node "$HERE/client.mjs" "$client" "127.0.0.1:${PORT[$server]}" "$workload" "$ops" \
        | sed "s/^{/{\"server\":\"$server\",/"
}

run_on_cpu0() { # client server ops
    local client=$1 server=$2 ops=$3
    pin_server "$server"
    run "$client" "$server" get "$ops" taskset -c 0 | sed 's/"workload":"get"/"workload":"get-1cpu"/'
    unpin_server "$server"
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
    if (( rep % 2 )); then order=(node-zookeeper-client zk-client raw); else order=(raw zk-client node-zookeeper-client); fi
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

report "$RESULTS" "$WHEN" "reps=$REPS rt=$RT_OPS pl=$PL_OPS set=$SET_OPS setpl=$SETPL_OPS inflight=64" \
    core bindings/node
