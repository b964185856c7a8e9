#!/usr/bin/env bash
# S3 repository benchmark: the same physical backup stored straight into S3 against stored on
# the manager's disk, and against uploading the stored payload with the AWS CLI.
#
# On one sandbox primary (db1) filled with about SIZE (default 2G) of sysbench InnoDB data, and
# the sandbox's S3 server (`ferryman sandbox s3-up`: Ceph radosgw, objects in memory), each
# round runs these three, in a rotating order (ABC, BCA, CAB, ...):
#
#   A  `ferryman backup run --kind physical --wait` with the cluster's repository the bucket
#      (backup-repositories = ["offsite"]): mariabackup -> agent -> manager -> multipart upload,
#      manifest last. Wall time of the command.
#   B  The same with the manager's own disk (backup-repositories = ["local"]).
#   C  `aws s3 cp` of B's stored payload (a file already compressed) into the same bucket: the
#      upload alone, with the AWS CLI's defaults (8 MiB parts, 10 in parallel).
#
# The manager is restarted with the method's configuration before A and B (outside the timed
# window), so its peak RSS (VmHWM) is read per run. Backups are deleted once measured. Printed:
# min/median/max wall seconds, the median ratios A/B and A/(B+C), the manager's peak RSS in
# A and B, and where the CPU went (the manager, the S3 server's processes, the whole machine). Targets: A <= 1.2x B; the manager's RSS <= 128 MiB whatever the backup's size.
#
# Run it as root, from anywhere:
#
#   bench/s3.sh                          # build, sandbox in /tmp/ferryman-bench-s3, 2G, 3 runs
#   RUNS=5 SIZE=500M BENCH_DIR=/var/tmp/fs3 bench/s3.sh
#
# Environment:
#   BENCH_DIR   sandbox directory, no spaces (default /tmp/ferryman-bench-s3)
#   RUNS        runs of each method (default 3)
#   SIZE        data to load (default 2G); skipped when schema sbtest holds >= 90 % of it
#   S3_MEMORY   the S3 server's memory for objects (default 6G: one backup at a time is kept)
#   FERRYMAN    ferryman binary to use; without it, `cargo build --release --locked` first
#   DROP_CACHES 0: do not empty the page cache before each run (see settle in bench/lib.sh)
#   KEEP=1      leave the sandbox running at the end; DESTROY=1 remove it
#
# Needs: mariabackup, jq, curl, awk, and the AWS CLI (installed from Debian's awscli if
# missing). Logs of every run go to BENCH_DIR/bench/.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
dir=${BENCH_DIR:-/tmp/ferryman-bench-s3}
runs=${RUNS:-3}
size=${SIZE:-2G}
s3_memory=${S3_MEMORY:-6G}
keep=${KEEP:-0}
destroy=${DESTROY:-0}
# die, step, timing, statistics, stop_pid, ini_get, to_bytes, settle (before every timed run).
. "$repo_root/bench/lib.sh"

[[ $dir != *[[:space:]]* ]] || die "BENCH_DIR must not contain spaces: '$dir'"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$runs'"
for tool in mariabackup jq curl awk; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
if ! command -v aws >/dev/null; then
    step "Installing the AWS CLI (Debian package awscli)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq awscli >/dev/null
fi

step "Build"
if [[ -n ${FERRYMAN:-} ]]; then
    fm=$FERRYMAN
else
    (cd "$repo_root" && cargo build --release --locked)
    fm=$repo_root/target/release/ferryman
fi
[[ -x $fm ]] || die "$fm is not executable"

manager_pid='' agent_pid='' sandbox_started=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$agent_pid" agent
    stop_pid "$manager_pid" manager
    if ((sandbox_started)); then
        if [[ $keep == 1 ]]; then
            echo "KEEP=1: the sandbox and its S3 server keep running in $dir"
        elif [[ $destroy == 1 ]]; then
            "$fm" sandbox destroy --dir "$dir" >/dev/null || echo "warning: sandbox destroy failed" >&2
        else
            "$fm" sandbox down --dir "$dir" >/dev/null || echo "warning: sandbox down failed" >&2
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "Sandbox and S3 server in $dir"
sandbox_started=1
"$fm" sandbox up --dir "$dir" --replicas 0 --no-auto-verify >/dev/null
"$fm" sandbox s3-up --dir "$dir" --memory "$s3_memory"
cfg=$dir/ferryman.toml
mycnf=$dir/servers/db1/my.cnf
work=$dir/bench
mkdir -p "$work"
datadir=$(ini_get "$mycnf" mysqld datadir)
http_addr=$(ini_get "$cfg" manager http-bind-address)
http_port=$(ini_get "$cfg" manager http-port)
mondir=$(ini_get "$cfg" manager monitoring-datadir)
endpoint=$(jq -r .endpoint "$dir/s3/s3.json")
bucket=$(jq -r .bucket "$dir/s3/s3.json")
[[ -n $datadir && -n $http_port && -n $mondir && -n $endpoint ]] || die "cannot read the sandbox's configuration"
http_addr=${http_addr:-127.0.0.1}
# The AWS CLI's keys, through its environment (never its command line).
AWS_ACCESS_KEY_ID=$(jq -r .access_key "$dir/s3/s3.json")
AWS_SECRET_ACCESS_KEY=$(<"$(jq -r .secret_file "$dir/s3/s3.json")")
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION=default AWS_EC2_METADATA_DISABLED=true
aws_s3() { aws --endpoint-url "$endpoint" s3 "$@"; }

step "Data"
want=$(to_bytes "$size")
have=0
[[ -d $datadir/sbtest ]] && have=$(du -sb "$datadir/sbtest" | awk '{ print $1 }')
if ((have * 10 >= want * 9)); then
    echo "schema sbtest already holds $(human "$have") (>= 90 % of $size): not reloading"
else
    echo "loading about $size of sysbench data (several minutes) ..."
    "$fm" sandbox load --dir "$dir" --size "$size"
fi
data_bytes=$(du -sb "$datadir" | awk '{ print $1 }')

# The manager with the cluster's backups in `repository` (offsite or local), answering.
start_manager() { # repository
    stop_pid "$manager_pid" manager
    manager_pid=''
    sed -i "/^backup-repositories = /d" "$cfg"
    sed -i "s/^\[clusters.sandbox\]$/[clusters.sandbox]\nbackup-repositories = [\"$1\"]/" "$cfg"
    "$fm" manager --config "$cfg" >>"$work/manager-$1.log" 2>&1 &
    manager_pid=$!
    wait_manager "$manager_pid" "http://$http_addr:$http_port/api/health" "$work/manager-$1.log"
}
hwm() { awk '/^VmHWM:/ { print $2 * 1024 }' "/proc/$1/status"; }
# CPU accounting, in clock ticks: a process's user+system time (all its threads), and the whole
# machine's busy time (user, nice, system, irq, softirq of every CPU).
clk=$(getconf CLK_TCK)
ticks_of() { # pid... -> their user+system ticks (a process gone counts 0)
    local t=0 p
    for p in "$@"; do
        [[ -r /proc/$p/stat ]] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
    done
    echo "$t"
}
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
s3_pids() { pgrep -f -- "$dir/s3" || true; }
seconds() { awk -v t="$1" -v c="$clk" 'BEGIN { printf "%.2f", t / c }'; }
declare -a cpu_mgr_A=() cpu_mgr_B=() cpu_s3_A=() cpu_s3_B=() cpu_s3_C=() busy_A=() busy_B=() busy_C=()

"$fm" agent --config "$cfg" --server db1 >"$work/agent.log" 2>&1 &
agent_pid=$!

declare -a wall_A=() wall_B=() wall_C=() rss_A=() rss_B=() stored=()
payload=$work/payload.xbstream.zst

last_id=''
backup() { # letter repository round: one timed backup; its id in last_id
    local out t0 t1 rc=0 state
    start_manager "$2"
    settle
    local s3_before busy_before mgr_before
    # shellcheck disable=SC2046 # one PID per word
    s3_before=$(ticks_of $(s3_pids)) busy_before=$(busy_ticks) mgr_before=$(ticks_of "$manager_pid")
    t0=$(now)
    out=$("$fm" backup run --config "$cfg" --cluster sandbox --server db1 --kind physical --wait --json 2>"$work/$1-$3.log") || rc=$?
    t1=$(now)
    local -n cpu_mgr=cpu_mgr_$1 cpu_s3=cpu_s3_$1 busy=busy_$1
    # shellcheck disable=SC2046
    cpu_s3+=("$(seconds $(($(ticks_of $(s3_pids)) - s3_before)))")
    busy+=("$(seconds $(($(busy_ticks) - busy_before)))")
    cpu_mgr+=("$(seconds $(($(ticks_of "$manager_pid") - mgr_before)))")
    state=$(jq -r '.state // empty' <<<"$out" 2>/dev/null || true)
    [[ $rc == 0 && $state == succeeded ]] || { cat "$work/$1-$3.log" >&2; die "$1: the backup failed; see $work/manager-$2.log"; }
    local -n walls=wall_$1 peaks=rss_$1
    walls+=("$(elapsed "$t0" "$t1")")
    peaks+=("$(hwm "$manager_pid")")
    last_id=$(jq -r '.backup_id' <<<"$out")
}

run_A() {
    local id
    backup A offsite "$1"
    id=$last_id
    printf '  A  %9.3f s  manager peak RSS %s  %s\n' "${wall_A[-1]}" "$(human "${rss_A[-1]}")" "$id"
    aws_s3 rm --recursive --quiet "s3://$bucket/Backups/sandbox/db1/${id##*/}/"
}

run_B() {
    local id name
    backup B local "$1"
    id=$last_id
    name=${id##*/}
    stored+=("$(stat -c %s "$mondir/Backups/sandbox/db1/$name/payload.xbstream.zst")")
    # Kept for C: the same payload, uploaded by the AWS CLI.
    mv "$mondir/Backups/sandbox/db1/$name/payload.xbstream.zst" "$payload"
    rm -rf -- "${mondir:?}/Backups/sandbox/db1/$name"
    printf '  B  %9.3f s  manager peak RSS %s  stored %s\n' "${wall_B[-1]}" "$(human "${rss_B[-1]}")" "$(human "${stored[-1]}")"
}

run_C() {
    local t0 t1
    [[ -f $payload ]] || { echo "  C  (after B)"; return; }
    settle
    local s3_before busy_before
    # shellcheck disable=SC2046
    s3_before=$(ticks_of $(s3_pids)) busy_before=$(busy_ticks)
    t0=$(now)
    aws_s3 cp --quiet "$payload" "s3://$bucket/bench/payload.xbstream.zst"
    t1=$(now)
    # shellcheck disable=SC2046
    cpu_s3_C+=("$(seconds $(($(ticks_of $(s3_pids)) - s3_before)))")
    busy_C+=("$(seconds $(($(busy_ticks) - busy_before)))")
    wall_C+=("$(elapsed "$t0" "$t1")")
    aws_s3 rm --quiet "s3://$bucket/bench/payload.xbstream.zst"
    printf '  C  %9.3f s  aws s3 cp of %s\n' "${wall_C[-1]}" "$(human "$(stat -c %s "$payload")")"
}

step "Runs ($runs rounds; logs in $work)"
orders=(ABC BCA CAB)
for ((r = 1; r <= runs; r++)); do
    order=${orders[(r - 1) % 3]}
    echo "round $r ($order)"
    for ((k = 0; k < 3; k++)); do
        "run_${order:k:1}" "$r"
    done
done
# C of the first round may have come before any B: one more, so every method has RUNS runs.
((${#wall_C[@]} >= runs)) || run_C extra

read -r a_min a_med a_max <<<"$(stats "${wall_A[@]}")"
read -r b_min b_med b_max <<<"$(stats "${wall_B[@]}")"
read -r c_min c_med c_max <<<"$(stats "${wall_C[@]}")"
r_ab=$(ratio "$a_med" "$b_med")
r_abc=$(awk -v a="$a_med" -v b="$b_med" -v c="$c_med" 'BEGIN { printf "%.2f", a / (b + c) }')
rss_a=$(stats "${rss_A[@]}" | awk '{ print $3 }') rss_b=$(stats "${rss_B[@]}" | awk '{ print $3 }')
rss_a_mib=$(awk -v b="$rss_a" 'BEGIN { printf "%.0f", b / 1048576 }')

step "Results"
printf '%-36s %s\n' "nproc" "$(nproc)" \
    "datadir (du -sb)" "$data_bytes B ($(human "$data_bytes"))" \
    "stored payload (B, median)" "$(human "$(median "${stored[@]}")")" \
    "S3 server" "$endpoint (Ceph radosgw, memstore OSD, loopback)"
echo
printf '%-36s %9s %9s %9s\n' "wall seconds" min median max
printf '%-36s %9s %9s %9s\n' "A backup into S3" "$a_min" "$a_med" "$a_max" \
    "B backup onto the manager's disk" "$b_min" "$b_med" "$b_max" \
    "C aws s3 cp of the stored payload" "$c_min" "$c_med" "$c_max"
echo
printf '%-36s %s\n' "median wall A/B" "${r_ab}x   (target <= 1.20x: $(verdict "$r_ab" 1.2))" \
    "median wall A/(B+C)" "${r_abc}x   (storing then uploading, as a spool would)" \
    "manager peak RSS, A (max of runs)" "$(human "$rss_a")   (target <= 128 MiB: $(verdict "$rss_a_mib" 128))" \
    "manager peak RSS, B (max of runs)" "$(human "$rss_b")"
echo
# Where the CPU went: on a small machine the S3 server shares the cores with the backup.
printf '%-36s %9s %9s %9s\n' "CPU seconds (medians)" manager "S3 server" machine
printf '%-36s %9s %9s %9s\n' \
    "A backup into S3" "$(median "${cpu_mgr_A[@]}")" "$(median "${cpu_s3_A[@]}")" "$(median "${busy_A[@]}")" \
    "B backup onto the manager's disk" "$(median "${cpu_mgr_B[@]}")" "$(median "${cpu_s3_B[@]}")" "$(median "${busy_B[@]}")" \
    "C aws s3 cp of the stored payload" "-" "$(median "${cpu_s3_C[@]}")" "$(median "${busy_C[@]}")"
printf '%-36s %s\n' "machine CPU capacity per wall second" "$(nproc)"
