#!/usr/bin/env bash
# Point-in-time recovery benchmarks (issue 18), on one sandbox primary:
#   1. archive throughput: the binlog archiver catching up SIZE of binlog (sysbench prepare),
#      against `mariadb-binlog --read-from-remote-server --raw` reading the same binlogs;
#   2. RPO: the time from commit on the primary to durable in the archive, under
#      `sysbench oltp_write_only` at full speed, median and p99;
#   3. restore to a point (the backup + the archived binlog) with `ferryman restore`, against
#      doing it by hand (extract, prepare, start, `mariadb-binlog ... | mariadb`).
# See bench/README.md.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
dir=${BENCH_DIR:-/tmp/ferryman-bench-pitr}
runs=${RUNS:-3}
size=${SIZE:-1G}
rpo_seconds=${RPO_SECONDS:-60}
restore_runs=${RESTORE_RUNS:-$runs}
warmup=${WARMUP:-1}
threads=${THREADS:-4}
keep=${KEEP:-0}
destroy=${DESTROY:-0}
. "$repo_root/bench/lib.sh"

[[ $dir != *[[:space:]]* ]] || die "BENCH_DIR must not contain spaces: '$dir'"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$runs'"
for tool in mariadb mariadb-binlog mariabackup mbstream sysbench jq curl awk zstd; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

step "Build"
if [[ -n ${FERRYMAN:-} ]]; then
    fm=$FERRYMAN
    echo "using FERRYMAN=$fm"
else
    (cd "$repo_root" && cargo build --release --locked -p ferryman)
    fm=$repo_root/target/release/ferryman
fi
[[ -x $fm ]] || die "$fm is not executable"

manager_pid='' agent_pid='' sampler_pid='' hand_pid='' sandbox_started=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$sampler_pid" sampler
    stop_pid "$hand_pid" "hand-restored server"
    stop_pid "$agent_pid" agent
    stop_pid "$manager_pid" manager
    for pidfile in "$dir"/bench/restore-*/pid; do
        [[ -f $pidfile ]] && stop_pid "$(<"$pidfile")" "restored server"
    done
    if ((sandbox_started)); then
        if [[ $keep == 1 ]]; then
            echo "KEEP=1: the sandbox keeps running in $dir"
        elif [[ $destroy == 1 ]]; then
            "$fm" sandbox destroy --dir "$dir" >/dev/null || echo "warning: sandbox destroy failed" >&2
            echo "sandbox $dir destroyed"
        else
            "$fm" sandbox down --dir "$dir" >/dev/null || echo "warning: sandbox down failed" >&2
            echo "sandbox servers stopped (data kept in $dir; DESTROY=1 removes it)"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "Sandbox in $dir"
mkdir -p "$(dirname "$dir")"
sandbox_started=1
"$fm" sandbox up --dir "$dir" --replicas 0 --no-auto-verify
cfg=$dir/ferryman.toml
mycnf=$dir/servers/db1/my.cnf
work=$dir/bench
rm -rf "$work"
mkdir -p "$work"
datadir=$(ini_get "$mycnf" mysqld datadir)
port=$(ini_get "$mycnf" mysqld port)
http_addr=$(ini_get "$cfg" manager http-bind-address)
http_port=$(ini_get "$cfg" manager http-port)
mondir=$(ini_get "$cfg" manager monitoring-datadir)
http_addr=${http_addr:-127.0.0.1}
api=http://$http_addr:$http_port
sql() { mariadb --defaults-file="$mycnf" --user=root -N -B -e "$1"; }
# The client options of the ferryman account, in a 0600 file (never a password on argv).
client_cnf=$work/client.cnf
(umask 077 && printf '[client]\nuser=ferryman\npassword=%s\nhost=127.0.0.1\nport=%s\n' \
    "$(<"$dir/secrets/ferryman.pass")" "$port" >"$client_cnf")
token() { cat "$mondir/api.token"; }
pitr_json() { curl -sf -H "Authorization: Bearer $(token)" "$api/api/v1/clusters/sandbox/pitr"; }
seq_of() { awk -F- '{ print $3 + 0 }' <<<"${1##*,}"; }

start_manager() {
    "$fm" manager --config "$cfg" >>"$work/manager.log" 2>&1 &
    manager_pid=$!
    wait_manager "$manager_pid" "$api/api/health" "$work/manager.log"
}
stop_manager() { stop_pid "$manager_pid" manager; manager_pid=''; }
set_archive() { # on|off
    sed -i '/^binlog-archive/d' "$cfg"
    if [[ $1 == on ]]; then
        # Segments cut every 10 s, so that step 3 finds the archive stored soon after the writes.
        sed -i 's/^\[clusters\.sandbox\]$/[clusters.sandbox]\nbinlog-archive = true\nbinlog-archive-segment-age = "10s"/' "$cfg"
    fi
}

step "A backup, then SIZE of binlog"
set_archive off
start_manager
"$fm" agent --config "$cfg" --server db1 >"$work/agent.log" 2>&1 &
agent_pid=$!
sleep 1
# A transaction first: a backup of a server that never wrote one has no GTID to start from.
sql 'CREATE DATABASE IF NOT EXISTS bench_marker'
"$fm" backup run --config "$cfg" --cluster sandbox --kind physical --wait >"$work/backup.log"
backup_gtid=$(sql 'SELECT @@gtid_binlog_pos')
echo "physical backup at GTID $backup_gtid"
# The load's binlog in files of its own: what both A and B read from.
sql 'FLUSH BINARY LOGS'
first_log=$(sql 'SHOW MASTER STATUS' | cut -f 1)
stop_pid "$agent_pid" agent
agent_pid=''
stop_manager
t0=$(now)
"$fm" sandbox load --dir "$dir" --size "$size"
echo "loaded in $(elapsed "$t0" "$(now)") s"
binlog_bytes=$(sql 'SHOW BINARY LOGS' | awk -v first="$first_log" '$1 >= first { s += $2 } END { print s + 0 }')
end_gtid=$(sql 'SELECT @@gtid_binlog_pos')
echo "binlogs: $(human "$binlog_bytes") up to $end_gtid"

step "1. Archive throughput ($runs runs after $warmup uncounted)"
declare -a wall_A=() wall_B=() wall_Bs=()
# The first rounds after the load are slower for both, by more than their difference (page
# cache, the primary's purge thread, writeback of the load): WARMUP rounds are shown, not counted.
for ((r = 1 - warmup; r <= runs; r++)); do
    # B: the tool alone, to files.
    rm -rf "$work/raw" && mkdir -p "$work/raw"
    t0=$(now)
    mariadb-binlog --defaults-extra-file="$client_cnf" --read-from-remote-server --raw \
        --to-last-log --result-file="$work/raw/" "$first_log"
    wall_B+=("$(elapsed "$t0" "$(now)")")
    # B made durable, as the archiver's position is: the files fsynced.
    sync "$work"/raw/*
    wall_Bs+=("$(elapsed "$t0" "$(now)")")
    # A: the archiver from the backup's position until it is durable at the end.
    rm -rf "$mondir/BinlogSpool" "$mondir/Binlogs"
    set_archive on
    t0=$(now)
    start_manager
    until [[ $(pitr_json | jq -r '.archiver.position // ""') == "$end_gtid" ]]; do sleep 0.05; done
    wall_A+=("$(elapsed "$t0" "$(now)")")
    stop_manager
    echo "run $r: archiver ${wall_A[-1]} s, mariadb-binlog ${wall_B[-1]} s (${wall_Bs[-1]} s with the files synced)"
    if ((r < 1)); then
        echo "  (warm-up: not counted)"
        wall_A=() wall_B=() wall_Bs=()
    fi
done
ratio_tp=$(ratio "$(median "${wall_A[@]}")" "$(median "${wall_B[@]}")")
ratio_tps=$(ratio "$(median "${wall_A[@]}")" "$(median "${wall_Bs[@]}")")

step "2. RPO under sysbench oltp_write_only ($rpo_seconds s, $threads threads)"
start_manager
sleep 2
samples=$work/samples.txt
: >"$samples"
(
    # Each round: the primary's last GTID (server time), then the archive's durable one. The
    # client answers one query at a time, so no sample waits in a pipe.
    coproc SQL { mariadb --defaults-file="$mycnf" --user=root -N -B --unbuffered; }
    while :; do
        echo 'SELECT UNIX_TIMESTAMP(NOW(6)), @@gtid_binlog_pos;' >&"${SQL[1]}"
        IFS=$'\t' read -r t pos <&"${SQL[0]}" || break
        durable=$(pitr_json | jq -r '.archiver.position // ""')
        printf '%s %s %s %s\n' "$t" "$(seq_of "$pos")" "$(now)" "$(seq_of "$durable")" >>"$samples"
        sleep 0.02
    done
) &
sampler_pid=$!
tables=$(sql "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'sbtest'")
sysbench oltp_write_only --mysql-socket="$(ini_get "$mycnf" mysqld socket)" --mysql-user=root \
    --db-driver=mysql --tables="$tables" --threads="$threads" --time="$rpo_seconds" --report-interval=10 \
    run >"$work/sysbench.log" 2>&1 || { tail -n 20 "$work/sysbench.log"; die "sysbench failed"; }
sleep 2
stop_pid "$sampler_pid" sampler
sampler_pid=''
# For each primary sample (time, seq), the first later sample whose durable seq reaches it.
read -r rpo_median rpo_p99 rpo_max rpo_n < <(awk '
    { pt[NR] = $1; ps[NR] = $2; at[NR] = $3; as[NR] = $4 }
    END {
        j = 1; n = 0
        for (i = 1; i <= NR; i++) {
            if (j < i) j = i
            while (j <= NR && as[j] < ps[i]) j++
            if (j > NR) break
            d[++n] = at[j] - pt[i]
        }
        asort(d)
        printf "%.3f %.3f %.3f %d\n", d[int((n + 1) / 2)], d[int(n * 0.99)], d[n], n
    }' "$samples")
tps=$(awk '/transactions:/ { gsub(/[()]/, "", $3); print $3 }' "$work/sysbench.log")
echo "RPO over $rpo_n samples: median $rpo_median s, p99 $rpo_p99 s, max $rpo_max s (sysbench $tps tps)"

step "3. Restore to a point ($restore_runs runs)"
point=$(sql 'SELECT @@gtid_binlog_pos')
# Wait until the archive's segments reach the point (the spool is cut by age).
if ((restore_runs > 0)); then
    until [[ $(pitr_json | jq -r '.archived_to_gtid') == "$point" ]]; do sleep 0.5; done
fi
declare -a wall_R=() wall_H=()
backup_json=$("$fm" backup list --config "$cfg" --cluster sandbox --json)
backup_id=$(jq -r '.[0].id' <<<"$backup_json")
backup_gtid=$(jq -r '.[0].gtid' <<<"$backup_json")
backup_dir=$mondir/Backups/$backup_id
for ((r = 1; r <= restore_runs; r++)); do
    target=$work/restore-$r
    t0=$(now)
    "$fm" restore --config "$cfg" --cluster sandbox --to-gtid "$point" --target-dir "$target" >"$work/restore-$r.log"
    wall_R+=("$(elapsed "$t0" "$(now)")")
    rm -rf "$target"
    # By hand: extract, prepare, start, mariadb-binlog | mariadb.
    hand=$work/hand
    rm -rf "$hand" && mkdir -p "$hand/data" "$hand/segs"
    t0=$(now)
    zstd -dc "$backup_dir/payload.xbstream.zst" | mbstream -x -C "$hand/data"
    mariabackup --prepare --target-dir="$hand/data" >"$hand/prepare.log" 2>&1
    i=0
    for seg in "$mondir"/Binlogs/sandbox/*/; do
        zstd -qdc "$seg/segment.binlog.zst" >"$hand/segs/$(printf '%05d' $i).bin"
        i=$((i + 1))
    done
    # The settings of the restore's own server: no fsync per commit, no doublewrite, no binlog.
    mariadbd --no-defaults --user=root --datadir="$hand/data" --socket="$hand/sock" --skip-networking \
        --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
        --skip-log-bin --innodb-buffer-pool-size=512M --pid-file="$hand/pid" >"$hand/err.log" 2>&1 &
    hand_pid=$!
    until mariadb --no-defaults --socket="$hand/sock" --user=root -e 'SELECT 1' >/dev/null 2>&1; do sleep 0.1; done
    mariadb-binlog --no-defaults --start-position="$backup_gtid" --stop-position="$point" "$hand/segs/"*.bin |
        mariadb --no-defaults --socket="$hand/sock" --user=root --binary-mode
    wall_H+=("$(elapsed "$t0" "$(now)")")
    stop_pid "$hand_pid" "hand-restored server"
    hand_pid=''
    rm -rf "$hand"
    echo "run $r: ferryman restore ${wall_R[-1]} s, by hand ${wall_H[-1]} s"
done
ratio_restore=n/a
if ((restore_runs > 0)); then
    ratio_restore=$(ratio "$(median "${wall_R[@]}")" "$(median "${wall_H[@]}")")
fi

step "Results ($(nproc) cores, $(mariadb --version | awk '{ print $5 }'), binlog $(human "$binlog_bytes"))"
printf '%-46s %10s %10s %10s\n' "" min median max
printf '%-46s %10s %10s %10s\n' "A archiver catch-up to durable (s)" $(stats "${wall_A[@]}")
printf '%-46s %10s %10s %10s\n' "B mariadb-binlog --read-from-remote-server (s)" $(stats "${wall_B[@]}")
printf '%-46s %10s %10s %10s\n' "B then sync of its files (s)" $(stats "${wall_Bs[@]}")
if ((restore_runs > 0)); then
    printf '%-46s %10s %10s %10s\n' "R ferryman restore --to-gtid (s)" $(stats "${wall_R[@]}")
    printf '%-46s %10s %10s %10s\n' "H by hand (s)" $(stats "${wall_H[@]}")
fi
echo "archive throughput A/B: $ratio_tp (target <= 1.2: $(verdict "$ratio_tp" 1.2)); against B with its files synced: $ratio_tps"
echo "RPO: median $rpo_median s, p99 $rpo_p99 s (target p99 <= 1 s: $(verdict "$rpo_p99" 1))"
if ((restore_runs > 0)); then
    echo "restore to a point R/H: $ratio_restore (target <= 1.2: $(verdict "$ratio_restore" 1.2))"
fi
