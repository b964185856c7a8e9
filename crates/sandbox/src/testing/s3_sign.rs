//! The one S3 call the test server needs that object_store does not make: `CreateBucket`, as a
//! path-style `PUT /BUCKET` signed with AWS Signature Version 4 over plain HTTP/1.1 to the
//! loopback radosgw.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::s3::TestS3;

type HmacSha256 = Hmac<Sha256>;

/// Creates `s3.bucket` (an existing bucket of the same user is fine).
pub(super) async fn create_bucket(s3: &TestS3) -> Result<(), String> {
    let host = s3
        .endpoint
        .strip_prefix("http://")
        .ok_or("the endpoint is not http://")?
        .to_owned();
    let now = chrono::Utc::now();
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let date = now.format("%Y%m%d").to_string();
    let payload = hex::encode(Sha256::digest(b""));
    let path = format!("/{}", s3.bucket);
    let canonical = format!(
        "PUT\n{path}\n\nhost:{host}\nx-amz-content-sha256:{payload}\nx-amz-date:{amz_date}\n\n\
         host;x-amz-content-sha256;x-amz-date\n{payload}"
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
    let request = format!(
        "PUT {path} HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {amz_date}\r\n\
         x-amz-content-sha256: {payload}\r\nAuthorization: AWS4-HMAC-SHA256 \
         Credential={}/{scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, \
         Signature={signature}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
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
    let status = answer.lines().next().unwrap_or_default();
    if status.contains(" 200 ") || answer.contains("BucketAlreadyOwnedByYou") {
        Ok(())
    } else {
        Err(format!("radosgw answered: {answer}"))
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
    let mut mac = HmacSha256::new_from_slice(key).map_err(|e| e.to_string())?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}
