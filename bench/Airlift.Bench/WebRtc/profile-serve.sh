#!/bin/bash
# Where airlift serve's CPU goes during `storm --serve` (issue #13; docs/benchmarks.md "What one WHIP session costs serve").
# Starts a fresh serve from the build in $1 (a copy of src/Airlift.Cli/bin/Release/net10.0), runs a 1,000-session storm
# (fresh process: JIT warm-up included), waits 10 s, then a second storm (warm) under `perf record`; prints each storm's
# server CPU, the per-thread CPU of serve (/proc/PID/task: the ".NET Tiered Com" thread is the background JIT), and the
# warm storm's samples by stage (serve-stages.py). Needs perf; JIT frames are named through the runtime's perf map, which
# needs W^X off (DOTNET_EnableWriteXorExecute=0: the profiled serve is not quite the shipped configuration).
# Usage: bench/Airlift.Bench/WebRtc/profile-serve.sh /tmp/storm [port] [sessions]
set -euo pipefail
dir=$1; port=${2:-18090}; n=${3:-1000}
A=$dir/airlift; here=$(cd "$(dirname "$0")" && pwd); out=$(mktemp -d)
# Threads that have exited (thread-pool workers retire, the tiering thread stops when idle) are no longer counted.
threads() { for t in /proc/$1/task/*; do s=($(sed 's/.*) //' "$t/stat" 2>/dev/null || true)); [ ${#s[@]} -gt 12 ] || continue; echo "$(cat "$t/comm" 2>/dev/null)|$((${s[11]}+${s[12]}))"; done \
  | awk -F'|' '{a[$1]+=$2} END {for (k in a) printf "%8d ms  %s\n", a[k]*10, k}' | sort -rn | head -6; }
DOTNET_EnableWriteXorExecute=0 DOTNET_PerfMapEnabled=1 nice -n 10 "$A" serve --http 127.0.0.1:$port --udp 127.0.0.1:0 \
  --max-sessions 1024 --max-publishers 1024 --max-sessions-per-client 1024 --connect-timeout 60 > "$out/serve.log" 2>&1 & SP=$!
trap 'kill $SP 2>/dev/null || true' EXIT
sleep 5
storm() { nice -n 10 "$A" storm --serve http://127.0.0.1:$port/whip --connections $n --rate 100 --media 50 --timeout 60 --server-pid $SP --json "$out/$1.json" > "$out/$1.txt" 2>&1; echo "$1: $(grep 'server (pid' "$out/$1.txt" | sed 's/.*: //') load $(cut -d' ' -f1-3 /proc/loadavg)"; }
storm fresh
echo "serve threads after the fresh storm:"; threads $SP
sleep 10
perf record -F 499 -g -p $SP -o "$out/warm.data" > /dev/null 2>&1 & PP=$!
sleep 0.3
storm warm
kill -INT $PP; wait $PP || true
echo "serve threads after both storms:"; threads $SP
perf script -i "$out/warm.data" -F comm,tid,ip,sym,dso 2>/dev/null > "$out/warm.script"
cpu=$(python3 -c "import json,sys; d=json.load(open('$out/warm.json')); print(d['serverProcess']['cpuSeconds']*1000)" 2>/dev/null || echo "")
python3 "$here/serve-stages.py" "$out/warm.script" ${cpu:+$cpu $n}
echo "files in $out"
