#!/usr/bin/env bash
# Makes the captures `airlift doctor` is tested on (tests/fixtures/captures/): real sockets, real peers, the field
# failures of docs/scenarios.md reproduced through `airlift proxy` impairments, recorded with tcpdump inside a network
# namespace this script creates (only its loopback; nothing leaves the namespace).
#
#   scripts/make-captures.sh [OUT_DIR] [CASE...]     default OUT_DIR tests/fixtures/captures, default every case
#
# Needs root (ip netns), tcpdump (installed from Debian when missing), openssl and gnutls-bin for the peer cases
# (skipped when missing). Builds the airlift CLI first. Each case runs in a fresh namespace that is deleted after it.
# The server listens on 127.0.0.1:4444; the proxy (when used) on 127.0.0.1:5555; captures are filtered to the server's
# port, i.e. what a capture taken on the server shows (no-answer is taken at the client side instead).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$REPO/tests/fixtures/captures}"
shift || true
CASES=("$@")
CERTS="$REPO/tests/fixtures/certs"
DLL="$REPO/src/Airlift.Cli/bin/Release/net10.0/airlift.dll"
NS=""
PIDS=()

say() { printf '==> [captures] %s\n' "$*"; }
die() { printf '!!! [captures] %s\n' "$*" >&2; exit 2; }

[[ $(id -u) -eq 0 ]] || die "needs root (ip netns add)"
if ! command -v tcpdump >/dev/null 2>&1; then
  say "installing tcpdump (apt-get install tcpdump)"
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends tcpdump >/dev/null
fi

say "building the airlift CLI"
dotnet build "$REPO/src/Airlift.Cli/Airlift.Cli.csproj" -c Release -nologo -clp:ErrorsOnly -v q >/dev/null
mkdir -p "$OUT"

# Ends what this script started: the processes inside its own namespace (by pid), then the namespace.
cleanup() {
  local pid
  if [[ -n "$NS" ]]; then
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    sleep 0.5
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  fi
  for pid in "${PIDS[@]:-}"; do
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; fi
  done
  PIDS=()
  if [[ -n "$NS" ]]; then
    ip netns del "$NS" 2>/dev/null || true
    NS=""
  fi
}
trap cleanup EXIT

in_ns() { ip netns exec "$NS" "$@"; }
airlift() { in_ns dotnet "$DLL" "$@"; }

# new_ns [LO_MTU]: a fresh namespace with only loopback up.
new_ns() {
  NS="airlift-captures-$$-$RANDOM"
  ip netns add "$NS"
  in_ns ip link set lo up
  if [[ -n "${1:-}" ]]; then in_ns ip link set lo mtu "$1"; fi
}

# bg_ns CMD...: starts CMD in the namespace in the background (ip netns exec execs CMD: the pid is CMD's).
bg_ns() { ip netns exec "$NS" "$@" >/dev/null 2>&1 & PIDS+=("$!"); }
bg_airlift() { bg_ns dotnet "$DLL" "$@"; }

# capture NAME FILTER: starts tcpdump on the namespace's loopback (packets are written as they come, -U).
capture() {
  local file="$OUT/$1.pcap"
  rm -f "$file"
  bg_ns tcpdump -i lo -U -s 0 -w "$file" "$2"
  sleep 1
}

finish() {
  sleep 1.5
  cleanup
  sleep 0.3
  say "$1: $(stat -c %s "$OUT/$1.pcap") bytes"
}

want() {
  [[ ${#CASES[@]} -eq 0 ]] && return 0
  local c
  for c in "${CASES[@]}"; do [[ "$c" == "$1" ]] && return 0; done
  return 1
}

CLIENT=(dtls-client --insecure-accept-any-certificate --dtls 1.2)

# A clean DTLS 1.2 handshake between two Airlift processes.
if want airlift-good; then
  new_ns; capture airlift-good "udp port 4444"
  bg_airlift dtls-server --listen 127.0.0.1:4444 --count 1 --insecure-accept-any-certificate --dtls 1.2
  sleep 2
  airlift "${CLIENT[@]}" --connect 127.0.0.1:4444 --timeout 10 >/dev/null || true
  finish airlift-good
fi

# F1: a server flight in one ~1310-byte datagram (RSA certificate; OpenSSL may use up to 1499 bytes), IP-fragmented on a
# 1280-byte link, and a path that drops datagrams above 1200 bytes. OpenSSL falls back to one record per datagram after a
# timeout, so the handshake recovers (F1, recovered).
if want f1-openssl-recovers && command -v openssl >/dev/null 2>&1; then
  new_ns 1280; capture f1-openssl-recovers "udp port 4444 or (ip[6:2] & 0x1fff != 0)"
  # -mtu is the link MTU (OpenSSL subtracts 28): 1527 -> 1499-byte datagrams.
  (sleep 25 | in_ns openssl s_server -dtls1_2 -accept 127.0.0.1:4444 -mtu 1527 -cert "$CERTS/rsa-single/cert.pem" -key "$CERTS/rsa-single/key.pem" -quiet >/dev/null 2>&1) &
  PIDS+=("$!")
  bg_airlift proxy --listen 127.0.0.1:5555 --upstream 127.0.0.1:4444 --max-datagram 1200 --duration 25
  sleep 2
  airlift "${CLIENT[@]}" --connect 127.0.0.1:5555 --timeout 12 >/dev/null || true
  finish f1-openssl-recovers
fi

# F1 with Airlift as the server at --mtu 1499: the same drops, and Airlift lowers its datagram size after resends.
if want f1-airlift-recovers; then
  new_ns 1280; capture f1-airlift-recovers "udp port 4444 or (ip[6:2] & 0x1fff != 0)"
  bg_airlift dtls-server --listen 127.0.0.1:4444 --count 1 --insecure-accept-any-certificate --dtls 1.2 --mtu 1499 --cert "$CERTS/rsa-single/cert.pem" --key "$CERTS/rsa-single/key.pem"
  bg_airlift proxy --listen 127.0.0.1:5555 --upstream 127.0.0.1:4444 --max-datagram 1200 --duration 40
  sleep 2
  airlift "${CLIENT[@]}" --connect 127.0.0.1:5555 --timeout 30 >/dev/null || true
  finish f1-airlift-recovers
fi

# F2: the server's final flight (CCS, Finished) lost twice on the way to the client; Airlift's server resends it each
# time the client's final flight arrives again, so the handshake completes (the pattern, recovered).
if want f2-airlift-recovers; then
  new_ns; capture f2-airlift-recovers "udp port 4444"
  bg_airlift dtls-server --listen 127.0.0.1:4444 --count 1 --insecure-accept-any-certificate --dtls 1.2
  bg_airlift proxy --listen 127.0.0.1:5555 --upstream 127.0.0.1:4444 --drop-server-flight Finished:2 --duration 30
  sleep 2
  airlift "${CLIENT[@]}" --connect 127.0.0.1:5555 --timeout 20 >/dev/null || true
  finish f2-airlift-recovers
fi

# F4: a 2.7 KB certificate chain, a server allowed 4000-byte datagrams (so it packs several records into one), and a
# relay that drops datagrams above 1600 bytes.
if want f4-airlift-recovers; then
  new_ns; capture f4-airlift-recovers "udp port 4444"
  bg_airlift dtls-server --listen 127.0.0.1:4444 --count 1 --insecure-accept-any-certificate --dtls 1.2 --mtu 4000 --cert "$CERTS/rsa-chain/leaf.pem" --key "$CERTS/rsa-chain/leaf.key" --chain "$CERTS/rsa-chain/intermediate.pem"
  bg_airlift proxy --listen 127.0.0.1:5555 --upstream 127.0.0.1:4444 --max-datagram 1600 --duration 40
  sleep 2
  airlift "${CLIENT[@]}" --connect 127.0.0.1:5555 --timeout 30 >/dev/null || true
  finish f4-airlift-recovers
fi

# The F4 path (a relay dropping datagrams above 1600 bytes) with GnuTLS as the server at --mtu 4000 (its UDP payload
# size): GnuTLS sends the 2.7 KB chain as one 2807-byte record, never lowers it, and the handshake fails. One record,
# not several glued ones: the doctor names it F1 (a datagram larger than the path carries).
if want f1-gnutls-big-record && command -v gnutls-serv >/dev/null 2>&1; then
  new_ns; capture f1-gnutls-big-record "udp port 4444"
  bg_ns gnutls-serv --udp --port 4444 --mtu 4000 --x509certfile "$CERTS/rsa-chain/chain.pem" --x509keyfile "$CERTS/rsa-chain/leaf.key"
  bg_airlift proxy --listen 127.0.0.1:5555 --upstream 127.0.0.1:4444 --max-datagram 1600 --duration 25
  sleep 2
  airlift "${CLIENT[@]}" --connect 127.0.0.1:5555 --timeout 12 >/dev/null || true
  finish f1-gnutls-big-record
fi

# A server that never answers: the proxy drops everything the client sends (captured at the client's side).
if want no-answer; then
  new_ns; capture no-answer "udp port 5555"
  bg_airlift proxy --listen 127.0.0.1:5555 --upstream 127.0.0.1:4444 --loss-up 100 --duration 20
  sleep 2
  airlift "${CLIENT[@]}" --connect 127.0.0.1:5555 --timeout 6 >/dev/null || true
  finish no-answer
fi

# Version mismatch: a DTLS 1.3-only client against a DTLS 1.2-only server.
if want version-mismatch; then
  new_ns; capture version-mismatch "udp port 4444"
  bg_airlift dtls-server --listen 127.0.0.1:4444 --insecure-accept-any-certificate --dtls 1.2
  sleep 2
  airlift dtls-client --insecure-accept-any-certificate --dtls 1.3 --connect 127.0.0.1:4444 --timeout 5 >/dev/null || true
  finish version-mismatch
fi

# Cipher mismatch: a client that offers only RSA suites against a server with an ECDSA certificate.
if want cipher-mismatch; then
  new_ns; capture cipher-mismatch "udp port 4444"
  bg_airlift dtls-server --listen 127.0.0.1:4444 --insecure-accept-any-certificate --dtls 1.2
  sleep 2
  airlift "${CLIENT[@]}" --connect 127.0.0.1:4444 --cipher TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 --timeout 5 >/dev/null || true
  finish cipher-mismatch
fi

# Fingerprint mismatch: the client expects another certificate than the server's.
if want fingerprint-mismatch; then
  new_ns; capture fingerprint-mismatch "udp port 4444"
  bg_airlift dtls-server --listen 127.0.0.1:4444 --insecure-accept-any-certificate --dtls 1.2
  sleep 2
  airlift dtls-client --dtls 1.2 --connect 127.0.0.1:4444 --timeout 5 \
    --expect-fingerprint "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF" >/dev/null || true
  finish fingerprint-mismatch
fi

# Real peers succeeding: OpenSSL and GnuTLS servers, an Airlift client.
if want openssl-good && command -v openssl >/dev/null 2>&1; then
  new_ns; capture openssl-good "udp port 4444"
  (sleep 12 | in_ns openssl s_server -dtls1_2 -accept 127.0.0.1:4444 -cert "$CERTS/ecdsa/cert.pem" -key "$CERTS/ecdsa/key.pem" -quiet >/dev/null 2>&1) &
  PIDS+=("$!")
  sleep 2
  airlift "${CLIENT[@]}" --connect 127.0.0.1:4444 --timeout 8 >/dev/null || true
  finish openssl-good
fi

if want gnutls-good && command -v gnutls-serv >/dev/null 2>&1; then
  new_ns; capture gnutls-good "udp port 4444"
  bg_ns gnutls-serv --udp --port 4444 --x509certfile "$CERTS/ecdsa/cert.pem" --x509keyfile "$CERTS/ecdsa/key.pem"
  sleep 2
  airlift "${CLIENT[@]}" --connect 127.0.0.1:4444 --timeout 8 >/dev/null || true
  finish gnutls-good
fi

# ---------------------------------------------------------------------------------------------------------------------
# Real peers beyond OpenSSL/GnuTLS (helper s18-peers): pion (tools/peers/pion), headless Chromium and Firefox against
# `airlift serve`, and TURN. Each case is a function, run when wanted.

PION=""
# pion_peer: builds tools/peers/pion once (Debian golang-go golang-github-pion-dtls.v2-dev) into a temp dir.
pion_peer() {
  [[ -n "$PION" ]] && return 0
  command -v go >/dev/null 2>&1 && [[ -d /usr/share/gocode/src/github.com/pion/dtls/v2 ]] || return 1
  local dir="${TMPDIR:-/tmp}/airlift-captures-pion"
  mkdir -p "$dir"
  (cd "$REPO/tools/peers/pion" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$dir/cache" go build -o "$dir/pion-peer" .) || return 1
  PION="$dir/pion-peer"
}

# pion as the DTLS client, Airlift as the server (clean loopback).
case_pion_client_good() {
  new_ns; capture pion-client-good "udp port 4444"
  bg_airlift dtls-server --listen 127.0.0.1:4444 --count 1 --insecure-accept-any-certificate --dtls 1.2
  sleep 2
  # -srtp "": the Airlift dtls-server negotiates no use_srtp, and pion refuses a server without its profile
  # (insufficient_security).
  in_ns "$PION" -role client -addr 127.0.0.1:4444 -srtp "" -cert "$CERTS/ecdsa/cert.pem" -key "$CERTS/ecdsa/key.pem" -timeout 10 -lifetime 1 </dev/null >/dev/null 2>&1 || true
  finish pion-client-good
}

# pion as the DTLS server, Airlift as the client (clean loopback).
case_pion_server_good() {
  new_ns; capture pion-server-good "udp port 4444"
  bg_ns "$PION" -role server -addr 127.0.0.1:4444 -srtp "" -cert "$CERTS/ecdsa/cert.pem" -key "$CERTS/ecdsa/key.pem" -timeout 15 -lifetime 3
  sleep 1
  airlift "${CLIENT[@]}" --connect 127.0.0.1:4444 --timeout 8 >/dev/null || true
  finish pion-server-good
}

# F1 with pion as the server: 1499-byte datagrams (RSA certificate) through a path that drops datagrams above 1200
# bytes. pion never lowers its datagram size, so the handshake fails (F1, failure).
case_f1_pion_fails() {
  new_ns; capture f1-pion-fails "udp port 4444"
  bg_ns "$PION" -role server -addr 127.0.0.1:4444 -srtp "" -mtu 1499 -cert "$CERTS/rsa-single/cert.pem" -key "$CERTS/rsa-single/key.pem" -timeout 20 -lifetime 1
  bg_airlift proxy --listen 127.0.0.1:5555 --upstream 127.0.0.1:4444 --max-datagram 1200 --duration 25
  sleep 2
  airlift "${CLIENT[@]}" --connect 127.0.0.1:5555 --timeout 12 >/dev/null || true
  finish f1-pion-fails
}

if want pion-client-good || want pion-server-good || want f1-pion-fails; then
  if pion_peer; then
    want pion-client-good && case_pion_client_good
    want pion-server-good && case_pion_server_good
    want f1-pion-fails && case_f1_pion_fails
  else
    say "skipping the pion cases (needs golang-go and golang-github-pion-dtls.v2-dev)"
  fi
fi

E2E="$REPO/tests/Airlift.Tests/EndToEnd"
PLAYWRIGHT_CORE="$REPO/scripts/.peers/node/node_modules/playwright-core"

# capture_media_less NAME FILTER: like capture, for browser cases: the filter drops RTP over UDP (first byte 128-191 and a
# second byte outside RTCP's 192-223) so a file stays small; STUN, DTLS and RTCP are kept whole (TCP is kept whole: a
# dropped segment would break the RFC 4571 stream). The doctor therefore counts no RTP in the UDP files.
capture_media_less() {
  local file="$OUT/$1.pcap"
  rm -f "$file"
  bg_ns tcpdump -i lo -U -s 0 -w "$file" "($2) and not (udp and udp[8] >= 128 and udp[8] < 192 and (udp[9] < 192 or udp[9] > 223))"
  sleep 1
}

# chromium_echo NAME URL: one case of tests/Airlift.Tests/EndToEnd/chromium-echo.js (headless Chromium, fake camera and
# microphone, echo decoded, session closed), inside the namespace.
chromium_echo() {
  local dir; dir="$(mktemp -d)"
  in_ns env PLAYWRIGHT_CORE="$PLAYWRIGHT_CORE" ECHO_OUT="$dir" ECHO_CASE_TIMEOUT_MS=15000 \
    ECHO_CASES="[{\"name\":\"$1\",\"url\":\"$2\",\"disableFeatures\":[]}]" node "$E2E/chromium-echo.js" 2>&1 | grep -E '^RESULT' | cut -c1-300 || true
  rm -rf "$dir"
}

# Headless Chromium against `airlift serve` over UDP: ICE-lite checks, DTLS 1.3 (Chromium's default, post-quantum key
# share: a two-datagram ClientHello), SRTP echo, consent checks and RTCP, then the session closed.
case_chromium_good() {
  new_ns; capture_media_less chromium-dtls13-good "udp port 50000"
  bg_airlift serve --http 127.0.0.1:8080 --udp 127.0.0.1:50000
  sleep 4
  chromium_echo chromium-dtls13-good "http://127.0.0.1:8080/?setup=passive"
  finish chromium-dtls13-good
}

# Chromium over ICE-TCP: serve offers only a passive TCP candidate (--udp none), so everything runs over RFC 4571 framing.
case_chromium_ice_tcp_good() {
  new_ns; capture_media_less chromium-ice-tcp-good "tcp port 50002"
  bg_airlift serve --http 127.0.0.1:8082 --udp none --tcp 127.0.0.1:50002
  sleep 4
  chromium_echo chromium-ice-tcp-good "http://127.0.0.1:8082/?setup=passive"
  finish chromium-ice-tcp-good
}

# Chromium through serve's impairment proxy dropping datagrams above 1000 bytes: Chromium's certificate flight and
# post-quantum ClientHello datagrams are larger, so DTLS never completes (F1 with a browser).
case_chromium_f1() {
  # Taken on the browser's side of the proxy (every port but serve's): what a capture on the client shows.
  new_ns; capture_media_less chromium-f1-fails "udp and not port 50000"
  bg_airlift serve --http 127.0.0.1:8080 --udp 127.0.0.1:50000 --impair-max-datagram 1000 --connect-timeout 12
  sleep 4
  chromium_echo chromium-f1-fails "http://127.0.0.1:8080/?setup=passive"
  finish chromium-f1-fails
}

# Headless Firefox ESR against `airlift serve` over UDP (tests/Airlift.Tests/EndToEnd/firefox-echo.js).
case_firefox_good() {
  new_ns; capture_media_less firefox-good "udp port 50000"
  bg_airlift serve --http 127.0.0.1:8080 --udp 127.0.0.1:50000
  sleep 4
  local dir; dir="$(mktemp -d)"
  in_ns env FIREFOX="$(command -v firefox-esr || command -v firefox)" ECHO_OUT="$dir" ECHO_CASE_TIMEOUT_MS=15000 \
    ECHO_CASES='[{"name":"firefox-good","port":8080,"setup":"passive","bundle":"balanced"}]' node "$E2E/firefox-echo.js" 2>&1 | grep -E '^RESULT' | cut -c1-300 || true
  rm -rf "$dir"
  finish firefox-good
}

if want chromium-dtls13-good || want chromium-ice-tcp-good || want chromium-f1-fails || want firefox-good; then
  if command -v node >/dev/null 2>&1 && [[ -d "$PLAYWRIGHT_CORE" ]] && command -v chromium >/dev/null 2>&1; then
    want chromium-dtls13-good && case_chromium_good
    want chromium-ice-tcp-good && case_chromium_ice_tcp_good
    want chromium-f1-fails && case_chromium_f1
  else
    say "skipping the Chromium cases (needs node, chromium and scripts/.peers/node playwright-core: scripts/test.sh installs them)"
  fi
  if command -v node >/dev/null 2>&1 && { command -v firefox-esr >/dev/null 2>&1 || command -v firefox >/dev/null 2>&1; }; then
    want firefox-good && case_firefox_good
  else
    say "skipping the Firefox case (needs node and firefox-esr)"
  fi
fi

say "done: $OUT"
