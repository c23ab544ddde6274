#!/usr/bin/env bash
# Java client benchmark: this project's jar (io.zk over the Rust core) against Apache's Java
# client 3.8 (Maven Central), both running the very same program (ClientBench.java, written
# against org.apache.zookeeper; its imports are rewritten for io.zk), against the same
# zk-server (release) and the same Apache ZooKeeper 3.8 server.
#
#   bench/java/run.sh            # build, run, print the table, update docs/benchmarks.md
#   NO_DOCS=1 bench/java/run.sh  # the same without touching docs/benchmarks.md
#
# Knobs (environment): REPS (3) runs per client, mode and server, interleaved; RT_OPS (20000)
# round-trip getData; PL_OPS (200000) pipelined getData with INFLIGHT (64) outstanding;
# SET_OPS (5000) setData (each a durable write); IDLE (10000) idle clients in one JVM.
# "roundtrip-1cpu" repeats the round trip with the server's threads and the client on CPU 0
# (taskset): unpinned, a round trip mostly pays for waking an idle vCPU in this VM, twice per
# call whatever the client; pinned, it shows what the client itself costs.
# Apache's client opens 3 file descriptors per client (socket, selector) and the hard limit
# here is 20,000, so its 10,000 idle clients run as two JVMs of 5,000 at once and their RSS
# growth is summed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/java"
BENCH=java
REPS=${REPS:-3}
RT_OPS=${RT_OPS:-20000}
PL_OPS=${PL_OPS:-200000}
SET_OPS=${SET_OPS:-5000}
INFLIGHT=${INFLIGHT:-64}
IDLE=${IDLE:-10000}
JVM_FLAGS=(-Xmx512m)
IDLE_FLAGS=(-Xmx2g)
JAR="$ROOT/bindings/java/target/zk-java-0.1.0.jar"
# shellcheck source=../clients.sh
source "$ROOT/bench/clients.sh"

# ---- build ----------------------------------------------------------------------------
log "building zk-server (release) and the jar"
(cd "$ROOT" && cargo build --release -p zk-server --bin zk-server)
mvn -B -q -f "$ROOT/bindings/java/pom.xml" package -DskipTests
APACHE_CP=$(cat "$ROOT/bindings/java/target/reference-classpath.txt")
mkdir -p "$WORK/apache" "$WORK/zk" "$WORK/zk-src/bench"
javac -cp "$APACHE_CP" -d "$WORK/apache" "$HERE/ClientBench.java"
sed 's/org\.apache\.zookeeper/io.zk/g' "$HERE/ClientBench.java" > "$WORK/zk-src/bench/ClientBench.java"
javac -cp "$JAR" -d "$WORK/zk" "$WORK/zk-src/bench/ClientBench.java"
declare -A CLASSPATH=([apache]="$WORK/apache:$APACHE_CP" [zk]="$WORK/zk:$JAR")

# ---- servers --------------------------------------------------------------------------
start_server zk
start_server apache

run() { # client server mode ops [inflight]
    local client=$1 server=$2
    shift 2
    java "${JVM_FLAGS[@]}" -cp "${CLASSPATH[$client]}" bench.ClientBench "127.0.0.1:${PORT[$server]}" "$@" \
        | sed "s/^{/{\"client\":\"$client\",\"server\":\"$server\",/"
}

run_on_cpu0() { # client server ops: the round trip with the server's threads and the client on CPU 0
    local client=$1 server=$2 ops=$3
    pin_server "$server"
    taskset -c 0 java "${JVM_FLAGS[@]}" -cp "${CLASSPATH[$client]}" bench.ClientBench "127.0.0.1:${PORT[$server]}" \
        roundtrip "$ops" | sed "s/^{/{\"client\":\"$client\",\"server\":\"$server\",/; s/\"mode\":\"roundtrip\"/\"mode\":\"roundtrip-1cpu\"/"
    unpin_server "$server"
}

RESULTS="$WORK/results.jsonl"
WHEN=$(date -u '+%Y-%m-%d %H:%M UTC')
# The first run also waits for the servers (the client retries until they answer).
for server in zk apache; do
    log "warming $server"
    run zk "$server" roundtrip 20000 > /dev/null
done
for rep in $(seq 1 "$REPS"); do
    if (( rep % 2 )); then order=(apache zk); else order=(zk apache); fi
    for server in zk apache; do
        for client in "${order[@]}"; do
            log "rep $rep: $client client against $server"
            run "$client" "$server" roundtrip "$RT_OPS" >> "$RESULTS"
            run "$client" "$server" pipelined "$PL_OPS" "$INFLIGHT" >> "$RESULTS"
            run "$client" "$server" setdata "$SET_OPS" >> "$RESULTS"
            run_on_cpu0 "$client" "$server" "$RT_OPS" >> "$RESULTS"
        done
    done
done

log "idle: $IDLE of our clients in one JVM"
java "${IDLE_FLAGS[@]}" -cp "${CLASSPATH[zk]}" bench.ClientBench "127.0.0.1:${PORT[zk]}" idle "$IDLE" \
    | sed 's/^{/{"client":"zk","server":"zk","jvms":1,/' >> "$RESULTS"
log "idle: $IDLE of Apache's clients in two JVMs"
half=$((IDLE / 2))
for part in 1 2; do
    java "${IDLE_FLAGS[@]}" -cp "${CLASSPATH[apache]}" bench.ClientBench "127.0.0.1:${PORT[zk]}" idle "$half" \
        | sed 's/^{/{"client":"apache","server":"zk","jvms":2,/' > "$WORK/idle-apache-$part.json" &
    idle_pids+=($!)
done
for pid in "${idle_pids[@]}"; do wait "$pid"; done
cat "$WORK"/idle-apache-*.json >> "$RESULTS"

report "$RESULTS" "$WHEN" "reps=$REPS rt=$RT_OPS pl=$PL_OPS inflight=$INFLIGHT set=$SET_OPS idle=$IDLE" \
    core bindings/java
