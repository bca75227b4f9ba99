#!/usr/bin/env bash
# Captures real SDP offers into tests/fixtures/sdp (Chromium and Firefox ESR with bundlePolicy balanced and max-bundle,
# aiortc) in a fresh network namespace with only loopback. Needs root (unshare -n), chromium, firefox-esr, node with
# playwright-core in scripts/.peers/node (scripts/test.sh installs it) and python3-aiortc.
# The Safari-style offer (safari-style.sdp) is hand-written, not captured; this script leaves it alone.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export PLAYWRIGHT_CORE="$root/scripts/.peers/node/node_modules/playwright-core"
export FIREFOX="${FIREFOX:-/usr/bin/firefox-esr}"
export OUT="$root/tests/fixtures/sdp"
exec unshare -n bash -c 'ip link set lo up && node "$0"' "$root/scripts/capture-sdp-offers.js"
