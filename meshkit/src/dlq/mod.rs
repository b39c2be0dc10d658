//! Dead-letter tools: see what a product dead-lettered, and send it back
//! through the product once the cause is fixed (what `meshkit dlq inspect`
//! and `meshkit dlq replay` run).
//!
//! - [`read`]: a [`DeadLetterReader`] reads a dead-letter topic at
//!   read_committed (only what the product's transactions committed), from
//!   the beginning to the ends it has when the read starts, by partition
//!   assignment (it joins no consumer group), into [`DeadLetter`]s.
//! - [`inspect`]: an [`Inspection`] groups dead letters by reason (count,
//!   first and last seen, samples with their headers) and decodes samples
//!   whose writer schema the product's catalog record knows.
//! - [`replay`]: a [`Replayer`] re-publishes selected dead letters to their
//!   source topics in Kafka transactions, each at most once ever.
//!
//! Dead letters carry the headers the runtime writes
//! ([`dlq_headers`](crate::dlq_headers)): this module reads what the runtime
//! writes, so it sits above it in meshkit's layers, and uses nothing of it
//! but those names.

pub mod inspect;
pub mod read;
pub mod replay;

use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use crate::catalog::{CatalogRecord, ProductKey};

pub use inspect::{Inspection, Payload, ReasonSummary, Sample, DEFAULT_SAMPLES};
pub use read::{DeadLetter, DeadLetterReader, DEFAULT_TIMEOUT};
pub use replay::{ReplayFilter, ReplayReport, Replayer, REPLAYED_HEADER};

/// The dead-letter topic of product `key`: the one its catalog record names
/// (a runtime publishes it), else `<domain>.<name>.dlq`, the default of a
/// product whose application id is the default `<domain>.<name>`.
///
/// # Examples
///
/// ```
/// use meshkit::catalog::ProductKey;
/// use meshkit::dlq::dead_letter_topic;
///
/// let key = ProductKey::new("sales", "orders-enriched");
/// assert_eq!(dead_letter_topic(&key, None), "sales.orders-enriched.dlq");
/// ```
pub fn dead_letter_topic(key: &ProductKey, record: Option<&CatalogRecord>) -> String {
    record
        .and_then(|r| r.dead_letter_topic.clone())
        .unwrap_or_else(|| format!("{}.{}.dlq", key.domain, key.name))
}

/// Why dead letters could not be read or replayed.
///
/// # Examples
///
/// ```
/// use meshkit::dlq::{DeadLetterReader, DlqError};
/// use meshkit::Config;
///
/// // No brokers configured: there is nothing to read from.
/// let err = DeadLetterReader::new(&Config::builder().build()?, "sales.orders.dlq").unwrap_err();
/// assert!(matches!(err, DlqError::NoBrokers));
/// assert!(!err.is_retriable());
/// # Ok::<(), meshkit::ConfigError>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DlqError {
    /// The configuration names no brokers.
    #[error("no Kafka brokers configured (setting `brokers`, env MESHKIT_BROKERS)")]
    NoBrokers,
    /// A Kafka client could not be created (usually a wrong pass-through
    /// property, `MESHKIT_KAFKA_*`).
    #[error("cannot create a Kafka client for `{brokers}` (check the MESHKIT_KAFKA_* properties)")]
    Client {
        /// The bootstrap list.
        brokers: String,
        /// The client's error (boxed: it is large, and errors travel far).
        #[source]
        source: Box<KafkaError>,
    },
    /// No broker answered in time.
    #[error("cannot reach the Kafka brokers `{brokers}` within {timeout:?}; check the address, then retry")]
    BrokerUnreachable {
        /// The bootstrap list tried.
        brokers: String,
        /// How long it waited.
        timeout: Duration,
        /// The client's error.
        #[source]
        source: Box<KafkaError>,
    },
    /// The dead-letter topic does not exist: the product has not run on
    /// these brokers, or its dead letters go to another topic.
    #[error(
        "dead-letter topic `{topic}` does not exist (has the product run on these brokers? \
         is its dead-letter topic another one?)"
    )]
    UnknownTopic {
        /// The topic.
        topic: String,
    },
    /// A Kafka call on a topic failed.
    #[error("{operation} on topic `{topic}` failed")]
    Kafka {
        /// The topic.
        topic: String,
        /// What was being done.
        operation: &'static str,
        /// The client's error.
        #[source]
        source: Box<KafkaError>,
    },
    /// The topic was not read to its end in time.
    #[error(
        "topic `{topic}` was not read to its end within {timeout:?} ({pending} partition(s) left); \
         retry, or allow more time"
    )]
    Timeout {
        /// The topic.
        topic: String,
        /// The time allowed.
        timeout: Duration,
        /// Partitions not read to their end.
        pending: usize,
    },
    /// Another replay of the same dead-letter topic started and took over
    /// (its transactional id is the same); this one stopped without
    /// committing its last transaction.
    #[error(
        "another replay of dead-letter topic `{topic}` took over (fenced); nothing of this run's \
         last transaction was committed"
    )]
    Fenced {
        /// The dead-letter topic.
        topic: String,
        /// The producer's error.
        #[source]
        source: Box<KafkaError>,
    },
}

impl DlqError {
    /// Whether trying again (unchanged) may succeed: brokers that did not
    /// answer, reads that ran out of time, and transient Kafka errors (a
    /// replay is safe to run again: what was committed is never replayed
    /// twice).
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::BrokerUnreachable { .. } | Self::Timeout { .. } => true,
            Self::Kafka { source, .. } => kafka_transient(source),
            _ => false,
        }
    }

    pub(crate) fn kafka(topic: &str, operation: &'static str, source: KafkaError) -> Self {
        Self::Kafka {
            topic: topic.to_string(),
            operation,
            source: Box::new(source),
        }
    }
}

/// Whether a Kafka error may pass by itself.
fn kafka_transient(err: &KafkaError) -> bool {
    if let KafkaError::Transaction(e) = err {
        return e.is_retriable() && !e.is_fatal();
    }
    matches!(
        err.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::NotCoordinator
                | RDKafkaErrorCode::CoordinatorNotAvailable
                | RDKafkaErrorCode::CoordinatorLoadInProgress
                | RDKafkaErrorCode::ConcurrentTransactions
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::NotLeaderForPartition
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_topic_comes_from_the_record_else_the_default() {
        let key = ProductKey::new("sales", "orders");
        assert_eq!(dead_letter_topic(&key, None), "sales.orders.dlq");
        let input = crate::catalog::DescriptorInput::new("sales", "orders", "1.0.0", "team");
        let record = CatalogRecord::from_descriptor(&input, crate::catalog::Timestamp::from_millis(0));
        assert_eq!(dead_letter_topic(&key, Some(&record)), "sales.orders.dlq");
        let record = record.with_dead_letter_topic("orders-app.dlq");
        assert_eq!(dead_letter_topic(&key, Some(&record)), "orders-app.dlq");
    }

    #[test]
    fn only_passing_failures_are_retriable() {
        assert!(!DlqError::NoBrokers.is_retriable());
        let timeout = DlqError::Timeout {
            topic: "t".into(),
            timeout: Duration::from_secs(1),
            pending: 1,
        };
        assert!(timeout.is_retriable());
        let down = DlqError::kafka(
            "t",
            "reading",
            KafkaError::MetadataFetch(RDKafkaErrorCode::AllBrokersDown),
        );
        assert!(down.is_retriable());
        let denied = DlqError::kafka(
            "t",
            "reading",
            KafkaError::MetadataFetch(RDKafkaErrorCode::TopicAuthorizationFailed),
        );
        assert!(!denied.is_retriable());
    }
}
