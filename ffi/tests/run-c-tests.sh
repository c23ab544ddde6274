#!/usr/bin/env bash
# The C side of libzk's tests, run by scripts/test-all:
#   1. cargo build -p zk-ffi -p zk-server -p zk-ha-controller (debug);
#   2. builds the suites ffi/tests/c/test_zk.c and test_elector.c, examples/c/*.c and
#      examples/ha/c twice: against libzk.so, and against libzk.a with AddressSanitizer +
#      LeakSanitizer;
#   3. makes throwaway TLS certificates (openssl, tests/c/certs.sh) and starts
#      target/debug/zk-server start-foreground on a free loopback port, with TLS
#      (secureClientPort, PEM stores, ssl.clientAuth=want) on a second one and SASL
#      DIGEST-MD5 users (a JAAS file); for the SASL test also a zk-server with
#      enforce.auth.schemes=sasl and, when installed, Apache ZooKeeper 3.8 with the same
#      users, plain and enforcing;
#   4. runs each suite (both builds; the ASan run must report no error and no leak; then
#      the shared build under valgrind memcheck, which also sees invalid accesses inside
#      the Rust code that ASan does not instrument, such as a read of a freed handle) and
#      every example (both builds); the suite pauses (SIGSTOP), kills and restarts the
#      server through server.sh to test close and reconnects;
#   5. the HA controllers (examples/ha): Hadoop's exit codes of the C one, and failovers
#      between the C one (ASan build) and the Rust one guarding dummy services, checked on
#      a ledger of transitions and fencing;
#   6. make -C ffi install PREFIX=<tmp>, then builds examples/c with CMake through
#      pkg-config and runs one; compiles and runs a C++ use of zk.h when a C++ compiler
#      is installed;
#   7. stops the server.
# Needs: a C compiler with libasan (gcc), make, cmake, pkg-config, openssl, valgrind
# (ZK_C_TESTS_NO_VALGRIND=1 skips the valgrind pass).
#   ffi/tests/run-c-tests.sh [TEST_NAME]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
CTL="$ROOT/ffi/tests/c/server.sh"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/zk-ctests.XXXXXX")"
PORT=""
ENFORCED_PORT=""
HA_PIDS=()
APACHE_PIDS=()

say() { printf '\n--> [c-tests] %s\n' "$*"; }
die() { printf '\n--> [c-tests] FAILED: %s\n' "$*" >&2; exit 1; }

cleanup() {
    local status=$?
    for pid in "${HA_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    [ -n "$PORT" ] && "$CTL" "$WORK/server" "$PORT" stop || true
    [ -n "$ENFORCED_PORT" ] && "$CTL" "$WORK/enforced" "$ENFORCED_PORT" stop || true
    for pid in "${APACHE_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    if [ "$status" -ne 0 ] && [ -f "$WORK/server/server.log" ]; then
        echo "--- zk-server log (last 40 lines) ---" >&2
        tail -40 "$WORK/server/server.log" >&2 || true
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT

for tool in cc make cmake pkg-config; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (Debian: apt-get install -y gcc make cmake pkg-config)"
done

free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    die "no free port"
}

# ---- the HA controllers (examples/ha): the C one (ASan build) against the Rust one ----
HA_DIR="$WORK/ha"

# Starts controller ID (binary BIN) guarding a dummy service: healthy while $HA_DIR/ID.healthy
# exists; its transitions and its fencing go to $HA_DIR/ledger.
ha_start() {
    local id=$1 bin=$2
    "$bin" --zk "$ZK_TEST_HOSTS" --nameservice "$HA_NS" --id "$id" --host 127.0.0.1 --port 8020 \
        --session-timeout-ms 2000 --check-interval-ms 100 --check-cmd "test -f $HA_DIR/$id.healthy" \
        --on-active "echo '$id active' >> $HA_DIR/ledger" \
        --on-standby "echo '$id standby' >> $HA_DIR/ledger" \
        --fence 'shell(false)' \
        --fence "shell(echo \"fence \$target_namenodeid at \$target_address by $id\" >> $HA_DIR/ledger)" \
        >"$HA_DIR/$id.out" 2>&1 &
    HA_PIDS+=($!)
    eval "HA_PID_$id=$!"
}

# Waits (60 s at most) until FILE has the line LINE.
ha_wait() {
    for _ in $(seq 1 600); do
        grep -qxF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    for f in "$HA_DIR"/*.out "$HA_DIR/ledger"; do echo "--- $f" >&2; cat "$f" >&2 || true; done
    die "no line '$2' in $1"
}

# Waits until the ledger has as many lines as expected, then compares it.
ha_ledger() {
    local want
    want=$(printf '%s\n' "$@")
    for _ in $(seq 1 600); do
        [ "$(wc -l <"$HA_DIR/ledger" 2>/dev/null || echo 0)" -ge $# ] && break
        sleep 0.1
    done
    [ "$(cat "$HA_DIR/ledger")" = "$want" ] || {
        printf -- '--- ledger:\n%s\n--- expected:\n%s\n' "$(cat "$HA_DIR/ledger")" "$want" >&2
        die "HA ledger"
    }
}

ha_code() { # WANT NAME ARGS...: runs a controller to its end, checks its exit code
    local want=$1 name=$2 got=0
    shift 2
    "$@" </dev/null >"$HA_DIR/$name.out" 2>&1 || got=$?
    [ "$got" -eq "$want" ] || { cat "$HA_DIR/$name.out" >&2; die "HA controller $name exited $got, want $want"; }
}

ha_check() {
    local c="$WORK/build/ha_controller_asan" rust="$ROOT/target/debug/zk-ha-controller"
    HA_NS="ctest-$$"
    mkdir -p "$HA_DIR"
    say "HA controllers: Hadoop's exit codes (C)"
    ha_code 0 format "$c" --zk "$ZK_TEST_HOSTS" --nameservice "$HA_NS" --format --non-interactive
    ha_code 2 denied "$c" --zk "$ZK_TEST_HOSTS" --nameservice "$HA_NS" --format --non-interactive
    ha_code 2 asked "$c" --zk "$ZK_TEST_HOSTS" --nameservice "$HA_NS" --format
    ha_code 0 forced "$c" --zk "$ZK_TEST_HOSTS" --nameservice "$HA_NS" --format --force
    ha_code 3 noparent "$c" --zk "$ZK_TEST_HOSTS" --nameservice "none-$$" --id x --check-cmd true --fence true
    ha_code 4 nofence "$c" --zk "$ZK_TEST_HOSTS" --nameservice "$HA_NS" --id x --check-cmd true
    ha_code 6 nozk "$c" --zk "127.0.0.1:$(free_port)" --nameservice x --format --session-timeout-ms 1000
    ha_code 1 usage "$c" --zk "$ZK_TEST_HOSTS" --bogus

    say "HA controllers: failovers between the C controller (nn1) and the Rust one (nn2)"
    touch "$HA_DIR/nn1.healthy"
    ha_start nn1 "$c"
    ha_wait "$HA_DIR/nn1.out" "[nn1] active"
    touch "$HA_DIR/nn2.healthy"
    ha_start nn2 "$rust"
    ha_wait "$HA_DIR/nn2.out" "[nn2] standby"
    # nn1's service turns unhealthy: nn1 quits needing fencing; nn2 fences it, then leads.
    rm "$HA_DIR/nn1.healthy"
    ha_wait "$HA_DIR/nn2.out" "[nn2] active"
    ha_wait "$HA_DIR/nn2.out" "[nn2] fence nn1 ok"
    # nn1 is back as standby; nn2's controller is killed: nn1 fences nn2 once nn2's
    # session expires, then leads.
    touch "$HA_DIR/nn1.healthy"
    ha_wait "$HA_DIR/nn1.out" "[nn1] standby"
    kill -9 "$HA_PID_nn2"
    ha_wait "$HA_DIR/nn1.out" "[nn1] active"
    ha_wait "$HA_DIR/nn1.out" "[nn1] fence nn2 ok"
    ha_ledger "nn1 active" "nn2 standby" "fence nn1 at 127.0.0.1:8020 by nn2" "nn2 active" \
        "nn1 standby" "fence nn2 at 127.0.0.1:8020 by nn1" "nn1 active"
    # SIGTERM: exit 0, and (ASan build) no sanitizer report.
    kill -TERM "$HA_PID_nn1"
    wait "$HA_PID_nn1" || die "the C controller exited $? on SIGTERM"
    ha_wait "$HA_DIR/nn1.out" "[nn1] exit on SIGTERM"
    ! grep -q Sanitizer "$HA_DIR"/*.out || { cat "$HA_DIR"/*.out >&2; die "sanitizer report from the C controller"; }
}

say "cargo build -p zk-ffi -p zk-server -p zk-ha-controller"
cargo build -p zk-ffi -p zk-server -p zk-ha-controller

say "build the suite and the examples (shared, and static + ASan)"
make -s -C ffi/tests/c OUT="$WORK/build"

command -v openssl >/dev/null 2>&1 || die "openssl not found (Debian: apt-get install -y openssl)"
say "TLS certificates (openssl)"
export ZK_TEST_TLS_DIR="$WORK/certs"
ffi/tests/c/certs.sh "$ZK_TEST_TLS_DIR"

# SASL DIGEST-MD5 users for every server here (the C suite's test "sasl").
export ZK_TEST_JAAS="$WORK/server-jaas.conf"
cat >"$ZK_TEST_JAAS" <<'JAAS'
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_bob="bobsecret"
    user_alice="alicesecret";
};
JAAS
SASL_ENFORCE='enforce.auth.enabled=true
enforce.auth.schemes=sasl'

# Starts Apache ZooKeeper 3.8 in DIR on PORT with the JAAS users and EXTRA zoo.cfg lines.
APACHE_CLASSPATH=/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar:/usr/share/java/slf4j-simple.jar
apache_start() {
    local dir=$1 port=$2 extra=$3
    mkdir -p "$dir/data"
    cat >"$dir/zoo.cfg" <<CFG
tickTime=500
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
maxClientCnxns=0
authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider
$extra
CFG
    java -XX:+UseSerialGC -Xmx256m -XX:TieredStopAtLevel=1 \
        "-Djava.security.auth.login.config=$ZK_TEST_JAAS" -cp "$APACHE_CLASSPATH" \
        org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
        >"$dir/server.log" 2>&1 </dev/null &
    APACHE_PIDS+=($!)
}

PORT=$(free_port)
export ZK_TEST_SECURE_PORT=$(free_port)
while [ "$ZK_TEST_SECURE_PORT" = "$PORT" ]; do ZK_TEST_SECURE_PORT=$(free_port); done
say "start zk-server on 127.0.0.1:$PORT (TLS on $ZK_TEST_SECURE_PORT)"
"$CTL" "$WORK/server" "$PORT" start
export ZK_TEST_HOSTS="127.0.0.1:$PORT"
export ZK_TEST_SERVER_CTL="$CTL $WORK/server $PORT"
ENFORCED_PORT=$(free_port)
while [ "$ENFORCED_PORT" = "$PORT" ] || [ "$ENFORCED_PORT" = "$ZK_TEST_SECURE_PORT" ]; do ENFORCED_PORT=$(free_port); done
say "SASL servers: zk-server enforcing sasl on $ENFORCED_PORT; Apache ZooKeeper 3.8 plain and enforcing"
ZK_TEST_SECURE_PORT="" ZK_TEST_EXTRA_CFG="$SASL_ENFORCE" "$CTL" "$WORK/enforced" "$ENFORCED_PORT" start
export ZK_TEST_SASL_ENFORCED_HOSTS="127.0.0.1:$ENFORCED_PORT"
if [ -f /usr/share/java/zookeeper.jar ] && command -v java >/dev/null 2>&1; then
    # The C suite waits (bounded) until they serve a SASL login.
    taken=" $PORT $ZK_TEST_SECURE_PORT $ENFORCED_PORT "
    for name in apache apache-enforced; do
        port=$(free_port)
        while [[ "$taken" == *" $port "* ]]; do port=$(free_port); done
        taken="$taken$port "
        if [ "$name" = apache ]; then
            apache_start "$WORK/$name" "$port" ""
            export ZK_TEST_APACHE_SASL_HOSTS="127.0.0.1:$port"
        else
            apache_start "$WORK/$name" "$port" "$SASL_ENFORCE"
            export ZK_TEST_APACHE_SASL_ENFORCED_HOSTS="127.0.0.1:$port"
        fi
    done
else
    echo "note: Apache ZooKeeper is not installed; the SASL test runs against zk-server only"
fi

# Two suites: test_zk (the client) and test_elector (zk_elector). A TEST_NAME runs only
# the suite that has it.
SUITES=(test_zk test_elector)
if [ $# -gt 0 ]; then
    if "$WORK/build/test_elector" --list | grep -qx -- "$1"; then
        SUITES=(test_elector)
    else
        SUITES=(test_zk)
    fi
fi

# No suppressions: the process-wide runtime is reachable from a static, so LSan does
# not count it; anything LSan reports is a real leak.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0"
for suite in "${SUITES[@]}"; do
    say "$suite (libzk.so)"
    timeout 600 "$WORK/build/$suite" "$@" || die "C suite $suite"

    say "$suite under AddressSanitizer + LeakSanitizer (libzk.a)"
    timeout 600 "$WORK/build/${suite}_asan" "$@" 2>"$WORK/asan.log" || {
        cat "$WORK/asan.log" >&2
        die "C suite $suite under ASan"
    }
    cat "$WORK/asan.log" >&2
    ! grep -q "Sanitizer" "$WORK/asan.log" || die "sanitizer report in the ASan run of $suite"

    if [ -z "${ZK_C_TESTS_NO_VALGRIND:-}" ]; then
        command -v valgrind >/dev/null 2>&1 ||
            die "valgrind not found (Debian: apt-get install -y valgrind; or ZK_C_TESTS_NO_VALGRIND=1)"
        say "$suite under valgrind memcheck (libzk.so)"
        timeout 900 valgrind -q --error-exitcode=99 --leak-check=full \
            --errors-for-leak-kinds=definite --show-leak-kinds=definite \
            --suppressions="$ROOT/ffi/tests/c/valgrind.supp" \
            "$WORK/build/$suite" "$@" || die "C suite $suite under valgrind"
    fi
done

if [ $# -eq 0 ]; then
    # Each example drives itself, checks what it saw and ends with "<name>: ok".
    for example in "$ROOT"/examples/c/*.c; do
        name=$(basename "$example" .c)
        say "example $name (shared, then ASan)"
        for build in "$name" "${name}_asan"; do
            timeout 120 "$WORK/build/$build" "$ZK_TEST_HOSTS" >"$WORK/$build.out" 2>&1 ||
                { cat "$WORK/$build.out" >&2; die "example $build"; }
            grep -q "$name: ok" "$WORK/$build.out" || { cat "$WORK/$build.out" >&2; die "example $build: no '$name: ok'"; }
            ! grep -q Sanitizer "$WORK/$build.out" || { cat "$WORK/$build.out" >&2; die "example $build: sanitizer report"; }
        done
        tail -1 "$WORK/$name.out"
    done

    ha_check

    say "make -C ffi install PREFIX=$WORK/prefix; examples/c through CMake + pkg-config"
    make -s -C ffi install PREFIX="$WORK/prefix"
    test -L "$WORK/prefix/lib/libzk.so.0" -a -f "$WORK/prefix/lib/libzk.a" -a -f "$WORK/prefix/include/zk.h"
    [ "$(objdump -p "$WORK/prefix/lib/libzk.so.0" | awk '/SONAME/ {print $2}')" = libzk.so.0 ] ||
        die "libzk.so has no SONAME libzk.so.0"
    PKG_CONFIG_PATH="$WORK/prefix/lib/pkgconfig" cmake -S examples/c -B "$WORK/cmake" >/dev/null
    cmake --build "$WORK/cmake" >/dev/null
    timeout 120 "$WORK/cmake/lock" "$ZK_TEST_HOSTS" || die "CMake-built example lock"
    # the static library through pkg-config --static
    cc -std=c11 -o "$WORK/lock_static" examples/c/lock.c \
        $(PKG_CONFIG_PATH="$WORK/prefix/lib/pkgconfig" pkg-config --cflags zk) \
        "$WORK/prefix/lib/libzk.a" \
        $(PKG_CONFIG_PATH="$WORK/prefix/lib/pkgconfig" pkg-config --static --libs-only-l zk | sed 's/-lzk//') -pthread
    timeout 120 "$WORK/lock_static" "$ZK_TEST_HOSTS" || die "statically linked example lock"

    # zk.h from C++ (cpp_compat, ZK_OPTIONS_INIT's C++ form), linked against libzk.so.
    if command -v c++ >/dev/null 2>&1; then
        say "zk.h from C++"
        cat >"$WORK/cxx.cc" <<'CXX'
#include "zk.h"
#include <cstring>
int main() {
    zk_options o = ZK_OPTIONS_INIT;
    o.session_timeout_ms = 1000;
    zk_elector_config c = ZK_ELECTOR_CONFIG_INIT;
    int state = 0;
    bool ok = o.size == sizeof o && zk_state(nullptr, &state) == ZK_BADARGUMENTS &&
              std::strlen(zk_version()) > 0 && c.size == sizeof c && c.become_active == nullptr;
    return ok ? 0 : 1;
}
CXX
        c++ -std=c++11 -Wall -Wextra -Werror -o "$WORK/cxx" "$WORK/cxx.cc" \
            $(PKG_CONFIG_PATH="$WORK/prefix/lib/pkgconfig" pkg-config --cflags --libs zk) \
            -Wl,-rpath,"$WORK/prefix/lib"
        "$WORK/cxx" || die "zk.h from C++"
    else
        echo "note: no C++ compiler (apt-get install g++): zk.h from C++ not checked"
    fi
fi

say "all C tests passed"
