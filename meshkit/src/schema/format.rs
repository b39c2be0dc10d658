//! The formats a port's keys and values travel in, and the codecs of the
//! formats that need no registry (JSON, UTF-8 strings).
//!
//! Avro goes through the registry and the Confluent wire format (see
//! [`ErasedCodec`]); the plain formats here are written as they are, with no
//! header, as most Kafka tools write string keys and JSON values.

use std::any::{Any, TypeId};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{DecodeError, Decoded, EncodeError, ErasedCodec, JsonSchemaCodec};

/// How one part (key or value) of a port's records is written.
///
/// # Examples
///
/// ```
/// use meshkit::schema::Format;
///
/// assert!(Format::Avro.uses_registry());
/// assert!(!Format::Json.uses_registry());
/// assert_eq!(Format::String.to_string(), "string");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Avro in the Confluent wire format, its schema in the registry.
    Avro,
    /// JSON text (serde_json), no header and no registry.
    Json,
    /// UTF-8 text as it is (Kafka's usual string keys).
    String,
    /// JSON in the Confluent wire format, its JSON Schema in the registry.
    JsonSchema,
    /// Protobuf in the Confluent wire format (with its message indexes),
    /// its file descriptor in the registry.
    Protobuf,
}

impl Format {
    /// Whether the part is framed with a schema id from the registry.
    pub fn uses_registry(self) -> bool {
        matches!(self, Self::Avro | Self::JsonSchema | Self::Protobuf)
    }

    /// Its name, as the DSL and the catalog write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Avro => "avro",
            Self::Json => "json",
            Self::String => "string",
            Self::JsonSchema => "json_schema",
            Self::Protobuf => "protobuf",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Rust type that can travel as JSON: serde both ways.
///
/// Implemented for every type that has the bounds; never implement it by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot travel as JSON on a port: it needs serde",
    label = "not serde",
    note = "derive `serde::Serialize` and `serde::Deserialize` for it"
)]
pub trait JsonType: Serialize + DeserializeOwned + Send + Sync + 'static {}

impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> JsonType for T {}

/// The codec of a format that needs no registry, with its Rust type erased.
///
/// Made with [`json_codec`] and [`string_codec`]; the runtime uses it,
/// products rarely do.
pub trait PlainCodec: Send + Sync + fmt::Debug {
    /// Its format.
    fn format(&self) -> Format;
    /// The Rust type's name, for messages.
    fn type_name(&self) -> &'static str;
    /// The Rust type's id, to check what a transform sends.
    fn type_id(&self) -> TypeId;
    /// Decodes a whole payload.
    fn decode(&self, bytes: &[u8]) -> Result<Decoded, DecodeError>;
    /// Encodes `value`, which must be of this type, appending to `out`.
    fn encode(&self, value: &dyn Any, out: &mut Vec<u8>) -> Result<(), EncodeError>;
}

/// The JSON codec of `T`.
///
/// # Examples
///
/// ```
/// use meshkit::schema::json_codec;
///
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Spend {
///     cents: i64,
/// }
///
/// let codec = json_codec::<Spend>();
/// let mut bytes = Vec::new();
/// codec.encode(&Spend { cents: 5 }, &mut bytes)?;
/// assert_eq!(bytes, br#"{"cents":5}"#);
/// let decoded = codec.decode(&bytes)?;
/// assert_eq!(decoded.downcast_ref::<Spend>(), Some(&Spend { cents: 5 }));
/// assert_eq!(codec.decode(b"{").unwrap_err().reason(), "malformed-json");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn json_codec<T: JsonType>() -> Arc<dyn PlainCodec> {
    Arc::new(JsonCodec::<T>(PhantomData))
}

/// The codec of UTF-8 `String`s, written as they are.
///
/// # Examples
///
/// ```
/// use meshkit::schema::string_codec;
///
/// let codec = string_codec();
/// let decoded = codec.decode(b"c-1")?;
/// assert_eq!(decoded.downcast_ref::<String>().map(String::as_str), Some("c-1"));
/// assert_eq!(codec.decode(&[0xff]).unwrap_err().reason(), "malformed-string");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn string_codec() -> Arc<dyn PlainCodec> {
    Arc::new(StringCodec)
}

struct JsonCodec<T>(PhantomData<fn() -> T>);

impl<T> fmt::Debug for JsonCodec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JsonCodec")
            .field(&std::any::type_name::<T>())
            .finish()
    }
}

impl<T: JsonType> PlainCodec for JsonCodec<T> {
    fn format(&self) -> Format {
        Format::Json
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn type_id(&self) -> TypeId {
        TypeId::of::<T>()
    }

    fn decode(&self, bytes: &[u8]) -> Result<Decoded, DecodeError> {
        let value: T = serde_json::from_slice(bytes).map_err(|e| {
            // A syntax error is a malformed payload; well-formed JSON of
            // another shape does not fit the port's type.
            if e.is_data() {
                DecodeError::TypeMismatch {
                    type_name: std::any::type_name::<T>(),
                    reason: e.to_string(),
                }
            } else {
                DecodeError::MalformedJson {
                    reason: e.to_string(),
                }
            }
        })?;
        Ok(Box::new(value))
    }

    fn encode(&self, value: &dyn Any, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let value = value.downcast_ref::<T>().ok_or(EncodeError::WrongType {
            expected: std::any::type_name::<T>(),
        })?;
        serde_json::to_writer(out, value).map_err(|e| EncodeError::Json {
            reason: e.to_string(),
        })
    }
}

#[derive(Debug)]
struct StringCodec;

impl PlainCodec for StringCodec {
    fn format(&self) -> Format {
        Format::String
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<String>()
    }

    fn type_id(&self) -> TypeId {
        TypeId::of::<String>()
    }

    fn decode(&self, bytes: &[u8]) -> Result<Decoded, DecodeError> {
        let text = std::str::from_utf8(bytes).map_err(|e| DecodeError::MalformedString {
            reason: e.to_string(),
        })?;
        Ok(Box::new(text.to_string()))
    }

    fn encode(&self, value: &dyn Any, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let text = value.downcast_ref::<String>().ok_or(EncodeError::WrongType {
            expected: std::any::type_name::<String>(),
        })?;
        out.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

/// The codec of one part of a port: Avro or JSON Schema through the
/// registry, or a plain format.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Codec {
    /// Avro in the Confluent wire format.
    Avro(Arc<dyn ErasedCodec>),
    /// JSON or a UTF-8 string, with no header.
    Plain(Arc<dyn PlainCodec>),
    /// JSON in the Confluent wire format, with its JSON Schema.
    JsonSchema(Arc<JsonSchemaCodec>),
    /// Protobuf in the Confluent wire format, with its file descriptor.
    #[cfg(feature = "protobuf")]
    #[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
    Protobuf(Arc<super::ProtobufCodec>),
}

impl Codec {
    /// Its format.
    pub fn format(&self) -> Format {
        match self {
            Self::Avro(_) => Format::Avro,
            Self::Plain(codec) => codec.format(),
            Self::JsonSchema(_) => Format::JsonSchema,
            #[cfg(feature = "protobuf")]
            Self::Protobuf(_) => Format::Protobuf,
        }
    }

    /// The Rust type's name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Avro(codec) => codec.type_name(),
            Self::Plain(codec) => codec.type_name(),
            Self::JsonSchema(codec) => codec.json().type_name(),
            #[cfg(feature = "protobuf")]
            Self::Protobuf(codec) => codec.type_name(),
        }
    }

    /// The Rust type's id.
    pub fn type_id(&self) -> TypeId {
        // Named in full: `Any::type_id` is in scope here and would answer
        // for the `Arc` itself.
        match self {
            Self::Avro(codec) => ErasedCodec::type_id(codec.as_ref()),
            Self::Plain(codec) => PlainCodec::type_id(codec.as_ref()),
            Self::JsonSchema(codec) => PlainCodec::type_id(codec.json().as_ref()),
            #[cfg(feature = "protobuf")]
            Self::Protobuf(codec) => super::ProtobufCodec::type_id(codec),
        }
    }

    /// The Avro codec, on an Avro part.
    pub fn avro(&self) -> Option<&Arc<dyn ErasedCodec>> {
        match self {
            Self::Avro(codec) => Some(codec),
            _ => None,
        }
    }

    /// The JSON Schema codec, on a JSON Schema part.
    pub fn json_schema(&self) -> Option<&Arc<JsonSchemaCodec>> {
        match self {
            Self::JsonSchema(codec) => Some(codec),
            _ => None,
        }
    }

    /// The Protobuf codec, on a Protobuf part.
    #[cfg(feature = "protobuf")]
    #[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
    pub fn protobuf(&self) -> Option<&Arc<super::ProtobufCodec>> {
        match self {
            Self::Protobuf(codec) => Some(codec),
            _ => None,
        }
    }

    /// Encodes `value` as a whole payload: framed with `id` on a part whose
    /// schema is in the registry.
    pub(crate) fn encode_payload(&self, id: u32, value: &dyn Any) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(64);
        match self {
            Self::Avro(codec) => return super::encode_framed(codec, id, value),
            Self::Plain(codec) => codec.encode(value, &mut out)?,
            Self::JsonSchema(codec) => {
                super::wire::write_header(&mut out, id);
                codec.json().encode(value, &mut out)?;
            }
            #[cfg(feature = "protobuf")]
            Self::Protobuf(codec) => {
                super::wire::write_header(&mut out, id);
                super::write_message_indexes(&mut out, codec.message_indexes());
                codec.encode_body(value, &mut out)?;
            }
        }
        Ok(out)
    }

    /// A text that identifies the part's contract, to compare two ports.
    pub(crate) fn identity(&self) -> String {
        match self {
            Self::Avro(codec) => codec.canonical().to_string(),
            Self::Plain(codec) => format!("{}:{}", codec.format(), codec.type_name()),
            Self::JsonSchema(codec) => format!("json_schema:{}", codec.schema_json()),
            #[cfg(feature = "protobuf")]
            Self::Protobuf(codec) => format!("protobuf:{}:{}", codec.full_name(), codec.schema_text()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Spend {
        cents: i64,
    }

    #[test]
    fn json_tells_malformed_text_from_another_shape() {
        let codec = json_codec::<Spend>();
        assert_eq!(
            codec.decode(b"{\"cents\":").err().map(|e| e.reason()),
            Some("malformed-json")
        );
        assert_eq!(
            codec.decode(b"{\"cents\":\"five\"}").err().map(|e| e.reason()),
            Some("type-mismatch")
        );
        assert!(matches!(
            codec.encode(&5_u32, &mut Vec::new()),
            Err(EncodeError::WrongType { .. })
        ));
    }

    #[test]
    fn a_codec_names_the_type_it_carries_not_its_own() {
        assert_eq!(Codec::Plain(string_codec()).type_id(), TypeId::of::<String>());
        assert_eq!(
            Codec::Plain(json_codec::<Spend>()).type_id(),
            TypeId::of::<Spend>()
        );
        assert_eq!(Codec::Plain(json_codec::<Spend>()).format(), Format::Json);
    }

    #[test]
    fn strings_round_trip_and_must_be_utf8() {
        let codec = string_codec();
        let mut out = Vec::new();
        codec.encode(&"ключ".to_string(), &mut out).expect("encodes");
        let back = codec.decode(&out).expect("decodes");
        assert_eq!(back.downcast_ref::<String>().map(String::as_str), Some("ключ"));
        assert_eq!(
            codec.decode(&[0x63, 0xc3]).err().map(|e| e.reason()),
            Some("malformed-string")
        );
        assert!(codec.encode(&5_i64, &mut Vec::new()).is_err());
    }
}
