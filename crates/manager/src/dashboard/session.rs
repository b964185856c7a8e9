//! Logging in to the dashboard: the API token typed once into a form, then a session cookie.
//!
//! # Why a cookie
//! A browser cannot send the API's bearer token by itself. The login form takes the same
//! token (checked as the API checks it); a session is then a random 256-bit id in an
//! `HttpOnly`, `SameSite=Strict` cookie scoped to `/ui`, kept in memory for 12 hours of
//! inactivity (a restarted manager asks to log in again). Every form that changes something
//! carries the session's own random CSRF token, checked before anything is done; with
//! `SameSite=Strict` another site can neither read nor send the cookie.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use rand::RngCore;
use serde::Deserialize;

use super::page;

/// The cookie's name.
const COOKIE: &str = "ferryman_session";
/// A session unused this long is forgotten.
const IDLE: Duration = Duration::from_secs(12 * 3600);

/// A logged-in browser, as handlers see it.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token every form that changes something must carry.
    pub csrf: String,
}

#[derive(Debug)]
struct Entry {
    session: Session,
    used: Instant,
}

/// The sessions and what logging in checks.
#[derive(Debug, Clone)]
pub struct Sessions {
    inner: Arc<Mutex<HashMap<String, Entry>>>,
    /// The API token's digest.
    digest: [u8; 32],
    /// `; Secure` on the cookie when the dashboard is served over HTTPS.
    secure: &'static str,
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl Sessions {
    /// Sessions of a dashboard whose login takes the token of digest `digest`.
    pub fn new(digest: [u8; 32], https: bool) -> Sessions {
        Sessions {
            inner: Arc::new(Mutex::new(HashMap::new())),
            digest,
            secure: if https { "; Secure" } else { "" },
        }
    }

    fn create(&self) -> (String, Session) {
        let id = random_hex();
        let session = Session { csrf: random_hex() };
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, e| e.used.elapsed() < IDLE);
        map.insert(
            id.clone(),
            Entry {
                session: session.clone(),
                used: Instant::now(),
            },
        );
        (id, session)
    }

    fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map.get_mut(id)?;
        if entry.used.elapsed() >= IDLE {
            map.remove(id);
            return None;
        }
        entry.used = Instant::now();
        Some(entry.session.clone())
    }

    fn remove(&self, id: &str) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

/// The session id the request's cookie names.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(&format!("{COOKIE}="))
                .map(str::to_owned)
        })
}

/// Lets a request through with a live session (given to the handler), else sends the browser
/// to the login form.
pub async fn require(
    State(sessions): State<Sessions>,
    mut request: Request,
    next: Next,
) -> Response {
    match cookie(request.headers()).and_then(|id| sessions.get(&id)) {
        Some(session) => {
            request.extensions_mut().insert(session);
            next.run(request).await
        }
        None => Redirect::to("/ui/login").into_response(),
    }
}

/// `GET /ui/login`.
pub async fn form() -> Response {
    login_page(None, StatusCode::OK)
}

fn login_page(error: Option<&str>, status: StatusCode) -> Response {
    let body = html! {
        h1 { "Ferryman" }
        p { "Log in with the manager's API token (the one `ferryman` reads from "
            code { "api-token-file" } " or " code { "monitoring-datadir/api.token" } ")." }
        @if let Some(e) = error { p.error { (e) } }
        form method="post" action="/ui/login" {
            label { "API token " input type="password" name="token" id="token" autofocus required; }
            " "
            button type="submit" id="login" { "Log in" }
        }
    };
    (status, page::bare("Log in", body)).into_response()
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct Login {
    token: String,
}

/// `POST /ui/login`.
pub async fn login(State(sessions): State<Sessions>, Form(login): Form<Login>) -> Response {
    if !crate::api::digest_matches(&sessions.digest, login.token.trim()) {
        tracing::warn!("dashboard login refused: wrong token");
        return login_page(
            Some("That is not the API token: see the manager's configuration for where it is."),
            StatusCode::UNAUTHORIZED,
        );
    }
    let (id, _) = sessions.create();
    let mut response = Redirect::to("/ui").into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}={id}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{}",
        IDLE.as_secs(),
        sessions.secure
    )) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// `POST /ui/logout`.
pub async fn logout(State(sessions): State<Sessions>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers) {
        sessions.remove(&id);
    }
    let mut response = Redirect::to("/ui/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "ferryman_session=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    response
}

/// The refusal of a form whose CSRF token is not the session's (compared in constant time);
/// `None` when it is.
pub fn refuse_forged(session: &Session, sent: &str) -> Option<Response> {
    use sha2::Digest;
    let expected: [u8; 32] = sha2::Sha256::digest(session.csrf.as_bytes()).into();
    if crate::api::digest_matches(&expected, sent) {
        return None;
    }
    Some((
        StatusCode::FORBIDDEN,
        page::bare(
            "Refused",
            html! { p.error { "This form is stale or did not come from this dashboard: reload the page and try again." } },
        ),
    )
        .into_response())
}
