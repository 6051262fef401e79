//! Files a user uploads, and the storage summary of documents 000 and 001.
//!
//! A file is `pending` while its bytes stream to storage and `available` only once they are
//! all stored, with size and SHA-256 recorded. An upload that fails or is cut off is
//! removed (row and bytes), so it never counts; a janitor removes what a crash left behind.

use std::{sync::Arc, time::Duration};

use aws_lc_rs::digest;
use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream::BoxStream};
use tracing::instrument;

use super::{
    clock::{self, Clock},
    crypto,
    error::{Error, Invalid, Result},
    model::{FileId, FileStatus, Page, PageRequest, StorageSummary, StoredFile, UserId},
    ports::{BlobStore, FileStore},
};

/// How long a pending upload may last before the janitor takes it for abandoned (a node
/// killed mid-upload never marks it available nor removes it): `USERD_PENDING_UPLOAD_TTL`.
pub const PENDING_UPLOAD_TTL: Duration = Duration::from_secs(6 * 3600);

/// Staging bytes that belong to no file (a picture's, written in one piece in milliseconds)
/// are removed once they are this old: no write lasts that long.
const STRAY_STAGING_AFTER: Duration = Duration::from_secs(3600);

/// Where a file's bytes are kept: `u<owner>/<id>`.
fn storage_key(owner: UserId, id: &FileId) -> String {
    format!("u{}/{}", owner.0, id.0)
}

/// The file whose bytes `key` holds, if it is a file's key.
fn file_of_key(key: &str) -> Option<(UserId, FileId)> {
    let (owner, id) = key.strip_prefix('u')?.split_once('/')?;
    let owner = owner.parse().ok().filter(|_| owner.bytes().all(|b| b.is_ascii_digit()))?;
    (!id.is_empty() && !id.contains('/')).then(|| (UserId(owner), FileId(id.to_string())))
}

/// A file name safe to store and to echo in headers: the last path segment, without
/// control characters, at most 255 characters.
pub fn clean_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !c.is_control()).take(255).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() { "file".into() } else { cleaned }
}

/// A `type/subtype` media type without parameters, or `application/octet-stream`.
pub fn clean_content_type(raw: Option<&str>) -> String {
    let token = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c));
    match raw.map(|r| r.split(';').next().unwrap_or("").trim().to_ascii_lowercase()) {
        Some(t) if t.len() <= 127 && t.split_once('/').is_some_and(|(a, b)| token(a) && token(b)) => t,
        _ => "application/octet-stream".into(),
    }
}

/// Removes a failed or abandoned upload, even when the request future is dropped midway.
struct Cleanup {
    files: Arc<dyn FileStore>,
    blobs: Arc<dyn BlobStore>,
    file: Option<(FileId, String)>,
}

impl Cleanup {
    fn disarm(&mut self) {
        self.file = None;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some((id, key)) = self.file.take() {
            let (files, blobs) = (self.files.clone(), self.blobs.clone());
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move { remove(files.as_ref(), blobs.as_ref(), &id, &key).await });
            }
        }
    }
}

async fn remove(files: &dyn FileStore, blobs: &dyn BlobStore, id: &FileId, key: &str) {
    if let Err(e) = blobs.delete(key).await {
        tracing::warn!(error = %e, file = %id, "deleting stored bytes failed");
    }
    if let Err(e) = files.delete_file(id).await {
        tracing::warn!(error = %e, file = %id, "deleting file row failed");
    }
}

#[derive(Clone)]
pub struct Files {
    files: Arc<dyn FileStore>,
    blobs: Arc<dyn BlobStore>,
    max_upload_bytes: u64,
    pending_ttl: Duration,
    clock: Arc<dyn Clock>,
}

impl Files {
    pub fn new(
        files: Arc<dyn FileStore>,
        blobs: Arc<dyn BlobStore>,
        max_upload_bytes: u64,
        pending_ttl: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Files { files, blobs, max_upload_bytes, pending_ttl, clock }
    }

    /// Streams an upload to storage; never holds the whole file in memory.
    #[instrument(skip_all)]
    pub async fn upload<S>(
        &self,
        owner: UserId,
        name: &str,
        content_type: Option<&str>,
        mut body: S,
    ) -> Result<StoredFile>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Unpin + Send,
    {
        let id = FileId(crypto::random_token(16)?);
        let mut file = StoredFile {
            storage_key: storage_key(owner, &id),
            id,
            owner,
            name: clean_file_name(name),
            content_type: clean_content_type(content_type),
            size: 0,
            sha256: None,
            status: FileStatus::Pending,
            created_at: self.clock.now(),
        };
        self.files.create_file(&file).await?;
        let mut cleanup = Cleanup {
            files: self.files.clone(),
            blobs: self.blobs.clone(),
            file: Some((file.id.clone(), file.storage_key.clone())),
        };
        let mut writer = self.blobs.writer(&file.storage_key).await?;
        let mut hash = digest::Context::new(&digest::SHA256);
        let mut size: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(_) => {
                    writer.abort().await;
                    return Err(Error::invalid("file", Invalid::UploadInterrupted));
                }
            };
            size += chunk.len() as u64;
            if size > self.max_upload_bytes {
                writer.abort().await;
                return Err(Error::TooLarge { limit: self.max_upload_bytes });
            }
            hash.update(&chunk);
            if let Err(e) = writer.write(chunk).await {
                writer.abort().await;
                return Err(e);
            }
        }
        writer.finish().await?;
        let sha = hex::encode(hash.finish().as_ref());
        let size = i64::try_from(size).map_err(anyhow::Error::from)?;
        self.files.mark_available(&file.id, size, &sha, self.clock.now()).await?;
        cleanup.disarm();
        file.size = size;
        file.sha256 = Some(sha);
        file.status = FileStatus::Available;
        Ok(file)
    }

    /// A page of the caller's files, newest first.
    pub async fn list(&self, owner: UserId, page: &PageRequest) -> Result<Page<StoredFile>> {
        self.files.files(owner, page).await
    }

    /// One of the caller's files; another user's file is `NotFound`, never `Forbidden`.
    pub async fn file(&self, owner: UserId, id: &FileId) -> Result<StoredFile> {
        self.files.file(owner, id).await?.ok_or(Error::NotFound)
    }

    /// The bytes of an available file.
    pub async fn file_content(
        &self,
        owner: UserId,
        id: &FileId,
    ) -> Result<(StoredFile, BoxStream<'static, std::io::Result<Bytes>>)> {
        let file = self.file(owner, id).await?;
        if file.status != FileStatus::Available {
            return Err(Error::NotFound);
        }
        let stream = self.blobs.read(&file.storage_key).await?;
        Ok((file, stream))
    }

    #[instrument(skip_all)]
    pub async fn delete(&self, owner: UserId, id: &FileId) -> Result<()> {
        let file = self.file(owner, id).await?;
        // The row goes first, so the file stops counting even if the bytes outlive it.
        self.files.delete_file(&file.id).await?;
        if let Err(e) = self.blobs.delete(&file.storage_key).await {
            tracing::warn!(error = %e, file = %file.id, "stored bytes left behind");
        }
        Ok(())
    }

    /// Sum and count of the user's available files.
    pub async fn summary(&self, owner: UserId) -> Result<StorageSummary> {
        self.files.storage_summary(owner).await
    }

    /// Removes uploads a crash left pending: rows pending for longer than the pending
    /// upload TTL, with whatever bytes they had.
    pub async fn purge_abandoned_uploads(&self) -> Result<usize> {
        let before = clock::before(self.clock.now(), self.pending_ttl);
        let stale = self.files.stale_pending(before).await?;
        for f in &stale {
            remove(self.files.as_ref(), self.blobs.as_ref(), &f.id, &f.storage_key).await;
        }
        Ok(stale.len())
    }

    /// Removes the bytes of unfinished uploads that no upload will finish (local disk's
    /// staging files; see `BlobStore::unfinished`). Staging bytes of a file are kept only
    /// while the file is pending and they were written within the pending upload TTL: that
    /// is an upload still running, on this node or on another sharing the disk. A file's row
    /// is written before its first byte, so bytes whose file is gone or available are left
    /// over and removed at once. Staging bytes of no file (a picture's) are removed after an
    /// hour, which no write of one takes.
    pub async fn purge_unfinished_bytes(&self) -> Result<usize> {
        let now = self.clock.now();
        let mut removed = 0;
        for unfinished in self.blobs.unfinished().await? {
            let running = match file_of_key(&unfinished.key) {
                Some((owner, id)) => {
                    unfinished.modified >= clock::before(now, self.pending_ttl)
                        && self.files.file(owner, &id).await?.is_some_and(|f| f.status == FileStatus::Pending)
                }
                None => unfinished.modified >= clock::before(now, STRAY_STAGING_AFTER),
            };
            if !running {
                self.blobs.remove_unfinished(&unfinished).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// One round of the janitor: abandoned uploads, then unfinished bytes.
    pub async fn sweep(&self) {
        match self.purge_abandoned_uploads().await {
            Ok(n) if n > 0 => tracing::info!(uploads = n, "removed abandoned uploads"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purging abandoned uploads failed"),
        }
        match self.purge_unfinished_bytes().await {
            Ok(n) if n > 0 => tracing::info!(files = n, "removed the bytes of unfinished uploads"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "removing the bytes of unfinished uploads failed"),
        }
    }

    /// Runs the janitor at start and every ten minutes.
    pub fn spawn_background(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(600));
            loop {
                tick.tick().await;
                this.sweep().await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("C:\\Users\\me\\report.pdf"), "report.pdf");
        assert_eq!(clean_file_name("a\nb\r.txt"), "ab.txt");
        assert_eq!(clean_file_name(""), "file");
        assert_eq!(clean_file_name(".."), "file");
        assert_eq!(clean_file_name(".env"), "env");
    }

    #[test]
    fn a_files_key_names_its_owner_and_id_and_nothing_else_does() {
        let id = FileId("3q2-7wK1x0yZ9bVfA4mN8g".into());
        assert_eq!(file_of_key(&storage_key(UserId(42), &id)), Some((UserId(42), id)));
        for other in ["pictures/abc.png", "u/abc", "u12", "u12/", "u12/a/b", "ux/abc", "u+1/abc", "abc"] {
            assert_eq!(file_of_key(other), None, "{other}");
        }
    }

    #[test]
    fn content_types_are_plain_media_types() {
        assert_eq!(clean_content_type(Some("image/png")), "image/png");
        assert_eq!(clean_content_type(Some("Text/HTML; charset=utf-8")), "text/html");
        assert_eq!(clean_content_type(Some("nonsense")), "application/octet-stream");
        assert_eq!(clean_content_type(Some("a/b\r\nX-Evil: 1")), "application/octet-stream");
        assert_eq!(clean_content_type(None), "application/octet-stream");
    }
}
