//! The channels' tables validated: `[notifications.email.NAME]` (server, TLS mode and its
//! default port, login, addresses) and `[notifications.webhook.NAME]` (URL, secret, tries).

use toml::Spanned;

use super::{EmailChannel, WebhookChannel};
use crate::defaults;
use crate::error::{ConfigError, Location};
use crate::raw::{RawEmailChannel, RawWebhookChannel};
use crate::secret::{Secret, SecretKind};
use crate::validate::Validator;

impl EmailChannel {
    /// Validates `[notifications.email.NAME]`; `anchor` is where the table is named, for
    /// missing keys.
    pub(super) fn from_raw(
        name: String,
        raw: RawEmailChannel,
        anchor: Location,
        v: &mut Validator<'_>,
    ) -> EmailChannel {
        let table = format!("notifications.email.{name}");
        let key = |k: &str| format!("{table}.{k}");
        let RawEmailChannel {
            smtp_host,
            smtp_port,
            tls,
            user,
            password_file,
            password_env,
            from,
            to,
            timeout,
            max_per_hour,
        } = raw;

        let smtp_host = match smtp_host {
            Some(host) => v.host(&key("smtp-host"), Some(host), ""),
            None => {
                v.push(ConfigError::MissingKey {
                    at: anchor.clone(),
                    key: key("smtp-host"),
                });
                String::new()
            }
        };
        let tls = v.choice(
            &key("tls"),
            tls,
            defaults::SMTP_TLS,
            &defaults::SMTP_TLS_MODES,
        );
        let smtp_port = v.port(&key("smtp-port"), smtp_port, tls.default_port());

        // Whether a password is written, not whether it could be read: `config check` may not
        // have it, and then must not also call the user password-less.
        let password_key = match (&password_file, &password_env) {
            (Some(file), _) => Some((SecretKind::SmtpPassword.file_key(), file.span())),
            (None, Some(env)) => Some((SecretKind::SmtpPassword.env_key(), env.span())),
            (None, None) => None,
        };
        let user = user.map(|user| {
            let at = v.at(user.span());
            if user.get_ref().is_empty() {
                v.push(ConfigError::EmptyValue {
                    at: at.clone(),
                    key: key("user"),
                });
            }
            if password_key.is_none() {
                v.push(ConfigError::SmtpUserWithoutPassword {
                    at,
                    table: table.clone(),
                });
            }
            user.into_inner()
        });
        if let (None, Some((password_key, span))) = (&user, password_key) {
            v.push(ConfigError::SmtpPasswordWithoutUser {
                at: v.at(span),
                table: table.clone(),
                key: password_key,
            });
        }
        let password = Secret::load(
            SecretKind::SmtpPassword,
            &table,
            password_file,
            password_env,
            v,
        );

        let from = match from {
            Some(from) => address(key("from"), from, v),
            None => {
                v.push(ConfigError::MissingKey {
                    at: anchor.clone(),
                    key: key("from"),
                });
                String::new()
            }
        };
        let to = match to {
            Some(to) => recipients(&key("to"), to, v),
            None => {
                v.push(ConfigError::MissingKey {
                    at: anchor,
                    key: key("to"),
                });
                Vec::new()
            }
        };

        EmailChannel {
            smtp_host,
            smtp_port,
            tls,
            user,
            password,
            from,
            to,
            timeout: v.duration(
                &key("timeout"),
                timeout,
                defaults::EMAIL_TIMEOUT,
                defaults::EMAIL_TIMEOUT_RANGE,
            ),
            max_per_hour: v.integer(
                &key("max-per-hour"),
                max_per_hour,
                defaults::EMAIL_MAX_PER_HOUR,
                defaults::EMAIL_MAX_PER_HOUR_RANGE,
            ),
            name,
        }
    }
}

impl WebhookChannel {
    /// Validates `[notifications.webhook.NAME]`; `anchor` is where the table is named, for a
    /// missing `url`.
    pub(super) fn from_raw(
        name: String,
        raw: RawWebhookChannel,
        anchor: Location,
        v: &mut Validator<'_>,
    ) -> WebhookChannel {
        let table = format!("notifications.webhook.{name}");
        let key = |k: &str| format!("{table}.{k}");
        let RawWebhookChannel {
            url,
            secret_file,
            secret_env,
            retries,
            timeout,
            max_per_hour,
        } = raw;
        let url = match url {
            Some(url) => {
                let at = v.at(url.span());
                let url = url.into_inner();
                if let Some(reason) = url_problem(&url) {
                    v.push(ConfigError::InvalidWebhookUrl {
                        at,
                        key: key("url"),
                        value: url.clone(),
                        reason,
                    });
                }
                url
            }
            None => {
                v.push(ConfigError::MissingKey {
                    at: anchor,
                    key: key("url"),
                });
                String::new()
            }
        };
        WebhookChannel {
            url,
            secret: Secret::load(
                SecretKind::WebhookSecret,
                &table,
                secret_file,
                secret_env,
                v,
            ),
            retries: v.integer(
                &key("retries"),
                retries,
                defaults::WEBHOOK_RETRIES,
                defaults::WEBHOOK_RETRIES_RANGE,
            ),
            timeout: v.duration(
                &key("timeout"),
                timeout,
                defaults::WEBHOOK_TIMEOUT,
                defaults::WEBHOOK_TIMEOUT_RANGE,
            ),
            max_per_hour: v.integer(
                &key("max-per-hour"),
                max_per_hour,
                defaults::WEBHOOK_MAX_PER_HOUR,
                defaults::WEBHOOK_MAX_PER_HOUR_RANGE,
            ),
            name,
        }
    }
}

/// A mail address (`from`, an entry of `to`): it must contain `@`.
fn address(key: String, raw: Spanned<String>, v: &mut Validator<'_>) -> String {
    let at = v.at(raw.span());
    let value = raw.into_inner();
    if !value.contains('@') {
        v.push(ConfigError::InvalidMailAddress {
            at,
            key,
            value: value.clone(),
        });
    }
    value
}

/// `to`: at least one address, each valid, each once.
fn recipients(key: &str, raw: Spanned<Vec<Spanned<String>>>, v: &mut Validator<'_>) -> Vec<String> {
    let at = v.at(raw.span());
    let raw = raw.into_inner();
    if raw.is_empty() {
        v.push(ConfigError::NoMailRecipients {
            at,
            key: key.to_owned(),
        });
    }
    let mut to: Vec<String> = Vec::new();
    for (i, entry) in raw.into_iter().enumerate() {
        let entry_at = v.at(entry.span());
        let address = address(format!("{key}[{i}]"), entry, v);
        if to.contains(&address) {
            v.push(ConfigError::DuplicateEntry {
                at: entry_at,
                key: key.to_owned(),
                value: address,
            });
        } else {
            to.push(address);
        }
    }
    to
}

/// What is wrong with a webhook `url`, if anything: it must be `http://` or `https://`, then a
/// host, without whitespace.
fn url_problem(url: &str) -> Option<&'static str> {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return Some("it does not start with http:// or https://");
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("it contains whitespace");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Some("it has no host");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::{NotificationsConfig, SmtpTls};
    use super::*;

    #[test]
    fn urls_need_a_scheme_and_a_host() {
        for ok in [
            "https://hooks.example.com/ferryman",
            "http://127.0.0.1:8080/hook?x=1",
            "https://[::1]:8443",
            "https://user@host/path",
        ] {
            assert_eq!(url_problem(ok), None, "{ok}");
        }
        let cases = [
            (
                "hooks.example.com/x",
                "it does not start with http:// or https://",
            ),
            ("ftp://host/x", "it does not start with http:// or https://"),
            (
                "HTTPS://host/x",
                "it does not start with http:// or https://",
            ),
            ("https://", "it has no host"),
            ("https:///path", "it has no host"),
            ("http://:8080/x", "it has no host"),
            ("https://host/a b", "it contains whitespace"),
        ];
        for (url, reason) in cases {
            assert_eq!(url_problem(url), Some(reason), "{url}");
        }
    }

    #[test]
    fn defaults_agree_with_the_tls_modes() {
        assert_eq!(SmtpTls::None.default_port(), 25);
        assert_eq!(SmtpTls::StartTls.default_port(), 587);
        assert_eq!(SmtpTls::Tls.default_port(), 465);
        let modes: Vec<String> = defaults::SMTP_TLS_MODES
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(modes, ["none", "starttls", "tls"]);
        let severities: Vec<String> = defaults::ROUTE_SEVERITIES
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(severities, ["info", "error"]);
        assert_eq!(
            NotificationsConfig::default().repeat_after.as_secs(),
            86_400
        );
    }
}
