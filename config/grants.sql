-- The minimum privileges of Ferryman's database accounts (MariaDB 10.5 and later; checked on
-- 10.11), on every server of a cluster: any server may be a backup source, a reseed's joiner
-- or, after a failover, the primary.
--
-- Tested as written: crates/ferryman/tests/audit/grants.rs gives a sandbox's accounts exactly
-- the GRANT statements of this file (a commented-out one only where it says), on read-only
-- replicas, then runs the manager (jobs tables, topology, binlog archiver), a physical and a
-- logical backup, a physical and a logical reseed, two verifications, a log collection and an
-- optimize; and one privilege fewer (RELOAD) fails a physical backup with the server's reason.
-- Each privilege below was also removed in turn: the step named beside it failed.
--
-- Replace '%' with the hosts the manager and the agents connect from (both connect over TCP to
-- each server's `host:port`) and create each account with its password first:
--   CREATE USER 'ferryman'@'10.0.0.%' IDENTIFIED BY '...';
-- Accounts are per server: run the file with SET sql_log_bin = 0 on each server, or once on
-- the primary and let it replicate. No SUPER (but see the Galera link below), no GRANT
-- OPTION, no ALL, no SHUTDOWN (servers are stopped by `service-stop`), no LOCK TABLES, and no
-- write privilege on any data: a logical reseed imports the dump into a private server the
-- agent starts beside the joiner, as that server's own root, not through this account.

-- ferryman: the cluster's db-servers-credential, used by the manager and by every agent.
--   RELOAD                   mariabackup (BACKUP STAGE, FLUSH TABLES; checked at its start:
--                            "missing required privilege RELOAD"); FLUSH ERROR LOGS / FLUSH
--                            SLOW LOGS after a log collection (tasks error, slowquery);
--                            mydumper's FLUSH TABLES WITH READ LOCK (mariadb-dump needs none)
--   PROCESS                  mariabackup (checked at its start); a reseed's check that no
--                            replica reads from the joiner (information_schema.PROCESSLIST:
--                            without PROCESS it sees only its own sessions, and would pass)
--   SELECT                   mariadb-dump and mydumper read every table, mysql.* included
--   SHOW VIEW                mariadb-dump's SHOW CREATE of views: mysql.user is one, so a
--                            dump fails without it even on a server with no view of its own
--   TRIGGER                  triggers in dumps: without it they are left out, silently
--   EVENT                    events in dumps (--events): SHOW EVENTS fails without it
--   BINLOG MONITOR           mariabackup's SHOW MASTER STATUS (the backup's binlog position);
--                            the binlog archiver's SHOW BINARY LOGS
--   SLAVE MONITOR            SHOW SLAVE STATUS: the manager's topology (without it every
--                            server reads as "not answering" and no backup has a source), a
--                            joiner catching up, mariabackup --slave-info
--   REPLICATION SLAVE ADMIN  a reseed's or a flashback's joiner: STOP SLAVE, RESET SLAVE ALL,
--                            SET GLOBAL gtid_slave_pos, CHANGE MASTER, START SLAVE
--   READ_ONLY ADMIN          the jobs table upgraded, job rows and agent heartbeats written on
--                            read-only replicas; a joiner held read-only until it replicates
--                            (SET GLOBAL read_only)
--   BINLOG ADMIN             SET SESSION sql_log_bin = 0: job rows, heartbeats and a joiner's
--                            own statements are never binary-logged (they belong to one server)
--   REPLICATION SLAVE        the binlog archiver reads the primary's binlog as a replica does
--                            (binlog-archive = true); not needed without it
GRANT RELOAD, PROCESS, SELECT, SHOW VIEW, TRIGGER, EVENT, BINLOG MONITOR, SLAVE MONITOR, REPLICATION SLAVE ADMIN, READ_ONLY ADMIN, BINLOG ADMIN, REPLICATION SLAVE ON *.* TO 'ferryman'@'%';
--   The jobs schema (`jobs.schema`, default replication_manager_schema): the manager creates
--   it and its two tables, jobs and ferryman_agents (CREATE), and adds its columns to a jobs
--   table replication-manager made (ALTER); the manager enqueues rows (INSERT), the agents
--   claim them and write progress, heartbeats and results (INSERT, UPDATE), and a reseed's
--   joiner puts its own rows back after the swap (DELETE, INSERT). SELECT is also in the line
--   above; it is here so that this line says all the jobs table needs.
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER ON `replication_manager_schema`.* TO 'ferryman'@'%';

-- Only with the optimize task (scheduler-db-servers-optimize, `ferryman task optimize`):
-- OPTIMIZE TABLE needs INSERT on each table it rebuilds, and the task goes through every
-- non-system table; without it each one fails with "INSERT command denied".
-- GRANT INSERT ON *.* TO 'ferryman'@'%';

-- Only with [clusters.NAME.galera-link], on the Galera nodes (not run by the test): the
-- keepers' tables in the link's `schema` (default percona). A keeper on a node that left the
-- Primary component stops its replication after SET SESSION wsrep_on = OFF, which MariaDB
-- allows with SUPER only: without SUPER that step fails with the server's reason.
-- GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON `percona`.* TO 'ferryman'@'%';

-- Only on Galera nodes backed up or given tasks by Ferryman: Galera copies every write to
-- every node whatever sql_log_bin says, so the jobs session also runs SET SESSION
-- wsrep_on = OFF (each node's job rows stay on it), and backup-galera-desync sets
-- wsrep_desync; MariaDB 10.11 allows both with SUPER only. Without it the agent and the
-- manager refuse to write job rows there, saying so.
-- GRANT SUPER ON *.* TO 'ferryman'@'%';

-- repl: the cluster's replication-credential, named in a reseeded replica's CHANGE MASTER;
-- used on the primary by the replica's I/O thread, which needs nothing else.
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';
