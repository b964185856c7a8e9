#!/usr/bin/env bash
# `make demo`: a primary and two replicas on this machine, some data, and the topology as
# Ferryman sees it. Each feature adds its step here. The sandbox stays up for exploring;
# `make demo-down` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
ferryman=./target/release/ferryman
dir=${DEMO_DIR:-sandbox/demo}
size=${DEMO_SIZE:-50M}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Sandbox: a primary and 2 replicas from the installed mariadbd, GTID replication"
$ferryman sandbox up --dir "$dir" --replicas 2

step "2. Configuration written for that topology, checked"
$ferryman config check "$dir/ferryman.toml"

step "3. Some realistic InnoDB data on the primary (sysbench, about $size)"
$ferryman sandbox load --dir "$dir" --size "$size"

step "4. Topology as Ferryman reads it from the servers"
$ferryman topology --config "$dir/ferryman.toml"

step "Done"
echo "The sandbox keeps running in $dir. Explore it with:"
echo "  $ferryman topology --config $dir/ferryman.toml --json"
echo "  mariadb --defaults-file=$dir/servers/db1/my.cnf      # root over the socket"
echo "Stop it with '$ferryman sandbox down --dir $dir', remove it with 'make demo-down'."
