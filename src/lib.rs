//! userd: one users service speaking five users APIs over one set of users.
//!
//! `main.rs` parses the command line; [`Application`] wires config → store → domain → HTTP.

#![forbid(unsafe_code)]

pub mod blob;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod import;
pub mod mail;
pub mod secret;
pub mod seed;
pub mod social;
pub mod store;
pub mod stripe;
pub mod telemetry;

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::{
    config::Config,
    domain::{
        Domain, Ports, Settings,
        billing::{BillingSettings, Plans},
        clock::{Clock, SystemClock},
        sessions::tokens::TokenSettings,
    },
    store::SqlStore,
    stripe::StripeGateway,
};

/// Opens the database named by the config and applies migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<SqlStore>> {
    // Its error names the server or the file and the cause already.
    let store = SqlStore::connect_with(&config.database_url, config.db_pool).await?;
    store.migrate().await.context("applying migrations")?;
    Ok(Arc::new(store))
}

/// Builds the domain over `store`: every storage port is the SQL store, file bytes go
/// where `USERD_STORAGE_URL` says, payments to Stripe, sign-ins to Google and GitHub.
pub async fn build_domain(config: &Config, store: Arc<SqlStore>, clock: Arc<dyn Clock>) -> anyhow::Result<Domain> {
    let (google, github) = social::providers(&config.social).context("setting up the Google and GitHub clients")?;
    let ports = Ports {
        users: store.clone(),
        sessions: store.clone(),
        keys: store.clone(),
        api_tokens: store.clone(),
        files: store.clone(),
        blobs: Arc::new(blob::ObjectBlobs::open(config).context("opening USERD_STORAGE_URL")?),
        billing: store.clone(),
        directory: store.clone(),
        follows: store.clone(),
        outbox: store.clone(),
        identities: store.clone(),
        imports: store.clone(),
        events: store.clone(),
        lifecycle: store.clone(),
        throttle: store.clone(),
        uow: store.clone(),
        bus: store.clone(),
        health: store,
        google,
        github,
        mailer: Arc::new(
            mail::LettreMailer::new(
                config.smtp_url.as_ref().map(|u| u.expose_secret()),
                &config.data_dir.join("outbox"),
                &config.mail_from,
            )
            .context("setting up mail (USERD_SMTP_URL, USERD_MAIL_FROM)")?,
        ),
    };
    let first = config.bind.first().map_or_else(|| "127.0.0.1:8000".to_string(), ToString::to_string);
    let settings = Settings {
        master_key: secret::master_key(config)?,
        tokens: TokenSettings { alg: config.jwt_alg, access_ttl: config.access_ttl, refresh_ttl: config.refresh_ttl },
        billing: billing(config)?,
        max_upload_bytes: config.max_upload_bytes,
        pending_upload_ttl: config.pending_upload_ttl,
        pictures: domain::pictures::PictureLimits::default(),
        rate_limit: config.rate_limit,
        throttle: config.throttle,
        hashing_threads: hashing_threads(),
        public_url: config.public_url.clone().unwrap_or_else(|| format!("http://{first}")),
        event_retention: config.event_retention,
    };
    Domain::build(ports, settings, clock).await.context("loading signing keys")
}

/// Threads of the password hashing pool: one per core.
pub fn hashing_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Stripe and the plans it sells. Checkout returns to `{public URL}/settings` unless told
/// otherwise; [`Application::build`] fills in the public URL once the port is bound.
fn billing(config: &Config) -> anyhow::Result<BillingSettings> {
    let first = config.bind.first().map_or_else(|| "127.0.0.1:8000".to_string(), ToString::to_string);
    let base = config.public_url.clone().unwrap_or_else(|| format!("http://{first}"));
    let default = || format!("{base}/settings");
    Ok(BillingSettings {
        gateway: Arc::new(StripeGateway::new(&config.stripe).context("setting up the Stripe client")?),
        plans: Plans::new(config.stripe.prices.clone()),
        success_url: config.stripe.success_url.clone().unwrap_or_else(default),
        cancel_url: config.stripe.cancel_url.clone().unwrap_or_else(default),
    })
}

/// How often the request timings recorded since are folded into the metrics' histograms.
const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// A bound, ready-to-serve instance.
pub struct Application {
    /// One per address of `USERD_BIND`, in its order.
    listeners: Vec<(TcpListener, SocketAddr)>,
    first: SocketAddr,
    router: http::App,
    store: Arc<SqlStore>,
    public_url: String,
    trusted_proxies: Vec<ipnet::IpNet>,
    max_connections_per_client: usize,
}

impl Application {
    /// Binds the listener (port 0 picks a free port), connects, migrates and loads keys.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`Application::build`] with the domain reading time from `clock` (tests move it).
    pub async fn build_with_clock(mut config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        // Bound first: the public URL (and so Stripe's return URLs) may name the port picked.
        let mut listeners = Vec::with_capacity(config.bind.len());
        for wanted in &config.bind {
            let listener = TcpListener::bind(wanted).await.with_context(|| format!("binding {wanted}"))?;
            let addr = listener.local_addr()?;
            listeners.push((listener, addr));
        }
        let first = listeners.first().map(|(_, addr)| *addr).context("no address to listen on")?;
        let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{first}"));
        for url in [&mut config.stripe.success_url, &mut config.stripe.cancel_url] {
            url.get_or_insert_with(|| format!("{public_url}/settings"));
        }
        // Links in mails name the port actually bound.
        config.public_url = Some(public_url.clone());
        // The API's description and the metrics recorder (whose clock calibrates itself once
        // a process, a few milliseconds) need no database: they are made while it opens.
        let described = tokio::task::spawn_blocking(|| (http::describe(), telemetry::Metrics::new()));
        let store = open_store(&config).await?;
        let domain = build_domain(&config, store.clone(), clock).await?;
        domain.spawn_background();
        let trusted_proxies = config.trusted_proxies.clone();
        let max_connections_per_client = config.max_connections_per_client;
        let (described, metrics) = described.await.context("describing the API")?;
        let state = http::AppState::new(domain, config, public_url.clone(), metrics);
        state.metrics.spawn_upkeep(METRICS_UPKEEP);
        Ok(Application {
            listeners,
            first,
            router: http::router(state, described),
            store,
            public_url,
            trusted_proxies,
            max_connections_per_client,
        })
    }

    /// The first address listened on.
    pub fn local_addr(&self) -> SocketAddr {
        self.first
    }

    /// Every address listened on, in `USERD_BIND`'s order.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.iter().map(|(_, addr)| *addr).collect()
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    /// Every address serves the same application.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut servers = tokio::task::JoinSet::new();
        let proxies = http::client::TrustedProxies::new(self.trusted_proxies.clone());
        for (listener, _) in self.listeners {
            let router = self.router.clone();
            let proxies = proxies.clone();
            let mut stopped = stopped.clone();
            servers.spawn(http::server::serve(
                listener,
                router,
                proxies,
                self.max_connections_per_client,
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            ));
        }
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let mut result = Ok(());
        while let Some(done) = servers.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e.into()),
                Err(e) => result = Err(anyhow::anyhow!("a listener's task failed: {e}")),
            }
        }
        self.store.close().await;
        result
    }
}
