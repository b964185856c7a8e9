//! A real Prometheus scrapes the manager's `/metrics` with the metrics token and answers PromQL
//! about the sandbox's backups; the sample alerting rules load.

use std::path::Path;
use std::time::{Duration, Instant};

use ferryman_manager::JobState;
use ferryman_proto::Task;
use ferryman_sandbox::testing::{TestPrometheus, TestSandbox};

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_the_last_backup_time_with_the_metrics_token() {
    let sb = TestSandbox::start(1).await;
    let metrics_token = sb.path().join("metrics.token");
    std::fs::write(&metrics_token, "metrics-only-token\n").unwrap();
    std::fs::set_permissions(
        &metrics_token,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let config = config_with(
        &sb,
        "",
        &format!("metrics-token-file = \"{}\"\n", metrics_token.display()),
    );
    let running = start(&config, &["db1", "db2"]).await;
    let services = running.services.clone();
    let (address, stop_api) = serve_api(&services, "the-api-token").await;

    let job = run_job(&services, "db2", Task::Mysqldump, Duration::from_secs(120)).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    let manifest = services
        .repos
        .get(&job.backup_id.clone().unwrap().parse().unwrap())
        .await
        .unwrap();

    // The metrics token reads /metrics and nothing else.
    let http = reqwest::Client::new();
    let get = |path: &str| {
        http.get(format!("http://{address}{path}"))
            .bearer_auth("metrics-only-token")
            .send()
    };
    let r = get("/metrics").await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("# TYPE ferryman_backup_last_success_timestamp_seconds gauge"),
        "{text}"
    );
    assert_eq!(get("/api/v1/jobs").await.unwrap().status(), 401);

    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/prometheus-alerts.yml");
    let prometheus =
        TestPrometheus::start(&address.to_string(), "/metrics", &metrics_token, &[&rules]).await;
    let query =
        "ferryman_backup_last_success_timestamp_seconds{cluster=\"sandbox\",kind=\"logical\"}";
    let started = Instant::now();
    let result = loop {
        let result = prometheus.query(query).await;
        if result.as_array().is_some_and(|a| !a.is_empty()) {
            break result;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "Prometheus has no {query} after 60 s; its log:\n{}",
            prometheus.log_text()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(result[0]["metric"]["server"], "db2", "{result}");
    let value: f64 = result[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert_eq!(value as i64, manifest.ended_at.unix(), "{result}");
    let up = prometheus.query("up{job=\"ferryman\"}").await;
    assert_eq!(up[0]["value"][1], "1", "{up}");
    // The sample alerting rules are loaded, and none of them fires on a healthy sandbox.
    let groups = prometheus.rules().await;
    let names: Vec<&str> = groups[0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"FerrymanBackupTooOld"), "{groups}");
    let firing = prometheus.query("ALERTS{alertstate=\"firing\"}").await;
    assert_eq!(firing, serde_json::json!([]), "{firing}");

    stop_api.cancel();
    running.stop().await;
}
