//! GitHub sign-in: an OAuth app's authorization code exchanged for an access token at
//! `{oauth}/login/oauth/access_token`, then the person read from `{api}/user` and
//! `{api}/user/emails`. The access token is used for those two reads and dropped.

use async_trait::async_trait;
use jiff::Timestamp;
use reqwest::header::ACCEPT;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{MAX_NAME_CHARS, read_json};
use crate::domain::{
    Error, Result,
    model::{Email, Provider, ProviderIdentity, identity::split_full_name},
    ports::IdentityProvider,
};

/// GitHub as a sign-in provider for one OAuth app.
pub struct GitHub {
    client_id: String,
    client_secret: SecretString,
    token_url: String,
    api_url: String,
    http: reqwest::Client,
}

/// The token endpoint's answer. GitHub reports a bad code with 200 and `error`
/// (`bad_verification_code`, `incorrect_client_credentials`, …) instead of a 4xx.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
    name: Option<String>,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

/// Why GitHub vouched for no identity, for the log: `Refused` is about the code or the
/// person (info), `Failed` about GitHub or the app's settings (warning).
enum Why {
    Refused(String),
    Failed(String),
}

impl GitHub {
    pub fn new(
        client_id: String,
        client_secret: SecretString,
        oauth_url: &str,
        api_url: &str,
        http: reqwest::Client,
    ) -> Self {
        GitHub {
            client_id,
            client_secret,
            token_url: format!("{}/login/oauth/access_token", oauth_url.trim_end_matches('/')),
            api_url: api_url.trim_end_matches('/').to_string(),
            http,
        }
    }

    async fn exchange(&self, code: &str) -> std::result::Result<SecretString, Why> {
        let form = [
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
            ("code", code),
        ];
        let res = self
            .http
            .post(&self.token_url)
            .header(ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| Why::Failed(format!("the code exchange failed: {e}")))?;
        let status = res.status();
        if !status.is_success() {
            return Err(Why::Failed(format!("the code exchange answered {status}")));
        }
        let answer: TokenAnswer = read_json(res).await.map_err(|e| Why::Failed(format!("the code exchange: {e}")))?;
        match (answer.access_token, answer.error) {
            (Some(token), None) if !token.is_empty() => Ok(SecretString::from(token)),
            (_, Some(error)) => {
                let description = answer.error_description.unwrap_or_default();
                let message = format!("the code exchange answered {error}: {description}");
                // A bad or reused code is the client's; anything else is the app's settings.
                if error == "bad_verification_code" { Err(Why::Refused(message)) } else { Err(Why::Failed(message)) }
            }
            _ => Err(Why::Failed("the code exchange answered neither a token nor an error".into())),
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        token: &SecretString,
    ) -> std::result::Result<T, Why> {
        let res = self
            .http
            .get(format!("{}{path}", self.api_url))
            .bearer_auth(token.expose_secret())
            .header(ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .send()
            .await
            .map_err(|e| Why::Failed(format!("GET {path} failed: {e}")))?;
        let status = res.status();
        if !status.is_success() {
            return Err(Why::Failed(format!("GET {path} answered {status}")));
        }
        read_json(res).await.map_err(|e| Why::Failed(format!("GET {path}: {e}")))
    }

    async fn person(&self, code: &str) -> std::result::Result<ProviderIdentity, Why> {
        let token = self.exchange(code).await?;
        let user: GitHubUser = self.get("/user", &token).await?;
        // Needs the `user:email` scope; GitHub lists private addresses too.
        let emails: Vec<GitHubEmail> = self.get("/user/emails", &token).await?;
        // Only the primary address, and only when GitHub has verified it: the domain refuses
        // an identity without one.
        let verified_email = emails.iter().find(|e| e.primary && e.verified).and_then(|e| Email::parse(&e.email).ok());
        let (first_name, last_name) = split_full_name(user.name.as_deref().unwrap_or(""), MAX_NAME_CHARS);
        Ok(ProviderIdentity {
            provider: Provider::GitHub,
            subject: user.id.to_string(),
            verified_email,
            first_name,
            last_name,
        })
    }
}

#[async_trait]
impl IdentityProvider for GitHub {
    async fn identify(&self, credential: &str, _now: Timestamp) -> Result<ProviderIdentity> {
        self.person(credential.trim()).await.map_err(|why| {
            match why {
                Why::Refused(reason) => tracing::info!(%reason, "GitHub sign-in refused"),
                Why::Failed(reason) => tracing::warn!(%reason, "GitHub sign-in failed"),
            }
            Error::ProviderRefused(Provider::GitHub)
        })
    }
}
