#!/usr/bin/env bash
# Runs CI (.ci/run) on fresh clones of the current commit while CPU hogs keep every core busy,
# to show the suite holds under load. Stops at the first red run.
#
#   tools/stress-ci.sh            3 runs under load (one busy-loop process per core)
#   RUNS=5 HOGS=0 tools/stress-ci.sh   5 runs on a quiet machine
#
# Each run clones the repository's HEAD into a temporary folder (uncommitted work is not tested),
# so it needs what .ci/run needs: Node, npm, and Redis/PostgreSQL reachable or installed.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
runs="${RUNS:-3}"
hogs="${HOGS:-$(nproc)}"
work="$(mktemp -d)"
hog_pids=()

cleanup() {
  for pid in "${hog_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 1 "$hogs"); do
  # a pure busy loop at normal priority: competes with the tests for every core
  node -e 'for (;;) {}' &
  hog_pids+=("$!")
done
echo "[stress-ci] $runs run(s) of .ci/run on fresh clones of $(git -C "$repo" rev-parse --short HEAD), $hogs CPU hog(s)"

for run in $(seq 1 "$runs"); do
  clone="$work/run-$run"
  git clone -q "$repo" "$clone"
  started=$(date +%s)
  if bash "$clone/.ci/run" >"$work/run-$run.log" 2>&1; then
    echo "[stress-ci] run $run/$runs passed in $(($(date +%s) - started)) s: $(tail -n 1 "$work/run-$run.log")"
  else
    cp "$work/run-$run.log" "$repo/stress-ci-failure.log"
    echo "[stress-ci] run $run/$runs FAILED after $(($(date +%s) - started)) s; log: $repo/stress-ci-failure.log"
    exit 1
  fi
  rm -rf "$clone"
done
echo "[stress-ci] all $runs run(s) passed"
