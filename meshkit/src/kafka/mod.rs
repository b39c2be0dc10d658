//! Everything that talks to Kafka: client settings, the embedded local
//! cluster, and the topics a product needs.

mod embedded;
mod topics;

pub use embedded::EmbeddedCluster;
pub(crate) use topics::{check_changelogs, ensure_topics, TopicRole};

use rdkafka::ClientConfig;

use crate::config::Config;

/// Settings every client shares: the bootstrap list and the properties the
/// user passed through.
pub(crate) fn base_config(brokers: &str, config: &Config) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", brokers);
    for (name, value) in &config.kafka {
        client.set(name, value);
    }
    client
}

/// A plain (non-transactional) producer for small, durable, ordered writes
/// outside the product's transactions (the catalog, the embedded registry):
/// idempotent, acknowledged by all replicas, sent at once.
pub(crate) fn durable_producer_config(mut client: ClientConfig) -> ClientConfig {
    client
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "0");
    client
}

/// The consumer: in the product's group, reading only committed records, and
/// never committing offsets itself (they commit inside each transaction).
/// With static membership, `instance_id` is its `group.instance.id`.
pub(crate) fn consumer_config(
    brokers: &str,
    config: &Config,
    group: &str,
    instance_id: &str,
) -> ClientConfig {
    let mut client = base_config(brokers, config);
    if config.static_membership {
        client.set("group.instance.id", instance_id);
    }
    client
        .set("group.id", group)
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false");
    if !config.kafka.contains_key("auto.offset.reset") {
        client.set("auto.offset.reset", "earliest");
    }
    // The consumer lag gauge is read from the client's statistics.
    if config.metrics && !config.kafka.contains_key("statistics.interval.ms") {
        client.set("statistics.interval.ms", "5000");
    }
    client
}

/// The transactional producer of one instance.
pub(crate) fn producer_config(brokers: &str, config: &Config, transactional_id: &str) -> ClientConfig {
    let mut client = base_config(brokers, config);
    client
        .set("transactional.id", transactional_id)
        .set("enable.idempotence", "true")
        .set(
            "transaction.timeout.ms",
            config.transaction_timeout.as_millis().to_string(),
        );
    if !config.kafka.contains_key("linger.ms") {
        client.set("linger.ms", "5");
    }
    client
}
