//! The S3 calls the tests need that object_store does not make (`CreateBucket`,
//! `ListMultipartUploads`): path-style requests signed with AWS Signature Version 4 over plain
//! HTTP/1.0 (no chunked answers) to the loopback radosgw.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::S3Server;

type HmacSha256 = Hmac<Sha256>;

/// Creates `bucket` (an existing bucket of the same user is fine).
pub(super) async fn create_bucket(s3: &S3Server, bucket: &str) -> Result<(), String> {
    let (status, body) = signed(s3, "PUT", &format!("/{bucket}"), "").await?;
    if status == 200 || body.contains("BucketAlreadyOwnedByYou") {
        Ok(())
    } else {
        Err(format!("radosgw answered {status}: {body}"))
    }
}

/// The keys of `bucket`'s multipart uploads in progress.
pub(super) async fn open_uploads(s3: &S3Server, bucket: &str) -> Result<Vec<String>, String> {
    let (status, body) = signed(s3, "GET", &format!("/{bucket}"), "uploads").await?;
    if status != 200 {
        return Err(format!("radosgw answered {status}: {body}"));
    }
    Ok(body
        .split("<Key>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
        .collect())
}

/// Sends `METHOD path?query` with an empty body; the status and the answer's body. `query` is
/// one parameter without a value (`uploads`), or empty.
async fn signed(
    s3: &S3Server,
    method: &str,
    path: &str,
    query: &str,
) -> Result<(u16, String), String> {
    let host = s3
        .endpoint
        .strip_prefix("http://")
        .ok_or("the endpoint is not http://")?
        .to_owned();
    let now = chrono::Utc::now();
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let date = now.format("%Y%m%d").to_string();
    let payload = hex::encode(Sha256::digest(b""));
    let canonical_query = if query.is_empty() {
        String::new()
    } else {
        format!("{query}=")
    };
    let canonical = format!(
        "{method}\n{path}\n{canonical_query}\nhost:{host}\nx-amz-content-sha256:{payload}\n\
         x-amz-date:{amz_date}\n\nhost;x-amz-content-sha256;x-amz-date\n{payload}"
    );
    let scope = format!("{date}/{}/s3/aws4_request", s3.region);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = format!("AWS4{}", s3.secret_key).into_bytes();
    for part in [date.as_str(), s3.region.as_str(), "s3", "aws4_request"] {
        key = hmac(&key, part.as_bytes())?;
    }
    let signature = hex::encode(hmac(&key, to_sign.as_bytes())?);
    let target = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let request = format!(
        "{method} {target} HTTP/1.0\r\nHost: {host}\r\nx-amz-date: {amz_date}\r\n\
         x-amz-content-sha256: {payload}\r\nAuthorization: AWS4-HMAC-SHA256 \
         Credential={}/{scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, \
         Signature={signature}\r\nContent-Length: 0\r\n\r\n",
        s3.access_key
    );
    let mut sock = tokio::net::TcpStream::connect(&host)
        .await
        .map_err(|e| format!("connect to {host}: {e}"))?;
    sock.write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut answer = String::new();
    sock.read_to_string(&mut answer)
        .await
        .map_err(|e| format!("read the answer: {e}"))?;
    let status = answer
        .lines()
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no HTTP status in {answer:?}"))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

fn hmac(key: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
    let mut mac = HmacSha256::new_from_slice(key).map_err(|e| e.to_string())?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}
