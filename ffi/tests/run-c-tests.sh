#!/usr/bin/env bash
# The C side of libzk's tests, run by scripts/test-all:
#   1. cargo build -p zk-ffi -p zk-server (debug);
#   2. builds ffi/tests/c/test_zk.c and examples/c/*.c twice: against libzk.so, and
#      against libzk.a with AddressSanitizer + LeakSanitizer;
#   3. starts target/debug/zk-server start-foreground on a free loopback port;
#   4. runs the suite (both builds; the ASan run must report no error and no leak; then
#      the shared build under valgrind memcheck, which also sees invalid accesses inside
#      the Rust code that ASan does not instrument) and every example (both builds);
#   5. make -C ffi install PREFIX=<tmp>, then builds examples/c with CMake through
#      pkg-config and runs one;
#   6. stops the server.
# Needs: a C compiler with libasan (gcc), make, cmake, pkg-config, valgrind
# (ZK_C_TESTS_NO_VALGRIND=1 skips the valgrind pass).
#   ffi/tests/run-c-tests.sh [TEST_NAME]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
CTL="$ROOT/ffi/tests/c/server.sh"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/zk-ctests.XXXXXX")"
PORT=""

say() { printf '\n--> [c-tests] %s\n' "$*"; }
die() { printf '\n--> [c-tests] FAILED: %s\n' "$*" >&2; exit 1; }

cleanup() {
    local status=$?
    [ -n "$PORT" ] && "$CTL" "$WORK/server" "$PORT" stop || true
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

say "cargo build -p zk-ffi -p zk-server"
cargo build -p zk-ffi -p zk-server

say "build the suite and the examples (shared, and static + ASan)"
make -s -C ffi/tests/c OUT="$WORK/build"

PORT=$(free_port)
say "start zk-server on 127.0.0.1:$PORT"
"$CTL" "$WORK/server" "$PORT" start
export ZK_TEST_HOSTS="127.0.0.1:$PORT"
export ZK_TEST_SERVER_CTL="$CTL $WORK/server $PORT"

say "test suite (libzk.so)"
timeout 600 "$WORK/build/test_zk" "$@" || die "C test suite"

say "test suite under AddressSanitizer + LeakSanitizer (libzk.a)"
# No suppressions: the process-wide runtime is reachable from a static, so LSan does
# not count it; anything LSan reports is a real leak.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0"
timeout 600 "$WORK/build/test_zk_asan" "$@" 2>"$WORK/asan.log" || {
    cat "$WORK/asan.log" >&2
    die "C test suite under ASan"
}
cat "$WORK/asan.log" >&2
! grep -q "Sanitizer" "$WORK/asan.log" || die "sanitizer report in the ASan run"

if [ -z "${ZK_C_TESTS_NO_VALGRIND:-}" ]; then
    command -v valgrind >/dev/null 2>&1 ||
        die "valgrind not found (Debian: apt-get install -y valgrind; or ZK_C_TESTS_NO_VALGRIND=1)"
    say "test suite under valgrind memcheck (libzk.so)"
    timeout 900 valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite --show-leak-kinds=definite \
        "$WORK/build/test_zk" "$@" || die "C test suite under valgrind"
fi

if [ $# -eq 0 ]; then
    for example in "$ROOT"/examples/c/*.c; do
        name=$(basename "$example" .c)
        say "example $name (shared, then ASan)"
        timeout 120 "$WORK/build/$name" "$ZK_TEST_HOSTS" || die "example $name"
        timeout 120 "$WORK/build/${name}_asan" "$ZK_TEST_HOSTS" || die "example $name under ASan"
    done

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
fi

say "all C tests passed"
