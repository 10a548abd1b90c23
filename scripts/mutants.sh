#!/usr/bin/env bash
# Mutation run: proves the verification suites have teeth.
#
# Every seeded bug in src/ sits behind `cfg!(segpool_mutant = "NAME")`. For each one, this script builds the crate
# with that bug and runs the checkers in order of cost: loom, shuttle, the std tests, then Miri, stopping at the
# first that fails (`--all` runs every checker, to see which of them catch what). It prints a table: mutant, the
# checker and test that killed it, and the time that took (build included). A mutant that survives every checker
# is a gap in the suites; the script exits non-zero then.
#
# Usage: scripts/mutants.sh [--all] [--checkers=loom,shuttle,tests,miri] [MUTANT...]
#        (default: every mutant found in src/, every checker; `--all --checkers=shuttle,tests` asks which of those
#        two catch each mutant on their own)
#        scripts/mutants.sh --quick
#        (CI's leg: each mutant listed in scripts/quick-mutants.txt against its known cheapest killer only, in the
#        `cargo test` profile and target directory, so that the dependencies CI built already serve; it fails unless
#        every listed test fails. A few minutes.)
# Time here (2 cores): the default run takes about 9 minutes for the ten mutants, all killed by loom, plus the
# first build of the dependencies; `--all --checkers=shuttle,tests` about 15. Results also go to
# target/mutants/results.md; logs to target/mutants/<mutant>.<checker>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

all=false
quick=false
mutants=()
checker_names=(loom shuttle tests miri)
for arg in "$@"; do
    case "$arg" in
        --all) all=true ;;
        --quick) quick=true ;;
        --checkers=*)
            IFS=',' read -r -a checker_names <<<"${arg#--checkers=}"
            for checker in "${checker_names[@]}"; do
                case "$checker" in
                    loom | shuttle | tests | miri) ;;
                    *) echo "unknown checker: $checker (expected loom, shuttle, tests or miri)" >&2; exit 2 ;;
                esac
            done
            ;;
        -h | --help) sed -n '2,19p' "$0"; exit 0 ;;
        -*) echo "unknown option: $arg (expected --all, --checkers=... or mutant names)" >&2; exit 2 ;;
        *) mutants+=("$arg") ;;
    esac
done
known=$(grep -rhoE 'segpool_mutant = "[a-z_]+"' src | sed -E 's/.*"(.*)"/\1/' | sort -u)
if [ ${#mutants[@]} -eq 0 ]; then
    mapfile -t mutants <<<"$known"
fi
for mutant in "${mutants[@]}"; do
    if ! grep -qx "$mutant" <<<"$known"; then
        echo "no mutant named '$mutant' in src/ (known: $(echo "$known" | tr '\n' ' '))" >&2
        exit 2
    fi
done

out=target/mutants
mkdir -p "$out"
# The mutant is compiled into the segpool crate only, through a rustc wrapper, so that the dependencies are built
# once per feature set instead of once per mutant (RUSTFLAGS would rebuild all of them every time).
wrapper="$PWD/$out/rustc-wrapper"
cat >"$wrapper" <<'EOF'
#!/usr/bin/env bash
rustc=$1
shift
previous=
for arg in "$@"; do
    if [ "$previous" = --crate-name ] && [ "$arg" = segpool ]; then
        exec "$rustc" "$@" --cfg "segpool_mutant=\"$SEGPOOL_MUTANT\""
    fi
    previous=$arg
done
exec "$rustc" "$@"
EOF
chmod +x "$wrapper"

# The model binaries in order of cost, cheapest first: a checker runs them one at a time and stops at the first
# that fails, so a mutant that a cheap model kills does not wait for the expensive ones. A binary missing here runs
# last (every [[test]] of Cargo.toml whose name starts with the checker's name is run).
loom_order=(loom_arena loom_limbo loom_strategies loom_pool loom_batch loom_exhaustion loom_queue)
shuttle_order=(shuttle_pool_faults shuttle_pool shuttle_arena shuttle_queue)

model_binaries() { # model_binaries CHECKER: the checker's test binaries, cheapest first
    local checker=$1 order name
    if [ "$checker" = loom ]; then order=("${loom_order[@]}"); else order=("${shuttle_order[@]}"); fi
    local declared
    declared=$(grep -oE "^name = \"${checker}_[a-z_]+\"" Cargo.toml | sed -E 's/.*"(.*)"/\1/')
    for name in "${order[@]}"; do
        grep -qx "$name" <<<"$declared" && echo "$name"
    done
    for name in $declared; do
        printf '%s\n' "${order[@]}" | grep -qx "$name" || echo "$name"
    done
}

run_checker() { # run_checker NAME MUTANT LOG
    local name=$1 mutant=$2 log=$3
    # The wrapper's input is invisible to cargo's fingerprints: make segpool stale so that it is rebuilt.
    touch src/lib.rs
    case "$name" in
        loom | shuttle)
            : >"$log"
            local binary status=0
            for binary in $(model_binaries "$name"); do
                SEGPOOL_MUTANT=$mutant RUSTC_WRAPPER=$wrapper timeout 1200 \
                    cargo test --release --features "$name" --target-dir "$out/build" --test "$binary" \
                    >>"$log" 2>&1 || status=$?
                [ "$status" -eq 0 ] || return "$status"
            done
            ;;
        tests) SEGPOOL_MUTANT=$mutant RUSTC_WRAPPER=$wrapper timeout 1200 \
            cargo test --release --target-dir "$out/build" >"$log" 2>&1 ;;
        # cargo-miri drives rustc itself, so the mutant goes in through RUSTFLAGS (its own target dir).
        miri) RUSTFLAGS="--cfg segpool_mutant=\"$mutant\"" MIRI_TARGET_DIR="$out/miri" timeout 1800 \
            scripts/miri.sh >"$log" 2>&1 ;;
    esac
}

first_failure() { # the first failing test named in a cargo test log, or why the run failed
    local log=$1
    local test
    test=$(grep -m1 -oE '^test [^ ]+ \.\.\. FAILED' "$log" | sed -E 's/^test ([^ ]+) .*/\1/' || true)
    if [ -z "$test" ]; then
        test=$(grep -m1 -oE "^---- [^ ]+ " "$log" | sed -E 's/^---- ([^ ]+) /\1/' || true)
    fi
    if [ -z "$test" ]; then
        # A panic during a panic (loom's deadlock report) aborts the binary before libtest names the test.
        test=$(grep -m1 -oE "^thread '[^']+' \([0-9]+\) panicked" "$log" | sed -E "s/^thread '([^']+)'.*/\1/" || true)
    fi
    if grep -q '^deadlock; threads' "$log"; then
        test="${test:-?} (deadlock)"
    fi
    if [ -z "$test" ] && grep -q 'could not compile' "$log"; then
        test="(does not compile)"
    fi
    local binary
    # shellcheck disable=SC2016 # the backquotes are literal text in cargo's message
    binary=$(grep -m1 -oE 'to rerun pass `--test [a-z_]+`' "$log" | sed -E 's/.*--test ([a-z_]+)`/\1/' || true)
    echo "${binary:+$binary::}${test:-?}"
}

run_quick() { # every line of scripts/quick-mutants.txt: the mutant must fail its one named test
    local list=scripts/quick-mutants.txt results="$out/quick.md" failures=0
    # The mutant is compiled into the shared target directory: whatever happens, make segpool stale on the way
    # out, so that the next cargo command rebuilds it without the mutant.
    trap 'touch src/lib.rs' EXIT
    {
        echo "| mutant | checker | killer | result | time |"
        echo "|---|---|---|---|---|"
    } >"$results"
    while read -r mutant checker binary filter; do
        case "$mutant" in '' | '#'*) continue ;; esac
        if ! grep -qx "$mutant" <<<"$known"; then
            echo "$list names no mutant in src/: $mutant" >&2
            exit 2
        fi
        local features=()
        case "$checker" in
            loom | shuttle) features=(--features "$checker") ;;
            tests) ;;
            *) echo "$list: unknown checker '$checker' for $mutant" >&2; exit 2 ;;
        esac
        local log="$out/$mutant.quick.log" started status=0 elapsed verdict
        printf '%-32s %-8s %s ... ' "$mutant" "$checker" "$binary::$filter" >&2
        touch src/lib.rs
        started=$(date +%s)
        # A fixed shuttle seed: the same schedules every run, so a kill is not luck (loom is exhaustive anyway).
        SEGPOOL_SHUTTLE_SEED=${SEGPOOL_SHUTTLE_SEED:-1} SEGPOOL_MUTANT=$mutant RUSTC_WRAPPER=$wrapper timeout 900 \
            cargo test "${features[@]}" --test "$binary" -- "$filter" >"$log" 2>&1 || status=$?
        elapsed=$(($(date +%s) - started))
        # Killed means a test failed: a build that broke, or a run that passed, is a failure of the leg.
        if [ "$status" -eq 0 ]; then
            verdict="SURVIVED"
        elif grep -q 'could not compile' "$log"; then
            verdict="DOES NOT COMPILE"
        elif [ "$status" -eq 124 ]; then
            verdict="TIMED OUT"
        else
            verdict="killed: $(first_failure "$log")"
        fi
        echo "$verdict (${elapsed} s)" >&2
        case "$verdict" in killed:*) ;; *) failures=$((failures + 1)) ;; esac
        echo "| \`$mutant\` | $checker | \`$binary::$filter\` | $verdict | ${elapsed} s |" >>"$results"
    done <"$list"
    echo
    cat "$results"
    if [ "$failures" -gt 0 ]; then
        echo "$failures quick mutant(s) not killed by their known killer (logs: $out/<mutant>.quick.log)" >&2
        exit 1
    fi
    echo "every quick mutant was killed by its known killer"
}

if $quick; then
    run_quick
    exit 0
fi

results="$out/results.md"
{
    echo "| mutant | killed by | first failing test | time |"
    echo "|---|---|---|---|"
} >"$results"
survivors=0
for mutant in "${mutants[@]}"; do
    killers=()
    misses=()
    for checker in "${checker_names[@]}"; do
        log="$out/$mutant.$checker.log"
        printf '%-30s %-8s ... ' "$mutant" "$checker" >&2
        started=$(date +%s)
        status=0
        run_checker "$checker" "$mutant" "$log" || status=$?
        elapsed=$(($(date +%s) - started))
        if [ "$status" -eq 0 ]; then
            echo "survived (${elapsed} s)" >&2
            # With --all, a checker that misses the mutant is a row too: the table is then a matrix.
            $all && misses+=("$checker|${elapsed} s")
            continue
        fi
        why=$(first_failure "$log")
        [ "$status" -eq 124 ] && why="timeout (hang) after ${elapsed} s"
        echo "KILLED in ${elapsed} s: $why" >&2
        killers+=("$checker|$why|${elapsed} s")
        $all || break
    done
    if [ ${#killers[@]} -eq 0 ]; then
        survivors=$((survivors + 1))
        echo "| \`$mutant\` | **SURVIVED** | - | - |" >>"$results"
    else
        for killer in "${killers[@]}"; do
            IFS='|' read -r checker why took <<<"$killer"
            echo "| \`$mutant\` | $checker | \`$why\` | $took |" >>"$results"
        done
    fi
    for miss in "${misses[@]}"; do
        IFS='|' read -r checker took <<<"$miss"
        echo "| \`$mutant\` | ($checker: survived) | - | $took |" >>"$results"
    done
done

echo
cat "$results"
if [ "$survivors" -gt 0 ]; then
    echo "$survivors mutant(s) survived every checker run (${checker_names[*]}): a gap in those suites" >&2
    exit 1
fi
echo "every mutant was killed"
