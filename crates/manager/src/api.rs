//! The HTTP API: JSON for the CLI, dashboards and scripts. Every route but `GET /api/health`
//! needs the bearer token; `GET /metrics` also takes the metrics token.
//!
//! # Layout
//! - `api.rs`: the router, [`serve`], the bearer-token check, the route table ([`routes`]).
//! - the accept loop, its connection limits and the token check are `ferryman-http`'s, shared
//!   with the node agent's API.
//! - `api/handlers.rs` + `api/handlers/`: one function per route, one file per resource
//!   (clusters, backups, reseed, jobs, verify, events), each with its `#[utoipa::path]`.
//! - `api/openapi.rs` + `api/openapi/`: the OpenAPI 3.1 document served at
//!   `/api/v1/openapi.json`, derived by utoipa from the handlers and their types;
//!   `schemas.rs` describes the JSON of types other modules own.
//! - `api/token.rs`: the token: configured, or generated at first start
//!   ([`load_or_create_token`]).
//! - `api/error.rs`: [`ApiError`] (an HTTP status with a JSON body) and [`Error`] (start-up).

mod error;
mod handlers;
mod openapi;
mod token;

use std::sync::Arc;

use axum::handler::Handler;
use axum::middleware;
use axum::routing::{on, MethodFilter};
use axum::Router;
use ferryman_config::{Config, Secret};
use ferryman_http::{digest, Bearer, Limits};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;

use crate::Services;

pub use error::{ApiError, Error};
pub use openapi::document as openapi_document;
pub use token::{load_or_create_token, read_token_file, token_path, TOKEN_FILE};

/// The prefix of every authenticated route.
pub const PREFIX: &str = "/api/v1";

/// replication-manager's reseed route, `{server}` being the server's name here.
pub const RM_RESEED: &str = "/api/clusters/{cluster}/servers/{server}/actions/reseed/{method}";

/// replication-manager's newer form, naming the server by host and port.
pub const RM_RESEED_HOST_PORT: &str =
    "/api/clusters/{cluster}/servers/{host}/{port}/actions/reseed/{method}";

/// The one route that needs no token, for load balancers and `ferryman` waiting for start-up.
pub const HEALTH: &str = "/api/health";

/// Prometheus' scrape path: the API token or the metrics token (`manager.metrics-token-file`),
/// which reads this and nothing else.
pub const METRICS: &str = "/metrics";

/// An HTTP method the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`: reads.
    Get,
    /// `POST`: starts or cancels something.
    Post,
    /// `DELETE`: removes something stored.
    Delete,
}

impl Method {
    /// The lowercase name, as OpenAPI's path items key operations.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Delete => "delete",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Delete => MethodFilter::DELETE,
        }
    }
}

/// One route of the API: method and path template (`{name}` parameters, the same syntax in
/// axum and OpenAPI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The method.
    pub method: Method,
    /// The path template.
    pub path: &'static str,
}

/// The router and the list of its routes, built together so that the list (and with it the
/// OpenAPI test) cannot drift from what is served.
struct Table {
    router: Router<Arc<Services>>,
    routes: Vec<Route>,
}

impl Table {
    fn new() -> Table {
        Table {
            router: Router::new(),
            routes: Vec::new(),
        }
    }

    fn add<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Table
    where
        H: Handler<T, Arc<Services>>,
        T: 'static,
    {
        self.router = self.router.route(path, on(method.filter(), handler));
        self.routes.push(Route { method, path });
        self
    }
}

/// The authenticated routes.
fn table() -> Table {
    use handlers as h;
    use Method::{Delete, Get, Post};
    Table::new()
        .add(Get, "/api/v1/openapi.json", h::openapi)
        .add(Get, "/api/v1/status", h::status)
        .add(Get, "/api/v1/clusters", h::clusters)
        .add(Get, "/api/v1/clusters/{cluster}/topology", h::topology)
        .add(Post, "/api/v1/clusters/{cluster}/backups", h::start_backup)
        .add(
            Post,
            "/api/v1/clusters/{cluster}/servers/{server}/tasks",
            h::start_task,
        )
        .add(
            Get,
            "/api/v1/clusters/{cluster}/servers/{server}/node/mysqld",
            h::node_mysqld,
        )
        .add(
            Post,
            "/api/v1/clusters/{cluster}/servers/{server}/node/mysqld/{action}",
            h::node_action,
        )
        .add(
            Get,
            "/api/v1/clusters/{cluster}/servers/{server}/node/detect",
            h::node_detect,
        )
        .add(
            Get,
            "/api/v1/clusters/{cluster}/servers/{server}/node/disk",
            h::node_disk,
        )
        .add(
            Get,
            "/api/v1/clusters/{cluster}/servers/{server}/node/error-log",
            h::node_error_log,
        )
        .add(
            Get,
            "/api/v1/clusters/{cluster}/servers/{server}/node/replicas",
            h::node_replicas,
        )
        .add(
            Get,
            "/api/v1/clusters/{cluster}/servers/{server}/node/snapshots",
            h::node_snapshots,
        )
        .add(
            Post,
            "/api/v1/clusters/{cluster}/servers/{server}/node/snapshots",
            h::node_take_snapshot,
        )
        .add(
            Post,
            "/api/v1/clusters/{cluster}/servers/{server}/node/snapshots/{name}/mount",
            h::node_mount_snapshot,
        )
        .add(
            Post,
            "/api/v1/clusters/{cluster}/servers/{server}/node/snapshots/{name}/unmount",
            h::node_unmount_snapshot,
        )
        .add(
            Delete,
            "/api/v1/clusters/{cluster}/servers/{server}/node/snapshots/{name}",
            h::node_remove_snapshot,
        )
        .add(Post, "/api/v1/clusters/{cluster}/prune", h::prune)
        .add(Post, "/api/v1/clusters/{cluster}/reseed", h::reseed)
        .add(Post, "/api/v1/clusters/{cluster}/flashback", h::flashback)
        // replication-manager's paths, kept for its users' scripts (it takes GET and POST).
        .add(Post, RM_RESEED, h::rm_reseed)
        .add(Get, RM_RESEED, h::rm_reseed)
        .add(Post, RM_RESEED_HOST_PORT, h::rm_reseed_host_port)
        .add(Get, RM_RESEED_HOST_PORT, h::rm_reseed_host_port)
        .add(Get, "/api/v1/clusters/{cluster}/logs", h::logs)
        .add(
            Get,
            "/api/v1/clusters/{cluster}/logs/{server}/{name}",
            h::log,
        )
        .add(Get, "/api/v1/clusters/{cluster}/pitr", h::pitr)
        .add(Post, "/api/v1/clusters/{cluster}/pitr/prove", h::prove)
        .add(Get, "/api/v1/jobs", h::jobs)
        .add(Get, "/api/v1/jobs/{id}", h::job)
        .add(Post, "/api/v1/jobs/{id}/cancel", h::cancel_job)
        .add(Get, "/api/v1/backups", h::backups)
        .add(Get, "/api/v1/backups/{cluster}/{server}/{name}", h::backup)
        .add(
            Delete,
            "/api/v1/backups/{cluster}/{server}/{name}",
            h::delete_backup,
        )
        .add(Post, "/api/v1/verify", h::verify)
        .add(Get, "/api/v1/verify/runs", h::verify_runs)
        .add(Get, "/api/v1/verify/runs/{id}", h::verify_run)
        .add(Get, "/api/v1/events", h::events)
        .add(Get, "/api/v1/notifications/dead-letters", h::dead_letters)
}

/// Every route the router serves, [`HEALTH`] included.
pub fn routes() -> Vec<Route> {
    let mut routes = vec![
        Route {
            method: Method::Get,
            path: HEALTH,
        },
        Route {
            method: Method::Get,
            path: METRICS,
        },
    ];
    routes.extend(table().routes);
    routes
}

/// The API over `services`, every route but [`HEALTH`] behind `token`.
pub fn router(services: Arc<Services>, token: &Secret) -> Router {
    let digest = |t: &Secret| -> [u8; 32] { digest(t.expose_secret()) };
    let auth = Bearer::new(vec![digest(token)], token_hint(&services.config));
    let metrics_auth = Bearer::new(
        std::iter::once(digest(token))
            .chain(services.config.manager.metrics_token.as_ref().map(digest))
            .collect(),
        format!(
            "{}; or the metrics token of `manager.metrics-token-file`/`metrics-token-env`",
            auth.hint()
        ),
    );
    let metrics = Router::new()
        .route(METRICS, on(MethodFilter::GET, handlers::metrics))
        .layer(middleware::from_fn_with_state(
            metrics_auth,
            ferryman_http::require,
        ));
    let node = crate::node_api::NodeApiClient::new(&services.config, token.clone());
    let authenticated = table()
        .router
        .layer(axum::Extension(node))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        // `layer`, not `route_layer`: unknown paths need the token too, so that a client
        // without one learns nothing about which routes exist.
        .layer(middleware::from_fn_with_state(auth, ferryman_http::require));
    Router::new()
        .route(HEALTH, on(MethodFilter::GET, handlers::health))
        .merge(metrics)
        .merge(crate::dashboard::router(
            digest(token),
            services.config.manager.tls.is_some(),
        ))
        .merge(authenticated)
        .layer(TraceLayer::new_for_http())
        .with_state(services)
}

/// Serves the API on `listener` until `shutdown`, then lets requests in flight finish. At most
/// `manager.http-max-connections` connections are open at once (more are answered 503 and
/// closed at once); a connection that does not send its headers within
/// `manager.http-header-read-timeout`, or stays silent for `manager.http-idle-timeout`, is
/// closed.
/// HTTPS when the configuration has a certificate (see [`tls_acceptor`]).
pub async fn serve(
    services: Arc<Services>,
    listener: TcpListener,
    token: Secret,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let tls = tls_acceptor(&services.config)?;
    serve_with(services, listener, token, tls, shutdown).await
}

/// [`serve`] with the TLS acceptor the caller built (the daemon builds it before the manager
/// starts, so that a bad certificate stops it at once): `None` for plain HTTP.
pub async fn serve_with(
    services: Arc<Services>,
    listener: TcpListener,
    token: Secret,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let m = &services.config.manager;
    let limits = Limits::new(
        m.http_header_read_timeout,
        m.http_idle_timeout,
        m.http_max_connections as usize,
        "manager.http-max-connections",
    );
    let scheme = if tls.is_some() { "https" } else { "http" };
    let app = router(services, &token);
    match listener.local_addr() {
        Ok(address) => tracing::info!(%address, scheme, ?limits, "HTTP API listening"),
        Err(e) => tracing::info!(error = %e, scheme, ?limits, "HTTP API listening"),
    }
    ferryman_http::run(listener, app, limits, tls, shutdown).await;
    tracing::info!("HTTP API stopped");
    Ok(())
}

/// The API's TLS acceptor when `manager.tls-cert-file` is set (HTTPS only), `None` for plain
/// HTTP.
pub fn tls_acceptor(config: &Config) -> Result<Option<tokio_rustls::TlsAcceptor>, Error> {
    let Some(tls) = &config.manager.tls else {
        return Ok(None);
    };
    let mut server = ferryman_tls::server_config(&tls.cert_file, &tls.key_file, None)?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(server))))
}

/// Where a client gets the token, for the 401 message. Names files and keys, never the token.
fn token_hint(config: &Config) -> String {
    if config.manager.api_token.is_some() {
        "the token is the one `manager.api-token-file` or `manager.api-token-env` gives in the \
         manager's ferryman.toml; `ferryman` reads it from there, or from --token-file or \
         FERRYMAN_API_TOKEN"
            .to_owned()
    } else {
        format!(
            "the manager wrote the token to {} on its host; `ferryman` reads it from there (as \
             a user who may read that file), or from --token-file or FERRYMAN_API_TOKEN",
            token_path(config).display()
        )
    }
}

pub(crate) use ferryman_http::digest_matches;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_in_the_openapi_document_and_back() {
        let documented = openapi::documented();
        let served = routes();
        for route in &served {
            assert!(
                documented
                    .iter()
                    .any(|(method, path)| path == route.path && *method == route.method.as_str()),
                "{} {} is served but not documented",
                route.method.as_str(),
                route.path
            );
        }
        for (method, path) in &documented {
            assert!(
                served
                    .iter()
                    .any(|r| r.path == path && r.method.as_str() == *method),
                "{method} {path} is documented but not served"
            );
        }
    }
}
