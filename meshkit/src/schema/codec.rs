//! Codecs between a port's Rust type and Avro: the fast path when the writer
//! schema is the reader's own, and schema resolution when it evolved.

use std::any::{Any, TypeId};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use apache_avro::reader::datum::{GenericDatumReader, SpecificDatumReader};
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::{AvroSchema, AvroSchemaComponent, Schema};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{DecodeError, EncodeError};

/// A Rust type that can travel on a port: serde both ways, with an Avro
/// schema (usually from `#[derive(AvroSchema)]`).
///
/// Implemented for every type that has the bounds; never implement it by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot travel on a port: it needs an Avro schema and serde",
    label = "no Avro schema",
    note = "derive `apache_avro::AvroSchema`, `serde::Serialize` and `serde::Deserialize` for it"
)]
pub trait AvroType: AvroSchemaComponent + Serialize + DeserializeOwned + Send + Sync + 'static {}

impl<T: AvroSchemaComponent + Serialize + DeserializeOwned + Send + Sync + 'static> AvroType for T {}

/// A decoded value, typed as the port's Rust type behind `dyn Any`.
pub type Decoded = Box<dyn Any + Send + Sync>;

/// The Avro codec of one Rust type, with its type erased so that a
/// descriptor can hold the codecs of ports of different types.
///
/// Made with [`codec_for`]; the runtime uses it, products rarely do.
pub trait ErasedCodec: Send + Sync + fmt::Debug {
    /// The type's schema: the reader schema on input ports, the writer
    /// schema on output ports.
    fn schema(&self) -> &Schema;
    /// The schema's JSON text, as registered.
    fn schema_json(&self) -> &str;
    /// The schema's parsing canonical form, to compare schemas.
    fn canonical(&self) -> &str;
    /// The Rust type's name, for messages.
    fn type_name(&self) -> &'static str;
    /// The Rust type's id, to check what a transform emits.
    fn type_id(&self) -> TypeId;
    /// Decodes `body`, written with this very schema, straight into the type
    /// (no intermediate value). Returns the value and the bytes left over.
    fn decode_direct(&self, body: &[u8]) -> Result<(Decoded, usize), DecodeError>;
    /// Decodes `body`, written with `writer`, resolved to this schema.
    fn decode_resolving(&self, writer: &Schema, body: &[u8]) -> Result<(Decoded, usize), DecodeError>;
    /// Encodes `value`, which must be of this type, appending to `out`.
    fn encode(&self, value: &dyn Any, out: &mut Vec<u8>) -> Result<(), EncodeError>;
}

/// The codec of `T`.
///
/// # Examples
///
/// ```
/// use apache_avro::AvroSchema;
/// use meshkit::schema::codec_for;
///
/// #[derive(AvroSchema, serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Order {
///     id: i64,
///     amount: f64,
/// }
///
/// let codec = codec_for::<Order>();
/// let mut bytes = Vec::new();
/// codec.encode(&Order { id: 1, amount: 2.5 }, &mut bytes)?;
/// let (decoded, rest) = codec.decode_direct(&bytes)?;
/// assert_eq!(rest, 0);
/// assert_eq!(decoded.downcast_ref::<Order>(), Some(&Order { id: 1, amount: 2.5 }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn codec_for<T: AvroType>() -> Arc<dyn ErasedCodec> {
    Arc::new(AvroCodec::<T>::new())
}

struct AvroCodec<T: AvroType> {
    schema: Schema,
    json: String,
    canonical: String,
    reader: Option<SpecificDatumReader<T>>,
    _type: PhantomData<fn() -> T>,
}

impl<T: AvroType> AvroCodec<T> {
    fn new() -> Self {
        let schema = T::get_schema();
        let canonical = schema.canonical_form();
        // Registered in full: the parsing canonical form would drop the
        // defaults, docs and logical types that compatibility depends on.
        let json = serde_json::to_string(&schema).unwrap_or_else(|_| canonical.clone());
        Self {
            reader: SpecificDatumReader::<T>::builder().build().ok(),
            schema,
            json,
            canonical,
            _type: PhantomData,
        }
    }
}

impl<T: AvroType> fmt::Debug for AvroCodec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AvroCodec")
            .field("type", &std::any::type_name::<T>())
            .field("schema", &self.canonical)
            .finish()
    }
}

impl<T: AvroType> ErasedCodec for AvroCodec<T> {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn schema_json(&self) -> &str {
        &self.json
    }

    fn canonical(&self) -> &str {
        &self.canonical
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn type_id(&self) -> TypeId {
        TypeId::of::<T>()
    }

    fn decode_direct(&self, body: &[u8]) -> Result<(Decoded, usize), DecodeError> {
        let mut rest = body;
        let value = match &self.reader {
            Some(reader) => reader.read(&mut rest),
            None => {
                return self.decode_resolving(&self.schema, body);
            }
        }
        .map_err(|e| DecodeError::Malformed {
            reason: error_text(&e),
        })?;
        Ok((Box::new(value), rest.len()))
    }

    fn decode_resolving(&self, writer: &Schema, body: &[u8]) -> Result<(Decoded, usize), DecodeError> {
        let reader = GenericDatumReader::builder(writer)
            .reader_schema(&self.schema)
            .build()
            .map_err(|e| DecodeError::Incompatible {
                reason: error_text(&e),
            })?;
        let mut rest = body;
        let value = reader.read_value(&mut rest).map_err(|e| DecodeError::Malformed {
            reason: error_text(&e),
        })?;
        let typed: T = apache_avro::from_value(&value).map_err(|e| DecodeError::TypeMismatch {
            type_name: std::any::type_name::<T>(),
            reason: error_text(&e),
        })?;
        Ok((Box::new(typed), rest.len()))
    }

    fn encode(&self, value: &dyn Any, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let value = value.downcast_ref::<T>().ok_or(EncodeError::WrongType {
            expected: std::any::type_name::<T>(),
        })?;
        GenericDatumWriter::builder(&self.schema)
            .build()
            .and_then(|writer| writer.write_ser(out, value))
            .map_err(|e| EncodeError::Avro {
                reason: error_text(&e),
            })?;
        Ok(())
    }
}

/// An apache-avro error with its source chain, on one line.
pub(crate) fn error_text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(AvroSchema, Serialize, serde::Deserialize, Debug, PartialEq)]
    struct V1 {
        id: i64,
        name: String,
    }

    #[derive(AvroSchema, Serialize, serde::Deserialize, Debug, PartialEq)]
    #[serde(rename = "V1")]
    struct V2 {
        id: i64,
        name: String,
        #[avro(default = "\"none\"")]
        #[serde(default = "none")]
        note: String,
    }

    fn none() -> String {
        "none".to_string()
    }

    #[test]
    fn direct_and_resolving_paths_agree() {
        let codec = codec_for::<V1>();
        let value = V1 {
            id: 7,
            name: "x".into(),
        };
        let mut bytes = Vec::new();
        codec.encode(&value, &mut bytes).unwrap();
        let (direct, rest) = codec.decode_direct(&bytes).unwrap();
        assert_eq!(rest, 0);
        let (resolved, _) = codec.decode_resolving(codec.schema(), &bytes).unwrap();
        assert_eq!(direct.downcast_ref::<V1>(), Some(&value));
        assert_eq!(resolved.downcast_ref::<V1>(), Some(&value));
    }

    #[test]
    fn a_v2_reader_reads_v1_data_with_the_default() {
        let v1 = codec_for::<V1>();
        let v2 = codec_for::<V2>();
        let mut bytes = Vec::new();
        v1.encode(
            &V1 {
                id: 1,
                name: "a".into(),
            },
            &mut bytes,
        )
        .unwrap();
        let (decoded, _) = v2.decode_resolving(v1.schema(), &bytes).unwrap();
        assert_eq!(
            decoded.downcast_ref::<V2>(),
            Some(&V2 {
                id: 1,
                name: "a".into(),
                note: "none".into()
            })
        );
        // And a v1 reader reads v2 data, skipping the new field.
        let mut bytes = Vec::new();
        v2.encode(
            &V2 {
                id: 2,
                name: "b".into(),
                note: "n".into(),
            },
            &mut bytes,
        )
        .unwrap();
        let (decoded, _) = v1.decode_resolving(v2.schema(), &bytes).unwrap();
        assert_eq!(
            decoded.downcast_ref::<V1>(),
            Some(&V1 {
                id: 2,
                name: "b".into()
            })
        );
    }

    #[test]
    fn garbage_and_wrong_types_are_errors_not_panics() {
        let codec = codec_for::<V1>();
        assert!(codec
            .decode_direct(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
            .is_err());
        assert!(codec.decode_resolving(codec.schema(), &[0x02]).is_err());
        assert!(matches!(
            codec.encode(&5_u32, &mut Vec::new()),
            Err(EncodeError::WrongType { .. })
        ));
    }
}
