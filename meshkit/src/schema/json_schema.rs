//! JSON Schema ports: JSON values framed as the Confluent wire format, their
//! schema (generated from the Rust type with `schemars`) in the registry as
//! `schemaType` `JSON`, as Confluent's JSON Schema serializers write them.

use std::sync::Arc;

use serde_json::Value;

use super::{DecodeError, PlainCodec};

/// What a JSON Schema part needs of its codec: the JSON codec of its type
/// and the schema registered for it.
///
/// Made with [`json_schema_codec`]; the runtime uses it, products rarely do.
#[derive(Debug)]
pub struct JsonSchemaCodec {
    json: Arc<dyn PlainCodec>,
    schema: String,
    title: String,
    /// The object's properties the type requires.
    required: Vec<String>,
}

impl JsonSchemaCodec {
    /// A codec of `json`'s type whose schema is `schema` (a JSON Schema
    /// document; its `title` names the subject under the record strategies).
    pub fn new(json: Arc<dyn PlainCodec>, schema: String) -> Self {
        let parsed: Value = serde_json::from_str(&schema).unwrap_or(Value::Null);
        let title = (parsed.get("title").and_then(Value::as_str))
            .map_or_else(|| short_name(json.type_name()), str::to_string);
        Self {
            required: names(&parsed, "required"),
            json,
            schema,
            title,
        }
    }

    /// The schema's text, as registered.
    pub fn schema_json(&self) -> &str {
        &self.schema
    }

    /// The schema's title (the type's name): the record name the subject
    /// name strategies use.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The JSON codec of the type.
    pub fn json(&self) -> &Arc<dyn PlainCodec> {
        &self.json
    }

    /// Whether records written with `writer` (a JSON Schema document) can
    /// be read as this type: a JSON object schema that declares every
    /// property the type requires. `Err` says which rule it breaks.
    pub(crate) fn can_read(&self, writer: &str) -> Result<(), String> {
        let writer: Value =
            serde_json::from_str(writer).map_err(|e| format!("the writer schema is not JSON: {e}"))?;
        let declared = writer.get("properties").and_then(Value::as_object);
        let Some(declared) = declared else {
            return if self.required.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "the writer schema declares no properties; `{}` requires {}",
                    self.title,
                    self.required.join(", ")
                ))
            };
        };
        let missing: Vec<&str> = (self.required.iter())
            .filter(|name| !declared.contains_key(name.as_str()))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the writer schema has no property {} that `{}` requires (give the reader a default instead)",
                missing.join(", "),
                self.title
            ))
        }
    }

    /// Decodes a JSON body.
    pub(crate) fn decode_body(&self, body: &[u8]) -> Result<super::Decoded, DecodeError> {
        self.json.decode(body)
    }
}

fn names(schema: &Value, field: &str) -> Vec<String> {
    (schema.get(field).and_then(Value::as_array))
        .map(|names| {
            names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn short_name(type_name: &str) -> String {
    let base = type_name.split('<').next().unwrap_or(type_name);
    base.rsplit("::").next().unwrap_or(base).to_string()
}

/// A Rust type that can travel on a JSON Schema port: serde both ways, with
/// a JSON Schema from `#[derive(schemars::JsonSchema)]`.
///
/// Implemented for every type that has the bounds; never implement it by hand.
#[cfg(feature = "json-schema")]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot travel on a JSON Schema port: it needs a JSON Schema and serde",
    label = "no JSON Schema",
    note = "derive `schemars::JsonSchema`, `serde::Serialize` and `serde::Deserialize` for it"
)]
pub trait JsonSchemaType: super::JsonType + schemars::JsonSchema {}

#[cfg(feature = "json-schema")]
impl<T: super::JsonType + schemars::JsonSchema> JsonSchemaType for T {}

/// The JSON Schema codec of `T`: its JSON codec, and the schema `schemars`
/// generates for it (draft 2020-12).
///
/// # Examples
///
/// ```
/// use meshkit::schema::json_schema_codec;
///
/// #[derive(schemars::JsonSchema, serde::Serialize, serde::Deserialize)]
/// struct Order {
///     id: i64,
///     customer: String,
/// }
///
/// let codec = json_schema_codec::<Order>();
/// assert_eq!(codec.title(), "Order");
/// assert!(codec.schema_json().contains(r#""customer""#));
/// ```
#[cfg(feature = "json-schema")]
pub fn json_schema_codec<T: JsonSchemaType>() -> Arc<JsonSchemaCodec> {
    let schema = schemars::schema_for!(T);
    let text = serde_json::to_string(&schema).unwrap_or_else(|_| "{}".to_string());
    Arc::new(JsonSchemaCodec::new(super::json_codec::<T>(), text))
}

#[cfg(all(test, feature = "json-schema"))]
mod tests {
    use super::*;

    #[derive(schemars::JsonSchema, serde::Serialize, serde::Deserialize)]
    struct Order {
        id: i64,
        customer: String,
        #[serde(default)]
        note: Option<String>,
    }

    #[test]
    fn the_schema_names_the_type_and_its_required_properties() {
        let codec = json_schema_codec::<Order>();
        assert_eq!(codec.title(), "Order");
        let schema: Value = serde_json::from_str(codec.schema_json()).expect("JSON");
        assert_eq!(schema["type"], "object");
        assert!(schema["properties"].get("note").is_some());
        let mut required = names(&schema, "required");
        required.sort();
        assert_eq!(required, ["customer", "id"]);
    }

    #[test]
    fn a_writer_must_declare_what_the_reader_requires() {
        let codec = json_schema_codec::<Order>();
        let full = r#"{"type":"object","properties":{"id":{"type":"integer"},"customer":{"type":"string"}}}"#;
        assert_eq!(codec.can_read(full), Ok(()));
        let partial = r#"{"type":"object","properties":{"id":{"type":"integer"}}}"#;
        let err = codec.can_read(partial).expect_err("customer missing");
        assert!(err.contains("no property customer"), "{err}");
        assert!(codec.can_read("{not json").is_err());
        assert!(codec
            .can_read(r#"{"type":"string"}"#)
            .expect_err("no properties")
            .contains("declares no properties"));
    }
}
