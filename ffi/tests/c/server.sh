#!/usr/bin/env bash
# Controls the zk-server the C tests run against.
#   server.sh DIR PORT start|stop|crash|restart|pause|resume
# DIR holds zoo.cfg, the data directory, server.log and server.pid. ZK_SERVER_BIN names the
# binary (default: target/debug/zk-server of this repository). With ZK_TEST_TLS_DIR (files
# made by certs.sh) and ZK_TEST_SECURE_PORT the server also serves TLS on that port. With
# ZK_TEST_JAAS (a JAAS file with a Server section) it serves SASL DIGEST-MD5, given as
# zkServer.sh gives it, -Djava.security.auth.login.config in SERVER_JVMFLAGS.
# ZK_TEST_EXTRA_CFG (zoo.cfg lines) is appended to zoo.cfg.
set -euo pipefail
dir=$1 port=$2 cmd=$3
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${ZK_SERVER_BIN:-$here/../../../target/debug/zk-server}"

start() {
    if [ -f "$dir/server.pid" ] && kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
        return 0
    fi
    mkdir -p "$dir/data"
    cat >"$dir/zoo.cfg" <<CFG
tickTime=500
minSessionTimeout=1000
maxSessionTimeout=60000
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
extendedTypesEnabled=true
maxClientCnxns=0
4lw.commands.whitelist=*
CFG
    # TLS on a second port when the caller made certificates (ffi/tests/c/certs.sh).
    if [ -n "${ZK_TEST_TLS_DIR:-}" ] && [ -n "${ZK_TEST_SECURE_PORT:-}" ]; then
        cat >>"$dir/zoo.cfg" <<CFG
secureClientPort=$ZK_TEST_SECURE_PORT
secureClientPortAddress=127.0.0.1
serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory
ssl.keyStore.location=$ZK_TEST_TLS_DIR/server-keystore.pem
ssl.keyStore.type=PEM
ssl.trustStore.location=$ZK_TEST_TLS_DIR/ca.crt
ssl.trustStore.type=PEM
ssl.clientAuth=want
CFG
    fi
    if [ -n "${ZK_TEST_EXTRA_CFG:-}" ]; then
        printf '%s\n' "$ZK_TEST_EXTRA_CFG" >>"$dir/zoo.cfg"
    fi
    local flags="${SERVER_JVMFLAGS:-}"
    if [ -n "${ZK_TEST_JAAS:-}" ]; then
        flags="$flags -Djava.security.auth.login.config=$ZK_TEST_JAAS"
    fi
    SERVER_JVMFLAGS="$flags" "$bin" start-foreground "$dir/zoo.cfg" >>"$dir/server.log" 2>&1 </dev/null &
    echo $! >"$dir/server.pid"
    for _ in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        kill -0 "$(cat "$dir/server.pid")" 2>/dev/null || { cat "$dir/server.log" >&2; exit 1; }
        sleep 0.05
    done
    echo "zk-server did not listen on $port" >&2
    exit 1
}

stop() {
    [ -f "$dir/server.pid" ] || return 0
    local pid
    pid=$(cat "$dir/server.pid")
    kill -CONT "$pid" 2>/dev/null || true # a paused server cannot act on SIGTERM
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$dir/server.pid"
}

# A crash: SIGKILL, so nothing is closed or expired on the way down.
crash() {
    [ -f "$dir/server.pid" ] || return 0
    local pid
    pid=$(cat "$dir/server.pid")
    kill -9 "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    rm -f "$dir/server.pid"
}

# A pause: SIGSTOP, so connections stay open and nothing is answered until resume.
signal() {
    [ -f "$dir/server.pid" ] || { echo "no server running" >&2; exit 1; }
    kill "-$1" "$(cat "$dir/server.pid")"
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    crash) crash ;;
    restart) stop; start ;;
    pause) signal STOP ;;
    resume) signal CONT ;;
    *) echo "usage: server.sh DIR PORT start|stop|crash|restart|pause|resume" >&2; exit 2 ;;
esac
