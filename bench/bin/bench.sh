#!/bin/sh
# Raise the descriptor limit (each connection is a descriptor), then run the compiled harness.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
here="$(cd "$(dirname "$0")/.." && pwd)"
exec node "$here/dist/${BENCH_ENTRY:-cli.js}" "$@"
