#!/usr/bin/env bash
# Airlift test entry point (CI runs it through .ci/run).
#
#   bash scripts/test.sh [extra dotnet test args...]
#   e.g. bash scripts/test.sh --filter "FullyQualifiedName~Interop"
#
# 1. Installs the real DTLS peers the interop tests drive, only when missing
#    (apt-get update runs only if something has to be installed).
# 2. Checks that every peer actually runs; fails naming the package if not.
# 3. dotnet format --verify-no-changes, incremental Release build (samples included), the samples run, dotnet pack and
#    dotnet tool install of airlift from a local feed, bounded fuzzing of every
#    target (fuzz/run.sh ci), tests with AIRLIFT_REQUIRE_PEERS=1 so a missing peer fails a test
#    instead of skipping it.
#
# Idempotent: a second run installs nothing and rebuilds only what changed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT="$(pwd)"

export DOTNET_NOLOGO=1
export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DEBIAN_FRONTEND=noninteractive

START_SECONDS=$SECONDS
step() { printf '\n==> [test.sh] %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf '\n!!! [test.sh] %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Peers. One line per peer: "kind|package|check command".
#   kind apt: Debian package, installed with apt-get when the check fails.
#   kind npm: npm package, installed into scripts/.peers/node (node_modules is gitignored).
# The check command must succeed (and its first output line is printed) once the peer works.
# To add a peer, add one line; e.g. (not yet needed by any test):
#   "apt|golang-go golang-github-pion-dtls.v2-dev|test -d /usr/share/gocode/src/github.com/pion/dtls"
#   "npm|werift@0.25|node -e \"require('$REPO_ROOT/scripts/.peers/node/node_modules/werift'); console.log('werift ok')\""
#   "apt|chromium|chromium --version"
#   "apt|python3-aiortc|/usr/bin/python3 -c 'import aiortc; print(\"aiortc\", aiortc.__version__)'"
#   "apt|libsrtp2-1|test -e /usr/lib/x86_64-linux-gnu/libsrtp2.so.1"
# ---------------------------------------------------------------------------
PEERS=(
  "apt|openssl|openssl version"
  "apt|gnutls-bin|gnutls-cli --version"
  "apt|gnutls-bin|gnutls-serv --version"
  "apt|python3-aiortc|/usr/bin/python3 -c 'import aiortc; print(\"aiortc\", aiortc.__version__)'"
  "apt|libsrtp2-1|ls /usr/lib/x86_64-linux-gnu/libsrtp2.so.1"
  "apt|golang-go golang-github-pion-dtls.v2-dev|test -d /usr/share/gocode/src/github.com/pion/dtls/v2 && go version"
  "npm|werift@0.25|node -e \"require('$REPO_ROOT/scripts/.peers/node/node_modules/werift'); console.log('werift ok')\""
  "apt|chromium|chromium --version"
  "npm|playwright-core@1.65.1|node -e \"console.log('playwright-core', require('$REPO_ROOT/scripts/.peers/node/node_modules/playwright-core/package.json').version)\""
  "apt|firefox-esr|firefox-esr --version"
)

NPM_PREFIX="$REPO_ROOT/scripts/.peers/node"

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die "need root to run: $*"
  fi
}

peer_ok() { bash -c "$1" >/dev/null 2>&1 </dev/null; }

step "checking peers"
apt_missing=()
npm_missing=()
for line in "${PEERS[@]}"; do
  IFS='|' read -r kind pkg check <<<"$line"
  if peer_ok "$check"; then
    continue
  fi
  case "$kind" in
    apt) for p in $pkg; do
           [[ " ${apt_missing[*]-} " == *" $p "* ]] || apt_missing+=("$p")
         done ;;
    npm) npm_missing+=("$pkg") ;;
    *) die "unknown peer kind '$kind' in line: $line" ;;
  esac
done

if ((${#apt_missing[@]} > 0)); then
  step "installing Debian packages: ${apt_missing[*]}"
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install manually: ${apt_missing[*]}"
  as_root apt-get -o DPkg::Lock::Timeout=300 update -qq
  as_root apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi
if ((${#npm_missing[@]} > 0)); then
  step "installing npm packages into $NPM_PREFIX: ${npm_missing[*]}"
  command -v npm >/dev/null 2>&1 || die "npm not found (apt-get install npm)"
  mkdir -p "$NPM_PREFIX"
  npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --silent "${npm_missing[@]}"
fi

step "verifying peers run"
for line in "${PEERS[@]}"; do
  IFS='|' read -r kind pkg check <<<"$line"
  if ! out=$(bash -c "$check" 2>&1 </dev/null); then
    printf '%s\n' "$out" >&2
    die "peer check failed: '$check' (install the $kind package '$pkg')"
  fi
  info "ok: ${out%%$'\n'*}"
done

# ---------------------------------------------------------------------------
step "dotnet format --verify-no-changes"
dotnet format Airlift.slnx --verify-no-changes ||
  die "formatting differs: run 'dotnet format Airlift.slnx' and commit"

step "dotnet build -c Release"
dotnet build Airlift.slnx -c Release -nologo -clp:ErrorsOnly -warnaserror

# ---------------------------------------------------------------------------
# Samples (built with the solution above; the README shows them verbatim, checked by ReadmeSamplesTests): each must
# run and exit 0.
# samples/WhipIngest is a server that runs until stopped: WhipIngestSampleTests starts it and posts offers to it.
step "samples: run samples/DtlsEcho"
timeout 120 dotnet samples/DtlsEcho/bin/Release/net10.0/DtlsEcho.dll || die "samples/DtlsEcho failed (exit $?)"

# Packages: pack every packable project into a throwaway local feed (no pack warning allowed), then install the
# airlift tool from it as a user would and run it. A private NuGet package folder keeps an older 0.1.0 in the
# machine's cache from being installed instead of the one just packed.
step "packages: dotnet pack, dotnet tool install airlift from a local feed, airlift --help"
PACK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/airlift-pack.XXXXXX")"
# The packable projects by name: packing the solution would also ask the samples, and the Web SDK's sample
# (samples/WhipIngest) refuses with "packaging has been disabled" instead of being skipped.
for proj in src/Airlift/Airlift.csproj src/Airlift.NetEm/Airlift.NetEm.csproj src/Airlift.Hosting/Airlift.Hosting.csproj \
  src/Airlift.Cli/Airlift.Cli.csproj; do
  pack_out=$(dotnet pack "$proj" -c Release --no-build -nologo -clp:ErrorsOnly -warnaserror -o "$PACK_DIR/feed" 2>&1) ||
    die "dotnet pack $proj failed: $pack_out"
done
for pkg in Airlift.Core Airlift.NetEm Airlift.Hosting airlift; do
  ls "$PACK_DIR/feed/$pkg".[0-9]*.nupkg >/dev/null 2>&1 || die "dotnet pack made no $pkg package"
  ls "$PACK_DIR/feed/$pkg".[0-9]*.snupkg >/dev/null 2>&1 || die "dotnet pack made no $pkg symbols package"
done
NUGET_PACKAGES="$PACK_DIR/nuget" dotnet tool install --tool-path "$PACK_DIR/tools" --add-source "$PACK_DIR/feed" airlift >/dev/null ||
  die "dotnet tool install airlift from the local feed failed"
help_out=$("$PACK_DIR/tools/airlift" --help) || die "the installed airlift tool did not run"
info "ok: $(sed -n 2p <<<"$help_out" | sed 's/^ *//') (${PACK_DIR##*/}: $(cd "$PACK_DIR/feed" && echo *))"
rm -rf "$PACK_DIR"

# ---------------------------------------------------------------------------
# Coverage-guided fuzzing, bounded: every target for a few seconds (afl++ and SharpFuzz are installed by the script when
# missing). A crash or hang fails the run after the tests (which replay every saved crash in fuzz/crashes/).
# AIRLIFT_FUZZ_SECONDS=0 skips it (local runs only).
FUZZ_SECONDS="${AIRLIFT_FUZZ_SECONDS:-10}"
fuzz_rc=0
if ((FUZZ_SECONDS > 0)); then
  step "fuzz: fuzz/run.sh ci ${FUZZ_SECONDS} (every target ${FUZZ_SECONDS}s)"
  fuzz_start=$SECONDS
  fuzz/run.sh ci "$FUZZ_SECONDS" || fuzz_rc=$?
  info "fuzz step took $((SECONDS - fuzz_start))s"
fi

step "dotnet test -c Release ${*:-}"
export AIRLIFT_REQUIRE_PEERS=1
TEST_LOG="$(mktemp "${TMPDIR:-/tmp}/airlift-test.XXXXXX")"
trap 'rm -f "$TEST_LOG"' EXIT
set +e
dotnet test tests/Airlift.Tests -c Release --no-build "$@" 2>&1 | tee "$TEST_LOG"
test_rc=${PIPESTATUS[0]}
set -e

# VSTest prints one summary line per test assembly:
#   "Passed!  - Failed:     0, Passed:    12, Skipped:     1, Total:    13, Duration: 2 s - Airlift.Tests.dll (net10.0)"
summary_lines=$(grep -E '^(Passed|Failed|Skipped)! +- Failed:' "$TEST_LOG" || true)
sum_field() {
  printf '%s\n' "$summary_lines" | grep -Eo "$1: +[0-9]+" | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}'
}
passed=$(sum_field 'Passed')
failed=$(sum_field 'Failed')
skipped=$(sum_field 'Skipped')
elapsed=$((SECONDS - START_SECONDS))

echo
if ((test_rc != 0)); then
  echo "test.sh: FAILED (dotnet test exit ${test_rc}) after ${elapsed}s"
  echo "Summary: ${passed} passed, ${failed} failed, ${skipped} skipped"
  exit "$test_rc"
fi
if ((passed + failed == 0)); then
  echo "test.sh: FAILED (no test ran) after ${elapsed}s"
  echo "Summary: 0 passed, 0 failed, ${skipped} skipped"
  exit 1
fi
if ((fuzz_rc != 0)); then
  echo "test.sh: FAILED (fuzzing found a crash or hang, or could not run: fuzz/run.sh exit ${fuzz_rc}; see fuzz/crashes/ and fuzz/hangs/) after ${elapsed}s"
  echo "Summary: ${passed} passed, ${failed} failed, ${skipped} skipped"
  exit 1
fi
echo "test.sh: OK after ${elapsed}s"
echo "Summary: ${passed} passed, ${failed} failed, ${skipped} skipped"
