#!/usr/bin/env bash
# Logical backups: Ferryman's (mysqldump and mydumper) against the plain tools.
#
# On a sandbox primary db1 with about SIZE (default 2G) of sysbench data, each round runs, in
# a rotating order, the methods of METHODS on the same data:
#
#   FD  `ferryman backup run --kind logical --wait --json` with the cluster's
#       `backup-logical-type = "mysqldump"`: mariadb-dump streamed to the manager, which
#       checks it, counts its rows and stores it zstd-compressed. Wall time of the command.
#   FY  the same with `backup-logical-type = "mydumper"`: mydumper's threads dump into the
#       agent's scratch directory while tar sends the files it has finished.
#   G   gravedancer's pipeline (reference 003): `mariadb-dump --single-transaction
#       --all-databases ... | gzip -9 > file`.
#   Y   `mydumper -t 2` into a directory, uncompressed.
#   DZ  the plain pipeline of FD's work: `mariadb-dump ... | zstd -1 -T2 > file`.
#   YZ  the plain pipeline of FY's work: `mydumper -t 2` into a directory, then
#       `tar -c | zstd -1 -T2 > file`.
#
# It prints min/median/max wall seconds, the CPU seconds the whole machine was busy during the
# run (every core added up: the tools, the servers and Ferryman) and the stored bytes per
# method; the median ratios FY/G and FD/G (target <= 0.1x), FY/Y (target <= 1.5x), FD/DZ and
# FY/YZ (Ferryman against the plain pipeline of the same work), the stored bytes FY/G (target
# <= 1.05x), and the CPU ratios FY/Y and FD/DZ. CPU seconds over nproc is the least wall time
# the run could take on this machine.
#
#   bench/logical.sh                             # as root: build, 2G, 1 round, every method
#   METHODS="FY Y" RUNS=3 FERRYMAN=target/release/ferryman bench/logical.sh
#
# Environment: BENCH_DIR (default /tmp/ferryman-bench-logical, reused), SIZE, SKIP_LOAD=1,
# RUNS (default 1), METHODS (default "FD FY G Y DZ YZ"; G takes minutes at 2G), FERRYMAN (else
# `cargo build --release --locked`), DESTROY=1 (`sandbox destroy` at the end; default
# `sandbox down`). Needs mariadb-dump, mydumper, gzip, zstd, tar, jq, curl. Logs in
# BENCH_DIR/bench/.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
dir=${BENCH_DIR:-/tmp/ferryman-bench-logical}
size=${SIZE:-2G}
runs=${RUNS:-1}
methods=${METHODS:-FD FY G Y DZ YZ}
destroy=${DESTROY:-0}
. "$repo_root/bench/lib.sh"

[[ $(id -u) == 0 ]] || die "run as root"
[[ $dir != *[[:space:]]* ]] || die "BENCH_DIR must not contain spaces: '$dir'"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$runs'"
for m in $methods; do
    [[ $m =~ ^(FD|FY|G|Y|DZ|YZ)$ ]] || die "unknown method '$m' in METHODS (FD, FY, G, Y, DZ, YZ)"
done
for tool in mariadb-dump mydumper gzip zstd tar jq curl; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

step "Build"
use_ferryman "$repo_root"

manager_pid='' agent_pid='' sandbox_started=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$agent_pid" agent
    stop_pid "$manager_pid" manager
    end_sandbox "$dir" "$sandbox_started" "$destroy"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "Sandbox and data in $dir"
sandbox_started=1
"$fm" sandbox up --dir "$dir" --replicas 0 --no-auto-verify
cfg=$dir/ferryman.toml
mycnf=$dir/servers/db1/my.cnf
work=$dir/bench
mkdir -p "$work"
datadir=$(ini_get "$mycnf" mysqld datadir)
mondir=$(ini_get "$cfg" manager monitoring-datadir)
http_addr=$(ini_get "$cfg" manager http-bind-address)
http_port=$(ini_get "$cfg" manager http-port)
ensure_data "$dir" "$datadir" "$size"
sbtest_bytes=$(du -sb "$datadir/sbtest" | awk '{ print $1 }')

config_for() { # logical type -> path
    local out=$work/ferryman-$1.toml
    with_cluster_keys "$cfg" "$out" "backup-logical-type = \"$1\""
    echo "$out"
}
cfg_dump=$(config_for mysqldump)
cfg_mydumper=$(config_for mydumper)
config=''
use_config() { # path: manager and agent (re)started with it
    [[ $config == "$1" ]] && return 0
    stop_pid "$agent_pid" agent
    stop_pid "$manager_pid" manager
    "$fm" manager --config "$1" >>"$work/manager.log" 2>&1 &
    manager_pid=$!
    wait_manager "$manager_pid" "http://${http_addr:-127.0.0.1}:$http_port/api/health" "$work/manager.log"
    "$fm" agent --config "$1" --server db1 >>"$work/agent.log" 2>&1 &
    agent_pid=$!
    sleep 2
    config=$1
}

declare -A wall=() stored=() cpu=()
run_ferryman() { # method config
    local out id
    use_config "$2"
    run_begin
    out=$("$fm" backup run --config "$2" --cluster sandbox --server db1 --kind logical --wait --json 2>>"$work/$1.log") || true
    run_end "$1"
    [[ $(jq -r '.state // empty' <<<"$out") == succeeded ]] || { printf '%s\n' "$out" >&2; die "$1: the backup failed; see $work/manager.log"; }
    id=$(jq -r .backup_id <<<"$out")
    local s
    s=$("$fm" backup show --config "$2" "$id" --json | jq -r .stored_bytes)
    stored[$1]=$s
    printf '  %-3s %s  stored %13s B  %s\n' "$1" "$(run_shown "$1")" "$s" \
        "$(jq -r '.node_result // ""' <<<"$out" | cut -c1-200)"
    "$fm" backup delete --config "$2" "$id" --force >/dev/null 2>&1 || true
}
# G and DZ: mariadb-dump as the agent runs it, compressed by `$2` into a file.
run_dump() { # method compressor...
    local m=$1 f=$work/dump.sql.compressed
    shift
    rm -f -- "$f"
    run_begin
    mariadb-dump --defaults-file="$mycnf" --user=root --single-transaction --master-data=2 --gtid \
        --all-databases --routines --events --triggers --hex-blob --quick 2>>"$work/$m.log" | "$@" >"$f"
    run_end "$m"
    stored[$m]=$(stat -c %s "$f")
    printf '  %-3s %s  file   %13s B\n' "$m" "$(run_shown "$m")" "${stored[$m]}"
    rm -f -- "$f"
}
# Y, and YZ (then its directory archived and compressed into a file).
run_mydumper() { # method
    local d=$work/mydumper f=$work/mydumper.tar.zst
    rm -rf -- "$d" "$f"
    run_begin
    mydumper --defaults-file="$mycnf" --user=root -t 2 --outputdir="$d" >>"$work/$1.log" 2>&1 ||
        die "$1: mydumper failed; see $work/$1.log"
    if [[ $1 == YZ ]]; then
        tar -C "$d" -c . | zstd -q -1 -T2 >"$f"
    fi
    run_end "$1"
    if [[ $1 == YZ ]]; then
        stored[$1]=$(stat -c %s "$f")
        printf '  %-3s %s  file   %13s B\n' "$1" "$(run_shown "$1")" "${stored[$1]}"
    else
        stored[$1]=$(du -sb "$d" | awk '{ print $1 }')
        printf '  %-3s %s  dir    %13s B\n' "$1" "$(run_shown "$1")" "${stored[$1]}"
    fi
    rm -rf -- "$d" "$f"
}

step "Runs ($runs rounds of: $methods; logs in $work)"
read -r -a order <<<"$methods"
for ((r = 0; r < runs; r++)); do
    echo "round $((r + 1))"
    for ((i = 0; i < ${#order[@]}; i++)); do
        m=${order[$(((i + r) % ${#order[@]}))]}
        case $m in
        FD) run_ferryman FD "$cfg_dump" ;;
        FY) run_ferryman FY "$cfg_mydumper" ;;
        G) run_dump G gzip -9 ;;
        DZ) run_dump DZ zstd -q -1 -T2 ;;
        Y | YZ) run_mydumper "$m" ;;
        esac
    done
done

step "Results"
printf '%-24s %s\n' "nproc" "$(nproc)" "schema sbtest" "$sbtest_bytes B ($(human "$sbtest_bytes"))" \
    "mariadb" "$(mariadbd --version | cut -c1-80)" "mydumper" "$(mydumper --version 2>&1 | head -n 1)"
printf '\n%-44s %9s %9s %9s %9s %15s\n' "wall seconds (cpu: median busy CPU s)" min median max cpu "stored bytes"
for m in $methods; do
    case $m in
    FD) what="FD ferryman backup, mysqldump" ;;
    FY) what="FY ferryman backup, mydumper" ;;
    G) what="G  mariadb-dump | gzip -9" ;;
    Y) what="Y  mydumper -t 2, uncompressed" ;;
    DZ) what="DZ mariadb-dump | zstd -1 -T2" ;;
    YZ) what="YZ mydumper -t 2; tar | zstd -1 -T2" ;;
    esac
    read -r lo med hi <<<"$(stats ${wall[$m]})"
    printf '%-44s %9s %9s %9s %9s %15s\n' "$what" "$lo" "$med" "$hi" "$(median_2 ${cpu[$m]})" "${stored[$m]}"
done
echo
for pair in "FY G 0.1" "FD G 0.1" "FY Y 1.5" "FD Y 1.5" "FD DZ -" "FY YZ -"; do
    read -r a b t <<<"$pair"
    has "$a" && has "$b" || continue
    x=$(ratio "$(median ${wall[$a]})" "$(median ${wall[$b]})")
    if [[ $t == - ]]; then
        printf '%-44s %s\n' "median wall $a/$b" "${x}x (against the plain pipeline of the same work)"
    else
        printf '%-44s %s\n' "median wall $a/$b" "${x}x (target <= ${t}x: $(verdict "$x" "$t"))"
    fi
done
for pair in "FY Y" "FD DZ" "FY YZ"; do
    read -r a b <<<"$pair"
    has "$a" && has "$b" || continue
    printf '%-44s %s\n' "median cpu $a/$b" "$(ratio "$(median ${cpu[$a]})" "$(median ${cpu[$b]})")x (busy CPU seconds, all cores)"
done
for m in FY FD; do
    has "$m" || continue
    printf '%-44s %s\n' "$m: least wall time on $(nproc) cores" \
        "$(awk -v c="$(median ${cpu[$m]})" -v n="$(nproc)" 'BEGIN { printf "%.2f", c / n }') s (its CPU seconds over nproc)"
done
for a in FY FD; do
    has "$a" && has G || continue
    x=$(ratio "${stored[$a]}" "${stored[G]}")
    printf '%-44s %s\n' "stored bytes $a/G" "${x}x (target <= 1.05x: $(verdict "$x" 1.05))"
done
