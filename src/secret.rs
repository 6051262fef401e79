//! The master secret: `USERD_SECRET_KEY`, or a random key generated once into the data dir.

use std::{fs, io::Write, path::Path};

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

use crate::{config::Config, domain::crypto};

const FILE: &str = "secret.key";

/// Returns the configured secret, or reads (creating on first start) `$DATA_DIR/secret.key`.
pub fn master_key(config: &Config) -> anyhow::Result<SecretString> {
    if let Some(k) = &config.secret_key {
        return Ok(k.clone());
    }
    load_or_create(&config.data_dir.join(FILE))
}

fn load_or_create(path: &Path) -> anyhow::Result<SecretString> {
    if let Ok(existing) = fs::read_to_string(path) {
        let key = existing.trim().to_string();
        anyhow::ensure!(key.len() >= 32, "{} is damaged (too short)", path.display());
        return Ok(SecretString::from(key));
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let key = crypto::random_token(32)?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut f) => {
            f.write_all(key.as_bytes())?;
            f.sync_all()?;
            Ok(SecretString::from(key))
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let key = fs::read_to_string(path)?.trim().to_string();
            Ok(SecretString::from(key))
        }
        Err(e) => Err(e).with_context(|| format!("writing {}", path.display())),
    }
}

/// For callers that need the bytes (key derivation).
pub trait AsBytes {
    fn as_bytes(&self) -> &[u8];
}

impl AsBytes for SecretString {
    fn as_bytes(&self) -> &[u8] {
        self.expose_secret().as_bytes()
    }
}
