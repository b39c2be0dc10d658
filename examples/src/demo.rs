//! What the example binaries share: waiting for a product to run, feeding
//! its input, reading a topic, and stopping on Ctrl-C / SIGTERM.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;

use meshkit::schema::{PortSchema, SchemaRegistry};
use meshkit::testing::{read_topic, TopicWriter};
use meshkit::Status;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

/// The `MESHKIT_*` settings, on the embedded local cluster when
/// `MESHKIT_BROKERS` is unset: the examples run with nothing installed, and
/// say so. (A product of one's own gets an error instead, naming the variable.)
pub fn config_from_env() -> anyhow::Result<meshkit::Config> {
    let mut builder = meshkit::Config::builder().env();
    if std::env::var_os("MESHKIT_BROKERS").is_none() {
        builder = builder.embedded_cluster();
    }
    Ok(builder.build()?)
}

/// Waits until the runtime runs; returns the brokers it uses.
pub async fn wait_until_running(
    handle: &meshkit::RuntimeHandle,
    task: &tokio::task::JoinHandle<Result<(), meshkit::Error>>,
) -> anyhow::Result<String> {
    loop {
        let health = handle.health();
        if health.status == Status::Running {
            if let Some(brokers) = health.brokers {
                return Ok(brokers);
            }
        }
        if task.is_finished() {
            bail!(
                "the product stopped at start: {}",
                health.last_error.unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes `records` (key, value) to `topic`.
pub fn produce_inputs(brokers: &str, topic: &str, records: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    for (key, value) in records {
        producer
            .send(BaseRecord::to(topic).key(key).payload(value))
            .map_err(|(e, _)| e)?;
    }
    producer.flush(Duration::from_secs(10))?;
    Ok(())
}

/// Writes `records` (key, value, event time in ms) to `topic`.
pub fn produce_timed(brokers: &str, topic: &str, records: &[(String, Vec<u8>, i64)]) -> anyhow::Result<()> {
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    for (key, value, at) in records {
        producer
            .send(BaseRecord::to(topic).key(key).payload(value).timestamp(*at))
            .map_err(|(e, _)| e)?;
    }
    producer.flush(Duration::from_secs(10))?;
    Ok(())
}

/// A record read back from a topic: its key, value and dead-letter reason.
#[derive(Debug, Clone)]
pub struct ReadRecord {
    /// The key, as written.
    pub key: Option<Vec<u8>>,
    /// The value, as written.
    pub value: Option<Vec<u8>>,
    /// The `meshkit.dlq.error` header, on a dead letter.
    pub reason: Option<String>,
}

/// Every committed record of `topic` (read_committed), in partition order.
pub fn read_raw_topic(brokers: &str, topic: &str) -> anyhow::Result<Vec<ReadRecord>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "meshkit-demo-reader")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create()?;
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(5))?;
    let mut partitions = rdkafka::TopicPartitionList::new();
    for t in metadata.topics() {
        for p in t.partitions() {
            partitions.add_partition_offset(topic, p.id(), rdkafka::Offset::Beginning)?;
        }
    }
    consumer.assign(&partitions)?;
    let mut records = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut idle = 0;
    while std::time::Instant::now() < deadline && idle < 10 {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                idle = 0;
                let reason = m.headers().and_then(|h| {
                    use rdkafka::message::Headers;
                    h.iter()
                        .find(|h| h.key == meshkit::dlq_headers::ERROR)
                        .and_then(|h| h.value)
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                });
                records.push(ReadRecord {
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                    reason,
                });
            }
            Some(Err(e)) => anyhow::bail!("reading {topic}: {e}"),
            None => idle += 1,
        }
    }
    Ok(records)
}

/// Prints every record of `topic` as text, with the dead-letter reason
/// where there is one: for raw and JSON topics, and dead letters.
pub fn print_topic(brokers: &str, topic: &str, title: &str) -> anyhow::Result<()> {
    println!("== {topic} ({title}):");
    for record in read_raw_topic(brokers, topic)? {
        let reason = record
            .reason
            .map(|r| format!("  (reason: {r})"))
            .unwrap_or_default();
        let value = String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into_owned();
        println!("   {value}{reason}");
    }
    Ok(())
}

/// Prints every record of `topic`, decoded as `schema` says (Avro with the
/// writer schema its id names in `registry`), as `key => value`.
pub async fn print_typed<K: Any + std::fmt::Debug, V: Any + std::fmt::Debug>(
    brokers: &str,
    registry: &dyn SchemaRegistry,
    topic: &str,
    schema: &PortSchema,
    title: &str,
) -> anyhow::Result<()> {
    println!("== {topic} ({title}):");
    for record in read_topic::<K, V>(brokers, registry, topic, schema).await? {
        println!("   {:?} => {:?}", record.key, record.value);
    }
    Ok(())
}

/// Writes typed records to `topic` as an upstream producer would, each
/// `(key, value, timestamp)` encoded in `schema`'s formats.
pub async fn produce_typed<K: Any, V: Any>(
    brokers: &str,
    registry: Arc<dyn SchemaRegistry>,
    topic: &str,
    schema: &PortSchema,
    records: &[(K, V, i64)],
) -> anyhow::Result<()> {
    let writer = TopicWriter::new(brokers, registry)?;
    for (key, value, at) in records {
        writer.send(topic, schema, key, value, Some(*at)).await?;
    }
    writer.flush()?;
    Ok(())
}
/// Installs the binary's log subscriber on stderr (`RUST_LOG`, default
/// `info,rdkafka=warn`): the binary's job, never the library's.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rdkafka=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Runs `runtime` on its own task and stops it on Ctrl-C or SIGTERM.
pub fn spawn_until_signal<P: meshkit::DataProduct>(
    runtime: meshkit::Runtime<P>,
) -> (
    meshkit::RuntimeHandle,
    tokio::task::JoinHandle<Result<(), meshkit::Error>>,
) {
    let handle = runtime.handle();
    let task = tokio::spawn(runtime.run());
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stopper.stop();
    });
    (handle, task)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
