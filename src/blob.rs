//! File bytes on local disk or S3-compatible storage, through `object_store`.

use std::{path::PathBuf, sync::Arc};

use anyhow::Context;
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, stream::BoxStream};
use object_store::{
    ObjectStore, ObjectStoreExt, WriteMultipart, aws::AmazonS3Builder, local::LocalFileSystem, path::Path,
};
use secrecy::ExposeSecret;

use crate::{
    config::{Config, S3Config},
    domain::{
        Error, Result,
        ports::{BlobStore, BlobWriter},
    },
};

/// Uploads in flight per file before a writer waits (each part is 5 MiB by default).
const MAX_PARTS_IN_FLIGHT: usize = 4;

pub struct ObjectBlobs {
    store: Arc<dyn ObjectStore>,
}

fn io_err(e: object_store::Error) -> Error {
    Error::Internal(anyhow::Error::new(e).context("storage"))
}

impl ObjectBlobs {
    /// Opens `file://DIR` (created if missing) or `s3://BUCKET` (settings from `AWS_*`).
    pub fn open(config: &Config) -> anyhow::Result<Self> {
        let url = &config.storage_url;
        let store: Arc<dyn ObjectStore> = if let Some(dir) = url.strip_prefix("file://") {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            Arc::new(LocalFileSystem::new_with_prefix(&dir)?)
        } else if let Some(bucket) = url.strip_prefix("s3://") {
            Arc::new(s3(bucket.trim_end_matches('/'), &config.s3)?)
        } else {
            anyhow::bail!("USERD_STORAGE_URL: unsupported scheme");
        };
        Ok(ObjectBlobs { store })
    }
}

fn s3(bucket: &str, s3: &S3Config) -> anyhow::Result<object_store::aws::AmazonS3> {
    let mut b = AmazonS3Builder::new().with_bucket_name(bucket).with_region(s3.region.clone());
    if let Some(endpoint) = &s3.endpoint {
        b = b.with_endpoint(endpoint.clone()).with_allow_http(endpoint.starts_with("http://"));
    }
    if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
        b = b.with_access_key_id(id.clone()).with_secret_access_key(secret.expose_secret().to_string());
    }
    if let Some(token) = &s3.session_token {
        b = b.with_token(token.expose_secret().to_string());
    }
    Ok(b.build()?)
}

struct Writer(WriteMultipart);

#[async_trait]
impl BlobWriter for Writer {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.0.wait_for_capacity(MAX_PARTS_IN_FLIGHT).await.map_err(io_err)?;
        self.0.put(chunk);
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<()> {
        self.0.finish().await.map_err(io_err)?;
        Ok(())
    }

    async fn abort(self: Box<Self>) {
        if let Err(e) = self.0.abort().await {
            tracing::warn!(error = %e, "aborting an upload failed");
        }
    }
}

#[async_trait]
impl BlobStore for ObjectBlobs {
    async fn writer(&self, key: &str) -> Result<Box<dyn BlobWriter>> {
        let upload = self.store.put_multipart(&Path::from(key)).await.map_err(io_err)?;
        Ok(Box::new(Writer(WriteMultipart::new(upload))))
    }

    async fn read(&self, key: &str) -> Result<BoxStream<'static, std::io::Result<Bytes>>> {
        match self.store.get(&Path::from(key)).await {
            Ok(r) => Ok(r.into_stream().map(|c| c.map_err(std::io::Error::other)).boxed()),
            Err(object_store::Error::NotFound { .. }) => Err(Error::NotFound),
            Err(e) => Err(io_err(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io_err(e)),
        }
    }
}
