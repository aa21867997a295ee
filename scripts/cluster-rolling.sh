#!/usr/bin/env bash
# Rolling restart of the local cluster under a steady partner load: each replica SIGTERMed and started
# again in turn, through scripts/cluster.sh; prints {"requests","errors","p50_ms","p99_ms",…} and fails on any error.
# Uses a running cluster (scripts/cluster.sh up), or starts one with --replicas 3 and stops it afterwards.
#   scripts/cluster-rolling.sh [--rate 40] [--workers 8] [--settle 3]
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${ATS_CLUSTER_DIR:-$(pwd)/target/cluster}
if [ ! -f "$RUN/ready.json" ]; then
  scripts/cluster.sh up --replicas 3 >/dev/null
  trap 'scripts/cluster.sh down >/dev/null' EXIT
fi
python3 scripts/bench/rolling.py --cluster-dir "$RUN" "$@"
