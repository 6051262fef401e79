//! userd: one users service speaking five users APIs over one set of users.
//!
//! `main.rs` parses the command line; [`Application`] wires config → store → domain → HTTP.

#![forbid(unsafe_code)]

pub mod blob;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod secret;
pub mod store;
pub mod stripe;
pub mod telemetry;

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use tokio::net::TcpListener;

use crate::{
    config::Config,
    domain::{
        Service, Stores,
        billing::{Billing, Plans},
        crypto::{Purpose, Sealer},
        passwords::PasswordHasher,
        throttle::Throttle,
        tokens::Tokens,
    },
    store::SqlStore,
    stripe::StripeGateway,
};

/// Opens the database named by the config and applies migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<SqlStore>> {
    let store = SqlStore::connect(&config.database_url).await.context("connecting to the database")?;
    store.migrate().await.context("applying migrations")?;
    Ok(Arc::new(store))
}

/// Builds the domain service over `store`.
pub async fn build_service(config: &Config, store: Arc<SqlStore>) -> anyhow::Result<Service> {
    let master = secret::master_key(config)?;
    let sealer = Arc::new(Sealer::derive(secret::AsBytes::as_bytes(&master), Purpose::SigningKeys)?);
    let stores = Stores {
        users: store.clone(),
        sessions: store.clone(),
        keys: store.clone(),
        api_tokens: store.clone(),
        files: store.clone(),
        blobs: Arc::new(blob::ObjectBlobs::open(config).context("opening USERD_STORAGE_URL")?),
        billing: store.clone(),
        health: store.clone(),
    };
    let token_sealer = Sealer::derive(secret::AsBytes::as_bytes(&master), Purpose::ApiTokens)?;
    let tokens = Tokens::load(stores.keys.clone(), sealer, config.jwt_alg, config.access_ttl, config.refresh_ttl)
        .await
        .context("loading signing keys")?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hasher = PasswordHasher::new(workers)?;
    Ok(Service::new(stores, billing(config)?, token_sealer, hasher, tokens, Throttle::new(config.rate_limit))
        .with_max_upload_bytes(config.max_upload_bytes))
}

/// Stripe and the plans it sells. Checkout returns to `{public URL}/settings` unless told
/// otherwise; [`Application::build`] fills in the public URL once the port is bound.
fn billing(config: &Config) -> anyhow::Result<Billing> {
    let base = config.public_url.clone().unwrap_or_else(|| format!("http://{}", config.bind));
    let default = || format!("{base}/settings");
    Ok(Billing {
        gateway: Arc::new(StripeGateway::new(&config.stripe).context("setting up the Stripe client")?),
        plans: Plans::new(config.stripe.prices.clone()),
        success_url: config.stripe.success_url.clone().unwrap_or_else(default),
        cancel_url: config.stripe.cancel_url.clone().unwrap_or_else(default),
    })
}

/// A bound, ready-to-serve instance.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    store: Arc<SqlStore>,
    addr: SocketAddr,
    public_url: String,
}

impl Application {
    /// Binds the listener (port 0 picks a free port), connects, migrates and loads keys.
    pub async fn build(mut config: Config) -> anyhow::Result<Self> {
        // Bound first: the public URL (and so Stripe's return URLs) may name the port picked.
        let listener = TcpListener::bind(config.bind).await.with_context(|| format!("binding {}", config.bind))?;
        let addr = listener.local_addr()?;
        let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
        for url in [&mut config.stripe.success_url, &mut config.stripe.cancel_url] {
            url.get_or_insert_with(|| format!("{public_url}/settings"));
        }
        let store = open_store(&config).await?;
        let svc = build_service(&config, store.clone()).await?;
        svc.spawn_background();
        let state = http::AppState {
            svc,
            config: Arc::new(config),
            public_url: public_url.clone().into(),
            metrics: telemetry::metrics_handle(),
        };
        Ok(Application { listener, router: http::router(state), store, addr, public_url })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let app = self.router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, app).with_graceful_shutdown(shutdown).await?;
        self.store.close().await;
        Ok(())
    }
}
