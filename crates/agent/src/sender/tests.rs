use super::*;
use ferryman_jobs::{JobId, Token};
use ferryman_proto::blocks::{BlockHeader, BlockKind, CompressionSite, BLOCK, BLOCK_HEADER_LEN};
use ferryman_proto::{read_start, StreamStart};
use tokio::net::TcpListener;

fn job(server: Option<&str>, port: Option<i32>, token: Option<Token>) -> Job {
    Job {
        id: JobId(7),
        task: Some("mariabackup".into()),
        port,
        server: server.map(str::to_owned),
        token,
        ..Job::default()
    }
}

#[test]
fn a_job_without_receiver_is_refused_with_its_columns() {
    for (server, port) in [
        (None, Some(4000)),
        (Some(""), Some(4000)),
        (Some("h"), None),
        (Some("h"), Some(0)),
        (Some("h"), Some(70000)),
    ] {
        let err = Receiver::of_job(
            &job(server, port, None),
            Task::Mariabackup,
            StreamKind::Backup,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("job 7 (mariabackup) names no receiver"),
            "{err}"
        );
    }
    let r = Receiver::of_job(
        &job(Some("::1"), Some(5), None),
        Task::Error,
        StreamKind::Log,
    )
    .unwrap();
    assert_eq!(r.address(), "[::1]:5");
}

#[test]
fn a_garbage_token_is_refused() {
    let err = Receiver::of_job(
        &job(Some("h"), Some(1), Some(Token::new("nope"))),
        Task::Mariabackup,
        StreamKind::Backup,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("not a Ferryman stream token"), "{err}");
}

#[tokio::test]
async fn raw_and_authenticated_streams_arrive_whole() {
    let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let token = Token::generate().unwrap();
    for with_token in [false, true] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accept = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let start = read_start(&mut sock).await.unwrap();
            let mut rest = Vec::new();
            sock.read_to_end(&mut rest).await.unwrap();
            (start, rest)
        });
        let j = job(
            Some("127.0.0.1"),
            Some(i32::from(port)),
            with_token.then(|| token.clone()),
        );
        let receiver = Receiver::of_job(&j, Task::Mariabackup, StreamKind::Backup).unwrap();
        assert_eq!(receiver.authenticated(), with_token);
        let progress = Progress::new();
        let cancel = CancellationToken::new();
        let mut stream = receiver
            .connect(Duration::from_secs(5), &cancel, &progress)
            .await
            .unwrap();
        let mut src = &payload[..];
        stream
            .send(&mut src, "test data", &progress, &cancel)
            .await
            .unwrap();
        let sent = stream.finish().await.unwrap();
        assert_eq!(sent.bytes, payload.len() as u64);
        assert_eq!(progress.bytes(), payload.len() as u64);
        let (start, rest) = accept.await.unwrap();
        let mut received = Vec::new();
        match start {
            StreamStart::Ferryman(h) => {
                assert!(with_token);
                assert_eq!(h.job_id, 7);
                assert!(h.token.ct_eq(&token.stream_token().unwrap()));
            }
            StreamStart::Raw { prefix } => {
                assert!(!with_token);
                received.extend_from_slice(&prefix);
            }
        }
        received.extend_from_slice(&rest);
        assert_eq!(received, payload);
    }
}

#[tokio::test]
async fn connect_retries_until_the_listener_appears() {
    // Take a free port, release it, start listening on it a moment later.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let late = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let l = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let (mut s, _) = l.accept().await.unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).await.unwrap();
        all
    });
    let cancel = CancellationToken::new();
    let progress = Progress::new();
    let mut stream = Receiver::raw(format!("127.0.0.1:{port}"))
        .connect(Duration::from_secs(10), &cancel, &progress)
        .await
        .unwrap();
    stream
        .send(&mut &b"hello"[..], "x", &progress, &cancel)
        .await
        .unwrap();
    stream.finish().await.unwrap();
    assert_eq!(late.await.unwrap(), b"hello");
}

#[tokio::test]
async fn a_stream_leaves_from_the_servers_address_when_this_machine_has_it() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let cancel = CancellationToken::new();
    let progress = Progress::new();
    // An address of this machine (all of 127.0.0.0/8 is); a name and an address it does not
    // have (TEST-NET-3) leave the choice to the kernel.
    for (host, from) in [
        ("127.0.0.3", "127.0.0.3"),
        ("db1.example", "127.0.0.1"),
        ("203.0.113.9", "127.0.0.1"),
    ] {
        let stream = Receiver::raw(address.clone())
            .from_host(host)
            .connect(Duration::from_secs(5), &cancel, &progress)
            .await
            .unwrap();
        let (_, peer) = listener.accept().await.unwrap();
        assert_eq!(peer.ip().to_string(), from, "{host}");
        drop(stream);
    }
}

#[tokio::test]
async fn connect_gives_up_at_the_deadline_with_the_address() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let err = Receiver::raw(format!("127.0.0.1:{port}"))
        .connect(
            Duration::from_secs(1),
            &CancellationToken::new(),
            &Progress::new(),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        err.contains(&format!(
            "cannot connect to the receiver at 127.0.0.1:{port} within 1 s"
        )),
        "{err}"
    );
}

#[tokio::test]
async fn a_receiver_that_dies_fails_the_send_with_the_bytes_sent() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 100_000];
        let _ = s.read_exact(&mut buf).await;
        // Dropped: the connection is reset while the sender still writes.
    });
    let cancel = CancellationToken::new();
    let progress = Progress::new();
    let mut stream = Receiver::raw(address.clone())
        .connect(Duration::from_secs(5), &cancel, &progress)
        .await
        .unwrap();
    let mut endless = tokio::io::repeat(7);
    let err = stream
        .send(&mut endless, "zeros", &progress, &cancel)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "the receiver at {address} stopped taking the stream after"
        )),
        "{err}"
    );
}

/// Reads a stream of blocks back into the raw bytes; returns them and the kinds seen.
fn decode_blocks(mut wire: &[u8]) -> (Vec<u8>, Vec<BlockKind>) {
    let (mut raw, mut kinds) = (Vec::new(), Vec::new());
    while !wire.is_empty() {
        let head: [u8; BLOCK_HEADER_LEN] = wire[..BLOCK_HEADER_LEN].try_into().unwrap();
        let h = BlockHeader::decode(&head).unwrap();
        let bytes = &wire[BLOCK_HEADER_LEN..BLOCK_HEADER_LEN + h.len as usize];
        match h.kind {
            BlockKind::Raw => raw.extend_from_slice(bytes),
            BlockKind::Zstd => {
                raw.extend(zstd::bulk::decompress(bytes, h.raw_len as usize).unwrap())
            }
        }
        kinds.push(h.kind);
        wire = &wire[BLOCK_HEADER_LEN + h.len as usize..];
    }
    (raw, kinds)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_the_manager_asks_to_compress_arrives_in_blocks() {
    // 2.5 blocks of compressible bytes, sent in uneven pieces.
    let payload: Vec<u8> = (0..BLOCK * 5 / 2).map(|i| (i % 251) as u8).collect();
    for site in [CompressionSite::Node, CompressionSite::Auto] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accept = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let start = read_start(&mut sock).await.unwrap();
            let mut rest = Vec::new();
            sock.read_to_end(&mut rest).await.unwrap();
            (start, rest)
        });
        let mut j = job(
            Some("127.0.0.1"),
            Some(i32::from(port)),
            Some(Token::generate().unwrap()),
        );
        j.params = Some(format!(
            r#"{{"stream_compression":{{"site":"{site}","level":1,"threads":2}}}}"#
        ));
        let receiver = Receiver::of_job(&j, Task::Mariabackup, StreamKind::Backup).unwrap();
        let progress = Progress::new();
        let cancel = CancellationToken::new();
        let mut stream = receiver
            .connect(Duration::from_secs(5), &cancel, &progress)
            .await
            .unwrap();
        for piece in payload.chunks(777_777) {
            let mut src = piece;
            stream
                .send(&mut src, "test data", &progress, &cancel)
                .await
                .unwrap();
        }
        let sent = stream.finish().await.unwrap();
        assert_eq!(sent.bytes, payload.len() as u64);
        let summary = sent.blocks.clone().unwrap();
        assert_eq!(summary.raw, payload.len() as u64);
        let (start, rest) = accept.await.unwrap();
        let StreamStart::Ferryman(h) = start else {
            panic!("a raw stream")
        };
        assert!(h.blocks, "the header announces blocks");
        assert_eq!(summary.wire, rest.len() as u64);
        let (raw, kinds) = decode_blocks(&rest);
        assert_eq!(raw, payload, "{site}");
        assert_eq!(kinds.len(), 3);
        if site == CompressionSite::Node {
            assert!(kinds.iter().all(|k| *k == BlockKind::Zstd));
            assert_eq!(summary.compressed_raw, summary.raw);
            assert!(rest.len() < payload.len() / 20);
        }
        assert!(
            sent.describe().contains("zstd 1 on the node"),
            "{}",
            sent.describe()
        );
    }
}

#[tokio::test]
async fn a_log_or_a_legacy_stream_is_never_sent_in_blocks() {
    let mut j = job(Some("127.0.0.1"), Some(4000), None);
    j.params = Some(r#"{"stream_compression":{"site":"node","level":1,"threads":2}}"#.into());
    let legacy = Receiver::of_job(&j, Task::Mariabackup, StreamKind::Backup).unwrap();
    assert!(legacy.compression.is_none());
    j.token = Some(Token::generate().unwrap());
    let log = Receiver::of_job(&j, Task::Error, StreamKind::Log).unwrap();
    assert!(log.compression.is_none());
    let backup = Receiver::of_job(&j, Task::Mariabackup, StreamKind::Backup).unwrap();
    assert!(backup.compression.is_some());
    j.params = Some(r#"{"stream_compression":{"site":"moon"}}"#.into());
    let err = Receiver::of_job(&j, Task::Mariabackup, StreamKind::Backup)
        .unwrap_err()
        .to_string();
    assert!(err.contains("backup-stream-compression"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_that_dies_fails_a_stream_in_blocks() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 100_000];
        let _ = s.read_exact(&mut buf).await;
    });
    let mut j = job(
        Some("127.0.0.1"),
        Some(i32::from(port)),
        Some(Token::generate().unwrap()),
    );
    j.params = Some(r#"{"stream_compression":{"site":"node","level":1,"threads":1}}"#.into());
    let receiver = Receiver::of_job(&j, Task::Mariabackup, StreamKind::Backup).unwrap();
    let cancel = CancellationToken::new();
    let progress = Progress::new();
    let mut stream = receiver
        .connect(Duration::from_secs(5), &cancel, &progress)
        .await
        .unwrap();
    // Incompressible (xorshift), so the socket fills.
    let mut x = 1u64;
    let data: Vec<u8> = (0..64 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let err = stream
        .send(&mut &data[..], "noise", &progress, &cancel)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("stopped taking the stream"), "{err}");
}
