#!/usr/bin/env bash
# Verification benchmark: proving a stored backup restores, through Ferryman and by hand.
#
# On a sandbox primary db1 with about SIZE (default 2G) of sysbench data, the script takes one
# physical and one logical backup through Ferryman (untimed) and one verification (untimed, a
# warm-up: see below), then runs RUNS rounds of, each round in a rotated order:
#
#   PV  `ferryman verify --backup PHYSICAL --json`: checksum pass, `zstd -d | mbstream -x`,
#       `mariabackup --prepare`, a throwaway mariadbd started, row counts and CHECK TABLE on
#       every table, the result appended to the manifest. Wall time of the command.
#   PN  the same with `[verifier] check-tables = false` (no CHECK TABLE): the work the hand
#       steps do, plus Ferryman's checksum pass, row counts and bookkeeping.
#   PH  by hand from the same stored payload: `zstd -dc payload | mbstream -x`, `mariabackup
#       --prepare`, `mariadbd` started until it answers (then stopped, untimed).
#   LV, LN, LH  the same for the logical backup: Ferryman's import into a fresh throwaway
#       server, and by hand `mariadb-install-db`, `mariadbd`, `zstd -dc payload | mariadb`.
#
# The throwaway servers of both sides get the same InnoDB buffer pool (BUFFER_POOL_MIB,
# default 1024; `[verifier] buffer-pool-mib`). It prints min/median/max wall seconds per method
# and its median busy CPU seconds (all cores, from /proc/stat), the medians
# PV/PH, PN/PH, LV/LH and LN/LH (target <= 1.2x), and the restore time Ferryman recorded.
#
#   bench/verify.sh                              # as root: build, 2G, 1 round
#   SIZE=200M RUNS=2 FERRYMAN=target/release/ferryman bench/verify.sh
#   METHODS="PV PN PH" RUNS=3 bench/verify.sh   # the physical side only
#
# Environment: BENCH_DIR (default /tmp/ferryman-bench-verify, reused), SIZE, SKIP_LOAD=1, RUNS
# (default 1), METHODS (default "PV PN PH LV LN LH"), BUFFER_POOL_MIB, FERRYMAN (else `cargo build --release --locked`), DESTROY=1
# (`sandbox destroy` at the end; default `sandbox down`). Needs mariabackup, mbstream, mariadb,
# mariadb-install-db, mariadbd, zstd, jq, curl. Logs in BENCH_DIR/bench/.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
dir=${BENCH_DIR:-/tmp/ferryman-bench-verify}
size=${SIZE:-2G}
runs=${RUNS:-1}
methods=${METHODS:-PV PN PH LV LN LH}
bp=${BUFFER_POOL_MIB:-1024}
destroy=${DESTROY:-0}
. "$repo_root/bench/lib.sh"

[[ $(id -u) == 0 ]] || die "run as root"
[[ $dir != *[[:space:]]* ]] || die "BENCH_DIR must not contain spaces: '$dir'"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$runs'"
for m in $methods; do
    [[ $m =~ ^(PV|PN|PH|LV|LN|LH)$ ]] || die "unknown method '$m' in METHODS (PV, PN, PH, LV, LN, LH)"
done
for tool in mariabackup mbstream mariadb mariadb-install-db mariadbd zstd jq curl; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

step "Build"
use_ferryman "$repo_root"

manager_pid='' agent_pid='' hand_pid='' sandbox_started=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$hand_pid" "mariadbd (by hand)"
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

config_for() { # check-tables (true|false) -> path
    local out=$work/ferryman-check-$1.toml
    awk -v bp="$bp" -v check="$1" '
        /^buffer-pool-mib/ { next }
        /^check-tables/ { next }
        { print }
        /^\[verifier\]$/ { print "buffer-pool-mib = " bp; print "check-tables = " check }
    ' "$cfg" >"$out"
    echo "$out"
}
cfg_check=$(config_for true)
cfg_nocheck=$(config_for false)
config=''
use_config() { # path: the manager (re)started with it; the agent started once
    [[ $config == "$1" ]] && return 0
    stop_pid "$manager_pid" manager
    "$fm" manager --config "$1" >>"$work/manager.log" 2>&1 &
    manager_pid=$!
    wait_manager "$manager_pid" "http://${http_addr:-127.0.0.1}:$http_port/api/health" "$work/manager.log"
    if [[ -z $agent_pid ]]; then
        "$fm" agent --config "$1" --server db1 >>"$work/agent.log" 2>&1 &
        agent_pid=$!
        sleep 2
    fi
    config=$1
}

step "Backups (untimed)"
use_config "$cfg_check"
backup() { # kind -> id
    local out
    out=$("$fm" backup run --config "$cfg_check" --cluster sandbox --server db1 --kind "$1" --wait --json)
    [[ $(jq -r .state <<<"$out") == succeeded ]] || die "the $1 backup failed: $out"
    jq -r .backup_id <<<"$out"
}
phys=$(backup physical)
logi=$(backup logical)
payload_of() { # id -> path of its payload
    local d=$mondir/Backups/${1}
    find "$d" -maxdepth 1 -name 'payload.*.zst' | head -n 1
}
pp=$(payload_of "$phys") lp=$(payload_of "$logi")
[[ -f $pp && -f $lp ]] || die "no payload found for $phys or $logi under $mondir/Backups"
echo "physical $phys: $(human "$(stat -c %s "$pp")") stored; logical $logi: $(human "$(stat -c %s "$lp")") stored"

declare -A wall=() cpu=() restore=()
run_ferryman() { # method config id
    local out
    use_config "$2"
    run_begin
    out=$("$fm" verify --config "$2" --backup "$3" --json 2>>"$work/$1.log") || true
    run_end "$1"
    [[ $(jq -r '.ok // empty' <<<"$out") == true ]] || { printf '%s\n' "$out" >&2; die "$1: the verification failed; see $work/manager.log"; }
    restore[$1]+=" $(jq -r '.items[0].restore_seconds // 0' <<<"$out")"
    printf '  %-3s %s  (restore %.1f s recorded by Ferryman)\n' "$1" "$(run_shown "$1")" "$(jq -r '.items[0].restore_seconds // 0' <<<"$out")"
}
hand_start() { # datadir sock: mariadbd until it answers
    mariadbd --no-defaults --user=root --datadir="$1" --socket="$2" --pid-file="$1/hand.pid" \
        --skip-networking --skip-log-bin --innodb-buffer-pool-size="${bp}M" >>"$work/hand-mariadbd.log" 2>&1 &
    hand_pid=$!
    local i
    for ((i = 0; ; i++)); do
        mariadb --no-defaults --user=root --socket="$2" -e 'SELECT 1' >/dev/null 2>&1 && return 0
        kill -0 "$hand_pid" 2>/dev/null || { tail -n 20 "$work/hand-mariadbd.log" >&2; die "the hand mariadbd exited"; }
        ((i < 6000)) || die "the hand mariadbd did not answer within 600 s"
        sleep 0.1
    done
}
run_PH() {
    local d=$work/hand
    rm -rf -- "$d"; mkdir -p "$d/data"
    run_begin
    zstd -dc "$pp" | mbstream -x -C "$d/data"
    mariabackup --prepare --target-dir="$d/data" >>"$work/PH.log" 2>&1 || die "PH: prepare failed; see $work/PH.log"
    hand_start "$d/data" "$d/sock"
    run_end PH
    stop_pid "$hand_pid" "mariadbd (by hand)"; hand_pid=''
    rm -rf -- "$d"
    printf '  %-3s %s\n' PH "$(run_shown PH)"
}
run_LH() {
    local d=$work/hand
    rm -rf -- "$d"; mkdir -p "$d/data"
    run_begin
    mariadb-install-db --no-defaults --user=root --datadir="$d/data" --auth-root-authentication-method=socket \
        >>"$work/LH.log" 2>&1 || die "LH: mariadb-install-db failed; see $work/LH.log"
    hand_start "$d/data" "$d/sock"
    zstd -dc "$lp" | mariadb --no-defaults --user=root --socket="$d/sock" || die "LH: the import failed"
    run_end LH
    stop_pid "$hand_pid" "mariadbd (by hand)"; hand_pid=''
    rm -rf -- "$d"
    printf '  %-3s %s\n' LH "$(run_shown LH)"
}

run() { # method
    case $1 in
    PV) run_ferryman PV "$cfg_check" "$phys" ;;
    PN) run_ferryman PN "$cfg_nocheck" "$phys" ;;
    PH) run_PH ;;
    LV) run_ferryman LV "$cfg_check" "$logi" ;;
    LN) run_ferryman LN "$cfg_nocheck" "$logi" ;;
    LH) run_LH ;;
    esac
}

# The first restore after the machine wrote elsewhere for a while (the data load, the
# backups) is much slower whoever does it: by hand, `zstd -dc | mbstream -x` of the 2.3 GiB
# physical payload took 11.6 s the first time and 3.0 to 3.4 s the next two, on this lab's
# virtual disk. One verification runs first, untimed, so that this lands on no method.
step "Warm-up (untimed): one physical verification"
use_config "$cfg_nocheck"
"$fm" verify --config "$cfg_nocheck" --backup "$phys" --json >/dev/null 2>>"$work/warm-up.log" ||
    die "the warm-up verification failed; see $work/manager.log"

step "Runs ($runs rounds, each in a rotated order; logs in $work)"
physical=() logical=()
for m in PV PN PH; do has "$m" && physical+=("$m"); done
for m in LN LV LH; do has "$m" && logical+=("$m"); done
for ((r = 0; r < runs; r++)); do
    echo "round $((r + 1))"
    for ((k = 0; k < ${#physical[@]}; k++)); do run "${physical[$(((k + r) % ${#physical[@]}))]}"; done
    for ((k = 0; k < ${#logical[@]}; k++)); do run "${logical[$(((k + r) % ${#logical[@]}))]}"; done
done

step "Results"
printf '%-24s %s\n' "nproc" "$(nproc)" "schema sbtest" "$sbtest_bytes B ($(human "$sbtest_bytes"))" \
    "buffer pool" "$bp MiB (both sides)" "physical" "$phys, $(human "$(stat -c %s "$pp")") stored" \
    "logical" "$logi, $(human "$(stat -c %s "$lp")") stored"
printf '\n%-46s %9s %9s %9s %9s %12s\n' "wall seconds (cpu: median busy CPU s)" min median max cpu "restore med"
for m in $methods; do
    case $m in
    PV) what="PV ferryman verify, physical" ;;
    PN) what="PN ... without CHECK TABLE" ;;
    PH) what="PH zstd | mbstream; prepare; mariadbd" ;;
    LV) what="LV ferryman verify, logical" ;;
    LN) what="LN ... without CHECK TABLE" ;;
    LH) what="LH install; mariadbd; zstd | mariadb" ;;
    esac
    read -r lo med hi <<<"$(stats ${wall[$m]})"
    rs=''
    [[ -n ${restore[$m]:-} ]] && rs=$(median ${restore[$m]})
    printf '%-46s %9s %9s %9s %9s %12s\n' "$what" "$lo" "$med" "$hi" "$(median_2 ${cpu[$m]})" "$rs"
done
echo
for pair in "PV PH" "PN PH" "LV LH" "LN LH"; do
    read -r a b <<<"$pair"
    has "$a" && has "$b" || continue
    x=$(ratio "$(median ${wall[$a]})" "$(median ${wall[$b]})")
    printf '%-46s %s\n' "median $a/$b" "${x}x (target <= 1.20x: $(verdict "$x" 1.2))"
done
