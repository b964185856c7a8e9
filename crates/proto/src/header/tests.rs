use super::*;

/// Token bytes 0x00, 0x01, … 0x1f.
fn counting_token() -> StreamToken {
    StreamToken::from_bytes(std::array::from_fn(|i| i as u8))
}

fn header(kind: StreamKind) -> StreamHeader {
    StreamHeader::new(kind, 0x0102_0304_0506_0708, counting_token())
}

#[test]
fn every_kind_round_trips() {
    for kind in StreamKind::ALL {
        let h = header(kind);
        assert_eq!(StreamHeader::decode(&h.encode()), Ok(h.clone()));
        assert_eq!(StreamKind::from_u8(kind.as_u8()), Ok(kind));
    }
    let big = StreamHeader::new(StreamKind::Log, u64::MAX, StreamToken::generate().unwrap());
    assert_eq!(StreamHeader::decode(&big.encode()), Ok(big));
}

#[test]
fn golden_bytes() {
    // Changing this vector changes the wire format: bump VERSION instead.
    #[rustfmt::skip]
    let golden: [u8; HEADER_LEN] = [
        b'F', b'E', b'R', b'R', b'Y', b'M', b'N', 0,     // magic
        0x00, 0x01,                                      // version 1
        0x01,                                            // kind: backup
        0x00,                                            // flags
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // job id
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,  // token
        0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
        0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    ];
    assert_eq!(header(StreamKind::Backup).encode(), golden);
    assert_eq!(
        StreamHeader::decode(&golden),
        Ok(header(StreamKind::Backup))
    );
    assert_eq!(StreamKind::Log.as_u8(), 2);
    assert_eq!(StreamKind::Reseed.as_u8(), 3);
}

#[test]
fn version_2_is_rejected_naming_both_versions() {
    let mut h = header(StreamKind::Backup);
    h.version = 2;
    let err = StreamHeader::decode(&h.encode()).unwrap_err();
    assert_eq!(
        err,
        Error::UnsupportedVersion {
            seen: 2,
            supported: 1
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("version 2 is not supported"), "{msg}");
    assert!(msg.contains("speaks version 1"), "{msg}");
    assert!(msg.contains("same Ferryman version"), "{msg}");
}

#[tokio::test]
async fn other_versions_are_rejected_before_the_rest_arrives() {
    // A future version may have a shorter header: its magic and version alone must be
    // enough for a clear error, not a Truncated or a wait.
    let mut h = header(StreamKind::Backup);
    h.version = 2;
    let bytes = h.encode();
    let err = read_header(&mut &bytes[..PREFIX_LEN]).await.unwrap_err();
    assert!(matches!(err, Error::UnsupportedVersion { seen: 2, .. }));
}

#[test]
fn bad_magic_is_rejected() {
    let mut bytes = header(StreamKind::Backup).encode();
    bytes[..8].copy_from_slice(b"XBSTCK01");
    let err = StreamHeader::decode(&bytes).unwrap_err();
    assert_eq!(
        err,
        Error::BadMagic {
            found: *b"XBSTCK01"
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("`XBSTCK01`"), "{msg}");
    assert!(msg.contains(r"`FERRYMN\x00`"), "{msg}");
    assert!(msg.contains("per-job") || msg.contains("own port"), "{msg}");
}

#[test]
fn unknown_kinds_are_rejected() {
    for kind in [0u8, 4, 0xff] {
        let mut bytes = header(StreamKind::Backup).encode();
        bytes[KIND_AT] = kind;
        let err = StreamHeader::decode(&bytes).unwrap_err();
        assert_eq!(err, Error::UnknownStreamKind { kind });
        let msg = err.to_string();
        assert!(msg.contains("1 (backup), 2 (log), 3 (reseed)"), "{msg}");
    }
}

#[test]
fn reserved_flags_are_rejected() {
    for flags in [2u8, 0x80, 0x81] {
        let mut bytes = header(StreamKind::Log).encode();
        bytes[FLAGS_AT] = flags;
        let err = StreamHeader::decode(&bytes).unwrap_err();
        assert_eq!(err, Error::ReservedFlags { flags });
        assert!(err.to_string().contains("does not know"), "{err}");
    }
}

#[test]
fn the_blocks_flag_round_trips() {
    let h = header(StreamKind::Backup).in_blocks();
    let bytes = h.encode();
    assert_eq!(bytes[FLAGS_AT], FLAG_BLOCKS);
    let back = StreamHeader::decode(&bytes).unwrap();
    assert!(back.blocks);
    assert_eq!(back, h);
    assert!(
        !StreamHeader::decode(&header(StreamKind::Backup).encode())
            .unwrap()
            .blocks
    );
}

#[tokio::test]
async fn short_input_is_truncated() {
    let bytes = header(StreamKind::Backup).encode();
    for len in [0, 5, PREFIX_LEN, 30, HEADER_LEN - 1] {
        let err = read_header(&mut &bytes[..len]).await.unwrap_err();
        assert_eq!(
            err,
            Error::Truncated {
                got: len,
                expected: HEADER_LEN
            }
        );
    }
    let msg = read_header(&mut &bytes[..30])
        .await
        .unwrap_err()
        .to_string();
    assert!(msg.contains("after 30 of 52 bytes"), "{msg}");
}

#[tokio::test]
async fn write_then_read_leaves_the_payload() {
    let h = header(StreamKind::Reseed);
    let mut wire = Vec::new();
    write_header(&mut wire, &h).await.unwrap();
    wire.extend_from_slice(b"XBSTCK01 payload");
    assert_eq!(wire.len(), HEADER_LEN + 16);

    let mut r = &wire[..];
    assert_eq!(read_header(&mut r).await, Ok(h));
    assert_eq!(r, b"XBSTCK01 payload");
}

#[tokio::test]
async fn reads_a_header_that_arrives_in_pieces() {
    let h = header(StreamKind::Log);
    let bytes = h.encode();
    let (a, rest) = bytes.split_at(3);
    let (b, rest) = rest.split_at(6);
    let (c, d) = rest.split_at(1);
    let mut r = a.chain(b).chain(c).chain(d).chain(&b"payload"[..]);
    assert_eq!(read_start(&mut r).await, Ok(StreamStart::Ferryman(h)));
    let mut payload = Vec::new();
    r.read_to_end(&mut payload).await.unwrap();
    assert_eq!(payload, b"payload");
}

#[tokio::test]
async fn read_start_hands_back_a_raw_stream_whole() {
    for raw in [
        &b"XBSTCK01\x00\x00rest of the xbstream"[..],
        b"-- MariaDB dump 10.19",
        b"ab",
        b"FERRYMAN but not ours",
        b"",
    ] {
        let mut r = raw;
        let StreamStart::Raw { prefix } = read_start(&mut r).await.unwrap() else {
            panic!(
                "{:?} taken for a Ferryman stream",
                raw.escape_ascii().to_string()
            );
        };
        assert!(prefix.len() <= MAGIC.len());
        assert_eq!([&prefix[..], r].concat(), raw);
    }
    // Ends inside the magic: a broken header, not a three-byte payload.
    assert_eq!(
        read_start(&mut &b"FER"[..]).await,
        Err(Error::Truncated {
            got: 3,
            expected: HEADER_LEN
        })
    );
}

#[tokio::test]
async fn read_start_rejects_a_damaged_header() {
    let mut bytes = header(StreamKind::Backup).encode();
    bytes[FLAGS_AT] = 4;
    assert_eq!(
        read_start(&mut &bytes[..]).await,
        Err(Error::ReservedFlags { flags: 4 })
    );
}

#[test]
fn sniff_tells_ferryman_from_raw() {
    let bytes = header(StreamKind::Backup).encode();
    assert_eq!(sniff(&bytes), Sniff::Ferryman);
    assert_eq!(sniff(&MAGIC), Sniff::Ferryman);
    assert_eq!(sniff(b"XBSTCK01\x00\x00\x00"), Sniff::Raw);
    assert_eq!(sniff(b"-- MariaDB dump 10.19"), Sniff::Raw);
    assert_eq!(sniff(b"FERRYMAN"), Sniff::Raw);
    assert_eq!(sniff(b"X"), Sniff::Raw);
    assert_eq!(sniff(&MAGIC[..3]), Sniff::NeedMore);
    assert_eq!(sniff(&MAGIC[..7]), Sniff::NeedMore);
    assert_eq!(sniff(b""), Sniff::NeedMore);
}

#[test]
fn debug_never_shows_the_token() {
    let t = StreamToken::generate().unwrap();
    let hex = t.to_hex();
    let debug = format!(
        "{t:?} {:?}",
        StreamHeader::new(StreamKind::Backup, 7, t.clone())
    );
    assert!(!debug.contains(&hex), "{debug}");
    assert!(!debug.contains(&hex[..8]), "{debug}");
    assert!(debug.contains("StreamToken([SECRET])"), "{debug}");
}
