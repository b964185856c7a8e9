#!/usr/bin/env bash
# Throttling benchmark: a replica's lag while its physical backup runs under a write load,
# without and with `backup-throttle-lag`.
#
# A sandbox primary db1 and replica db2 with about SIZE (default 1G) of sysbench data. Each run
# starts `sysbench oltp_write_only` on db1 at RATE transactions per second (default 300), waits
# WARM seconds (default 10) for the replica's steady state, samples db2's Seconds_Behind_Master
# twice a second, and takes a physical backup of db2 through Ferryman:
#
#   F  free: the sandbox's configuration
#   T  throttled: the same with `backup-throttle-lag = LAG` (default "5s") and
#      `backup-throttle-min-rate-mib = FLOOR` (default 16)
#
# Between runs the load stops and db2 catches up. It prints, per mode, the backup's wall time
# and the lag during the backup (max and mean), and the lag during the warm-up before it (the
# load alone).
#
#   bench/throttle.sh                            # as root: build, 1G, 2 runs of each
#   RUNS=1 RATE=500 FERRYMAN=target/release/ferryman bench/throttle.sh
#
# Environment: BENCH_DIR (default /tmp/ferryman-bench-throttle, reused), SIZE, SKIP_LOAD=1,
# RUNS (default 2), RATE, WARM, LAG, FLOOR, FERRYMAN (else `cargo build --release --locked`),
# DESTROY=1 (`sandbox destroy` at the end). Needs sysbench, mariadb, jq, curl.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
dir=${BENCH_DIR:-/tmp/ferryman-bench-throttle}
size=${SIZE:-1G}
runs=${RUNS:-2}
rate=${RATE:-300}
warm=${WARM:-10}
lag=${LAG:-5s}
floor=${FLOOR:-16}
destroy=${DESTROY:-0}
. "$repo_root/bench/lib.sh"

[[ $(id -u) == 0 ]] || die "run as root"
[[ $dir != *[[:space:]]* ]] || die "BENCH_DIR must not contain spaces: '$dir'"
for tool in sysbench mariadb jq curl; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

step "Build"
use_ferryman "$repo_root"

manager_pid='' agent_pid='' load_pid='' sampler_pid='' sandbox_started=0 sb_opts=''
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$sampler_pid" sampler
    stop_pid "$load_pid" sysbench
    stop_pid "$agent_pid" agent
    stop_pid "$manager_pid" manager
    [[ -n $sb_opts ]] && rm -f -- "$sb_opts"
    end_sandbox "$dir" "$sandbox_started" "$destroy"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "Sandbox and data in $dir"
sandbox_started=1
"$fm" sandbox up --dir "$dir" --replicas 1 --no-auto-verify
cfg=$dir/ferryman.toml
work=$dir/bench
mkdir -p "$work"
p1=$dir/servers/db1/my.cnf p2=$dir/servers/db2/my.cnf
datadir=$(ini_get "$p1" mysqld datadir)
http_port=$(ini_get "$cfg" manager http-port)
ensure_data "$dir" "$datadir" "$size"
q1() { mariadb --defaults-file="$p1" --user=root -N -B -e "$1"; }
q2() { mariadb --defaults-file="$p2" --user=root -N -B -e "$1"; }
tables=$(q1 "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'sbtest'")
rows=$(q1 "SELECT MAX(id) FROM sbtest.sbtest1")
# sysbench's password in a 0600 file, never on its command line.
sb_opts=$(mktemp "$dir/secrets/sysbench-XXXXXX")
chmod 600 "$sb_opts"
printf 'db-driver=mysql\nmysql-socket=%s\nmysql-user=ferryman\nmysql-password=%s\nmysql-db=sbtest\n' \
    "$(ini_get "$p1" mysqld socket)" "$(<"$dir/secrets/ferryman.pass")" >"$sb_opts"

cfg_free=$cfg cfg_thr=$work/ferryman-throttled.toml
with_cluster_keys "$cfg" "$cfg_thr" "backup-throttle-lag = \"$lag\"" \
    "backup-throttle-min-rate-mib = $floor"
"$fm" config check "$cfg_thr" >/dev/null || die "$cfg_thr does not check"

# Vertical output keeps its names only without -N (q2's skip-column-names).
lag_now() {
    mariadb --defaults-file="$p2" --user=root -e "SHOW SLAVE STATUS\\G" |
        awk '/Seconds_Behind_Master/ { print $2 }'
}
catch_up() {
    for ((i = 0; i < 600; i++)); do
        [[ $(lag_now) == 0 ]] && return 0
        sleep 1
    done
    die "db2 did not catch up within 10 min"
}
sample() { # file: the lag every 0.5 s until killed
    while :; do
        printf '%s %s\n' "$(now)" "$(lag_now)" >>"$1"
        sleep 0.5
    done
}
lag_stats() { # file from to -> "max mean" of the samples in [from, to]
    awk -v a="$2" -v b="$3" '$1 >= a && $1 <= b && $2 ~ /^[0-9]+$/ { n++; s += $2; if ($2 > m) m = $2 }
        END { printf "%d %.1f", m, (n ? s / n : 0) }' "$1"
}

declare -A wall=() maxlag=() meanlag=() warmmax=()
run() { # mode config round
    local log=$work/$1-$3 t0 t1 tw out
    "$fm" manager --config "$2" >>"$work/manager-$1.log" 2>&1 &
    manager_pid=$!
    wait_manager "$manager_pid" "http://127.0.0.1:$http_port/api/health" "$work/manager-$1.log"
    "$fm" agent --config "$2" --server db2 >>"$work/agent-$1.log" 2>&1 &
    agent_pid=$!
    catch_up
    sysbench --config-file="$sb_opts" oltp_write_only --tables="$tables" --table-size="$rows" \
        --threads=2 --rate="$rate" --time=3600 run >"$log.sysbench" 2>&1 &
    load_pid=$!
    : >"$log.lag"
    sample "$log.lag" &
    sampler_pid=$!
    tw=$(now)
    sleep "$warm"
    t0=$(now)
    out=$("$fm" backup run --config "$2" --cluster sandbox --server db2 --kind physical --wait --json) ||
        die "$1: the backup failed: $out"
    t1=$(now)
    [[ $(jq -r .state <<<"$out") == succeeded ]] || die "$1: the backup failed: $out"
    stop_pid "$sampler_pid" sampler; sampler_pid=''
    stop_pid "$load_pid" sysbench; load_pid=''
    stop_pid "$agent_pid" agent; agent_pid=''
    stop_pid "$manager_pid" manager; manager_pid=''
    read -r m a <<<"$(lag_stats "$log.lag" "$t0" "$t1")"
    read -r wm _ <<<"$(lag_stats "$log.lag" "$tw" "$t0")"
    wall[$1]+=" $(elapsed "$t0" "$t1")" maxlag[$1]+=" $m" meanlag[$1]+=" $a" warmmax[$1]+=" $wm"
    printf '  %s  backup %8.3f s  lag during it: max %3d s, mean %5.1f s  (load alone: max %d s)\n' \
        "$1" "$(elapsed "$t0" "$t1")" "$m" "$a" "$wm"
}

step "Runs ($runs of each; $tables tables of $rows rows; load $rate tps; logs in $work)"
for ((r = 1; r <= runs; r++)); do
    run F "$cfg_free" "$r"
    run T "$cfg_thr" "$r"
done

step "Results"
printf '%-46s %12s %12s %12s %14s\n' "median of $runs runs" "backup s" "max lag s" "mean lag s" "load alone max"
for m in F T; do
    case $m in F) what="F free" ;; T) what="T backup-throttle-lag = $lag, floor $floor MiB/s" ;; esac
    printf '%-46s %12s %12s %12s %14s\n' "$what" "$(median ${wall[$m]})" "$(median ${maxlag[$m]})" \
        "$(median ${meanlag[$m]})" "$(median ${warmmax[$m]})"
done
