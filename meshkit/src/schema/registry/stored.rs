//! [`StoredSchema`]: a schema as the embedded registry keeps it (its
//! definition, its identity, and for Avro the parsed form), and the Avro
//! helpers the compatibility checks use.
//!
//! Identity decides whether two registrations are the same schema (and so
//! get the same id):
//! - Avro without references: the JSON of the parsed schema (whitespace,
//!   attribute order and `{"type":"string"}` vs `"string"` do not matter;
//!   `doc`, `default`, `aliases`, `logicalType` and custom attributes do).
//!   This is what Confluent compares. The Avro *parsing canonical form* is
//!   deliberately not used: it strips `default` and `logicalType`, so
//!   registering a version that only adds a default would silently return
//!   the old version.
//! - Avro with references and JSON Schema: the text's JSON re-serialized
//!   (whitespace does not matter), plus the type and the references. Avro
//!   with references is not identified by its parsed form because parsing
//!   needs the referenced versions, and a replay of a compacted log may meet
//!   a schema before the versions it refers to.
//! - Protobuf: the text (`.proto` source or a base64 file descriptor)
//!   without leading and trailing whitespace, plus the references; with the
//!   `protobuf` feature it must parse.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use apache_avro::schema::{ArraySchema, MapSchema, UnionSchema};
use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};
use apache_avro::Schema;

use super::error::RegistryError;
use super::model::{SchemaDefinition, SchemaType};

/// A schema with its identity and, for Avro without references, its parsed form.
#[derive(Debug, Clone)]
pub(crate) struct StoredSchema {
    /// What was registered.
    pub(crate) definition: SchemaDefinition,
    /// What two schemas are compared by (see the module docs).
    pub(crate) identity: String,
    /// The parsed schema, for Avro without references (those with references
    /// are parsed when needed, against the versions they name).
    pub(crate) avro: Option<Schema>,
}

impl StoredSchema {
    /// Checks `definition` as far as it can be checked alone and computes its
    /// identity; [`RegistryError::InvalidSchema`] when it is not valid.
    pub(crate) fn new(definition: SchemaDefinition) -> Result<Self, RegistryError> {
        if definition.schema.trim().is_empty() {
            return Err(invalid("empty schema"));
        }
        let (identity, avro) = match definition.schema_type {
            SchemaType::Avro if definition.references.is_empty() => {
                let schema = parse_avro(&definition.schema, &[])?;
                (avro_identity(&schema), Some(schema))
            }
            SchemaType::Avro | SchemaType::Json => (json_identity(&definition)?, None),
            SchemaType::Protobuf => {
                #[cfg(feature = "protobuf")]
                crate::schema::parse_proto_schema(&definition.schema).map_err(|e| invalid(e.to_string()))?;
                (tagged_identity(&definition, definition.schema.trim()), None)
            }
        };
        Ok(Self {
            definition,
            identity,
            avro,
        })
    }

    /// The parsed Avro schema: the one kept, or `referenced` (the texts of
    /// the referenced schemas, dependencies first) parsed with the text and
    /// inlined. `None` for other types.
    pub(crate) fn avro_with(&self, referenced: &[String]) -> Result<Option<Cow<'_, Schema>>, RegistryError> {
        if self.definition.schema_type != SchemaType::Avro {
            return Ok(None);
        }
        if let Some(schema) = &self.avro {
            return Ok(Some(Cow::Borrowed(schema)));
        }
        parse_avro(&self.definition.schema, referenced).map(|s| Some(Cow::Owned(s)))
    }
}

fn invalid(reason: impl Into<String>) -> RegistryError {
    RegistryError::InvalidSchema {
        reason: reason.into(),
    }
}

fn avro_identity(schema: &Schema) -> String {
    serde_json::to_string(schema).unwrap_or_else(|_| schema.canonical_form())
}

/// The type, the normalised text and the references, for types identified by text.
fn tagged_identity(definition: &SchemaDefinition, text: &str) -> String {
    let references = serde_json::to_string(&definition.references).unwrap_or_default();
    format!("{}\n{text}\n{references}", definition.schema_type)
}

fn json_identity(definition: &SchemaDefinition) -> Result<String, RegistryError> {
    let value: serde_json::Value = serde_json::from_str(&definition.schema)
        .map_err(|e| invalid(format!("not JSON: {}", one_line(&e.to_string()))))?;
    Ok(tagged_identity(definition, &value.to_string()))
}

/// Parses Avro `text`; the named types of `referenced` (dependencies first)
/// may be used by it, and are inlined where it first uses them so that the
/// compatibility checks see their fields.
pub(crate) fn parse_avro(text: &str, referenced: &[String]) -> Result<Schema, RegistryError> {
    let invalid_avro = |e: apache_avro::Error| invalid(one_line(&e.to_string()));
    if referenced.is_empty() {
        return Schema::parse_str(text).map_err(invalid_avro);
    }
    let (schema, named) = Schema::parse_str_with_list(text, referenced).map_err(invalid_avro)?;
    let named: HashMap<String, Schema> = named
        .into_iter()
        .filter_map(|s| s.name().map(|n| (n.fullname(None), s.clone())))
        .collect();
    inline(&schema, &named, &mut HashSet::new())
}

/// `schema` with each referenced named type replaced by its definition where
/// it is first used (later uses stay references to it, as Avro requires).
fn inline(
    schema: &Schema,
    named: &HashMap<String, Schema>,
    defined: &mut HashSet<String>,
) -> Result<Schema, RegistryError> {
    // A definition (not a use) of a named type: later uses must stay references.
    if let (false, Some(name)) = (matches!(schema, Schema::Ref { .. }), schema.name()) {
        defined.insert(name.fullname(None));
    }
    Ok(match schema {
        Schema::Ref { name } => {
            let full = name.fullname(None);
            match named.get(&full) {
                Some(definition) if !defined.contains(&full) => inline(definition, named, defined)?,
                _ => schema.clone(),
            }
        }
        Schema::Array(array) => Schema::Array(ArraySchema {
            items: Box::new(inline(&array.items, named, defined)?),
            attributes: array.attributes.clone(),
        }),
        Schema::Map(map) => Schema::Map(MapSchema {
            types: Box::new(inline(&map.types, named, defined)?),
            attributes: map.attributes.clone(),
        }),
        Schema::Union(union) => {
            let variants = union
                .variants()
                .iter()
                .map(|v| inline(v, named, defined))
                .collect::<Result<Vec<_>, _>>()?;
            Schema::Union(UnionSchema::new(variants).map_err(|e| invalid(one_line(&e.to_string())))?)
        }
        Schema::Record(record) => {
            let mut record = record.clone();
            for field in &mut record.fields {
                field.schema = inline(&field.schema, named, defined)?;
            }
            Schema::Record(record)
        }
        other => other.clone(),
    })
}

/// Collapses whitespace (apache-avro puts `Debug` dumps in some messages)
/// and caps the length.
pub(crate) fn one_line(text: &str) -> String {
    const MAX: usize = 2000;
    let mut out = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.len() > MAX {
        let mut cut = MAX;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// apache-avro's compatibility error with its causes (which name the field).
fn compatibility_error_text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    one_line(&text)
}

/// Why `reader` cannot read data written with `writer`, or `None` if it can.
pub(crate) fn cannot_read(writer: &Schema, reader: &Schema) -> Option<String> {
    match SchemaCompatibility::can_read(writer, reader) {
        Ok(Compatibility::Full) => None,
        // Confluent rejects what Avro calls partial compatibility: the writer
        // may write a union branch or enum symbol the reader does not know.
        Ok(Compatibility::Partial) => Some(
            "Incompatible schemata! The reader can read only part of what the writer may write \
             (a union branch or enum symbol of the writer is missing in the reader, which has no default)"
                .to_string(),
        ),
        Err(e) => Some(compatibility_error_text(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::registry::SchemaReference;

    const CUSTOMER: &str =
        r#"{"type":"record","name":"Customer","namespace":"shop","fields":[{"name":"id","type":"long"}]}"#;
    const ORDER: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"buyer","type":"Customer"},{"name":"seller","type":"shop.Customer"}]}"#;

    #[test]
    fn references_are_resolved_and_inlined_once() {
        assert!(parse_avro(ORDER, &[]).is_err(), "Customer is unknown alone");
        let schema = parse_avro(ORDER, &[CUSTOMER.to_string()]).unwrap();
        let Schema::Record(order) = &schema else {
            panic!("not a record: {schema:?}")
        };
        assert!(
            matches!(&order.fields[0].schema, Schema::Record(c) if c.fields[0].name == "id"),
            "{:?}",
            order.fields[0].schema
        );
        assert!(
            matches!(&order.fields[1].schema, Schema::Ref { name } if name.name() == "Customer"),
            "the second use stays a reference: {:?}",
            order.fields[1].schema
        );
        // The inlined form is a valid schema on its own.
        let text = serde_json::to_string(&schema).unwrap();
        assert!(Schema::parse_str(&text).is_ok(), "{text}");
    }

    #[test]
    fn identities_follow_type_text_and_references() {
        let plain = StoredSchema::new(SchemaDefinition::avro(r#"{"type":"string"}"#)).unwrap();
        assert_eq!(
            plain.identity,
            StoredSchema::new(SchemaDefinition::avro(r#""string""#))
                .unwrap()
                .identity
        );
        let with_ref = |version| {
            StoredSchema::new(
                SchemaDefinition::avro(ORDER).with_references(vec![SchemaReference::new(
                    "shop.Customer",
                    "c",
                    version,
                )]),
            )
            .unwrap()
        };
        assert!(
            with_ref(1).avro.is_none(),
            "parsed only against the referenced versions"
        );
        assert_eq!(with_ref(1).identity, with_ref(1).identity);
        assert_ne!(with_ref(1).identity, with_ref(2).identity);
        let json = |text: &str| StoredSchema::new(SchemaDefinition::new(SchemaType::Json, text)).unwrap();
        assert_eq!(
            json(r#"{"type": "object"}"#).identity,
            json(r#"{"type":"object"}"#).identity
        );
        assert!(StoredSchema::new(SchemaDefinition::new(SchemaType::Json, "{not json")).is_err());
        let proto = StoredSchema::new(SchemaDefinition::new(
            SchemaType::Protobuf,
            "syntax = \"proto3\";\n",
        ))
        .unwrap();
        assert_ne!(proto.identity, json(r#"{"type":"object"}"#).identity);
        assert!(StoredSchema::new(SchemaDefinition::new(SchemaType::Protobuf, "  ")).is_err());
    }
}
