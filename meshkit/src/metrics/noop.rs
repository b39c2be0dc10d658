//! The metrics of a build without the `metrics` feature: the same fields and
//! calls as the Prometheus ones, each doing nothing.

use crate::product::ProductIdentity;

/// A counter, gauge or histogram (or a family of them) that records
/// nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct Nothing;

impl Nothing {
    pub(crate) fn inc(&self) {}
    pub(crate) fn inc_by(&self, _: u64) {}
    #[cfg(feature = "state")]
    pub(crate) fn add(&self, _: i64) {}
    pub(crate) fn set<T>(&self, _: T) {}
    pub(crate) fn get(&self) -> f64 {
        0.0
    }
    pub(crate) fn observe(&self, _: f64) {}
    pub(crate) fn reset(&self) {}
    pub(crate) fn with_label_values(&self, _: &[&str]) -> Nothing {
        Nothing
    }
}

/// No metrics: nothing registered, nothing recorded.
#[derive(Debug, Clone, Default)]
pub(crate) struct Metrics {
    pub(crate) dead_letters: Nothing,
    pub(crate) transactions_committed: Nothing,
    pub(crate) transactions_aborted: Nothing,
    pub(crate) commit_seconds: Nothing,
    pub(crate) assigned_partitions: Nothing,
    pub(crate) assignments_lost: Nothing,
    #[cfg(feature = "state")]
    pub(crate) records_restored: Nothing,
    pub(crate) consumer_lag: Nothing,
    #[cfg(feature = "state")]
    pub(crate) state_keys: Nothing,
    #[cfg(feature = "state")]
    pub(crate) state_bytes: Nothing,
    pub(crate) restoring_partitions: Nothing,
    #[cfg(feature = "state")]
    pub(crate) restore_remaining: Nothing,
}

impl Metrics {
    pub(crate) fn new(_identity: &ProductIdentity) -> Self {
        Self::default()
    }

    pub(crate) fn disabled(_identity: &ProductIdentity) -> Self {
        Self::default()
    }

    pub(crate) fn is_enabled(&self) -> bool {
        false
    }

    pub(crate) fn for_thread(&self) -> Self {
        self.clone()
    }

    pub(crate) fn dead_letter_label<'a>(&self, reason: &'a str) -> &'a str {
        reason
    }
}

/// No per-port series.
#[derive(Debug, Clone)]
pub(crate) struct PortMetrics {
    pub(crate) enabled: bool,
    pub(crate) consumed: Vec<Nothing>,
    pub(crate) produced: Vec<Nothing>,
    pub(crate) transform: Vec<Nothing>,
    pub(crate) last_timestamp: Vec<Nothing>,
    pub(crate) end_to_end: Vec<Nothing>,
}

impl PortMetrics {
    pub(crate) fn new(_metrics: &Metrics, _inputs: &[&str], _outputs: &[&str]) -> Self {
        Self {
            enabled: false,
            consumed: Vec::new(),
            produced: Vec::new(),
            transform: Vec::new(),
            last_timestamp: Vec::new(),
            end_to_end: Vec::new(),
        }
    }
}
