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
        ports::{BlobStore, BlobWriter, Unfinished},
    },
};

/// Uploads in flight per file before a writer waits (each part is 5 MiB by default).
const MAX_PARTS_IN_FLIGHT: usize = 4;

pub struct ObjectBlobs {
    store: Arc<dyn ObjectStore>,
    /// The directory of a `file://` store (canonical, as `LocalFileSystem` keeps it).
    local: Option<PathBuf>,
}

fn io_err(e: object_store::Error) -> Error {
    Error::Internal(anyhow::Error::new(e).context("storage"))
}

impl ObjectBlobs {
    /// Opens `file://DIR` (created if missing) or `s3://BUCKET` (settings from `AWS_*`).
    pub fn open(config: &Config) -> anyhow::Result<Self> {
        let url = &config.storage_url;
        if let Some(dir) = url.strip_prefix("file://") {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let root = std::fs::canonicalize(&dir).with_context(|| format!("resolving {}", dir.display()))?;
            // fsync: an upload is marked available only once its bytes and its name are on
            // disk, so not even a power cut leaves a counted file without its bytes.
            let store = LocalFileSystem::new_with_prefix(&root)?.with_fsync(true);
            Ok(ObjectBlobs { store: Arc::new(store), local: Some(root) })
        } else if let Some(bucket) = url.strip_prefix("s3://") {
            Ok(ObjectBlobs { store: Arc::new(s3(bucket.trim_end_matches('/'), &config.s3)?), local: None })
        } else {
            anyhow::bail!("USERD_STORAGE_URL: unsupported scheme");
        }
    }
}

/// The key a staging file name uploads to, if `name` is one.
fn staging_target(name: &str) -> Option<&str> {
    let (target, n) = name.rsplit_once('#')?;
    (!target.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(target)
}

/// How deep keys go below the root (`u<owner>/<id>`, `pictures/<name>`), with room to spare;
/// the walk goes no deeper, whatever else is in the directory.
const MAX_DEPTH: usize = 8;

/// Every staging file under `root`.
fn staging_files(root: &std::path::Path) -> std::io::Result<Vec<Unfinished>> {
    let mut found = Vec::new();
    let mut dirs = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            // Removed meanwhile (an empty directory of a deleted user's files).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && depth > 0 => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() && depth < MAX_DEPTH {
                dirs.push((path, depth + 1));
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let name = entry.file_name();
            let Some(target) = name.to_str().and_then(staging_target) else { continue };
            let Ok(relative) = dir.strip_prefix(root) else { continue };
            let mut key: Vec<String> =
                relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            key.push(target.to_string());
            let modified = entry
                .metadata()?
                .modified()
                .ok()
                .and_then(|m| jiff::Timestamp::try_from(m).ok())
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            found.push(Unfinished { key: key.join("/"), modified, location: path.to_string_lossy().into_owned() });
        }
    }
    Ok(found)
}

/// How many staging suffixes a delete tries: `LocalFileSystem` takes the lowest free one
/// from 1, so an upload's bytes are at `#1` unless uploads to the same key overlapped. The
/// janitor removes any that a delete misses.
const STAGING_SUFFIXES: u32 = 4;

/// Removes the staging files of uploads to `target` (a file path under the root), trying
/// each suffix rather than listing the directory, which for pictures holds every user's.
fn remove_staging_of(target: &std::path::Path) -> std::io::Result<()> {
    for n in 1..=STAGING_SUFFIXES {
        let mut staging = target.as_os_str().to_owned();
        staging.push(format!("#{n}"));
        match std::fs::remove_file(&staging) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
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
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(io_err(e)),
        }
        // A pending upload deleted through the API has only a staging file, which
        // `LocalFileSystem`'s own delete does not see.
        if let Some(root) = &self.local {
            let target = root.join(key);
            if key.split('/').all(|part| !part.is_empty() && part != "." && part != "..") {
                tokio::task::spawn_blocking(move || remove_staging_of(&target))
                    .await
                    .map_err(Error::internal)?
                    .map_err(|e| Error::Internal(anyhow::Error::new(e).context("storage")))?;
            }
        }
        Ok(())
    }

    async fn unfinished(&self) -> Result<Vec<Unfinished>> {
        let Some(root) = self.local.clone() else { return Ok(Vec::new()) };
        tokio::task::spawn_blocking(move || staging_files(&root))
            .await
            .map_err(Error::internal)?
            .map_err(|e| Error::Internal(anyhow::Error::new(e).context("listing unfinished uploads")))
    }

    async fn remove_unfinished(&self, unfinished: &Unfinished) -> Result<()> {
        let Some(root) = &self.local else { return Ok(()) };
        let path = PathBuf::from(&unfinished.location);
        // Only a staging file under the root, whatever the caller passes.
        let is_staging = path.file_name().and_then(|n| n.to_str()).and_then(staging_target).is_some();
        if !is_staging || !path.starts_with(root) {
            return Err(Error::internal(anyhow::anyhow!("not an unfinished upload: {}", path.display())));
        }
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Internal(anyhow::Error::new(e).context("removing an unfinished upload"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_names_are_the_target_a_hash_and_digits() {
        let cases = [
            ("abc#1", Some("abc"), "the first upload's"),
            ("abc#12", Some("abc"), "a later one's"),
            ("abc", None, "a stored file"),
            ("abc#", None, "no digits"),
            ("abc#x1", None, "not only digits"),
            ("#1", None, "no target"),
            ("a#b#3", Some("a#b"), "a target with a hash"),
        ];
        for (name, target, why) in cases {
            assert_eq!(staging_target(name), target, "{name}: {why}");
        }
    }

    #[test]
    fn staging_files_are_found_with_their_keys_and_only_they() {
        let dir = tempfile::tempdir().expect("dir");
        let root = std::fs::canonicalize(dir.path()).expect("root");
        std::fs::create_dir_all(root.join("u1")).expect("mkdir");
        std::fs::create_dir_all(root.join("pictures")).expect("mkdir");
        for file in ["u1/done", "u1/half#1", "u1/half#2", "u1/halfway#1", "pictures/p.png#1", "top#1", "u1/not#staging"]
        {
            std::fs::write(root.join(file), b"x").expect("write");
        }
        let mut keys: Vec<String> = staging_files(&root).expect("walk").into_iter().map(|u| u.key).collect();
        keys.sort();
        assert_eq!(keys, ["pictures/p.png", "top", "u1/half", "u1/half", "u1/halfway"]);
        remove_staging_of(&root.join("u1/half")).expect("remove");
        assert!(!root.join("u1/half#1").exists() && !root.join("u1/half#2").exists());
        for kept in ["u1/done", "u1/halfway#1", "pictures/p.png#1"] {
            assert!(root.join(kept).exists(), "{kept} is another key's");
        }
    }
}
