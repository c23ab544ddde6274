#!/usr/bin/env bash
# Benchmark of zk's Python package against kazoo 2.11 (on demand, not part of the tests):
# builds a release zk-server and a release build of bindings/python into a venv of its own
# (bench/python/.venv, with kazoo 2.11 and matplotlib), then runs run.py, which measures
# both clients against zk-server and Apache ZooKeeper 3.8 and rewrites the
# "## Python client vs kazoo" section at the end of docs/benchmarks.md (and its plot).
#
#   bench/python/run.sh [--reps N] [--no-docs] [--servers zk,apache]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$HERE/.venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check "kazoo==2.11.0" matplotlib "maturin>=1.9,<2"
export PYO3_PYTHON="$VENV/bin/python"
(cd "$ROOT" && cargo build --release -p zk-server)
(cd "$ROOT" && "$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps ./bindings/python)
export ZK_SERVER_BIN="$ROOT/target/release/zk-server"
exec "$VENV/bin/python" "$HERE/run.py" "$@"
