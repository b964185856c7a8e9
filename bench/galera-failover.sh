#!/usr/bin/env bash
# Galera link failover benchmark: from the replicating node's death to another node replicating,
# with the link keeper's default timings (interval 5s, heartbeat-timeout 30s,
# master-connect-timeout 10s, failed-cool-down 3m).
#
# Two Galera sandbox clusters of 3 nodes (alpha replicates to beta; `ferryman sandbox up --galera
# 3 --clusters 2 --no-link`) and one `ferryman galera-link` daemon per node, as separate
# processes, configured by the sandbox's ferryman.toml. Each round:
#   1. waits until one beta node replicates (its lease has a master and both threads run);
#   2. kills that node like a dying host: SIGKILL to its keeper and its mariadbd at once;
#   3. polls `ferryman galera-link status --json` until another beta node replicates, and
#      records two times from the kill: when a surviving node's Galera component has shrunk
#      (eviction: the floor of any failover that waits for Galera to notice) and when the new
#      replica's threads run (failover);
#   4. restarts the dead node and its keeper (`ferryman sandbox start`) before the next round.
# At the end it prints min/median/max of both and the median ratio failover/eviction, next to
# the target (< 60 s) and the original script's figure (reference 004: a replica is declared
# dead after 179 s without heartbeat, then one cron minute to propose and one to promote:
# about 4-5 minutes; ../shared/research/pxc-replication-manager.md, section 7).
#
#   bench/galera-failover.sh                 # build, 3 rounds, sandbox in /tmp/ferryman-galera-bench
#   ROUNDS=5 FERRYMAN=target/release/ferryman BENCH_DIR=/var/tmp/fg bench/galera-failover.sh
#
# Needs galera-4, rsync, jq. The sandbox and every process it started are removed on exit
# (LOGS_TO=DIR keeps the keepers' logs there; FERRYMAN_LOG=debug makes them say more).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DIR=${BENCH_DIR:-/tmp/ferryman-galera-bench}
if [ -z "${FERRYMAN:-}" ]; then
  cargo build --release -q -p ferryman
  FERRYMAN=$PWD/target/release/ferryman
fi
CONFIG=$DIR/ferryman.toml
LOGS=$DIR/keepers
declare -A KEEPER

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

cleanup() {
  for pid in "${KEEPER[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "${LOGS_TO:-}" ] && [ -d "$LOGS" ]; then mkdir -p "$LOGS_TO" && cp "$LOGS"/*.log "$LOGS_TO"/; fi
  "$FERRYMAN" sandbox destroy --dir "$DIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT

"$FERRYMAN" sandbox destroy --dir "$DIR" >/dev/null 2>&1 || rm -rf "$DIR"
t=$(now)
"$FERRYMAN" sandbox up --dir "$DIR" --galera 3 --clusters 2 --no-link >/dev/null
echo "two clusters of 3 nodes up in $(secs "$t" "$(now)") s ($(mariadbd --version | awk '{print $3}'), $(nproc) cores)"
mkdir -p "$LOGS"

start_keeper() {
  "$FERRYMAN" galera-link --config "$CONFIG" --server "$1" >>"$LOGS/$1.log" 2>&1 &
  KEEPER[$1]=$!
  disown "$!" # no "Killed" line from bash when the round kills it
}
for n in a1 a2 a3 b1 b2 b3; do start_keeper "$n"; done

status() { "$FERRYMAN" galera-link status --config "$CONFIG" --cluster beta --json 2>/dev/null || echo '[]'; }
# The replicating node: the lease owner once its master is set and its threads run.
replica() {
  status | jq -r '.[0] // empty | . as $c | select($c.lease.owner != null and $c.lease.master != null)
    | $c.nodes[] | select(.node == $c.lease.owner and .replicating) | .node'
}
# The smallest Galera component a reachable beta node reports.
smallest() { status | jq -r '[.[0].nodes[]? | select(.cluster_size != null) | .cluster_size] | min // empty'; }

wait_replica() { # [not NODE] -> prints the replica
  local r i
  for ((i = 0; i < 600; i++)); do
    r=$(replica)
    if [ -n "$r" ] && [ "$r" != "${1:-}" ]; then echo "$r"; return 0; fi
    sleep 0.2
  done
  echo "no replica after 120 s; keeper logs in $LOGS" >&2; return 1
}

EVICT=() FAIL=()
first=$(now)
r=$(wait_replica)
echo "first replica: $r after $(secs "$first" "$(now)") s (keepers started together)"
for ((round = 1; round <= ROUNDS; round++)); do
  r=$(wait_replica)
  pid=$(cat "$DIR/servers/$r/mariadbd.pid")
  t0=$(now)
  kill -9 "${KEEPER[$r]}" "$pid"
  evicted=""
  while :; do
    [ -z "$evicted" ] && [ "$(smallest)" = 2 ] && evicted=$(secs "$t0" "$(now)")
    n=$(replica)
    if [ -n "$n" ] && [ "$n" != "$r" ]; then break; fi
    awk -v a="$t0" -v b="$(now)" 'BEGIN { exit !(b - a > 300) }' && { echo "no failover after 300 s" >&2; exit 1; }
    sleep 0.2
  done
  failover=$(secs "$t0" "$(now)")
  evicted=${evicted:-$failover}
  EVICT+=("$evicted") FAIL+=("$failover")
  echo "round $round: killed $r at $(date -u -d "@$t0" +%H:%M:%S.%3N); Galera evicted it after ${evicted} s; $n replicates after ${failover} s"
  "$FERRYMAN" sandbox start --dir "$DIR" --server "$r" >/dev/null
  start_keeper "$r"
done

stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.1f / %.1f / %.1f", v[1], v[int((NR + 1) / 2)], v[NR] }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo
echo "rounds: $ROUNDS (min / median / max seconds from kill -9)"
echo "  Galera eviction:         $(stats "${EVICT[@]}")"
echo "  failover (new replica):  $(stats "${FAIL[@]}")   target < 60 s; reference 004 ~240-300 s"
awk -v f="$(median "${FAIL[@]}")" -v e="$(median "${EVICT[@]}")" \
  'BEGIN { printf "  median failover / eviction: %.2fx; vs reference 004 (270 s): %.2fx\n", f / e, f / 270 }'
