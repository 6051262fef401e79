//! argon2id hashing on a fixed pool of threads off the async workers.
//!
//! A flood of logins queues for the pool instead of occupying the runtime's threads, so
//! requests that need no hashing keep being served. Fixed threads also bound memory: each
//! hash needs 19 MiB, and the allocator keeps that per thread that ever hashed.

use std::sync::{Arc, Mutex, mpsc};

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use tokio::sync::oneshot;

use super::{crypto, error::Result, types::Password};

/// OWASP's argon2id parameters: m = 19 MiB, t = 2, p = 1.
const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::Sender<Job>,
    /// A hash of a random password, verified when the account does not exist so an unknown
    /// e-mail costs the same as a wrong password.
    dummy_hash: Arc<String>,
}

fn argon2() -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(password: &[u8]) -> anyhow::Result<String> {
    let salt = crypto::random_bytes(16)?;
    let hash = argon2()?.hash_password_with_salt(password, &salt).map_err(|e| anyhow::anyhow!("argon2 hash: {e}"))?;
    Ok(hash.to_string())
}

fn verify_blocking(password: &[u8], phc: &str) -> bool {
    // A stored hash that does not parse never matches; the caller treats that as a wrong password.
    argon2().map(|a| a.verify_password(password, phc).is_ok()).unwrap_or(false)
}

impl PasswordHasher {
    /// Starts `workers` hashing threads (one per core is the sensible bound); they end when
    /// the last handle is dropped.
    pub fn new(workers: usize) -> anyhow::Result<Self> {
        let dummy = crypto::random_token(24)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..workers.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new().name(format!("userd-hash-{i}")).spawn(move || {
                loop {
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(poisoned) => poisoned.into_inner().recv(),
                    };
                    match job {
                        // A panicking job drops its reply (the caller gets an error); the thread stays.
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Err(_) => return,
                    }
                }
            })?;
        }
        Ok(PasswordHasher { jobs, dummy_hash: Arc::new(hash_blocking(dummy.as_bytes())?) })
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs.send(job).map_err(|_| anyhow::anyhow!("hashing pool stopped"))?;
        Ok(rx.await.map_err(|_| anyhow::anyhow!("hashing job lost"))?)
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub async fn hash(&self, password: &Password) -> Result<String> {
        let bytes = password.expose().as_bytes().to_vec();
        Ok(self.run(move || hash_blocking(&bytes)).await??)
    }

    /// Verifies against `phc`, or against the dummy hash when there is none, so the time
    /// taken does not tell whether the account exists.
    pub async fn verify(&self, password: &Password, phc: Option<&str>) -> Result<bool> {
        let bytes = password.expose().as_bytes().to_vec();
        let (target, real) = match phc {
            Some(h) => (h.to_string(), true),
            None => (self.dummy_hash.as_str().to_string(), false),
        };
        let ok = self.run(move || verify_blocking(&bytes, &target)).await?;
        Ok(ok && real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_that_verify() {
        let hasher = PasswordHasher::new(1).expect("hasher");
        let pw = Password::for_login("correct horse battery").expect("password");
        let hash = hasher.hash(&pw).await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(hasher.verify(&pw, Some(&hash)).await.expect("verify"));
        let wrong = Password::for_login("wrong horse battery").expect("password");
        assert!(!hasher.verify(&wrong, Some(&hash)).await.expect("verify"));
        assert!(!hasher.verify(&pw, None).await.expect("verify"), "no account never matches");
        assert!(!hasher.verify(&pw, Some("not a hash")).await.expect("verify"));
    }
}
