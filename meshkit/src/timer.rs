//! Timers (punctuation): work a product does on a schedule rather than per
//! record, on the wall clock or on stream time; and a store's time to live,
//! counted on the same clocks. Plain data, declared in a product's
//! descriptor; the processing loop fires the timers and expires entries.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The source topic the changelog writes of a timer are tagged with: no
/// input record carries them (a restore keeps them).
pub(crate) const TIMER_SOURCE: &str = "meshkit.timer";

/// Which clock a timer follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Clock {
    /// The machine's clock: the timer fires while no record arrives, so an
    /// idle partition's work (its last window, say) still happens.
    Wall,
    /// Stream time, the largest record timestamp seen on the task's
    /// partition: the timer fires in order with the records that move it,
    /// and replays the same way.
    Stream,
}

/// A timer a product declares: its name, period and clock.
///
/// It fires once per period for each task (input partition) the instance
/// owns, at multiples of the period since the Unix epoch, and calls
/// [`DataProduct::on_timer`](crate::DataProduct::on_timer) with the context
/// bound to the task's partition and stores, [`Context::timestamp`](crate::Context::timestamp)
/// giving the tick. What it emits and writes commits in the same
/// transaction as the records around it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use meshkit::{Clock, ProductDescriptor};
///
/// let descriptor = ProductDescriptor::builder("sales", "flush")
///     .version("1.0.0")
///     .owner("team-sales")
///     .input("orders", "sales.orders")
///     .output("totals", "sales.totals")
///     .timer("flush", Clock::Wall, Duration::from_secs(30))
///     .build()?;
/// let timer = &descriptor.timers[0];
/// assert_eq!((timer.name.as_str(), timer.clock), ("flush", Clock::Wall));
/// // The tick at or after a time: the next multiple of the period.
/// assert_eq!(timer.next_tick(61_000), 90_000);
/// assert_eq!(timer.next_tick(90_000), 90_000);
/// # Ok::<(), meshkit::DescriptorError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TimerDescriptor {
    /// Its name, passed to `on_timer`.
    pub name: String,
    /// Which clock it follows.
    pub clock: Clock,
    /// Its period.
    pub every: Duration,
}

impl TimerDescriptor {
    /// A timer `name` on `clock` every `every`.
    pub fn new(name: impl Into<String>, clock: Clock, every: Duration) -> Self {
        Self {
            name: name.into(),
            clock,
            every,
        }
    }

    /// The period in milliseconds (at least 1).
    pub fn every_ms(&self) -> i64 {
        i64::try_from(self.every.as_millis()).unwrap_or(i64::MAX).max(1)
    }

    /// The first tick at or after `time` (ms since the Unix epoch): the
    /// next multiple of the period.
    pub fn next_tick(&self, time: i64) -> i64 {
        let every = self.every_ms();
        time.div_euclid(every)
            .saturating_add(i64::from(time.rem_euclid(every) != 0))
            .saturating_mul(every)
    }

    /// Why the declaration is invalid, if it is.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        if self.every < Duration::from_millis(1) {
            return Err("a timer's period must be at least 1 ms");
        }
        Ok(())
    }
}

/// How long a key-value store keeps an entry after its last write, and on
/// which clock (see [`DescriptorBuilder::store_with_ttl`](crate::product::DescriptorBuilder::store_with_ttl)).
///
/// An expired entry reads as absent at once; the runtime then removes it and
/// writes its tombstone to the changelog, in the transaction of the record
/// or tick that found it expired, so a restore does not bring it back.
/// Finding expired entries costs one index seek per check, not a scan of
/// the store: entries are indexed by expiry time.
///
/// - [`Clock::Stream`]: an entry expires once its task's stream time (the
///   largest record timestamp seen on the partition) passes its last
///   write's stream time plus `after`: replays expire the same entries.
/// - [`Clock::Wall`]: the machine's clock; entries of an idle task expire too.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use meshkit::{Clock, Ttl};
///
/// let ttl = Ttl::new(Clock::Wall, Duration::from_secs(3600));
/// assert_eq!(ttl.after_ms(), 3_600_000);
/// assert_eq!(ttl.expires_at(1_000), 3_601_000);
/// // Checked about 16 times per period (at most once per second).
/// assert_eq!(ttl.check_every_ms(), 1_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Ttl {
    /// The clock it counts on.
    pub clock: Clock,
    /// How long after its last write an entry expires.
    #[serde(with = "duration_ms")]
    pub after: Duration,
}

impl Ttl {
    /// Entries expire `after` their last write, on `clock`.
    pub fn new(clock: Clock, after: Duration) -> Self {
        Self { clock, after }
    }

    /// `after` in milliseconds (at least 1).
    pub fn after_ms(&self) -> i64 {
        i64::try_from(self.after.as_millis()).unwrap_or(i64::MAX).max(1)
    }

    /// When an entry written at `time` (ms on the TTL's clock) expires.
    pub fn expires_at(&self, time: i64) -> i64 {
        time.saturating_add(self.after_ms())
    }

    /// How often, in ms of its clock, a task looks for expired entries to
    /// remove: a sixteenth of the TTL, between 1 ms and 1 s. Reads never
    /// see an expired entry; only its removal (and tombstone) waits.
    pub fn check_every_ms(&self) -> i64 {
        (self.after_ms() / 16).clamp(1, 1_000)
    }

    /// Why the declaration is invalid, if it is.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        if self.after < Duration::from_millis(1) {
            return Err("a store's time to live must be at least 1 ms");
        }
        Ok(())
    }
}

/// A [`Duration`] as whole milliseconds, as the catalog shows it.
mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_multiples_of_the_period() {
        let t = TimerDescriptor::new("t", Clock::Stream, Duration::from_secs(10));
        assert_eq!(t.next_tick(0), 0);
        assert_eq!(t.next_tick(1), 10_000);
        assert_eq!(t.next_tick(-1), 0);
        assert_eq!(t.next_tick(-10_001), -10_000);
        assert!(TimerDescriptor::new("z", Clock::Wall, Duration::ZERO)
            .check()
            .is_err());
        assert!(t.check().is_ok());
    }
}
