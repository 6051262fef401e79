//! Stored files and the storage summary of documents 000 and 001.

use jiff::Timestamp;

use super::types::{FileId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    Pending,
    Available,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Pending => "pending",
            FileStatus::Available => "available",
        }
    }
}

#[derive(Debug, Clone)]
pub struct StoredFile {
    pub id: FileId,
    pub owner: UserId,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: Option<String>,
    pub status: FileStatus,
    pub storage_key: String,
    pub created_at: Timestamp,
}

/// Totals of a user's available files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageSummary {
    pub total_bytes: i64,
    pub file_count: i64,
}
