//! argon2id hashing on a fixed pool of threads off the async workers.
//!
//! A flood of logins queues for the pool instead of occupying the runtime's threads, so
//! requests that need no hashing keep being served. Fixed threads also bound memory: each
//! hash needs 19 MiB, which a thread takes at its first hash and then reuses, so an idle
//! node holds none of it and a busy one at most 19 MiB per hashing thread.

use std::{
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};

use std::cell::RefCell;

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::phc::{Output, ParamsString, PasswordHash, Salt},
};
use tokio::sync::oneshot;

use super::{crypto, error::Result, legacy_hashes, model::Password};

/// OWASP's argon2id parameters: m = 19 MiB, t = 2, p = 1.
const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
/// The parameters as the benchmark names them.
pub const PARAMS_TEXT: &str = "argon2id m=19456 t=2 p=1";

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::Sender<Job>,
    /// A hash with userd's parameters that no password matches, verified when the account
    /// does not exist so an unknown e-mail costs the same as a wrong password.
    dummy_hash: Arc<String>,
}

fn params() -> anyhow::Result<Params> {
    Params::new(M_COST_KIB, T_COST, P_COST, None).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))
}

thread_local! {
    /// The argon2 working memory of a hashing thread, allocated once and reused: a fresh
    /// 19 MiB allocation per hash is what the allocator would otherwise keep growing.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs argon2 with `params` into `out`, on this thread's reusable memory.
fn argon2_into(alg: Algorithm, version: Version, params: Params, pwd: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
    let needed = params.block_count();
    let argon2 = Argon2::new(alg, version, params);
    if needed > OWN_BLOCKS {
        // A larger imported hash (Django's default is 100 MiB) gets memory of its own,
        // freed afterwards, so the pool's threads keep only what userd's hashes need.
        let mut blocks = vec![Block::default(); needed];
        return argon2.hash_password_into_with_memory(pwd, salt, out, &mut blocks).is_ok();
    }
    BLOCKS.with(|cell| {
        let Ok(mut blocks) = cell.try_borrow_mut() else { return false };
        if blocks.len() < needed {
            blocks.resize(needed, Block::default());
        }
        argon2.hash_password_into_with_memory(pwd, salt, out, &mut blocks[..needed]).is_ok()
    })
}

fn hash_blocking(password: &[u8]) -> anyhow::Result<String> {
    let salt = crypto::random_bytes(16)?;
    let params = params()?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    anyhow::ensure!(
        argon2_into(Algorithm::Argon2id, Version::V0x13, params.clone(), password, &salt, &mut out),
        "argon2 hash failed"
    );
    phc_string(&params, &salt, &out)
}

/// The PHC string of an argon2id hash with `params`, `salt` and output `out`.
fn phc_string(params: &Params, salt: &[u8], out: &[u8]) -> anyhow::Result<String> {
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?,
        salt: Some(Salt::new(salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?),
        hash: Some(Output::new(out).map_err(|e| anyhow::anyhow!("output: {e}"))?),
    };
    Ok(hash.to_string())
}

/// Blocks of userd's own parameters (1 KiB each).
const OWN_BLOCKS: usize = M_COST_KIB as usize;
/// Imported argon2 hashes asking for more memory than this never match.
const MAX_M_COST_KIB: u32 = 1 << 20;

/// The stand-in verified when an account does not exist: userd's parameters, a random salt
/// and a random output. Verifying it costs exactly what verifying a real hash does (the
/// output is never matched: the caller ignores the result), and making it costs no hash, so
/// no hashing thread holds argon2's 19 MiB before the first real login.
fn dummy_hash() -> anyhow::Result<String> {
    phc_string(&params()?, &crypto::random_bytes(16)?, &crypto::random_bytes(Params::DEFAULT_OUTPUT_LEN)?)
}

/// Verifies userd's PHC strings and the Django hashes `import` keeps (`legacy_hashes`).
fn verify_blocking(password: &[u8], stored: &str) -> bool {
    if let Some(phc) = legacy_hashes::argon2_phc(stored) {
        return verify_phc(password, &phc);
    }
    if stored.starts_with('$') { verify_phc(password, stored) } else { legacy_hashes::verify(password, stored) }
}

fn verify_phc(password: &[u8], phc: &str) -> bool {
    // A stored hash that does not parse never matches; the caller treats that as a wrong password.
    let Ok(hash) = PasswordHash::new(phc) else { return false };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else { return false };
    let Ok(alg) = Algorithm::try_from(hash.algorithm.as_str()) else { return false };
    let Ok(version) = hash.version.map_or(Ok(Version::V0x13), Version::try_from) else { return false };
    let Ok(params) = Params::try_from(&hash) else { return false };
    if params.m_cost() > MAX_M_COST_KIB {
        return false;
    }
    let mut out = vec![0u8; expected.len()];
    argon2_into(alg, version, params, password, salt.as_ref(), &mut out) && crypto::ct_eq(&out, expected.as_ref())
}

/// The raw rate of what a login costs, with userd's parameters: `threads` threads each
/// verifying a password against a hash of userd's for about `duration`, on the thread's
/// reused memory as the hashing pool does. Returns the verifications made and the seconds
/// taken; `userd hash-rate` prints it for the benchmark.
pub fn verify_rate(threads: usize, duration: Duration) -> anyhow::Result<(u64, f64)> {
    const PASSWORD: &[u8] = b"a benchmark password";
    let hash = hash_blocking(PASSWORD)?;
    let start = Instant::now();
    let done = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    while start.elapsed() < duration {
                        n += u64::from(verify_blocking(PASSWORD, &hash));
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum::<u64>()
    });
    Ok((done, start.elapsed().as_secs_f64()))
}

impl PasswordHasher {
    /// Starts `workers` hashing threads (one per core is the sensible bound); they end when
    /// the last handle is dropped.
    pub fn new(workers: usize) -> anyhow::Result<Self> {
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
        Ok(PasswordHasher { jobs, dummy_hash: Arc::new(dummy_hash()?) })
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

    /// Whether a stored hash is an imported one that a successful login replaces.
    pub fn needs_upgrade(stored: &str) -> bool {
        legacy_hashes::is_legacy(stored)
    }

    /// Verifies against `phc` (or an imported Django hash), or against the dummy hash when there is none, so the time
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

    #[tokio::test]
    async fn hashes_made_by_the_argon2_crate_itself_verify() {
        use argon2::PasswordHasher as _;
        let hasher = PasswordHasher::new(1).expect("hasher");
        let pw = Password::for_login("another password").expect("password");
        // Other parameters than ours (an older or foreign hash) still verify.
        let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8192, 3, 2, None).expect("params"));
        let phc =
            other.hash_password_with_salt(pw.expose().as_bytes(), b"sixteen byte salt").expect("hash").to_string();
        assert!(hasher.verify(&pw, Some(&phc)).await.expect("verify"));
        let ours = hasher.hash(&pw).await.expect("hash");
        let parsed = PasswordHash::new(&ours).expect("phc");
        use argon2::PasswordVerifier as _;
        assert!(Argon2::default().verify_password(pw.expose().as_bytes(), &parsed).is_ok(), "the crate verifies ours");
    }
}
