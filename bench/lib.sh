# Helpers shared by the benchmark scripts (sourced, not run).

die() { printf 'error: %s\n' "$*" >&2; exit 1; }
step() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# Human-readable bytes (powers of 1024).
human() {
    awk -v b="$1" 'BEGIN { split("B KiB MiB GiB TiB", u, " "); i = 1
        while (b >= 1024 && i < 5) { b /= 1024; i++ }
        printf (i == 1 ? "%d %s" : "%.2f %s"), b, u[i] }'
}
# min, median and max of the arguments, space separated.
stats() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.3f %.3f %.3f", v[1], m, v[NR] }'
}
median() { stats "$@" | awk '{ print $2 }'; }
median_2() { stats "$@" | awk '{ printf "%.2f", $2 }'; }
median_int() { stats "$@" | awk '{ printf "%.0f", $2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "met" : "NOT met" }'; }
# Busy CPU seconds of the whole machine since boot, every core added up (user, nice, system,
# irq, softirq and steal in /proc/stat): the difference over a run is the CPU everything on the
# machine used meanwhile (the tool, the servers, Ferryman), which on a small host says whether
# a method is bound by its cores rather than by its design.
cpu_busy() {
    awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat
}
# Whether method $1 is one of the script's METHODS (its `methods`, space-separated).
has() { [[ " $methods " == *" $1 "* ]]; }
# A measured run of a method: `run_begin`, the work, `run_end METHOD`. They keep the run's wall
# and busy CPU seconds in the caller's `declare -A wall=() cpu=()` (space-separated, one per
# run); `run_shown METHOD` prints the last run's "WALL s  cpu CPU s".
c0=0 t0=0 t1=0
run_begin() { # page cache dropped, then the clock and the machine's CPU counter
    settle
    c0=$(cpu_busy)
    t0=$(now)
}
run_end() { # method
    t1=$(now)
    wall[$1]+=" $(elapsed "$t0" "$t1")"
    cpu[$1]+=" $(elapsed "$c0" "$(cpu_busy)")"
}
run_shown() { # method
    printf '%9.3f s  cpu %6.2f s' "$(elapsed "$t0" "$t1")" "$(awk '{ print $NF }' <<<"${cpu[$1]}")"
}
# SIGTERM, then SIGKILL after 20 s; waits for it (a child of the script).
stop_pid() { # pid name: SIGTERM, then SIGKILL after 20 s
    local pid=$1 name=$2 i
    if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "warning: $name ($pid) ignored SIGTERM for 20 s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
# Value of `key` in section `[sec]` of a TOML or my.cnf file (simple `k = v` / `k=v` lines).
ini_get() {
    awk -v sec="[$2]" -v key="$3" '
        /^[[:space:]]*\[/ { insec = ($0 == sec); next }
        insec { line = $0; sub(/[[:space:]]*#.*/, "", line)
                if (match(line, "^[[:space:]]*" key "[[:space:]]*=")) {
                    v = substr(line, RLENGTH + 1); gsub(/^[[:space:]]+|[[:space:]]+$/, "", v)
                    gsub(/^"|"$/, "", v); print v; exit } }' "$1"
}
# Waits until the manager (pid) answers its health URL; dies with its log's tail if it exits or
# does not answer within 30 s.
wait_manager() { # pid url log [curl options...]
    local i
    for ((i = 0; ; i++)); do
        curl -sf -o /dev/null "${@:4}" "$2" && return 0
        kill -0 "$1" 2>/dev/null || { tail -n 30 "$3" >&2; die "the manager exited"; }
        ((i < 300)) || die "the manager did not answer $2 within 30 s"
        sleep 0.1
    done
}
# 2G, 500M, 64K... in bytes.
to_bytes() {
    awk -v s="$1" 'BEGIN { n = s + 0; u = toupper(substr(s, length(s)))
        f = (u == "K") ? 1024 : (u == "M") ? 1048576 : (u == "G") ? 1073741824 : (u == "T") ? 1099511627776 : 1
        printf "%d", n * f }'
}

# Before every timed run, outside its window: write back what earlier runs left dirty, and
# (DROP_CACHES=1, the default, as root) empty the page cache, so that every run of every method
# starts from the same memory: without it a run pays for the previous run's writeback and page
# reclaim, which moved single runs by up to 2x on these machines.
settle() {
    sync
    if [[ ${DROP_CACHES:-1} == 1 && -w /proc/sys/vm/drop_caches ]]; then
        echo 3 >/proc/sys/vm/drop_caches
    fi
}

# The ferryman binary the benchmark runs: FERRYMAN when set, else a release build of the
# repository at repo_root. Sets `fm`.
use_ferryman() { # repo_root
    if [[ -n ${FERRYMAN:-} ]]; then
        fm=$(realpath "$FERRYMAN")
        echo "using FERRYMAN=$fm"
    else
        (cd "$1" && cargo build --release --locked)
        fm=$1/target/release/ferryman
    fi
    [[ -x $fm ]] || die "$fm is not executable"
}

# Loads about `size` of sysbench data into the sandbox at `dir`, unless its schema sbtest (in
# `datadir`) already holds 90 % of it, or SKIP_LOAD=1.
ensure_data() { # dir datadir size
    local want have=0
    want=$(to_bytes "$3")
    [[ -d $2/sbtest ]] && have=$(du -sb "$2/sbtest" | awk '{ print $1 }')
    if [[ ${SKIP_LOAD:-0} == 1 ]] || ((have * 10 >= want * 9)); then
        echo "schema sbtest holds $(human "$have"): not loading"
    else
        echo "loading about $3 of sysbench data (several minutes) ..."
        "$fm" sandbox load --dir "$1" --size "$3"
    fi
}

# The end of a script's EXIT trap: with `destroy` 1 the sandbox at `dir` is removed, else its
# servers are stopped and its data kept; nothing when it was never started (`started` 0).
end_sandbox() { # dir started destroy
    ((${2:-0})) || return 0
    if [[ ${3:-0} == 1 ]]; then
        "$fm" sandbox destroy --dir "$1" >/dev/null || echo "warning: sandbox destroy failed" >&2
    else
        "$fm" sandbox down --dir "$1" >/dev/null 2>&1 || true
    fi
}

# A copy of the configuration `src` at `out`, with the TOML lines `key = value` given put at the
# top of every `[clusters.NAME]` section; a setting of those keys already in the section is
# dropped (the same key under another section is left alone).
with_cluster_keys() { # src out line...
    local src=$1 out=$2
    shift 2
    printf '%s\n' "$@" | awk '
        function key(l) { sub(/[[:space:]]*=.*/, "", l); return l }
        NR == FNR { add[++n] = $0; keys[key($0)] = 1; next }
        /^[[:space:]]*\[/ { incluster = ($0 ~ /^\[clusters\.[a-z]+\]$/) }
        incluster && (key($0) in keys) { next }
        { print }
        /^\[clusters\.[a-z]+\]$/ { for (i = 1; i <= n; i++) print add[i] }
    ' - "$src" >"$out"
}
