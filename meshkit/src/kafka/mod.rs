//! Everything that talks to Kafka: client settings, the embedded local
//! cluster, and the topics a product needs.

#[cfg(feature = "embedded-kafka")]
mod embedded;
#[cfg(not(feature = "embedded-kafka"))]
#[path = "no_embedded.rs"]
mod embedded;
mod error;
mod settings;
mod topics;

#[cfg(feature = "embedded-kafka")]
#[cfg_attr(docsrs, doc(cfg(feature = "embedded-kafka")))]
pub use embedded::EmbeddedCluster;
#[cfg(not(feature = "embedded-kafka"))]
pub(crate) use embedded::EmbeddedCluster;
pub(crate) use error::kafka_retriable;
pub use error::ClusterError;
pub(crate) use settings::KafkaSettings;
#[cfg(feature = "state")]
pub(crate) use topics::check_changelogs;
pub(crate) use topics::{check_topic_name, ensure_topics, TopicRole};

use rdkafka::ClientConfig;

/// Settings every client shares: the bootstrap list and the properties the
/// user passed through.
pub(crate) fn base_config(brokers: &str, settings: &KafkaSettings) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", brokers);
    for (name, value) in &settings.properties {
        client.set(name, value);
    }
    client
}

/// A plain (non-transactional) producer for small, durable, ordered writes
/// outside the product's transactions (the catalog, the embedded registry):
/// idempotent, acknowledged by all replicas, sent at once.
#[cfg(any(feature = "catalog", feature = "registry-server"))]
pub(crate) fn durable_producer_config(mut client: ClientConfig) -> ClientConfig {
    client
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "0");
    client
}

/// The consumer: in the product's group, reading only committed records, and
/// never committing offsets itself (they commit inside each transaction).
/// With static membership, `instance_id` is its `group.instance.id`. With
/// `statistics`, librdkafka reports its statistics (the consumer lag gauge is
/// read from them).
pub(crate) fn consumer_config(
    brokers: &str,
    settings: &KafkaSettings,
    group: &str,
    instance_id: &str,
    statistics: bool,
) -> ClientConfig {
    let mut client = base_config(brokers, settings);
    if settings.static_membership {
        client.set("group.instance.id", instance_id);
    }
    client
        .set("group.id", group)
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false");
    if !settings.properties.contains_key("auto.offset.reset") {
        client.set("auto.offset.reset", "earliest");
    }
    if statistics && !settings.properties.contains_key("statistics.interval.ms") {
        client.set("statistics.interval.ms", "5000");
    }
    client
}

/// The producer of one instance: transactional with `transactional_id`
/// (exactly once), else only idempotent (at least once), which still keeps
/// its own retries from writing a record twice.
pub(crate) fn producer_config(
    brokers: &str,
    settings: &KafkaSettings,
    transactional_id: Option<&str>,
) -> ClientConfig {
    let mut client = base_config(brokers, settings);
    client.set("enable.idempotence", "true");
    if let Some(id) = transactional_id {
        client.set("transactional.id", id).set(
            "transaction.timeout.ms",
            settings.transaction_timeout.as_millis().to_string(),
        );
    }
    if !settings.properties.contains_key("linger.ms") {
        client.set("linger.ms", "5");
    }
    client
}

/// Runs a blocking librdkafka call: in place on a multi-thread runtime (so
/// the worker's other tasks move to another thread), directly otherwise (a
/// current-thread runtime has no other worker, and a plain thread is fine).
pub(crate) fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
