#!/usr/bin/env bash
# `make demo`: a primary and two replicas on this machine, some data, the topology as Ferryman
# sees it, then the manager and one agent per server taking a physical and a logical backup.
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

step "Done"
echo "The sandbox, the manager and the agents keep running in $dir. Explore with:"
echo "  $ferryman backup show --config $config ID        # one manifest (IDs above)"
echo "  $ferryman jobs list --config $config"
echo "  $ferryman backup prune --config $config --dry-run"
echo "  $ferryman topology --config $config --json"
echo "  mariadb --defaults-file=$dir/servers/db1/my.cnf      # root over the socket"
echo "Stop and remove everything with 'make demo-down'."
