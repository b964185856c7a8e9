//! [`TestPrometheus`]: a real Prometheus (Debian's package) scraping one target every second,
//! with rule files loaded; stopped (by PID) when dropped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferryman_exec::{Command, Program};

/// A running Prometheus for one test.
pub struct TestPrometheus {
    pid: u32,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestPrometheus {
    /// Starts Prometheus scraping `target` (`host:port`) at `path` with the bearer token in
    /// `token_file`, loading `rules`; panics with its log when it is not ready within 30 s.
    pub async fn start(
        target: &str,
        path: &str,
        token_file: &Path,
        rules: &[&Path],
    ) -> TestPrometheus {
        let dir = super::temp_dir("ferryman-prometheus-");
        let port = crate::free_port().unwrap_or_else(|e| panic!("{e}"));
        let rule_files: Vec<String> = rules
            .iter()
            .map(|r| format!("  - {}\n", r.display()))
            .collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n{}scrape_configs:\n  - job_name: ferryman\n    metrics_path: {path}\n    authorization:\n      credentials_file: {}\n    static_configs:\n      - targets: ['{target}']\n",
            rule_files.concat(),
            token_file.display()
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap_or_else(|e| panic!("{e}"));
        let prometheus =
            Program::find("prometheus", "prometheus").unwrap_or_else(|e| panic!("{e}"));
        let log = dir.path().join("prometheus.log");
        let pid = Command::new(&prometheus)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .spawn_daemon(&log)
            .unwrap_or_else(|e| panic!("prometheus: {e}"));
        let p = TestPrometheus {
            pid,
            port,
            log,
            _dir: dir,
        };
        let ready = format!("http://127.0.0.1:{port}/-/ready");
        for _ in 0..300 {
            if let Ok(r) = reqwest::get(&ready).await {
                if r.status().is_success() {
                    return p;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("prometheus not ready on {port}; its log:\n{}", p.log_text());
    }

    /// Runs the PromQL `query` through Prometheus' HTTP API; returns its `data.result`.
    pub async fn query(&self, query: &str) -> serde_json::Value {
        let url = format!("http://127.0.0.1:{}/api/v1/query", self.port);
        let response = reqwest::Client::new()
            .get(url)
            .query(&[("query", query)])
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let body: serde_json::Value = response.json().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body["status"], "success", "{body}");
        body["data"]["result"].clone()
    }

    /// The rule groups Prometheus loaded, as its HTTP API lists them.
    pub async fn rules(&self) -> serde_json::Value {
        let url = format!("http://127.0.0.1:{}/api/v1/rules", self.port);
        let body: serde_json::Value = reqwest::get(url)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        body["data"]["groups"].clone()
    }

    /// Its log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for TestPrometheus {
    fn drop(&mut self) {
        let _ = ferryman_exec::process::stop(self.pid, Duration::from_secs(5));
    }
}
