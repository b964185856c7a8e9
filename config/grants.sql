-- The minimum privileges of Ferryman's database accounts, on every server of a cluster.
-- Tested as written: crates/ferryman/tests/audit/grants.rs gives the sandbox's accounts exactly
-- the GRANT statements of this file, then runs a physical and a logical backup, a reseed, two
-- verifications and the binlog archiver; and one privilege fewer (RELOAD) fails a backup.
--
-- Replace '%' with the hosts the manager and the agents connect from, and create each account
-- with its password first (CREATE USER 'ferryman'@'10.0.0.%' IDENTIFIED BY '...';). Run it with
-- SET sql_log_bin = 0 on each server, as accounts are per server: or once on the primary, to
-- replicate to the replicas. No SUPER, no GRANT OPTION, no ALL ON *.*.

-- db-servers-credential: the manager and the agents.
--   RELOAD                   mariabackup's BACKUP STAGE and FLUSH; FLUSH ERROR/SLOW LOGS when
--                            logs are collected
--   PROCESS                  mariabackup reads InnoDB's state; the dump's and the monitor's
--                            views of the server
--   SELECT, SHOW VIEW,       mariadb-dump reads every table, view definition, trigger (without
--   TRIGGER, EVENT           TRIGGER they are left out of the dump silently) and event; the
--                            row counts recorded with a backup
--   BINLOG MONITOR           SHOW MASTER STATUS, @@gtid_binlog_pos, the binlog's range (backup
--                            coordinates, the topology, point-in-time recovery)
--   SLAVE MONITOR            SHOW SLAVE STATUS (topology, backup source, reseed rails)
--   REPLICATION SLAVE ADMIN  a reseeded or flashed-back replica: STOP/START SLAVE, CHANGE
--                            MASTER, SET GLOBAL gtid_slave_pos
--   READ_ONLY ADMIN          the jobs and heartbeat rows are written on read-only replicas
--   BINLOG ADMIN             SET sql_log_bin = 0: job rows, heartbeats and a joiner's own
--                            statements are never binary-logged (they belong to one server)
--   REPLICATION SLAVE        the binlog archiver follows the primary as a replica does
--                            (binlog-archive = true); not needed without it
GRANT RELOAD, PROCESS, SELECT, SHOW VIEW, TRIGGER, EVENT, BINLOG MONITOR, SLAVE MONITOR, REPLICATION SLAVE ADMIN, READ_ONLY ADMIN, BINLOG ADMIN, REPLICATION SLAVE ON *.* TO 'ferryman'@'%';
--   the jobs table and the agents' heartbeats (jobs.schema; created by the manager)
GRANT ALL PRIVILEGES ON `replication_manager_schema`.* TO 'ferryman'@'%';
-- With [clusters.NAME.galera-link]: the keepers' tables (its `schema`, default percona).
-- GRANT ALL PRIVILEGES ON `percona`.* TO 'ferryman'@'%';

-- replication-credential: what reseeded replicas replicate with.
GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'repl'@'%';
