//! `userd import django --from URL [--table T] [--simplejwt-secret-file F]`: reads a
//! Django database (`django.rs`) and hands each user to the domain's `Importer`, which
//! decides what is imported; this prints what happened to each row and a summary.

pub mod django;

use std::{collections::BTreeMap, path::Path, sync::Arc};

use anyhow::Context;

use crate::{
    config::Config,
    domain::{
        clock::SystemClock,
        imports::{Importer, Outcome, SkipReason},
    },
    secret,
};

/// What one run did.
#[derive(Debug, Default)]
pub struct Summary {
    pub imported: u64,
    pub skipped: BTreeMap<SkipReason, u64>,
}

/// Runs the import into the configured database (migrated first).
pub async fn django(config: &Config, from: &str, table: &str, secret_file: Option<&Path>) -> anyhow::Result<Summary> {
    // Read before anything is written, so a missing file changes nothing.
    let secret = match secret_file {
        Some(path) => Some(read_secret(path)?),
        None => None,
    };
    let source = django::Source::open(from).await?;
    let (users, tracks_outstanding) = source.users(table).await?;
    source.close().await;
    let store = crate::open_store(config).await?;
    let master = secret::master_key(config)?;
    let importer = Importer::new(store.clone(), secret::AsBytes::as_bytes(&master), Arc::new(SystemClock))?;
    let total = users.len();
    eprintln!("read {total} users from {table}");
    let mut summary = Summary::default();
    for (n, user) in users.into_iter().enumerate() {
        let label = format!("{} ({})", user.legacy_id, user.username.as_deref().unwrap_or(&user.email));
        match importer.import(user).await.with_context(|| format!("importing user {label}"))? {
            Outcome::Imported { notes, .. } => {
                summary.imported += 1;
                for note in notes {
                    eprintln!("user {label}: {note}");
                }
            }
            Outcome::Skipped(reason) => {
                *summary.skipped.entry(reason).or_default() += 1;
                if reason != SkipReason::AlreadyImported {
                    eprintln!("skipped user {label}: {}", reason.as_str());
                }
            }
        }
        if (n + 1) % 10_000 == 0 {
            eprintln!("{} of {total} users done", n + 1);
        }
    }
    if let Some(secret) = secret {
        importer.keep_simplejwt_secret(&secret, tracks_outstanding).await?;
        eprintln!("kept the simplejwt signing key: Django's access and refresh tokens work until they expire");
    }
    store.close().await;
    let skipped: u64 = summary.skipped.values().sum();
    let reasons: Vec<String> = summary.skipped.iter().map(|(r, n)| format!("{n} {}", r.as_str())).collect();
    println!(
        "imported {}, skipped {skipped}{}",
        summary.imported,
        if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join(", ")) }
    );
    Ok(summary)
}

/// Django's `SECRET_KEY` (or simplejwt's `SIGNING_KEY`) as its file holds it, less one
/// trailing line end.
fn read_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("--simplejwt-secret-file {}", path.display()))?;
    let trimmed = raw.strip_suffix(b"\n").map(|s| s.strip_suffix(b"\r").unwrap_or(s)).unwrap_or(&raw);
    anyhow::ensure!(!trimmed.is_empty(), "--simplejwt-secret-file {} is empty", path.display());
    Ok(trimmed.to_vec())
}
