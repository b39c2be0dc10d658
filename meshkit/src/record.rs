//! Records as a transform sees them: [`Record`] in, [`OutputRecord`] out.

use std::any::Any;

use crate::error::TransformError;

fn downcast<'a, T: Any>(
    decoded: Option<&'a (dyn Any + Send + Sync)>,
    port: &str,
    part: &str,
) -> Result<&'a T, TransformError> {
    let decoded = decoded.ok_or_else(|| {
        TransformError::new(format!(
            "port `{port}` has no decoded {part}: declare it with an Avro type (e.g. `input_avro`)"
        ))
    })?;
    decoded.downcast_ref::<T>().ok_or_else(|| {
        TransformError::new(format!(
            "port `{port}`'s {part} is not a `{}`; read it as the type the port declares",
            std::any::type_name::<T>()
        ))
    })
}

/// One input record, borrowed from the consumer for the duration of a
/// [`DataProduct::process`](crate::DataProduct::process) call.
///
/// # Examples
///
/// Records can be built by hand, to unit-test a transform:
///
/// ```
/// use meshkit::Record;
///
/// let record = Record::new("orders", "sales.orders", 0, 42)
///     .with_key(b"customer-7")
///     .with_value(br#"{"amount": 12}"#);
/// assert_eq!(record.offset(), 42);
/// assert_eq!(record.key(), Some(&b"customer-7"[..]));
/// ```
#[derive(Debug, Clone)]
pub struct Record<'a> {
    port: &'a str,
    topic: &'a str,
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    headers: Vec<(&'a str, Option<&'a [u8]>)>,
    decoded_value: Option<&'a (dyn Any + Send + Sync)>,
    decoded_key: Option<&'a (dyn Any + Send + Sync)>,
    schema_id: Option<u32>,
}

impl<'a> Record<'a> {
    /// A record on input port `port`, read from `topic` at `partition` / `offset`,
    /// with no key, value, timestamp or headers.
    pub fn new(port: &'a str, topic: &'a str, partition: i32, offset: i64) -> Self {
        Self {
            port,
            topic,
            partition,
            offset,
            timestamp: None,
            key: None,
            value: None,
            headers: Vec::new(),
            decoded_value: None,
            decoded_key: None,
            schema_id: None,
        }
    }

    /// Sets the decoded value, as the runtime does on a port with an Avro
    /// type (to unit-test a transform that reads [`value_as`](Self::value_as)).
    #[must_use]
    pub fn with_decoded_value<T: Any + Send + Sync>(mut self, value: &'a T) -> Self {
        self.decoded_value = Some(value);
        self
    }

    /// Sets the decoded key, as the runtime does on a keyed Avro port.
    #[must_use]
    pub fn with_decoded_key<K: Any + Send + Sync>(mut self, key: &'a K) -> Self {
        self.decoded_key = Some(key);
        self
    }

    #[cfg(feature = "avro")]
    pub(crate) fn with_decoded_value_dyn(mut self, value: &'a (dyn Any + Send + Sync)) -> Self {
        self.decoded_value = Some(value);
        self
    }

    #[cfg(feature = "avro")]
    pub(crate) fn with_decoded_key_dyn(mut self, key: &'a (dyn Any + Send + Sync)) -> Self {
        self.decoded_key = Some(key);
        self
    }

    /// Sets the writer schema id of the value.
    #[must_use]
    pub fn with_schema_id(mut self, id: u32) -> Self {
        self.schema_id = Some(id);
        self
    }

    /// The value decoded as the port's Avro type `T`.
    ///
    /// # Errors
    ///
    /// A [`TransformError`] if the port carries no Avro type or another type
    /// than `T` (a mistake in the product, not in the data: records that do
    /// not decode never reach the transform).
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::Record;
    ///
    /// let amount = 12.5_f64;
    /// let record = Record::new("amounts", "sales.amounts", 0, 0).with_decoded_value(&amount);
    /// assert_eq!(*record.value_as::<f64>()?, 12.5);
    /// assert!(record.value_as::<String>().is_err());
    /// # Ok::<(), meshkit::TransformError>(())
    /// ```
    pub fn value_as<T: Any>(&self) -> Result<&'a T, TransformError> {
        downcast(self.decoded_value, self.port, "value")
    }

    /// The key decoded as the keyed port's Avro type `K`.
    ///
    /// # Errors
    ///
    /// A [`TransformError`] if the port has no Avro key type or another one than `K`.
    pub fn key_as<K: Any>(&self) -> Result<&'a K, TransformError> {
        downcast(self.decoded_key, self.port, "key")
    }

    /// The schema id the value was written with, on an Avro port.
    pub fn schema_id(&self) -> Option<u32> {
        self.schema_id
    }

    /// Sets the key.
    #[must_use]
    pub fn with_key(mut self, key: &'a [u8]) -> Self {
        self.key = Some(key);
        self
    }

    /// Sets the value.
    #[must_use]
    pub fn with_value(mut self, value: &'a [u8]) -> Self {
        self.value = Some(value);
        self
    }

    /// Sets the timestamp (milliseconds since the Unix epoch).
    #[must_use]
    pub fn with_timestamp(mut self, millis: i64) -> Self {
        self.timestamp = Some(millis);
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: &'a str, value: Option<&'a [u8]>) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The input port the record arrived on.
    pub fn port(&self) -> &str {
        self.port
    }

    /// The topic it was read from.
    pub fn topic(&self) -> &str {
        self.topic
    }

    /// Its partition.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// Its offset.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// Its timestamp in milliseconds since the Unix epoch, if it has one.
    pub fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }

    /// Its key.
    pub fn key(&self) -> Option<&'a [u8]> {
        self.key
    }

    /// Its value (`None` for a tombstone).
    pub fn value(&self) -> Option<&'a [u8]> {
        self.value
    }

    /// Its headers, in order.
    pub fn headers(&self) -> &[(&'a str, Option<&'a [u8]>)] {
        &self.headers
    }

    /// The first header named `name`.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| *v)
    }
}

/// One output record, emitted to a named output port through
/// [`Context::emit_record`](crate::Context::emit_record).
///
/// # Examples
///
/// ```
/// use meshkit::OutputRecord;
///
/// let out = OutputRecord::new(b"hello".to_vec())
///     .with_key(b"k".to_vec())
///     .with_header("source", b"example".to_vec());
/// assert_eq!(out.value.as_deref(), Some(&b"hello"[..]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputRecord {
    /// The key; records with one key keep their order in one partition.
    pub key: Option<Vec<u8>>,
    /// The value; `None` writes a tombstone.
    pub value: Option<Vec<u8>>,
    /// Headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Timestamp in milliseconds; `None` takes the input record's.
    pub timestamp: Option<i64>,
}

impl OutputRecord {
    /// A record with `value` and nothing else.
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        Self {
            value: Some(value.into()),
            ..Self::default()
        }
    }

    /// A tombstone (no value) for `key`.
    pub fn tombstone(key: impl Into<Vec<u8>>) -> Self {
        Self {
            key: Some(key.into()),
            ..Self::default()
        }
    }

    /// Sets the key.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the timestamp (milliseconds since the Unix epoch).
    #[must_use]
    pub fn with_timestamp(mut self, millis: i64) -> Self {
        self.timestamp = Some(millis);
        self
    }
}

/// A value that says when a record happened, as milliseconds since the
/// Unix epoch: the type of a field that the DSL's `event_time = field`
/// names (an Avro `timestamp-millis` is an `i64`). `None` when the value
/// holds no time, and the record's Kafka timestamp is used instead.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use meshkit::EventTime;
///
/// assert_eq!(1_700_000_000_000_i64.event_time_millis(), Some(1_700_000_000_000));
/// let at = UNIX_EPOCH + Duration::from_millis(42);
/// assert_eq!(at.event_time_millis(), Some(42));
/// assert_eq!(None::<i64>.event_time_millis(), None);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a time meshkit can read an event time from",
    label = "not milliseconds since the epoch",
    note = "`event_time` takes a field of type `i64` or `u64` (milliseconds since the Unix epoch), `std::time::SystemTime`, or an `Option` of one; or implement `meshkit::EventTime` for it"
)]
pub trait EventTime {
    /// Milliseconds since the Unix epoch, if the value holds a time.
    fn event_time_millis(&self) -> Option<i64>;
}

impl EventTime for i64 {
    fn event_time_millis(&self) -> Option<i64> {
        Some(*self)
    }
}

impl EventTime for u64 {
    fn event_time_millis(&self) -> Option<i64> {
        i64::try_from(*self).ok()
    }
}

impl EventTime for std::time::SystemTime {
    fn event_time_millis(&self) -> Option<i64> {
        let millis = match self.duration_since(std::time::UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis()).ok()?,
            Err(before) => -i64::try_from(before.duration().as_millis()).ok()?,
        };
        Some(millis)
    }
}

impl<T: EventTime> EventTime for Option<T> {
    fn event_time_millis(&self) -> Option<i64> {
        self.as_ref().and_then(EventTime::event_time_millis)
    }
}
