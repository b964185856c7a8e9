#!/usr/bin/env bash
# Floods the manager's HTTP API with connections that send half a request line
# (`GET / HTTP/1.1\r\n`) and nothing more, and prints the manager's RSS, its open file
# descriptors and how /api/health answers before, during and after the flood.
#
#   bench/api-flood.sh [CONNECTIONS]     # default 20000; FERRYMAN=path to use that binary
#   ROUNDS=3 bench/api-flood.sh          # flood the same manager 3 times (memory must not grow)
#
# The flood client keeps every connection the manager keeps open and closes the ones the
# manager closed, so it needs about as many file descriptors as the manager accepts, not
# CONNECTIONS. The sandbox (one server) and the manager are removed at the end.
set -euo pipefail

N=${1:-20000}
ROUNDS=${ROUNDS:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${FERRYMAN:-}
if [[ -z $BIN ]]; then
    cargo build --release -p ferryman --manifest-path "$ROOT/Cargo.toml" >&2
    BIN=$ROOT/target/release/ferryman
fi
DIR=$(mktemp -d /tmp/ferryman-flood.XXXXXX)
MANAGER=
cleanup() {
    [[ -n $MANAGER ]] && kill "$MANAGER" 2>/dev/null && wait "$MANAGER" 2>/dev/null
    "$BIN" sandbox destroy --dir "$DIR/sb" >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT

"$BIN" sandbox up --dir "$DIR/sb" --replicas 0 --no-auto-verify >/dev/null
CONFIG=$DIR/sb/ferryman.toml
PORT=$(awk -F' *= *' '/^http-port/ {print $2; exit}' "$CONFIG")
"$BIN" manager --config "$CONFIG" >"$DIR/manager.log" 2>&1 &
MANAGER=$!
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$PORT/api/health" >/dev/null 2>&1 && break
    sleep 0.1
done

# One line: label, RSS, open fds, health's status and time.
measure() {
    local rss fds health
    rss=$(awk '/^VmRSS/ {printf "%.1f MB", $2 / 1024}' "/proc/$MANAGER/status")
    fds=$(find "/proc/$MANAGER/fd" -mindepth 1 2>/dev/null | wc -l)
    health=$(curl -sS -o /dev/null -m 5 -w '%{http_code} in %{time_total} s' \
        "http://127.0.0.1:$PORT/api/health" 2>&1 || true)
    printf '%-28s RSS %9s   fds %6s   /api/health %s\n' "$1" "$rss" "$fds" "$health"
}

measure "before"
cat >"$DIR/flood.py" <<'EOF'
import os, resource, select, socket, sys, time
port, n, done = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held, refused, failed = {}, 0, 0
poller = select.poll()
def reap(timeout_ms):
    global refused
    for fd, _ in poller.poll(timeout_ms):
        s = held.pop(fd)
        poller.unregister(fd)
        s.close()
        refused += 1
start = time.time()
for i in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\n")
    except OSError:
        failed += 1
        continue
    held[s.fileno()] = s
    poller.register(s.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
    if i % 100 == 99:
        reap(0)
reap(200)
print(f"flood: {n} connections in {time.time() - start:.1f} s: {len(held)} held open by "
      f"the manager, {refused} closed at once, {failed} failed to connect", flush=True)
open(done, "w").close()
# Hold them until the manager closes them (header timeout) or the script is told to stop.
while held and not os.path.exists(done + ".stop"):
    reap(100)
for s in held.values():
    s.close()
EOF
for round in $(seq "$ROUNDS"); do
    python3 "$DIR/flood.py" "$PORT" "$N" "$DIR/flood.$round" &
    FLOOD=$!
    until [[ -e $DIR/flood.$round ]]; do sleep 0.1; done
    measure "$round: during (flood open)"
    sleep 5
    measure "$round: during (+5 s)"
    sleep 7
    measure "$round: after header timeout"
    touch "$DIR/flood.$round.stop"
    wait "$FLOOD"
    sleep 2
    measure "$round: after the clients left"
done
