//! The legacy donors' ports: each cluster's `scheduler-db-servers-sender-ports` pool, and one
//! job's port, which takes one plain connection from the job's server (socat speaks no TLS).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferryman_tls::Conn;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Arrival;
use crate::{Error, Result};

/// The pool of legacy donor ports of one cluster.
#[derive(Debug, Clone)]
pub struct PortPool {
    free: Arc<Mutex<Vec<u16>>>,
    cluster: String,
}

impl PortPool {
    /// A pool of `ports` for `cluster`.
    pub fn new(cluster: &str, ports: &[u16]) -> PortPool {
        let mut free = ports.to_vec();
        free.reverse();
        PortPool {
            free: Arc::new(Mutex::new(free)),
            cluster: cluster.to_owned(),
        }
    }

    /// Binds a free port of the pool on `bind`, for one legacy job whose donor is `server`.
    pub async fn take(&self, bind: &str, server: Vec<IpAddr>) -> Result<LegacyPort> {
        let candidates: Vec<u16> = self.free.lock().map(|f| f.clone()).unwrap_or_default();
        if candidates.is_empty() {
            return Err(Error::NoLegacyPort {
                cluster: self.cluster.clone(),
            });
        }
        let mut last_error = None;
        for port in candidates.iter().rev() {
            // Taken out of the pool first so two jobs never race for one port.
            let taken = self
                .free
                .lock()
                .map(|mut f| {
                    let before = f.len();
                    f.retain(|p| p != port);
                    f.len() < before
                })
                .unwrap_or(false);
            if !taken {
                continue;
            }
            match TcpListener::bind((bind, *port)).await {
                Ok(listener) => {
                    return Ok(LegacyPort {
                        listener: Some(listener),
                        port: *port,
                        server,
                        pool: self.clone(),
                    })
                }
                Err(e) => {
                    self.give_back(*port);
                    last_error = Some(format!("{port}: {e}"));
                }
            }
        }
        Err(Error::LegacyPortBusy {
            cluster: self.cluster.clone(),
            detail: last_error.unwrap_or_else(|| "every port of the pool is in use".to_owned()),
        })
    }

    fn give_back(&self, port: u16) {
        if let Ok(mut f) = self.free.lock() {
            if !f.contains(&port) {
                f.push(port);
            }
        }
    }
}

/// One legacy job's port: accepts one connection from the donor's address.
#[derive(Debug)]
pub struct LegacyPort {
    listener: Option<TcpListener>,
    port: u16,
    server: Vec<IpAddr>,
    pool: PortPool,
}

impl LegacyPort {
    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits for the donor's connection; connections from other addresses are refused and
    /// logged. Returns `None` when `cancel` fires first.
    pub async fn accept(&mut self, cancel: &CancellationToken) -> Option<Arrival> {
        let listener = self.listener.as_ref()?;
        loop {
            let (stream, peer) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(port = self.port, error = %e, "legacy port: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = cancel.cancelled() => return None,
            };
            if !self.server.contains(&peer.ip()) {
                tracing::warn!(port = self.port, %peer, expected = ?self.server, "stream refused: not from the job's server");
                drop(stream);
                continue;
            }
            // One connection per job: stop listening at once.
            self.listener = None;
            return Some(Arrival {
                stream: Conn::Plain(stream),
                prefix: Vec::new(),
                peer,
                blocks: false,
            });
        }
    }
}

impl Drop for LegacyPort {
    fn drop(&mut self) {
        self.listener = None;
        self.pool.give_back(self.port);
    }
}
