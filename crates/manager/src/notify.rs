//! Notifications: events told by mail and webhook.
//!
//! Every event goes through [`Problems`] (one message when a problem opens, one when it is
//! resolved, again only after `notifications.repeat-after`), then to the channel of every
//! `[[notifications.route]]` that wants it: its `clusters` (manager-wide events, such as the
//! history's, reach every route), its `kinds`, its `min-severity`. A route that hears of a
//! problem hears of its resolution, whatever the resolving event's severity. Channels deliver
//! on their own tasks (`channel.rs`); what they cannot deliver is kept as a dead letter.
//!
//! # Layout
//! - `notify/problems.rs`: deduplication: problems opened, told again, resolved.
//! - `notify/message.rs`: the webhook body (`ferryman.notification/1`) and the mail's text.
//! - `notify/channel.rs`: one channel's queue, rate limit, tries and dead letters.
//! - `notify/webhook.rs`, `notify/email.rs`: one try of each.

mod channel;
mod email;
mod message;
mod problems;
mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;

use ferryman_config::{NotificationsConfig, Route, RouteSeverity};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use channel::{Channel, Target};
pub use message::{Message, SCHEMA};
pub use problems::{Problems, Tell};
pub use webhook::signature;

use crate::events::{Event, Severity};
use crate::Services;

/// Whether `route` wants `event`, told as `tell`.
pub fn wants(route: &Route, event: &Event, tell: &Tell) -> bool {
    let resolution = matches!(tell, Tell::Resolved { .. });
    let cluster = event.cluster.is_empty()
        || route.clusters.is_empty()
        || route.clusters.iter().any(|c| c == &event.cluster);
    let kind = event.kind.as_str();
    let kinds = route.kinds.is_empty()
        || route.kinds.iter().any(|k| k == &kind)
        || (resolution
            && problems::opened_by(event.kind)
                .iter()
                .any(|opener| route.kinds.iter().any(|k| *k == opener.as_str())));
    let severity = resolution
        || event.severity == Severity::Error
        || route.min_severity == RouteSeverity::Info;
    cluster && kinds && severity
}

/// Tells the events received on `events` until `shutdown`; the channels' leftovers become dead
/// letters. A reload that changes `[notifications]` starts the new channels and routes (the old
/// channels deliver what they have queued, then stop).
pub async fn run(
    services: Arc<Services>,
    mut events: broadcast::Receiver<Event>,
    shutdown: CancellationToken,
) {
    let mut live = services.live.subscribe();
    let mut config = live.borrow_and_update().notifications.clone();
    let tracker = TaskTracker::new();
    let mut channels = start_channels(&services, &config, &shutdown, &tracker);
    let mut problems = Problems::load(Arc::clone(&services.state), config.repeat_after);
    let mut following = true;
    let manager = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "ferryman".to_owned());
    loop {
        let event = tokio::select! {
            e = events.recv() => Some(e),
            changed = live.changed(), if following => {
                following = changed.is_ok();
                None
            }
            _ = shutdown.cancelled() => break,
        };
        // Looked at before each event too: the reload's own event may come first.
        let reloaded = live.borrow().notifications != config;
        if reloaded {
            config = live.borrow().notifications.clone();
            channels = start_channels(&services, &config, &shutdown, &tracker);
            problems.set_repeat_after(config.repeat_after);
            tracing::info!(
                routes = config.routes.len(),
                channels = channels.len(),
                "notifications follow the reloaded configuration"
            );
        }
        let Some(event) = event else { continue };
        let event = match event {
            Ok(e) => e,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::error!(missed = n, "notifications fell behind the events and skipped {n} of them: see GET /api/v1/events for all");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        if config.routes.is_empty() {
            continue;
        }
        let Some((tell, problem)) = problems.decide(&event) else {
            tracing::debug!(
                event_id = event.id,
                "not told again: its problem was told recently"
            );
            continue;
        };
        for route in config.routes.iter().filter(|r| wants(r, &event, &tell)) {
            if let Some(channel) = channels.get(&route.channel) {
                channel.send(Message {
                    event: event.clone(),
                    tell: tell.clone(),
                    problem: problem.clone(),
                    manager: manager.clone(),
                });
            }
        }
    }
    drop(channels);
    tracker.close();
    tracker.wait().await;
}

/// A running channel for each channel of `config`, by name.
fn start_channels(
    services: &Services,
    config: &NotificationsConfig,
    shutdown: &CancellationToken,
    tracker: &TaskTracker,
) -> BTreeMap<String, Channel> {
    let targets = config
        .email
        .iter()
        .cloned()
        .map(Target::Email)
        .chain(config.webhooks.iter().cloned().map(Target::Webhook));
    targets
        .map(|target| {
            let channel = Channel::start(
                target,
                Arc::clone(&services.state),
                shutdown.clone(),
                tracker,
            );
            (channel.name().to_owned(), channel)
        })
        .collect()
}
