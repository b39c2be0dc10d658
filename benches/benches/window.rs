//! A windowed store's per-record cost as its history of closed windows
//! grows: the same workload (one key, one-second tumbling windows, each
//! record closing the window before it) after 1,000 and after 1,000,000
//! closed windows, in the same run. Closing must not walk what earlier
//! closes deleted: the ratio of the two is the figure to watch (flat: near 1).
//!
//! Run: `cargo bench -p meshkit-benches --bench window`

use std::time::{Duration, Instant};

use criterion::{criterion_main, Criterion, Throughput};
use meshkit::state::{LocalState, Windows};
use meshkit::ProductDescriptor;

/// Records per measured batch, and per commit: one transaction's worth.
const BATCH: i64 = 1_000;
const SECOND: i64 = 1_000;

fn descriptor() -> ProductDescriptor {
    ProductDescriptor::builder("bench", "window")
        .version("1.0.0")
        .owner("bench")
        .input("in", "bench.in")
        .output("out", "bench.out")
        .window_store("per_second", Windows::tumbling(Duration::from_secs(1)))
        .build()
        .expect("valid descriptor")
}

/// Adds one record per second of event time from `from` for `count`
/// seconds, committing every [`BATCH`]; each closes the window before it.
fn feed(state: &LocalState, ctx: &mut meshkit::Context, from: i64, count: i64) {
    let key = "k".to_string();
    for i in 0..count {
        let mut windows = ctx.window_store::<String, u64>("per_second").expect("store");
        let update = windows
            .update(&key, (from + i) * SECOND, |n| n.unwrap_or(0) + 1)
            .expect("update");
        // Past the first record, each one closes exactly its predecessor's window.
        assert!(from + i == 0 || update.closed.len() == 1, "{:?}", update.closed);
        if (i + 1) % BATCH == 0 {
            state.commit().expect("commit");
        }
    }
    state.commit().expect("commit");
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("window_close_per_record");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    let descriptor = descriptor();
    for history in [1_000_i64, 1_000_000] {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = LocalState::open(dir.path(), &descriptor).expect("open");
        let mut ctx = state.context(&descriptor);
        let started = Instant::now();
        feed(&state, &mut ctx, 0, history);
        eprintln!(
            "window: {history} closed windows of history in {:?}",
            started.elapsed()
        );
        let mut next = history;
        group.bench_function(format!("history_{history}"), |b| {
            b.iter(|| {
                feed(&state, &mut ctx, next, BATCH);
                next += BATCH;
            })
        });
    }
    group.finish();
}

// criterion's macros generate undocumented items.
#[allow(missing_docs)]
mod harness {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(harness::benches);
