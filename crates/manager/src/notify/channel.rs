//! One channel's sender: a queue, the rate limit, the tries, the dead letters.
//!
//! Each channel sends one message at a time, in the order events happened, on its own task, so
//! a slow receiver delays only its own channel. A message is tried `1 + retries` times (mail:
//! 3) with a growing wait between tries; one that no try delivers, one beyond the channel's
//! `max-per-hour`, one still queued when the manager stops, and one that would overflow the
//! queue is recorded as a dead letter in the history (`GET /api/v1/notifications/dead-letters`)
//! with its body and the last error: nothing is dropped unseen.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferryman_config::{EmailChannel, WebhookChannel};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::message::Message;
use super::{email, webhook};
use crate::state::{DeadLetter, State};

/// Messages waiting in one channel's queue at most.
const QUEUE: usize = 1000;
/// Tries of a mail.
const MAIL_TRIES: u32 = 3;

/// Why a try failed, and whether another may succeed.
#[derive(Debug)]
pub struct Failure {
    /// Worth another try.
    pub retry: bool,
    /// What went wrong, with the next step.
    pub error: String,
}

/// Where a channel delivers.
#[derive(Debug, Clone)]
pub enum Target {
    /// `[notifications.email.NAME]`.
    Email(EmailChannel),
    /// `[notifications.webhook.NAME]`.
    Webhook(WebhookChannel),
}

impl Target {
    fn name(&self) -> &str {
        match self {
            Target::Email(c) => &c.name,
            Target::Webhook(c) => &c.name,
        }
    }

    fn per_hour(&self) -> u32 {
        match self {
            Target::Email(c) => c.max_per_hour,
            Target::Webhook(c) => c.max_per_hour,
        }
    }

    fn tries(&self) -> u32 {
        match self {
            Target::Email(_) => MAIL_TRIES,
            Target::Webhook(c) => c.retries + 1,
        }
    }
}

/// The queue of a running channel.
#[derive(Debug, Clone)]
pub struct Channel {
    name: String,
    queue: mpsc::Sender<Message>,
    state: Arc<State>,
}

impl Channel {
    /// Starts the channel's sender on `tracker`.
    pub fn start(
        target: Target,
        state: Arc<State>,
        shutdown: CancellationToken,
        tracker: &tokio_util::task::TaskTracker,
    ) -> Channel {
        let (tx, rx) = mpsc::channel(QUEUE);
        let name = target.name().to_owned();
        let span = tracing::info_span!("notify", channel = %name);
        tracker.spawn(send_loop(target, rx, Arc::clone(&state), shutdown).instrument(span));
        Channel {
            name,
            queue: tx,
            state,
        }
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Queues `message`; a full queue makes it a dead letter at once.
    pub fn send(&self, message: Message) {
        if let Err(e) = self.queue.try_send(message) {
            let message = match e {
                mpsc::error::TrySendError::Full(m) | mpsc::error::TrySendError::Closed(m) => m,
            };
            dead(
                &self.state,
                &self.name,
                &message,
                0,
                format!("the channel's queue is full ({QUEUE} messages): its receiver is down or far too slow"),
            );
        }
    }
}

async fn send_loop(
    target: Target,
    mut rx: mpsc::Receiver<Message>,
    state: Arc<State>,
    shutdown: CancellationToken,
) {
    let http = reqwest::Client::new();
    let smtp = match &target {
        Target::Email(c) => Some(email::transport(c)),
        Target::Webhook(_) => None,
    };
    let mut sent: VecDeque<Instant> = VecDeque::new();
    let hour = Duration::from_secs(3600);
    loop {
        let message = tokio::select! {
            m = rx.recv() => match m { Some(m) => m, None => return },
            _ = shutdown.cancelled() => break,
        };
        while sent.front().is_some_and(|t| t.elapsed() >= hour) {
            sent.pop_front();
        }
        if sent.len() >= target.per_hour() as usize {
            dead(&state, target.name(), &message, 0, format!("not sent: more than `max-per-hour = {}` messages in the last hour on this channel (a storm of events? see GET /api/v1/events)", target.per_hour()));
            continue;
        }
        sent.push_back(Instant::now());
        let mut tries = 0;
        let result = loop {
            tries += 1;
            let attempt = match (&target, &smtp) {
                (Target::Email(c), Some(Ok(t))) => email::send(t, c, &message).await,
                (Target::Email(_), Some(Err(e))) => Err(Failure {
                    retry: false,
                    error: e.clone(),
                }),
                (Target::Webhook(c), _) => {
                    webhook::post(
                        &http,
                        c,
                        &message.event.kind.as_str(),
                        message.event.id,
                        &message.json(),
                    )
                    .await
                }
                (Target::Email(_), None) => Ok(()),
            };
            match attempt {
                Ok(()) => break Ok(()),
                Err(f) if f.retry && tries < target.tries() => {
                    tracing::warn!(event_id = message.event.id, try_ = tries, error = %f.error, "notification not delivered; trying again");
                    tokio::select! {
                        _ = tokio::time::sleep(webhook::backoff(tries)) => {}
                        _ = shutdown.cancelled() => break Err(format!("{}; the manager stopped before another try", f.error)),
                    }
                }
                Err(f) => break Err(f.error),
            }
        };
        match result {
            Ok(()) => {
                tracing::info!(event_id = message.event.id, tries, "notification delivered")
            }
            Err(error) => dead(&state, target.name(), &message, tries, error),
        }
    }
    // Stopping: what is still queued is recorded, not lost.
    rx.close();
    while let Ok(message) = rx.try_recv() {
        dead(
            &state,
            target.name(),
            &message,
            0,
            "not sent: the manager stopped first".to_owned(),
        );
    }
}

/// Records `message` as a dead letter of `channel`.
fn dead(state: &State, channel: &str, message: &Message, tries: u32, error: String) {
    tracing::error!(%channel, event_id = message.event.id, tries, %error, "notification not delivered: recorded as a dead letter (GET /api/v1/notifications/dead-letters)");
    state.save_dead_letter(&DeadLetter {
        id: 0,
        at: ferryman_repo::Timestamp::now().unix(),
        channel: channel.to_owned(),
        event_id: message.event.id,
        tries,
        error,
        body: message.json(),
    });
}
