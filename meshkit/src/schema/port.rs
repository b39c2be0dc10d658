//! What a typed port carries: the Avro types of its values and keys.

use std::any::TypeId;
use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};

use super::{codec_for, AvroType, ErasedCodec};

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
