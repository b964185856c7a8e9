#!/usr/bin/env bash
# A thousand servers on one manager: the manager's memory and CPU idle and while backups stream,
# and an agent's memory and queries on its server.
#
# How the simulation maps to a real fleet. A real fleet of SERVERS servers in CLUSTERS clusters
# of SERVERS/CLUSTERS servers each (default 1000 in 250 of 4: a primary and three replicas) is
# played by one sandbox of SERVERS/CLUSTERS real `mariadbd` (db1 primary, the others its
# replicas). Simulated server s of cluster c is real server s, reached at its own address
# 127.(10 + c / 250).(c % 250).s on the real server's port, so the manager sees a thousand
# distinct servers, opens a thousand sets of connections and keeps a thousand views, as it
# would with a thousand hosts. Each cluster keeps its job rows and agent heartbeats in its own
# schema (`jobs-schema = "fm_cNNN"`), so the thousand servers' job tables are a thousand real
# tables. Each cluster's topology is the real one (its replicas replicate from its primary:
# every address is loopback, which the monitor counts as one host). The whole run is in a
# network namespace of its own (`unshare --net`: only `lo`), where the real servers listen on
# every address; nothing outside it can reach them.
#
# What differs from reality: four real servers answer for a thousand, so the servers' own CPU
# is shared (each answers 250 times the questions a real server would); the network is a
# loopback. Both make the manager's figures pessimistic, not optimistic: every read waits on a
# busier server, on the same two cores as the manager.
#
# Phases:
#   idle    the manager with every schedule (the default crons) and the topology monitor
#           running, and BACKUPS agents (one per backup host of the first BACKUPS clusters);
#           after WARM seconds, its RSS and CPU over IDLE seconds.
#   busy    BACKUPS logical backups at once, one per cluster, each capped at RATE_MIB MiB/s
#           (`backup-throttle-rate-mib`) so that they stream side by side; the manager's
#           peak RSS and the most streams open at once.
#   agents  the manager stopped; the agents' RSS, and the questions each asks its server
#           (`Questions` of each real server over IDLE seconds, divided by its agents).
#
#   bench/fleet.sh                                   # as root: build, 1000 servers
#   SERVERS=200 CLUSTERS=50 FERRYMAN=target/release/ferryman bench/fleet.sh
#
# Environment: BENCH_DIR (default /tmp/ferryman-bench-fleet, reused), SERVERS, CLUSTERS, SIZE
# (sysbench data, default 100M), BACKUPS (default 20), RATE_MIB (default 2), WARM (default 30),
# IDLE (default 60), FERRYMAN (else `cargo build --release --locked`), DESTROY=1. Needs
# unshare, ip, mariadb, jq, curl, ss.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
. "$repo_root/bench/lib.sh"
[[ $(id -u) == 0 ]] || die "run as root"
if [[ -z ${FLEET_NETNS:-} ]]; then
    # The real servers listen on every address: only inside a namespace whose one interface is
    # the loopback.
    exec unshare --net env FLEET_NETNS=1 bash "$0" "$@"
fi
ip link set lo up

dir=${BENCH_DIR:-/tmp/ferryman-bench-fleet}
servers=${SERVERS:-1000}
clusters=${CLUSTERS:-250}
size=${SIZE:-100M}
backups=${BACKUPS:-20}
rate_mib=${RATE_MIB:-2}
warm=${WARM:-30}
idle=${IDLE:-60}
destroy=${DESTROY:-0}
for tool in mariadb jq curl ss; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
((servers % clusters == 0)) || die "SERVERS ($servers) must be a multiple of CLUSTERS ($clusters)"
per=$((servers / clusters))
((per >= 2 && per <= 9)) || die "SERVERS/CLUSTERS must be 2 to 9 (a primary and its replicas)"
((clusters <= 250 * 240)) || die "at most 60000 clusters"
((backups <= clusters)) || die "BACKUPS ($backups) must not exceed CLUSTERS ($clusters)"

step "Build"
use_ferryman "$repo_root"

manager_pid='' sandbox_started=0
agent_pids=()
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in "${agent_pids[@]}"; do stop_pid "$p" agent; done
    stop_pid "$manager_pid" manager
    end_sandbox "$dir" "$sandbox_started" "$destroy"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "Sandbox of $per real servers in $dir"
sandbox_started=1
"$fm" sandbox up --dir "$dir" --replicas $((per - 1)) --no-auto-verify
# Every address of the namespace, and room for a thousand servers' connections.
changed=0
for ((s = 1; s <= per; s++)); do
    cnf=$dir/servers/db$s/my.cnf
    if grep -q '^bind-address=127.0.0.1$' "$cnf"; then
        sed -i -e 's/^bind-address=127.0.0.1$/bind-address=0.0.0.0/' \
            -e 's/^max-connections=.*/max-connections=3000/' "$cnf"
        changed=1
    fi
done
if ((changed)); then
    "$fm" sandbox down --dir "$dir"
    "$fm" sandbox up --dir "$dir" --replicas $((per - 1)) --no-auto-verify
fi
p1=$dir/servers/db1/my.cnf
ensure_data "$dir" "$(ini_get "$p1" mysqld datadir)" "$size"

step "Configuration: $servers servers in $clusters clusters"
src=$dir/ferryman.toml work=$dir/fleet cfg=$dir/fleet/ferryman.toml
mkdir -p "$work"
http_port=$(ini_get "$src" manager http-port)
stream_port=$(ini_get "$src" manager stream-port)
address() { # cluster server -> the simulated server's address
    printf '127.%d.%d.%d' $((10 + $1 / 250)) $(($1 % 250)) "$2"
}
cluster_name() { printf 'c%03d' "$1"; }
backup_host() { # cluster -> its backup host's number: the replicas in turn
    echo $((2 + $1 % (per - 1)))
}
{
    # [manager], [agent], [jobs], [verifier] of the sandbox; the agents poll at the shipped
    # default (5 s), and the manager may stream every backup of the busy phase at once.
    awk '/^\[clusters\./ { exit } /^poll-interval/ { next } { print }
         /^\[manager\]$/ { print "backup-concurrency = 64" }' "$src"
    for ((c = 0; c < clusters; c++)); do
        name=$(cluster_name "$c")
        awk -v n="$name" '/^\[clusters\.[a-z]+\]$/ { on = 1; print "[clusters." n "]"; next }
             /^\[/ { on = 0 } on && !/^scheduler-db-servers-sender-ports/ { print }' "$src"
        printf 'jobs-schema = "fm_%s"\ndb-servers-backup-hosts = ["%s-db%d"]\n' \
            "$name" "$name" "$(backup_host "$c")"
        printf 'backup-throttle-rate-mib = %d\n' "$rate_mib"
        for ((s = 1; s <= per; s++)); do
            cnf=$dir/servers/db$s/my.cnf
            printf '\n[[clusters.%s.servers]]\nname = "%s-db%d"\nhost = "%s"\nport = %s\n' \
                "$name" "$name" "$s" "$(address "$c" "$s")" "$(ini_get "$cnf" mysqld port)"
            printf 'socket = "%s"\ndatadir = "%s"\ndefaults-file = "%s"\n' \
                "$(ini_get "$cnf" mysqld socket)" "$(ini_get "$cnf" mysqld datadir)" "$cnf"
        done
        echo
    done
} >"$cfg"
"$fm" config check "$cfg" >/dev/null || die "$cfg does not check"
echo "$cfg: $(grep -c '^\[\[clusters' "$cfg") servers, $(grep -c '^\[clusters' "$cfg") clusters"

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
kib() { awk -v k="$2" '$1 == k ":" { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
questions() { # server number -> its Questions counter
    mariadb --defaults-file="$dir/servers/db$1/my.cnf" --user=root -N -B \
        -e "SHOW GLOBAL STATUS LIKE 'Questions'" | awk '{ print $2 }'
}

step "Idle: manager and $backups agents; $warm s to settle, then $idle s measured"
"$fm" manager --config "$cfg" >>"$work/manager.log" 2>&1 &
manager_pid=$!
t_start=$(now)
wait_manager "$manager_pid" "http://127.0.0.1:$http_port/api/health" "$work/manager.log"
echo "  the manager answered after $(elapsed "$t_start" "$(now)") s (every server prepared)"
for ((c = 0; c < backups; c++)); do
    server=$(cluster_name "$c")-db$(backup_host "$c")
    "$fm" agent --config "$cfg" --server "$server" >>"$work/agent-$server.log" 2>&1 &
    agent_pids+=("$!")
done
sleep "$warm"
kill -0 "$manager_pid" || die "the manager exited: $(tail -n 20 "$work/manager.log")"
t0=$(now) c0=$(ticks "$manager_pid") rss_idle_max=0
for ((i = 0; i < idle; i++)); do
    r=$(kib "$manager_pid" VmRSS)
    ((r > rss_idle_max)) && rss_idle_max=$r
    sleep 1
done
t1=$(now) c1=$(ticks "$manager_pid")
hz=$(getconf CLK_TCK)
cpu_idle=$(awk -v c=$((c1 - c0)) -v hz="$hz" -v t="$(elapsed "$t0" "$t1")" \
    'BEGIN { printf "%.2f", 100 * c / hz / t }')
agent_rss_idle=0
for p in "${agent_pids[@]}"; do
    r=$(kib "$p" VmRSS)
    ((r > agent_rss_idle)) && agent_rss_idle=$r
done
printf '  manager: RSS max %s MiB, CPU %s %% of one core\n' "$(mib "$rss_idle_max")" "$cpu_idle"
fresh=$("$fm" status --config "$cfg" --json 2>/dev/null |
    jq '[.. | objects | select(has("role")) | select(.role != null)] | length' 2>/dev/null || echo '?')
echo "  servers with a role in \`ferryman status\`: $fresh of $servers"

step "Busy: $backups logical backups at once, each at $rate_mib MiB/s"
rss_busy_max=0 streams_max=0
outs=()
for ((c = 0; c < backups; c++)); do
    out=$work/backup-$(cluster_name "$c").json
    outs+=("$out")
    "$fm" backup run --config "$cfg" --cluster "$(cluster_name "$c")" --kind logical --wait \
        --json >"$out" 2>&1 &
done
t0=$(now)
while (($(jobs -rp | wc -l) > ${#agent_pids[@]} + 1)); do
    r=$(kib "$manager_pid" VmRSS)
    ((r > rss_busy_max)) && rss_busy_max=$r
    n=$(ss -Htn state established "( sport = :$stream_port )" | wc -l)
    ((n > streams_max)) && streams_max=$n
    sleep 0.5
done
t1=$(now)
ok=0
for out in "${outs[@]}"; do
    [[ $(jq -r .state "$out" 2>/dev/null) == succeeded ]] && ok=$((ok + 1)) ||
        echo "  failed: $out: $(head -c 400 "$out")"
done
hwm=$(kib "$manager_pid" VmHWM)
printf '  %d of %d succeeded in %s s; at most %d streams at once\n' "$ok" "$backups" \
    "$(elapsed "$t0" "$t1")" "$streams_max"
printf '  manager: RSS max %s MiB (VmHWM %s MiB)\n' "$(mib "$rss_busy_max")" "$(mib "$hwm")"

step "Agents: the manager stopped; $idle s of their questions"
stop_pid "$manager_pid" manager
manager_pid=''
sleep 5
declare -A q0=() on=()
for ((c = 0; c < backups; c++)); do
    h=$(backup_host "$c")
    on[$h]=$((${on[$h]:-0} + 1))
done
for h in "${!on[@]}"; do q0[$h]=$(questions "$h"); done
t0=$(now)
sleep "$idle"
t1=$(now)
qps_max=0
for h in "${!on[@]}"; do
    # Less the two reads of the counter, each one question.
    q=$(($(questions "$h") - ${q0[$h]} - 1))
    qps=$(awk -v q="$q" -v n="${on[$h]}" -v t="$(elapsed "$t0" "$t1")" 'BEGIN { printf "%.3f", q / n / t }')
    printf '  db%d: %d agents, %d questions in %s s: %s per agent per second\n' \
        "$h" "${on[$h]}" "$q" "$(elapsed "$t0" "$t1")" "$qps"
    qps_max=$(awk -v a="$qps" -v b="$qps_max" 'BEGIN { print (a > b) ? a : b }')
done
agent_rss_after=0
for p in "${agent_pids[@]}"; do
    r=$(kib "$p" VmRSS)
    ((r > agent_rss_after)) && agent_rss_after=$r
done

step "Results ($servers servers, $clusters clusters, $backups backups at $rate_mib MiB/s)"
printf '%-52s %12s %12s %8s\n' "" "measured" "target" ""
printf '%-52s %12s %12s %8s\n' "manager RSS idle (max over $idle s), MiB" "$(mib "$rss_idle_max")" "64" \
    "$(verdict "$(mib "$rss_idle_max")" 64)"
printf '%-52s %12s %12s %8s\n' "manager CPU idle, % of one core" "$cpu_idle" "2" "$(verdict "$cpu_idle" 2)"
printf '%-52s %12s %12s %8s\n' "manager RSS with $streams_max streams (max), MiB" "$(mib "$rss_busy_max")" \
    "256" "$(verdict "$(mib "$rss_busy_max")" 256)"
printf '%-52s %12s %12s %8s\n' "agent RSS idle (largest of $backups), MiB" "$(mib "$agent_rss_idle")" "20" \
    "$(verdict "$(mib "$agent_rss_idle")" 20)"
printf '%-52s %12s %12s %8s\n' "agent RSS after its backup (largest), MiB" "$(mib "$agent_rss_after")" "" ""
printf '%-52s %12s %12s %8s\n' "agent questions per second on its server (largest)" "$qps_max" "1" \
    "$(verdict "$qps_max" 1)"
