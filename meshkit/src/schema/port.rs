//! What a typed port carries: the types of its values and keys, and the
//! format each travels in.

use std::fmt;

use serde::{Serialize, Serializer};

use super::{codec_for, json_codec, string_codec, AvroType, Codec, JsonType};

/// What a port carries: the type of its values and, for a keyed port, of its
/// keys, each with its [`Format`](super::Format).
///
/// # Examples
///
/// ```
/// use apache_avro::AvroSchema;
/// use meshkit::schema::{Format, PortSchema};
///
/// #[derive(AvroSchema, serde::Serialize, serde::Deserialize)]
/// struct Order {
///     id: i64,
/// }
///
/// // Avro values, keys as plain UTF-8 strings.
/// let schema = PortSchema::value::<Order>().with_string_key();
/// assert_eq!(schema.key_codec().map(|k| k.format()), Some(Format::String));
/// let avro = schema.value_codec().avro().expect("an Avro value");
/// assert!(avro.schema_json().contains(r#""name":"Order""#));
///
/// // JSON values and JSON keys, no registry.
/// let json = PortSchema::json::<Order>().with_json_key::<(String, u32)>();
/// assert_eq!(json.value_codec().format(), Format::Json);
/// assert!(!json.uses_registry());
/// ```
#[derive(Clone)]
pub struct PortSchema {
    value: Codec,
    key: Option<Codec>,
}

impl PortSchema {
    /// A port whose values are Avro `V`s in the Confluent wire format, with
    /// keys left as bytes.
    pub fn value<V: AvroType>() -> Self {
        Self {
            value: Codec::Avro(codec_for::<V>()),
            key: None,
        }
    }

    /// The same as [`value`](Self::value), named for its format.
    pub fn avro<V: AvroType>() -> Self {
        Self::value::<V>()
    }

    /// A port whose values are `V`s as JSON text, with no registry.
    pub fn json<V: JsonType>() -> Self {
        Self {
            value: Codec::Plain(json_codec::<V>()),
            key: None,
        }
    }

    /// A port whose values are `V`s as JSON in the Confluent wire format,
    /// with `V`'s JSON Schema in the registry (as Confluent's JSON Schema
    /// serializers write them).
    #[cfg(feature = "json-schema")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json-schema")))]
    pub fn json_schema<V: super::JsonSchemaType>() -> Self {
        Self {
            value: Codec::JsonSchema(super::json_schema_codec::<V>()),
            key: None,
        }
    }

    /// Makes the port keyed by `K`s as JSON Schema values in the wire format.
    #[cfg(feature = "json-schema")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json-schema")))]
    #[must_use]
    pub fn with_json_schema_key<K: super::JsonSchemaType>(mut self) -> Self {
        self.key = Some(Codec::JsonSchema(super::json_schema_codec::<K>()));
        self
    }

    /// A port whose values are Protobuf `V` messages in the Confluent wire
    /// format, with `V`'s file descriptor in the registry (as Confluent's
    /// Protobuf serializers write them).
    #[cfg(feature = "protobuf")]
    #[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
    pub fn protobuf<V: super::ProtobufType>() -> Self {
        Self {
            value: Codec::Protobuf(super::protobuf_codec::<V>()),
            key: None,
        }
    }

    /// Makes the port keyed by Protobuf `K` messages in the wire format.
    #[cfg(feature = "protobuf")]
    #[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
    #[must_use]
    pub fn with_protobuf_key<K: super::ProtobufType>(mut self) -> Self {
        self.key = Some(Codec::Protobuf(super::protobuf_codec::<K>()));
        self
    }

    /// Makes the port keyed by Avro `K`s in the wire format; a record
    /// without a key is a dead letter.
    #[must_use]
    pub fn with_key<K: AvroType>(mut self) -> Self {
        self.key = Some(Codec::Avro(codec_for::<K>()));
        self
    }

    /// Makes the port keyed by `String`s written as plain UTF-8.
    #[must_use]
    pub fn with_string_key(mut self) -> Self {
        self.key = Some(Codec::Plain(string_codec()));
        self
    }

    /// Makes the port keyed by `K`s as JSON text.
    #[must_use]
    pub fn with_json_key<K: JsonType>(mut self) -> Self {
        self.key = Some(Codec::Plain(json_codec::<K>()));
        self
    }

    /// The values' codec.
    pub fn value_codec(&self) -> &Codec {
        &self.value
    }

    /// The keys' codec, on a keyed port.
    pub fn key_codec(&self) -> Option<&Codec> {
        self.key.as_ref()
    }

    /// Whether any part is checked against the registry (Avro, JSON Schema
    /// or Protobuf).
    pub fn uses_registry(&self) -> bool {
        self.value.format().uses_registry() || self.key.as_ref().is_some_and(|k| k.format().uses_registry())
    }
}

impl fmt::Debug for PortSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortSchema")
            .field("value", &(self.value.format(), self.value.type_name()))
            .field("key", &self.key.as_ref().map(|k| (k.format(), k.type_name())))
            .finish()
    }
}

impl PartialEq for PortSchema {
    fn eq(&self, other: &Self) -> bool {
        self.value.identity() == other.value.identity()
            && self.key.as_ref().map(Codec::identity) == other.key.as_ref().map(Codec::identity)
    }
}

impl Eq for PortSchema {}

impl Serialize for PortSchema {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// A part in the registry shows its schema (a Protobuf one the
        /// message's full name, its file being binary); a plain one its
        /// Rust type.
        fn shown(codec: &Codec) -> &str {
            match codec {
                Codec::Avro(avro) => avro.schema_json(),
                Codec::JsonSchema(json) => json.schema_json(),
                #[cfg(feature = "protobuf")]
                Codec::Protobuf(proto) => proto.full_name(),
                _ => codec.type_name(),
            }
        }
        #[derive(Serialize)]
        struct Shown<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            value: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            key: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            key_type: Option<&'static str>,
        }
        Shown {
            kind: self.value.format().name(),
            value: shown(&self.value),
            key: self.key.as_ref().map(shown),
            key_type: self.key.as_ref().map(|k| k.format().name()),
        }
        .serialize(serializer)
    }
}
