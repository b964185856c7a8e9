//! The dashboard in a real browser: headless Chromium driven through chromedriver (WebDriver).
//! Log in with the API token, see the sandbox cluster and its topology, start a backup with
//! its button, follow the job to its end, see the backup on the overview.

use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use ferryman_exec::{Command, Program};
use ferryman_sandbox::testing::TestSandbox;

use crate::common::*;

const TOKEN: &str = "dashboard-test-token";

/// chromedriver on a free port, stopped by PID when dropped.
struct Driver {
    pid: u32,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Driver {
    async fn start() -> Driver {
        let dir = tempfile::tempdir().unwrap();
        let port = ferryman_sandbox::free_port().unwrap();
        let program = Program::find("chromedriver", "chromium-driver").unwrap();
        let pid = Command::new(&program)
            .arg(format!("--port={port}"))
            .spawn_daemon(&dir.path().join("chromedriver.log"))
            .unwrap();
        let driver = Driver {
            pid,
            port,
            _dir: dir,
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not listen on {port}");
    }

    /// A headless Chromium session (the flags keep it off the network and out of the
    /// sandbox it cannot have as root).
    async fn browser(&self, profile: &std::path::Path) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }),
        );
        // chromedriver speaks plain HTTP on loopback: no TLS connector needed.
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = ferryman_exec::process::stop(self.pid, Duration::from_secs(5));
    }
}

/// The text of the element `css` once it satisfies `want` (the pages refresh themselves).
async fn wait_text(b: &Client, css: &str, limit: Duration, want: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        if let Ok(e) = b.find(Locator::Css(css)).await {
            if let Ok(text) = e.text().await {
                if want(&text) {
                    return text;
                }
            }
        }
        if started.elapsed() > limit {
            let source = b.source().await.unwrap_or_default();
            panic!("`{css}` not as wanted after {limit:?}; the page:\n{source}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn log_in_see_the_cluster_start_a_backup_and_see_it_end() {
    let sb = TestSandbox::start(1).await;
    sb.sql(
        "db1",
        "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY); INSERT INTO shop.t SELECT seq FROM mysql.seq_1_to_1000;",
    )
    .await;
    let config = config_with(&sb, "", "");
    let running = start(&config, &["db1", "db2"]).await;
    let services = running.services.clone();
    let (address, stop_api) = serve_api(&services, TOKEN).await;
    let base = format!("http://{address}");

    let driver = Driver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let b = driver.browser(profile.path()).await;

    // Not logged in: the login form; a wrong token is refused.
    b.goto(&format!("{base}/ui")).await.unwrap();
    assert!(b.current_url().await.unwrap().path().ends_with("/ui/login"));
    b.find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys("wrong")
        .await
        .unwrap();
    b.find(Locator::Css("#login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b, "p.error", Duration::from_secs(10), |t| {
        t.contains("not the API token")
    })
    .await;
    b.find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(TOKEN)
        .await
        .unwrap();
    b.find(Locator::Css("#login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The fleet: the sandbox cluster with its primary and replica.
    let section = wait_text(&b, "#cluster-sandbox", Duration::from_secs(20), |t| {
        t.contains("db2") && t.contains("replica")
    })
    .await;
    assert!(section.contains("Cluster sandbox"), "{section}");
    assert!(section.contains("primary"), "{section}");

    // The logical backup button: the job page follows it to its end.
    b.find(Locator::Css("#backup-logical-sandbox"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b, "#state", Duration::from_secs(120), |t| {
        t == "succeeded" || t == "failed"
    })
    .await;
    let page = b
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("succeeded"), "{page}");
    let stored = services.repos.list(Some("sandbox"), None).await.unwrap();
    assert_eq!(stored.len(), 1);

    // Back on the fleet: the backup is the newest logical one, with its age.
    b.goto(&format!("{base}/ui")).await.unwrap();
    let section = wait_text(&b, "#cluster-sandbox", Duration::from_secs(20), |t| {
        t.contains(&stored[0].id.to_string())
    })
    .await;
    assert!(section.contains("not verified"), "{section}");
    let png = b.screenshot().await.unwrap();
    let shot = std::env::temp_dir().join("ferryman-dashboard-overview.png");
    std::fs::write(&shot, png).unwrap();
    eprintln!("overview screenshot: {}", shot.display());

    // A form without the session's CSRF token is refused.
    let refused = reqwest::Client::new()
        .post(format!("{base}/ui/clusters/sandbox/backup"))
        .form(&[("kind", "logical"), ("csrf", "forged")])
        .send()
        .await
        .unwrap();
    // No session cookie: sent to the login form, nothing started.
    assert!(
        refused.url().path().ends_with("/ui/login"),
        "{}",
        refused.url()
    );
    assert_eq!(services.registry.list().len(), 1);

    b.close().await.unwrap();
    stop_api.cancel();
    running.stop().await;
}
