//! "Now", as a dependency: the domain asks a [`Clock`], and tests move a [`ManualClock`]
//! instead of sleeping.

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use jiff::{SignedDuration, Timestamp};

use super::error::{Error, Result};

pub trait Clock: Send + Sync {
    /// The current time at the precision stored (microseconds), so a value returned at
    /// creation equals the value read back later.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        micro(Timestamp::now())
    }
}

/// The system clock shifted by an offset the test sets: time passes as usual, and
/// `advance` jumps ahead (an hour, a week) at once.
#[derive(Debug, Default)]
pub struct ManualClock {
    offset_micros: AtomicI64,
}

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn advance(&self, by: Duration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.offset_micros.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        let offset = SignedDuration::from_micros(self.offset_micros.load(Ordering::SeqCst));
        micro(Timestamp::now().checked_add(offset).unwrap_or(Timestamp::MAX))
    }
}

fn micro(t: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t)
}

/// `from + ttl`, or an internal error when that is past the last representable instant
/// (settings bound every lifetime, so this only guards against a future mistake).
pub fn after(from: Timestamp, ttl: Duration) -> Result<Timestamp> {
    SignedDuration::try_from(ttl)
        .ok()
        .and_then(|d| from.checked_add(d).ok())
        .ok_or_else(|| Error::internal(anyhow::anyhow!("a lifetime of {ttl:?} overflows the timestamp range")))
}

/// `from - ago`, saturating at the earliest representable instant.
pub fn before(from: Timestamp, ago: Duration) -> Timestamp {
    SignedDuration::try_from(ago).ok().and_then(|d| from.checked_sub(d).ok()).unwrap_or(Timestamp::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_that_overflow_are_errors_not_panics() {
        let now = SystemClock.now();
        assert!(after(now, Duration::from_secs(3600)).is_ok());
        assert!(after(now, Duration::from_secs(100_000_000 * 86_400)).is_err(), "100 million days");
        assert!(after(now, Duration::MAX).is_err());
        assert_eq!(before(now, Duration::MAX), Timestamp::MIN);
    }

    #[test]
    fn a_manual_clock_moves_when_told() {
        let clock = ManualClock::new();
        let start = clock.now();
        clock.advance(Duration::from_secs(7 * 86_400));
        let moved = clock.now().duration_since(start);
        assert!(moved >= SignedDuration::from_hours(7 * 24), "{moved:?}");
    }
}
