#!/usr/bin/env bash
# Client benchmark: zk-core's Rust client vs Apache's Java client vs kazoo, getData on one
# node, against one Apache ZooKeeper 3.8 server (and then, once, against our zk-server).
#
#   bench/client/run.sh            # build, run, print the tables, update docs/benchmarks.md
#   NO_DOCS=1 bench/client/run.sh  # the same without touching docs/benchmarks.md
#
# Knobs (environment): REPS (3) runs per client and mode against Apache; ZK_REPS (1) runs
# against zk-server; RT_OPS (20000) round-trip ops; PL_OPS (200000) pipelined ops;
# KAZOO_PL_OPS (50000: kazoo does ~6k ops/s here, 200k would take most of the time budget)
# pipelined ops for kazoo alone; INFLIGHT (64); VALUE_SIZE (100);
# CLIENTS ("zk-rust zk-rust-ct java kazoo"; zk-rust-ct is our client on tokio's
# current-thread runtime instead of the multi-thread one); SKIP_ONE_CPU=1 skips the
# round-trip runs with server and client pinned to CPU 0; SKIP_ZK_SERVER=1 skips the zk-server table.
# Each client first runs ops/10 untimed operations of the same mode (warm-up).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/client"
REPS=${REPS:-3}
ZK_REPS=${ZK_REPS:-1}
RT_OPS=${RT_OPS:-20000}
PL_OPS=${PL_OPS:-200000}
KAZOO_PL_OPS=${KAZOO_PL_OPS:-50000}
INFLIGHT=${INFLIGHT:-64}
VALUE_SIZE=${VALUE_SIZE:-100}
CLIENTS=${CLIENTS:-"zk-rust zk-rust-ct java kazoo"}
ONE_CPU=roundtrip-1cpu
if [[ -n "${SKIP_ONE_CPU:-}" ]]; then ONE_CPU=""; fi
PYTHON=${PYTHON:-"$ROOT/.test-venv/bin/python"}
ZK_CP=/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar:/usr/share/java/slf4j-simple.jar
JVM_FLAGS=(-Xmx512m)
RUST_BENCH="$ROOT/target/release/examples/client_bench"
ZK_SERVER="$ROOT/target/release/zk-server"

WORK=$(mktemp -d /tmp/zk-client-bench.XXXXXX)
SERVER_PID=""
stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "[client-bench] $*" >&2; }

# ---- build ----------------------------------------------------------------------------
log "building the Rust client bench and zk-server (release)"
(cd "$ROOT" && cargo build --release -p zk-core --example client_bench)
(cd "$ROOT" && cargo build --release -p zk-server --bin zk-server)
log "compiling JavaBench.java"
mkdir -p "$WORK/classes"
javac -cp /usr/share/java/zookeeper.jar -d "$WORK/classes" "$HERE/JavaBench.java"

free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

write_config() { # DIR PORT
    mkdir -p "$1/data"
    cat >"$1/zoo.cfg" <<EOF
tickTime=2000
dataDir=$1/data
clientPort=$2
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
EOF
}

wait_ready() { # PORT: the port accepts, then /bench can be written (the database is loaded)
    local port=$1 i
    for i in $(seq 1 150); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            break
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            log "server exited; its log:"; cat "$WORK"/*.log >&2; exit 1
        fi
        sleep 0.2
    done
    for i in $(seq 1 20); do
        if timeout 40 "$RUST_BENCH" --server "127.0.0.1:$port" --setup --value-size "$VALUE_SIZE" --path /bench; then
            return 0
        fi
        sleep 0.5
    done
    log "server on port $port never became ready"; exit 1
}

run_client() { # CLIENT MODE SERVERADDR -> one JSON line on stdout
    # MODE roundtrip-1cpu: a round-trip run with the client pinned to CPU 0 (the caller pins
    # the server there too), so no request or reply has to wake the other, idle, vCPU.
    local client=$1 mode=$2 addr=$3 ops pin=()
    if [[ $mode == roundtrip-1cpu ]]; then pin=(taskset -c 0); mode=roundtrip; fi
    if [[ $mode == roundtrip ]]; then ops=$RT_OPS; else ops=$PL_OPS; fi
    if [[ $client == kazoo && $mode == pipelined ]]; then ops=$KAZOO_PL_OPS; fi
    local args=(--server "$addr" --mode "$mode" --ops "$ops" --inflight "$INFLIGHT" --value-size "$VALUE_SIZE" --path /bench)
    case $client in
        zk-rust) "${pin[@]}" "$RUST_BENCH" "${args[@]}" ;;
        zk-rust-ct) "${pin[@]}" "$RUST_BENCH" "${args[@]}" --runtime current ;;
        java) "${pin[@]}" java "${JVM_FLAGS[@]}" -Dorg.slf4j.simpleLogger.defaultLogLevel=error \
                  -cp "$ZK_CP:$WORK/classes" JavaBench "${args[@]}" ;;
        kazoo) "${pin[@]}" "$PYTHON" "$HERE/kazoo_bench.py" "${args[@]}" ;;
    esac
}

pin_server() { # CPULIST: moves every thread of the running server onto these CPUs
    taskset -a -p -c "$1" "$SERVER_PID" >/dev/null
}

warm_server() { # PORT: untimed load first, so no client meets a cold (un-JITted) server
    "$RUST_BENCH" --server "127.0.0.1:$1" --mode pipelined --ops 100000 --warmup 0 --path /bench >/dev/null
    "$RUST_BENCH" --server "127.0.0.1:$1" --mode roundtrip --ops 5000 --warmup 0 --path /bench >/dev/null
}

run_matrix() { # LABEL PORT REPS: appends {server,rep,...} lines to results.jsonl
    local label=$1 port=$2 reps=$3 rep mode client line i
    local clients=($CLIENTS)
    warm_server "$port"
    for rep in $(seq 1 "$reps"); do
        for mode in roundtrip pipelined $ONE_CPU; do
            if [[ $mode == roundtrip-1cpu ]]; then pin_server 0; fi
            # Rotate the order each run so drift and leftovers hit every client alike.
            for i in "${!clients[@]}"; do
                client=${clients[$(( (i + rep - 1) % ${#clients[@]} ))]}
                line=$(run_client "$client" "$mode" "127.0.0.1:$port")
                line=${line/\"mode\":\"roundtrip\"/\"mode\":\"$mode\"}
                log "$label rep $rep: $line"
                echo "{\"server\":\"$label\",\"rep\":$rep,${line#\{}" >>"$WORK/results.jsonl"
            done
            if [[ $mode == roundtrip-1cpu ]]; then pin_server "0-$(( $(nproc) - 1 ))"; fi
        done
    done
}

: >"$WORK/results.jsonl"
T0=$(date +%s)

# ---- Apache ZooKeeper 3.8 ---------------------------------------------------------------
PORT=$(free_port)
write_config "$WORK/apache" "$PORT"
log "starting Apache ZooKeeper on 127.0.0.1:$PORT"
java "${JVM_FLAGS[@]}" -cp "$ZK_CP" org.apache.zookeeper.server.quorum.QuorumPeerMain "$WORK/apache/zoo.cfg" \
    >"$WORK/apache.log" 2>&1 &
SERVER_PID=$!
wait_ready "$PORT"
run_matrix apache "$PORT" "$REPS"
stop_server

# ---- zk-server ----------------------------------------------------------------------------
if [[ -z "${SKIP_ZK_SERVER:-}" ]]; then
    PORT=$(free_port)
    write_config "$WORK/zk" "$PORT"
    log "starting zk-server on 127.0.0.1:$PORT"
    "$ZK_SERVER" start-foreground "$WORK/zk/zoo.cfg" >"$WORK/zk-server.log" 2>&1 &
    SERVER_PID=$!
    wait_ready "$PORT"
    run_matrix zk-server "$PORT" "$ZK_REPS"
    stop_server
fi
log "runs took $(( $(date +%s) - T0 )) s"

# ---- report -------------------------------------------------------------------------------
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
virt=""
if grep -qw hypervisor /proc/cpuinfo; then virt=", virtual machine (\`hypervisor\` CPU flag)"; fi
zk_version=$(dpkg-query -W -f='${Version}' zookeeper 2>/dev/null || echo unknown)
java_version=$(java -version 2>&1 | head -1)
kazoo_version=$("$PYTHON" -c 'import kazoo.version as v; print(v.__version__)' 2>/dev/null || echo unknown)
py_version=$("$PYTHON" -c 'import platform; print(platform.python_version())')
rustc_version=$(rustc --version)
git_rev=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n "$(cd "$ROOT" && git status --porcelain 2>/dev/null)" ]]; then git_rev="$git_rev + uncommitted changes"; fi

export RESULTS="$WORK/results.jsonl" NPROC=$(nproc) CPU="$cpu" VIRT="$virt" DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" \
    ZK_VERSION="$zk_version" JAVA_VERSION="$java_version" KAZOO_VERSION="$kazoo_version" \
    PY_VERSION="$py_version" RUSTC_VERSION="$rustc_version" GIT_REV="$git_rev" \
    REPS ZK_REPS RT_OPS PL_OPS KAZOO_PL_OPS INFLIGHT VALUE_SIZE \
    DOCS="$ROOT/docs/benchmarks.md" NO_DOCS="${NO_DOCS:-}"
"$PYTHON" "$HERE/report.py"
