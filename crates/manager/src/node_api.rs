//! The manager's side of the agents' HTTP API (`agent-api-port`): requests passed on to a
//! server's agent with the manager's API token, over HTTPS with the manager's certificate
//! when it has one (the agent's certificate must name the server's `host` and be issued by
//! `manager.tls-ca-file`). Used by `api/handlers/node.rs`.

use std::time::Duration;

use axum::http::StatusCode;
use ferryman_config::{Config, Secret, ServerConfig};
use ferryman_http::ApiError;
use ferryman_proto::node_api::{KnownReplica, NODE_PREFIX};

/// How long a connection to an agent may take.
const CONNECT: Duration = Duration::from_secs(5);
/// How long an agent's answer may take: its service actions answer within 20 s, a followed
/// log within 25 s.
const ANSWER: Duration = Duration::from_secs(35);

/// A client of the agents' APIs.
#[derive(Debug, Clone)]
pub struct NodeApiClient {
    /// The HTTP client, or why it could not be built (a certificate that cannot be read):
    /// every request then answers that.
    http: Result<reqwest::Client, String>,
    https: bool,
    token: Secret,
}

impl NodeApiClient {
    /// The client of a manager configured by `config`, sending `token`.
    pub fn new(config: &Config, token: Secret) -> NodeApiClient {
        let tls = match (&config.manager.tls, &config.manager.tls_ca_file) {
            (Some(id), Some(ca)) => Some((id, ca)),
            _ => None,
        };
        let http = match tls {
            None => reqwest::Client::builder()
                .connect_timeout(CONNECT)
                .timeout(ANSWER)
                .build()
                .map_err(|e| e.to_string()),
            Some((id, ca)) => ferryman_tls::client_config(ca, Some((&id.cert_file, &id.key_file)))
                .map_err(|e| e.to_string())
                .and_then(|mut tls| {
                    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
                    reqwest::Client::builder()
                        .use_preconfigured_tls(tls)
                        .connect_timeout(CONNECT)
                        .timeout(ANSWER)
                        .build()
                        .map_err(|e| e.to_string())
                }),
        };
        NodeApiClient {
            http,
            https: tls.is_some(),
            token,
        }
    }

    /// `method NODE_PREFIX/rest?query` on `server`'s agent. Errors are the API's: 409 when the
    /// server has no `agent-api-port`, 502 when its agent cannot be reached, 504 when it does
    /// not answer in time.
    pub async fn request(
        &self,
        server: &ServerConfig,
        method: reqwest::Method,
        rest: &str,
        query: Option<&str>,
    ) -> Result<reqwest::Response, ApiError> {
        let Some(port) = server.agent_api_port else {
            return Err(ApiError::conflict(format!(
                "`{}` has no `agent-api-port`: its agent serves no API; set the port in its table of ferryman.toml, `agent.api-token-file` on its host, and restart its agent",
                server.name
            )));
        };
        let http = self.http.as_ref().map_err(|e| {
            ApiError::internal(format!(
                "the manager cannot call agents over HTTPS: {e}; check `manager.tls-cert-file`, `tls-key-file` and `tls-ca-file`"
            ))
        })?;
        let scheme = if self.https { "https" } else { "http" };
        let host = ferryman_proto::address::join(&server.host, port);
        let mut url = format!("{scheme}://{host}{NODE_PREFIX}/{rest}");
        if let Some(q) = query.filter(|q| !q.is_empty()) {
            url.push('?');
            url.push_str(q);
        }
        let response = http
            .request(method, &url)
            .bearer_auth(self.token.expose_secret())
            .send()
            .await
            .map_err(|e| unreachable(server, &host, scheme, &e))?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!(
                    "the agent of `{}` at {host} refused the manager's API token: copy the manager's token into its `agent.api-token-file` and restart the agent",
                    server.name
                ),
            ));
        }
        Ok(response)
    }
}

fn unreachable(server: &ServerConfig, host: &str, scheme: &str, e: &reqwest::Error) -> ApiError {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(&format!(": {s}"));
        source = s.source();
    }
    if e.is_timeout() {
        return ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "the agent of `{}` at {host} did not answer within {} s ({detail}): check its log",
                server.name,
                ANSWER.as_secs()
            ),
        );
    }
    let tls_hint = if scheme == "https" {
        "; the manager calls agents over HTTPS since it has `manager.tls-cert-file`: the agent needs `agent.tls-cert-file` (naming the server's host) and `tls-ca-file`"
    } else {
        ""
    };
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        format!(
            "cannot reach the agent of `{}` at {scheme}://{host} ({detail}): is `ferryman agent --server {}` running there with `agent-api-port` {}{tls_hint}?",
            server.name,
            server.name,
            server.agent_api_port.unwrap_or_default()
        ),
    )
}

/// Fills each replica's `configured_as`: the cluster's server at its host and port; with the
/// host alone (a processlist entry), the servers at that host.
pub fn name_replicas(replicas: &mut [KnownReplica], servers: &[ServerConfig]) {
    for replica in replicas {
        let at_host: Vec<&ServerConfig> = servers
            .iter()
            .filter(|s| ferryman_proto::address::same_host(&s.host, &replica.host))
            .collect();
        replica.configured_as = match replica.port {
            Some(port) => at_host
                .iter()
                .find(|s| s.port == port)
                .map(|s| s.name.clone()),
            None if at_host.is_empty() => None,
            None => Some(
                at_host
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" or "),
            ),
        };
    }
}
