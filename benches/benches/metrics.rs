//! What the metrics cost one record on the hot path, next to nothing: the
//! runtime's per-record work with metrics on (two clock reads around the
//! transform and its histogram, the end-to-end histogram with a wall-clock
//! read, the consumed and produced counts), with the labelled children
//! resolved once as the runtime does, against the same with
//! `with_label_values` per record, and against metrics off. The series are
//! the runtime's own kinds (its metrics' fields are private), registered in
//! a registry here.
//!
//! Run: `cargo bench -p meshkit-benches --bench metrics`. Divide the
//! nanoseconds by the pipeline benchmark's time per record to get the
//! overhead.

use std::time::{Instant, SystemTime};

use criterion::{black_box, criterion_main, Criterion};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// The runtime's per-port series: counters and histograms by `port`.
struct PortSeries {
    records_consumed: IntCounterVec,
    records_produced: IntCounterVec,
    transform_seconds: HistogramVec,
    end_to_end_seconds: HistogramVec,
}

fn metrics() -> PortSeries {
    let registry = Registry::new_custom(Some("meshkit".into()), None).expect("registry");
    let counter = |name: &str| {
        let metric = IntCounterVec::new(Opts::new(name, "bench"), &["port"]).expect("counter");
        registry.register(Box::new(metric.clone())).expect("registered");
        metric
    };
    let histogram = |name: &str| {
        let metric = HistogramVec::new(HistogramOpts::new(name, "bench"), &["port"]).expect("histogram");
        registry.register(Box::new(metric.clone())).expect("registered");
        metric
    };
    PortSeries {
        records_consumed: counter("records_consumed_total"),
        records_produced: counter("records_produced_total"),
        transform_seconds: histogram("transform_duration_seconds"),
        end_to_end_seconds: histogram("end_to_end_latency_seconds"),
    }
}

fn seconds_since(millis: i64) -> f64 {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    (now - millis as f64 / 1000.0).max(0.0)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("metrics_per_record");
    let timestamp = 1_700_000_000_000i64;
    group.bench_function("off", |b| {
        b.iter(|| black_box(black_box(timestamp) + 1));
    });
    let m = metrics();
    let (consumed, produced) = (
        m.records_consumed.with_label_values(&["in"]),
        m.records_produced.with_label_values(&["out"]),
    );
    let (transform, end_to_end) = (
        m.transform_seconds.with_label_values(&["in"]),
        m.end_to_end_seconds.with_label_values(&["out"]),
    );
    group.bench_function("on_children_resolved_once", |b| {
        b.iter(|| {
            let started = Instant::now();
            black_box(black_box(timestamp) + 1);
            transform.observe(started.elapsed().as_secs_f64());
            end_to_end.observe(seconds_since(black_box(timestamp)));
            consumed.inc();
            produced.inc();
        });
    });
    group.bench_function("on_with_label_values_per_record", |b| {
        b.iter(|| {
            let started = Instant::now();
            black_box(black_box(timestamp) + 1);
            m.transform_seconds
                .with_label_values(&["in"])
                .observe(started.elapsed().as_secs_f64());
            m.end_to_end_seconds
                .with_label_values(&["out"])
                .observe(seconds_since(black_box(timestamp)));
            m.records_consumed.with_label_values(&["in"]).inc();
            m.records_produced.with_label_values(&["out"]).inc();
        });
    });
    group.finish();
}

// criterion's macros generate undocumented items.
#[allow(missing_docs)]
mod harness {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(harness::benches);
