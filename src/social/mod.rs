//! Google and GitHub, spoken over their public protocols: the sign-in providers
//! ([`IdentityProvider`]) of userd.
//!
//! Google's ID tokens are verified here, against Google's published keys, never by asking
//! Google per login; GitHub's authorization codes are exchanged with GitHub's OAuth server
//! and the person read from its API. Every outbound call is async with a timeout. What a
//! provider said when it refused is logged, never returned: callers only learn the kind.
//! A small client instead of the `oauth2` crate, which pins a second HTTP stack.

mod github;
mod google;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use jiff::Timestamp;
use serde::de::DeserializeOwned;

pub use self::{github::GitHub, google::Google};
use crate::{
    config::SocialConfig,
    domain::{
        Error, Result,
        error::Feature,
        model::{Provider, ProviderIdentity},
        ports::IdentityProvider,
    },
};

/// Per-request limit of calls to a provider: a sign-in waits for at most a few of these.
const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer read from a provider (key sets, users and e-mail lists are a few KiB).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// Longest name part kept, as the accounts store names.
const MAX_NAME_CHARS: usize = 150;

/// The Google and GitHub providers the settings describe; an unconfigured one answers
/// `Error::NotConfigured`.
pub fn providers(config: &SocialConfig) -> anyhow::Result<(Arc<dyn IdentityProvider>, Arc<dyn IdentityProvider>)> {
    let google: Arc<dyn IdentityProvider> = match &config.google_client_id {
        Some(id) => Arc::new(Google::new(id.clone(), config.google_jwks_url.clone(), client()?)),
        None => Arc::new(Unconfigured(Provider::Google)),
    };
    let github: Arc<dyn IdentityProvider> = match (&config.github_client_id, &config.github_client_secret) {
        (Some(id), Some(secret)) => Arc::new(GitHub::new(
            id.clone(),
            secret.clone(),
            &config.github_oauth_url,
            &config.github_api_url,
            client()?,
        )),
        _ => Arc::new(Unconfigured(Provider::GitHub)),
    };
    Ok((google, github))
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        // GitHub's API refuses requests without one.
        .user_agent(concat!("userd/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// A provider without settings.
struct Unconfigured(Provider);

#[async_trait]
impl IdentityProvider for Unconfigured {
    async fn identify(&self, _credential: &str, _now: Timestamp) -> Result<ProviderIdentity> {
        Err(Error::NotConfigured(Feature::Login(self.0)))
    }
}

/// Reads a JSON answer of at most [`MAX_ANSWER_BYTES`].
async fn read_json<T: DeserializeOwned>(mut res: reqwest::Response) -> std::result::Result<T, String> {
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| format!("reading the answer failed: {e}"))? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(format!("the answer is larger than {MAX_ANSWER_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| format!("the answer is not the JSON expected: {e}"))
}
