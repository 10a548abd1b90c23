#!/usr/bin/env bash
# The Windows test leg: builds the crate's tests for x86_64-pc-windows-gnu with MinGW and runs them under Wine, on
# Linux. Installs what it needs (Wine, MinGW, the Rust target) when missing; safe to run again.
#
#   bash scripts/test-windows.sh                   # every test binary and the doctests, default features
#   bash scripts/test-windows.sh --test stress     # arguments go to `cargo test` as they are
#   bash scripts/test-windows.sh -- --test-threads=1
#
# .cargo/config.toml sets this target's linker (x86_64-w64-mingw32-gcc) and runner (scripts/windows/wine-runner.sh,
# which picks the Wine binary, silences Wine's own logging and uses a prefix of its own: this script passes
# <target dir>/wine-prefix, target/wine-prefix unless CARGO_TARGET_DIR says otherwise).
#
# Why the shim: Rust's std for Windows imports ProcessPrng from bcryptprimitives.dll, which Wine 8 (Debian 12's)
# does not have, so every test binary fails to load ("bcryptprimitives.dll not found", exit 53) before main. This
# script builds a one-function stand-in from scripts/windows/bcryptprimitives.c and puts it next to every executable
# the build produced (the loader looks in the executable's directory first), and on WINEPATH for the doctests, which
# rustdoc builds and runs from temporary directories.
#
# Runs with --no-fail-fast, so that one failing binary does not hide the others; exits non-zero if any test failed.
# The runner stops a test binary that runs longer than SEGPOOL_WINE_TIMEOUT seconds (default 300, 0 = no limit):
# it then counts as failed, with no libtest summary, rather than holding up the run.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-pc-windows-gnu
say() { printf '==> %s\n' "$*"; }
started=$(date +%s)

# Root on CI and on the developers' machines; sudo elsewhere.
as_root() { if ((EUID == 0)); then "$@"; else sudo "$@"; fi; }
if ! command -v x86_64-w64-mingw32-gcc >/dev/null ||
    ! { [[ -x /usr/lib/wine/wine64 ]] || command -v wine64 >/dev/null; }; then
    say "installing Wine and MinGW"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wine64 gcc-mingw-w64-x86-64 >/dev/null
fi
if ! rustup target list --installed | grep -qx "$target"; then
    say "adding the Rust target $target"
    rustup target add "$target"
fi

target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
shim_dir="$target_dir/$target/shim"
shim="$shim_dir/bcryptprimitives.dll"
if [[ ! -f "$shim" || scripts/windows/bcryptprimitives.c -nt "$shim" || scripts/windows/bcryptprimitives.def -nt "$shim" ]]; then
    say "building the bcryptprimitives.dll shim"
    mkdir -p "$shim_dir"
    # -static-libgcc: no libgcc DLL to ship beside it.
    x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -shared -static-libgcc -o "$shim" \
        scripts/windows/bcryptprimitives.c scripts/windows/bcryptprimitives.def -ladvapi32
fi

say "building the tests for $target"
build_log="$target_dir/$target/test-windows-build.json"
cargo test --target "$target" --no-run --message-format=json-render-diagnostics "$@" >"$build_log"
# Every executable of the build (test binaries in deps/, the crate's binary one level up): one copy per directory.
grep -o '"executable":"[^"]*"' "$build_log" | sed 's/^"executable":"//; s/"$//' |
    while read -r exe; do dirname "$exe"; done | sort -u | while read -r dir; do cp -p "$shim" "$dir/"; done
built=$(date +%s)

# The Wine prefix, in the target directory that cargo uses (so CARGO_TARGET_DIR moves it too, and `cargo clean`
# removes it). Exported: the runner, scripts/windows/wine-runner.sh, takes it from here, and `wineserver` needs it.
export WINEPREFIX="${WINEPREFIX:-$target_dir/wine-prefix}"
# wineserver -w: wait until the prefix's Wine session has ended. /usr/bin/wineserver comes with Debian's `wine`,
# which wine64 only recommends; wine64's own copy is the fallback.
wineserver_run() {
    if command -v wineserver >/dev/null; then wineserver "$@"; else /usr/lib/wine/wineserver64 "$@"; fi
}
wait_for_wine() { wineserver_run -w; }
# Create (first run, ~10 s) or update the prefix. Its output is Wine's, not ours.
say "preparing the Wine prefix $WINEPREFIX"
if ! scripts/windows/wine-runner.sh wineboot -u >/dev/null 2>&1; then
    echo "error: Wine does not start (wineboot -u failed); see: WINEDEBUG=err+all scripts/windows/wine-runner.sh wineboot -u" >&2
    exit 1
fi
# Then one Wine server, and one set of Wine's service processes, for every test binary. By default the server
# exits a few seconds after its last client, and a binary that starts just as it exits dies with "wine client
# error:0: recvmsg: Connection reset by peer" (seen once here); -p keeps it until the -k after the tests. The
# services are started by the second wineboot, with their output to /dev/null: started by a test binary instead,
# they would hold the pipe to tee below open for as long as the server lives. The session of the first wineboot
# is ended first, since -p refuses to start while a server runs.
wineserver_run -k >/dev/null 2>&1 || true
wait_for_wine || true
wineserver_run -p
if ! scripts/windows/wine-runner.sh wineboot >/dev/null 2>&1; then
    echo "error: Wine does not start its services (wineboot failed)" >&2
    exit 1
fi
ready=$(date +%s)
# Doctests: Wine's DLL search includes WINEPATH. Drive Z: is the Unix root in every Wine prefix.
export WINEPATH="Z:$shim_dir${WINEPATH:+;$WINEPATH}"

say "running the tests under Wine ($(scripts/windows/wine-runner.sh --version 2>/dev/null || echo 'version unknown'))"
log="$target_dir/$target/test-windows.log"
status=0
cargo test --target "$target" --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
finished=$(date +%s)
# Stop the persistent server and wait for it and its helper processes, so that nothing outlives the run.
wineserver_run -k || true
wait_for_wine || true

# One line per test binary, from cargo's "Running <source> (<exe>)" / "Doc-tests" headers and libtest's summaries.
printf '\n%-34s %-8s %s\n' "test binary" "result" "tests, libtest's time (Wine's start-up not included)"
awk '
    /^ *Running / {
        if (name != "") print name, "NO-RESULT", "(no libtest summary: exited early, see the log)"
        name = ($2 == "unittests") ? $3 : $2
    }
    /^ *Doc-tests / { if (name != "") print name, "NO-RESULT", "(no libtest summary: exited early, see the log)"; name = "doctests" }
    # "test result: ok. 15 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.02s"
    /^test result: / && name != "" {
        print name, ($3 == "ok." ? "ok" : "FAILED"), $4 " passed, " $6 " failed, " $8 " ignored, " $NF
        name = ""
    }
    END { if (name != "") print name, "NO-RESULT", "(no libtest summary: exited early, see the log)" }
' "$log" | while read -r name result rest; do printf '%-34s %-8s %s\n' "$name" "$result" "$rest"; done
printf 'build %ss, Wine prefix %ss, tests %ss, total %ss (log: %s)\n' "$((built - started))" \
    "$((ready - built))" "$((finished - ready))" "$((finished - started))" "$log"

if ((status != 0)); then
    echo "Windows (Wine): FAILED (cargo test exited $status)"
    exit "$status"
fi
echo "Windows (Wine): all passed"
