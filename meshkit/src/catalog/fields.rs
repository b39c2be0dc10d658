//! A port schema's fields as a table: what the web catalog shows and what
//! catalog search matches field names against.
//!
//! The catalog carries each schema's text ([`SchemaRecord::schema`]); this
//! reads it without the schema libraries, leniently (a display, not a
//! validation): Avro records (nested records as `parent.child` rows, array
//! and map items as `parent[].child` and `parent{}.child`), JSON Schema
//! objects (`properties`, `required`, `description`, local `$ref`s) and
//! Protobuf messages (the `.proto` text's message named after the type). A
//! schema that is not a record (a `"string"` key) gives one row named after
//! its type; text that cannot be read gives one row named after the Rust
//! type, typed by the format.

use serde_json::{Map, Value};

use super::record::SchemaRecord;

/// How deep nested records are expanded; deeper ones show as one row.
const MAX_DEPTH: usize = 8;

/// One row of a schema's field table.
///
/// # Examples
///
/// ```
/// use meshkit::catalog::record::SchemaRecord;
///
/// let record = SchemaRecord {
///     format: "avro".into(),
///     type_name: "acme::Order".into(),
///     subject: None,
///     id: None,
///     version: None,
///     schema: r#"{"type":"record","name":"Order","fields":[
///         {"name":"id","type":"long","doc":"The order id"},
///         {"name":"note","type":["null","string"]}]}"#
///         .into(),
/// };
/// let fields = record.fields();
/// assert_eq!(fields[0].name, "id");
/// assert_eq!(fields[0].doc.as_deref(), Some("The order id"));
/// assert_eq!((fields[1].type_name.as_str(), fields[1].optional), ("string", true));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchemaField {
    /// The field's name; a nested record's fields are `parent.child`.
    pub name: String,
    /// Its type, readable: `long`, `array<string>`, a record's name.
    pub type_name: String,
    /// Its documentation, when the schema has some.
    pub doc: Option<String>,
    /// Whether it may be absent or null (a union with `null`, a JSON Schema
    /// property not `required`, a Protobuf `optional` or `oneof` member).
    pub optional: bool,
}

impl SchemaField {
    fn new(
        name: impl Into<String>,
        type_name: impl Into<String>,
        doc: Option<String>,
        optional: bool,
    ) -> Self {
        Self {
            name: name.into(),
            type_name: type_name.into(),
            doc,
            optional,
        }
    }
}

impl SchemaRecord {
    /// The schema's fields, in declaration order (see the [module
    /// docs](self) for what each format gives).
    pub fn fields(&self) -> Vec<SchemaField> {
        let parsed = match self.format.as_str() {
            "protobuf" => proto_fields(&self.schema, &self.type_name),
            "json_schema" | "json-schema" | "json" => {
                serde_json::from_str::<Value>(&self.schema).ok().map(|root| {
                    let mut out = Vec::new();
                    json_schema_root(&root, &mut out);
                    out
                })
            }
            _ => serde_json::from_str::<Value>(&self.schema).ok().map(|root| {
                let mut out = Vec::new();
                avro_root(&root, &mut out);
                out
            }),
        };
        match parsed {
            Some(fields) if !fields.is_empty() => fields,
            _ => vec![SchemaField::new(
                short_name(&self.type_name),
                self.format.clone(),
                None,
                false,
            )],
        }
    }
}

/// The last segment of a dotted or `::` path: a named type's short name.
fn short_name(name: &str) -> &str {
    let name = name.rsplit("::").next().unwrap_or(name);
    name.rsplit('.').next().unwrap_or(name)
}

fn doc_of(object: &Map<String, Value>, key: &str) -> Option<String> {
    object.get(key).and_then(Value::as_str).map(str::to_string)
}

// ---- Avro ----

fn avro_root(root: &Value, out: &mut Vec<SchemaField>) {
    match avro_record(root) {
        Some(record) => avro_record_fields("", record, false, 0, out),
        None => {
            let (type_name, optional) = avro_type(root);
            out.push(SchemaField::new(type_name.clone(), type_name, None, optional));
        }
    }
}

/// The record definition `schema` is, if it is one inline.
fn avro_record(schema: &Value) -> Option<&Map<String, Value>> {
    let object = schema.as_object()?;
    match object.get("type")? {
        Value::String(t) if t == "record" || t == "error" => Some(object),
        // `{"type": {"type": "record", ...}}`: a wrapped definition.
        nested @ Value::Object(_) => avro_record(nested),
        _ => None,
    }
}

fn avro_record_fields(
    prefix: &str,
    record: &Map<String, Value>,
    parent_optional: bool,
    depth: usize,
    out: &mut Vec<SchemaField>,
) {
    let Some(fields) = record.get("fields").and_then(Value::as_array) else {
        return;
    };
    for field in fields.iter().filter_map(Value::as_object) {
        let Some(name) = field.get("name").and_then(Value::as_str) else {
            continue;
        };
        let schema = field.get("type").unwrap_or(&Value::Null);
        let (type_name, optional) = avro_type(schema);
        let optional = optional || parent_optional;
        let path = format!("{prefix}{name}");
        out.push(SchemaField::new(
            path.clone(),
            type_name,
            doc_of(field, "doc"),
            optional,
        ));
        if depth >= MAX_DEPTH {
            continue;
        }
        // Inline nested records (directly, nullable, or as array items or
        // map values) get their own rows.
        let inner = non_null_branch(schema).unwrap_or(schema);
        let (suffix, nested) = match inner
            .as_object()
            .and_then(|o| o.get("type"))
            .and_then(Value::as_str)
        {
            Some("array") => ("[].", inner.get("items")),
            Some("map") => ("{}.", inner.get("values")),
            _ => (".", Some(inner)),
        };
        if let Some(nested) = nested
            .map(|n| non_null_branch(n).unwrap_or(n))
            .and_then(avro_record)
        {
            avro_record_fields(&format!("{path}{suffix}"), nested, optional, depth + 1, out);
        }
    }
}

/// The one non-null branch of a union with `null`.
fn non_null_branch(schema: &Value) -> Option<&Value> {
    let branches = schema.as_array()?;
    let mut others = branches.iter().filter(|b| b.as_str() != Some("null"));
    let one = others.next()?;
    others.next().is_none().then_some(one)
}

/// A readable name of Avro type `schema`, and whether it is nullable.
fn avro_type(schema: &Value) -> (String, bool) {
    match schema {
        Value::String(name) => (short_name(name).to_string(), false),
        Value::Array(branches) => {
            let others: Vec<&Value> = branches.iter().filter(|b| b.as_str() != Some("null")).collect();
            let optional = others.len() < branches.len();
            match others.as_slice() {
                [one] => (avro_type(one).0, optional),
                _ => {
                    let names: Vec<String> = others.iter().map(|b| avro_inner(b)).collect();
                    (format!("union<{}>", names.join(", ")), optional)
                }
            }
        }
        Value::Object(object) => {
            let base = match object.get("type") {
                Some(Value::String(t)) => match t.as_str() {
                    "record" | "error" | "enum" | "fixed" => object
                        .get("name")
                        .and_then(Value::as_str)
                        .map_or_else(|| t.clone(), |n| short_name(n).to_string()),
                    "array" => format!(
                        "array<{}>",
                        avro_inner(object.get("items").unwrap_or(&Value::Null))
                    ),
                    "map" => format!(
                        "map<{}>",
                        avro_inner(object.get("values").unwrap_or(&Value::Null))
                    ),
                    other => other.to_string(),
                },
                Some(nested) => return avro_type(nested),
                None => "unknown".to_string(),
            };
            match object.get("logicalType").and_then(Value::as_str) {
                Some(logical) => (format!("{base} ({logical})"), false),
                None => (base, false),
            }
        }
        _ => ("unknown".to_string(), false),
    }
}

/// A type inside another (array items, union branches): nullable as `T?`.
fn avro_inner(schema: &Value) -> String {
    match avro_type(schema) {
        (name, true) => format!("{name}?"),
        (name, false) => name,
    }
}

// ---- JSON Schema ----

fn json_schema_root(root: &Value, out: &mut Vec<SchemaField>) {
    let object = resolve(root, root, 0);
    if object.get("properties").is_some_and(Value::is_object) {
        json_schema_properties("", object, root, false, 0, out);
    } else {
        let (type_name, optional) = json_type(object);
        out.push(SchemaField::new(
            type_name.clone(),
            type_name,
            doc_of_value(object),
            optional,
        ));
    }
}

fn doc_of_value(schema: &Value) -> Option<String> {
    schema.as_object().and_then(|o| doc_of(o, "description"))
}

/// Follows local `$ref`s (`#/definitions/X`, `#/$defs/X`), a bounded number
/// of times (a recursive type stops there).
fn resolve<'a>(schema: &'a Value, root: &'a Value, depth: usize) -> &'a Value {
    let reference = schema.get("$ref").and_then(Value::as_str);
    match reference
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|p| root.pointer(p))
    {
        Some(target) if depth < MAX_DEPTH => resolve(target, root, depth + 1),
        _ => schema,
    }
}

fn json_schema_properties(
    prefix: &str,
    object: &Value,
    root: &Value,
    parent_optional: bool,
    depth: usize,
    out: &mut Vec<SchemaField>,
) {
    let Some(properties) = object.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, schema) in properties {
        let (type_name, nullable) = json_type(schema);
        let optional = parent_optional || nullable || !required.contains(&name.as_str());
        let path = format!("{prefix}{name}");
        let doc = doc_of_value(schema).or_else(|| doc_of_value(resolve(schema, root, 0)));
        out.push(SchemaField::new(path.clone(), type_name, doc, optional));
        if depth >= MAX_DEPTH {
            continue;
        }
        let inner = resolve(json_non_null(schema).unwrap_or(schema), root, 0);
        let (suffix, nested) = match inner.get("items") {
            Some(items) if json_types(inner).contains(&"array") => ("[].", resolve(items, root, 0)),
            _ => (".", inner),
        };
        if nested.get("properties").is_some_and(Value::is_object) {
            json_schema_properties(&format!("{path}{suffix}"), nested, root, optional, depth + 1, out);
        }
    }
}

/// The `type` keyword's names (a string or a list of them).
fn json_types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The one non-null branch of an `anyOf` / `oneOf` with `{"type": "null"}`.
fn json_non_null(schema: &Value) -> Option<&Value> {
    let branches = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)?;
    let mut others = branches.iter().filter(|b| json_types(b) != ["null"]);
    let one = others.next()?;
    others.next().is_none().then_some(one)
}

/// A readable name of JSON Schema `schema`, and whether it is nullable.
fn json_type(schema: &Value) -> (String, bool) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return (
            short_name(reference.rsplit('/').next().unwrap_or(reference)).to_string(),
            false,
        );
    }
    if let Some(branches) = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
    {
        let others: Vec<&Value> = branches.iter().filter(|b| json_types(b) != ["null"]).collect();
        let optional = others.len() < branches.len();
        return match others.as_slice() {
            [one] => (json_type(one).0, optional),
            _ => {
                let names: Vec<String> = others.iter().map(|b| json_type(b).0).collect();
                (format!("union<{}>", names.join(", ")), optional)
            }
        };
    }
    if let Some([one]) = schema.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
        return json_type(one);
    }
    let types = json_types(schema);
    let optional = types.contains(&"null");
    let names: Vec<String> = types
        .iter()
        .filter(|t| **t != "null")
        .map(|t| match *t {
            "array" => match schema.get("items") {
                Some(items) => format!("array<{}>", json_type(items).0),
                None => "array".to_string(),
            },
            "object" => schema
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or("object")
                .to_string(),
            other => match schema.get("format").and_then(Value::as_str) {
                Some(format) => format!("{other} ({format})"),
                None => other.to_string(),
            },
        })
        .collect();
    match names.as_slice() {
        [] if schema.get("enum").is_some() => ("enum".to_string(), optional),
        [] => ("any".to_string(), optional),
        [one] => (one.clone(), optional),
        _ => (format!("union<{}>", names.join(", ")), optional),
    }
}

// ---- Protobuf ----

/// The fields of the message named after `type_name` (or the first
/// message) in `.proto` text: direct fields and `oneof` members; nested
/// message and enum definitions are skipped.
fn proto_fields(text: &str, type_name: &str) -> Option<Vec<SchemaField>> {
    let text = strip_proto_comments(text);
    let wanted = short_name(type_name);
    let body = proto_message_body(&text, wanted).or_else(|| proto_message_body(&text, ""))?;
    let mut out = Vec::new();
    proto_block_fields(body, false, &mut out);
    Some(out)
}

fn strip_proto_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |i| &after[i..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |i| &after[i + 2..]);
            out.push(' ');
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The body (between the braces) of `message <name>`; any message when
/// `name` is empty.
fn proto_message_body<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let mut search = text;
    while let Some(at) = search.find("message") {
        let after = &search[at + "message".len()..];
        let boundary_before = search[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric() && c != '_');
        let header_end = after.find('{')?;
        let declared = after[..header_end].trim();
        if boundary_before && after.starts_with(char::is_whitespace) && (name.is_empty() || declared == name)
        {
            return block_body(&after[header_end..]);
        }
        search = after;
    }
    None
}

/// The text inside the brace block `text` starts with.
fn block_body(text: &str) -> Option<&str> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(&text[1..i]);
                }
            }
            _ => {}
        }
    }
    None
}

fn proto_block_fields(body: &str, in_oneof: bool, out: &mut Vec<SchemaField>) {
    let mut rest = body;
    loop {
        let rest_trimmed = rest.trim_start();
        if rest_trimmed.is_empty() {
            return;
        }
        let semicolon = rest_trimmed.find(';');
        let brace = rest_trimmed.find('{');
        match (semicolon, brace) {
            (_, Some(b)) if semicolon.is_none_or(|s| b < s) => {
                let header = rest_trimmed[..b].trim();
                let Some(inner) = block_body(&rest_trimmed[b..]) else {
                    return;
                };
                if header.starts_with("oneof") {
                    proto_block_fields(inner, true, out);
                }
                // `inner` is a subslice of `rest_trimmed` that ends just before the closing brace.
                rest = &rest_trimmed[b + 1 + inner.len() + 1..];
            }
            (Some(s), _) => {
                if let Some(field) = proto_field(&rest_trimmed[..s], in_oneof) {
                    out.push(field);
                }
                rest = &rest_trimmed[s + 1..];
            }
            (None, _) => return,
        }
    }
}

/// One field statement: `[label] type name = number [options]`.
fn proto_field(statement: &str, in_oneof: bool) -> Option<SchemaField> {
    let (declaration, _number) = statement.split_once('=')?;
    let declaration = declaration.trim();
    let first = declaration.split_whitespace().next()?;
    if matches!(
        first,
        "option" | "reserved" | "extensions" | "extend" | "syntax" | "package" | "import"
    ) {
        return None;
    }
    let name_at = declaration.rfind(char::is_whitespace)?;
    let name = declaration[name_at..].trim();
    let mut type_part = declaration[..name_at].trim();
    let mut optional = in_oneof;
    let mut repeated = false;
    if let Some(after) = type_part.strip_prefix("repeated ") {
        repeated = true;
        type_part = after.trim();
    } else if let Some(after) = type_part.strip_prefix("optional ") {
        optional = true;
        type_part = after.trim();
    } else if let Some(after) = type_part.strip_prefix("required ") {
        type_part = after.trim();
    }
    let type_name: String = if type_part.starts_with("map") {
        type_part.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        short_name(type_part).to_string()
    };
    let type_name = if repeated {
        format!("array<{type_name}>")
    } else {
        type_name
    };
    Some(SchemaField::new(name, type_name, None, optional))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(format: &str, text: &str, type_name: &str) -> SchemaRecord {
        SchemaRecord {
            format: format.into(),
            type_name: type_name.into(),
            subject: None,
            id: None,
            version: None,
            schema: text.into(),
        }
    }

    fn rows(fields: &[SchemaField]) -> Vec<(&str, &str, bool)> {
        fields
            .iter()
            .map(|f| (f.name.as_str(), f.type_name.as_str(), f.optional))
            .collect()
    }

    #[test]
    fn avro_records_give_readable_types_and_nested_rows() {
        let text = r#"{"type":"record","name":"Order","namespace":"com.acme","fields":[
            {"name":"id","type":"long","doc":"The order id"},
            {"name":"amount_cents","type":["null","long"]},
            {"name":"tags","type":{"type":"array","items":"string"}},
            {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
            {"name":"either","type":["null","int","string"]},
            {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"]}},
            {"name":"customer","type":["null",{"type":"record","name":"com.acme.Customer","fields":[
                {"name":"name","type":"string"}]}]},
            {"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[
                {"name":"sku","type":"string","doc":"Stock unit"}]}}},
            {"name":"prices","type":{"type":"map","values":["null","double"]}},
            {"name":"again","type":"com.acme.Customer"}
        ]}"#;
        let fields = schema("avro", text, "acme::Order").fields();
        assert_eq!(
            rows(&fields),
            vec![
                ("id", "long", false),
                ("amount_cents", "long", true),
                ("tags", "array<string>", false),
                ("at", "long (timestamp-millis)", false),
                ("either", "union<int, string>", true),
                ("kind", "Kind", false),
                ("customer", "Customer", true),
                ("customer.name", "string", true),
                ("lines", "array<Line>", false),
                ("lines[].sku", "string", false),
                ("prices", "map<double?>", false),
                ("again", "Customer", false),
            ]
        );
        assert_eq!(fields[0].doc.as_deref(), Some("The order id"));
        assert_eq!(fields[9].doc.as_deref(), Some("Stock unit"));
        assert_eq!(fields[1].doc, None);
    }

    #[test]
    fn a_non_record_schema_is_one_row_named_after_its_type() {
        assert_eq!(
            rows(&schema("avro", r#""string""#, "String").fields()),
            vec![("string", "string", false)]
        );
        assert_eq!(
            rows(&schema("avro", r#"{"type":"array","items":"long"}"#, "Vec<i64>").fields()),
            vec![("array<long>", "array<long>", false)]
        );
    }

    #[test]
    fn unreadable_text_is_one_row_named_after_the_rust_type() {
        assert_eq!(
            rows(&schema("avro", "{not json", "acme::Order").fields()),
            vec![("Order", "avro", false)]
        );
    }

    #[test]
    fn json_schema_properties_required_and_refs() {
        let text = r##"{
            "title": "Order", "type": "object",
            "required": ["id", "customer"],
            "properties": {
                "id": {"type": "integer", "format": "int64", "description": "The order id"},
                "note": {"type": ["string", "null"]},
                "customer": {"$ref": "#/definitions/Customer"},
                "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}},
                "maybe": {"anyOf": [{"$ref": "#/definitions/Customer"}, {"type": "null"}]}
            },
            "definitions": {"Customer": {"type": "object", "description": "Who ordered",
                "required": ["name"], "properties": {"name": {"type": "string"}}}},
            "$defs": {"Line": {"type": "object", "properties": {"sku": {"type": "string"}}}}
        }"##;
        let fields = schema("json_schema", text, "acme::Order").fields();
        // serde_json keeps object keys sorted (no `preserve_order`).
        assert_eq!(
            rows(&fields),
            vec![
                ("customer", "Customer", false),
                ("customer.name", "string", false),
                ("id", "integer (int64)", false),
                ("lines", "array<Line>", true),
                ("lines[].sku", "string", true),
                ("maybe", "Customer", true),
                ("maybe.name", "string", true),
                ("note", "string", true),
            ]
        );
        assert_eq!(fields[0].doc.as_deref(), Some("Who ordered"));
        assert_eq!(fields[2].doc.as_deref(), Some("The order id"));
    }

    #[test]
    fn a_recursive_json_schema_stops() {
        let text = r##"{"$ref": "#/definitions/Node", "definitions": {"Node": {"type": "object",
            "properties": {"next": {"$ref": "#/definitions/Node"}}}}}"##;
        let fields = schema("json_schema", text, "Node").fields();
        assert_eq!(fields[0].name, "next");
        assert!(fields.len() <= MAX_DEPTH + 2, "bounded: {}", fields.len());
    }

    #[test]
    fn protobuf_messages_give_their_fields() {
        let text = r#"
            syntax = "proto3";
            package acme.v1;
            // The customer.
            message Customer { string name = 1; }
            message Order {
              option deprecated = false;
              int64 id = 1; // the id
              optional string note = 2;
              repeated string tags = 3 [packed = true];
              map<string, int64> prices = 4;
              acme.v1.Customer customer = 5;
              message Inner { int32 x = 1; }
              enum Kind { A = 0; B = 1; }
              oneof payment { string card = 6; string iban = 7; }
              /* reserved */ reserved 9;
            }
        "#;
        let fields = schema("protobuf", text, "acme.v1.Order").fields();
        assert_eq!(
            rows(&fields),
            vec![
                ("id", "int64", false),
                ("note", "string", true),
                ("tags", "array<string>", false),
                ("prices", "map<string, int64>", false),
                ("customer", "Customer", false),
                ("card", "string", true),
                ("iban", "string", true),
            ]
        );
        let first = schema("protobuf", text, "Unknown").fields();
        assert_eq!(rows(&first), vec![("name", "string", false)], "the first message");
    }
}
