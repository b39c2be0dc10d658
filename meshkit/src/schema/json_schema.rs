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
    /// The schema, parsed.
    parsed: Value,
}

impl JsonSchemaCodec {
    /// A codec of `json`'s type whose schema is `schema` (a JSON Schema
    /// document; its `title` names the subject under the record strategies).
    pub fn new(json: Arc<dyn PlainCodec>, schema: String) -> Self {
        let parsed: Value = serde_json::from_str(&schema).unwrap_or(Value::Null);
        let title = (parsed.get("title").and_then(Value::as_str))
            .map_or_else(|| short_name(json.type_name()), str::to_string);
        Self {
            parsed,
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
    /// be read as this type: see [`json_cannot_read`]. `Err` says which
    /// rule it breaks.
    pub(crate) fn can_read(&self, writer: &str) -> Result<(), String> {
        let writer: Value =
            serde_json::from_str(writer).map_err(|e| format!("the writer schema is not JSON: {e}"))?;
        match json_cannot_read(&writer, &self.parsed) {
            None => Ok(()),
            Some(why) => Err(format!("`{}`: {why}", self.title)),
        }
    }

    /// Decodes a JSON body.
    pub(crate) fn decode_body(&self, body: &[u8]) -> Result<super::Decoded, DecodeError> {
        self.json.decode(body)
    }
}

/// Why a reader with JSON Schema `reader` cannot read what a writer with
/// `writer` writes: a property the reader requires that the writer does not
/// declare, or a property both declare with types that do not meet (the
/// reader's `number` reads the writer's `integer`). `None` when it can. The
/// rule of the start-up gate and of the registry's compatibility levels.
pub(crate) fn json_cannot_read(writer: &Value, reader: &Value) -> Option<String> {
    let required = names(reader, "required");
    let declared = writer.get("properties").and_then(Value::as_object);
    let mut broken = Vec::new();
    if let Some(why) = type_cannot_read(writer, reader) {
        broken.push(format!("the schema {why}"));
    }
    let missing: Vec<&str> = (required.iter())
        .filter(|name| !declared.is_some_and(|d| d.contains_key(name.as_str())))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        broken.push(format!(
            "the writer schema has no property {} that the reader requires (give the reader a default instead)",
            missing.join(", ")
        ));
    }
    let ours = reader.get("properties").and_then(Value::as_object);
    for (name, theirs) in declared.into_iter().flatten() {
        let Some(mine) = ours.and_then(|o| o.get(name)) else {
            continue;
        };
        if let Some(why) = type_cannot_read(theirs, mine) {
            broken.push(format!("property {name} {why}"));
        }
    }
    (!broken.is_empty()).then(|| broken.join("; "))
}

/// Why a value of schema `writer` is not of a type schema `reader` allows
/// (where both say a `type`).
fn type_cannot_read(writer: &Value, reader: &Value) -> Option<String> {
    let (written, read) = (types(writer), types(reader));
    if written.is_empty() || read.is_empty() {
        return None;
    }
    let readable = |t: &str| read.contains(&t) || (t == "integer" && read.contains(&"number"));
    (!written.iter().all(|t| readable(t))).then(|| {
        format!(
            "is {} in the writer schema and {} in the reader's",
            written.join(" or "),
            read.join(" or ")
        )
    })
}

/// A property schema's `type`, one or several.
fn types(property: &Value) -> Vec<&str> {
    match property.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
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
            .contains("no property"));
    }

    #[test]
    fn a_property_must_keep_a_type_the_reader_reads() {
        let writer: Value =
            serde_json::json!({"properties": {"n": {"type": "integer"}, "s": {"type": "string"}}});
        let widened: Value =
            serde_json::json!({"properties": {"n": {"type": "number"}, "s": {"type": ["string", "null"]}}});
        assert_eq!(json_cannot_read(&writer, &widened), None);
        let narrowed: Value =
            serde_json::json!({"properties": {"n": {"type": "string"}}, "required": ["n", "x"]});
        let why = json_cannot_read(&writer, &narrowed).expect("two rules broken");
        assert!(
            why.contains("no property x") && why.contains("property n is integer"),
            "{why}"
        );
        // The reverse of a widening is a narrowing.
        assert!(json_cannot_read(&widened, &writer).is_some());
    }
}
