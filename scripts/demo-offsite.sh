#!/usr/bin/env bash
# `make demo-offsite`: backups that survive the loss of the manager's copy. A primary and a
# replica, and an S3 server on this machine (Ceph radosgw, `ferryman sandbox s3-up`); the
# cluster stores its backups locally and copies each one to the bucket. A physical backup is
# taken and copied; then the local copy is deleted, and the replica is reseeded from the
# bucket's copy, and shown replicating again.
# Everything stays up for exploring; `make demo-offsite-down` stops it and removes the sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
ferryman=./target/release/ferryman
dir=${DEMO_OFFSITE_DIR:-sandbox/offsite}
config=$dir/ferryman.toml

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# Runs SQL on server $1 as root over its socket (the sandbox's only root access).
sql() { mariadb --defaults-file="$dir/servers/$1/my.cnf" -N -B -e "$2"; }

step "1. Sandbox: a primary and a replica, GTID replication"
$ferryman sandbox up --dir "$dir" --replicas 1 --no-auto-verify

step "2. An S3 server (one-node Ceph, radosgw) and the repository 'offsite' in ferryman.toml"
# --copies: backup-repositories = ["local", "offsite"]: stored here, copied to the bucket.
$ferryman sandbox s3-up --dir "$dir" --copies
grep -A 6 '^\[repositories.offsite\]' "$config"

step "3. The configuration checked, every repository reached"
$ferryman config check --probe-repositories "$config"

step "4. Some data, then the manager and the agents (logs in $dir/run/)"
$ferryman sandbox load --dir "$dir" --size 50M
bash scripts/demo-daemons.sh stop "$dir"
bash scripts/demo-daemons.sh start "$dir"

step "5. A physical backup, stored on the manager's disk"
id=$($ferryman backup run --config "$config" --cluster sandbox --kind physical --wait --json | jq -r .backup_id)
echo "backup $id"

step "6. The copier copies it to the bucket (checked against its sha256 on the way)"
for _ in $(seq 120); do
    where=$($ferryman backup list --config "$config" --json | jq -r --arg id "$id" \
        '.[] | select(.id == $id) | .repositories | join(",")')
    [[ $where == local,offsite ]] && break
    sleep 0.5
done
[[ $where == local,offsite ]] || { echo "the backup was not copied within 60 s (held by: $where)" >&2; exit 1; }
$ferryman backup show --config "$config" "$id" | grep -E '^(id|stored|copies):|^ +(local|offsite) '

step "7. The manager's copy is lost"
local_copy=$(sed -n 's/^monitoring-datadir = "\(.*\)"$/\1/p' "$config")/Backups/$id
echo "rm -rf $local_copy"
rm -rf -- "$local_copy"
$ferryman backup list --config "$config"

step "8. The replica diverges, and is reseeded from the bucket's copy"
sql db2 "SET sql_log_bin = 0; CREATE DATABASE IF NOT EXISTS stray"
$ferryman reseed --config "$config" --cluster sandbox --server db2 --method physicalbackup --wait

step "9. db2 replicates again, with the primary's data"
sql db1 "UPDATE sbtest.sbtest1 SET k = k + 1 WHERE id = 1"
gtid=$(sql db1 "SELECT @@gtid_binlog_pos")
if [[ $(sql db2 "SELECT MASTER_GTID_WAIT('$gtid', 60)") != 0 ]]; then
    echo "db2 did not reach db1's GTID position $gtid within 60 s" >&2
    exit 1
fi
if [[ -n $(sql db2 "SHOW DATABASES LIKE 'stray'") ]]; then
    echo "db2 still has its stray database: the reseed did not replace its data" >&2
    exit 1
fi
echo "db2 has every transaction of db1 (GTID $gtid), and its stray database is gone"
$ferryman topology --config "$config"

step "Done"
echo "The sandbox, its S3 server, the manager and the agents keep running in $dir. Explore with:"
echo "  $ferryman backup list --config $config"
echo "  $ferryman backup show --config $config $id"
echo "Stop and remove everything with 'make demo-offsite-down'."
