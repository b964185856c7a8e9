use std::path::{Path, PathBuf};

use super::locate::{resolve, writes_to_file};
use super::rotation::{leftovers, order_leftovers, rotated_id, rotated_name, Rotated};
use super::*;

#[test]
fn a_relative_log_path_is_relative_to_the_datadir() {
    let datadir = Path::new("/var/lib/mysql/");
    assert_eq!(
        resolve(datadir, "/var/log/mysql/error.log"),
        Path::new("/var/log/mysql/error.log")
    );
    assert_eq!(
        resolve(datadir, "db1-slow.log"),
        Path::new("/var/lib/mysql/db1-slow.log")
    );
    assert_eq!(
        resolve(datadir, "./db1.err"),
        Path::new("/var/lib/mysql/db1.err")
    );
    assert_eq!(
        resolve(datadir, "logs/x.log\n"),
        Path::new("/var/lib/mysql/logs/x.log")
    );
    assert_eq!(
        resolve(datadir, "../log/x.log"),
        Path::new("/var/lib/mysql/../log/x.log")
    );
}

#[test]
fn log_output_must_include_file() {
    assert!(writes_to_file("FILE"));
    assert!(writes_to_file("TABLE,FILE"));
    assert!(writes_to_file("file"));
    assert!(!writes_to_file("TABLE"));
    assert!(!writes_to_file("NONE"));
    assert!(!writes_to_file(""));
}

#[test]
fn rotated_names_carry_the_job_id() {
    let live = Path::new("/var/log/mysql/slow.log");
    assert_eq!(
        rotated_name(live, 42, 0),
        Path::new("/var/log/mysql/slow.log.ferryman-42")
    );
    assert_eq!(
        rotated_name(live, 42, 2),
        Path::new("/var/log/mysql/slow.log.ferryman-42.2")
    );
    assert_eq!(
        rotated_id("slow.log", "slow.log.ferryman-42"),
        Some((42, 0))
    );
    assert_eq!(
        rotated_id("slow.log", "slow.log.ferryman-42.2"),
        Some((42, 2))
    );
    for other in [
        "slow.log",
        "slow.log.ferryman-",
        "slow.log.ferryman-x",
        "slow.log.ferryman-+4",
        "slow.log.ferryman-4.",
        "slow.log.ferryman-4.tmp",
        "slow.log.ferryman-4.1.1",
        "slow.log.1",
        "other.log.ferryman-4",
        "xslow.log.ferryman-4",
        "slow.log.ferryman-99999999999999999999999",
    ] {
        assert_eq!(rotated_id("slow.log", other), None, "{other}");
    }
}

#[test]
fn leftovers_come_oldest_job_first_by_number_not_by_text() {
    let names = [
        "err.log",
        "err.log.ferryman-100",
        "err.log.ferryman-9",
        "err.log.ferryman-9.1",
        "slow.log.ferryman-1",
        "err.log.1",
        "err.log.ferryman-10",
        "err.log.ferryman-junk",
    ];
    assert_eq!(
        order_leftovers("err.log", names),
        [
            ("err.log.ferryman-9", 9),
            ("err.log.ferryman-9.1", 9),
            ("err.log.ferryman-10", 10),
            ("err.log.ferryman-100", 100),
        ]
    );
    assert!(order_leftovers("none.log", names).is_empty());
}

#[tokio::test]
async fn leftovers_are_found_next_to_the_live_file() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("slow.log");
    for name in [
        "slow.log",
        "slow.log.ferryman-12",
        "slow.log.ferryman-3",
        "x",
    ] {
        std::fs::write(dir.path().join(name), name).unwrap();
    }
    let found = leftovers(&live).await.unwrap();
    assert_eq!(
        found,
        [
            Rotated {
                path: dir.path().join("slow.log.ferryman-3"),
                job_id: 3
            },
            Rotated {
                path: dir.path().join("slow.log.ferryman-12"),
                job_id: 12
            },
        ]
    );
    assert!(leftovers(&dir.path().join("gone/slow.log"))
        .await
        .unwrap()
        .is_empty());
}

/// With a real server: writers keep the slow log busy while log jobs run back to back,
/// one of them cancelled mid-send; every line reaches a receiver or the live file
/// exactly once. Then the error log, and a FLUSH refused for lack of RELOAD.
mod with_a_server {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use ferryman_config::ServerConfig;
    use ferryman_db::mysql_async::prelude::Queryable;
    use ferryman_db::{Endpoint, Session};
    use ferryman_jobs::{Job, JobId};
    use ferryman_proto::Task;
    use ferryman_sandbox::testing::TestSandbox;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::progress::Progress;

    fn job(id: u64, task: Task, port: u16) -> Job {
        Job {
            id: JobId(id),
            task: Some(task.to_string()),
            port: Some(i32::from(port)),
            server: Some("127.0.0.1".into()),
            result: Some("processing".into()),
            ..Job::default()
        }
    }

    async fn run_job(
        server: &ServerConfig,
        endpoint: &Endpoint,
        id: u64,
        kind: LogKind,
        port: u16,
        cancel: &CancellationToken,
    ) -> Result<String> {
        let scratch = tempfile::tempdir().unwrap();
        let task = match kind {
            LogKind::Error => Task::Error,
            LogKind::Slow => Task::Slowquery,
        };
        let job = job(id, task, port);
        let progress = Progress::new();
        let destinations = crate::Destinations::new(vec![("127.0.0.1".to_owned(), port)]);
        let ctx = TaskCtx {
            job: &job,
            task,
            server,
            endpoint,
            scratch: scratch.path(),
            tool_logs: scratch.path(),
            swaps: scratch.path(),
            work_dir: scratch.path(),
            destinations: &destinations,
            tls: None,
            progress: &progress,
            cancel,
            connect_timeout: Duration::from_secs(5),
            jobs_schema: &ferryman_jobs::Schema::default(),
            joiner: &crate::tasks::JoinerSettings::for_tests(),
        };
        run(&ctx, kind).await
    }

    /// A listener taking one stream whole.
    async fn receiver() -> (u16, JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut all = Vec::new();
            let _ = sock.read_to_end(&mut all).await;
            all
        });
        (port, got)
    }

    /// `<mk-W-N>` markers in `text`, counted.
    fn count_markers(text: &[u8], counts: &mut HashMap<String, usize>) {
        let text = String::from_utf8_lossy(text);
        for (at, _) in text.match_indices("<mk-") {
            if let Some(len) = text[at..].find('>') {
                *counts.entry(text[at..=at + len].to_owned()).or_default() += 1;
            }
        }
    }

    fn rotated_files(live: &Path) -> Vec<String> {
        let dir = live.parent().unwrap();
        let prefix = format!("{}.ferryman-", live.file_name().unwrap().to_str().unwrap());
        let mut found: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(&prefix))
            .collect();
        found.sort();
        found
    }

    async fn variable(endpoint: &Endpoint, query: &str) -> String {
        let mut c = endpoint.connect(Session::Plain).await.unwrap();
        let v: Option<String> = c.query_first(query).await.unwrap();
        c.disconnect().await.unwrap();
        v.unwrap_or_default()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_line_is_lost_or_sent_twice() {
        let sb = TestSandbox::start(0).await;
        let config = sb.config();
        let server = config.clusters[0].servers[0].clone();
        let endpoint = sb.endpoint(sb.primary());
        let never = CancellationToken::new();
        let slow = PathBuf::from(variable(&endpoint, "SELECT @@slow_query_log_file").await);
        let gtid_before = variable(&endpoint, "SELECT @@gtid_binlog_pos").await;

        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<JoinHandle<u64>> = (0..4)
            .map(|w| {
                let (endpoint, stop) = (endpoint.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut c = endpoint.connect(Session::Plain).await.unwrap();
                    c.query_drop("SET SESSION long_query_time = 0")
                        .await
                        .unwrap();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        c.query_drop(format!("SELECT '<mk-{w}-{n}>'"))
                            .await
                            .unwrap();
                        n += 1;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    // The server reads a session's next command only once the previous one
                    // is done, slow-log line included.
                    c.query_drop("DO 0").await.unwrap();
                    c.disconnect().await.unwrap();
                    n
                })
            })
            .collect();
        let mut received = Vec::new();
        tokio::time::sleep(Duration::from_millis(300)).await;

        for id in [101, 102] {
            let (port, got) = receiver().await;
            let result = run_job(&server, &endpoint, id, LogKind::Slow, port, &never)
                .await
                .unwrap();
            assert!(result.starts_with("slow-query log: 1 file, "), "{result}");
            assert!(
                result.ends_with(&format!(
                    "rotated ({} reopened by FLUSH SLOW LOGS)",
                    slow.display()
                )),
                "{result}"
            );
            received.push(got.await.unwrap());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // A leftover too big for the socket buffers and a receiver that never reads: the
        // job is cancelled mid-send, and keeps both files.
        let filler = b"# leftover of job 50\n".repeat(48 * 1024 * 1024 / 21);
        std::fs::write(rotated_name(&slow, 50, 0), &filler).unwrap();
        let stuck = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = stuck.local_addr().unwrap().port();
        let holder = tokio::spawn(async move {
            let (sock, _) = stuck.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(sock);
        });
        let cancel = CancellationToken::new();
        let canceller = {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                cancel.cancel();
            })
        };
        let err = run_job(&server, &endpoint, 103, LogKind::Slow, port, &cancel)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("cancelled after sending"), "{err}");
        canceller.await.unwrap();
        holder.abort();
        let live_name = slow.file_name().unwrap().to_str().unwrap();
        assert_eq!(
            rotated_files(&slow),
            [
                format!("{live_name}.ferryman-103"),
                format!("{live_name}.ferryman-50")
            ]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;

        let (port, got) = receiver().await;
        let result = run_job(&server, &endpoint, 104, LogKind::Slow, port, &never)
            .await
            .unwrap();
        assert!(
            result.starts_with("slow-query log: 3 files (2 left by earlier jobs: 50, 103), "),
            "{result}"
        );
        let d = got.await.unwrap();
        assert!(d.starts_with(&filler), "the oldest leftover comes first");
        received.push(d);
        assert!(
            rotated_files(&slow).is_empty(),
            "{:?}",
            rotated_files(&slow)
        );

        stop.store(true, Ordering::Relaxed);
        let mut issued = 0;
        let mut expected = Vec::new();
        for (w, writer) in writers.into_iter().enumerate() {
            let n = writer.await.unwrap();
            issued += n;
            expected.extend((0..n).map(|i| format!("<mk-{w}-{i}>")));
        }
        let mut counts = HashMap::new();
        let per_stream: Vec<usize> = received
            .iter()
            .map(|r| {
                let before: usize = counts.values().sum();
                count_markers(r, &mut counts);
                counts.values().sum::<usize>() - before
            })
            .collect();
        count_markers(&std::fs::read(&slow).unwrap(), &mut counts);
        assert!(per_stream.iter().all(|n| *n > 0), "{per_stream:?}");
        assert!(issued > 1000, "only {issued} queries");
        for marker in &expected {
            assert_eq!(counts.get(marker), Some(&1), "{marker}");
        }
        assert_eq!(counts.len(), expected.len(), "markers nobody issued");
        assert_eq!(
            variable(&endpoint, "SELECT @@gtid_binlog_pos").await,
            gtid_before,
            "FLUSH must not be binary-logged"
        );

        // The error log, then a FLUSH the account may not run: the log is renamed back.
        let err_log = PathBuf::from(variable(&endpoint, "SELECT @@log_error").await);
        let (port, got) = receiver().await;
        let result = run_job(&server, &endpoint, 201, LogKind::Error, port, &never)
            .await
            .unwrap();
        assert!(result.starts_with("error log: 1 file, "), "{result}");
        assert!(result.contains("reopened by FLUSH ERROR LOGS"), "{result}");
        let sent = String::from_utf8(got.await.unwrap()).unwrap();
        assert!(sent.contains("ready for connections"), "{sent}");
        assert!(err_log.exists() && rotated_files(&err_log).is_empty());

        let mut admin = endpoint.connect(Session::NoBinlog).await.unwrap();
        admin
            .query_drop("CREATE USER 'noreload'@'127.0.0.1'")
            .await
            .unwrap();
        admin.disconnect().await.unwrap();
        let weak = Endpoint {
            user: "noreload".into(),
            password: None,
            ssl: Default::default(),
            ..endpoint.clone()
        };
        use std::os::unix::fs::MetadataExt;
        let inode = std::fs::metadata(&err_log).unwrap().ino();
        let (port, _got) = receiver().await;
        let err = run_job(&server, &weak, 202, LogKind::Error, port, &never)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "`noreload` may not run FLUSH ERROR LOGS, which needs the RELOAD privilege"
            ),
            "{err}"
        );
        assert!(err.contains("the log was renamed back"), "{err}");
        assert_eq!(std::fs::metadata(&err_log).unwrap().ino(), inode);
        assert!(rotated_files(&err_log).is_empty());
    }
}
