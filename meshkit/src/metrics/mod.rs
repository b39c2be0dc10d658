//! The runtime's metrics: Prometheus, in a registry each runtime owns (the
//! `metrics` feature), or, in a build without it, a stand-in with the same
//! calls that records nothing, so the runtime has one code path.

#[cfg(not(feature = "metrics"))]
mod noop;
#[cfg(feature = "metrics")]
mod prom;

#[cfg(not(feature = "metrics"))]
pub(crate) use noop::{Metrics, PortMetrics};
#[cfg(feature = "metrics")]
pub use prom::Metrics;
#[cfg(feature = "metrics")]
pub(crate) use prom::PortMetrics;

/// Records not yet consumed from one partition: from its end (the last
/// stable offset under `read_committed`, else the high watermark) to the
/// consumer's position. `None` while either is unknown (librdkafka reports
/// negative logical offsets then).
pub(crate) fn lag(end: i64, position: i64) -> Option<i64> {
    (end >= 0 && position >= 0).then(|| (end - position).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_end_minus_position_and_unknown_for_logical_offsets() {
        assert_eq!(lag(100, 40), Some(60));
        assert_eq!(lag(100, 100), Some(0));
        // A position past a stale end (statistics lag behind fetches) is no lag.
        assert_eq!(lag(100, 120), Some(0));
        // -1001: librdkafka's "invalid offset", before the first fetch.
        assert_eq!(lag(100, -1001), None);
        assert_eq!(lag(-1, 5), None);
    }
}
