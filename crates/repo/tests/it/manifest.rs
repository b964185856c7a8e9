//! `manifest.json` as earlier versions wrote it still loads, and writing it back changes
//! nothing: the verification results, typed since, keep their JSON.

use ferryman_repo::manifest::{FORMAT_VERSION, PLAIN_FORMAT_VERSION};
use ferryman_repo::{BackupId, Kind, Manifest, Outcome, Status, Tool, Verification};

/// A logical backup's manifest as written before the verification results were typed, with
/// one passed and one failed verification (each result's keys sorted, as they were written).
const VERIFIED: &str = r#"{
  "format_version": 1,
  "id": "shop/db1/20261120T010000Z-j7",
  "cluster": "shop",
  "server": "db1",
  "host": "10.0.0.5",
  "kind": "logical",
  "tool": "mysqldump",
  "tool_version": "10.19",
  "server_version": "10.11.9-MariaDB",
  "format": "sql",
  "payload": "payload.sql.zst",
  "job_id": 7,
  "started_at": "2026-11-20T01:00:00Z",
  "ended_at": "2026-11-20T01:00:05Z",
  "raw_bytes": 5000,
  "stored_bytes": 900,
  "raw_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  "stored_sha256": "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
  "compression": {
    "algorithm": "zstd",
    "level": 3
  },
  "gtid": "0-1-50",
  "binlog_file": "binlog.000001",
  "binlog_pos": 1234,
  "coordinates_source": "stream",
  "captured": {},
  "databases": [
    "app"
  ],
  "table_rows": {
    "app.t": 100
  },
  "verification": [
    {
      "checks": [
        {
          "detail": "sizes and sha256 equal the manifest's",
          "name": "checksum",
          "outcome": "passed",
          "seconds": 0.012
        },
        {
          "detail": "imported in 1.2 s",
          "name": "restore",
          "outcome": "passed",
          "seconds": 1.2
        },
        {
          "detail": "no reference",
          "name": "size-change",
          "outcome": "skipped",
          "seconds": 0.0
        }
      ],
      "ended_at": "2026-11-20T02:00:03Z",
      "restore_seconds": 1.2,
      "restored_with": "10.11.9-MariaDB",
      "rows": {
        "app.t": 100
      },
      "run_id": 3,
      "size_baseline": null,
      "size_change_percent": null,
      "started_at": "2026-11-20T02:00:00Z",
      "status": "ok",
      "total_seconds": 3.456,
      "trigger": "schedule"
    },
    {
      "checks": [
        {
          "detail": "app.t: 99 rows, 100 recorded",
          "name": "row-counts",
          "outcome": "failed",
          "seconds": 0.3
        }
      ],
      "ended_at": "2026-11-21T02:00:04Z",
      "restore_seconds": null,
      "restored_with": null,
      "run_id": null,
      "size_baseline": "shop/db1/20261119T010000Z-j6",
      "size_change_percent": -1.5,
      "started_at": "2026-11-21T02:00:00Z",
      "status": "failed",
      "total_seconds": 4.0,
      "trigger": "api"
    }
  ],
  "extra": {
    "agent": "ok"
  }
}
"#;

/// A physical backup's manifest from before `databases`, `table_rows`, `server_version` and
/// `coordinates_source` were recorded, never verified.
const OLDEST: &str = r#"{
  "format_version": 1,
  "id": "shop/db2/20261120T010000Z-j8",
  "cluster": "shop",
  "server": "db2",
  "host": "10.0.0.6",
  "kind": "physical",
  "tool": "mariabackup",
  "tool_version": null,
  "format": "xbstream",
  "payload": "payload.xbstream.zst",
  "job_id": 8,
  "started_at": "2026-11-20T01:00:00Z",
  "ended_at": "2026-11-20T01:10:00Z",
  "raw_bytes": 50000,
  "stored_bytes": 9000,
  "raw_sha256": "",
  "stored_sha256": "",
  "compression": {
    "algorithm": "zstd",
    "level": 3
  },
  "gtid": null,
  "binlog_file": null,
  "binlog_pos": null,
  "captured": {
    "xtrabackup_binlog_info": "binlog.000001\t1234\t0-1-50\n"
  },
  "extra": {}
}
"#;

fn load(json: &str) -> Manifest {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    let id: BackupId = value["id"].as_str().unwrap().parse().unwrap();
    Manifest::from_json(json.as_bytes(), &id).unwrap()
}

#[test]
fn a_verified_manifest_loads_typed_and_writes_back_unchanged() {
    assert_eq!((FORMAT_VERSION, PLAIN_FORMAT_VERSION), (2, 1));
    let m = load(VERIFIED);
    assert_eq!((m.kind, m.tool), (Kind::Logical, Tool::Mysqldump));
    assert_eq!(m.verification.len(), 2);
    let passed = &m.verification[0];
    assert_eq!(passed.status, Status::Ok);
    assert_eq!(passed.trigger, "schedule");
    assert_eq!(passed.run_id, Some(3));
    assert_eq!(passed.restore_seconds, Some(1.2));
    assert_eq!(passed.rows.get("app.t"), Some(&100));
    assert_eq!(passed.checks.len(), 3);
    assert_eq!(passed.checks[2].outcome, Outcome::Skipped);
    let failed = &m.verification[1];
    assert_eq!(
        failed.summary(),
        "failed: row-counts: app.t: 99 rows, 100 recorded"
    );
    assert_eq!(failed.size_change_percent, Some(-1.5));
    // The newest result failed: not verified.
    assert_eq!(Verification::latest_of(&m).unwrap().status, Status::Failed);
    assert!(!Verification::is_verified(&m));

    assert_eq!(String::from_utf8(m.to_json()).unwrap(), VERIFIED);
}

#[test]
fn an_old_manifest_without_the_newer_fields_loads_and_writes_back_the_same() {
    let m = load(OLDEST);
    assert!(m.verification.is_empty() && m.databases.is_empty() && m.table_rows.is_empty());
    assert_eq!((&m.server_version, m.coordinates_source), (&None, None));
    assert!(!Verification::is_verified(&m));
    let written: serde_json::Value = serde_json::from_slice(&m.to_json()).unwrap();
    let mut expected: serde_json::Value = serde_json::from_str(OLDEST).unwrap();
    // The optional fields added since are written as null.
    expected["server_version"] = serde_json::Value::Null;
    expected["coordinates_source"] = serde_json::Value::Null;
    expected["verification"] = serde_json::json!([]);
    assert_eq!(written, expected);
}

#[test]
fn unknown_fields_and_unreadable_results_do_not_make_a_backup_unreadable() {
    let mut value: serde_json::Value = serde_json::from_str(VERIFIED).unwrap();
    value["added_later"] = serde_json::json!({"any": "thing"});
    value["verification"][0]["added_later"] = serde_json::json!(42);
    value["verification"][0]["checks"][0]["added_later"] = serde_json::json!(true);
    // A newer verifier's result this version cannot read, appended last.
    value["verification"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"status": "ok-with-warnings", "checks": []}));
    let json = serde_json::to_string(&value).unwrap();
    let m = load(&json);

    // The two readable results, the unknown fields ignored; the unreadable one is left out
    // and never counts as a pass.
    assert_eq!(m.verification, load(VERIFIED).verification);
    assert_eq!(Verification::latest_of(&m).unwrap().status, Status::Failed);

    // With only the unreadable result after a passed one, the passed one is the newest.
    value["verification"].as_array_mut().unwrap().remove(1);
    let m = load(&serde_json::to_string(&value).unwrap());
    assert_eq!(m.verification.len(), 1);
    assert!(Verification::is_verified(&m));
}
