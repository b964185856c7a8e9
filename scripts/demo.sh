#!/usr/bin/env bash
# `make demo`: a primary and two replicas on this machine, some data, the topology as Ferryman
# sees it, then the manager and one agent per server taking a physical and a logical backup,
# both verified on throwaway servers; then a replica is broken (stopped, its data deleted), replaced by an empty server and reseeded
# from the newest physical backup, and shown replicating with the primary's data again.
# Everything stays up for exploring; `make demo-down` stops the daemons and removes the sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
ferryman=./target/release/ferryman
dir=${DEMO_DIR:-sandbox/demo}
size=${DEMO_SIZE:-50M}
config=$dir/ferryman.toml

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Sandbox: a primary and 2 replicas from the installed mariadbd, GTID replication"
$ferryman sandbox up --dir "$dir" --replicas 2

step "2. Configuration written for that topology, checked"
$ferryman config check "$config"

step "3. Some realistic InnoDB data on the primary (sysbench, about $size)"
$ferryman sandbox load --dir "$dir" --size "$size"

step "4. Topology as Ferryman reads it from the servers"
$ferryman topology --config "$config"

step "5. The manager and an agent on each server, in the background (logs in $dir/run/)"
# A second `make demo` restarts them with the current binary.
bash scripts/demo-daemons.sh stop "$dir"
bash scripts/demo-daemons.sh start "$dir"

step "6. A physical backup (mariabackup, from a healthy replica), followed to the end"
$ferryman backup run --config "$config" --cluster sandbox --kind physical --wait

step "7. A logical backup (mysqldump)"
$ferryman backup run --config "$config" --cluster sandbox --kind logical --wait

step "8. The repository: every backup has a manifest (sizes, sha256, GTID, binlog position)"
$ferryman backup list --config "$config"

step "9. Verify both backups: checks, a test restore on a throwaway server, rows compared"
# The sandbox's scheduler also verifies every new backup by itself (every 15 s); this run
# verifies the newest physical and logical backup now and prints the summary (exit 1 on failure).
$ferryman verify --config "$config" --cluster sandbox --latest

# The datadir of server $1, as its agent knows it: the `datadir` key of its table in ferryman.toml.
datadir_of() {
    awk -v want="name = \"$1\"" '
        $0 == want { found = 1 }
        found && /^datadir = / { sub(/^datadir = "/, ""); sub(/"$/, ""); print; exit }
    ' "$config"
}
# Runs SQL on server $1 as root over its socket (the sandbox's only root access).
sql() { mariadb --defaults-file="$dir/servers/$1/my.cnf" -N -B -e "$2"; }

step "10. Break replica db2: stop it and delete its data"
datadir=$(datadir_of db2)
if [[ -z $datadir || ! -d $datadir ]]; then
    echo "cannot find db2's datadir in $config (found '$datadir')" >&2
    exit 1
fi
$ferryman sandbox stop --dir "$dir" --server db2
echo "rm -rf $datadir"
rm -rf -- "$datadir"
# db2 is down and cannot start again; its agent keeps running and retries.
$ferryman sandbox status --dir "$dir" || true

step "11. Provision an empty server in its place (as a new host would be: install, start, accounts)"
# The agent reads its jobs from its own server, so a reseed needs a running server to land on.
$ferryman sandbox reinit --dir "$dir" --server db2

step "12. Reseed db2 from the newest physical backup"
$ferryman reseed --config "$config" --cluster sandbox --server db2 --method physicalbackup --wait

step "13. db2 replicates again, with the primary's data"
# A write on the primary after the reseed; db2 waits until it has every transaction of db1.
sql db1 "UPDATE sbtest.sbtest1 SET k = k + 1 WHERE id = 1"
gtid=$(sql db1 "SELECT @@gtid_binlog_pos")
if [[ $(sql db2 "SELECT MASTER_GTID_WAIT('$gtid', 60)") != 0 ]]; then
    echo "db2 did not reach db1's GTID position $gtid within 60 s" >&2
    exit 1
fi
echo "db2 has every transaction of db1 (GTID $gtid), including a write made after the reseed"
$ferryman topology --config "$config"
tables=$(sql db1 "SELECT GROUP_CONCAT(CONCAT('sbtest.', table_name) ORDER BY table_name)
                  FROM information_schema.TABLES WHERE table_schema = 'sbtest'")
# Both servers list the tables in the same order: one line per table, db1's then db2's columns.
checksums=$(paste <(sql db1 "CHECKSUM TABLE $tables") <(sql db2 "CHECKSUM TABLE $tables"))
awk -F'\t' '
    BEGIN { printf "%-18s %12s %12s\n", "CHECKSUM TABLE", "db1", "db2" }
    { printf "%-18s %12s %12s%s\n", $1, $2, $4, ($1 == $3 && $2 == $4 ? "" : "   DIFFERENT") }
' <<<"$checksums"
if awk -F'\t' '$1 != $3 || $2 != $4 { bad = 1 } END { exit !(bad || NR == 0) }' <<<"$checksums"; then
    echo "db2's tables differ from db1's: the reseed did not give db2 the primary's data" >&2
    exit 1
fi
echo "every sbtest table of db2 matches db1"

step "Done"
echo "The sandbox, the manager and the agents keep running in $dir. Explore with:"
echo "  $ferryman backup show --config $config ID        # one manifest and its verification (IDs above)"
echo "  $ferryman verify --config $config --all-clusters   # fresh dump of every cluster, verified"
echo "  $ferryman jobs list --config $config               # the backups and the reseed"
echo "  $ferryman backup prune --config $config --dry-run"
echo "  $ferryman topology --config $config --json"
echo "  mariadb --defaults-file=$dir/servers/db1/my.cnf      # root over the socket"
echo "Stop and remove everything with 'make demo-down'."
