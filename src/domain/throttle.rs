//! Per-node throttling of password guessing and sign-up floods (`USERD_RATE_LIMIT=off` disables it).

use std::{net::IpAddr, num::NonZeroU32, sync::Arc};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

use super::error::{Error, Result};

#[derive(Clone)]
pub struct Throttle {
    inner: Option<Arc<Limits>>,
}

struct Limits {
    login_per_ip: DefaultKeyedRateLimiter<IpAddr>,
    login_per_account: DefaultKeyedRateLimiter<String>,
    register_per_ip: DefaultKeyedRateLimiter<IpAddr>,
    provider_login_per_ip: DefaultKeyedRateLimiter<IpAddr>,
    mail_per_ip: DefaultKeyedRateLimiter<IpAddr>,
}

fn per_minute(n: u32, burst: u32) -> Quota {
    let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(n).allow_burst(burst)
}

fn check<K: std::hash::Hash + Eq + Clone>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<()> {
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
        Error::RateLimited { retry_after: wait.as_secs().max(1) }
    })
}

impl Throttle {
    pub fn new(enabled: bool) -> Self {
        let inner = enabled.then(|| {
            Arc::new(Limits {
                login_per_ip: RateLimiter::keyed(per_minute(30, 20)),
                login_per_account: RateLimiter::keyed(per_minute(10, 10)),
                register_per_ip: RateLimiter::keyed(per_minute(10, 10)),
                provider_login_per_ip: RateLimiter::keyed(per_minute(30, 20)),
                mail_per_ip: RateLimiter::keyed(per_minute(5, 5)),
            })
        });
        Throttle { inner }
    }

    /// Before a password is checked: per client address and per account name.
    pub fn login(&self, ip: Option<IpAddr>, account: &str) -> Result<()> {
        let Some(l) = &self.inner else { return Ok(()) };
        if let Some(ip) = ip {
            check(&l.login_per_ip, &ip)?;
        }
        check(&l.login_per_account, &account.to_lowercase())
    }

    pub fn register(&self, ip: Option<IpAddr>) -> Result<()> {
        match (&self.inner, ip) {
            (Some(l), Some(ip)) => check(&l.register_per_ip, &ip),
            _ => Ok(()),
        }
    }

    /// Before a provider's credential is checked (Google, GitHub): per client address, as
    /// password logins, so a flood of forged credentials cannot make userd hammer the
    /// provider.
    pub fn provider_login(&self, ip: Option<IpAddr>) -> Result<()> {
        match (&self.inner, ip) {
            (Some(l), Some(ip)) => check(&l.provider_login_per_ip, &ip),
            _ => Ok(()),
        }
    }

    /// Before a mail is asked for (password reset, verification again): per client address.
    pub fn mail_request(&self, ip: Option<IpAddr>) -> Result<()> {
        match (&self.inner, ip) {
            (Some(l), Some(ip)) => check(&l.mail_per_ip, &ip),
            _ => Ok(()),
        }
    }

    /// Drops idle keys so memory stays bounded.
    pub fn housekeeping(&self) {
        if let Some(l) = &self.inner {
            l.login_per_ip.retain_recent();
            l.login_per_account.retain_recent();
            l.register_per_ip.retain_recent();
            l.provider_login_per_ip.retain_recent();
            l.mail_per_ip.retain_recent();
        }
    }
}
