//! The Kafka layer's own settings: what its clients and its topic
//! administration need, filled in by the runtime's [`Config`](crate::Config)
//! builder (each setting's builder method and environment variable are
//! documented there).

use std::collections::BTreeMap;
use std::time::Duration;

/// The settings every Kafka client and admin call of a product shares.
#[derive(Debug, Clone)]
pub(crate) struct KafkaSettings {
    /// librdkafka properties passed through to every client.
    pub(crate) properties: BTreeMap<String, String>,
    /// Whether the consumer joins its group as a static member.
    pub(crate) static_membership: bool,
    /// The transactional producer's `transaction.timeout.ms`.
    pub(crate) transaction_timeout: Duration,
    /// Whether missing input and output topics are created.
    pub(crate) auto_create_topics: bool,
    /// Partitions of a topic created for the product.
    pub(crate) topic_partitions: i32,
    /// Replication factor of a topic created for the product.
    pub(crate) replication_factor: i32,
    /// How long an admin or metadata call at start may take.
    pub(crate) startup_timeout: Duration,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            properties: BTreeMap::new(),
            static_membership: true,
            transaction_timeout: Duration::from_secs(10),
            auto_create_topics: true,
            topic_partitions: 4,
            replication_factor: 1,
            startup_timeout: Duration::from_secs(30),
        }
    }
}
