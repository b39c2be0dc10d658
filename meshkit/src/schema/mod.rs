//! Schema enforcement: Avro in the Confluent wire format, checked against a
//! schema registry.
//!
//! A port that carries a Rust type (see [`PortSchema`]) is enforced on both
//! sides by the runtime, with no code from the product:
//! - at start, each output schema is registered (or must already be), and each
//!   input port's type must be able to read the subject's latest writer
//!   schema, or the product refuses to start ([`SchemaGateError`]);
//! - each input record is decoded with the writer schema its id names,
//!   resolved to the port's type; one that cannot be goes to the dead-letter
//!   topic with a [`DecodeError::reason`];
//! - each output is encoded with the registered id.
//!
//! The registry is a [`SchemaRegistry`]: [`HttpRegistry`] for Confluent's,
//! Karapace, Apicurio or Redpanda's, or, when no URL is configured, meshkit's
//! embedded registry.

mod codec;
mod decode;
mod gate;
pub mod registry;
mod subject;
pub mod wire;

use std::any::TypeId;
use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};

pub use codec::{codec_for, AvroType, Decoded, ErasedCodec};
pub(crate) use decode::{encode_framed, DecodeFailure, Decoder};
pub use gate::SchemaGateError;
pub(crate) use gate::{check_gate, GatePort, RegisteredPort, SettledSchema};
pub use registry::{HttpRegistry, RegistryError, SchemaRegistry};
pub use subject::SubjectNameStrategy;

/// What a port carries: the Avro type of its values and, for a keyed port,
/// of its keys.
///
/// # Examples
///
/// ```
/// use apache_avro::AvroSchema;
/// use meshkit::schema::PortSchema;
///
/// #[derive(AvroSchema, serde::Serialize, serde::Deserialize)]
/// struct Order {
///     id: i64,
/// }
///
/// let schema = PortSchema::value::<Order>().with_key::<String>();
/// assert!(schema.key_codec().is_some());
/// assert!(schema.value_codec().schema_json().contains(r#""name":"Order""#));
/// ```
#[derive(Clone)]
pub struct PortSchema {
    value: Arc<dyn ErasedCodec>,
    key: Option<Arc<dyn ErasedCodec>>,
}

impl PortSchema {
    /// A port whose values are `V`, with keys left as bytes.
    pub fn value<V: AvroType>() -> Self {
        Self {
            value: codec_for::<V>(),
            key: None,
        }
    }

    /// Makes the port keyed: every record's key is a `K` in the wire format,
    /// and a record without a key is a dead letter.
    #[must_use]
    pub fn with_key<K: AvroType>(mut self) -> Self {
        self.key = Some(codec_for::<K>());
        self
    }

    /// The values' codec.
    pub fn value_codec(&self) -> &Arc<dyn ErasedCodec> {
        &self.value
    }

    /// The keys' codec, on a keyed port.
    pub fn key_codec(&self) -> Option<&Arc<dyn ErasedCodec>> {
        self.key.as_ref()
    }

    pub(crate) fn value_type(&self) -> TypeId {
        self.value.type_id()
    }
}

impl fmt::Debug for PortSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortSchema")
            .field("value", &self.value.type_name())
            .field("key", &self.key.as_ref().map(|k| k.type_name()))
            .finish()
    }
}

impl PartialEq for PortSchema {
    fn eq(&self, other: &Self) -> bool {
        self.value.canonical() == other.value.canonical()
            && self.key.as_ref().map(|k| k.canonical()) == other.key.as_ref().map(|k| k.canonical())
    }
}

impl Eq for PortSchema {}

impl Serialize for PortSchema {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            value: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            key: Option<&'a str>,
        }
        Shown {
            kind: "avro",
            value: self.value.schema_json(),
            key: self.key.as_ref().map(|k| k.schema_json()),
        }
        .serialize(serializer)
    }
}

/// Why a record could not be decoded. Each is a dead letter, never a crash.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Shorter than the 5-byte wire-format header.
    #[error("{len} bytes, shorter than the 5-byte Confluent header")]
    Truncated {
        /// Its length.
        len: usize,
    },
    /// Does not start with the wire format's magic byte 0.
    #[error("first byte is {byte:#04x}, not the Confluent magic byte 0x00")]
    BadMagic {
        /// The byte found.
        byte: u8,
    },
    /// The registry has no schema with this id.
    #[error("schema id {id} is not in the registry")]
    UnknownSchemaId {
        /// The id in the header.
        id: u32,
    },
    /// The registry's schema for this id is not valid Avro.
    #[error("the registry's schema {id} cannot be parsed: {reason}")]
    InvalidWriterSchema {
        /// The id.
        id: u32,
        /// The parser's message.
        reason: String,
    },
    /// The writer schema cannot be resolved to the port's reader type.
    #[error("the writer schema cannot be read as the port's type: {reason}")]
    Incompatible {
        /// Which rule is broken.
        reason: String,
    },
    /// The Avro body is not a valid datum of the writer schema.
    #[error("malformed Avro body: {reason}")]
    Malformed {
        /// The decoder's message.
        reason: String,
    },
    /// A valid datum followed by bytes that belong to none.
    #[error("{extra} bytes after the end of the Avro datum")]
    TrailingBytes {
        /// How many bytes were left.
        extra: usize,
    },
    /// The datum decoded but does not fit the port's Rust type.
    #[error("the datum does not fit `{type_name}`: {reason}")]
    TypeMismatch {
        /// The port's type.
        type_name: &'static str,
        /// What did not fit.
        reason: String,
    },
    /// A keyed port got a record with no key.
    #[error("the port is keyed but the record has no key")]
    MissingKey,
    /// A port with a value type got a record with no value (a tombstone).
    #[error("the record has no value (a tombstone) but the port carries a value type")]
    MissingValue,
    /// Larger than the configured maximum.
    #[error("{len} bytes, larger than the maximum of {max}")]
    Oversized {
        /// Its size.
        len: usize,
        /// The maximum (`max_record_bytes`).
        max: usize,
    },
}

impl DecodeError {
    /// The reason given in the dead letter's `meshkit.dlq.reason` header and
    /// the metrics label, e.g. `bad-magic`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Truncated { .. } => "truncated-header",
            Self::BadMagic { .. } => "bad-magic",
            Self::UnknownSchemaId { .. } => "unknown-schema-id",
            Self::InvalidWriterSchema { .. } => "invalid-writer-schema",
            Self::Incompatible { .. } => "incompatible-writer-schema",
            Self::Malformed { .. } => "malformed-avro",
            Self::TrailingBytes { .. } => "trailing-bytes",
            Self::TypeMismatch { .. } => "type-mismatch",
            Self::MissingKey => "missing-key",
            Self::MissingValue => "missing-value",
            Self::Oversized { .. } => "oversized",
        }
    }
}

/// Why an output could not be encoded.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The value is not of the port's type.
    #[error("the value is not a `{expected}`, the port's type")]
    WrongType {
        /// The port's type.
        expected: &'static str,
    },
    /// apache-avro refused the value.
    #[error("cannot encode as Avro: {reason}")]
    Avro {
        /// Its message.
        reason: String,
    },
}
