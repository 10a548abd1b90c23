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
export WINEPREFIX="${WINEPREFIX:-$repo/target/wine-prefix}"
# Wine would otherwise offer to download and install Mono and Gecko when it creates the prefix.
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"

if [[ -x /usr/lib/wine/wine64 ]]; then
    # Debian's wrapper sets WINELOADER too; Wine uses it to start further Windows processes.
    export WINELOADER="${WINELOADER:-/usr/lib/wine/wine64}"
    exec /usr/lib/wine/wine64 "$@"
elif command -v wine64 >/dev/null; then
    exec wine64 "$@"
else
    exec wine "$@"
fi
