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
pub mod telemetry;

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use tokio::net::TcpListener;

use crate::{
    config::Config,
    domain::{
        Service, Stores,
        crypto::{Purpose, Sealer},
        passwords::PasswordHasher,
        throttle::Throttle,
        tokens::Tokens,
    },
    store::SqlStore,
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
        health: store.clone(),
    };
    let token_sealer = Sealer::derive(secret::AsBytes::as_bytes(&master), Purpose::ApiTokens)?;
    let tokens = Tokens::load(stores.keys.clone(), sealer, config.jwt_alg, config.access_ttl, config.refresh_ttl)
        .await
        .context("loading signing keys")?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hasher = PasswordHasher::new(workers)?;
    Ok(Service::new(stores, token_sealer, hasher, tokens, Throttle::new(config.rate_limit))
        .with_max_upload_bytes(config.max_upload_bytes))
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
    /// Connects, migrates, loads keys and binds the listener (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let store = open_store(&config).await?;
        let svc = build_service(&config, store.clone()).await?;
        svc.spawn_background();
        let listener = TcpListener::bind(config.bind).await.with_context(|| format!("binding {}", config.bind))?;
        let addr = listener.local_addr()?;
        let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
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
