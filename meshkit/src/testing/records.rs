//! What a test pipes in and reads out: typed records, dead letters, and the
//! driver's errors.

use crate::record::OutputRecord;
use crate::schema::{DecodeError, EncodeError};
#[cfg(feature = "state")]
use crate::stores::StateError;

/// A typed record piped into an input port or read from an output port.
///
/// # Examples
///
/// ```
/// use meshkit::testing::TestRecord;
///
/// let record = TestRecord::new("c-1".to_string(), 5_i64)
///     .at(1_767_225_600_000)
///     .header("trace", b"t-1".to_vec());
/// assert_eq!(record.timestamp, Some(1_767_225_600_000));
/// assert_eq!(record.headers[0].0, "trace");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TestRecord<K, V> {
    /// Its key (`()` on a port without keys).
    pub key: K,
    /// Its value.
    pub value: V,
    /// Its timestamp, in milliseconds since the Unix epoch (piped in without
    /// one, the record takes the driver's clock).
    pub timestamp: Option<i64>,
    /// Its headers.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl<K, V> TestRecord<K, V> {
    /// A record with `key` and `value`, no timestamp and no headers.
    pub fn new(key: K, value: V) -> Self {
        Self {
            key,
            value,
            timestamp: None,
            headers: Vec::new(),
        }
    }

    /// With its timestamp.
    #[must_use]
    pub fn at(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// With one more header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: Vec<u8>) -> Self {
        self.headers.push((name.into(), value));
        self
    }
}

/// A record that went to the dead-letter topic, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The input port it came in on.
    pub port: String,
    /// Its offset in the driver's input partition.
    pub offset: i64,
    /// The reason, as the `meshkit.dlq.reason` header gives it (e.g.
    /// `malformed-json`, `transform-error`, or the transform's own).
    pub reason: String,
    /// The message: what failed, with its causes.
    pub message: String,
    /// The record's key, as it came in.
    pub key: Option<Vec<u8>>,
    /// The record's value, as it came in.
    pub value: Option<Vec<u8>>,
}

impl DeadLetter {
    /// Whether it went to the dead-letter topic for `reason` (its code).
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::testing::DeadLetter;
    /// use meshkit::DeadLetterReason;
    ///
    /// struct Late;
    /// impl std::fmt::Display for Late {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    ///         f.write_str("after its window closed")
    ///     }
    /// }
    /// impl DeadLetterReason for Late {
    ///     fn code(&self) -> &'static str {
    ///         "late-record"
    ///     }
    /// }
    ///
    /// let letter = DeadLetter {
    ///     port: "orders".into(),
    ///     offset: 0,
    ///     reason: "late-record".into(),
    ///     message: "after its window closed".into(),
    ///     key: None,
    ///     value: None,
    /// };
    /// assert!(letter.is(&Late));
    /// ```
    pub fn is<R: crate::DeadLetterReason + ?Sized>(&self, reason: &R) -> bool {
        self.reason == reason.code()
    }
}

/// A raw record read from an output port, as the client would produce it.
pub type RawRecord = OutputRecord;

/// What the test driver refuses: a mistake in the test, not in the product
/// (the product's own failures are dead letters, or [`TestError::Stopped`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// The product's declaration is invalid.
    #[error("the product's declaration is invalid")]
    Descriptor(#[source] crate::DescriptorError),
    /// The compatibility gate refused the product's schemas.
    #[error("the product's schemas do not pass the compatibility gate")]
    Gate(#[source] crate::schema::SchemaGateError),
    /// The product has no port of that name.
    #[error("the product has no {kind} port `{port}`; its {kind} ports are: {}", known.join(", "))]
    UnknownPort {
        /// `input` or `output`.
        kind: &'static str,
        /// The name given.
        port: String,
        /// The declared ports of that kind.
        known: Vec<String>,
    },
    /// A key or value of another type than the port's.
    #[error("{kind} port `{port}` carries {part}s of type `{expected}`, not `{got}`")]
    WrongType {
        /// `input` or `output`.
        kind: &'static str,
        /// The port.
        port: String,
        /// `key` or `value`.
        part: &'static str,
        /// The port's type (or "raw bytes", "no key").
        expected: String,
        /// The type given.
        got: &'static str,
    },
    /// A typed value could not be encoded to pipe it in.
    #[error("input port `{port}`: the {part} cannot be encoded")]
    Encode {
        /// The port.
        port: String,
        /// `key` or `value`.
        part: &'static str,
        /// Why.
        #[source]
        source: EncodeError,
    },
    /// A record the product wrote to an output port does not decode as the
    /// port's types: the product broke its own contract.
    #[error("output port `{port}`: a record the product sent does not decode")]
    Decode {
        /// The port.
        port: String,
        /// Why.
        #[source]
        source: DecodeError,
    },
    /// The in-memory schema registry refused a call.
    #[error("the test driver's schema registry")]
    Registry(#[source] crate::schema::RegistryError),
    /// The Kafka client failed (writing or reading a topic).
    #[error("the Kafka client")]
    Kafka(#[source] rdkafka::error::KafkaError),
    /// The stores could not be read or written.
    #[cfg(feature = "state")]
    #[error("the product's stores")]
    State(#[source] StateError),
    /// The transform failed under `ErrorPolicy::Stop`: the product stopped,
    /// as the runtime would.
    #[error("the product stopped: the transform failed on input port `{port}` at offset {offset}")]
    Stopped {
        /// The port.
        port: String,
        /// The record's offset.
        offset: i64,
        /// The transform's error.
        #[source]
        source: crate::TransformError,
    },
    /// A timer's `on_timer` failed (under `ErrorPolicy::Stop` the product
    /// stopped; under the others the runtime would abort the transaction and
    /// fire the timer again at its next tick).
    #[error("timer `{timer}` failed at {tick}")]
    TimerFailed {
        /// The timer.
        timer: String,
        /// Its tick, in ms since the Unix epoch.
        tick: i64,
        /// `on_timer`'s error.
        #[source]
        source: crate::TransformError,
    },
    /// A lifecycle hook (`on_assigned`, `on_revoked`, `on_stop`) failed.
    #[error("{hook} failed")]
    HookFailed {
        /// The hook.
        hook: &'static str,
        /// Its error.
        #[source]
        source: crate::TransformError,
    },
}

#[cfg(feature = "state")]
impl From<StateError> for TestError {
    fn from(err: StateError) -> Self {
        Self::State(err)
    }
}
