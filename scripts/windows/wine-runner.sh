#!/usr/bin/env bash
# Cargo's runner for the x86_64-pc-windows-gnu target (.cargo/config.toml): runs a Windows executable under Wine,
# quietly, in this repository's own Wine prefix.
#
# Debian's /usr/bin/wine is a script that picks wine32 if present and otherwise warns that wine32 is missing on
# every start (unless WINEDEBUG silences all channels); the 64-bit loader itself is /usr/lib/wine/wine64 there, and
# `wine64` on PATH elsewhere. Use the first that exists.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Wine's own chatter (fixme:, err: lines) would bury the test output; WINEDEBUG set by the caller wins.
export WINEDEBUG="${WINEDEBUG:--all}"
# A prefix of our own, under target/ so that `cargo clean` removes it, rather than the user's ~/.wine.
# scripts/test-windows.sh passes the one in the target directory cargo uses (CARGO_TARGET_DIR included).
export WINEPREFIX="${WINEPREFIX:-$repo/target/wine-prefix}"
# Wine would otherwise offer to download and install Mono and Gecko when it creates the prefix.
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"

if [[ -x /usr/lib/wine/wine64 ]]; then
    # Debian's wrapper sets WINELOADER too; Wine uses it to start further Windows processes.
    export WINELOADER="${WINELOADER:-/usr/lib/wine/wine64}"
    wine=/usr/lib/wine/wine64
elif command -v wine64 >/dev/null; then
    wine=wine64
else
    wine=wine
fi

# A test binary that hangs would hold up the whole run (and CI) for good: stop it after SEGPOOL_WINE_TIMEOUT
# seconds (0: no limit). The default, 300, is some 30 times the slowest binary here (~9 s under Wine).
limit="${SEGPOOL_WINE_TIMEOUT:-300}"
if [[ $limit == 0 ]]; then
    exec "$wine" "$@"
fi
status=0
# --foreground keeps the program in cargo's process group, so that Ctrl-C still reaches it; timeout then signals
# only its direct child, which is enough: Wine's loader becomes the Windows process, in the same Unix process.
timeout --foreground --kill-after=10 "$limit" "$wine" "$@" || status=$?
if ((status == 124 || status == 137)); then
    echo "wine-runner: $(basename -- "$1") did not finish within ${limit} s (SEGPOOL_WINE_TIMEOUT) and was stopped" >&2
fi
exit "$status"
