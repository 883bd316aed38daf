#!/bin/sh
# What read-cursor updates cost the server: runs the harness against a running server, alternately
# without and with every member sending a read cursor every INTERVAL ms (--read-interval), the same
# message traffic otherwise, and prints the server's CPU for each run and the difference per update.
#
#   sh bench/bin/read-cursors.sh [-r ROUNDS] [-c MEMBERS] [-i INTERVAL_MS] [-p REDIS_PID] <url>
#
# Defaults: 3 rounds, 1,000 members in one room, 1,000 ms; one publisher sends 20 messages a second
# (so every update moves a cursor). With -p, redis-server's CPU over each whole run is added (login
# and connect included, the same in both arms). Runs alternate, so a busy machine weighs on both.
set -eu
rounds=3 members=1000 interval=1000 redis_pid=''
while getopts r:c:i:p: opt; do
  case $opt in
    r) rounds=$OPTARG ;;
    c) members=$OPTARG ;;
    i) interval=$OPTARG ;;
    p) redis_pid=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
url=${1:?usage: read-cursors.sh [-r ROUNDS] [-c MEMBERS] [-i INTERVAL_MS] [-p REDIS_PID] <url>}
here="$(cd "$(dirname "$0")" && pwd)"
ticks() { if [ -n "$redis_pid" ]; then awk '{print $14 + $15}' "/proc/$redis_pid/stat"; else echo 0; fi; }
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for round in $(seq 1 "$rounds"); do
  for every in 0 "$interval"; do
    before=$(ticks)
    line=$(sh "$here/bench.sh" -c "$members" -P 1 -R 20 -d 15 -w 2 --json --no-progress --connect-concurrency 16 --read-interval "$every" "$url" | tail -1) || true
    after=$(ticks)
    echo "{\"round\":$round,\"interval\":$every,\"redisTicks\":$((after - before)),\"result\":${line:-null}}" >> "$results"
  done
done
node - "$results" <<'EOF'
const lines = require('node:fs').readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const runs = lines.filter((l) => l.result);
const cpu = (r) => r.result.cpu.serverUserPct + r.result.cpu.serverSysPct;
for (const r of lines) {
  if (!r.result) { console.log(`round ${r.round} interval ${r.interval}: failed`); continue; }
  console.log(`round ${r.round}  reads/s ${String(r.result.readsPerSec).padStart(5)}  server ${cpu(r).toFixed(1)}% of a core  redis ${(r.redisTicks * 10).toString().padStart(5)} ms  other processes ${r.result.cpu.othersPct}%  lost ${r.result.lost}`);
}
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const off = runs.filter((r) => r.interval === 0);
const on = runs.filter((r) => r.interval !== 0);
if (off.length && on.length) {
  const delta = mean(on.map(cpu)) - mean(off.map(cpu));
  const rate = mean(on.map((r) => r.result.readsPerSec));
  const redisMs = mean(on.map((r) => r.redisTicks * 10)) - mean(off.map((r) => r.redisTicks * 10));
  console.log(`with ${Math.round(rate)} updates/s: server +${delta.toFixed(1)}% of a core, ${((delta / 100) * 1e6 / rate).toFixed(0)} µs per update` +
    (redisMs ? `; redis-server +${redisMs.toFixed(0)} ms per run, ${((redisMs * 1000) / mean(on.map((r) => r.result.reads))).toFixed(0)} µs per update` : ''));
}
EOF
