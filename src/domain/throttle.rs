//! Throttling of password guessing, sign-up floods and mail requests, shared by every node
//! on one database (`USERD_RATE_LIMIT=off` disables it).
//!
//! Each limit is a counter per key and fixed window in the [`ThrottleStore`]: one read of
//! a login's counters before its password is checked, one UPSERT after a failure, one per
//! counted attempt of the other actions. A cheap per-node pre-filter sheds floods before
//! they reach the database. Should the shared store fail, this node falls back to strict
//! local limits and says so in the log and in `/metrics`: it never lets everything through.
//!
//! Logins are counted per client address, per account **and** address, and per account
//! from anywhere; the last only refuses addresses that never signed in to the account,
//! so strangers guessing a password cannot lock its owner out from where they sign in.

use std::{
    collections::HashMap,
    net::IpAddr,
    num::NonZeroU32,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jiff::Timestamp;

use super::{
    clock::{self, Clock},
    crypto,
    error::{Error, Result},
    model::{Action, CounterKey, Limit},
    ports::ThrottleStore,
};

/// The limits (`USERD_THROTTLE_*`); defaults follow the anchors (Supabase Auth, Keycloak's
/// brute-force detection, OWASP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Failed logins per client address.
    pub login_address: Limit,
    /// Failed logins per account and address; a second, longer window grows the back-off.
    pub login_account_address: Limit,
    pub login_account_address_long: Limit,
    /// Failed logins per account from anywhere; refuses only addresses that never signed in.
    pub login_account: Limit,
    pub register: Limit,
    pub password_reset: Limit,
    pub verification_mail: Limit,
    pub provider_login: Limit,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            login_address: Limit::new(10, 60),
            login_account_address: Limit::new(5, 300),
            login_account_address_long: Limit::new(20, 3600),
            login_account: Limit::new(100, 3600),
            register: Limit::new(20, 3600),
            password_reset: Limit::new(5, 300),
            verification_mail: Limit::new(5, 300),
            provider_login: Limit::new(30, 60),
        }
    }
}

/// How long an address that signed in to an account stays known to it.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 86_400);
/// Requests per minute one address may make to throttled actions on one node before the
/// database is asked at all.
const PREFILTER_PER_MINUTE: u32 = 120;

/// Allowed and throttled decisions per action, and fallbacks, for `/metrics`.
#[derive(Default)]
struct Stats {
    decisions: HashMap<(Action, bool), AtomicU64>,
    fallbacks: AtomicU64,
    degraded: AtomicBool,
    last_warning: Mutex<Option<Instant>>,
}

/// What `/metrics` shows of throttling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleStats {
    /// (action, throttled?, count)
    pub decisions: Vec<(Action, bool, u64)>,
    /// Decisions made by the local fallback because the shared store failed.
    pub fallbacks: u64,
    /// Whether the last decision had to fall back.
    pub degraded: bool,
}

struct Local {
    prefilter: DefaultKeyedRateLimiter<IpAddr>,
    /// Strict limits for when the shared store cannot be reached.
    fallback_address: DefaultKeyedRateLimiter<(Action, IpAddr)>,
    fallback_account: DefaultKeyedRateLimiter<String>,
}

#[derive(Clone)]
pub struct Throttle {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    store: Arc<dyn ThrottleStore>,
    limits: Limits,
    local: Local,
    stats: Stats,
    clock: Arc<dyn Clock>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

/// The address as counted: IPv4 whole, IPv6 by its /64 (one subscriber's network).
pub fn counted_address(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

fn digest(text: &str) -> String {
    hex::encode(&crypto::sha256(text.as_bytes())[..16])
}

impl Throttle {
    /// `None` for `USERD_RATE_LIMIT=off`.
    pub fn new(store: Option<Arc<dyn ThrottleStore>>, limits: Limits, clock: Arc<dyn Clock>) -> Self {
        let inner = store.map(|store| {
            let mut decisions = HashMap::new();
            for action in Action::ALL {
                decisions.insert((action, false), AtomicU64::new(0));
                decisions.insert((action, true), AtomicU64::new(0));
            }
            Arc::new(Inner {
                store,
                limits,
                local: Local {
                    prefilter: RateLimiter::keyed(per_minute(PREFILTER_PER_MINUTE)),
                    fallback_address: RateLimiter::keyed(per_minute(5)),
                    fallback_account: RateLimiter::keyed(per_minute(3)),
                },
                stats: Stats { decisions, ..Stats::default() },
                clock,
            })
        });
        Throttle { inner }
    }

    /// Before a password is checked: refused while the address, the account and address,
    /// or (from an address that never signed in to it) the account has failed too often.
    pub async fn check_login(&self, ip: Option<IpAddr>, account: &str) -> Result<()> {
        let Some(t) = &self.inner else { return Ok(()) };
        t.prefilter(Action::Login, ip)?;
        let keys = t.login_keys(ip, account, true)?;
        let decision = match t.store.counts(&keys).await {
            Ok(counts) => {
                t.healthy();
                let l = &t.limits;
                let limits = [l.login_address, l.login_account_address, l.login_account_address_long, l.login_account];
                let known = counts.get(4).copied().unwrap_or(0) > 0;
                let mut decision = Ok(());
                for (i, limit) in limits.iter().enumerate() {
                    let over = counts.get(i).copied().unwrap_or(0) >= limit.hits;
                    let applies = (i != 0 || ip.is_some()) && (i != 3 || !known);
                    if over && applies {
                        decision = Err(t.retry_after(&keys[i]));
                        break;
                    }
                }
                decision
            }
            Err(e) => t.fall_back(e, Action::Login, ip, Some(account)),
        };
        t.count(Action::Login, decision)
    }

    /// After a wrong password: counts against the address, the account and address, and the account.
    pub async fn login_failed(&self, ip: Option<IpAddr>, account: &str) {
        let Some(t) = &self.inner else { return };
        let Ok(mut keys) = t.login_keys(ip, account, false) else { return };
        if ip.is_none() {
            keys.remove(0);
        }
        if let Err(e) = t.store.hit(&keys).await {
            t.warn(&e);
        }
    }

    /// After a right password: the account and address start afresh, and the address is
    /// known to the account from now on.
    pub async fn login_succeeded(&self, ip: Option<IpAddr>, account: &str) {
        let Some(t) = &self.inner else { return };
        let Ok(keys) = t.login_keys(ip, account, true) else { return };
        let cleared = [keys[1].key.clone(), keys[2].key.clone()];
        if let Err(e) = t.store.clear(&cleared).await {
            t.warn(&e);
        }
        if let Err(e) = t.store.hit(&keys[4..]).await {
            t.warn(&e);
        }
    }

    /// Counts an attempt of a per-address action (registration, reset and verification
    /// mails, provider sign-ins) and refuses it past the limit.
    pub async fn attempt(&self, action: Action, ip: Option<IpAddr>) -> Result<()> {
        let Some(t) = &self.inner else { return Ok(()) };
        let Some(ip) = ip else { return Ok(()) };
        t.prefilter(action, Some(ip))?;
        let limit = t.limit(action);
        let key = t.key(action, "address", &counted_address(ip), limit.window)?;
        let decision = match t.store.hit(std::slice::from_ref(&key)).await {
            Ok(counts) => {
                t.healthy();
                if counts.first().copied().unwrap_or(0) > limit.hits { Err(t.retry_after(&key)) } else { Ok(()) }
            }
            Err(e) => t.fall_back(e, action, Some(ip), None),
        };
        t.count(action, decision)
    }

    /// Counts and state for `/metrics`.
    pub fn stats(&self) -> Option<ThrottleStats> {
        let t = self.inner.as_ref()?;
        let mut decisions: Vec<(Action, bool, u64)> =
            t.stats.decisions.iter().map(|((a, throttled), n)| (*a, *throttled, n.load(Ordering::Relaxed))).collect();
        decisions.sort_by_key(|(a, throttled, _)| (a.as_str(), *throttled));
        Some(ThrottleStats {
            decisions,
            fallbacks: t.stats.fallbacks.load(Ordering::Relaxed),
            degraded: t.stats.degraded.load(Ordering::Relaxed),
        })
    }

    /// Drops idle local keys and ended shared windows.
    pub async fn housekeeping(&self) {
        let Some(t) = &self.inner else { return };
        t.local.prefilter.retain_recent();
        t.local.fallback_address.retain_recent();
        t.local.fallback_account.retain_recent();
        if let Err(e) = t.store.purge_counters(t.clock.now()).await {
            tracing::warn!(error = %e, "purging ended throttling windows failed");
        }
    }
}

impl Inner {
    fn limit(&self, action: Action) -> Limit {
        let l = &self.limits;
        match action {
            Action::Login => l.login_address,
            Action::Register => l.register,
            Action::PasswordReset => l.password_reset,
            Action::VerificationMail => l.verification_mail,
            Action::ProviderLogin => l.provider_login,
        }
    }

    /// A counter of `what` (an address or account) for `action`, in the window holding now.
    fn key(&self, action: Action, scope: &str, what: &str, window: Duration) -> Result<CounterKey> {
        let now = self.clock.now().as_microsecond();
        let len = i64::try_from(window.as_micros()).unwrap_or(i64::MAX).max(1);
        let start = Timestamp::from_microsecond(now - now.rem_euclid(len)).map_err(anyhow::Error::from)?;
        Ok(CounterKey {
            key: format!("{}:{scope}:{}", action.as_str(), digest(what)),
            window_start: start,
            expires_at: clock::after(start, window)?,
        })
    }

    /// Address, account and address (short and long), account, and whether the address
    /// is known to the account; `with_known` adds the last.
    fn login_keys(&self, ip: Option<IpAddr>, account: &str, with_known: bool) -> Result<Vec<CounterKey>> {
        let address = ip.map_or_else(|| "-".to_string(), counted_address);
        let account = account.trim().to_lowercase();
        let pair = format!("{account}\n{address}");
        let l = &self.limits;
        let mut keys = vec![
            self.key(Action::Login, "address", &address, l.login_address.window)?,
            self.key(Action::Login, "account_address", &pair, l.login_account_address.window)?,
            self.key(Action::Login, "account_address_long", &pair, l.login_account_address_long.window)?,
            self.key(Action::Login, "account", &account, l.login_account.window)?,
        ];
        if with_known {
            keys.push(self.key(Action::Login, "known", &pair, KNOWN_FOR)?);
        }
        Ok(keys)
    }

    fn prefilter(&self, action: Action, ip: Option<IpAddr>) -> Result<()> {
        let Some(ip) = ip else { return Ok(()) };
        self.local.prefilter.check_key(&ip).map_err(|_| {
            self.bump(action, true);
            Error::RateLimited { retry_after: 60 }
        })
    }

    fn retry_after(&self, key: &CounterKey) -> Error {
        let wait = self.clock.now().duration_until(key.expires_at).as_secs().max(1);
        Error::RateLimited { retry_after: u64::try_from(wait).unwrap_or(1) }
    }

    /// The shared store failed: decide by strict local limits, and say so.
    fn fall_back(&self, e: Error, action: Action, ip: Option<IpAddr>, account: Option<&str>) -> Result<()> {
        self.warn(&e);
        self.stats.fallbacks.fetch_add(1, Ordering::Relaxed);
        let refused = || Error::RateLimited { retry_after: 60 };
        if let Some(ip) = ip {
            self.local.fallback_address.check_key(&(action, ip)).map_err(|_| refused())?;
        }
        if let Some(account) = account {
            self.local.fallback_account.check_key(&account.trim().to_lowercase()).map_err(|_| refused())?;
        }
        Ok(())
    }

    fn healthy(&self) {
        self.stats.degraded.store(false, Ordering::Relaxed);
    }

    /// Logs a store failure at most once a minute and marks the node degraded.
    fn warn(&self, e: &Error) {
        self.stats.degraded.store(true, Ordering::Relaxed);
        let Ok(mut last) = self.stats.last_warning.lock() else { return };
        if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            *last = Some(Instant::now());
            tracing::warn!(error = %e, "the shared throttling counters cannot be reached: strict per-node limits apply");
        }
    }

    fn bump(&self, action: Action, throttled: bool) {
        if let Some(n) = self.stats.decisions.get(&(action, throttled)) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn count(&self, action: Action, decision: Result<()>) -> Result<()> {
        self.bump(action, decision.is_err());
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(counted_address(a), counted_address(b));
        assert_ne!(counted_address(a), counted_address(c));
        assert_eq!(counted_address("::ffff:192.0.2.1".parse().expect("ip")), "192.0.2.1");
        assert_eq!(counted_address("192.0.2.1".parse().expect("ip")), "192.0.2.1");
    }
}
