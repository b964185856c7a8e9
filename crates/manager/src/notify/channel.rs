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
        let (message, why) = match self.queue.try_send(message) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(m)) => (
                m,
                format!("the channel's queue is full ({QUEUE} messages): its receiver is down or far too slow"),
            ),
            Err(mpsc::error::TrySendError::Closed(m)) => {
                (m, "not sent: the manager is stopping".to_owned())
            }
        };
        dead(&self.state, &self.name, &message, 0, why);
    }
}

/// How one try is made, set up once per channel.
enum Via {
    /// The mail transport (or why it cannot be built: every try fails with that).
    Mail(
        EmailChannel,
        Box<Result<lettre::AsyncSmtpTransport<lettre::Tokio1Executor>, String>>,
    ),
    /// The HTTP client the webhook is posted with.
    Post(WebhookChannel, reqwest::Client),
}

impl Via {
    fn new(target: &Target) -> Via {
        match target {
            Target::Email(c) => Via::Mail(c.clone(), Box::new(email::transport(c))),
            Target::Webhook(c) => Via::Post(c.clone(), reqwest::Client::new()),
        }
    }

    async fn attempt(&self, message: &Message) -> Result<(), Failure> {
        match self {
            Via::Mail(c, transport) => match transport.as_ref() {
                Ok(transport) => email::send(transport, c, message).await,
                Err(e) => Err(Failure {
                    retry: false,
                    error: e.clone(),
                }),
            },
            Via::Post(c, http) => {
                let kind = message.event.kind.as_str();
                webhook::post(http, c, &kind, message.event.id, &message.json()).await
            }
        }
    }
}

/// Waits before try `n + 1` (`n` tries made): 1 s, 2 s, 4 s, ... at most a minute.
pub(super) fn backoff(n: u32) -> Duration {
    Duration::from_secs(1u64 << n.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

async fn send_loop(
    target: Target,
    mut rx: mpsc::Receiver<Message>,
    state: Arc<State>,
    shutdown: CancellationToken,
) {
    let via = Via::new(&target);
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
            let attempt = via.attempt(&message).await;
            match attempt {
                Ok(()) => break Ok(()),
                Err(f) if f.retry && tries < target.tries() => {
                    tracing::warn!(event_id = message.event.id, try_ = tries, error = %f.error, "notification not delivered; trying again");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff(tries)) => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tries_wait_longer_each_time_up_to_a_minute() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(4));
        assert_eq!(backoff(20), Duration::from_secs(60));
    }
}
