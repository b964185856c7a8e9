//! The HTTP API on a manager started on a real sandbox: the token guards every route but the
//! health check, the answers are JSON, errors say what to do, and the OpenAPI document lists
//! every route.
#![allow(clippy::unwrap_used)] // test code: a panic is the report

use std::sync::Arc;

use ferryman_config::Secret;
use ferryman_manager::api::{self, Method};
use ferryman_manager::{Manager, Shared};
use ferryman_sandbox::testing::TestSandbox;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "test-token-0123456789";

/// The API of `shared` on a free port; returns its base URL.
async fn serve(shared: Arc<Shared>, shutdown: &CancellationToken) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(api::serve(
        shared,
        listener,
        Secret::new(TOKEN.to_owned()),
        shutdown.clone(),
    ));
    base
}

/// A concrete URL path for a route template.
fn concrete(path: &str) -> String {
    path.replace("{cluster}", "sandbox")
        .replace("{server}", "db1")
        .replace("{name}", "20261121T025800Z-j1")
        .replace("{id}", "1")
}

async fn call(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = match method {
        Method::Get => http.get(url),
        Method::Post => http.post(url).json(&json!({ "kind": "physical" })),
    };
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn api_on_a_sandbox() {
    let sandbox = TestSandbox::start(0).await;
    let config = sandbox.config();
    let cluster = config.clusters[0].name.clone();
    assert_eq!(cluster, "sandbox", "the test's concrete paths assume it");
    let manager = Manager::start(config).await.unwrap();
    let shutdown = CancellationToken::new();
    let base = serve(manager.shared(), &shutdown).await;
    let http = reqwest::Client::new();

    // Health needs no token.
    let (status, body) = call(&http, Method::Get, &format!("{base}/api/health"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");

    // Every other route refuses a missing or wrong token, saying where the token is.
    for route in api::routes() {
        if route.path == api::HEALTH {
            continue;
        }
        let url = format!("{base}{}", concrete(route.path));
        for token in [None, Some("wrong")] {
            let (status, body) = call(&http, route.method, &url, token).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{url} with {token:?}");
            let message = body["error"].as_str().unwrap();
            assert!(message.contains("api.token"), "{message}");
        }
    }
    // Unknown paths too: without the token nothing tells which routes exist.
    let (status, _) = call(&http, Method::Get, &format!("{base}/api/v1/nope"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // With the token.
    let get = |path: &str| {
        let url = format!("{base}{path}");
        let http = http.clone();
        async move { call(&http, Method::Get, &url, Some(TOKEN)).await }
    };
    let (status, body) = get("/api/v1/clusters").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["name"], "sandbox");
    assert_eq!(body[0]["servers"][0]["name"], "db1");
    assert_eq!(body[0]["backup_physical_type"], "mariabackup");

    let (status, body) = get("/api/v1/jobs").await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
    let (status, body) = get("/api/v1/jobs?cluster=sandbox&state=failed").await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
    let (status, body) = get("/api/v1/backups").await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
    let (status, body) = get("/api/v1/backups?cluster=sandbox&server=db1").await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
    let (status, body) = get("/api/v1/clusters/sandbox/logs").await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));

    let (status, body) = get("/api/v1/clusters/sandbox/topology").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["cluster"], "sandbox");
    assert_eq!(body["servers"][0]["name"], "db1");

    // The document lists every route the router serves.
    let (status, doc) = get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.0.3");
    for route in api::routes() {
        assert!(
            doc["paths"][route.path][route.method.as_str()].is_object(),
            "{} {} missing from openapi.json",
            route.method.as_str(),
            route.path
        );
    }

    // Errors: status and a message with the next step.
    let expect = |status: StatusCode, body: &Value, want: StatusCode, needle: &str| {
        assert_eq!(status, want, "{body}");
        let message = body["error"].as_str().unwrap();
        assert!(message.contains(needle), "{message}");
    };
    let (status, body) = get("/api/v1/clusters/nope/topology").await;
    expect(status, &body, StatusCode::NOT_FOUND, "known: sandbox");
    let (status, body) = get("/api/v1/clusters/nope/logs").await;
    expect(status, &body, StatusCode::NOT_FOUND, "known: sandbox");
    let (status, body) = get("/api/v1/jobs?cluster=nope").await;
    expect(status, &body, StatusCode::NOT_FOUND, "known: sandbox");
    let (status, body) = get("/api/v1/jobs?state=sleeping").await;
    expect(status, &body, StatusCode::BAD_REQUEST, "succeeded");
    let (status, body) = get("/api/v1/jobs?colour=red").await;
    expect(status, &body, StatusCode::BAD_REQUEST, "openapi.json");
    let (status, body) = get("/api/v1/jobs/42").await;
    expect(status, &body, StatusCode::NOT_FOUND, "no job 42");
    let (status, body) = get("/api/v1/jobs/x").await;
    expect(status, &body, StatusCode::BAD_REQUEST, "openapi.json");
    let (status, body) = get("/api/v1/backups/sandbox/db1/20261121T025800Z-j1").await;
    expect(status, &body, StatusCode::NOT_FOUND, "not found");
    let (status, body) = get("/api/v1/backups/sandbox/db1/not-an-id").await;
    expect(status, &body, StatusCode::BAD_REQUEST, "backup id");
    let (status, body) = get("/api/v1/nope").await;
    expect(status, &body, StatusCode::NOT_FOUND, "openapi.json");

    let post = |path: &str, body: Value| {
        let url = format!("{base}{path}");
        let http = http.clone();
        async move {
            let response = http
                .post(url)
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = post("/api/v1/jobs/42/cancel", json!({})).await;
    expect(status, &body, StatusCode::NOT_FOUND, "no job 42");
    let (status, body) = post("/api/v1/clusters/nope/backups", json!({"kind": "physical"})).await;
    expect(status, &body, StatusCode::NOT_FOUND, "known: sandbox");
    let (status, body) = post("/api/v1/clusters/sandbox/backups", json!({"kind": "fast"})).await;
    expect(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "\"kind\": \"physical\"",
    );
    let (status, body) = post(
        "/api/v1/clusters/sandbox/backups",
        json!({"kind": "logical", "server": "db9"}),
    )
    .await;
    expect(status, &body, StatusCode::NOT_FOUND, "known: db1");
    let (status, body) = post("/api/v1/clusters", json!({})).await;
    expect(
        status,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        "openapi.json",
    );

    shutdown.cancel();
}
