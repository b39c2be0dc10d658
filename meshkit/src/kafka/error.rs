//! What the Kafka layer's set-up calls return.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// A Kafka set-up step that failed: reaching the brokers, checking or
/// creating topics, or running the embedded cluster. The runtime turns each
/// into the [`Error`](crate::Error) variant of the same name.
///
/// # Examples
///
/// ```
/// use meshkit::kafka::ClusterError;
///
/// let err = ClusterError::UnknownTopic { topic: "sales.orders".into(), role: "input port `orders`".into() };
/// assert!(!err.is_retriable());
/// assert!(err.to_string().contains("sales.orders"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// No broker answered within the start-up timeout.
    #[error(
        "cannot reach the Kafka brokers `{brokers}` (setting `brokers`, env MESHKIT_BROKERS) within {timeout:?}"
    )]
    BrokerUnreachable {
        /// The bootstrap list tried.
        brokers: String,
        /// How long meshkit waited.
        timeout: Duration,
        /// The client's error.
        #[source]
        source: KafkaError,
    },
    /// A topic the product needs does not exist and meshkit may not create it.
    #[error(
        "topic `{topic}` ({role}) does not exist and topic auto-creation is off \
         (setting `auto_create_topics`, env MESHKIT_AUTO_CREATE_TOPICS); create it or turn auto-creation on"
    )]
    UnknownTopic {
        /// The topic.
        topic: String,
        /// What the product uses it for, e.g. `input port orders`.
        role: String,
    },
    /// An existing changelog topic does not fit its store.
    #[error(
        "changelog topic `{topic}` cannot back store `{store}`: {reason}; \
         delete it (the store is rebuilt from scratch) or fix it by hand"
    )]
    ChangelogMismatch {
        /// The topic.
        topic: String,
        /// The store.
        store: String,
        /// What does not fit.
        reason: String,
    },
    /// A Kafka client or admin call failed.
    #[error("Kafka {operation} failed")]
    Kafka {
        /// What meshkit was doing.
        operation: &'static str,
        /// The client's error.
        #[source]
        source: KafkaError,
    },
    /// The embedded local cluster failed.
    #[error("the embedded local Kafka cluster failed: {0}")]
    Embedded(String),
}

impl ClusterError {
    /// Whether trying again (unchanged) can help: `true` for brokers that
    /// could not be reached and for transient Kafka errors.
    pub fn is_retriable(&self) -> bool {
        match self {
            ClusterError::BrokerUnreachable { .. } => true,
            ClusterError::Kafka { source, .. } => kafka_retriable(source),
            _ => false,
        }
    }

    pub(crate) fn kafka(operation: &'static str, source: KafkaError) -> Self {
        ClusterError::Kafka { operation, source }
    }
}

/// Whether a Kafka client error is worth trying again: a transaction error
/// that says so and is not fatal, or a transport or leadership error.
pub(crate) fn kafka_retriable(err: &KafkaError) -> bool {
    match err {
        KafkaError::Transaction(e) => e.is_retriable() && !e.is_fatal(),
        other => matches!(
            other.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::BrokerTransportFailure
                    | RDKafkaErrorCode::AllBrokersDown
                    | RDKafkaErrorCode::OperationTimedOut
                    | RDKafkaErrorCode::RequestTimedOut
                    | RDKafkaErrorCode::NotCoordinator
                    | RDKafkaErrorCode::CoordinatorNotAvailable
                    | RDKafkaErrorCode::LeaderNotAvailable
                    | RDKafkaErrorCode::NotLeaderForPartition
            )
        ),
    }
}
