//! End-to-end pipeline benchmark on the real broker: meshkit's exactly-once
//! runtime against a hand-written rdkafka consume-transform-produce loop with
//! the same transactional settings, measured in the same run, at commit
//! intervals of 100 ms and 1 s.
//!
//! Run: `eval "$(scripts/start-broker.sh)"; cargo bench -p meshkit-benches --bench pipeline`
//! (`MESHKIT_BENCH_RECORDS` sets the input size, default 200,000).
//!
//! Both sides are timed over the same window: from the moment 10% of the
//! input is committed to the moment all of it is, so group-join and start-up
//! time (which are not throughput) stay out of the figure.
//!
//! meshkit runs twice per repeat, to show what observability costs: with
//! metrics off and no tracing subscriber, and with metrics on and a real
//! `tracing_subscriber` fmt layer at INFO writing to `io::sink` (installed
//! as the default of that run's runtime threads only, never globally).

mod common;

use common::{env_or, median};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use meshkit::Config;
use meshkit_tests::broker::{create_topic, produce_ids, send_with_backpressure, unique_name};
use meshkit_tests::product::Relay;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

const PARTITIONS: i32 = 4;

/// Times the window between 10% and 100% of `total` committed.
struct Window {
    total: u64,
    start: Option<Instant>,
    start_count: u64,
}

impl Window {
    fn new(total: u64) -> Self {
        Self {
            total,
            start: None,
            start_count: 0,
        }
    }

    /// Feeds the committed count; returns records/s once all are committed.
    fn observe(&mut self, committed: u64) -> Option<f64> {
        if self.start.is_none() && committed >= self.total / 10 {
            self.start = Some(Instant::now());
            self.start_count = committed;
        }
        if committed >= self.total {
            let start = self.start?;
            let secs = start.elapsed().as_secs_f64().max(1e-9);
            return Some((committed - self.start_count) as f64 / secs);
        }
        None
    }
}

/// How a meshkit run is observed.
#[derive(Debug, Clone, Copy)]
enum Observed {
    /// Metrics off, no subscriber.
    Off,
    /// Metrics on, fmt subscriber at INFO into a sink.
    On,
}

thread_local! {
    /// The tracing default of one run's runtime threads.
    static DISPATCH: std::cell::RefCell<Option<tracing::dispatcher::DefaultGuard>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs meshkit on a runtime of its own (two workers, like `main`'s), whose
/// threads carry the tracing subscriber when `observed` is on.
fn run_meshkit_observed(
    brokers: &str,
    input: &str,
    total: u64,
    interval: Duration,
    observed: Observed,
) -> anyhow::Result<f64> {
    let dispatch = match observed {
        Observed::Off => None,
        Observed::On => Some(tracing::Dispatch::new(
            tracing_subscriber::fmt()
                .with_writer(std::io::sink)
                .with_max_level(tracing::Level::INFO)
                .finish(),
        )),
    };
    let start = dispatch.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            if let Some(dispatch) = &start {
                DISPATCH.with(|d| *d.borrow_mut() = Some(tracing::dispatcher::set_default(dispatch)));
            }
        })
        .on_thread_stop(|| DISPATCH.with(|d| drop(d.borrow_mut().take())))
        .build()?;
    let _guard = dispatch.as_ref().map(tracing::dispatcher::set_default);
    runtime.block_on(run_meshkit(brokers, input, total, interval, observed))
}

async fn run_meshkit(
    brokers: &str,
    input: &str,
    total: u64,
    interval: Duration,
    observed: Observed,
) -> anyhow::Result<f64> {
    let state = std::env::temp_dir().join(unique_name("meshkit-bench-state"));
    let config = Config::builder()
        .brokers(brokers)
        .application_id(unique_name("bench-meshkit"))
        .state_dir(&state)
        .commit_interval(interval)
        .topic_partitions(PARTITIONS)
        .metrics(matches!(observed, Observed::On))
        .build()?;
    let runtime = meshkit::Runtime::new(Relay::new(input, unique_name("bench-out-meshkit")), config)?;
    let handle = runtime.handle();
    let task = tokio::spawn(runtime.run());
    let mut window = Window::new(total);
    let deadline = Instant::now() + Duration::from_secs(600);
    let rate = loop {
        if let Some(rate) = window.observe(handle.health().records_committed) {
            break rate;
        }
        if task.is_finished() || Instant::now() > deadline {
            bail!("meshkit ({observed:?}) did not finish: {:?}", handle.health());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    handle.stop();
    task.await??;
    let _ = std::fs::remove_dir_all(state);
    Ok(rate)
}

/// The baseline: what a careful team would write by hand with rdkafka.
fn run_baseline(brokers: &str, input: &str, total: u64, interval: Duration) -> anyhow::Result<f64> {
    let group = unique_name("bench-baseline");
    let output = unique_name("bench-out-baseline");
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", &group)
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()?;
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("transactional.id", &group)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()?;
    producer.init_transactions(Duration::from_secs(30))?;
    consumer.subscribe(&[input])?;
    let committed = Arc::new(AtomicU64::new(0));
    let mut window = Window::new(total);
    let mut next: HashMap<i32, i64> = HashMap::new();
    let mut in_txn = 0u64;
    let mut txn_started: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if Instant::now() > deadline {
            bail!("the baseline did not finish");
        }
        if let Some(message) = consumer.poll(Duration::from_millis(10)) {
            let message = message?;
            if txn_started.is_none() {
                producer.begin_transaction()?;
                txn_started = Some(Instant::now());
            }
            let id = std::str::from_utf8(message.payload().unwrap_or_default())?;
            let value = Relay::output_value(id);
            let mut record = BaseRecord::<[u8], str>::to(&output).payload(&value);
            if let Some(key) = message.key() {
                record = record.key(key);
            }
            send_with_backpressure(&producer, record)?;
            next.insert(message.partition(), message.offset() + 1);
            in_txn += 1;
        }
        let due = txn_started.is_some_and(|t| t.elapsed() >= interval || in_txn >= 10_000);
        if due {
            let mut offsets = TopicPartitionList::new();
            for (partition, offset) in &next {
                offsets.add_partition_offset(input, *partition, Offset::Offset(*offset))?;
            }
            let metadata = consumer.group_metadata().context("group metadata")?;
            producer.send_offsets_to_transaction(&offsets, &metadata, Duration::from_secs(30))?;
            producer.commit_transaction(Duration::from_secs(30))?;
            committed.fetch_add(in_txn, Ordering::Relaxed);
            in_txn = 0;
            txn_started = None;
            if let Some(rate) = window.observe(committed.load(Ordering::Relaxed)) {
                return Ok(rate);
            }
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let Some(brokers) = common::brokers("pipeline benchmark") else {
        return Ok(());
    };
    let total: u64 = env_or("MESHKIT_BENCH_RECORDS", 200_000);
    let input = unique_name("bench-in");
    create_topic(&brokers, &input, PARTITIONS).await?;
    {
        let (brokers, input) = (brokers.clone(), input.clone());
        tokio::task::spawn_blocking(move || produce_ids(&brokers, &input, 0..total as usize)).await??;
    }
    let repeats: usize = env_or("MESHKIT_BENCH_REPEATS", 3);
    println!("pipeline benchmark: {total} records, {PARTITIONS} partitions, broker {brokers}, median of {repeats} alternating runs");
    println!(
        "| commit interval | hand-written rdkafka (rec/s) | meshkit, metrics+tracing off (rec/s) | meshkit, metrics+tracing on (rec/s) | off / baseline | on / off | observability overhead |"
    );
    println!("|---|---|---|---|---|---|---|");
    for interval in [Duration::from_millis(100), Duration::from_secs(1)] {
        let mut baseline = Vec::new();
        let mut off = Vec::new();
        let mut on = Vec::new();
        for _ in 0..repeats {
            let (b, i) = (brokers.clone(), input.clone());
            baseline.push(tokio::task::spawn_blocking(move || run_baseline(&b, &i, total, interval)).await??);
            for (observed, rates) in [(Observed::Off, &mut off), (Observed::On, &mut on)] {
                let (b, i) = (brokers.clone(), input.clone());
                rates.push(
                    tokio::task::spawn_blocking(move || {
                        run_meshkit_observed(&b, &i, total, interval, observed)
                    })
                    .await??,
                );
            }
        }
        let (baseline, off, on) = (median(&mut baseline), median(&mut off), median(&mut on));
        println!(
            "| {interval:?} | {baseline:.0} | {off:.0} | {on:.0} | {:.2} | {:.3} | {:+.1}% |",
            off / baseline,
            on / off,
            (off / on - 1.0) * 100.0
        );
    }
    Ok(())
}
