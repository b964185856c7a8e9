#!/usr/bin/env bash
# Reseed benchmark: rebuilding a replica with Ferryman compared with doing it by hand.
#
# A sandbox primary (db1) and two replicas (db2, db3), MariaDB from the OS packages, with about
# SIZE (default 2G) of sysbench InnoDB data on the primary, a running `ferryman manager` and one
# `ferryman agent` per server. Once, before the runs: one physical backup of db1 (`ferryman
# backup run --server db1 --kind physical --wait --json`) and, when C runs, one logical backup
# of db1. Every run then rebuilds replica db2 (the joiner) with one of these methods, in a
# rotating order (ABC, BCA, CAB, ...) so no method always gets the warmest page cache:
#
#   A  Ferryman physical reseed: wall time of `ferryman reseed --method physicalbackup --backup
#      ID --wait --json`. The manager reads the stored backup, decompresses it and streams it to
#      db2's agent, which extracts it with mbstream beside the datadir, prepares it with
#      mariabackup, stops db2 (`service-stop`), swaps the datadir, starts db2 (`service-start`),
#      points replication at the primary from the backup's GTID, waits until it has caught up
#      (lag <= catch-up-max-lag, 10 s), and removes the old datadir. The command returns then.
#   B  The same by hand, from the same stored payload, timed from starting the receiver until
#      db2 has caught up and the old datadir is removed (where A ends too):
#        joiner   socat -u TCP-LISTEN:PORT,bind=127.0.0.1 STDOUT | mbstream -x -C STAGING
#                 (STAGING beside db2's datadir; the two ends are joined by a FIFO)
#        sender   zstd -dc payload.xbstream.zst | socat -u STDIN TCP:127.0.0.1:PORT
#        prepare  mariabackup --defaults-file=STAGING/backup-my.cnf --prepare --target-dir=STAGING
#        restart  ferryman sandbox stop; mv datadir aside; mv STAGING datadir; ferryman sandbox
#                 start (the servers run with skip-slave-start: `sandbox start` starts mariadbd,
#                 waits until it answers, and starts replication only where it is configured,
#                 which a datadir restored from the primary's backup is not; the same command
#                 is A's `service-start`)
#        catch up STOP SLAVE; RESET SLAVE ALL; SET GLOBAL gtid_slave_pos = manifest's GTID;
#                 CHANGE MASTER TO the primary as the sandbox's `repl` user, master_use_gtid =
#                 slave_pos; START SLAVE (root over db2's socket, the SQL on stdin: the
#                 password is on no command line); poll every 0.2 s until Slave_IO_Running
#                 and Slave_SQL_Running are Yes, Seconds_Behind_Master <= 10 and
#                 Master_Log_File is set: the primary has answered and sent its binary log,
#                 which is what A waits for too (`SlaveStatus::receiving`). The threads say
#                 Yes with a lag of 0 right after START SLAVE, before the primary has found
#                 the GTID in its binary log (MariaDB 10.11 reads the binlog file from its
#                 start to find it: ~1.5 s for the 700 MB one a 1G load leaves); a replica
#                 whose GTID the primary refuses (error 1236) says so only then. The summary
#                 also gives B's time to the first "Yes, Yes, lag <= 10" (the weaker check
#                 earlier versions of this script stopped at) and A's ratio to it.
#        remove   rm -rf the old datadir
#      Outside the timed window, db2's job rows are put back as A's agent does (the restored
#      datadir brings db1's rows), so every run starts from the same state.
#   C  Ferryman logical reseed: wall time of `ferryman reseed --method logicalbackup --backup ID
#      --wait --json` from the logical backup (the agent imports the dump into a private server
#      beside db2's datadir, then swaps it in and catches up as in A).
#   D  Ferryman snapshot reseed: wall time of `ferryman reseed --method snapshot --wait --json`:
#      db3 (the donor, a replica of db1 with the same data) has its datadir in a btrfs
#      subvolume on a loop device ($BENCH_DIR/btrfs.img, mounted on $BENCH_DIR/btrfs; set up
#      once, the datadir copied there and linked from its place) and `snapshot-method =
#      "btrfs"`; its agent takes a consistent snapshot (commits blocked), streams a tar of it
#      through the manager to db2's agent, which extracts it beside the datadir, recovers it on
#      a private server, swaps it in and catches up as in A. No stored backup is read.
#
# A method that fails (the command exits non-zero, or the job does not succeed) is recorded as
# failed with its error text and the runs go on; the summary says "failed". After every run,
# failed or not, db2 must equal the primary: it must have applied the primary's whole
# gtid_binlog_pos (MASTER_GTID_WAIT), both replication threads must run, and CHECKSUM TABLE of
# every sbtest table must match db1's. Any difference stops the benchmark with an error: a fast
# wrong reseed is worthless.
#
# At the end it prints min/median/max wall seconds per method, the median ratios A/B (target
# <= 1.15x) and C/A (logical vs physical), the stored payload's raw and stored bytes, and the
# phases of each method's median run: the job's result for A and C ("received in ..., prepared
# in ..., restarted in ..."), measured phases for B.
#
# Run it as root (the sandbox runs mariadbd as root; mariabackup and mbstream write datadirs),
# from anywhere:
#
#   bench/reseed.sh                      # build, sandbox in /tmp/ferryman-bench-reseed, 2G, 3 runs
#   SIZE=200M RUNS=1 METHODS="A B" DESTROY=1 bench/reseed.sh
#
# Environment:
#   BENCH_DIR   sandbox directory, no spaces (default /tmp/ferryman-bench-reseed); created by
#               `ferryman sandbox up --replicas 2` if missing, reused otherwise (it must have
#               been created by the same ferryman binary: its service commands run that one)
#   RUNS        runs of each method (default 3)
#   SIZE        data to load (default 2G); the load is skipped when schema sbtest already holds
#               at least 90 % of SIZE on disk, or when SKIP_LOAD=1
#   METHODS     the methods to run, any of "A B C D" (default "A B C")
#   LOGICAL_TYPE the cluster's backup-logical-type for C's backup: mysqldump (default: the dump
#               imported with the client) or mydumper (loaded with myloader's threads)
#   FERRYMAN    ferryman binary to use; without it, `cargo build --release --locked` first
#   DROP_CACHES 0: do not empty the page cache before each run (see settle)
#   KEEP=1      leave the sandbox servers running at the end (default: `sandbox down`)
#   DESTROY=1   `sandbox destroy` at the end instead of `sandbox down` (frees the disk; D's
#               btrfs file system is unmounted and its loop device detached first; without it,
#               they stay for the next run, db3's datadir being on them)
#
# Needs: mariabackup, mbstream, zstd, socat, mariadb, mariadb-dump, jq, curl, ss, awk. Logs of
# every run, the manager and the agents go to BENCH_DIR/bench/.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
dir=${BENCH_DIR:-/tmp/ferryman-bench-reseed}
runs=${RUNS:-3}
size=${SIZE:-2G}
logical_type=${LOGICAL_TYPE:-mysqldump}
keep=${KEEP:-0}
destroy=${DESTROY:-0}
methods_env=${METHODS:-A B C}

# die, step, timing, statistics, stop_pid, ini_get, to_bytes, settle (before every timed run).
. "$repo_root/bench/lib.sh"
[[ $logical_type == mysqldump || $logical_type == mydumper ]] ||
    die "LOGICAL_TYPE is mysqldump or mydumper, not '$logical_type'"

[[ $dir != *[[:space:]]* ]] || die "BENCH_DIR must not contain spaces: '$dir'"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$runs'"
methods=()
for m in $methods_env; do
    [[ $m == [ABCD] ]] || die "METHODS holds '$m': only A, B, C and D exist"
    [[ " ${methods[*]} " == *" $m "* ]] || methods+=("$m")
done
((${#methods[@]} > 0)) || die "METHODS is empty"
want_method() { [[ " ${methods[*]} " == *" $1 "* ]]; }
for tool in mariabackup mbstream zstd socat mariadb mariadb-dump jq curl ss awk; do
    command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-deps.sh installs it)"
done

# ---------------------------------------------------------------------------------------------
step "Build"
if [[ -n ${FERRYMAN:-} ]]; then
    fm=$FERRYMAN
    echo "using FERRYMAN=$fm"
else
    (cd "$repo_root" && cargo build --release --locked)
    fm=$repo_root/target/release/ferryman
fi
[[ -x $fm ]] || die "$fm is not executable"
fm=$(realpath "$fm")

# ---------------------------------------------------------------------------------------------
manager_pid='' recv_pid='' mb_pid='' sandbox_started=0
declare -A agent_pids=()
# Method B's swap, for putting db2's old datadir back if the script stops half-way: ''
# (nothing moved; db2 may be stopped), aside (the old datadir at $b_old, none in place), swapped.
b_place='' b_staging='' b_old='' b_failed=''
# Puts db2's old datadir back when B stopped between its stop and its end.
b_roll_back() {
    [[ -n $b_place ]] || return 0
    echo "B stopped half-way: putting db2's old datadir back" >&2
    local left="warning: db2's old datadir is left at $b_old: put it back by hand"
    "$fm" sandbox stop --dir "$dir" --server db2 >/dev/null || { echo "$left" >&2; return 0; }
    if [[ $b_place == swapped ]]; then
        mv -- "$datadir2" "$b_failed" || { echo "$left" >&2; return 0; }
    fi
    mv -- "$b_old" "$datadir2" || { echo "$left" >&2; return 0; }
    rm -rf -- "$b_failed"
    b_place=''
    echo "db2's old datadir is back in $datadir2 (db2 is stopped)" >&2
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$recv_pid" "socat receiver"
    stop_pid "$mb_pid" "mbstream"
    for name in "${!agent_pids[@]}"; do
        stop_pid "${agent_pids[$name]}" "agent $name"
    done
    stop_pid "$manager_pid" manager
    b_roll_back
    [[ -n $b_staging ]] && rm -rf -- "$b_staging"
    [[ -n ${work:-} ]] && rm -f -- "$work/B.fifo"
    if ((sandbox_started)); then
        if [[ $keep == 1 ]]; then
            echo "KEEP=1: the sandbox keeps running in $dir"
        elif [[ $destroy == 1 ]]; then
            "$fm" sandbox down --dir "$dir" >/dev/null || echo "warning: sandbox down failed" >&2
            if mountpoint -q "$dir/btrfs" 2>/dev/null; then
                local dev
                dev=$(findmnt -n -o SOURCE "$dir/btrfs" || true)
                umount "$dir/btrfs" || echo "warning: cannot unmount $dir/btrfs" >&2
                [[ -n $dev ]] && { losetup -d "$dev" || echo "warning: cannot detach $dev" >&2; }
            fi
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

# ---------------------------------------------------------------------------------------------
step "Sandbox in $dir"
mkdir -p "$(dirname "$dir")"
df -h "$(dirname "$dir")"
sandbox_started=1
"$fm" sandbox up --dir "$dir" --replicas 2 --no-auto-verify
cfg=$dir/ferryman.toml
mycnf1=$dir/servers/db1/my.cnf
mycnf2=$dir/servers/db2/my.cnf
work=$dir/bench
mkdir -p "$work"

datadir1=$(ini_get "$mycnf1" mysqld datadir)
datadir2=$(ini_get "$mycnf2" mysqld datadir)
port1=$(ini_get "$mycnf1" mysqld port)
http_addr=$(ini_get "$cfg" manager http-bind-address)
http_port=$(ini_get "$cfg" manager http-port)
mondir=$(ini_get "$cfg" manager monitoring-datadir)
[[ -n $datadir1 && -n $datadir2 && -n $port1 && -n $http_port && -n $mondir ]] ||
    die "cannot read datadir/port/http-port/monitoring-datadir from $mycnf1, $mycnf2 and $cfg"
http_addr=${http_addr:-127.0.0.1}
# The replication account: `replication-credential = { user = "repl", password-file = "..." }`.
cred_line=$(grep -m1 '^replication-credential' "$cfg" || true)
repl_user=$(sed -n 's/.*user = "\([^"]*\)".*/\1/p' <<<"$cred_line")
repl_pass_file=$(sed -n 's/.*password-file = "\([^"]*\)".*/\1/p' <<<"$cred_line")
[[ -n $repl_user && -r $repl_pass_file ]] || die "cannot read replication-credential from $cfg"
# The reseed's `service-start` runs the binary that created the sandbox: it must be this one.
svc_bin=$(grep -m1 '^service-start' "$cfg" | sed -n 's/^service-start = \["\([^"]*\)".*/\1/p')
[[ -n $svc_bin ]] || die "$cfg has no service-start: this sandbox was not made by the ferryman CLI"
if [[ $(realpath "$svc_bin" 2>/dev/null || echo "$svc_bin") != "$fm" ]]; then
    die "the sandbox in $dir runs $svc_bin as its service commands, not $fm: remove it
  (\"$fm sandbox destroy --dir $dir\") or run with FERRYMAN=$svc_bin"
fi
# Paths of B beside db2's datadir (same file system, so the swap is two renames).
b_staging=$(dirname "$datadir2")/.$(basename "$datadir2").bench-reseed
b_old=$(dirname "$datadir2")/.$(basename "$datadir2").bench-old
b_failed=$(dirname "$datadir2")/.$(basename "$datadir2").bench-failed
[[ ! -e $b_old ]] || die "$b_old exists: db2's datadir from an interrupted run of this script;
  put it back by hand (\"$fm sandbox stop --dir $dir --server db2\", then mv it to $datadir2)"
rm -rf -- "$b_staging" "$b_failed"

sql() { # my.cnf SQL...: one query as root over the server's socket, tab-separated, no headers
    local cnf=$1
    shift
    mariadb --defaults-file="$cnf" --user=root -N -B -e "$*"
}

# ---------------------------------------------------------------------------------------------
step "Data"
want=$(to_bytes "$size")
have=0
[[ -d $datadir1/sbtest ]] && have=$(du -sb "$datadir1/sbtest" | awk '{ print $1 }')
if [[ ${SKIP_LOAD:-0} == 1 ]]; then
    echo "SKIP_LOAD=1: schema sbtest holds $(human "$have")"
elif ((have * 10 >= want * 9)); then
    echo "schema sbtest already holds $(human "$have") (>= 90 % of $size): not reloading"
else
    echo "loading about $size of sysbench data (several minutes) ..."
    t0=$(now)
    "$fm" sandbox load --dir "$dir" --size "$size"
    echo "loaded in $(elapsed "$t0" "$(now)") s"
fi
sbtest_bytes=$(du -sb "$datadir1/sbtest" | awk '{ print $1 }')
tables=$(sql "$mycnf1" "SELECT table_name FROM information_schema.tables WHERE table_schema = 'sbtest' ORDER BY table_name")
[[ -n $tables ]] || die "schema sbtest on db1 has no tables"
checksum_sql="CHECKSUM TABLE $(printf 'sbtest.%s\n' $tables | paste -sd, | sed 's/,/, /g')"
mariadb_version=$(sql "$mycnf1" 'SELECT VERSION()')
mariabackup_version=$(mariabackup --version 2>&1 | head -n 1)
# Disk: db2's datadir exists up to three times during a reseed (old, staging, new), and the
# stored backups sit beside them.
free=$(df -B1 --output=avail "$dir" | tail -n 1 | tr -d ' ')
need=$((3 * sbtest_bytes + 1073741824))
((free >= need)) || die "$(human "$free") free in $dir, about $(human "$need") needed"
echo "sbtest $(human "$sbtest_bytes") in $(wc -w <<<"$tables") tables; $(human "$free") free"

# ---------------------------------------------------------------------------------------------
# D: db3's datadir in a btrfs subvolume, and its snapshot keys in ferryman.toml (once).
if want_method D; then
    step "db3's datadir on btrfs (method D)"
    command -v mkfs.btrfs >/dev/null || die "mkfs.btrfs is not installed (scripts/install-deps.sh installs btrfs-progs)"
    mycnf3=$dir/servers/db3/my.cnf
    datadir3=$(ini_get "$mycnf3" mysqld datadir)
    datadir3=${datadir3%/}
    if ! mountpoint -q "$dir/btrfs"; then
        mkdir -p "$dir/btrfs"
        [[ -f $dir/btrfs.img ]] || {
            truncate -s "$((3 * sbtest_bytes + 8 * 1073741824))" "$dir/btrfs.img"
            mkfs.btrfs -q -f "$dir/btrfs.img"
        }
        loopdev=$(losetup --find --show "$dir/btrfs.img")
        mount -t btrfs "$loopdev" "$dir/btrfs"
    fi
    if [[ ! -L $datadir3 ]]; then
        "$fm" sandbox stop --dir "$dir" --server db3 >/dev/null
        [[ -d $dir/btrfs/db3 ]] || btrfs subvolume create "$dir/btrfs/db3" >/dev/null
        cp -a "$datadir3/." "$dir/btrfs/db3/"
        rm -rf -- "$datadir3"
        ln -s "$dir/btrfs/db3" "$datadir3"
        "$fm" sandbox start --dir "$dir" --server db3 >/dev/null
    fi
    if ! grep -q '^snapshot-method' "$cfg"; then
        awk -v vol="$dir/btrfs/db3" -v snaps="$dir/btrfs/snapshots" '
            { print }
            $0 == "name = \"db3\"" {
                print "snapshot-method = \"btrfs\""
                print "snapshot-volume = \"" vol "\""
                print "snapshot-dir = \"" snaps "\""
                print "snapshot-keep = 1"
            }' "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
    fi
    grep -q '^snapshot-method' "$cfg" || die "cannot add db3's snapshot keys to $cfg"
    echo "db3's datadir is the btrfs subvolume $dir/btrfs/db3 ($(df -h --output=size,used "$dir/btrfs" | tail -n 1))"
fi

# The cluster's logical tool (C's backup), set in the configuration every daemon reads.
with_cluster_keys "$cfg" "$cfg.new" "backup-logical-type = \"$logical_type\"" &&
    mv "$cfg.new" "$cfg"

# ---------------------------------------------------------------------------------------------
step "Manager and agents"
"$fm" manager --config "$cfg" >"$work/manager.log" 2>&1 &
manager_pid=$!
health=http://$http_addr:$http_port/api/health
wait_manager "$manager_pid" "$health" "$work/manager.log"
echo "manager  pid $manager_pid, $health answers (log $work/manager.log)"
for name in db1 db2 db3; do
    "$fm" agent --config "$cfg" --server "$name" >"$work/agent-$name.log" 2>&1 &
    agent_pids[$name]=$!
done
sleep 2
for name in db1 db2 db3; do
    kill -0 "${agent_pids[$name]}" 2>/dev/null || { tail -n 30 "$work/agent-$name.log" >&2; die "the agent of $name exited"; }
    echo "agent    $name pid ${agent_pids[$name]} (log $work/agent-$name.log)"
done

# ---------------------------------------------------------------------------------------------
# Takes a backup of db1 of the given kind; prints its id.
take_backup() { # kind
    local out rc=0 state id
    out=$("$fm" backup run --config "$cfg" --cluster sandbox --server db1 --kind "$1" --wait --json \
        2>"$work/backup-$1.log") || rc=$?
    state=$(jq -r '.state // empty' <<<"$out" 2>/dev/null || true)
    if [[ $rc != 0 || $state != succeeded ]]; then
        printf '%s\n' "$out" >&2
        cat "$work/backup-$1.log" >&2
        die "the $1 backup did not succeed (exit $rc, state '${state:-?}'); see $work/manager.log"
    fi
    id=$(jq -r '.backup_id // empty' <<<"$out")
    [[ -n $id ]] || die "no backup_id in: $out"
    echo "$id"
}
step "Backups of db1 (taken once)"
phys_id='' log_id='' payload='' gtid='' raw_bytes='' stored_bytes=''
if want_method A || want_method B; then
    t0=$(now)
    phys_id=$(take_backup physical)
    show=$("$fm" backup show --config "$cfg" "$phys_id" --json)
    printf '%s\n' "$show" >"$work/backup-physical.json"
    name=${phys_id##*/}
    [[ $phys_id == "sandbox/db1/$name" && $name =~ ^[0-9]{8}T[0-9]{6}Z-j[0-9]+$ ]] || die "unexpected backup id '$phys_id'"
    payload=$mondir/Backups/sandbox/db1/$name/$(jq -r .payload <<<"$show")
    gtid=$(jq -r '.gtid // empty' <<<"$show")
    raw_bytes=$(jq -r .raw_bytes <<<"$show")
    stored_bytes=$(jq -r .stored_bytes <<<"$show")
    [[ -f $payload && $payload == *.xbstream.zst ]] || die "no xbstream.zst payload at '$payload'"
    [[ -n $gtid ]] || die "the physical backup $phys_id records no GTID"
    echo "physical $phys_id in $(elapsed "$t0" "$(now)") s: GTID $gtid, raw $(human "$raw_bytes"), stored $(human "$stored_bytes")"
    echo "         $payload"
fi
if want_method C; then
    t0=$(now)
    log_id=$(take_backup logical)
    "$fm" backup show --config "$cfg" "$log_id" --json >"$work/backup-logical.json"
    echo "logical  $log_id in $(elapsed "$t0" "$(now)") s: raw $(human "$(jq -r .raw_bytes "$work/backup-logical.json")"), stored $(human "$(jq -r .stored_bytes "$work/backup-logical.json")")"
fi

# ---------------------------------------------------------------------------------------------
# Field of `SHOW SLAVE STATUS` output in vertical form (-E).
slave_field() { awk -F': ' -v f="$2" '{ k = $1; sub(/^ +/, "", k) } k == f { print $2; exit }' <<<"$1"; }
# db2 must hold exactly the primary's data and replicate; anything else stops the benchmark.
verify() { # label
    local label=$1 pos reached st io sqlr c1 c2 p1 p2
    pos=$(sql "$mycnf1" 'SELECT @@gtid_binlog_pos')
    reached=$(sql "$mycnf2" "SELECT MASTER_GTID_WAIT('$pos', 300)") ||
        die "$label: db2 does not answer after the run"
    [[ $reached == 0 ]] || die "$label: db2 did not reach the primary's GTID $pos within 300 s (MASTER_GTID_WAIT: $reached)"
    st=$(mariadb --defaults-file="$mycnf2" --user=root -E -e 'SHOW SLAVE STATUS')
    io=$(slave_field "$st" Slave_IO_Running)
    sqlr=$(slave_field "$st" Slave_SQL_Running)
    [[ $io == Yes && $sqlr == Yes ]] || { printf '%s\n' "$st" >&2; die "$label: db2 does not replicate (I/O thread '${io:-none}', SQL thread '${sqlr:-none}')"; }
    c1=$work/checksum-db1.txt c2=$work/checksum-db2.txt
    sql "$mycnf1" "$checksum_sql" >"$c1" &
    p1=$!
    sql "$mycnf2" "$checksum_sql" >"$c2" &
    p2=$!
    wait "$p1" || die "$label: CHECKSUM TABLE failed on db1"
    wait "$p2" || die "$label: CHECKSUM TABLE failed on db2"
    if ! cmp -s "$c1" "$c2" || grep -q NULL "$c1"; then
        diff "$c1" "$c2" >&2 || true
        die "$label: db2's data differs from the primary's (CHECKSUM TABLE above: db1 <, db2 >)"
    fi
}

# Waits until db2 replicates with lag <= 10 s; fails on a thread stopped with an error (as the
# agent does) or after 300 s.
# Polls db2 until it replicates and the primary has served it; sets t_threads to when both
# threads first said Yes with lag <= 10 (the weaker check).
wait_caught_up() {
    local st io sqlr lag i
    t_threads=''
    for ((i = 0; ; i++)); do
        st=$(mariadb --defaults-file="$mycnf2" --user=root -E -e 'SHOW SLAVE STATUS')
        io=$(slave_field "$st" Slave_IO_Running)
        sqlr=$(slave_field "$st" Slave_SQL_Running)
        lag=$(slave_field "$st" Seconds_Behind_Master)
        if [[ $io == Yes && $sqlr == Yes && $lag =~ ^[0-9]+$ ]] && ((lag <= 10)); then
            [[ -n $t_threads ]] || t_threads=$(now)
            [[ -n $(slave_field "$st" Master_Log_File) ]] && return 0
        fi
        if [[ $sqlr == No && -n $(slave_field "$st" Last_SQL_Error) ]] ||
            [[ $io == No && -n $(slave_field "$st" Last_IO_Error) ]] || ((i > 1500)); then
            printf '%s\n' "$st" >&2
            die "B: db2 does not catch up (I/O thread '$io', SQL thread '$sqlr', lag '$lag')"
        fi
        sleep 0.2
    done
}
free_port() {
    local p i
    for ((i = 0; i < 100; i++)); do
        p=$((20000 + RANDOM % 12000))
        [[ -z $(ss -Hltn "sport = :$p") ]] && { echo "$p"; return; }
    done
    die "no free port found"
}
# A password as a single-quoted SQL string literal.
sql_string() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\\\'}"; }

declare -a wall_A=() wall_B=() wall_C=() wall_D=() fail_A=() fail_B=() fail_C=() fail_D=()
declare -a wall_Bthreads=() phases_A=() phases_B=() phases_C=() phases_D=()

# A and C: one `ferryman reseed` of db2 with the method and backup given.
run_reseed() { # letter method backup round
    local letter=$1 method=$2 backup=$3 r=$4 out log err rc=0 state t0 t1 wall result
    local -n walls=wall_$1 fails=fail_$1 phases=phases_$1
    log=$work/$letter-$r.log
    t0=$(now)
    local chosen=()
    [[ -n $backup ]] && chosen=(--backup "$backup")
    out=$("$fm" reseed --config "$cfg" --cluster sandbox --server db2 --method "$method" \
        "${chosen[@]}" --wait --json 2>"$log") || rc=$?
    t1=$(now)
    printf '%s\n' "$out" >"$work/$letter-$r.json"
    wall=$(elapsed "$t0" "$t1")
    state=$(jq -r '.state // empty' <<<"$out" 2>/dev/null || true)
    result=$(jq -r '.node_result // empty' <<<"$out" 2>/dev/null || true)
    if [[ $rc != 0 || $state != succeeded ]]; then
        err=$(jq -r '.error // .node_result // empty' <<<"$out" 2>/dev/null || true)
        [[ -n $err ]] || err=$(grep -v '^[[:space:]]*$' "$log" | tail -n 3 | paste -sd' ' || true)
        [[ -n $err ]] || err="exit $rc, state '${state:-?}'"
        fails+=("round $r: $err")
        printf '  %s  failed after %.3f s: %s\n' "$letter" "$wall" "$err"
        return 0
    fi
    walls+=("$wall")
    phases+=("$result")
    printf '  %s  %9.3f s  %s\n' "$letter" "$wall" "$result"
}
run_A() { run_reseed A physicalbackup "$phys_id" "$1"; }
run_C() { run_reseed C logicalbackup "$log_id" "$1"; }
run_D() { run_reseed D snapshot '' "$1"; }

run_B() { # round
    local r=$1 log_recv log_mb log_send log_prep fifo jobs port i st t0 t_recv t_prep t_restart t_caught t1 pass
    log_recv=$work/B-$r.socat-recv.log log_mb=$work/B-$r.mbstream.log
    log_send=$work/B-$r.send.log log_prep=$work/B-$r.prepare.log
    fifo=$work/B.fifo jobs=$work/B-$r.jobs.sql
    rm -f -- "$fifo"
    mkfifo -m 0600 "$fifo"
    # Not timed: db2's job rows, put back after the run (as A's agent does across its swap).
    mariadb-dump --defaults-file="$mycnf2" --user=root --no-create-info --compact --complete-insert \
        --skip-triggers --single-transaction replication_manager_schema jobs >"$jobs" ||
        die "B: cannot read db2's job rows"
    port=$(free_port)
    install -d -m "$(stat -c %a "$datadir2")" -- "$b_staging"

    t0=$(now)
    mbstream -x -C "$b_staging" <"$fifo" 2>"$log_mb" &
    mb_pid=$!
    socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" STDOUT >"$fifo" 2>"$log_recv" &
    recv_pid=$!
    for ((i = 0; ; i++)); do
        [[ -n $(ss -Hltn "sport = :$port") ]] && break
        kill -0 "$recv_pid" 2>/dev/null || die "B: the socat receiver exited (log $log_recv)"
        ((i < 500)) || die "B: the socat receiver is not listening on $port"
        sleep 0.01
    done
    set +e
    zstd -dc -- "$payload" 2>"$log_send" | socat -u STDIN "TCP:127.0.0.1:$port" 2>>"$log_send"
    st=("${PIPESTATUS[@]}")
    wait "$recv_pid"
    st+=($?)
    wait "$mb_pid"
    st+=($?)
    set -e
    recv_pid='' mb_pid=''
    rm -f -- "$fifo"
    [[ ${st[*]} == "0 0 0 0" ]] ||
        die "B: the transfer failed (zstd ${st[0]}, socat sender ${st[1]}, receiver ${st[2]}, mbstream ${st[3]}); logs $work/B-$r.*"
    t_recv=$(now)

    st=0
    mariabackup --defaults-file="$b_staging/backup-my.cnf" --prepare --target-dir="$b_staging" \
        >/dev/null 2>"$log_prep" || st=$?
    if [[ $st != 0 ]] || ! tail -n 1 "$log_prep" | grep -q 'completed OK!'; then
        tail -n 20 "$log_prep" >&2
        die "B: mariabackup --prepare failed (exit $st), log $log_prep"
    fi
    t_prep=$(now)

    "$fm" sandbox stop --dir "$dir" --server db2 >/dev/null
    mv -- "$datadir2" "$b_old"
    b_place=aside
    mv -- "$b_staging" "$datadir2"
    b_place=swapped
    "$fm" sandbox start --dir "$dir" --server db2 >/dev/null
    t_restart=$(now)

    pass=$(<"$repl_pass_file")
    printf "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL gtid_slave_pos = '%s';
CHANGE MASTER TO master_host = '127.0.0.1', master_port = %d, master_user = %s, master_password = %s, master_use_gtid = slave_pos, master_connect_retry = 10;
START SLAVE;\n" "$gtid" "$port1" "$(sql_string "$repl_user")" "$(sql_string "$pass")" |
        mariadb --defaults-file="$mycnf2" --user=root
    pass=''
    wait_caught_up
    t_caught=$(now)

    rm -rf -- "$b_old"
    b_place=''
    t1=$(now)

    # Not timed: db2's own job rows back in place of db1's, which the restored datadir brought.
    { echo "SET sql_log_bin = 0; START TRANSACTION; DELETE FROM replication_manager_schema.jobs;"
      cat "$jobs"
      echo "COMMIT;"; } | mariadb --defaults-file="$mycnf2" --user=root replication_manager_schema ||
        die "B: cannot put db2's job rows back"

    wall_B+=("$(elapsed "$t0" "$t1")")
    # The same run had it stopped at the weaker check (no wait for the primary's answer).
    wall_Bthreads+=("$(awk -v w="${wall_B[-1]}" -v a="$t_threads" -v b="$t_caught" 'BEGIN { printf "%.3f", w - (b - a) }')")
    phases_B+=("$(printf 'received (zstd | socat | mbstream) in %s s, prepared in %s s, restarted (stop, swap, start) in %s s, caught up in %s s (threads Yes after %s s, then served by the primary), old datadir removed in %s s' \
        "$(elapsed "$t0" "$t_recv")" "$(elapsed "$t_recv" "$t_prep")" "$(elapsed "$t_prep" "$t_restart")" \
        "$(elapsed "$t_restart" "$t_caught")" "$(elapsed "$t_restart" "$t_threads")" "$(elapsed "$t_caught" "$t1")")")
    printf '  B  %9.3f s  %s\n' "${wall_B[-1]}" "${phases_B[-1]}"
}

# ---------------------------------------------------------------------------------------------
step "Runs ($runs rounds of ${methods[*]}, on db2; logs in $work)"
n=${#methods[@]}
t_start=$(now)
for ((r = 1; r <= runs; r++)); do
    order=''
    for ((k = 0; k < n; k++)); do
        order+=${methods[(r - 1 + k) % n]}
    done
    echo "round $r ($order)"
    for ((k = 0; k < n; k++)); do
        m=${order:k:1}
        settle
        "run_$m" "$r"
        t0=$(now)
        verify "round $r, $m"
        echo "     db2 = db1 (GTID, replication, CHECKSUM TABLE of $(wc -w <<<"$tables") tables; checked in $(elapsed "$t0" "$(now)") s)"
    done
done
t_runs=$(elapsed "$t_start" "$(now)")

# ---------------------------------------------------------------------------------------------
# "min median max" of a method's wall times, or "failed".
summary() { # letter
    local -n w=wall_$1
    if ((${#w[@]} == 0)); then echo failed; else stats "${w[@]}"; fi
}
# The phases of the run whose wall time is closest to the median.
median_phases() { # letter
    local -n w=wall_$1 p=phases_$1
    ((${#w[@]} > 0)) || return 0
    local med best=0 i
    med=$(stats "${w[@]}" | awk '{ print $2 }')
    for ((i = 1; i < ${#w[@]}; i++)); do
        if awk -v a="${w[i]}" -v b="${w[best]}" -v m="$med" 'BEGIN { d1 = a - m; d2 = b - m
            exit !((d1 < 0 ? -d1 : d1) < (d2 < 0 ? -d2 : d2)) }'; then best=$i; fi
    done
    printf '%s (run of %s s)' "${p[best]}" "${w[best]}"
}
label_A="A ferryman reseed physicalbackup"
label_B="B by hand: zstd|socat|mbstream, prepare, swap"
label_C="C ferryman reseed logicalbackup"
label_D="D ferryman reseed snapshot (btrfs, db3)"

step "Results"
printf '%-28s %s\n' "nproc" "$(nproc)" \
    "MariaDB" "$mariadb_version" \
    "mariabackup" "$mariabackup_version" \
    "schema sbtest on db1 (du)" "$sbtest_bytes B ($(human "$sbtest_bytes")), $(wc -w <<<"$tables") tables" \
    "runs" "$runs of each of ${methods[*]}, order rotating; $t_runs s in all (with the checks)"
if [[ -n $phys_id ]]; then
    printf '%-28s %s\n' "physical backup" "$phys_id (GTID $gtid)" \
        "  payload raw (raw_bytes)" "$raw_bytes B ($(human "$raw_bytes"))" \
        "  payload stored" "$stored_bytes B ($(human "$stored_bytes")), $(ratio "$((stored_bytes * 100))" "$raw_bytes") % of raw"
fi
if [[ -n $log_id ]]; then
    printf '%-28s %s\n' "logical backup" "$log_id" \
        "  payload raw / stored" "$(jq -r .raw_bytes "$work/backup-logical.json") B / $(jq -r .stored_bytes "$work/backup-logical.json") B"
fi
echo
printf '%-48s %9s %9s %9s  %s\n' "wall seconds" min median max "ok/failed"
declare -A med=()
for m in "${methods[@]}"; do
    label=label_$m
    s=$(summary "$m")
    declare -n okw=wall_$m failw=fail_$m
    if [[ $s == failed ]]; then
        printf '%-48s %9s %9s %9s  %s\n' "${!label}" failed failed failed "0/${#failw[@]}"
    else
        read -r lo md hi <<<"$s"
        med[$m]=$md
        printf '%-48s %9s %9s %9s  %s\n' "${!label}" "$lo" "$md" "$hi" "${#okw[@]}/${#failw[@]}"
    fi
    unset -n okw failw
done
if want_method A && { want_method B || want_method C; }; then
    echo
fi
if want_method A && want_method B; then
    if [[ -n ${med[A]:-} && -n ${med[B]:-} ]]; then
        r_ab=$(ratio "${med[A]}" "${med[B]}")
        printf '%-48s %s\n' "median wall A/B (Ferryman / by hand)" "${r_ab}x   (target <= 1.15x: $(verdict "$r_ab" 1.15))"
        if ((${#wall_Bthreads[@]} > 0)); then
            read -r _ bt _ <<<"$(stats "${wall_Bthreads[@]}")"
            printf '%-48s %s\n' "  B stopped at threads Yes (weaker check)" "median $bt s, A/B $(ratio "${med[A]}" "$bt")x"
        fi
    else
        printf '%-48s %s\n' "median wall A/B (Ferryman / by hand)" "n/a (a method failed every run)"
    fi
fi
if want_method A && want_method C; then
    if [[ -n ${med[A]:-} && -n ${med[C]:-} ]]; then
        printf '%-48s %s\n' "median wall C/A (logical / physical)" "$(ratio "${med[C]}" "${med[A]}")x"
    else
        printf '%-48s %s\n' "median wall C/A (logical / physical)" "n/a (a method failed every run)"
    fi
fi
if want_method A && want_method D; then
    if [[ -n ${med[A]:-} && -n ${med[D]:-} ]]; then
        printf '%-48s %s\n' "median wall D/A (snapshot / physical)" "$(ratio "${med[D]}" "${med[A]}")x"
    else
        printf '%-48s %s\n' "median wall D/A (snapshot / physical)" "n/a (a method failed every run)"
    fi
fi
echo
echo "phases of the median run:"
for m in "${methods[@]}"; do
    p=$(median_phases "$m")
    printf '  %s  %s\n' "$m" "${p:-failed}"
    # A and C: the agent's phases (the old datadir's removal included, as in B) against the
    # command's wall time; the rest is the job's dispatch, the agent's claim (poll-interval),
    # preflight, and the manager's and CLI's polls.
    if [[ $m != B && $p =~ \(run\ of\ ([0-9.]+)\ s\)$ ]]; then
        w=${BASH_REMATCH[1]}
        # Durations as the agent writes them (humantime: `11s 100ms`, `400ms`, `1m 2s`; older
        # results: `11.1 s`).
        sum=$(grep -oE '(received in|imported in|prepared in|recovered in|restarted in|after|removed in)( [0-9.]+ ?(h|min|ms|m|s)\b)+' <<<"$p" |
            awk '{ for (i = 1; i <= NF; i++) {
                       if (match($i, /^[0-9.]+(h|min|ms|m|s)$/)) { v = $i + 0; u = $i; sub(/^[0-9.]+/, "", u) }
                       else if ($i ~ /^[0-9.]+$/ && $(i + 1) == "s") { v = $i + 0; u = "s"; i++ }
                       else continue
                       s += v * (u == "h" ? 3600 : (u == "m" || u == "min") ? 60 : u == "ms" ? 0.001 : 1)
                   } } END { printf "%.1f", s }')
        [[ $sum != 0.0 ]] && printf '     the agent'"'"'s phases add up to %s s of %s s; the rest, %s s, is what they leave out (dispatch, claim, preflight, polling)\n' \
            "$sum" "$w" "$(awk -v w="$w" -v s="$sum" 'BEGIN { printf "%.1f", w - s }')"
    fi
done
for m in "${methods[@]}"; do
    declare -n failw=fail_$m
    if ((${#failw[@]} > 0)); then
        echo
        echo "$m failed ${#failw[@]} time(s):"
        printf '  %s\n' "${failw[@]}"
    fi
    unset -n failw
done
