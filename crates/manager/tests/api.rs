//! The HTTP API on a manager started on a real sandbox: the token guards every route but the
//! health check, the answers are JSON, errors say what to do, and the OpenAPI document lists
//! every route.
#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: panics and stderr are the report

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferryman_config::Secret;
use ferryman_manager::api::{self, Method};
use ferryman_manager::{Manager, Services};
use ferryman_sandbox::testing::TestSandbox;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "test-token-0123456789";

/// The API of `services` on a free port; returns its base URL.
async fn serve(services: Arc<Services>, shutdown: &CancellationToken) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(api::serve(
        services,
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
        Method::Delete => http.delete(url),
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
    let base = serve(manager.services(), &shutdown).await;
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
    assert_eq!(doc["openapi"], "3.1.0");
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
    let (status, body) = get("/api/v1/jobs?task=backupeverything").await;
    expect(status, &body, StatusCode::BAD_REQUEST, "backupeverything");
    let (status, body) = get("/api/v1/jobs?task=mariabackup&limit=2").await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
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
    let flashback = "/api/v1/clusters/sandbox/flashback";
    let (status, body) = post(
        flashback,
        json!({"server": "db1", "backup": "sandbox/db1/20261121T025800Z-j1", "to_gtid": "0-1-5"}),
    )
    .await;
    expect(status, &body, StatusCode::BAD_REQUEST, "exactly one of");
    let (status, body) = post(flashback, json!({"server": "db1"})).await;
    expect(status, &body, StatusCode::BAD_REQUEST, "exactly one of");
    let (status, body) = post(
        flashback,
        json!({"server": "db1", "to_time": "yesterday at noon"}),
    )
    .await;
    expect(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "2026-12-04T14:02:59Z",
    );
    let (status, body) = post(flashback, json!({"server": "db1", "to_gtid": "0-1"})).await;
    expect(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "not a GTID position",
    );
    let (status, body) = post("/api/v1/clusters", json!({})).await;
    expect(
        status,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        "openapi.json",
    );

    // An error quotes at most 200 characters of the client's input, with its length (a 1.5 MB
    // id once came back whole).
    let clipped = |status: StatusCode, body: &Value, want: StatusCode, length: usize| {
        let message = body["error"].as_str().unwrap();
        assert!(message.len() < 600, "{} bytes: {message}", message.len());
        assert_eq!(status, want, "{message}");
        // The length with what the message quotes around the input (backticks, a colon).
        let counted: usize = message
            .split_once("… (")
            .and_then(|(_, rest)| rest.split_once(" characters)"))
            .and_then(|(n, _)| n.parse().ok())
            .unwrap_or_else(|| panic!("no length in {message}"));
        assert!((length..length + 10).contains(&counted), "{message}");
    };
    let long = "x".repeat(1_500_000);
    let (status, body) = post("/api/v1/verify", json!({ "backup": long })).await;
    clipped(status, &body, StatusCode::BAD_REQUEST, long.len());
    let (status, body) = post("/api/v1/clusters/sandbox/backups", json!({ "kind": long })).await;
    clipped(status, &body, StatusCode::BAD_REQUEST, long.len());
    let name = "y".repeat(20_000); // a URI holds at most 64 KiB
    let (status, body) = get(&format!("/api/v1/clusters/{name}/topology")).await;
    clipped(status, &body, StatusCode::NOT_FOUND, name.len());
    let (status, body) = get(&format!("/api/v1/{name}")).await;
    clipped(status, &body, StatusCode::NOT_FOUND, name.len());
    let (status, body) = get(&format!("/api/v1/jobs?state={name}")).await;
    clipped(status, &body, StatusCode::BAD_REQUEST, name.len());

    shutdown.cancel();
}

/// Lets this process open `n` more sockets (the flood's client ends live here too).
fn allow_files(n: u64) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let want = (soft + n).min(hard);
    assert!(
        want >= n + 256,
        "this test opens {n} sockets; the file limit is {hard}: raise it (ulimit -Hn)"
    );
    setrlimit(Resource::RLIMIT_NOFILE, want, hard).unwrap();
}

/// `GET /api/health` on a connection of its own: the status, or why there was none.
async fn health(base: &str) -> Result<StatusCode, String> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    match http.get(format!("{base}/api/health")).send().await {
        Ok(r) => Ok(r.status()),
        Err(e) => Err(e.to_string()),
    }
}

/// Retries [`health`] until it answers 200; returns how long that took.
async fn health_within(base: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let answer = health(base).await;
        if answer == Ok(StatusCode::OK) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "/api/health did not answer within {limit:?}; last: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads `s` until the server closes it; returns how long after `opened` that was.
async fn closed_after(mut s: TcpStream, opened: Instant) -> Duration {
    let mut buf = [0u8; 512];
    let read = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(30), read).await;
    opened.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_flood_is_bounded_and_timed_out() {
    const LIMIT: usize = 100;
    const FLOOD: usize = 2_000;
    // Long enough that opening the flood on a busy 2-core machine (1.07 s seen while another
    // build ran) stays under half of it: refusals and timeouts are told apart by time.
    const HEADER: Duration = Duration::from_secs(4);
    const IDLE: Duration = Duration::from_secs(6);
    allow_files(FLOOD as u64 + 512);
    let sandbox = TestSandbox::start(0).await;
    let mut config = sandbox.config();
    config.manager.http_max_connections = LIMIT as u32;
    config.manager.http_header_read_timeout = HEADER;
    config.manager.http_idle_timeout = IDLE;
    let manager = Manager::start(config).await.unwrap();
    let shutdown = CancellationToken::new();
    let base = serve(manager.services(), &shutdown).await;
    let address = base.trim_start_matches("http://").to_owned();
    health_within(&base, Duration::from_secs(1)).await;

    // The flood: connections that send half a request line and nothing more.
    let flood_started = Instant::now();
    let mut readers = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        let mut s = TcpStream::connect(&address).await.unwrap();
        let opened = Instant::now();
        // The server may have closed a refused connection already.
        let _ = s.write_all(b"GET / HTTP/1.1\r\n").await;
        readers.push(tokio::spawn(closed_after(s, opened)));
    }
    let flooded_in = flood_started.elapsed();
    assert!(
        flooded_in < HEADER / 2,
        "opening the flood took {flooded_in:?}: too slow to tell refusals from timeouts"
    );

    // During the flood the API answers as soon as the silent connections are timed out.
    let waited = health_within(&base, HEADER + Duration::from_secs(2)).await;
    eprintln!("health answered {waited:?} into the flood (opened in {flooded_in:?})");

    let mut refused = 0;
    let mut timed_out = 0;
    for reader in readers {
        let after = reader.await.unwrap();
        if after < HEADER / 2 {
            refused += 1;
        } else {
            assert!(
                after >= HEADER - Duration::from_millis(100)
                    && after < HEADER + Duration::from_secs(2),
                "a silent connection was closed after {after:?}, not after the header timeout \
                 of {HEADER:?}"
            );
            timed_out += 1;
        }
    }
    // Every connection beyond the limit was closed at once; the ones served waited for
    // their headers for the header timeout.
    assert_eq!((refused, timed_out), (FLOOD - LIMIT, LIMIT));

    // After the flood: the API answers, with the token too.
    health_within(&base, Duration::from_secs(1)).await;
    let (status, body) = call(
        &reqwest::Client::new(),
        Method::Get,
        &format!("{base}/api/v1/clusters"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A keep-alive connection silent after its response is closed after the idle timeout, not
    // the header timeout; so is a request whose body never comes.
    let mut s = TcpStream::connect(&address).await.unwrap();
    s.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);
    let after = closed_after(s, Instant::now()).await;
    assert!(
        after >= IDLE - Duration::from_millis(100) && after < IDLE + Duration::from_secs(2),
        "an idle keep-alive connection was closed after {after:?}, not after {IDLE:?}"
    );
    let mut s = TcpStream::connect(&address).await.unwrap();
    s.write_all(
        format!(
            "POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let after = closed_after(s, Instant::now()).await;
    assert!(
        after >= IDLE - Duration::from_millis(100) && after < IDLE + Duration::from_secs(2),
        "a stalled request body was cut after {after:?}, not after {IDLE:?}"
    );

    // Shutdown stops the server although a connection is open and silent.
    let _idle = TcpStream::connect(&address).await.unwrap();
    shutdown.cancel();
    let stopped = Instant::now();
    loop {
        if TcpStream::connect(&address).await.is_err() {
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(2),
            "still listening"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
