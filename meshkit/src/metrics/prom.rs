//! The runtime's metrics in Prometheus, in a registry each runtime owns
//! (never process-global).

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use prometheus::core::Collector;
use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::product::ProductIdentity;

/// Buckets of the transform latency: from 10 µs (a map) to about 10 s (a
/// transform that calls out), each four times the previous.
const TRANSFORM_BUCKETS: &[f64] = &[
    0.000_01, 0.000_04, 0.000_16, 0.000_64, 0.002_56, 0.010_24, 0.040_96, 0.163_84, 0.655_36, 2.621_44,
    10.485_76,
];

/// Buckets of the end-to-end latency: from 1 ms (a live stream) to 1 h (a
/// product catching up after downtime).
const END_TO_END_BUCKETS: &[f64] = &[
    0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    3600.0,
];

/// The metrics of one runtime, in its own [`Registry`].
///
/// Every metric is named `meshkit_…` in Prometheus' conventions (counters
/// end in `_total`, durations are in seconds); the product's identity is
/// one `meshkit_product_info` series rather than labels on every series:
///
/// | metric | type | labels | what |
/// |---|---|---|---|
/// | `meshkit_records_consumed_total` | counter | `port` | input records processed, in committed transactions |
/// | `meshkit_records_produced_total` | counter | `port` | output records produced, in committed transactions |
/// | `meshkit_dead_letters_total` | counter | `reason` | records dead-lettered, in committed transactions (the first 32 distinct reasons; later ones count as `other`) |
/// | `meshkit_product_info` | gauge | `product`, `domain`, `version` | 1: the product's identity, once (join it on the instance's target labels) |
/// | `meshkit_transactions_total` | counter | `outcome` (`committed`, `aborted`) | Kafka transactions ended |
/// | `meshkit_commit_duration_seconds` | histogram | | time to commit one transaction |
/// | `meshkit_transform_duration_seconds` | histogram | `port` | time in the transform, every call (also calls whose transaction aborted) |
/// | `meshkit_end_to_end_latency_seconds` | histogram | `port` | from the input record's timestamp to its output's produce |
/// | `meshkit_last_record_timestamp_seconds` | gauge | `port` | timestamp of the newest input record processed (freshness: `time() - …`) |
/// | `meshkit_consumer_lag_records` | gauge | `topic`, `partition` | last stable offset minus the consumer's position, per assigned partition, from the client's statistics |
/// | `meshkit_assigned_partitions` | gauge | | input partitions assigned |
/// | `meshkit_assignments_lost_total` | counter | | times the instance lost its partitions without handing them over (it did not poll within `max.poll.interval.ms`, or its session timed out) |
/// | `meshkit_state_keys` | gauge | `partition` | estimated keys in the partition's state database (all of the product's stores) |
/// | `meshkit_state_bytes` | gauge | `partition` | estimated bytes of live data and memtables in that database |
/// | `meshkit_restored_records_total` | counter | | changelog records applied by restores |
/// | `meshkit_restoring_partitions` | gauge | | partitions whose stores are being or waiting to be restored |
/// | `meshkit_restore_remaining_records` | gauge | | changelog records left to read by the running restores |
///
/// With [several processing threads](crate::ConfigBuilder::processing_threads),
/// counters and histograms count every thread's work, the partition gauges
/// add the threads' parts up, and the series labelled by partition are each
/// set by the thread that owns the partition.
///
/// A runtime configured with [`metrics(false)`](crate::ConfigBuilder::metrics)
/// gets [`Metrics::disabled`]: nothing registered, nothing recorded.
///
/// # Examples
///
/// ```
/// use meshkit::{Metrics, ProductDescriptor};
///
/// let d = ProductDescriptor::builder("sales", "orders").version("1.0.0").owner("o")
///     .input("in", "a").output("out", "b").build()?;
/// let metrics = Metrics::new(&d.identity);
/// assert_eq!(metrics.value("meshkit_product_info", &[("product", "orders")]), Some(1.0));
/// assert!(metrics.render().contains("meshkit_transactions_total"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Metrics {
    registry: Registry,
    enabled: bool,
    /// Input records processed, by input port.
    pub(crate) records_consumed: IntCounterVec,
    /// Output records produced, by output port.
    pub(crate) records_produced: IntCounterVec,
    /// Records written to the dead-letter topic, by reason.
    pub(crate) dead_letters: IntCounterVec,
    /// Transactions committed.
    pub(crate) transactions_committed: IntCounter,
    /// Transactions aborted.
    pub(crate) transactions_aborted: IntCounter,
    /// Time to commit one transaction.
    pub(crate) commit_seconds: Histogram,
    /// Input partitions assigned to this instance.
    pub(crate) assigned_partitions: PartGauge,
    /// Times the instance lost its partitions without handing them over.
    pub(crate) assignments_lost: IntCounter,
    /// Changelog records applied by restores.
    #[cfg_attr(not(feature = "state"), allow(dead_code))]
    pub(crate) records_restored: IntCounter,
    /// Time in the transform, by input port.
    pub(crate) transform_seconds: HistogramVec,
    /// Input record timestamp to output produce time, by output port.
    pub(crate) end_to_end_seconds: HistogramVec,
    /// Timestamp (seconds since the epoch) of the newest input record
    /// processed, by input port.
    pub(crate) last_record_timestamp: GaugeVec,
    /// Records not yet consumed, by input topic and partition.
    pub(crate) consumer_lag: PartGaugeVec,
    /// Estimated keys in each partition's state database.
    #[cfg_attr(not(feature = "state"), allow(dead_code))]
    pub(crate) state_keys: PartGaugeVec,
    /// Estimated bytes in each partition's state database.
    #[cfg_attr(not(feature = "state"), allow(dead_code))]
    pub(crate) state_bytes: PartGaugeVec,
    /// Partitions whose stores are being or waiting to be restored.
    pub(crate) restoring_partitions: PartGauge,
    /// Changelog records the running restores have left to read.
    #[cfg_attr(not(feature = "state"), allow(dead_code))]
    pub(crate) restore_remaining: IntGauge,
    /// The dead-letter reasons that have a series: a product chooses its
    /// own (`Context::dead_letter`), so they are bounded.
    reasons: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

/// How many distinct dead-letter reasons get a series of their own.
const MAX_DEAD_LETTER_REASONS: usize = 32;

/// The `reason` label of dead letters past [`MAX_DEAD_LETTER_REASONS`].
const OTHER_REASON: &str = "other";

impl Metrics {
    /// Registers meshkit's metrics, labelled with `identity`, in a new registry.
    ///
    /// # Examples
    ///
    /// See [`Metrics`].
    pub fn new(identity: &ProductIdentity) -> Self {
        Self::build(identity, true)
    }

    /// Metrics that are not registered anywhere, for a runtime that records
    /// none: [`render`](Metrics::render) is empty and
    /// [`is_enabled`](Metrics::is_enabled) is `false`.
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::{Metrics, ProductDescriptor};
    ///
    /// let d = ProductDescriptor::builder("sales", "orders").version("1.0.0").owner("o")
    ///     .input("in", "a").output("out", "b").build()?;
    /// let metrics = Metrics::disabled(&d.identity);
    /// assert!(!metrics.is_enabled());
    /// assert_eq!(metrics.render(), "");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn disabled(identity: &ProductIdentity) -> Self {
        Self::build(identity, false)
    }

    fn build(identity: &ProductIdentity, enabled: bool) -> Self {
        // A fresh registry cannot hold these names already, so registration
        // and construction with these fixed, valid names cannot fail. The
        // product's identity is one info series, not labels on every series
        // (Prometheus' advice on target labels).
        let registry = Registry::new_custom(Some("meshkit".into()), None).unwrap_or_default();
        let register = |metric: Box<dyn Collector>| {
            if enabled {
                let _ = registry.register(metric);
            }
        };
        let counter_vec = |name: &str, help: &str, label: &str| {
            let metric = IntCounterVec::new(Opts::new(name, help), &[label])
                .unwrap_or_else(|_| unreachable_metric(name));
            register(Box::new(metric.clone()));
            metric
        };
        let counter = |name: &str, help: &str| {
            let metric = IntCounter::new(name, help).unwrap_or_else(|_| unreachable_metric(name));
            register(Box::new(metric.clone()));
            metric
        };
        let gauge = |name: &str, help: &str| {
            let metric = IntGauge::new(name, help).unwrap_or_else(|_| unreachable_metric(name));
            register(Box::new(metric.clone()));
            metric
        };
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
            let metric =
                IntGaugeVec::new(Opts::new(name, help), labels).unwrap_or_else(|_| unreachable_metric(name));
            register(Box::new(metric.clone()));
            metric
        };
        let histogram_vec = |name: &str, help: &str, buckets: &[f64]| {
            let metric = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                &["port"],
            )
            .unwrap_or_else(|_| unreachable_metric(name));
            register(Box::new(metric.clone()));
            metric
        };
        let records_consumed = counter_vec("records_consumed_total", "Input records processed.", "port");
        let records_produced = counter_vec("records_produced_total", "Output records produced.", "port");
        let dead_letters = counter_vec(
            "dead_letters_total",
            "Records written to the dead-letter topic.",
            "reason",
        );
        let product_info = gauge_vec(
            "product_info",
            "The data product this instance runs (always 1).",
            &["product", "domain", "version"],
        );
        product_info
            .with_label_values(&[
                identity.name.as_str(),
                identity.domain.as_str(),
                &identity.version.to_string(),
            ])
            .set(1);
        let transactions = counter_vec(
            "transactions_total",
            "Kafka transactions ended, by outcome.",
            "outcome",
        );
        let transactions_committed = transactions.with_label_values(&["committed"]);
        let transactions_aborted = transactions.with_label_values(&["aborted"]);
        let records_restored = counter(
            "restored_records_total",
            "Changelog records applied by store restores.",
        );
        let commit_seconds = Histogram::with_opts(HistogramOpts::new(
            "commit_duration_seconds",
            "Time to commit one transaction (offsets and commit).",
        ))
        .unwrap_or_else(|_| unreachable_metric("commit_duration_seconds"));
        register(Box::new(commit_seconds.clone()));
        let assigned_partitions = gauge(
            "assigned_partitions",
            "Input partitions assigned to this instance.",
        );
        let assignments_lost = counter(
            "assignments_lost_total",
            "Times the instance lost its partitions without handing them over (max.poll.interval.ms \
             exceeded, or its session timed out).",
        );
        let transform_seconds = histogram_vec(
            "transform_duration_seconds",
            "Time in the transform per input record, every call (also calls whose transaction aborted).",
            TRANSFORM_BUCKETS,
        );
        let end_to_end_seconds = histogram_vec(
            "end_to_end_latency_seconds",
            "Time from an input record's timestamp to the produce of its output.",
            END_TO_END_BUCKETS,
        );
        let last_record_timestamp = GaugeVec::new(
            Opts::new(
                "last_record_timestamp_seconds",
                "Timestamp of the newest input record processed, in seconds since the epoch.",
            ),
            &["port"],
        )
        .unwrap_or_else(|_| unreachable_metric("last_record_timestamp_seconds"));
        register(Box::new(last_record_timestamp.clone()));
        let consumer_lag = gauge_vec(
            "consumer_lag_records",
            "Input records not yet consumed: last stable offset minus position, per assigned partition.",
            &["topic", "partition"],
        );
        let state_keys = gauge_vec(
            "state_keys",
            "Estimated keys in the state database of an input partition (all stores).",
            &["partition"],
        );
        let state_bytes = gauge_vec(
            "state_bytes",
            "Estimated bytes (live data and memtables) in the state database of an input partition.",
            &["partition"],
        );
        let restoring_partitions = gauge(
            "restoring_partitions",
            "Partitions whose stores are being or waiting to be restored.",
        );
        let restore_remaining = gauge(
            "restore_remaining_records",
            "Changelog records the running restores have left to read.",
        );
        Self {
            registry,
            enabled,
            records_consumed,
            records_produced,
            dead_letters,
            transactions_committed,
            transactions_aborted,
            commit_seconds,
            assigned_partitions: PartGauge::new(assigned_partitions),
            assignments_lost,
            records_restored,
            transform_seconds,
            end_to_end_seconds,
            last_record_timestamp,
            consumer_lag: PartGaugeVec::new(consumer_lag),
            state_keys: PartGaugeVec::new(state_keys),
            state_bytes: PartGaugeVec::new(state_bytes),
            restoring_partitions: PartGauge::new(restoring_partitions),
            restore_remaining,
            reasons: Default::default(),
        }
    }

    /// The same metrics, for another processing thread: the gauges it sets
    /// to its own part (assigned and restoring partitions, and the series
    /// of its partitions) keep that part apart from the other threads'.
    pub(crate) fn for_thread(&self) -> Self {
        Self {
            assigned_partitions: self.assigned_partitions.for_thread(),
            restoring_partitions: self.restoring_partitions.for_thread(),
            consumer_lag: self.consumer_lag.for_thread(),
            state_keys: self.state_keys.for_thread(),
            state_bytes: self.state_bytes.for_thread(),
            ..self.clone()
        }
    }

    /// The `reason` label to count a dead letter under: `reason` itself
    /// while fewer than [`MAX_DEAD_LETTER_REASONS`] distinct ones were seen,
    /// then `other` for any new one, so that a product that puts ids or
    /// messages in its reasons cannot grow the registry without bound. The
    /// dead letter's own header keeps the full reason.
    pub(crate) fn dead_letter_label<'a>(&self, reason: &'a str) -> &'a str {
        let mut seen = self
            .reasons
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.contains(reason) {
            return reason;
        }
        if seen.len() < MAX_DEAD_LETTER_REASONS {
            seen.insert(reason.to_string());
            return reason;
        }
        OTHER_REASON
    }

    /// Whether the runtime records these metrics (see
    /// [`ConfigBuilder::metrics`](crate::ConfigBuilder::metrics)).
    ///
    /// # Examples
    ///
    /// See [`Metrics::disabled`].
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The registry, to add metrics of your own or to scrape.
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::{Metrics, ProductDescriptor};
    ///
    /// let d = ProductDescriptor::builder("sales", "orders").version("1.0.0").owner("o")
    ///     .input("in", "a").output("out", "b").build()?;
    /// let metrics = Metrics::new(&d.identity);
    /// let mine = prometheus::IntCounter::new("orders_seen_total", "Orders seen.")?;
    /// metrics.registry().register(Box::new(mine.clone()))?;
    /// mine.inc();
    /// assert!(metrics.render().contains("meshkit_orders_seen_total"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The value of the series of metric `name` (as rendered, e.g.
    /// `meshkit_records_consumed_total`) whose labels include `labels`: a
    /// counter's or gauge's value, a histogram's sample count. `None` if no
    /// such series exists (yet).
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::{Metrics, ProductDescriptor};
    ///
    /// let d = ProductDescriptor::builder("sales", "orders").version("1.0.0").owner("o")
    ///     .input("in", "a").output("out", "b").build()?;
    /// let metrics = Metrics::new(&d.identity);
    /// assert_eq!(metrics.value("meshkit_transactions_total", &[("outcome", "committed")]), Some(0.0));
    /// assert_eq!(metrics.value("meshkit_assigned_partitions", &[]), Some(0.0));
    /// assert_eq!(metrics.value("meshkit_records_consumed_total", &[("port", "in")]), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let family = self.registry.gather().into_iter().find(|f| f.name() == name)?;
        let metric = family.get_metric().iter().find(|m| {
            labels
                .iter()
                .all(|(k, v)| m.get_label().iter().any(|l| l.name() == *k && l.value() == *v))
        })?;
        Some(match family.get_field_type() {
            prometheus::proto::MetricType::COUNTER => metric.get_counter().get_value(),
            prometheus::proto::MetricType::GAUGE => metric.get_gauge().get_value(),
            prometheus::proto::MetricType::HISTOGRAM => metric.get_histogram().get_sample_count() as f64,
            _ => return None,
        })
    }

    /// The registry in Prometheus text format.
    ///
    /// # Examples
    ///
    /// See [`Metrics`].
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// A gauge each processing thread sets to its own part of the whole (the
/// partitions it was assigned, …): the series is the sum of the parts, so
/// that one thread's value never overwrites another's. With one thread it
/// is the thread's value.
#[derive(Debug, Clone)]
pub(crate) struct PartGauge {
    gauge: IntGauge,
    /// This thread's part, as it is counted in the series.
    part: Arc<AtomicI64>,
}

impl PartGauge {
    fn new(gauge: IntGauge) -> Self {
        Self {
            gauge,
            part: Arc::default(),
        }
    }

    /// Sets this thread's part to `value`.
    pub(crate) fn set(&self, value: i64) {
        let before = self.part.swap(value, Ordering::AcqRel);
        self.gauge.add(value - before);
    }

    fn for_thread(&self) -> Self {
        Self::new(self.gauge.clone())
    }
}

/// A family of gauges labelled by partition (or topic and partition), whose
/// series each processing thread sets for its own partitions only: its
/// [`reset`](Self::reset) removes the series it set, not another thread's.
#[derive(Debug, Clone)]
pub(crate) struct PartGaugeVec {
    vec: IntGaugeVec,
    /// The label values of the series this thread set.
    mine: Arc<Mutex<HashSet<Vec<String>>>>,
}

impl PartGaugeVec {
    fn new(vec: IntGaugeVec) -> Self {
        Self {
            vec,
            mine: Arc::default(),
        }
    }

    /// The series of `labels`, noted as this thread's. Called every few
    /// seconds per partition (statistics, size samples), never per record.
    pub(crate) fn with_label_values(&self, labels: &[&str]) -> IntGauge {
        let mut mine = self.mine.lock().unwrap_or_else(PoisonError::into_inner);
        if !mine.iter().any(|known| known.iter().eq(labels.iter())) {
            mine.insert(labels.iter().map(|l| (*l).to_string()).collect());
        }
        self.vec.with_label_values(labels)
    }

    /// Removes the series this thread set.
    pub(crate) fn reset(&self) {
        let mut mine = self.mine.lock().unwrap_or_else(PoisonError::into_inner);
        for labels in mine.drain() {
            let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
            // A series another call removed already is no error here.
            let _ = self.vec.remove_label_values(&labels);
        }
    }

    fn for_thread(&self) -> Self {
        Self::new(self.vec.clone())
    }
}

/// The labelled children the processing loop touches per record, resolved
/// once at start (a `with_label_values` hashes its labels and takes a lock
/// on every call). Indexed like the descriptor's ports.
#[derive(Debug, Clone)]
pub(crate) struct PortMetrics {
    pub(crate) enabled: bool,
    pub(crate) consumed: Vec<IntCounter>,
    pub(crate) produced: Vec<IntCounter>,
    pub(crate) transform: Vec<Histogram>,
    pub(crate) last_timestamp: Vec<Gauge>,
    pub(crate) end_to_end: Vec<Histogram>,
}

impl PortMetrics {
    pub(crate) fn new(metrics: &Metrics, inputs: &[&str], outputs: &[&str]) -> Self {
        Self {
            enabled: metrics.enabled,
            consumed: inputs
                .iter()
                .map(|p| metrics.records_consumed.with_label_values(&[*p]))
                .collect(),
            transform: inputs
                .iter()
                .map(|p| metrics.transform_seconds.with_label_values(&[*p]))
                .collect(),
            last_timestamp: inputs
                .iter()
                .map(|p| metrics.last_record_timestamp.with_label_values(&[*p]))
                .collect(),
            produced: outputs
                .iter()
                .map(|p| metrics.records_produced.with_label_values(&[*p]))
                .collect(),
            end_to_end: outputs
                .iter()
                .map(|p| metrics.end_to_end_seconds.with_label_values(&[*p]))
                .collect(),
        }
    }
}

#[cold]
fn unreachable_metric(name: &str) -> ! {
    // Metric names and help texts are fixed literals, valid by construction.
    unreachable!("meshkit metric `{name}` has an invalid fixed definition")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> ProductIdentity {
        crate::ProductDescriptor::builder("sales", "orders")
            .version("1.0.0")
            .owner("o")
            .input("in", "a")
            .output("out", "b")
            .build()
            .expect("descriptor")
            .identity
    }

    #[test]
    fn port_children_are_the_registered_series() {
        let metrics = Metrics::new(&identity());
        let ports = PortMetrics::new(&metrics, &["in"], &["out"]);
        ports.consumed[0].inc_by(3);
        ports.transform[0].observe(0.001);
        ports.end_to_end[0].observe(0.5);
        ports.last_timestamp[0].set(1_700_000_000.5);
        assert_eq!(metrics.records_consumed.with_label_values(&["in"]).get(), 3);
        let text = metrics.render();
        assert!(
            text.lines()
                .any(|l| l.starts_with("meshkit_transform_duration_seconds_count{")
                    && l.contains("port=\"in\"")
                    && l.ends_with(" 1")),
            "{text}"
        );
        assert!(
            text.contains("meshkit_end_to_end_latency_seconds_count"),
            "{text}"
        );
        assert!(text.contains("meshkit_last_record_timestamp_seconds"), "{text}");
    }

    #[test]
    fn dead_letter_reasons_are_bounded() {
        let metrics = Metrics::new(&identity());
        for n in 0..100 {
            let reason = format!("reason-{n}");
            let label = metrics.dead_letter_label(&reason);
            metrics.dead_letters.with_label_values(&[label]).inc();
        }
        // A reason seen before keeps its series.
        assert_eq!(metrics.dead_letter_label("reason-3"), "reason-3");
        let rendered = metrics.render();
        let series = rendered
            .lines()
            .filter(|l| l.starts_with("meshkit_dead_letters_total{"))
            .count();
        assert_eq!(series, MAX_DEAD_LETTER_REASONS + 1, "{rendered}");
        let other = rendered
            .lines()
            .find(|l| {
                l.starts_with("meshkit_dead_letters_total{")
                    && l.contains(&format!("reason=\"{OTHER_REASON}\""))
            })
            .expect("an `other` series");
        assert!(
            other.ends_with(&format!(" {}", 100 - MAX_DEAD_LETTER_REASONS)),
            "{other}"
        );
    }

    #[test]
    fn threads_add_their_parts_and_reset_only_their_own_series() {
        let metrics = Metrics::new(&identity());
        let (one, two) = (metrics.for_thread(), metrics.for_thread());
        one.assigned_partitions.set(3);
        two.assigned_partitions.set(2);
        one.assigned_partitions.set(1);
        assert_eq!(metrics.value("meshkit_assigned_partitions", &[]), Some(3.0));
        one.restoring_partitions.set(2);
        two.restoring_partitions.set(0);
        assert_eq!(metrics.value("meshkit_restoring_partitions", &[]), Some(2.0));

        one.state_keys.with_label_values(&["0"]).set(10);
        two.state_keys.with_label_values(&["1"]).set(20);
        one.state_keys.reset();
        assert_eq!(metrics.value("meshkit_state_keys", &[("partition", "0")]), None);
        assert_eq!(
            metrics.value("meshkit_state_keys", &[("partition", "1")]),
            Some(20.0),
            "another thread's series stays"
        );
        // One thread alone: set is set, and reset removes every series.
        metrics.consumer_lag.with_label_values(&["in", "0"]).set(5);
        metrics.consumer_lag.with_label_values(&["in", "1"]).set(6);
        metrics.consumer_lag.reset();
        assert!(!metrics.render().contains("meshkit_consumer_lag_records{"));
    }

    #[test]
    fn disabled_metrics_register_nothing() {
        let metrics = Metrics::disabled(&identity());
        metrics.transactions_committed.inc();
        assert!(!metrics.is_enabled());
        assert_eq!(metrics.render(), "");
        assert!(PortMetrics::new(&metrics, &["in"], &[]).enabled == metrics.is_enabled());
    }
}
