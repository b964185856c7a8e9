//! `[notifications]`: the channels events are told through (mail, webhooks), the routes that
//! say which events go to which channel, and how often a problem still open is told again.
//!
//! Channels are `[notifications.email.NAME]` and `[notifications.webhook.NAME]` tables, whose
//! names share one namespace; a `[[notifications.route]]` names one of them. A channel that no
//! route names is only a [`ConfigWarning`]. What the manager does with them (signatures,
//! retries, rate limits, dead letters) is in `manager/src/notify`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use toml::Spanned;

use crate::defaults;
use crate::error::{ConfigError, Location};
use crate::raw::{RawNotifications, RawRoute};
use crate::secret::Secret;
use crate::validate::Validator;
use crate::warning::ConfigWarning;

mod channels;

/// Every event kind a route may name, as the manager spells them.
pub const EVENT_KINDS: &[&str] = &[
    "backup-failed",
    "backup-succeeded",
    "backup-missing",
    "verification-failed",
    "verification-passed",
    "reseed-failed",
    "reseed-succeeded",
    "topology-split",
    "copy-failed",
    "archive-failed",
    "archive-resumed",
    "archive-source-changed",
    "archive-gap",
    "archive-diverged",
    "proof-failed",
    "proof-passed",
    "history-unavailable",
    "history-lost",
    "agent-silent",
    "agent-back",
    "link-event",
    "config-reloaded",
    "config-reload-failed",
    "storage-almost-full",
    "storage-ok",
    "rpo-over-threshold",
    "rpo-ok",
    "certificate-expiring",
    "certificate-renewed",
    "manifest-untrusted",
];

/// The `[notifications]` table. The default has no channel and no route: nothing is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationsConfig {
    /// `[notifications.email.NAME]`, sorted by name.
    pub email: Vec<EmailChannel>,
    /// `[notifications.webhook.NAME]`, sorted by name.
    pub webhooks: Vec<WebhookChannel>,
    /// `[[notifications.route]]`, in file order.
    pub routes: Vec<Route>,
    /// `notifications.repeat-after`: an open problem is told again after this long, e.g.
    /// `"24h"`. Default 24h; 10s to 30d.
    pub repeat_after: Duration,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        NotificationsConfig {
            email: Vec::new(),
            webhooks: Vec::new(),
            routes: Vec::new(),
            repeat_after: defaults::NOTIFY_REPEAT_AFTER,
        }
    }
}

/// How a mail channel secures its SMTP connection (`tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// `"none"`: plain SMTP, for a relay on the manager's host or network. Port 25.
    None,
    /// `"starttls"`: plain SMTP upgraded with STARTTLS, which the server must offer. Port 587.
    StartTls,
    /// `"tls"`: TLS from the first byte (implicit TLS, "SMTPS"). Port 465.
    Tls,
}

impl SmtpTls {
    /// The `smtp-port` of this mode when the key is absent: 25, 587 or 465.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::None => defaults::SMTP_PORT_NONE,
            SmtpTls::StartTls => defaults::SMTP_PORT_STARTTLS,
            SmtpTls::Tls => defaults::SMTP_PORT_TLS,
        }
    }
}

impl fmt::Display for SmtpTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SmtpTls::None => "none",
            SmtpTls::StartTls => "starttls",
            SmtpTls::Tls => "tls",
        })
    }
}

/// One `[notifications.email.NAME]` table: mail sent through an SMTP server.
///
/// `Debug` never shows the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailChannel {
    /// The table name, `NAME` in `[notifications.email.NAME]`: 1 to 64 characters from
    /// `A-Z a-z 0-9 _ . -`, used by no webhook channel. Routes name it in `channel`.
    pub name: String,
    /// `smtp-host`: the SMTP server's host name or address. Required; no whitespace.
    pub smtp_host: String,
    /// `smtp-port`: the SMTP server's port. Default by `tls`: 25 for `none`, 587 for
    /// `starttls`, 465 for `tls`.
    pub smtp_port: u16,
    /// `tls`: `"none"`, `"starttls"` or `"tls"`. Default `starttls`.
    pub tls: SmtpTls,
    /// `user`: the SMTP login. Optional: without it mail is sent without logging in.
    pub user: Option<String>,
    /// The SMTP password, read from `password-file` (a file with mode 0600 whose content, less
    /// one trailing newline, is the password; relative paths are relative to the config file's
    /// directory) or from the environment variable named by `password-env`. At most one of the
    /// two; one is required with `user`, and neither may be set without it.
    pub password: Option<Secret>,
    /// `from`: the sender's address, e.g. `"ferryman@example.com"` or
    /// `"Ferryman <ferryman@example.com>"`. Required; it must contain `@`.
    pub from: String,
    /// `to`: the recipients' addresses. Required: at least one, each containing `@`, each once.
    pub to: Vec<String>,
    /// `timeout`: one SMTP try's limit, connection to answer. Default 30s; 1s to 10m.
    pub timeout: Duration,
    /// `max-per-hour`: messages this channel sends per hour at most. Default 30; 1 to 10000.
    pub max_per_hour: u32,
}

/// One `[notifications.webhook.NAME]` table: a JSON body POSTed to a URL.
///
/// `Debug` never shows the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookChannel {
    /// The table name, `NAME` in `[notifications.webhook.NAME]`: 1 to 64 characters from
    /// `A-Z a-z 0-9 _ . -`, used by no email channel. Routes name it in `channel`.
    pub name: String,
    /// `url`: where the body is POSTed. Required; `http://` or `https://` and a host.
    pub url: String,
    /// The HMAC-SHA256 key that signs each body, read from `secret-file` (a file with mode
    /// 0600 whose content, less one trailing newline, is the key; relative paths are relative
    /// to the config file's directory) or from the environment variable named by
    /// `secret-env`. At most one of the two; neither: `None`, bodies are sent unsigned.
    pub secret: Option<Secret>,
    /// `retries`: tries after the first, when one fails in a way that may pass. Default 5;
    /// 0 to 20.
    pub retries: u32,
    /// `timeout`: one try's limit. Default 10s; 1s to 5m.
    pub timeout: Duration,
    /// `max-per-hour`: messages this channel sends per hour at most. Default 120; 1 to 100000.
    pub max_per_hour: u32,
}

/// The least severity of the events a route passes on (`min-severity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteSeverity {
    /// `"info"`: every event, successes included.
    Info,
    /// `"error"`: failures only.
    Error,
}

impl fmt::Display for RouteSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RouteSeverity::Info => "info",
            RouteSeverity::Error => "error",
        })
    }
}

/// One `[[notifications.route]]`: which events go to one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `channel`: the name of an email or webhook channel. Required.
    pub channel: String,
    /// `clusters`: the clusters whose events this route passes on, each a configured cluster,
    /// each once. Default empty: every cluster.
    pub clusters: Vec<String>,
    /// `kinds`: the event kinds this route passes on, each one of [`EVENT_KINDS`], each once.
    /// Default empty: every kind.
    pub kinds: Vec<String>,
    /// `min-severity`: `"info"` or `"error"`. Default `error`.
    pub min_severity: RouteSeverity,
}

/// A channel's name as the routes check it: where it is, and which table it is.
struct Named {
    name: String,
    at: Location,
    table: &'static str,
}

impl NotificationsConfig {
    /// Validates `[notifications]`; `clusters` are the names a route's `clusters` may use.
    pub(crate) fn from_raw(
        raw: RawNotifications,
        clusters: &[String],
        v: &mut Validator<'_>,
    ) -> NotificationsConfig {
        let RawNotifications {
            repeat_after,
            email,
            webhook,
            route,
        } = raw;
        let repeat_after = v.duration(
            "notifications.repeat-after",
            repeat_after,
            defaults::NOTIFY_REPEAT_AFTER,
            defaults::NOTIFY_REPEAT_AFTER_RANGE,
        );

        let mut named = Vec::new();
        let email: Vec<EmailChannel> = email
            .into_iter()
            .map(|(name, raw)| {
                let at = v.at(name.span());
                v.name("channel name", &name, false);
                let channel = EmailChannel::from_raw(name.into_inner(), raw, at.clone(), v);
                named.push(Named {
                    name: channel.name.clone(),
                    at,
                    table: "email",
                });
                channel
            })
            .collect();
        let emails: BTreeMap<String, Location> = named
            .iter()
            .map(|n| (n.name.clone(), n.at.clone()))
            .collect();
        let webhooks: Vec<WebhookChannel> = webhook
            .into_iter()
            .map(|(name, raw)| {
                let at = v.at(name.span());
                v.name("channel name", &name, false);
                if let Some(other_at) = emails.get(name.get_ref()) {
                    v.push(ConfigError::DuplicateChannelName {
                        at: at.clone(),
                        name: name.get_ref().clone(),
                        other_at: other_at.clone(),
                    });
                }
                let channel = WebhookChannel::from_raw(name.into_inner(), raw, at.clone(), v);
                named.push(Named {
                    name: channel.name.clone(),
                    at,
                    table: "webhook",
                });
                channel
            })
            .collect();

        let mut known: Vec<String> = named.iter().map(|n| n.name.clone()).collect();
        known.sort();
        known.dedup();
        let routes: Vec<Route> = route
            .into_iter()
            .enumerate()
            .map(|(i, raw)| Route::from_raw(raw, i, &known, clusters, v))
            .collect();

        for channel in named {
            if !routes.iter().any(|r| r.channel == channel.name) {
                v.warn(ConfigWarning::UnusedChannel {
                    at: channel.at,
                    name: channel.name,
                    table: channel.table,
                });
            }
        }
        NotificationsConfig {
            email,
            webhooks,
            routes,
            repeat_after,
        }
    }
}

impl Route {
    /// Validates the `index`th (0-based) `[[notifications.route]]`; `channels` are the names
    /// `channel` may use (sorted), `known_clusters` those `clusters` may.
    fn from_raw(
        raw: Spanned<RawRoute>,
        index: usize,
        channels: &[String],
        known_clusters: &[String],
        v: &mut Validator<'_>,
    ) -> Route {
        let table_at = v.at(raw.span());
        let key = |k: &str| format!("notifications.route[{index}].{k}");
        let RawRoute {
            channel,
            clusters,
            kinds,
            min_severity,
        } = raw.into_inner();
        let channel = match channel {
            Some(channel) => {
                let at = v.at(channel.span());
                let channel = channel.into_inner();
                if !channels.contains(&channel) {
                    v.push(ConfigError::UnknownChannel {
                        at,
                        key: key("channel"),
                        name: channel.clone(),
                        known: channels.to_vec(),
                    });
                }
                channel
            }
            None => {
                v.push(ConfigError::MissingKey {
                    at: table_at,
                    key: key("channel"),
                });
                String::new()
            }
        };
        let clusters = names_in(&key("clusters"), clusters, v, |at, key, name| {
            (!known_clusters.contains(&name)).then(|| ConfigError::UnknownRouteCluster {
                at,
                key,
                name,
                known: known_clusters.to_vec(),
            })
        });
        let kinds = names_in(&key("kinds"), kinds, v, |at, key, value| {
            (!EVENT_KINDS.contains(&value.as_str())).then(|| ConfigError::UnknownEventKind {
                at,
                key,
                value,
                known: EVENT_KINDS.iter().map(|k| (*k).to_owned()).collect(),
            })
        });
        Route {
            channel,
            clusters,
            kinds,
            min_severity: v.choice(
                &key("min-severity"),
                min_severity,
                defaults::ROUTE_MIN_SEVERITY,
                &defaults::ROUTE_SEVERITIES,
            ),
        }
    }
}

/// The entries of the list `key` that `unknown` (given where the entry is, `key` and the
/// entry) finds no error with, each once; the others are reported.
fn names_in(
    key: &str,
    raw: Vec<Spanned<String>>,
    v: &mut Validator<'_>,
    unknown: impl Fn(Location, String, String) -> Option<ConfigError>,
) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in raw {
        let at = v.at(name.span());
        let name = name.into_inner();
        if let Some(error) = unknown(at.clone(), key.to_owned(), name.clone()) {
            v.push(error);
        } else if names.contains(&name) {
            v.push(ConfigError::DuplicateEntry {
                at,
                key: key.to_owned(),
                value: name,
            });
        } else {
            names.push(name);
        }
    }
    names
}
