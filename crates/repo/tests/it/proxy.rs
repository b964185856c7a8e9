//! A TCP proxy in front of the test's S3 server that misbehaves like a struggling service: some
//! connections are answered `503 Slow Down` on their first request and closed, and every answer
//! it forwards comes late.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running proxy; stops accepting when dropped.
pub struct FaultyProxy {
    /// `http://127.0.0.1:PORT`, to use as the S3 endpoint.
    pub endpoint: String,
    /// How many requests were answered 503.
    pub injected: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl FaultyProxy {
    /// Forwards to `upstream` (`http://host:port`); the first connection and then every
    /// `every`-th is answered 503; forwarded answers wait `delay` before each piece.
    pub async fn start(upstream: &str, every: usize, delay: Duration) -> FaultyProxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let injected = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&injected);
        let accept = tokio::spawn(async move {
            let mut n = 0usize;
            while let Ok((client, _)) = listener.accept().await {
                let fail = n.is_multiple_of(every.max(1));
                n += 1;
                let upstream = upstream.clone();
                let count = Arc::clone(&count);
                tokio::spawn(async move {
                    if fail {
                        refuse(client).await;
                        count.fetch_add(1, Ordering::SeqCst);
                    } else if let Ok(server) = TcpStream::connect(&upstream).await {
                        forward(client, server, delay).await;
                    }
                });
            }
        });
        FaultyProxy {
            endpoint,
            injected,
            accept,
        }
    }
}

/// Reads the request's head and answers 503 with S3's SlowDown, then closes.
async fn refuse(mut client: TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>\
                <Message>Please reduce your request rate.</Message></Error>";
    let answer = format!(
        "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(answer.as_bytes()).await;
    let _ = client.shutdown().await;
}

/// Copies both ways until either side closes, the server's side late.
async fn forward(client: TcpStream, server: TcpStream, delay: Duration) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match server_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        tokio::time::sleep(delay).await;
        if client_write.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = client_write.shutdown().await;
    up.abort();
}
