//! The files janitor's rules for unfinished uploads on local disk (`<key>#<n>` staging
//! files), run on the node's own database and file store with the clock moved: bytes of a
//! pending upload are kept while it may still be running (on this node or another sharing the
//! disk) and removed after the pending upload TTL; bytes of a file that is gone or already
//! stored are removed at once; bytes of no file (a picture's) after an hour.

use std::{path::Path, sync::Arc, time::Duration};

use reqwest::StatusCode;
use userd::{
    blob::ObjectBlobs,
    config::Config,
    domain::{
        clock::{Clock, ManualClock},
        files::{Files, PENDING_UPLOAD_TTL},
        model::{FileId, FileStatus, StoredFile, UserId},
        ports::FileStore,
    },
    store::SqlStore,
};

use crate::{both_backends, helpers::*};

fn stage(root: &Path, key: &str) -> std::path::PathBuf {
    let path = root.join(format!("{key}#1"));
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, b"half an upload").expect("write");
    path
}

both_backends! {
    async fn the_janitor_removes_unfinished_bytes_no_running_upload_can_finish(app) {
        let (access, _) = app.register_tokens("owner@example.com").await;
        let profile = json_of(app.get("/api/users/profile/", Some(&access)).await, StatusCode::OK).await;
        let owner = UserId(profile["data"]["id"].as_i64().expect("id"));

        let store = Arc::new(SqlStore::connect(&app.database_url).await.expect("store"));
        let data_dir = app.data_dir.display().to_string();
        let config = Config::from_lookup(|name| match name {
            "USERD_DATA_DIR" => Some(data_dir.clone()),
            "USERD_DATABASE_URL" => Some(app.database_url.clone()),
            _ => None,
        })
        .expect("config");
        let blobs = Arc::new(ObjectBlobs::open(&config).expect("blobs"));
        let clock = ManualClock::new();
        let files = Files::new(store.clone(), blobs, 1 << 20, PENDING_UPLOAD_TTL, clock.clone());
        let root = app.data_dir.join("files");

        let row = |id: &str, status: FileStatus| StoredFile {
            id: FileId(id.into()),
            owner,
            name: format!("{id}.bin"),
            content_type: "application/octet-stream".into(),
            size: 0,
            sha256: None,
            status,
            storage_key: format!("u{}/{id}", owner.0),
            created_at: clock.now(),
        };
        store.create_file(&row("running", FileStatus::Pending)).await.expect("row");
        store.create_file(&row("stored", FileStatus::Available)).await.expect("row");
        let running = stage(&root, &format!("u{}/running", owner.0));
        let stored = stage(&root, &format!("u{}/stored", owner.0));
        let gone = stage(&root, &format!("u{}/gone", owner.0));
        let picture = stage(&root, "pictures/abc.png");

        // (staging file, kept now, kept an hour and a bit later, why)
        let cases = [
            (&running, true, true, "a pending upload younger than the TTL may be running on another node"),
            (&stored, false, false, "the file is stored whole: these bytes are a left-over"),
            (&gone, false, false, "no file owns them (deleted, or purged)"),
            (&picture, true, false, "no file's: kept for an hour, longer than any picture's write"),
        ];
        assert_eq!(files.purge_unfinished_bytes().await.expect("sweep"), 2);
        for (path, kept, _, why) in &cases {
            assert_eq!(path.exists(), *kept, "at once: {}: {why}", path.display());
        }
        clock.advance(Duration::from_secs(3700));
        files.purge_unfinished_bytes().await.expect("sweep");
        for (path, _, kept, why) in &cases {
            assert_eq!(path.exists(), *kept, "an hour later: {}: {why}", path.display());
        }
        // Past the TTL the pending upload is abandoned: its row and its bytes go.
        clock.advance(PENDING_UPLOAD_TTL);
        files.sweep().await;
        assert!(!running.exists(), "abandoned upload's bytes removed");
        assert_eq!(app.db.count("SELECT COUNT(*) FROM files WHERE status = 'pending'").await, 0);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM files WHERE status = 'available'").await, 1, "the stored file stays");
    }
}
