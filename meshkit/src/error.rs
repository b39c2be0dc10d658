//! The leaf errors every layer may return, one enum per boundary.
//!
//! - [`DescriptorError`]: a product's declared identity or ports are wrong.
//! - [`ConfigError`]: a setting is wrong (names the setting).
//! - [`TransformError`]: what a product's transform returns for a record.
//!
//! What building or running a [`Runtime`](crate::Runtime) returns is
//! [`Error`](crate::Error), in the runtime's layer: it wraps these and the
//! errors of the layers below the runtime.
//!
//! Every enum is `#[non_exhaustive]`, keeps its cause in the `source()` chain,
//! and says through `is_retriable()` whether trying again can help.

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
    /// A timer cannot be declared as it is.
    #[error("timer `{name}` cannot be used: {reason}")]
    InvalidTimer {
        /// Its name.
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
    /// A table port whose records have no typed key: a table holds the
    /// latest value per key.
    #[error(
        "table port `{port}` has no typed key: a table holds the latest value of each key, so its schema \
         needs one (e.g. `PortSchema::value::<V>().with_string_key()`)"
    )]
    UnkeyedTable {
        /// The port.
        port: String,
    },
    /// A stream topology (`meshkit::ops`) combines steps that do not go
    /// together.
    #[error("the product's topology is invalid: {reason}")]
    InvalidTopology {
        /// What is wrong, naming the step.
        reason: String,
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

/// Shows an error and its sources, `top: cause: root`, for logs, health and
/// dead-letter headers: meshkit's errors keep their cause out of their own
/// message (it is their `source()`), so each message appears once.
///
/// # Examples
///
/// ```
/// use meshkit::{ErrorChain, TransformError};
///
/// let err = TransformError::new("cannot price the order").with_source(std::io::Error::other("disk full"));
/// assert_eq!(err.to_string(), "cannot price the order");
/// assert_eq!(ErrorChain(&err).to_string(), "cannot price the order: disk full");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'a));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Whether an OS error may pass by itself (an interrupted or timed-out call,
/// a dropped connection), so that trying again can help; a missing file, a
/// permission or a full disk needs someone to act first.
pub(crate) fn io_retriable(err: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        err.kind(),
        ErrorKind::Interrupted
            | ErrorKind::WouldBlock
            | ErrorKind::TimedOut
            | ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
    )
}
