//! The [`Mailer`] port over `lettre`: an SMTP server when `USERD_SMTP_URL` is set, else one
//! `.eml` file per mail in `$USERD_DATA_DIR/outbox/`, so a newcomer can read the mails
//! userd sends without any mail server.
//!
//! `USERD_SMTP_URL` follows lettre's form: `smtps://user:pass@host:465` for implicit TLS,
//! `smtp://user:pass@host:587?tls=required` for STARTTLS, `?tls=opportunistic` to use it
//! when offered. A plain `smtp://` URL to any host but this machine gets `tls=required`,
//! so a password never crosses a network in the clear; `?tls=none` says plain on purpose.

use std::path::{Path, PathBuf};

use anyhow::Context;
use async_trait::async_trait;
use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};

use crate::domain::{Result, model::Mail, ports::Mailer};

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>, PathBuf),
}

pub struct LettreMailer {
    from: Mailbox,
    transport: Transport,
}

/// The SMTP URL lettre is given: `tls=required` added for remote hosts without a `tls`
/// parameter, `tls=none` taken out (lettre's plain default).
fn lettre_url(url: &str) -> anyhow::Result<String> {
    let mut parsed = reqwest::Url::parse(url).context("not a URL like smtp://user:pass@host:587")?;
    anyhow::ensure!(matches!(parsed.scheme(), "smtp" | "smtps"), "must start with smtp:// or smtps://");
    let host = parsed.host_str().filter(|h| !h.is_empty()).context("names no host")?.to_string();
    let pairs: Vec<(String, String)> = parsed.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let tls = pairs.iter().find(|(k, _)| k == "tls").map(|(_, v)| v.as_str());
    let loopback = host == "localhost"
        || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let kept: Vec<(String, String)> = match tls {
        Some("none") => pairs.iter().filter(|(k, _)| k != "tls").cloned().collect(),
        None if parsed.scheme() == "smtp" && !loopback => {
            let mut p = pairs.clone();
            p.push(("tls".into(), "required".into()));
            p
        }
        _ => pairs.clone(),
    };
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    Ok(parsed.to_string())
}

impl LettreMailer {
    /// SMTP at `smtp_url`, or files in `outbox` without one.
    pub fn new(smtp_url: Option<&str>, outbox: &Path, from: &str) -> anyhow::Result<Self> {
        let from: Mailbox =
            from.parse().with_context(|| format!("'{from}' is not an address like userd <no-reply@example.com>"))?;
        let transport = match smtp_url {
            Some(url) => {
                let url = lettre_url(url)?;
                Transport::Smtp(AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)?.build())
            }
            None => {
                std::fs::create_dir_all(outbox).with_context(|| format!("creating {}", outbox.display()))?;
                Transport::Files(AsyncFileTransport::<Tokio1Executor>::new(outbox), outbox.to_path_buf())
            }
        };
        Ok(LettreMailer { from, transport })
    }
}

#[async_trait]
impl Mailer for LettreMailer {
    async fn send(&self, mail: &Mail) -> Result<()> {
        let to: Mailbox = mail.to.parse().context("recipient address")?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text.clone())
            .context("building the mail")?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await.context("sending the mail over SMTP")?;
                tracing::info!(subject = %mail.subject, "mail sent");
            }
            Transport::Files(files, dir) => {
                let id = files.send(message).await.context("writing the mail to the outbox directory")?;
                tracing::info!(subject = %mail.subject, file = %dir.join(format!("{id}.eml")).display(), "mail written");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_plain_smtp_requires_starttls() {
        assert_eq!(
            lettre_url("smtp://u:p@mail.example.com:587").ok().as_deref(),
            Some("smtp://u:p@mail.example.com:587?tls=required")
        );
        assert_eq!(lettre_url("smtp://u:p@127.0.0.1:2525").ok().as_deref(), Some("smtp://u:p@127.0.0.1:2525"));
        assert_eq!(
            lettre_url("smtp://mail.example.com:25?tls=none").ok().as_deref(),
            Some("smtp://mail.example.com:25")
        );
        assert_eq!(lettre_url("smtps://u:p@mail.example.com").ok().as_deref(), Some("smtps://u:p@mail.example.com"));
        assert!(lettre_url("http://mail.example.com").is_err());
        assert!(lettre_url("not a url").is_err());
    }
}
