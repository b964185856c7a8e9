//! `mysqldump` and `mydumper` jobs: the dump restores into a fresh server with equal rows.

use std::path::Path;

use ferryman_db::Endpoint;
use ferryman_exec::{ClientOptions, OptionFile, Program, Streaming};
use ferryman_jobs::Task;
use ferryman_sandbox::testing::TestSandbox;

use crate::common::*;

/// `mariadb < dump` into `target`'s primary, logged in as `endpoint`.
async fn import(endpoint: &Endpoint, dump: &Path, scratch: &Path) {
    let password = endpoint
        .password
        .as_ref()
        .map(|p| p.expose_secret().to_owned());
    let opts = OptionFile::create(
        scratch,
        &ClientOptions {
            user: Some(&endpoint.user),
            password: password.as_deref(),
            host: Some(&endpoint.host),
            port: Some(endpoint.port),
            socket: None,
            ssl: &[],
        },
    )
    .unwrap();
    let mut running = Program::find("mariadb", "mariadb-client")
        .unwrap()
        .command()
        .arg(opts.arg())
        .spawn_streaming(&Streaming {
            stdin: true,
            ..Streaming::default()
        })
        .unwrap();
    let mut stdin = running.take_stdin().unwrap();
    let mut file = tokio::fs::File::open(dump).await.unwrap();
    tokio::io::copy(&mut file, &mut stdin).await.unwrap();
    drop(stdin);
    let done = running.wait().await.unwrap();
    assert!(done.status.success(), "import failed: {}", done.stderr);
}

/// Row counts, routine, trigger, event and view of the seeded data, read through `endpoint`.
async fn inventory(endpoint: &Endpoint) -> Vec<String> {
    use ferryman_db::mysql_async::prelude::Queryable;
    let mut conn = endpoint.connect(ferryman_db::Session::Plain).await.unwrap();
    let mut out = Vec::new();
    for sql in [
        "SELECT COUNT(*) FROM shop.items",
        "SELECT COUNT(*) FROM shop.audit",
        "SELECT COUNT(*) FROM `odd name`.`t-1`",
        "SELECT SUM(LENGTH(v)) FROM `odd name`.`t-1`",
        "SELECT HEX(pic) FROM shop.items WHERE id = 1234",
        "SELECT name FROM shop.items WHERE id = 77",
        "SELECT shop.double_it(21)",
        "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_NAME = 'items_ai'",
        "SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_NAME = 'tick'",
        "SELECT COUNT(*) FROM shop.cheap",
    ] {
        let v: Option<String> = conn.query_first(sql).await.unwrap();
        out.push(format!("{sql} = {}", v.unwrap_or_default()));
    }
    conn.disconnect().await.unwrap();
    out
}

/// The source's admin login, pointed at `target`'s primary: a full dump carries the source's
/// accounts (`mysql` schema and FLUSH PRIVILEGES), so after the import they are the ones that
/// work there.
fn source_login_on(source: &TestSandbox, target: &TestSandbox) -> Endpoint {
    let mut ep = target.endpoint(target.primary());
    ep.password = Some(source.passwords().admin.clone());
    ep
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mysqldump_job_streams_a_dump_that_restores_with_equal_rows() {
    let source = sandbox(0).await;
    seed(&source, "db1").await;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("dump.sql");
    let listener = listen(&source, &file, None, None).await;
    let id = enqueue(&source, "db1", Task::Mysqldump, Some(listener.port), None).await;
    let out = agent_once(&source, "db1").await;
    assert!(out.status.success(), "{}", text(&out));
    listener.handle.await.unwrap().unwrap();
    let result = ended(&job(&source, "db1", id).await, "success");
    assert!(
        result.contains(&format!("to 127.0.0.1:{}", listener.port)),
        "{result}"
    );
    let dump = std::fs::read_to_string(&file).unwrap();
    assert!(dump.contains("-- Dump completed"), "no footer");
    assert!(
        dump.contains("gtid_slave_pos"),
        "no GTID position in the dump"
    );
    assert!(
        !dump.contains("CREATE TABLE `jobs`"),
        "the jobs table must not travel"
    );

    let target = sandbox(0).await;
    import(&target.endpoint(target.primary()), &file, tmp.path()).await;
    let expected = inventory(&source.endpoint(source.primary())).await;
    assert_eq!(
        inventory(&source_login_on(&source, &target)).await,
        expected
    );
    assert!(expected[0].ends_with("= 2000"), "{expected:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mydumper_job_streams_a_tar_that_myloader_restores_with_equal_rows() {
    let source = sandbox(0).await;
    seed(&source, "db1").await;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("dump.tar");
    let listener = listen(&source, &file, None, None).await;
    let id = enqueue(&source, "db1", Task::Mydumper, Some(listener.port), None).await;
    let out = agent_once(&source, "db1").await;
    assert!(out.status.success(), "{}", text(&out));
    listener.handle.await.unwrap().unwrap();
    let result = ended(&job(&source, "db1", id).await, "success");
    assert!(result.contains("mydumper:"), "{result}");
    assert!(result.contains("GTID"), "{result}");

    let dir = tmp.path().join("dump");
    std::fs::create_dir(&dir).unwrap();
    Program::find("tar", "tar")
        .unwrap()
        .command()
        .args(["-C", dir.to_str().unwrap(), "-xf", file.to_str().unwrap()])
        .run()
        .await
        .unwrap();
    assert!(dir.join("metadata").exists());
    assert!(
        !std::fs::read_dir(&dir).unwrap().flatten().any(|e| e
            .file_name()
            .to_string_lossy()
            .starts_with("replication_manager_schema.jobs")),
        "the jobs table must not travel"
    );

    let target = sandbox(0).await;
    let ep = target.endpoint(target.primary());
    let password = ep.password.as_ref().map(|p| p.expose_secret().to_owned());
    let opts = OptionFile::create(
        tmp.path(),
        &ClientOptions {
            user: Some(&ep.user),
            password: password.as_deref(),
            host: Some(&ep.host),
            port: Some(ep.port),
            socket: None,
            ssl: &[],
        },
    )
    .unwrap();
    // myloader 0.10 reads credentials through --defaults-file; the dump carries `mysql` too.
    let loaded = Program::find("myloader", "mydumper")
        .unwrap()
        .command()
        .arg(opts.defaults_file_arg())
        .args([
            &format!("--directory={}", dir.display()),
            "--overwrite-tables",
            "--threads=2",
        ])
        .run()
        .await;
    assert!(loaded.is_ok(), "myloader failed: {loaded:?}");
    // myloader does not FLUSH PRIVILEGES: the target's own login still works.
    let expected = inventory(&source.endpoint(source.primary())).await;
    assert_eq!(inventory(&ep).await, expected);
}
