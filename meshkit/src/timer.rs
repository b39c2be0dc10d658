//! Timers (punctuation): work a product does on a schedule rather than per
//! record, on the wall clock or on stream time. Plain data, declared in a
//! product's descriptor; the processing loop fires them.

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
