//! End-to-end latency at a fixed offered load: with the contender running
//! and caught up, records are produced at a steady rate for a while, each
//! stamped with the time it was produced, and a `read_committed` consumer of
//! the output takes, for each output record, the time it became visible
//! minus its timestamp (every contender gives an output the timestamp of
//! its input). A backlog run cannot measure this: there every record waits
//! behind the backlog.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::bail;
use meshkit_tests::broker::send_with_backpressure;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use crate::contender::{committed_count, group_reader};
use crate::workload::{write_order, Workload, ORDER_SCHEMA, PARTITIONS};

/// The offered load of a latency measurement.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Load {
    /// Records per second.
    pub(crate) rate: u64,
    /// For how long.
    pub(crate) seconds: u64,
}

/// Latency percentiles, in ms.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Latency {
    /// Median.
    pub(crate) p50: f64,
    /// 99th percentile.
    pub(crate) p99: f64,
}

fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// A live input record's value: for w1 a paid order (every one has an
/// output), for w2 the number 1.
fn live_value(
    workload: Workload,
    i: u64,
    key: &str,
    schema: &apache_avro::Schema,
    id: u32,
) -> anyhow::Result<Vec<u8>> {
    Ok(match workload {
        Workload::W1 => {
            let mut value = Vec::with_capacity(48);
            write_order(&mut value, schema, id, (format!("live{i}"), key, 500, "paid"))?;
            value
        }
        _ => 1i64.to_be_bytes().to_vec(),
    })
}

/// Produces `count` live records from number `first`, `rate` per second (0:
/// as fast as it can).
fn produce_live(
    producer: &BaseProducer,
    workload: Workload,
    first: u64,
    count: u64,
    rate: u64,
    order_schema_id: u32,
) -> anyhow::Result<()> {
    let schema = apache_avro::Schema::parse_str(ORDER_SCHEMA)?;
    let started = Instant::now();
    for i in first..first + count {
        if rate > 0 {
            // Sends on schedule: record i at i / rate seconds.
            let due = Duration::from_secs_f64((i - first) as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let key = format!("k{}", i % 1_000);
        let value = live_value(workload, i, &key, &schema, order_schema_id)?;
        let record = BaseRecord::to(workload.input())
            .key(key.as_bytes())
            .payload(&value)
            .timestamp(now_ms());
        send_with_backpressure(producer, record)?;
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(60))?;
    Ok(())
}

/// A `read_committed` consumer of `topic`, from its current end.
fn output_reader(brokers: &str, topic: &str) -> anyhow::Result<BaseConsumer> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "peers-latency")
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        let (_, high) = consumer.fetch_watermarks(topic, partition, Duration::from_secs(10))?;
        assignment.add_partition_offset(topic, partition, Offset::Offset(high))?;
    }
    consumer.assign(&assignment)?;
    Ok(consumer)
}

/// Measures the latency of the contender running as group `app`, which
/// reads `workload`'s input (`input_end` records so far) and writes
/// `output`.
pub(crate) fn measure(
    brokers: &str,
    workload: Workload,
    app: &str,
    output: &str,
    input_end: u64,
    load: Load,
    order_schema_id: u32,
) -> anyhow::Result<Latency> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "0")
        .create()?;
    // Warm-up: wait until the contender has caught up with the input and
    // committed records sent now, so that start-up, the group's join and the
    // backlog stay out of the figures.
    let (group, partitions) = group_reader(brokers, app, workload.input())?;
    produce_live(&producer, workload, 0, 200, 0, order_schema_id)?;
    let deadline = Instant::now() + Duration::from_secs(300);
    while committed_count(&group, &partitions) < input_end + 200 {
        if Instant::now() > deadline {
            bail!("the contender did not catch up with the input in five minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let reader = output_reader(brokers, output)?;
    let live_from = now_ms();
    let count = load.rate * load.seconds;
    let latencies = std::thread::scope(|scope| -> anyhow::Result<Vec<i64>> {
        let sender =
            scope.spawn(|| produce_live(&producer, workload, 1_000, count, load.rate, order_schema_id));
        let mut latencies = Vec::with_capacity(usize::try_from(count)?);
        let deadline = Instant::now() + Duration::from_secs(load.seconds + 60);
        while (latencies.len() as u64) < count && Instant::now() < deadline {
            let Some(message) = reader.poll(Duration::from_millis(100)) else {
                continue;
            };
            let message = message?;
            let seen = now_ms();
            if let Some(ts) = message.timestamp().to_millis().filter(|ts| *ts >= live_from) {
                latencies.push(seen - ts);
            }
        }
        sender
            .join()
            .map_err(|_| anyhow::anyhow!("the live producer panicked"))??;
        Ok(latencies)
    })?;
    if (latencies.len() as u64) < count {
        bail!(
            "{} of {count} live records came out within a minute of the last",
            latencies.len()
        );
    }
    let mut sorted = latencies;
    sorted.sort_unstable();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize] as f64;
    Ok(Latency {
        p50: at(0.50),
        p99: at(0.99),
    })
}
