//! What an emit to an output port can fail with.

use crate::error::TransformError;

/// An emit to an output port the product did not declare.
///
/// # Examples
///
/// ```
/// use meshkit::{EmitError, ErrorChain, TransformError};
///
/// let err = EmitError::UnknownPort { port: "nope".into(), known: vec!["enriched".into()] };
/// let as_transform_error: TransformError = err.into();
/// // The transform error says what failed; its source says why.
/// assert!(ErrorChain(&as_transform_error).to_string().contains("no output port `nope`"));
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
    /// Raw bytes emitted to a port that carries a typed value.
    #[error("output port `{port}` carries {format} values of type `{type_name}`; send them through its typed handle, `emit_value` or `emit_keyed`")]
    AvroPort {
        /// The port.
        port: String,
        /// Its type.
        type_name: &'static str,
        /// Its format (`avro`, `json`).
        format: &'static str,
    },
    /// A typed value emitted to a port of raw bytes.
    #[error("output port `{port}` carries raw bytes, not typed values; declare its type (`output(..., value = T)`) or emit bytes with `emit`")]
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
    /// A keyed port emitted to without its key, or an unkeyed one with one.
    #[error("output port `{port}` {}", if *keyed { "is keyed: send a key with the value (`emit_keyed`)" } else { "has no key type: send the value alone (`emit_value`), or declare the port's key type" })]
    KeyMismatch {
        /// The port.
        port: String,
        /// Whether the port is keyed.
        keyed: bool,
    },
    /// The value could not be encoded in the port's format.
    #[error("output port `{port}`: the value cannot be encoded")]
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
        TransformError::new("the output could not be emitted").with_source(err)
    }
}
