#!/usr/bin/env bash
# Miri: the fast subset of the tests (every test not marked `#[cfg_attr(miri, ignore = "...")]`), which covers every
# module with unsafe code (tests/miri.rs says which test covers what). Installs what it needs; CI runs it.
#
# Two kinds of runs, two at a time (MIRI_JOBS):
#   - every test binary under Miri's default model, Stacked Borrows, except the tests of the CrossbeamEpoch adapter;
#   - those (every test whose name contains "crossbeam") under Tree Borrows, because crossbeam-epoch itself violates
#     Stacked Borrows (crossbeam-rs/crossbeam#545); -Zmiri-permissive-provenance silences the warnings about
#     crossbeam-epoch's integer-to-pointer casts (its tagged pointers).
#
# Environment: MIRIFLAGS is appended to every run (e.g. MIRIFLAGS=-Zmiri-seed=7 to try another schedule, or
# MIRIFLAGS=-Zmiri-many-seeds=0..8 for several: slower). RUSTFLAGS passes through to the build (e.g.
# RUSTFLAGS='--cfg segpool_mutant="relaxed_publish"' with MIRI_TARGET_DIR=target/miri-mutant). MIRI_TOOLCHAIN
# (default nightly), MIRI_TARGET_DIR (default target/miri), MIRI_JOBS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

toolchain="${MIRI_TOOLCHAIN:-nightly}"
target_dir="${MIRI_TARGET_DIR:-target/miri}"
jobs="${MIRI_JOBS:-2}"
extra_flags="${MIRIFLAGS:-}"
logs="$target_dir/logs"

say() { printf '==> %s\n' "$*"; }

say "installing Miri ($toolchain)"
rustup component add miri rust-src --toolchain "$toolchain" >/dev/null
cargo "+$toolchain" miri setup >/dev/null
cargo "+$toolchain" miri --version

started=$(date +%s)
say "building the test binaries under Miri"
cargo "+$toolchain" miri test --target-dir "$target_dir" --tests --no-run --quiet
rm -rf "$logs"
mkdir -p "$logs"

stacked=""
tree="-Zmiri-tree-borrows -Zmiri-permissive-provenance"

# One job per line: name|MIRIFLAGS|cargo arguments|test-binary arguments. Slowest first, so that the two lanes
# finish together; a test file not listed here still runs, last (see below).
declare -a job_list=(
    "drops|$stacked|--test drops|--skip crossbeam"
    "miri|$stacked|--test miri|--skip crossbeam"
    "reference|$stacked|--test reference|--skip crossbeam"
    "exhaustion|$stacked|--test exhaustion|--skip crossbeam"
    "config|$stacked|--test config|--skip crossbeam"
    "stall|$stacked|--test stall|--skip crossbeam"
    "epoch|$stacked|--test epoch|--skip crossbeam"
    "hazard|$stacked|--test hazard|--skip crossbeam"
    "doc|$stacked|--doc|"
    "crossbeam.reference|$tree|--test reference|crossbeam"
    "crossbeam.drops|$tree|--test drops|crossbeam"
    "crossbeam.miri|$tree|--test miri|crossbeam"
    "crossbeam.stall|$tree|--test stall|crossbeam"
    "crossbeam.config|$tree|--test config|crossbeam"
    "crossbeam.exhaustion|$tree|--test exhaustion|crossbeam"
)
for file in tests/*.rs; do
    name="$(basename "$file" .rs)"
    if ! printf '%s\n' "${job_list[@]}" | grep -q "^$name|"; then
        job_list+=("$name|$stacked|--test $name|--skip crossbeam")
        if grep -q crossbeam "$file"; then
            job_list+=("crossbeam.$name|$tree|--test $name|crossbeam")
        fi
    fi
done

# Runs one job; its output goes to $logs/<name>.log, its outcome to $logs/<name>.status.
run_job() {
    local name="$1" flags="$2" cargo_args="$3" test_args="$4"
    local begin end status=0
    begin=$(date +%s)
    # Word splitting of the argument strings is intended (they hold several arguments, none with spaces).
    # shellcheck disable=SC2086
    MIRIFLAGS="$flags $extra_flags" cargo "+$toolchain" miri test --target-dir "$target_dir" $cargo_args \
        -- $test_args >"$logs/$name.log" 2>&1 || status=$?
    end=$(date +%s)
    echo "$status $((end - begin))" >"$logs/$name.status"
}

say "running ${#job_list[@]} jobs, $jobs at a time (logs in $logs)"
running=0
for job in "${job_list[@]}"; do
    IFS='|' read -r name flags cargo_args test_args <<<"$job"
    if ((running >= jobs)); then
        wait -n || true
        running=$((running - 1))
    fi
    run_job "$name" "$flags" "$cargo_args" "$test_args" &
    running=$((running + 1))
done
wait

failed=()
printf '\n%-22s %-7s %6s  %s\n' "job" "status" "secs" "tests"
for job in "${job_list[@]}"; do
    IFS='|' read -r name _ <<<"$job"
    read -r status seconds <"$logs/$name.status"
    # Sum the libtest summaries ("test result: ok. 5 passed; 0 failed; 3 ignored; ...").
    # (A job that Miri aborted has no summary: `|| true` keeps `set -e` from ending the report there.)
    counts=$({ grep -ho 'test result: .*' "$logs/$name.log" || true; } |
        awk '{p += $4; f += $6; i += $8} END {printf "%d passed, %d failed, %d ignored", p, f, i}')
    if [[ "$status" == 0 ]]; then
        printf '%-22s %-7s %6s  %s\n' "$name" "ok" "$seconds" "$counts"
    else
        printf '%-22s %-7s %6s  %s\n' "$name" "FAILED" "$seconds" "$counts"
        failed+=("$name")
    fi
done
printf 'total %ss (build included)\n' "$(($(date +%s) - started))"

if ((${#failed[@]} > 0)); then
    for name in "${failed[@]}"; do
        printf '\n==> %s failed; the end of %s:\n' "$name" "$logs/$name.log"
        tail -n 60 "$logs/$name.log"
    done
    printf '\nMiri: %d job(s) failed: %s\n' "${#failed[@]}" "${failed[*]}"
    exit 1
fi
echo "Miri: all passed"
