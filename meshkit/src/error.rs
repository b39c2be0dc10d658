//! The errors meshkit returns, one enum per boundary.
//!
//! - [`DescriptorError`]: a product's declared identity or ports are wrong.
//! - [`ConfigError`]: a setting is wrong (names the setting).
//! - [`TransformError`]: what a product's transform returns for a record.
//! - [`Error`]: what building or running a [`Runtime`](crate::Runtime) returns.
//!
//! Every enum is `#[non_exhaustive]`, keeps its cause in the `source()` chain,
//! and says through `is_retriable()` whether trying again can help.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// A product descriptor that cannot be used, found when it is built.
///
/// # Examples
///
/// ```
/// use meshkit::{DescriptorError, ProductDescriptor};
///
/// let err = ProductDescriptor::builder("sales", "orders")
///     .owner("team-sales")
///     .version("1.0.0")
///     .output("enriched", "sales.orders.enriched")
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, DescriptorError::NoInputPorts));
/// ```
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DescriptorError {
    /// A required identity field (domain, name, owner) is empty.
    #[error("the product's `{field}` is empty; every data product must name its {field}")]
    MissingField {
        /// The field that is missing.
        field: &'static str,
    },
    /// The version is not a semantic version.
    #[error("the product's version `{version}` is not a semantic version (e.g. 1.2.0): {reason}")]
    InvalidVersion {
        /// The text given.
        version: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The product declares no input port.
    #[error("the product declares no input port; a data product reads at least one topic")]
    NoInputPorts,
    /// The product declares no output port.
    #[error("the product declares no output port; a data product writes at least one topic")]
    NoOutputPorts,
    /// Two ports share a name.
    #[error("two ports are named `{name}`; port names must be unique within a product")]
    DuplicatePort {
        /// The repeated name.
        name: String,
    },
    /// A port name or topic is not usable as a Kafka topic name.
    #[error("port `{port}`: `{topic}` is not a valid Kafka topic name: {reason}")]
    InvalidTopic {
        /// The port.
        port: String,
        /// The topic given.
        topic: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two stores share a name.
    #[error("two stores are named `{name}`; store names must be unique within a product")]
    DuplicateStore {
        /// The repeated name.
        name: String,
    },
    /// A store name cannot be used (it names the store's changelog topic).
    #[error("store `{name}` cannot be used: {reason}")]
    InvalidStore {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An output port writes to a topic that is also an input.
    #[error(
        "output port `{output}` writes to topic `{topic}`, which input port `{input}` reads; \
         a product must not consume its own output"
    )]
    OutputIsInput {
        /// The output port.
        output: String,
        /// The input port.
        input: String,
        /// The shared topic.
        topic: String,
    },
}

impl DescriptorError {
    /// Always `false`: a descriptor does not fix itself.
    pub fn is_retriable(&self) -> bool {
        false
    }
}

/// A configuration that cannot be used. Every variant names its setting, as
/// the builder method and as the environment variable.
///
/// # Examples
///
/// ```
/// use meshkit::Config;
///
/// let err = Config::from_env_iter([("MESHKIT_COMMIT_INTERVAL_MS", "soon")]).unwrap_err();
/// assert!(err.to_string().contains("MESHKIT_COMMIT_INTERVAL_MS"));
/// ```
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A setting has a value that cannot be used.
    #[error("invalid setting `{setting}` (env {env}): `{value}`: {reason}")]
    InvalidValue {
        /// The setting, as its builder method is named.
        setting: &'static str,
        /// The environment variable that sets it.
        env: String,
        /// The value given.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A Kafka client property passed through is unknown or has a bad value.
    #[error("invalid Kafka property `{property}` = `{value}`: {reason}")]
    InvalidKafkaProperty {
        /// The librdkafka property name.
        property: String,
        /// The value given.
        value: String,
        /// Why: librdkafka's own explanation, or the runtime's.
        reason: String,
    },
    /// A Kafka client property that meshkit sets itself, because exactly-once
    /// depends on it, was passed through.
    #[error(
        "Kafka property `{property}` is managed by meshkit (exactly-once depends on it) and cannot be overridden"
    )]
    ReservedKafkaProperty {
        /// The property name.
        property: String,
    },
}

impl ConfigError {
    /// Always `false`: a configuration does not fix itself.
    pub fn is_retriable(&self) -> bool {
        false
    }
}

/// What a transform returns when it cannot process a record.
///
/// The runtime aborts the transaction that carried the record (so none of its
/// outputs is ever visible to read_committed readers), rewinds to the last
/// committed offsets, and then applies the product's
/// [`ErrorPolicy`](crate::ErrorPolicy) to the failing record.
///
/// # Examples
///
/// ```
/// use meshkit::TransformError;
///
/// let err = TransformError::new("amount is negative");
/// assert!(!err.is_retriable());
/// let err = TransformError::retriable("pricing service timed out");
/// assert!(err.is_retriable());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TransformError {
    message: String,
    retriable: bool,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl TransformError {
    /// A failure that will fail again on the same record (bad data, a rule broken).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retriable: false,
            source: None,
        }
    }

    /// A failure that may pass on another try (a timeout, a dependency down).
    pub fn retriable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retriable: true,
            source: None,
        }
    }

    /// Wraps an underlying error as its source.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Whether trying the same record again can help.
    pub fn is_retriable(&self) -> bool {
        self.retriable
    }
}

/// An emit to an output port the product did not declare.
///
/// # Examples
///
/// ```
/// use meshkit::{EmitError, TransformError};
///
/// let err = EmitError::UnknownPort { port: "nope".into(), known: vec!["enriched".into()] };
/// let as_transform_error: TransformError = err.into();
/// assert!(as_transform_error.to_string().contains("nope"));
/// ```
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmitError {
    /// The port is not one of the product's output ports.
    #[error("no output port `{port}`; the product's output ports are: {}", known.join(", "))]
    UnknownPort {
        /// The name given.
        port: String,
        /// The declared output ports.
        known: Vec<String>,
    },
    /// Raw bytes emitted to a port that carries an Avro type.
    #[error("output port `{port}` carries Avro values of type `{type_name}`; emit them with `emit_value` or `emit_keyed`")]
    AvroPort {
        /// The port.
        port: String,
        /// Its type.
        type_name: &'static str,
    },
    /// A typed value emitted to a port of raw bytes.
    #[error("output port `{port}` carries raw bytes, not Avro values; declare it with `output_avro` or emit bytes with `emit`")]
    NotAvro {
        /// The port.
        port: String,
    },
    /// A value or key of another type than the port's.
    #[error("output port `{port}` carries {part}s of type `{expected}`, not `{got}`")]
    WrongType {
        /// The port.
        port: String,
        /// `value` or `key`.
        part: &'static str,
        /// The port's type.
        expected: &'static str,
        /// The type emitted.
        got: &'static str,
    },
    /// A keyed port emitted to without its Avro key, or an unkeyed one with one.
    #[error("output port `{port}` {}", if *keyed { "is keyed: emit with `emit_keyed`" } else { "has no key type: emit with `emit_value`" })]
    KeyMismatch {
        /// The port.
        port: String,
        /// Whether the port is keyed.
        keyed: bool,
    },
    /// apache-avro could not encode the value.
    #[error("output port `{port}`: {source}")]
    Encode {
        /// The port.
        port: String,
        /// Why.
        #[source]
        source: crate::schema::EncodeError,
    },
}

impl From<EmitError> for TransformError {
    fn from(err: EmitError) -> Self {
        TransformError::new(err.to_string()).with_source(err)
    }
}

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
    #[error("invalid data product: {0}")]
    Descriptor(#[from] DescriptorError),
    /// The product's schemas did not pass the compatibility gate at start.
    #[error("schema check failed: {0}")]
    Schema(#[from] crate::schema::SchemaGateError),
    /// The schema registry could not be set up (bad URL, unreachable topic).
    #[error("schema registry: {0}")]
    Registry(#[from] crate::schema::RegistryError),
    /// A setting is wrong.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// No broker answered within the start-up timeout.
    #[error(
        "cannot reach the Kafka brokers `{brokers}` (setting `brokers`, env MESHKIT_BROKERS) within {timeout:?}: {source}"
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
    #[error("stopped on a transform error at {topic}[{partition}]@{offset}: {source}")]
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
    /// A Kafka operation failed.
    #[error("Kafka {operation} failed: {source}")]
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
    #[error("{operation} failed: {source}")]
    Io {
        /// What meshkit was doing.
        operation: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A store operation failed outside a transform (writing a committed
    /// batch, opening a store).
    #[error("state: {0}")]
    State(#[from] crate::state::StateError),
    /// A store's changelog could not be replayed.
    #[error("restoring partition {partition}: {message}")]
    Restore {
        /// The input partition.
        partition: i32,
        /// What went wrong.
        message: String,
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
            Error::BrokerUnreachable { .. } | Error::Io { .. } | Error::Restore { .. } => true,
            Error::State(err) => err.is_retriable(),
            Error::Schema(err) => err.is_retriable(),
            Error::Registry(err) => err.is_retriable(),
            Error::Kafka { source, .. } => kafka_retriable(source),
            Error::Transform { source, .. } => source.is_retriable(),
            _ => false,
        }
    }

    pub(crate) fn kafka(operation: &'static str, source: KafkaError) -> Self {
        Error::Kafka { operation, source }
    }
}

fn kafka_retriable(err: &KafkaError) -> bool {
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
