#!/usr/bin/env bash
# Builds libsrtp 2.5.0 (Debian bookworm's source package) on the system OpenSSL 3 (`--enable-openssl`), the anchor of
# issue #13's SRTP target. Debian's binary libsrtp2-1 is built on NSS, not OpenSSL, so it is a different anchor.
#
#   bench/Airlift.Bench/Srtp/build-libsrtp-openssl.sh      -> bench/.work/libsrtp-openssl/libsrtp2-openssl.so.1
#   export AIRLIFT_LIBSRTP_OPENSSL=$PWD/bench/.work/libsrtp-openssl/libsrtp2-openssl.so.1
#
# Needs root for apt (adds a deb-src entry for bookworm main if none exists, installs libssl-dev and build tools).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OUT="$PWD/.work/libsrtp-openssl"
mkdir -p "$OUT"
if [[ -f "$OUT/libsrtp2-openssl.so.1" ]]; then
  echo "$OUT/libsrtp2-openssl.so.1"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if ! grep -rqs '^Types: deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  cat > /etc/apt/sources.list.d/airlift-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends libssl-dev build-essential pkg-config dpkg-dev >/dev/null

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && apt-get source --download-only libsrtp2 >/dev/null && tar xzf libsrtp2_*.orig.tar.gz)
cd "$WORK"/libsrtp-*/
./configure -q --enable-openssl --disable-debug-logging CFLAGS="-O2 -fPIC" >/dev/null
# Its own SONAME, so that a process can load it beside Debian's libsrtp2.so.1 (dlopen matches already loaded libraries
# by SONAME and would hand back the other one).
make -j"$(nproc)" shared_library SHAREDLIB_LDFLAGS="-shared -Wl,-soname,libsrtp2-openssl.so.1" >/dev/null
cp libsrtp2.so.1 "$OUT/libsrtp2-openssl.so.1"
ldd "$OUT/libsrtp2-openssl.so.1" | grep -q libcrypto || { echo "built libsrtp does not link libcrypto" >&2; exit 1; }
echo "$OUT/libsrtp2-openssl.so.1"
