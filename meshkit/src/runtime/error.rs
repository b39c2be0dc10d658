//! What building or running a [`Runtime`](crate::Runtime) returns.

use std::time::Duration;

use rdkafka::error::KafkaError;

use crate::error::{ConfigError, DescriptorError, TransformError};
use crate::kafka::{kafka_retriable, ClusterError};

/// What building or running a [`Runtime`](crate::Runtime) returns.
///
/// # Examples
///
/// ```
/// use meshkit::Error;
///
/// fn exit_code(err: &Error) -> i32 {
///     if err.is_retriable() { 75 } else { 1 }
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The product's descriptor is wrong.
    #[error("invalid data product")]
    Descriptor(#[from] DescriptorError),
    /// The product's schemas did not pass the compatibility gate at start.
    #[cfg(feature = "avro")]
    #[error("schema check failed")]
    Schema(#[from] crate::schema::SchemaGateError),
    /// The schema registry could not be set up (bad URL, unreachable topic).
    #[cfg(feature = "avro")]
    #[error("schema registry")]
    Registry(#[from] crate::schema::RegistryError),
    /// A setting is wrong.
    #[error("invalid configuration")]
    Config(#[from] ConfigError),
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
    /// Another instance with the same transactional identity took over; this
    /// instance has stopped and will never write again.
    #[error(
        "fenced: another instance started with transactional id `{transactional_id}`; \
         this instance stopped without writing anything more"
    )]
    Fenced {
        /// The transactional id both instances share.
        transactional_id: String,
    },
    /// The transform failed and the error policy is to stop.
    #[error("stopped on a transform error at {topic}[{partition}]@{offset}")]
    Transform {
        /// Topic of the failing record.
        topic: String,
        /// Partition of the failing record.
        partition: i32,
        /// Offset of the failing record.
        offset: i64,
        /// What the transform returned.
        #[source]
        source: TransformError,
    },
    /// A timer's work failed and the error policy is to stop.
    #[error("stopped on an error of timer `{timer}` for partition {partition}")]
    Timer {
        /// The timer.
        timer: String,
        /// The task's partition.
        partition: i32,
        /// What `on_timer` returned.
        #[source]
        source: TransformError,
    },
    /// A lifecycle hook's work failed and the error policy is to stop.
    #[error("stopped on an error of {hook}{}", partition.map(|p| format!(" for partition {p}")).unwrap_or_default())]
    Hook {
        /// The hook: `on_assigned`, `on_revoked` or `on_stop`.
        hook: &'static str,
        /// The task's partition, for a task's hook.
        partition: Option<i32>,
        /// What the hook returned.
        #[source]
        source: TransformError,
    },
    /// A Kafka operation failed.
    #[error("Kafka {operation} failed")]
    Kafka {
        /// What meshkit was doing.
        operation: &'static str,
        /// The client's error.
        #[source]
        source: KafkaError,
    },
    /// Another running instance holds the state directory: two instances
    /// on one directory would share its instance id and stores, and fence
    /// each other.
    #[error(
        "state directory {} is in use by another running instance: give each instance its own \
         state directory (`state_dir`, MESHKIT_STATE_DIR) or its own `instance_id`",
        dir.display()
    )]
    StateDirInUse {
        /// The directory, `<state_dir>/<application id>`.
        dir: std::path::PathBuf,
    },
    /// A local file operation failed (state directory, metrics endpoint).
    #[error("{operation} failed")]
    Io {
        /// What meshkit was doing.
        operation: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A store operation failed outside a transform (writing a committed
    /// batch, opening a store).
    #[cfg(feature = "state")]
    #[error("a store operation failed")]
    State(#[from] crate::stores::StateError),
    /// A store's changelog could not be replayed.
    #[error("restoring partition {partition}: {message}")]
    Restore {
        /// The input partition.
        partition: i32,
        /// What went wrong.
        message: String,
    },
    /// The product or the configuration needs a part of meshkit this build
    /// left out: the Cargo feature that adds it.
    #[error(
        "{needed_by} needs meshkit's `{feature}` feature, which this build leaves out: \
         enable it in Cargo.toml (`meshkit = {{ features = [\"{feature}\"] }}`)"
    )]
    MissingFeature {
        /// The Cargo feature.
        feature: &'static str,
        /// What needs it, e.g. `store `totals``.
        needed_by: String,
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
    /// The embedded local cluster could not be started.
    #[error("the embedded local Kafka cluster failed: {0}")]
    Embedded(String),
    /// No brokers were configured and the embedded local cluster was not
    /// asked for.
    #[error(
        "no Kafka brokers configured: set `brokers` (env MESHKIT_BROKERS=host:port[,host:port…]); \
         for a demo with nothing installed, ask for the embedded local cluster \
         (MESHKIT_BROKERS=embedded, or `ConfigBuilder::embedded_cluster`)"
    )]
    NoBrokers,
    /// A stateful product's input topics have different partition counts.
    ///
    /// A store partition (a *task*, as Kafka Streams calls it) holds one
    /// partition number of every input, so each input must have as many
    /// partitions as the others.
    #[error(
        "the input topics of a stateful product must have equal partition counts, and they have {}:          a store partition holds the same partition number of every input; give the topics equal          counts (repartition one into a topic of the right width)",
        counts.iter().map(|(topic, n)| format!("`{topic}` {n}")).collect::<Vec<_>>().join(", ")
    )]
    InputsNotCoPartitioned {
        /// Each input topic with its partition count.
        counts: Vec<(String, i32)>,
    },
    /// The group's assignment gave this instance some, not all, of the
    /// input partitions with one partition number: another member owns the
    /// rest of that task's inputs, and both would write its stores.
    #[error(
        "the group split task {task} (partition {task} of every input): this instance was assigned {}          but not {}; every member of a stateful product's group must use the `range` assignor          (`partition.assignment.strategy`)",
        assigned.join(", "),
        missing.join(", ")
    )]
    TaskSplit {
        /// The partition number.
        task: i32,
        /// The input topics of that number this instance was assigned.
        assigned: Vec<String>,
        /// The input topics of that number it was not.
        missing: Vec<String>,
    },
}

impl Error {
    /// Whether starting again (unchanged) can help: `true` for a broker that
    /// could not be reached and for transient Kafka errors; `false` for
    /// mistakes in the product or its configuration, and for fencing.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::BrokerUnreachable { .. } | Error::Restore { .. } => true,
            Error::Io { source, .. } => crate::error::io_retriable(source),
            #[cfg(feature = "state")]
            Error::State(err) => err.is_retriable(),
            #[cfg(feature = "avro")]
            Error::Schema(err) => err.is_retriable(),
            #[cfg(feature = "avro")]
            Error::Registry(err) => err.is_retriable(),
            Error::Kafka { source, .. } => kafka_retriable(source),
            Error::Transform { source, .. } | Error::Timer { source, .. } | Error::Hook { source, .. } => {
                source.is_retriable()
            }
            _ => false,
        }
    }

    pub(crate) fn kafka(operation: &'static str, source: KafkaError) -> Self {
        Error::Kafka { operation, source }
    }
}

impl From<ClusterError> for Error {
    fn from(err: ClusterError) -> Self {
        match err {
            ClusterError::BrokerUnreachable {
                brokers,
                timeout,
                source,
            } => Error::BrokerUnreachable {
                brokers,
                timeout,
                source,
            },
            ClusterError::UnknownTopic { topic, role } => Error::UnknownTopic { topic, role },
            ClusterError::ChangelogMismatch { topic, store, reason } => {
                Error::ChangelogMismatch { topic, store, reason }
            }
            ClusterError::Kafka { operation, source } => Error::Kafka { operation, source },
            ClusterError::Embedded(message) => Error::Embedded(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_os_error_is_retriable_only_when_it_may_pass_by_itself() {
        let io = |kind| Error::Io {
            operation: "binding the endpoint".to_string(),
            source: std::io::Error::from(kind),
        };
        assert!(io(std::io::ErrorKind::TimedOut).is_retriable());
        assert!(io(std::io::ErrorKind::ConnectionReset).is_retriable());
        assert!(!io(std::io::ErrorKind::NotFound).is_retriable());
        assert!(!io(std::io::ErrorKind::PermissionDenied).is_retriable());
        assert!(!io(std::io::ErrorKind::AddrInUse).is_retriable());
    }

    #[cfg(feature = "state")]
    #[test]
    fn a_store_directory_that_cannot_be_made_is_an_open_error_naming_it() {
        let dir = tempfile::tempdir().expect("dir");
        // A file where the store directory's parent should be.
        let blocked = dir.path().join("blocked");
        std::fs::write(&blocked, b"not a directory").expect("file");
        let descriptor = crate::product::tests::one_store();
        let err = crate::state::LocalState::open(&blocked, &descriptor).expect_err("cannot open");
        match &err {
            crate::StateError::Open { dir, .. } => assert!(dir.starts_with(&blocked), "{err:?}"),
            other => panic!("not an open error: {other:?}"),
        }
        assert!(err.to_string().contains("blocked"), "{err}");
        assert!(!err.is_retriable());
    }
}
