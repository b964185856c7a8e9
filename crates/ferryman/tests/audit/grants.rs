//! The minimum grants (`config/grants.sql`) are enough: the sandbox's accounts are given
//! exactly the file's `GRANT`s (parsed from it: the file is what is tested), on a jobs table
//! as replication-manager made it and on read-only replicas, as in production; the manager
//! starts (with the binlog archiver), takes a physical and a logical backup (views, triggers,
//! events and routines included), reseeds one replica physically and another from a dump of
//! the primary, verifies both backups, collects a log and optimizes (with the file's optional
//! grant for it). And one privilege fewer (RELOAD) fails a physical backup with the server's
//! reason.

use std::time::Duration;

use ferryman_db::Session;
use ferryman_manager::reseed::Method;
use ferryman_manager::verification::{self, RunState, Target};
use ferryman_manager::JobState;
use ferryman_proto::Task;
use ferryman_sandbox::testing::TestSandbox;

use super::super::daemons::{caught_up, wait_job, Daemons};
use super::super::same_as_primary;

const GRANTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/grants.sql");
const SERVERS: [&str; 3] = ["db1", "db2", "db3"];
/// The hosts the sandbox's accounts exist for (the daemons connect to 127.0.0.1).
const HOSTS: [&str; 2] = ["127.0.0.1", "localhost"];

/// One `GRANT` statement of the file.
#[derive(Debug, Clone)]
struct Grant {
    privileges: Vec<String>,
    /// `*.*`, `` `schema`.* ``.
    on: String,
    user: String,
    /// Commented out in the file: for a task or a feature that not every cluster uses.
    optional: bool,
}

impl Grant {
    /// The statement for `user@host`, without the privileges in `without`; `None` when none
    /// is left.
    fn sql(&self, host: &str, without: &[&str]) -> Option<String> {
        let privileges: Vec<&str> = self
            .privileges
            .iter()
            .map(String::as_str)
            .filter(|p| !without.contains(p))
            .collect();
        (!privileges.is_empty()).then(|| {
            format!(
                "GRANT {} ON {} TO '{}'@'{host}'",
                privileges.join(", "),
                self.on,
                self.user
            )
        })
    }
}

/// Every `GRANT` of `config/grants.sql`: the statements, and the commented-out one-line
/// `-- GRANT ...;` as optional.
fn grants() -> Vec<Grant> {
    let text = std::fs::read_to_string(GRANTS).unwrap();
    let mut statements = Vec::new();
    let mut statement = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(optional) = line.strip_prefix("-- GRANT ") {
            statements.push((format!("GRANT {optional}"), true));
            continue;
        }
        if line.starts_with("--") || line.is_empty() {
            continue;
        }
        statement.push_str(line);
        statement.push(' ');
        if line.ends_with(';') {
            statements.push((std::mem::take(&mut statement), false));
        }
    }
    assert!(statement.trim().is_empty(), "unterminated: {statement}");
    let out: Vec<Grant> = statements
        .into_iter()
        .filter_map(|(s, optional)| {
            let s = s.trim().trim_end_matches(';');
            let rest = s.strip_prefix("GRANT ")?;
            let (privileges, rest) = rest.split_once(" ON ").unwrap();
            let (on, to) = rest.split_once(" TO ").unwrap();
            let user = to
                .strip_prefix('\'')
                .and_then(|u| u.strip_suffix("'@'%'"))
                .unwrap_or_else(|| panic!("not for 'user'@'%': {s}"));
            Some(Grant {
                privileges: privileges.split(", ").map(str::to_owned).collect(),
                on: on.to_owned(),
                user: user.to_owned(),
                optional,
            })
        })
        .collect();
    for user in ["ferryman", "repl"] {
        assert!(
            out.iter().any(|g| g.user == user && !g.optional),
            "no GRANT for {user} in {GRANTS}"
        );
    }
    out
}

/// Runs `sql` on `server` as `root` over its socket (the sandbox's own account, `ferryman`,
/// is the one under test): not binary-logged when `session` says so.
async fn as_root(sb: &TestSandbox, server: &str, session: Session, sql: &str) {
    let sql = match session {
        Session::NoBinlog => format!("SET sql_log_bin = 0; {sql}"),
        Session::Plain => sql.to_owned(),
    };
    sb.sql_as_root(server, &sql).await;
}

/// Gives the sandbox's accounts on `servers` exactly the file's grants that `pick` takes,
/// `without` some privileges; not binary-logged, like the accounts themselves.
async fn apply(
    sb: &TestSandbox,
    servers: &[&str],
    pick: impl Fn(&Grant) -> bool,
    without: &[&str],
) {
    let grants: Vec<Grant> = grants().into_iter().filter(|g| pick(g)).collect();
    for server in servers {
        for user in ["ferryman", "repl"] {
            for host in HOSTS {
                let mut sql = format!("REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{user}'@'{host}'");
                for grant in grants.iter().filter(|g| g.user == user) {
                    if let Some(statement) = grant.sql(host, without) {
                        sql.push_str("; ");
                        sql.push_str(&statement);
                    }
                }
                as_root(sb, server, Session::NoBinlog, &sql).await;
            }
        }
    }
}

/// The grants every cluster needs: the file's statements, not its commented-out ones.
fn required(g: &Grant) -> bool {
    !g.optional
}

/// The optional grant of the optimize task (INSERT on every table).
fn for_optimize(g: &Grant) -> bool {
    g.optional && g.on == "*.*" && g.privileges == ["INSERT"]
}

async fn verified(d: &Daemons, id: &ferryman_repo::BackupId) -> bool {
    let run = verification::start(&d.services, Target::Backup(id.clone()), "test")
        .await
        .unwrap();
    loop {
        let r = d.services.verify_runs.get(run.id).unwrap();
        if r.state == RunState::Done {
            return r.ok == Some(true);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Runs node task `task` on `server` and waits for it.
async fn task(d: &Daemons, server: &str, task: Task) -> ferryman_manager::JobRecord {
    let id = d
        .services
        .start_task("sandbox", server, task, "test")
        .unwrap();
    wait_job(&d.services, id).await
}

/// The stored dump of backup `id`, decompressed.
async fn dump_text(d: &Daemons, id: &ferryman_repo::BackupId) -> String {
    let manifest = d.services.repos.get(id).await.unwrap();
    let payload = d
        .config
        .manager
        .monitoring_datadir
        .join("Backups")
        .join(id.to_string())
        .join(&manifest.payload);
    let raw = zstd::stream::decode_all(std::fs::File::open(payload).unwrap()).unwrap();
    String::from_utf8_lossy(&raw).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_documented_minimum_grants_run_backups_reseeds_verifications_and_tasks() {
    let sb = super::super::shop_sandbox().await;
    // What a dump must carry besides tables: each needs its own privilege to be read. Made by
    // root, their definer: the account under test will not be allowed to run them.
    as_root(
        &sb,
        "db1",
        Session::Plain,
        "CREATE VIEW shop.big_items AS SELECT id FROM shop.items WHERE n > 100;
         CREATE TABLE shop.audit (id INT AUTO_INCREMENT PRIMARY KEY, item INT);
         CREATE TRIGGER shop.items_ai AFTER INSERT ON shop.items FOR EACH ROW \
           INSERT INTO shop.audit (item) VALUES (NEW.id);
         CREATE EVENT shop.nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM shop.audit;
         CREATE PROCEDURE shop.add_item(i INT) INSERT INTO shop.items VALUES (i, i);",
    )
    .await;
    // A jobs table as replication-manager left it: the manager adds its columns (ALTER).
    as_root(
        &sb,
        "db1",
        Session::Plain,
        "CREATE DATABASE replication_manager_schema;
         CREATE TABLE replication_manager_schema.jobs (
           id INT(11) NOT NULL AUTO_INCREMENT, task VARCHAR(20) NULL DEFAULT NULL,
           port INT(11) NULL DEFAULT NULL, server VARCHAR(255) NULL DEFAULT NULL,
           done TINYINT(4) NOT NULL DEFAULT 0, result VARCHAR(1000) NULL DEFAULT NULL,
           start DATETIME NULL DEFAULT NULL, end DATETIME NULL DEFAULT NULL,
           PRIMARY KEY (id)) ENGINE=InnoDB;",
    )
    .await;
    // Replicas refuse writes, as in production: job rows and heartbeats are written anyway.
    for server in ["db2", "db3"] {
        caught_up(&sb, server).await;
        as_root(&sb, server, Session::Plain, "SET GLOBAL read_only = 1").await;
    }
    apply(&sb, &SERVERS, required, &[]).await;

    let text = std::fs::read_to_string(sb.config_path()).unwrap().replacen(
        "[clusters.sandbox]\n",
        "[clusters.sandbox]\nbinlog-archive = true\n",
        1,
    );
    let path = sb.path().join("grants.toml");
    std::fs::write(&path, text).unwrap();
    let config = ferryman_config::Config::load(&path).unwrap();
    assert!(config.clusters[0].binlog_archive.enabled);
    let d = Daemons::start(config, &SERVERS).await;
    // A statement refused for want of a privilege (by the monitor, a heartbeat, the
    // archiver...) is at least a warning: none is allowed but those of the steps that fail on
    // purpose (the optimize without its optional grant, the last step's backup) and the
    // reseed's note that its backup was not verified yet.
    d.deny_warnings();
    d.expect_warning("has never been verified");
    d.expect_warning("INSERT command denied");
    d.expect_warning("missing required privilege RELOAD");
    d.expect_warning("the stream broke after 0 bytes");
    d.expect_error("the physical backup of `sandbox` from `db2` failed");

    let physical = d.backup(Task::Mariabackup).await;
    let logical = d.backup(Task::Mysqldump).await;
    let dump = dump_text(&d, &logical).await;
    for object in [
        "VIEW `big_items`",
        "TRIGGER shop.items_ai",
        "EVENT `nightly`",
        "PROCEDURE `add_item`",
    ] {
        assert!(dump.contains(object), "the dump lacks {object}");
    }

    // A physical reseed, and a logical one from a dump of the primary taken now.
    let jobs = d
        .reseed(&["db3"], Method::Physicalbackup, Some(physical.clone()))
        .await;
    assert_eq!(jobs[0].state, JobState::Succeeded, "{:#?}", jobs[0]);
    let jobs = d.reseed(&["db2"], Method::Logicalmaster, None).await;
    assert_eq!(jobs[0].state, JobState::Succeeded, "{:#?}", jobs[0]);
    as_root(&sb, "db1", Session::Plain, "CALL shop.add_item(2000)").await;
    same_as_primary(&sb, "db2").await;
    same_as_primary(&sb, "db3").await;

    assert!(verified(&d, &physical).await);
    assert!(verified(&d, &logical).await);

    // Node tasks: a log collection; optimize only with its optional grant.
    let job = task(&d, "db1", Task::Error).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
    let job = task(&d, "db2", Task::Optimize).await;
    assert_eq!(job.state, JobState::Failed, "{job:#?}");
    let why = job.error.clone().unwrap_or_default();
    assert!(why.contains("INSERT command denied"), "{job:#?}");
    apply(&sb, &["db2"], |g| required(g) || for_optimize(g), &[]).await;
    let job = task(&d, "db2", Task::Optimize).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}");

    let started = std::time::Instant::now();
    while !d
        .services
        .archives
        .get("sandbox")
        .is_some_and(|a| a.following)
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            d.services.archives.get("sandbox")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // One privilege fewer: the backup fails, and the node's row says why, in mariabackup's
    // words.
    apply(&sb, &["db2"], required, &["RELOAD"]).await;
    let id = d
        .services
        .start_backup("sandbox", Some("db2"), Task::Mariabackup, "test")
        .await
        .unwrap();
    let job = wait_job(&d.services, id).await;
    assert_eq!(job.state, JobState::Failed, "{job:#?}");
    // The agent resets the stream, then records why.
    let node_job = job.node_job_id.unwrap();
    let started = std::time::Instant::now();
    let why = loop {
        let rows = sb
            .sql(
                "db2",
                &format!(
                    "SELECT IFNULL(result, '') FROM replication_manager_schema.jobs \
                     WHERE id = {node_job} AND done = 1"
                ),
            )
            .await;
        if let Some(row) = rows.first() {
            break ferryman_db::mysql_async::from_row::<(String,)>(row.clone()).0;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{job:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(why.contains("missing required privilege RELOAD"), "{why}");
    // And the manager's job shows the node's reason, not only a broken stream.
    let error = job.error.clone().unwrap_or_default();
    assert!(
        error.contains("missing required privilege RELOAD"),
        "{job:#?}"
    );
    d.stop().await;
}
