//! One private server from install to stop, on the installed MariaDB: it starts on its own
//! defaults file, answers on its socket, is found through its pid file, shuts down cleanly,
//! and a dropped one is killed; `sweep` removes what a crashed owner left.

#![allow(clippy::unwrap_used)] // test code: a panic is the report

use std::time::Duration;

use ferryman_db::{Endpoint, Session};
use ferryman_exec::process;
use ferryman_mariadbd::defaults_file::{as_lines, private_options, write_file};
use ferryman_mariadbd::server::Stopped;
use ferryman_mariadbd::{install, running_pid, sweep, Binaries, Layout, Server};
use tokio_util::sync::CancellationToken;

const TIMEOUT: Duration = Duration::from_secs(120);

/// A new server directory with its defaults file and an installed datadir (short path: the
/// socket's is limited).
async fn installed(work: &std::path::Path, name: &str) -> (Binaries, Layout) {
    let bins = Binaries::find().unwrap();
    let layout = Layout::new(work.join(name));
    for dir in [layout.root().to_owned(), layout.datadir(), layout.tmpdir()] {
        std::fs::create_dir_all(dir).unwrap();
    }
    let user = if nix::unistd::geteuid().is_root() {
        "user=root\n"
    } else {
        ""
    };
    let text = format!(
        "[mysqld]\n{}{user}{}",
        layout.mysqld_paths(),
        as_lines(&private_options(32))
    );
    write_file(&layout.defaults_file(), text.as_bytes(), 0o600).unwrap();
    install(&bins, &layout, &[layout.defaults_file_arg()])
        .await
        .unwrap();
    (bins, layout)
}

fn root_at(layout: &Layout) -> Endpoint {
    Endpoint {
        name: "private".into(),
        host: "localhost".into(),
        port: 0,
        socket: Some(layout.socket()),
        user: "root".into(),
        password: None,
        ssl: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_starts_answers_and_shuts_down_cleanly() {
    let work = tempfile::Builder::new()
        .prefix("fm")
        .tempdir_in("/tmp")
        .unwrap();
    let (bins, layout) = installed(work.path(), "a").await;
    assert!(std::fs::read_to_string(layout.install_log()).is_ok());
    let never = CancellationToken::new();
    let args = [layout.defaults_file_arg()];
    let server = Server::start(&bins, &layout, &args, &root_at(&layout), TIMEOUT, &never)
        .await
        .unwrap();
    let pid = server.pid();
    assert_eq!(running_pid(&layout), Some(pid));
    let conn = root_at(&layout).connect(Session::Plain).await.unwrap();
    conn.disconnect().await.unwrap();
    assert_eq!(server.stop(TIMEOUT, &never).await.unwrap(), Stopped::Clean);
    assert!(!process::is_running(pid));
    assert_eq!(running_pid(&layout), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_server_is_killed_and_a_detached_one_swept() {
    let work = tempfile::Builder::new()
        .prefix("fm")
        .tempdir_in("/tmp")
        .unwrap();
    let (bins, layout) = installed(work.path(), "tw-b").await;
    let never = CancellationToken::new();
    let args = [layout.defaults_file_arg()];
    let probe = root_at(&layout);
    let server = Server::start(&bins, &layout, &args, &probe, TIMEOUT, &never)
        .await
        .unwrap();
    let pid = server.pid();
    drop(server);
    assert!(!process::is_running(pid), "a dropped server is killed");

    // An owner that crashed: the server runs on, found again through its pid file.
    let server = Server::start(&bins, &layout, &args, &probe, TIMEOUT, &never)
        .await
        .unwrap();
    let pid = server.detach();
    assert!(process::is_running(pid));
    let swept = sweep(work.path(), "tw-", Layout::new).unwrap();
    assert_eq!(swept, [layout.root().to_owned()]);
    assert!(!process::is_running(pid));
    assert!(!layout.root().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_cannot_start_says_why() {
    let work = tempfile::Builder::new()
        .prefix("fm")
        .tempdir_in("/tmp")
        .unwrap();
    let (bins, layout) = installed(work.path(), "c").await;
    let never = CancellationToken::new();
    let args = [layout.defaults_file_arg(), "--no-such-option-at-all".into()];
    let err = Server::start(&bins, &layout, &args, &root_at(&layout), TIMEOUT, &never)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, ferryman_mariadbd::Error::Exited { .. }),
        "{msg}"
    );
    assert!(msg.contains("exited while starting"), "{msg}");
    assert!(msg.contains("[ERROR]"), "{msg}");
}
