//! The OpenAPI 3.0 document of the API, written by hand. A test checks that it lists exactly the
//! routes the router serves.

use serde_json::{json, Value};

use super::handlers::STATES;

/// The document served at `GET /api/v1/openapi.json`.
pub fn document() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Ferryman manager API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Backups, jobs and topology of the clusters a Ferryman manager looks after. Every route but /api/health needs `Authorization: Bearer TOKEN`; the token is `manager.api-token-file`/`api-token-env`, or the file `monitoring-datadir/api.token` the manager writes at its first start. Errors are `{\"error\": \"...\"}` with a message that says what to do next."
        },
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" }
            },
            "responses": {
                "Unauthorized": error_response("No token, or a wrong one; the message says where the token is."),
                "NotFound": error_response("No such cluster, server, job, backup or route."),
                "BadRequest": error_response("A malformed parameter or body."),
                "Internal": error_response("The manager failed; see its log.")
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": { "error": { "type": "string" } }
                },
                "Cluster": {
                    "type": "object",
                    "properties": {
                        "name": { "type": "string" },
                        "backup_physical_type": { "type": "string", "enum": ["mariabackup", "xtrabackup"] },
                        "backup_logical_type": { "type": "string", "enum": ["mysqldump", "mydumper"] },
                        "servers": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "name": { "type": "string" },
                                    "host": { "type": "string" },
                                    "port": { "type": "integer" },
                                    "legacy_donor": { "type": "boolean" }
                                }
                            }
                        }
                    }
                },
                "VerifyRequest": {
                    "type": "object",
                    "description": "Exactly one of: `backup`; `cluster` with `latest: true` (the newest physical and logical backup of the cluster); `all_clusters: true` (a fresh logical backup of every cluster's backup source, each verified).",
                    "properties": {
                        "backup": { "type": "string", "description": "CLUSTER/SERVER/NAME" },
                        "cluster": { "type": "string" },
                        "latest": { "type": "boolean" },
                        "all_clusters": { "type": "boolean" }
                    }
                },
                "VerifyRun": {
                    "type": "object",
                    "properties": {
                        "id": { "type": "integer" },
                        "trigger": { "type": "string", "enum": ["api", "schedule", "fleet"] },
                        "state": { "type": "string", "enum": ["running", "done"] },
                        "ok": { "type": "boolean", "nullable": true, "description": "once done: every item passed" },
                        "started_at": { "type": "string" },
                        "ended_at": { "type": "string", "nullable": true },
                        "items": { "type": "array", "items": { "type": "object", "description": "cluster, server, backup, tool, phase, status (ok|failed), reasons, raw_bytes, stored_bytes, size_change_percent, restore_seconds, total_seconds, backup_job, error, done" } }
                    }
                },
                "Event": {
                    "type": "object",
                    "properties": {
                        "id": { "type": "integer" },
                        "at": { "type": "string" },
                        "kind": { "type": "string", "enum": ["verification-failed", "verification-passed", "topology-split"] },
                        "severity": { "type": "string", "enum": ["info", "error"] },
                        "cluster": { "type": "string" },
                        "server": { "type": "string", "nullable": true },
                        "backup": { "type": "string", "nullable": true },
                        "message": { "type": "string" }
                    }
                },
                "Topology": {
                    "type": "object",
                    "description": "One cluster's servers as last read: role, GTID positions, replication threads and lag, or the error reading them.",
                    "properties": {
                        "cluster": { "type": "string" },
                        "read_at": { "type": "integer", "description": "seconds since the epoch" },
                        "servers": { "type": "array", "items": { "type": "object" } }
                    }
                },
                "Job": {
                    "type": "object",
                    "properties": {
                        "id": { "type": "integer" },
                        "cluster": { "type": "string" },
                        "server": { "type": "string" },
                        "task": { "type": "string", "description": "the jobs-table task, e.g. mariabackup" },
                        "node_job_id": { "type": "integer", "nullable": true, "description": "the row id in the server's jobs table" },
                        "state": { "type": "string", "enum": STATES },
                        "phase": { "type": "string" },
                        "bytes": { "type": "integer", "description": "bytes received so far" },
                        "node_result": { "type": "string", "nullable": true },
                        "error": { "type": "string", "nullable": true },
                        "backup_id": { "type": "string", "nullable": true },
                        "trigger": { "type": "string", "description": "schedule or api" },
                        "created_at": { "type": "integer", "description": "seconds since the epoch" },
                        "ended_at": { "type": "integer", "nullable": true }
                    }
                },
                "Manifest": {
                    "type": "object",
                    "description": "A stored backup's manifest.json: id, cluster, server, kind, tool, times, raw and stored sizes, sha256, GTID and binlog coordinates.",
                    "additionalProperties": true
                },
                "BackupRequest": {
                    "type": "object",
                    "required": ["kind"],
                    "additionalProperties": false,
                    "properties": {
                        "kind": { "type": "string", "enum": ["physical", "logical"], "description": "physical uses the cluster's backup-physical-type, logical its backup-logical-type" },
                        "server": { "type": "string", "description": "the server to back up; default: db-servers-backup-hosts, else a healthy replica, else the primary" }
                    }
                },
                "PruneRequest": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "dry_run": { "type": "boolean", "default": false, "description": "only plan: delete nothing" }
                    }
                },
                "PruneReport": {
                    "type": "object",
                    "properties": {
                        "cluster": { "type": "string" },
                        "dry_run": { "type": "boolean" },
                        "policy": { "type": "object", "description": "keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly" },
                        "keep": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": { "type": "string" },
                                    "reasons": { "type": "array", "items": { "type": "string", "description": "newest, protected, last, hourly, daily, weekly, monthly, yearly, or `oldest RULE`" } }
                                }
                            }
                        },
                        "delete": { "type": "array", "items": { "type": "string" }, "description": "deleted, or with dry_run to be deleted" },
                        "failed": {
                            "type": "array",
                            "items": { "type": "object", "properties": { "id": { "type": "string" }, "error": { "type": "string" } } }
                        }
                    }
                },
                "ReseedRequest": {
                    "type": "object",
                    "required": ["servers", "method"],
                    "additionalProperties": false,
                    "properties": {
                        "servers": { "type": "array", "items": { "type": "string" }, "description": "the replicas to rebuild" },
                        "method": { "type": "string", "enum": ["physicalbackup", "logicalbackup", "logicalmaster"] },
                        "backup": { "type": "string", "description": "CLUSTER/SERVER/NAME; default: the newest backup of the method's kind whose newest verification passed (the newest never verified one when none did)" },
                        "force": { "type": "boolean", "description": "restore the named backup even though its newest verification failed" }
                    }
                },
                "FlashbackRequest": {
                    "type": "object",
                    "required": ["server", "backup"],
                    "additionalProperties": false,
                    "properties": {
                        "server": { "type": "string" },
                        "backup": { "type": "string", "description": "CLUSTER/SERVER/NAME" },
                        "force": { "type": "boolean", "description": "restore it even though its newest verification failed" }
                    }
                },
                "JobsCreated": {
                    "type": "object",
                    "required": ["job_ids"],
                    "properties": {
                        "job_ids": { "type": "array", "items": { "type": "integer" } },
                        "notes": { "type": "array", "items": { "type": "string" }, "description": "what to know about the backup chosen (never verified, restored despite a failed verification)" }
                    }
                },
                "JobCreated": {
                    "type": "object",
                    "required": ["job_id"],
                    "properties": { "job_id": { "type": "integer" } }
                },
                "LogFile": {
                    "type": "object",
                    "properties": {
                        "server": { "type": "string" },
                        "name": { "type": "string", "description": "the file in the repository's logs area, `monitoring-datadir/CLUSTER/SERVER/NAME`" },
                        "kind": { "type": "string", "enum": ["error", "slow"] },
                        "received_at": { "type": "string", "format": "date-time" },
                        "job_id": { "type": "integer", "description": "the manager job that collected it" }
                    }
                }
            }
        },
        "security": [ { "bearer": [] } ],
        "paths": {
            "/api/health": {
                "get": {
                    "summary": "Whether the manager answers (no token needed)",
                    "security": [],
                    "responses": {
                        "200": json_response("Up.", json!({
                            "type": "object",
                            "properties": { "status": { "type": "string" }, "version": { "type": "string" } }
                        }))
                    }
                }
            },
            "/api/v1/openapi.json": {
                "get": operation("This document", &[], json_response("The OpenAPI document.", json!({ "type": "object" })))
            },
            "/api/v1/clusters": {
                "get": operation("The configured clusters and their servers", &[], json_response("Clusters.", array("Cluster")))
            },
            "/api/v1/clusters/{cluster}/topology": {
                "get": operation("A cluster's live topology", &[path_param("cluster", "string")], json_response("The topology.", schema("Topology")))
            },
            "/api/v1/clusters/{cluster}/backups": {
                "post": {
                    "summary": "Start a backup of the cluster; it runs on after the answer",
                    "parameters": [path_param("cluster", "string")],
                    "requestBody": {
                        "required": true,
                        "content": { "application/json": { "schema": schema("BackupRequest") } }
                    },
                    "responses": with_errors(json!({
                        "202": json_response("Started; follow it with GET /api/v1/jobs/{id}.", schema("JobCreated")),
                        "503": error_response("No server of the cluster can be backed up now.")
                    }))
                }
            },
            "/api/v1/clusters/{cluster}/prune": {
                "post": {
                    "summary": "Apply the cluster's retention (backup-keep-*) now; the newest backup of each server and kind is always kept",
                    "parameters": [path_param("cluster", "string")],
                    "requestBody": {
                        "required": false,
                        "content": { "application/json": { "schema": schema("PruneRequest") } }
                    },
                    "responses": with_errors(json!({
                        "200": json_response("What was kept (with every reason) and deleted; with dry_run, what would be.", schema("PruneReport"))
                    }))
                }
            },
            "/api/v1/clusters/{cluster}/reseed": {
                "post": {
                    "summary": "Rebuild replicas from the newest physical backup (or the one given); several servers share one read of the source",
                    "parameters": [path_param("cluster", "string")],
                    "requestBody": {
                        "required": true,
                        "content": { "application/json": { "schema": schema("ReseedRequest") } }
                    },
                    "responses": with_errors(json!({
                        "202": json_response("Started; one job per server, follow them with GET /api/v1/jobs/{id}.", schema("JobsCreated")),
                        "409": error_response("Refused by a safety rail: the server is the primary, is being reseeded, or the backup cannot be used.")
                    }))
                }
            },
            "/api/v1/clusters/{cluster}/flashback": {
                "post": {
                    "summary": "Rewind a replica to a chosen earlier physical backup of the cluster",
                    "parameters": [path_param("cluster", "string")],
                    "requestBody": {
                        "required": true,
                        "content": { "application/json": { "schema": schema("FlashbackRequest") } }
                    },
                    "responses": with_errors(json!({
                        "202": json_response("Started.", schema("JobsCreated")),
                        "409": error_response("Refused by a safety rail.")
                    }))
                }
            },
            "/api/clusters/{cluster}/servers/{server}/actions/reseed/{method}": rm_alias(
                &[path_param("cluster", "string"), path_param("server", "string"), path_param("method", "string")]
            ),
            "/api/clusters/{cluster}/servers/{host}/{port}/actions/reseed/{method}": rm_alias(
                &[path_param("cluster", "string"), path_param("host", "string"), path_param("port", "integer"), path_param("method", "string")]
            ),
            "/api/v1/clusters/{cluster}/logs": {
                "get": operation("Error and slow-query logs collected from the cluster's servers, newest first per server", &[path_param("cluster", "string")], json_response("Log files.", array("LogFile")))
            },
            "/api/v1/jobs": {
                "get": operation(
                    "The manager's jobs since it started, newest first",
                    &[
                        query_param("cluster", json!({ "type": "string" })),
                        query_param("state", json!({ "type": "string", "enum": STATES })),
                    ],
                    json_response("Jobs.", array("Job"))
                )
            },
            "/api/v1/jobs/{id}": {
                "get": operation(
                    "One job; with `wait_ms`, answered as soon as it has ended or after that many milliseconds (at most 30000)",
                    &[path_param("id", "integer"), query_param("wait_ms", json!({ "type": "integer", "minimum": 0 }))],
                    json_response("The job.", schema("Job"))
                )
            },
            "/api/v1/jobs/{id}/cancel": {
                "post": {
                    "summary": "Cancel a job that has not ended",
                    "parameters": [path_param("id", "integer")],
                    "responses": with_errors(json!({
                        "202": json_response("Cancelling; the job ends as cancelled shortly.", schema("Job")),
                        "409": error_response("The job has already ended.")
                    }))
                }
            },
            "/api/v1/backups": {
                "get": operation(
                    "Stored backups, newest first",
                    &[
                        query_param("cluster", json!({ "type": "string" })),
                        query_param("server", json!({ "type": "string" })),
                    ],
                    json_response("Manifests.", array("Manifest"))
                )
            },
            "/api/v1/backups/{cluster}/{server}/{name}": {
                "get": operation(
                    "One stored backup; its id `cluster/server/name` is the end of the path",
                    &[path_param("cluster", "string"), path_param("server", "string"), path_param("name", "string")],
                    json_response("Its manifest.", schema("Manifest"))
                )
            },
            "/api/v1/verify": {
                "post": {
                    "summary": "Verify backups: checks on the stored payload, a test restore on a throwaway server, checks on the restored copy; results are appended to each backup's manifest",
                    "parameters": [],
                    "requestBody": {
                        "required": true,
                        "content": { "application/json": { "schema": schema("VerifyRequest") } }
                    },
                    "responses": with_errors(json!({
                        "202": json_response("Started; follow it with GET /api/v1/verify/runs/{id}.", schema("VerifyRun")),
                        "409": error_response("Nothing to verify (a cluster without backups).")
                    }))
                }
            },
            "/api/v1/verify/runs": {
                "get": operation(
                    "Verification runs since the manager started, newest first",
                    &[],
                    json_response("The runs.", array("VerifyRun"))
                )
            },
            "/api/v1/verify/runs/{id}": {
                "get": operation(
                    "One verification run: per backup, ok or failed with the failed checks, sizes, restore time",
                    &[path_param("id", "integer")],
                    json_response("The run.", schema("VerifyRun"))
                )
            },
            "/api/v1/events": {
                "get": operation(
                    "Events (a verification failed or passed), oldest first",
                    &[query_param("since", json!({ "type": "integer", "description": "only events with a larger id" }))],
                    json_response("The events kept (the newest 1000).", array("Event"))
                )
            }
        }
    })
}

/// replication-manager's reseed route (GET and POST alike, as there).
fn rm_alias(parameters: &[Value]) -> Value {
    let op = json!({
        "summary": "replication-manager's reseed route, kept for its users' scripts: the same as POST /api/v1/clusters/{cluster}/reseed for one server",
        "parameters": parameters,
        "responses": with_errors(json!({
            "202": json_response("Started.", schema("JobsCreated")),
            "409": error_response("Refused by a safety rail.")
        }))
    });
    json!({ "get": op.clone(), "post": op })
}

/// A `GET` operation answering `ok` as 200, plus the common errors.
fn operation(summary: &str, parameters: &[Value], ok: Value) -> Value {
    json!({
        "summary": summary,
        "parameters": parameters,
        "responses": with_errors(json!({ "200": ok }))
    })
}

/// Adds the errors every authenticated route may answer.
fn with_errors(mut responses: Value) -> Value {
    if let Some(map) = responses.as_object_mut() {
        for (status, name) in [
            ("400", "BadRequest"),
            ("401", "Unauthorized"),
            ("404", "NotFound"),
            ("500", "Internal"),
        ] {
            map.entry(status)
                .or_insert_with(|| json!({ "$ref": format!("#/components/responses/{name}") }));
        }
    }
    responses
}

fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn array(item: &str) -> Value {
    json!({ "type": "array", "items": schema(item) })
}

fn json_response(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

fn error_response(description: &str) -> Value {
    json_response(description, schema("Error"))
}

fn path_param(name: &str, kind: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "schema": { "type": kind } })
}

fn query_param(name: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "schema": schema })
}
