use async_trait::async_trait;
use jiff::Timestamp;

use super::{SqlStore, db_err, from_micros, micros, on_pool};
use crate::domain::{
    Result,
    model::{Cursor, FileId, FileStatus, Page, PageRequest, StorageSummary, StoredFile, UserId},
    ports::FileStore,
};

#[derive(sqlx::FromRow)]
struct FileRow {
    id: String,
    user_id: i64,
    name: String,
    content_type: String,
    size: i64,
    sha256: Option<String>,
    status: String,
    storage_key: String,
    created_at: i64,
}

impl From<FileRow> for StoredFile {
    fn from(r: FileRow) -> Self {
        StoredFile {
            id: FileId(r.id),
            owner: UserId(r.user_id),
            name: r.name,
            content_type: r.content_type,
            size: r.size,
            sha256: r.sha256,
            status: if r.status == "available" { FileStatus::Available } else { FileStatus::Pending },
            storage_key: r.storage_key,
            created_at: from_micros(r.created_at),
        }
    }
}

#[async_trait]
impl FileStore for SqlStore {
    async fn create_file(&self, f: &StoredFile) -> Result<()> {
        let now = micros(f.created_at);
        on_pool!(&self.db, writer, |pool| {
            sqlx::query(
            "INSERT INTO files (id, user_id, name, content_type, size, sha256, status, storage_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)"
        )
        .bind(&f.id.0)
        .bind(f.owner.0)
        .bind(&f.name)
        .bind(&f.content_type)
        .bind(f.size)
        .bind(&f.sha256)
        .bind(f.status.as_str())
        .bind(&f.storage_key)
        .bind(now)
        .execute(pool)
        .await
        .map_err(db_err)
        .map(|_| ())?
        });
        Ok(())
    }

    async fn mark_available(&self, id: &FileId, size: i64, sha256: &str, now: Timestamp) -> Result<()> {
        on_pool!(&self.db, writer, |pool| sqlx::query(
            "UPDATE files SET status = 'available', size = $1, sha256 = $2, updated_at = $3 WHERE id = $4"
        )
        .bind(size)
        .bind(sha256)
        .bind(micros(now))
        .bind(&id.0)
        .execute(pool)
        .await
        .map_err(db_err)
        .map(|_| ())?);
        Ok(())
    }

    async fn delete_file(&self, id: &FileId) -> Result<bool> {
        let n = on_pool!(&self.db, writer, |pool| sqlx::query("DELETE FROM files WHERE id = $1")
            .bind(&id.0)
            .execute(pool)
            .await
            .map_err(db_err)?
            .rows_affected());
        Ok(n > 0)
    }

    async fn file(&self, owner: UserId, id: &FileId) -> Result<Option<StoredFile>> {
        const SQL: &str = "SELECT id, user_id, name, content_type, size, sha256, status, storage_key, created_at \
             FROM files WHERE id = $1 AND user_id = $2";
        let row: Option<FileRow> = on_pool!(&self.db, reader, |pool| sqlx::query_as(SQL)
            .bind(&id.0)
            .bind(owner.0)
            .fetch_optional(pool)
            .await
            .map_err(db_err)?);
        Ok(row.map(Into::into))
    }

    async fn files(&self, owner: UserId, page: &PageRequest) -> Result<Page<StoredFile>> {
        // Newest first; ties in time broken by id, so the order (and the cursor) is total.
        const FIRST: &str = "SELECT id, user_id, name, content_type, size, sha256, status, storage_key, created_at \
             FROM files WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $2";
        const AFTER: &str = "SELECT id, user_id, name, content_type, size, sha256, status, storage_key, created_at \
             FROM files WHERE user_id = $1 AND (created_at < $3 OR (created_at = $3 AND id > $4)) \
             ORDER BY created_at DESC, id LIMIT $2";
        // One more than asked for tells whether there is a next page.
        let fetch = i64::from(page.limit) + 1;
        let mut rows: Vec<FileRow> = on_pool!(&self.db, reader, |pool| match &page.after {
            None => sqlx::query_as(FIRST).bind(owner.0).bind(fetch).fetch_all(pool).await,
            Some(c) => {
                sqlx::query_as(AFTER).bind(owner.0).bind(fetch).bind(micros(c.at)).bind(&c.id).fetch_all(pool).await
            }
        }
        .map_err(db_err)?);
        let total: i64 =
            on_pool!(&self.db, reader, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM files WHERE user_id = $1")
                .bind(owner.0)
                .fetch_one(pool)
                .await
                .map_err(db_err)?);
        let more = rows.len() > page.limit as usize;
        rows.truncate(page.limit as usize);
        let items: Vec<StoredFile> = rows.into_iter().map(Into::into).collect();
        let next = if more { items.last().map(|f| Cursor { at: f.created_at, id: f.id.0.clone() }) } else { None };
        Ok(Page { items, next, total: Some(total) })
    }

    async fn storage_summary(&self, owner: UserId) -> Result<StorageSummary> {
        // SUM over no rows is NULL on both backends; COALESCE keeps the type an integer.
        let (total, count): (i64, i64) = on_pool!(&self.db, reader, |pool| {
            sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT), COUNT(*) FROM files WHERE user_id = $1 AND status = 'available'"
        )
        .bind(owner.0)
        .fetch_one(pool)
        .await
        .map_err(db_err)?
        });
        Ok(StorageSummary { total_bytes: total, file_count: count })
    }

    async fn stale_pending(&self, before: Timestamp) -> Result<Vec<StoredFile>> {
        const SQL: &str = "SELECT id, user_id, name, content_type, size, sha256, status, storage_key, created_at \
             FROM files WHERE status = 'pending' AND created_at < $1 LIMIT 1000";
        let rows: Vec<FileRow> = on_pool!(&self.db, reader, |pool| sqlx::query_as(SQL)
            .bind(micros(before))
            .fetch_all(pool)
            .await
            .map_err(db_err)?);
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
