#!/usr/bin/env bash
# Benchmark harness: see benches/bench.py (or `benches/run.sh --help`) for what it does.
#
#   benches/run.sh                          # every program, every engine, 3 runs each
#   benches/run.sh --bp target/release/bp   # an existing bp binary instead of building
#   benches/run.sh fib nbody                # a subset
#   benches/run.sh --out table.md           # the Markdown table into a file
exec python3 "$(dirname "$0")/bench.py" "$@"
