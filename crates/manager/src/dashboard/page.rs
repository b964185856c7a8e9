//! The dashboard's page frame (head, style, navigation) and the small formats every page
//! shares: times as RFC 3339 with their age, sizes, states.

use ferryman_repo::Timestamp;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::session::Session;

/// The one stylesheet, inline: no asset to serve, nothing to build.
const STYLE: &str = r#"
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f5f6f8; }
header { background: #1d2330; color: #fff; padding: 8px 16px; display: flex; gap: 16px; align-items: center; }
header a { color: #cfd6e4; text-decoration: none; } header a:hover { color: #fff; }
header form { margin-left: auto; }
main { padding: 16px; }
section.cluster { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: 12px 16px; margin-bottom: 16px; }
h1 { font-size: 20px; margin: 0 0 12px; } h2 { font-size: 17px; margin: 0 0 8px; } h3 { font-size: 14px; margin: 12px 0 4px; color: #4a5468; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eceff3; vertical-align: top; }
th { font-weight: 600; color: #4a5468; }
.ok { color: #17803d; font-weight: 600; } .bad { color: #b42318; font-weight: 600; } .muted { color: #7a8396; }
.error { color: #b42318; }
form.inline { display: inline; }
button { font: inherit; padding: 3px 10px; border: 1px solid #9aa4b8; border-radius: 4px; background: #fff; cursor: pointer; }
button.danger { border-color: #b42318; color: #b42318; }
progress { width: 120px; }
code { font-size: 13px; }
"#;

/// A page with the navigation (for a logged-in session), refreshed every `refresh` seconds
/// when given.
pub fn frame(title: &str, session: &Session, refresh: Option<u32>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                @if let Some(s) = refresh { meta http-equiv="refresh" content=(s); }
                title { (title) " · Ferryman" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { "Ferryman" }
                    a href="/ui" { "Fleet" }
                    a href="/ui/backups" { "Backups" }
                    a href="/ui/jobs" { "Jobs" }
                    a href="/ui/events" { "Events" }
                    form method="post" action="/ui/logout" {
                        input type="hidden" name="csrf" value=(session.csrf);
                        button type="submit" { "Log out" }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A page without navigation (the login form, refusals).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · Ferryman" }
                style { (PreEscaped(STYLE)) }
            }
            body { main { (body) } }
        }
    }
}

/// The hidden field every changing form carries.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// `2026-12-04T10:00:00Z (3h ago)`.
pub fn when(t: Timestamp) -> Markup {
    let age = Timestamp::now().unix() - t.unix();
    html! { (t.rfc3339()) " " span.muted { "(" (crate::fleet::ago(age)) " ago)" } }
}

pub use crate::fleet::bytes;
