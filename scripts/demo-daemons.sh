#!/usr/bin/env bash
# The demo's daemons: `demo-daemons.sh start|stop DIR` starts or stops `ferryman manager` and
# one `ferryman agent` per sandbox server, with PID files and logs in DIR/run/. Stopping sends
# SIGTERM to each PID only if /proc says it is still that daemon of that sandbox, then waits.
set -euo pipefail
cd "$(dirname "$0")/.."
ferryman=$PWD/target/release/ferryman
action=$1
dir=$2
config=$dir/ferryman.toml
run=$dir/run

# The servers of the sandbox, from its configuration.
servers() { sed -n 's/^name = "\(.*\)"$/\1/p' "$config"; }

# Whether PID runs `ferryman ... --config $config` (a reused PID must not be killed).
ours() {
    local pid=$1
    [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--config $config"
}

start_one() {
    local name=$1
    shift
    nohup setsid "$ferryman" "$@" --config "$config" </dev/null >>"$run/$name.log" 2>&1 &
    echo $! >"$run/$name.pid"
    echo "started $name (pid $!, log $run/$name.log)"
}

stop_all() {
    local pidfile pid name
    for pidfile in "$run"/*.pid; do
        [[ -e $pidfile ]] || continue
        pid=$(cat "$pidfile")
        name=$(basename "$pidfile" .pid)
        if ours "$pid"; then
            kill -TERM "$pid"
            # The agent lets a running job finish for up to shutdown-grace (10 s here).
            for _ in $(seq 150); do
                ours "$pid" || break
                sleep 0.1
            done
            if ours "$pid"; then
                echo "$name (pid $pid) did not stop after 15 s; killing it" >&2
                kill -KILL "$pid"
            fi
            echo "stopped $name"
        fi
        rm -f "$pidfile"
    done
}

case $action in
start)
    mkdir -p "$run"
    start_one manager manager
    # Up once the API answers (the CLI also finds the token the manager wrote).
    for _ in $(seq 100); do
        "$ferryman" jobs list --config "$config" >/dev/null 2>&1 && break
        sleep 0.1
    done
    "$ferryman" jobs list --config "$config" >/dev/null || {
        echo "the manager does not answer; see $run/manager.log" >&2
        exit 1
    }
    for server in $(servers); do
        start_one "agent-$server" agent --server "$server"
    done
    ;;
stop)
    if [[ -d $run ]]; then stop_all; fi
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
