//! Prometheus metrics in a registry each runtime owns (never process-global).

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use crate::product::ProductIdentity;

/// The metrics of one runtime, in its own [`Registry`].
///
/// Every metric carries the product's `product`, `domain` and `version` as
/// constant labels.
///
/// # Examples
///
/// ```
/// use meshkit::{Metrics, ProductDescriptor};
///
/// let d = ProductDescriptor::builder("sales", "orders").version("1.0.0").owner("o")
///     .input("in", "a").output("out", "b").build()?;
/// let metrics = Metrics::new(&d.identity);
/// metrics.records_consumed.with_label_values(&["in"]).inc();
/// assert!(metrics.render().contains("meshkit_records_consumed_total"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Input records processed, by input port.
    pub records_consumed: IntCounterVec,
    /// Output records produced, by output port.
    pub records_produced: IntCounterVec,
    /// Records written to the dead-letter topic, by reason.
    pub dead_letters: IntCounterVec,
    /// Transactions committed.
    pub transactions_committed: IntCounter,
    /// Transactions aborted.
    pub transactions_aborted: IntCounter,
    /// Time to commit one transaction.
    pub commit_seconds: Histogram,
    /// Input partitions assigned to this instance.
    pub assigned_partitions: IntGauge,
    /// Changelog records applied by restores.
    pub records_restored: IntCounter,
}

impl Metrics {
    /// Registers meshkit's metrics, labelled with `identity`, in a new registry.
    pub fn new(identity: &ProductIdentity) -> Self {
        let labels = [
            ("product".to_string(), identity.name.clone()),
            ("domain".to_string(), identity.domain.clone()),
            ("version".to_string(), identity.version.to_string()),
        ]
        .into_iter()
        .collect();
        // A fresh registry cannot hold these names already, so registration
        // and construction with these fixed, valid names cannot fail.
        let registry = Registry::new_custom(Some("meshkit".into()), Some(labels)).unwrap_or_default();
        let counter_vec = |name: &str, help: &str, label: &str| {
            let metric = IntCounterVec::new(Opts::new(name, help), &[label])
                .unwrap_or_else(|_| unreachable_metric(name));
            let _ = registry.register(Box::new(metric.clone()));
            metric
        };
        let counter = |name: &str, help: &str| {
            let metric = IntCounter::new(name, help).unwrap_or_else(|_| unreachable_metric(name));
            let _ = registry.register(Box::new(metric.clone()));
            metric
        };
        let records_consumed = counter_vec("records_consumed_total", "Input records processed.", "port");
        let records_produced = counter_vec("records_produced_total", "Output records produced.", "port");
        let dead_letters = counter_vec(
            "dead_letters_total",
            "Records written to the dead-letter topic.",
            "reason",
        );
        let transactions_committed = counter("transactions_committed_total", "Kafka transactions committed.");
        let transactions_aborted = counter("transactions_aborted_total", "Kafka transactions aborted.");
        let records_restored = counter(
            "restored_records_total",
            "Changelog records applied by store restores.",
        );
        let commit_seconds = Histogram::with_opts(HistogramOpts::new(
            "commit_duration_seconds",
            "Time to commit one transaction (offsets and commit).",
        ))
        .unwrap_or_else(|_| unreachable_metric("commit_duration_seconds"));
        let _ = registry.register(Box::new(commit_seconds.clone()));
        let assigned_partitions = IntGauge::new(
            "assigned_partitions",
            "Input partitions assigned to this instance.",
        )
        .unwrap_or_else(|_| unreachable_metric("assigned_partitions"));
        let _ = registry.register(Box::new(assigned_partitions.clone()));
        Self {
            registry,
            records_consumed,
            records_produced,
            dead_letters,
            transactions_committed,
            transactions_aborted,
            commit_seconds,
            assigned_partitions,
            records_restored,
        }
    }

    /// The registry, to add metrics of your own or to scrape.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The registry in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cold]
fn unreachable_metric(name: &str) -> ! {
    // Metric names and help texts are fixed literals, valid by construction.
    unreachable!("meshkit metric `{name}` has an invalid fixed definition")
}
