//! Schema enforcement: Avro, JSON Schema and Protobuf in the Confluent wire
//! format, checked against a schema registry; and the plain formats (JSON,
//! UTF-8 strings) a port's keys and values may travel in instead
//! ([`Format`]).
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

#[cfg(feature = "avro")]
mod codec;
#[cfg(feature = "avro")]
mod decode;
#[cfg(feature = "avro")]
mod format;
#[cfg(feature = "avro")]
mod gate;
#[cfg(feature = "avro")]
mod json_schema;
#[cfg(feature = "avro")]
mod port;
#[cfg(feature = "protobuf")]
mod protobuf;
#[cfg(feature = "avro")]
#[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
pub mod registry;
#[cfg(all(feature = "avro", feature = "state"))]
mod store_values;
mod subject;
pub mod wire;

#[cfg(feature = "avro")]
#[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
pub use codec::{codec_for, AvroType, Decoded, ErasedCodec};
#[cfg(feature = "avro")]
pub(crate) use decode::{encode_framed, DecodeFailure, DecodedRecord, Decoder};
#[cfg(feature = "avro")]
#[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
pub use format::{json_codec, string_codec, Codec, Format, JsonType, PlainCodec};
#[cfg(feature = "avro")]
#[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
pub use gate::SchemaGateError;
#[cfg(feature = "avro")]
pub(crate) use gate::{check_gate, GatePort, RegisteredPort, SettledSchema};
#[cfg(feature = "testing")]
pub(crate) use gate::{part_subject, register_output};
#[cfg(feature = "registry-server")]
pub(crate) use json_schema::json_cannot_read;
#[cfg(feature = "avro")]
#[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
pub use json_schema::JsonSchemaCodec;
#[cfg(feature = "json-schema")]
#[cfg_attr(docsrs, doc(cfg(feature = "json-schema")))]
pub use json_schema::{json_schema_codec, JsonSchemaType};
#[cfg(feature = "avro")]
#[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
pub use port::PortSchema;
#[cfg(all(feature = "protobuf", feature = "registry-server"))]
pub(crate) use protobuf::file_cannot_read;
#[cfg(feature = "protobuf")]
#[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
pub use protobuf::{
    descriptor_pool, parse_proto_schema, protobuf_codec, read_message_indexes, serialized_proto_schema,
    write_message_indexes, ProtoSchemaError, ProtobufCodec, ProtobufType,
};
#[cfg(feature = "registry-client")]
#[cfg_attr(docsrs, doc(cfg(feature = "registry-client")))]
pub use registry::HttpRegistry;
#[cfg(feature = "avro")]
#[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
pub use registry::{RegistryError, SchemaRegistry};
#[cfg(all(feature = "avro", feature = "state"))]
pub(crate) use store_values::{check_store, GateStore, StoreValues};
pub use subject::SubjectNameStrategy;

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
    /// A JSON port's payload is not JSON.
    #[error("malformed JSON: {reason}")]
    MalformedJson {
        /// The parser's message.
        reason: String,
    },
    /// A Protobuf port's payload (its message indexes or its body) is not
    /// a valid message.
    #[error("malformed Protobuf: {reason}")]
    MalformedProtobuf {
        /// The decoder's message.
        reason: String,
    },
    /// A string port's payload is not UTF-8.
    #[error("not UTF-8 text: {reason}")]
    MalformedString {
        /// Where the text breaks.
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
    /// The dead letter's reason and message for this error, on the
    /// record's key or its value.
    #[cfg(feature = "avro")]
    pub(crate) fn dead_letter(&self, key: bool) -> (String, String) {
        if key {
            (format!("key-{}", self.reason()), format!("key: {self}"))
        } else {
            (self.reason().to_string(), self.to_string())
        }
    }

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
            Self::MalformedJson { .. } => "malformed-json",
            Self::MalformedString { .. } => "malformed-string",
            Self::MalformedProtobuf { .. } => "malformed-protobuf",
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
    /// prost refused the value.
    #[error("cannot encode as Protobuf: {reason}")]
    Protobuf {
        /// Its message.
        reason: String,
    },
    /// serde_json refused the value (a map with non-string keys, say).
    #[error("cannot encode as JSON: {reason}")]
    Json {
        /// Its message.
        reason: String,
    },
}
