//! Filling a sandbox's primary with sysbench data of about a given size, so benchmarks and
//! demos have something realistic to move (InnoDB tables with a primary key and a secondary
//! index, random strings).

use std::io::Write as _;
use std::time::{Duration, Instant};

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::Session;
use ferryman_exec::Program;
use serde::Serialize;

use crate::accounts::ADMIN_USER;
use crate::{Error, Result, Sandbox};

/// The schema sysbench fills (dropped and recreated by every load).
pub const SCHEMA: &str = "sbtest";
/// Bytes one sysbench row takes in InnoDB, data plus secondary index, measured on 10.11
/// (`information_schema.tables` after a 1M-row prepare).
const BYTES_PER_ROW: u64 = 230;
/// Target size of one table: enough tables for parallel dumps, not so many that small loads
/// are all overhead.
const BYTES_PER_TABLE: u64 = 128 << 20;
/// At most this many tables.
const MAX_TABLES: u64 = 16;

/// What a load did.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// Tables created.
    pub tables: u64,
    /// Rows in each.
    pub rows_per_table: u64,
    /// Data + index bytes InnoDB reports for the schema afterwards.
    pub bytes: u64,
    /// How long it took.
    #[serde(with = "secs")]
    pub elapsed: Duration,
}

mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// Parses a size such as `2G`, `500M`, `1.5GiB`, `64k` or `1048576` (binary units).
pub fn parse_size(input: &str) -> Result<u64> {
    let bad = || Error::BadSize {
        input: input.to_owned(),
    };
    let t = input.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    let bytes = num * mult as f64;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// Replaces the `sbtest` schema of the primary with about `size` bytes of sysbench tables.
/// The data replicates to the replicas like any write.
pub async fn load(sandbox: &Sandbox, size: u64) -> Result<LoadReport> {
    let sysbench = Program::find("sysbench", "sysbench")?;
    let started = Instant::now();
    let rows = (size / BYTES_PER_ROW).max(1);
    let tables = size.div_ceil(BYTES_PER_TABLE).clamp(1, MAX_TABLES);
    let rows_per_table = rows.div_ceil(tables);

    let primary = sandbox.primary();
    let ep = sandbox.endpoint(primary);
    let mut conn = ep.connect(Session::Plain).await?;
    let query = |action: &'static str| {
        let ep = &ep;
        move |source| Error::Db(ep.query_error(action, source))
    };
    conn.query_drop(format!("DROP DATABASE IF EXISTS {SCHEMA}"))
        .await
        .map_err(query("drop the previous sysbench schema"))?;
    conn.query_drop(format!("CREATE DATABASE {SCHEMA}"))
        .await
        .map_err(query("create the sysbench schema"))?;

    // sysbench takes its password from an options file (0600, in the 0700 secrets directory),
    // never from its command line.
    let secrets = sandbox.layout().secrets_dir();
    let mut opts = tempfile::Builder::new()
        .prefix("sysbench-")
        .tempfile_in(&secrets)
        .map_err(Error::io("create a sysbench options file in", &secrets))?;
    let text = format!(
        "db-driver=mysql\nmysql-host=127.0.0.1\nmysql-port={port}\nmysql-user={ADMIN_USER}\n\
         mysql-password={pw}\nmysql-db={SCHEMA}\n",
        port = primary.port,
        pw = sandbox.passwords().admin.expose_secret(),
    );
    opts.write_all(text.as_bytes())
        .map_err(Error::io("write", opts.path()))?;
    sysbench
        .command()
        .arg(format!("--config-file={}", opts.path().display()))
        .args([
            "oltp_read_write".to_owned(),
            format!("--tables={tables}"),
            format!("--table-size={rows_per_table}"),
            "--threads=2".to_owned(),
            "prepare".to_owned(),
        ])
        .run()
        .await?;
    drop(opts);

    let bytes: Option<u64> = conn
        .exec_first(
            "SELECT CAST(COALESCE(SUM(data_length + index_length), 0) AS UNSIGNED) \
             FROM information_schema.tables WHERE table_schema = ?",
            (SCHEMA,),
        )
        .await
        .map_err(query("measure the sysbench schema"))?;
    let _ = conn.disconnect().await;
    Ok(LoadReport {
        tables,
        rows_per_table,
        bytes: bytes.unwrap_or(0),
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("500M").unwrap(), 500 << 20);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        for bad in ["", "G", "2X", "-1G", "0"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
