//! A mail try: the message built and handed to the SMTP server (`lettre`, rustls for STARTTLS
//! and TLS; the password read from its file or variable by the configuration, never logged).

use ferryman_config::{EmailChannel, SmtpTls};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::channel::Failure;
use super::message::Message;

/// The transport of `channel`, or why it cannot be built (a bad host name for TLS).
pub(super) fn transport(
    channel: &EmailChannel,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let host = channel.smtp_host.as_str();
    let builder = match channel.tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
            .map_err(|e| format!("`smtp-host = {host}` cannot be used with STARTTLS: {e}"))?,
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
            .map_err(|e| format!("`smtp-host = {host}` cannot be used with TLS: {e}"))?,
    };
    let mut builder = builder
        .port(channel.smtp_port)
        .timeout(Some(channel.timeout));
    if let (Some(user), Some(password)) = (&channel.user, &channel.password) {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose_secret().to_owned(),
        ));
    }
    Ok(builder.build())
}

/// One try at mailing `message` to the channel's recipients.
pub(super) async fn send(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    channel: &EmailChannel,
    message: &Message,
) -> Result<(), Failure> {
    let permanent = |error: String| Failure {
        retry: false,
        error,
    };
    let mut builder = lettre::Message::builder()
        .from(
            channel
                .from
                .parse()
                .map_err(|e| permanent(format!("`from = {}`: {e}", channel.from)))?,
        )
        .subject(message.subject())
        .header(ContentType::TEXT_PLAIN);
    for to in &channel.to {
        builder = builder.to(to
            .parse()
            .map_err(|e| permanent(format!("`to` address {to}: {e}")))?);
    }
    let mail = builder
        .body(message.text())
        .map_err(|e| permanent(format!("cannot build the mail: {e}")))?;
    match transport.send(mail).await {
        Ok(_) => Ok(()),
        Err(e) => Err(Failure {
            // A 5xx answer (unknown recipient, refused sender) will be the same next time.
            retry: !e.is_permanent(),
            error: format!(
                "SMTP {}:{}: {e}; check the channel's smtp-host, smtp-port, tls and credentials",
                channel.smtp_host, channel.smtp_port
            ),
        }),
    }
}
