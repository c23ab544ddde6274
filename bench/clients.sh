# Sourced by the language client benchmarks (bench/java/run.sh, bench/node/run.sh): what they
# share around their own clients. Before sourcing, set ROOT (the repository), HERE (the
# benchmark's folder) and BENCH (its name, for the log and the temp folder).
#
# Gives: WORK, a temp folder removed at exit together with every process in PIDS;
# start_server zk|apache (a standalone server on a free loopback port: PORT[kind],
# SERVER_PID[kind]); pin_server / unpin_server (all the server's threads on CPU 0, and back);
# report RESULTS WHEN META PATHS... (the table, the plot and docs/benchmarks.md through the
# benchmark's report.py; NO_DOCS=1 leaves the doc alone).

PYTHON=${PYTHON:-"$ROOT/bench/.venv/bin/python"}
APACHE_SERVER_CP=/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar:/usr/share/java/slf4j-simple.jar
ZK_SERVER=${ZK_SERVER:-"$ROOT/target/release/zk-server"}

WORK=$(mktemp -d "/tmp/zk-$BENCH-bench.XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "[$BENCH-bench] $*" >&2; }

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
start_server() { # kind: zk (release zk-server) or apache (Debian's 3.8 jars)
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

ALL_CPUS=$(printf '%x' $(( (1 << $(nproc)) - 1 )))
pin_server() { taskset -a -p 1 "${SERVER_PID[$1]}" > /dev/null; }
unpin_server() { taskset -a -p "$ALL_CPUS" "${SERVER_PID[$1]}" > /dev/null; }

report() { # results when meta paths...: paths whose uncommitted changes the version names
    local results=$1 when=$2 meta=$3
    shift 3
    cp "$results" "$HERE/last-results.jsonl"
    if [[ ! -x "$PYTHON" ]]; then
        log "no $PYTHON: python3 -m venv bench/.venv && bench/.venv/bin/pip install matplotlib"
        PYTHON=python3
    fi
    local args=()
    [[ -n "${NO_DOCS:-}" ]] && args+=(--no-docs)
    "$PYTHON" "$HERE/report.py" "$results" "${args[@]}" --when "$when" --meta "$meta" \
        --versions "$(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- "$@" || echo ' + uncommitted changes')"
}
