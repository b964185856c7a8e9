#!/usr/bin/env bash
# Physical backup benchmark: what Ferryman costs over a plain mariabackup pipeline, and what
# TLS on its stream costs over plain TCP.
#
# On one sandbox primary (db1, MariaDB from the OS packages) filled with about SIZE (default 2G)
# of sysbench InnoDB data, each round runs these four, in a rotating order (ABCD, BCDA, CDAB,
# DABC, ...) so no method always gets the warmest page cache:
#
#   A  Ferryman end to end: `ferryman backup run --kind physical --wait --json` through a
#      running `ferryman manager` and `ferryman agent`. The agent runs mariabackup and streams
#      it to the manager, which parses, checksums, zstd-compresses and stores it and writes the
#      manifest; the command returns when the backup is stored. Wall time of that command.
#      Stored bytes: the manifest's stored_bytes (raw_bytes: the stream as received).
#   B  Plain pipeline: `mariabackup --backup --stream=xbstream | socat` to a `socat` receiver
#      on 127.0.0.1 writing a file. Wall time from starting the receiver until both ends have
#      exited. Stored bytes: the file's size (the file is deleted after measuring it).
#   C  `mariabackup --backup --stream=xbstream > /dev/null`: the tool alone, wall time only.
#   D  A with the agent's stream to the manager in mutual TLS: the same sandbox configuration
#      plus the certificates of `ferryman tls init` (BENCH_DIR/tls) under [manager] and
#      [agent]. The manager and agent are restarted (untimed) when a round switches between A
#      and D, since both serve db1's one jobs table.
#
# For every run it also records the machine's CPU use (from /proc/stat: busy and iowait, as a
# share of all cores) and the CPU seconds the method's processes used: for A the manager plus
# the agent with its mariabackup child (and the CLI), for B and C the pipeline's processes.
# At the end it prints min/median/max wall seconds per method, the median ratios A/B, A/C and
# C/B and D/A, stored bytes of A and B and their ratio, and the peak RSS (VmHWM) of manager and
# agent. Targets: wall A <= 1.0x B, stored A <= 50 % of B, wall D <= 1.1x A.
#
# Run it as root (the sandbox runs mariadbd as root; mariabackup reads its datadir and logs in
# as root over the unix socket), from anywhere:
#
#   bench/backup.sh                      # build, sandbox in /tmp/ferryman-bench, 2G, 3 runs each
#   RUNS=5 BENCH_DIR=/var/tmp/fb bench/backup.sh
#
# Environment:
#   BENCH_DIR     sandbox directory, no spaces (default /tmp/ferryman-bench); created by
#                 `ferryman sandbox up` if missing, reused otherwise
#   RUNS          runs of each method (default 3)
#   SIZE          data to load (default 2G); the load is skipped when schema sbtest already
#                 holds at least 90 % of SIZE on disk, or when SKIP_LOAD=1
#   FERRYMAN      ferryman binary to use; without it, `cargo build --release --locked` first
#   KEEP_BACKUPS  1: keep every Ferryman backup; 0: delete each one (through the repository
#                 layout) once measured; default: keep them if the disk has room for all
#   DROP_CACHES   0: do not empty the page cache before each run (see settle)
#   KEEP=1        leave the sandbox servers running at the end (default: `sandbox down`)
#   DESTROY=1     `sandbox destroy` at the end instead of `sandbox down` (frees the disk)
#
# Needs: mariabackup, socat, jq, curl, ss, awk. Logs of every run go to BENCH_DIR/bench/.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
dir=${BENCH_DIR:-/tmp/ferryman-bench}
runs=${RUNS:-3}
size=${SIZE:-2G}
keep=${KEEP:-0}
destroy=${DESTROY:-0}
keep_backups=${KEEP_BACKUPS:-auto}
# die, step, timing, statistics, stop_pid, ini_get, to_bytes, settle (before every timed run).
. "$repo_root/bench/lib.sh"


[[ $dir != *[[:space:]]* ]] || die "BENCH_DIR must not contain spaces: '$dir'"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$runs'"
for tool in mariabackup socat jq curl ss awk; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
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

# ---------------------------------------------------------------------------------------------
manager_pid='' agent_pid='' recv_pid='' sandbox_started=0 stack=''
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$recv_pid" "socat receiver"
    stop_pid "$agent_pid" agent
    stop_pid "$manager_pid" manager
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

# ---------------------------------------------------------------------------------------------
step "Sandbox in $dir"
mkdir -p "$(dirname "$dir")"
df -h "$(dirname "$dir")"
sandbox_started=1
"$fm" sandbox up --dir "$dir" --replicas 0 --no-auto-verify
cfg=$dir/ferryman.toml
mycnf=$dir/servers/db1/my.cnf
work=$dir/bench
mkdir -p "$work"

datadir=$(ini_get "$mycnf" mysqld datadir)
http_addr=$(ini_get "$cfg" manager http-bind-address)
http_port=$(ini_get "$cfg" manager http-port)
mondir=$(ini_get "$cfg" manager monitoring-datadir)
level=$(ini_get "$cfg" manager backup-compression-level)
threads=$(ini_get "$cfg" manager backup-compression-threads)
[[ -n $datadir && -n $http_port && -n $mondir ]] || die "cannot read datadir/http-port/monitoring-datadir from $mycnf and $cfg"
http_addr=${http_addr:-127.0.0.1}

# ---------------------------------------------------------------------------------------------
step "Data"
want=$(to_bytes "$size")
have=0
[[ -d $datadir/sbtest ]] && have=$(du -sb "$datadir/sbtest" | awk '{ print $1 }')
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
data_bytes=$(du -sb "$datadir" | awk '{ print $1 }')
sbtest_bytes=$(du -sb "$datadir/sbtest" | awk '{ print $1 }')
binlog_bytes=$(find "$datadir" -maxdepth 1 -name 'binlog.[0-9]*' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
mariadb_version=$(mariadb --defaults-file="$mycnf" --user=root -N -B -e 'SELECT VERSION()')
mariabackup_version=$(mariabackup --version 2>&1 | head -n 1)

# Disk: each Ferryman backup is at most about the size of the data it copies (compression only
# shrinks it); B's file (deleted after each run) is about that size too.
free=$(df -B1 --output=avail "$dir" | tail -n 1 | tr -d ' ')
need=$(( (runs + 1) * (data_bytes - binlog_bytes) + 2 * 1073741824 ))
if [[ $keep_backups == auto ]]; then
    if ((free >= need)); then keep_backups=1; else keep_backups=0; fi
fi
if [[ $keep_backups == 1 ]]; then
    backups_note="kept (free $(human "$free") >= about $(human "$need") needed for all of them)"
else
    backups_note="each deleted once measured (free $(human "$free"), keeping all needs about $(human "$need"))"
fi
echo "Ferryman backups: $backups_note"

# ---------------------------------------------------------------------------------------------
step "TLS for D"
tls_dir=$dir/tls
if [[ ! -f $tls_dir/ca.crt ]]; then
    "$fm" tls init --dir "$tls_dir" --manager 127.0.0.1 --agent 127.0.0.1 >/dev/null
fi
cfg_tls=$work/ferryman-tls.toml
awk -v d="$tls_dir" '
    { print }
    /^\[manager\]$/ { printf "tls-cert-file = \"%s/manager.crt\"\ntls-key-file = \"%s/manager.key\"\ntls-ca-file = \"%s/ca.crt\"\n", d, d, d }
    /^\[agent\]$/ { printf "tls-cert-file = \"%s/agents/127.0.0.1.crt\"\ntls-key-file = \"%s/agents/127.0.0.1.key\"\ntls-ca-file = \"%s/ca.crt\"\n", d, d, d }
' "$cfg" >"$cfg_tls"
"$fm" config check "$cfg_tls" >/dev/null || die "$cfg_tls does not check"
echo "certificates in $tls_dir, configuration $cfg_tls"

# ---------------------------------------------------------------------------------------------
# The manager and agent of A (plain) or D (tls), started when the other pair runs.
declare -A hwm_manager=() hwm_agent=()
stop_stack() {
    [[ -n $stack ]] || return 0
    local m a
    m=$(awk '/^VmHWM:/ { print $2 * 1024 }' "/proc/$manager_pid/status")
    a=$(awk '/^VmHWM:/ { print $2 * 1024 }' "/proc/$agent_pid/status")
    ((m > ${hwm_manager[$stack]:-0})) && hwm_manager[$stack]=$m
    ((a > ${hwm_agent[$stack]:-0})) && hwm_agent[$stack]=$a
    stop_pid "$agent_pid" agent
    stop_pid "$manager_pid" manager
    agent_pid='' manager_pid='' stack=''
}
use_stack() { # plain|tls
    [[ $stack == "$1" ]] && return 0
    stop_stack
    local config=$cfg health=http://$http_addr:$http_port/api/health curl_opts=()
    if [[ $1 == tls ]]; then
        config=$cfg_tls health=https://$http_addr:$http_port/api/health curl_opts=(--cacert "$tls_dir/ca.crt")
    fi
    "$fm" manager --config "$config" >>"$work/manager-$1.log" 2>&1 &
    manager_pid=$!
    wait_manager "$manager_pid" "$health" "$work/manager-$1.log" "${curl_opts[@]}"
    "$fm" agent --config "$config" --server db1 >>"$work/agent-$1.log" 2>&1 &
    agent_pid=$!
    sleep 2
    kill -0 "$agent_pid" 2>/dev/null || { tail -n 30 "$work/agent-$1.log" >&2; die "the agent exited"; }
    stack=$1
    echo "  ($1: manager pid $manager_pid, agent pid $agent_pid; logs $work/{manager,agent}-$1.log)"
}

# ---------------------------------------------------------------------------------------------
tck=$(getconf CLK_TCK)
# CPU seconds of a process: utime+stime (fields 14, 15), plus its waited-for children's
# (16, 17) with "all". The command name ends with ") ", after which fields are plain.
proc_cpu() {
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) }
    awk -v t="$tck" -v all="$2" '{ s = $12 + $13; if (all) s += $14 + $15; printf "%.2f", s / t }' <<<"$stat"
}
# Machine-wide "busy iowait total" jiffies from /proc/stat.
cpu_snap() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, $6, t; exit }' /proc/stat; }
cpu_pct() { # before after: "busy% iowait%" over the interval, of all cores
    awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[3] - x[3]
        if (t <= 0) t = 1; printf "%.0f %.0f", 100 * (y[1] - x[1]) / t, 100 * (y[2] - x[2]) / t }'
}
# Check a mariabackup run: exit status 0 and "completed OK!" at the end of its stderr.
check_mariabackup() { # status log
    if [[ $1 != 0 ]] || ! tail -n 1 "$2" | grep -q 'completed OK!'; then
        tail -n 20 "$2" >&2
        die "mariabackup failed (exit $1), log $2"
    fi
}
free_port() {
    local p i
    for ((i = 0; i < 100; i++)); do
        p=$((20000 + RANDOM % 12000))
        [[ -z $(ss -Hltn "sport = :$p") ]] && { echo "$p"; return; }
    done
    die "no free port found"
}

declare -a wall_A=() wall_B=() wall_C=() wall_D=() stored_A=() raw_A=() stored_B=() stored_D=() raw_D=()
declare -a mgr_A=() agt_A=() cpu_A=() cpu_B=() cpu_C=() busy_A=() busy_B=() busy_C=() iow_A=() iow_B=() iow_C=()
declare -a mgr_D=() agt_D=() cpu_D=() busy_D=() iow_D=()

run_A() { run_ferryman A plain "$cfg" "$1"; }
run_D() { run_ferryman D tls "$cfg_tls" "$1"; }

run_ferryman() { # method stack config round
    local M=$1 log=$work/$1-$4.log config=$3 out t0 t1 rc=0 state id show m0 a0 c0 s0 s1 name b w
    local -n wall=wall_$M stored=stored_$M raw=raw_$M mgr=mgr_$M agt=agt_$M cpu=cpu_$M busy=busy_$M iow=iow_$M
    use_stack "$2"
    settle
    m0=$(proc_cpu "$manager_pid" 0) a0=$(proc_cpu "$agent_pid" 1) c0=$(proc_cpu $$ 1) s0=$(cpu_snap)
    t0=$(now)
    out=$("$fm" backup run --config "$config" --cluster sandbox --server db1 --kind physical --wait --json 2>"$log") || rc=$?
    t1=$(now)
    s1=$(cpu_snap)
    state=$(jq -r '.state // empty' <<<"$out" 2>/dev/null || true)
    if [[ $rc != 0 || $state != succeeded ]]; then
        printf '%s\n' "$out" >&2
        cat "$log" >&2
        die "$M: the backup did not succeed (exit $rc, state '${state:-?}'); see $work/manager-$2.log and $work/agent-$2.log"
    fi
    id=$(jq -r '.backup_id // empty' <<<"$out")
    [[ -n $id ]] || die "$M: no backup_id in: $out"
    show=$("$fm" backup show --config "$config" "$id" --json)
    stored+=("$(jq -r .stored_bytes <<<"$show")")
    raw+=("$(jq -r .raw_bytes <<<"$show")")
    compression=$(jq -c .compression <<<"$show")
    wall+=("$(elapsed "$t0" "$t1")")
    mgr+=("$(awk -v m0="$m0" -v m1="$(proc_cpu "$manager_pid" 0)" 'BEGIN { printf "%.2f", m1 - m0 }')")
    agt+=("$(awk -v a0="$a0" -v a1="$(proc_cpu "$agent_pid" 1)" 'BEGIN { printf "%.2f", a1 - a0 }')")
    cpu+=("$(awk -v m="${mgr[-1]}" -v a="${agt[-1]}" -v c0="$c0" -v c1="$(proc_cpu $$ 1)" \
        'BEGIN { printf "%.2f", m + a + c1 - c0 }')")
    read -r b w <<<"$(cpu_pct "$s0" "$s1")"
    busy+=("$b") iow+=("$w")
    printf '  %s  %9.3f s  stored %15s B  raw %15s B  cpu %7.2f s  busy %3s%%  iowait %3s%%  (manager %.2f s, agent+mariabackup %.2f s) %s\n' \
        "$M" "${wall[-1]}" "${stored[-1]}" "${raw[-1]}" "${cpu[-1]}" "$b" "$w" "${mgr[-1]}" "${agt[-1]}" "$id"
    if [[ $keep_backups != 1 ]]; then
        name=${id##*/}
        [[ $id == "sandbox/db1/$name" && $name =~ ^[0-9]{8}T[0-9]{6}Z-j[0-9]+$ ]] || die "unexpected backup id '$id'"
        [[ -f $mondir/Backups/sandbox/db1/$name/manifest.json ]] || die "no manifest at $mondir/Backups/sandbox/db1/$name"
        rm -rf -- "${mondir:?}/Backups/sandbox/db1/$name"
    fi
}

run_B() { # round
    local log=$work/B-$1.log file=$work/B.xbstream target port t0 t1 s0 s1 c0 i st b w
    target=$(mktemp -d "$work/target.XXXXXX")
    port=$(free_port)
    c0=$(proc_cpu $$ 1) s0=$(cpu_snap)
    t0=$(now)
    socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" "OPEN:$file,creat,trunc" &
    recv_pid=$!
    for ((i = 0; ; i++)); do
        [[ -n $(ss -Hltn "sport = :$port") ]] && break
        kill -0 "$recv_pid" 2>/dev/null || die "B: the socat receiver exited"
        ((i < 500)) || die "B: the socat receiver is not listening on $port"
        sleep 0.01
    done
    set +e
    mariabackup --defaults-file="$mycnf" --user=root --backup --stream=xbstream --target-dir="$target" 2>"$log" |
        socat -u stdio "TCP:127.0.0.1:$port"
    st=("${PIPESTATUS[@]}")
    wait "$recv_pid"
    st+=($?)
    set -e
    recv_pid=''
    t1=$(now)
    s1=$(cpu_snap)
    rm -rf -- "$target"
    check_mariabackup "${st[0]}" "$log"
    [[ ${st[1]} == 0 && ${st[2]} == 0 ]] || die "B: socat failed (sender exit ${st[1]}, receiver exit ${st[2]})"
    wall_B+=("$(elapsed "$t0" "$t1")")
    stored_B+=("$(stat -c %s "$file")")
    rm -f -- "$file"
    cpu_B+=("$(awk -v c0="$c0" -v c1="$(proc_cpu $$ 1)" 'BEGIN { printf "%.2f", c1 - c0 }')")
    read -r b w <<<"$(cpu_pct "$s0" "$s1")"
    busy_B+=("$b") iow_B+=("$w")
    printf '  B  %9.3f s  stored %15s B  %21s  cpu %7.2f s  busy %3s%%  iowait %3s%%\n' \
        "${wall_B[-1]}" "${stored_B[-1]}" "" "${cpu_B[-1]}" "$b" "$w"
}

run_C() { # round
    local log=$work/C-$1.log target t0 t1 s0 s1 c0 st=0 b w
    target=$(mktemp -d "$work/target.XXXXXX")
    c0=$(proc_cpu $$ 1) s0=$(cpu_snap)
    t0=$(now)
    mariabackup --defaults-file="$mycnf" --user=root --backup --stream=xbstream --target-dir="$target" \
        2>"$log" >/dev/null || st=$?
    t1=$(now)
    s1=$(cpu_snap)
    rm -rf -- "$target"
    check_mariabackup "$st" "$log"
    wall_C+=("$(elapsed "$t0" "$t1")")
    cpu_C+=("$(awk -v c0="$c0" -v c1="$(proc_cpu $$ 1)" 'BEGIN { printf "%.2f", c1 - c0 }')")
    read -r b w <<<"$(cpu_pct "$s0" "$s1")"
    busy_C+=("$b") iow_C+=("$w")
    printf '  C  %9.3f s  %47s  cpu %7.2f s  busy %3s%%  iowait %3s%%\n' \
        "${wall_C[-1]}" "" "${cpu_C[-1]}" "$b" "$w"
}

# ---------------------------------------------------------------------------------------------
step "Runs ($runs rounds; logs in $work)"
orders=(ABCD BCDA CDAB DABC)
t_start=$(now)
for ((r = 1; r <= runs; r++)); do
    order=${orders[(r - 1) % 3]}
    echo "round $r ($order)"
    for ((k = 0; k < 4; k++)); do
        # A and D settle themselves, after their manager and agent are up.
        [[ ${order:k:1} == [AD] ]] || settle
        "run_${order:k:1}" "$r"
    done
done
t_runs=$(elapsed "$t_start" "$(now)")

stop_stack

# ---------------------------------------------------------------------------------------------
read -r a_min a_med a_max <<<"$(stats "${wall_A[@]}")"
read -r b_min b_med b_max <<<"$(stats "${wall_B[@]}")"
read -r c_min c_med c_max <<<"$(stats "${wall_C[@]}")"
read -r d_min d_med d_max <<<"$(stats "${wall_D[@]}")"
sa=$(median "${stored_A[@]}") ra=$(median "${raw_A[@]}") sb=$(median "${stored_B[@]}")
sa=${sa%.*} ra=${ra%.*} sb=${sb%.*}
r_ab=$(ratio "$a_med" "$b_med") r_ac=$(ratio "$a_med" "$c_med") r_cb=$(ratio "$c_med" "$b_med")
r_da=$(ratio "$d_med" "$a_med") r_db=$(ratio "$d_med" "$b_med")
pct=$(awk -v a="$sa" -v b="$sb" 'BEGIN { printf "%.1f", 100 * a / b }')

step "Results"
printf '%-28s %s\n' "nproc" "$(nproc)" \
    "MariaDB" "$mariadb_version" \
    "mariabackup" "$mariabackup_version" \
    "datadir (du -sb)" "$data_bytes B ($(human "$data_bytes")) in $datadir" \
    "  of which schema sbtest" "$sbtest_bytes B ($(human "$sbtest_bytes"))" \
    "  of which binlogs" "$binlog_bytes B ($(human "$binlog_bytes")), not in a physical backup" \
    "compression (ferryman.toml)" "backup-compression-level = ${level:-1 (default)}, backup-compression-threads = ${threads:-2 (default)}" \
    "compression (manifest)" "${compression:-?}" \
    "runs" "$runs of each, orders ${orders[*]} rotating; $t_runs s in all" \
    "Ferryman backups" "$backups_note"
echo
printf '%-34s %9s %9s %9s %11s %7s %8s\n' "wall seconds" min median max "cpu-s med" "busy %" "iowait %"
printf '%-34s %9s %9s %9s %11s %7s %8s\n' "A ferryman backup run --wait" "$a_min" "$a_med" "$a_max" \
    "$(median_2 "${cpu_A[@]}")" "$(median_int "${busy_A[@]}")" "$(median_int "${iow_A[@]}")"
printf '%-34s %9s %9s %9s %11s %7s %8s\n' "B mariabackup | socat -> file" "$b_min" "$b_med" "$b_max" \
    "$(median_2 "${cpu_B[@]}")" "$(median_int "${busy_B[@]}")" "$(median_int "${iow_B[@]}")"
printf '%-34s %9s %9s %9s %11s %7s %8s\n' "C mariabackup > /dev/null" "$c_min" "$c_med" "$c_max" \
    "$(median_2 "${cpu_C[@]}")" "$(median_int "${busy_C[@]}")" "$(median_int "${iow_C[@]}")"
printf '%-34s %9s %9s %9s %11s %7s %8s\n' "D A with the stream in TLS" "$d_min" "$d_med" "$d_max" \
    "$(median_2 "${cpu_D[@]}")" "$(median_int "${busy_D[@]}")" "$(median_int "${iow_D[@]}")"
echo "  (cpu-s: CPU seconds of the method's processes; busy/iowait: % of all $(nproc) cores during the run)"
echo "  (A's cpu-s, median: manager $(median_2 "${mgr_A[@]}") s, agent with its mariabackup $(median_2 "${agt_A[@]}") s)"
echo "  (D's cpu-s, median: manager $(median_2 "${mgr_D[@]}") s, agent with its mariabackup $(median_2 "${agt_D[@]}") s)"
echo
printf '%-34s %s\n' "median wall A/B" "${r_ab}x   (target <= 1.00x: $(verdict "$r_ab" 1.0))" \
    "median wall A/C" "${r_ac}x" \
    "median wall C/B" "${r_cb}x" \
    "median wall D/A (TLS on/off)" "${r_da}x   (target <= 1.10x: $(verdict "$r_da" 1.1))" \
    "median wall D/B" "${r_db}x"
echo
printf '%-34s %15s B  %10s\n' "stored A (manifest stored_bytes)" "$sa" "$(human "$sa")" \
    "raw A (manifest raw_bytes)" "$ra" "$(human "$ra")" \
    "stored B (file size)" "$sb" "$(human "$sb")"
printf '%-34s %s\n' "stored A/B" "${pct} %   (target <= 50 %: $(verdict "$pct" 50))"
echo
printf '%-34s %15s B  %10s\n' "manager peak RSS (VmHWM), A" "${hwm_manager[plain]}" "$(human "${hwm_manager[plain]}")" \
    "agent peak RSS (VmHWM), A" "${hwm_agent[plain]}" "$(human "${hwm_agent[plain]}")" \
    "manager peak RSS (VmHWM), D" "${hwm_manager[tls]}" "$(human "${hwm_manager[tls]}")" \
    "agent peak RSS (VmHWM), D" "${hwm_agent[tls]}" "$(human "${hwm_agent[tls]}")"
