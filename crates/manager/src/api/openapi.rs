//! The OpenAPI 3.1 document of the API, derived by utoipa from the handlers'
//! `#[utoipa::path]` attributes and the request, response and query types. A test checks that
//! it lists exactly the routes the router serves.
//!
//! What every authenticated operation shares (the bearer scheme, the 400/401/404/500
//! answers) is added by [`Shared`] rather than repeated on each handler.

mod schemas;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

pub(super) use crate::events::Event;
pub(super) use crate::verification::VerifyRun;
pub(super) use schemas::{
    ErrorBody, LogKindName, LogicalTool, Manifest, NodeTaskName, PhysicalTool, PitrStatus,
    PruneReport, ReseedMethodName, Topology,
};

use super::handlers::{
    self, backups, clusters, events, jobs, metrics, node, node_snapshots, pitr, reseed, status,
    tasks, verify,
};

/// The document's source: every handler, the schemas they name, and [`Shared`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ferryman manager API",
        description = "Backups, jobs and topology of the clusters a Ferryman manager looks after. Every route but /api/health needs `Authorization: Bearer TOKEN`; the token is `manager.api-token-file`/`api-token-env`, or the file `monitoring-datadir/api.token` the manager writes at its first start. Errors are `{\"error\": \"...\"}` with a message that says what to do next."
    ),
    paths(
        handlers::health,
        handlers::openapi,
        clusters::clusters,
        clusters::topology,
        backups::start_backup,
        tasks::start_task,
        node::node_mysqld,
        node::node_action,
        node::node_detect,
        node::node_disk,
        node::node_error_log,
        node::node_replicas,
        node_snapshots::node_snapshots,
        node_snapshots::node_take_snapshot,
        node_snapshots::node_mount_snapshot,
        node_snapshots::node_unmount_snapshot,
        node_snapshots::node_remove_snapshot,
        backups::prune,
        reseed::reseed,
        reseed::flashback,
        reseed::rm_reseed,
        reseed::rm_reseed_host_port,
        clusters::logs,
        clusters::log,
        pitr::pitr,
        pitr::prove,
        jobs::jobs,
        jobs::job,
        jobs::cancel_job,
        backups::backups,
        backups::backup,
        backups::delete_backup,
        verify::verify,
        verify::verify_runs,
        verify::verify_run,
        events::events,
        events::dead_letters,
        metrics::metrics,
        status::status,
    ),
    components(schemas(ErrorBody)),
    security(("bearer" = [])),
    modifiers(&Shared)
)]
struct ApiDoc;

/// The document served at `GET /api/v1/openapi.json`, built once.
pub fn document() -> &'static Document {
    static DOCUMENT: LazyLock<Document> = LazyLock::new(ApiDoc::openapi);
    &DOCUMENT
}

/// The errors every authenticated operation may answer, as `components/responses`.
const SHARED_ERRORS: [(&str, &str, &str); 4] = [
    ("400", "BadRequest", "A malformed parameter or body."),
    (
        "401",
        "Unauthorized",
        "No token, or a wrong one; the message says where the token is.",
    ),
    (
        "404",
        "NotFound",
        "No such cluster, server, job, backup or route.",
    ),
    ("500", "Internal", "The manager failed; see its log."),
];

/// Adds what the operations share: the bearer scheme; [`SHARED_ERRORS`] on every operation but
/// [`super::HEALTH`], which needs no token; operation ids made unique (a handler serving two
/// methods gives both its name).
struct Shared;

impl Modify for Shared {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        let error_body = Content::new(Some(Ref::from_schema_name(ErrorBody::name())));
        for (_, name, description) in SHARED_ERRORS {
            let response = ResponseBuilder::new()
                .description(description)
                .content("application/json", error_body.clone())
                .build();
            components
                .responses
                .insert(name.to_owned(), response.into());
        }

        let mut ids: BTreeMap<String, usize> = BTreeMap::new();
        for (path, item) in doc.paths.paths.iter_mut() {
            for (_, operation) in operations_mut(item) {
                if path == super::HEALTH {
                    operation.security = Some(Vec::new());
                    continue;
                }
                for (status, name, _) in SHARED_ERRORS {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
                }
            }
            for (_, operation) in operations_mut(item) {
                if let Some(id) = &operation.operation_id {
                    *ids.entry(id.clone()).or_default() += 1;
                }
            }
        }
        for item in doc.paths.paths.values_mut() {
            for (method, operation) in operations_mut(item) {
                if let Some(id) = &mut operation.operation_id {
                    if ids.get(id.as_str()).is_some_and(|&n| n > 1) {
                        id.push('_');
                        id.push_str(method);
                    }
                }
            }
        }
    }
}

/// A path item's operations with their lowercase method, as OpenAPI keys them.
fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("options", &mut item.options),
        ("head", &mut item.head),
        ("patch", &mut item.patch),
        ("trace", &mut item.trace),
        ("query", &mut item.query),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_mut().map(|o| (method, o)))
}

/// Every documented operation as (method, path), for the test that the router serves
/// exactly these.
#[cfg(test)]
pub(super) fn documented() -> Vec<(&'static str, String)> {
    let mut doc = document().clone();
    let mut out = Vec::new();
    for (path, item) in doc.paths.paths.iter_mut() {
        assert!(
            item.additional_operations.is_empty(),
            "{path}: operations under other methods"
        );
        for (method, _) in operations_mut(item) {
            out.push((method, path.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_are_unique() {
        let mut doc = document().clone();
        let mut seen = std::collections::BTreeSet::new();
        for item in doc.paths.paths.values_mut() {
            for (_, operation) in operations_mut(item) {
                let id = operation.operation_id.clone().expect("operation id");
                assert!(seen.insert(id.clone()), "operation id {id} given twice");
            }
        }
    }

    #[test]
    fn every_authenticated_operation_answers_the_shared_errors() {
        let mut doc = document().clone();
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, operation) in operations_mut(item) {
                let statuses: Vec<&str> = operation
                    .responses
                    .responses
                    .keys()
                    .map(String::as_str)
                    .collect();
                if path == crate::api::HEALTH {
                    assert!(operation.security == Some(Vec::new()), "{path}: security");
                    assert_eq!(statuses, ["200"], "{method} {path}");
                } else {
                    for (status, _, _) in SHARED_ERRORS {
                        assert!(statuses.contains(&status), "{method} {path}: no {status}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_referenced_schema_is_defined() {
        let text = serde_json::to_string(document()).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let schemas = &value["components"]["schemas"];
        let responses = &value["components"]["responses"];
        for reference in text.split("\"$ref\":\"").skip(1) {
            let reference = &reference[..reference.find('"').unwrap()];
            let target = match reference.rsplit_once('/') {
                Some(("#/components/schemas", name)) => &schemas[name],
                Some(("#/components/responses", name)) => &responses[name],
                _ => panic!("unexpected reference {reference}"),
            };
            assert!(target.is_object(), "{reference} is not defined");
        }
    }
}
