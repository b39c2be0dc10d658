//! One output port's contract as an
//! [Open Data Contract Standard](https://bitol-io.github.io/open-data-contract-standard/)
//! v3 document (`apiVersion: v3.0.2`, `kind: DataContract`), in YAML.
//!
//! Built from a [`CatalogRecord`] alone (it carries each port's Avro schema
//! text, subject, id and version), so `meshkit contract export` needs only
//! the catalog topic.
//!
//! | ODCS | from |
//! |---|---|
//! | `id` | `domain/name/port` (the ODPS output port's `contractId`) |
//! | `name`, `dataProduct`, `domain`, `version`, `tags` | the product |
//! | `status` | `active` |
//! | `description.purpose` / `.usage` | the description / topic and wire format |
//! | `team` | the owner, role `owner` |
//! | `servers` | one `type: kafka` server, `host` = bootstrap servers, `format: avro` |
//! | `schema[0]` | the value: `physicalName` = topic, `physicalType: topic`, `logicalType: object` |
//! | `schema[1]` | on a keyed port, the key (`physicalType: key`) |
//! | `slaProperties` | freshness SLO as `latency` (ms) |
//!
//! Avro types map to ODCS logical types: `int`/`long` → `integer`,
//! `float`/`double` → `number`, `string` → `string`, `boolean` → `boolean`,
//! `record` → `object` with nested `properties`, `array` → `array` with
//! `items`, `map` → `object`, `enum` → `string` with the symbols in custom
//! property `enumValues` (ODCS v3.0.x has no `enum` keyword; v3.2.0 adds one),
//! `bytes` / `fixed` → `string` (format `binary`), `uuid` → `string` (format
//! `uuid`), `date` / timestamps / times → `date` with a format, `decimal` →
//! `number`. `physicalType` is always the Avro type. A union with `null`
//! maps to its other branch with `required: false`; other unions keep
//! `physicalType: union<…>` without a logical type.

use std::collections::{BTreeMap, HashSet};

use apache_avro::schema::{Name, RecordField, UnionSchema};
use apache_avro::Schema;
use serde::{Deserialize, Serialize};

use super::record::{CatalogRecord, PortRecord, SchemaRecord};
use super::Timestamp;

/// The ODCS version emitted.
pub const ODCS_API_VERSION: &str = "v3.0.2";

/// Why a contract could not be exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContractError {
    /// The product has no output port of that name.
    #[error("product `{product}` has no output port `{port}`; its output ports: {}", available.join(", "))]
    UnknownPort {
        /// The product, `domain/name`.
        product: String,
        /// The port asked for.
        port: String,
        /// Its output ports.
        available: Vec<String>,
    },
    /// The port carries raw bytes: there is no schema to contract on.
    #[error("output port `{port}` of `{product}` carries raw bytes, with no schema to export")]
    NoSchema {
        /// The product.
        product: String,
        /// The port.
        port: String,
    },
    /// The port's schema text is not valid Avro.
    #[error("the {part} schema of output port `{port}` is not valid Avro: {reason}")]
    InvalidAvro {
        /// The port.
        port: String,
        /// `key` or `value`.
        part: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// The document could not be written or read as YAML.
    #[error("contract YAML")]
    Yaml {
        /// The YAML library's error.
        #[source]
        source: serde_norway::Error,
    },
}

/// Options for [`export_contract`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContractOptions {
    /// The Kafka host for `servers[].host`; defaults to the record's
    /// bootstrap servers. Without either, `servers` is left out.
    pub kafka_host: Option<String>,
    /// `contractCreatedTs`; defaults to the record's `updated_at`.
    pub created_at: Option<Timestamp>,
}

impl ContractOptions {
    /// Sets the Kafka host for `servers[].host`.
    #[must_use]
    pub fn with_kafka_host(mut self, host: impl Into<String>) -> Self {
        self.kafka_host = Some(host.into());
        self
    }

    /// Sets `contractCreatedTs`.
    #[must_use]
    pub fn with_created_at(mut self, at: Timestamp) -> Self {
        self.created_at = Some(at);
        self
    }
}

/// An ODCS v3 data contract (the subset meshkit fills).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataContract {
    /// `v3.0.2`.
    pub api_version: String,
    /// `DataContract`.
    pub kind: String,
    /// `domain/name/port`.
    pub id: String,
    /// `name.port`.
    #[serde(default)]
    pub name: String,
    /// The product's version.
    pub version: String,
    /// `active`.
    pub status: String,
    /// The product's domain.
    #[serde(default)]
    pub domain: String,
    /// The product's name.
    #[serde(default)]
    pub data_product: String,
    /// Purpose and usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<ContractDescription>,
    /// The product's tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The value object and, on a keyed port, the key object.
    #[serde(default)]
    pub schema: Vec<SchemaObject>,
    /// Where the data is: one Kafka server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<Server>,
    /// The owner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub team: Vec<TeamMember>,
    /// The freshness SLO.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sla_properties: Vec<SlaProperty>,
    /// When the contract was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_created_ts: Option<Timestamp>,
}

impl DataContract {
    /// The contract as YAML.
    ///
    /// # Errors
    ///
    /// [`ContractError::Yaml`] if serialization fails.
    pub fn to_yaml(&self) -> Result<String, ContractError> {
        let mut yaml = serde_norway::to_string(self).map_err(|source| ContractError::Yaml { source })?;
        // serde_norway leaves an RFC 3339 text unquoted (a plain string in
        // YAML 1.2), but YAML 1.1 readers (PyYAML, so most data-contract
        // tooling) would read a datetime, which the ODCS JSON schema rejects
        // as not a string. Quote it.
        if let Some(ts) = self.contract_created_ts {
            yaml = yaml.replacen(
                &format!("\ncontractCreatedTs: {ts}\n"),
                &format!("\ncontractCreatedTs: '{ts}'\n"),
                1,
            );
        }
        Ok(yaml)
    }

    /// Reads a contract from YAML.
    ///
    /// # Errors
    ///
    /// [`ContractError::Yaml`] if it is not YAML of this shape.
    pub fn from_yaml(yaml: &str) -> Result<Self, ContractError> {
        serde_norway::from_str(yaml).map_err(|source| ContractError::Yaml { source })
    }
}

/// ODCS `description`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractDescription {
    /// Why the data exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// How to consume it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
}

/// ODCS `servers[]`, for Kafka.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    /// The server's identifier.
    pub server: String,
    /// `kafka`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Bootstrap servers.
    pub host: String,
    /// `avro`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// ODCS `team[]` member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMember {
    /// The owner (team or person).
    pub username: String,
    /// `owner`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// ODCS `slaProperties[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaProperty {
    /// e.g. `latency`.
    pub property: String,
    /// The value.
    pub value: u64,
    /// e.g. `ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// ODCS `customProperties[]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomProperty {
    /// Its name, camelCase.
    pub property: String,
    /// Its value.
    pub value: serde_json::Value,
}

/// ODCS logical types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LogicalType {
    /// Text.
    String,
    /// A date, time or timestamp.
    Date,
    /// A floating point or decimal number.
    Number,
    /// A whole number.
    Integer,
    /// A structure with properties.
    Object,
    /// A list with items.
    Array,
    /// True or false.
    Boolean,
}

/// ODCS `schema[]`: one object (here, the topic's values or keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaObject {
    /// The Avro type's name (or `key` / `value` for a primitive).
    pub name: String,
    /// The topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_name: Option<String>,
    /// `topic` for values, `key` for keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_type: Option<String>,
    /// `object`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical_type: Option<LogicalType>,
    /// The Avro record's doc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its fields.
    #[serde(default)]
    pub properties: Vec<SchemaProperty>,
    /// The registry subject, id, version and Avro full name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_properties: Vec<CustomProperty>,
}

/// ODCS `properties[]` (and `items`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaProperty {
    /// The field's name (empty for `items`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The ODCS logical type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical_type: Option<LogicalType>,
    /// Logical type options (e.g. `format`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub logical_type_options: BTreeMap<String, serde_json::Value>,
    /// The Avro type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_type: Option<String>,
    /// Whether the value may not be null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// The Avro field's doc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Nested fields, for an object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<SchemaProperty>,
    /// The element, for an array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<SchemaProperty>>,
    /// e.g. `enumValues`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_properties: Vec<CustomProperty>,
}

/// Exports output port `port` of `record` as an ODCS contract.
///
/// # Errors
///
/// A [`ContractError`]: no such output port, a port of raw bytes, or a
/// schema that is not valid Avro.
///
/// # Examples
///
/// ```
/// use meshkit::catalog::{
///     export_contract, CatalogRecord, ContractOptions, DescriptorInput, PortInput, SchemaInput, Timestamp,
/// };
///
/// let order = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}"#;
/// let d = DescriptorInput::new("sales", "orders", "1.0.0", "team-sales")
///     .input(PortInput::new("in", "raw.orders"))
///     .output(PortInput::new("out", "sales.orders").with_value(SchemaInput::new(order, "Order")));
/// let record = CatalogRecord::from_descriptor(&d, Timestamp::from_millis(0));
/// let yaml = export_contract(&record, "out", &ContractOptions::default())?.to_yaml()?;
/// assert!(yaml.contains("kind: DataContract"));
/// assert!(yaml.contains("logicalType: integer"));
/// # Ok::<(), meshkit::catalog::ContractError>(())
/// ```
pub fn export_contract(
    record: &CatalogRecord,
    port: &str,
    options: &ContractOptions,
) -> Result<DataContract, ContractError> {
    let product = record.key().to_string();
    let out: &PortRecord = record.output(port).ok_or_else(|| ContractError::UnknownPort {
        product: product.clone(),
        port: port.to_string(),
        available: record.outputs.iter().map(|p| p.name.clone()).collect(),
    })?;
    let value = out.value.as_ref().ok_or_else(|| ContractError::NoSchema {
        product: product.clone(),
        port: port.to_string(),
    })?;
    let mut schema = vec![schema_object(out, value, "value", "topic")?];
    if let Some(key) = &out.key {
        schema.push(schema_object(out, key, "key", "key")?);
    }
    let host = options
        .kafka_host
        .clone()
        .or_else(|| record.bootstrap_servers.clone());
    let subjects: Vec<String> = [&out.value, &out.key]
        .into_iter()
        .flatten()
        .filter_map(|s| s.subject.clone())
        .collect();
    let usage = format!(
        "Consume Kafka topic `{}` (read_committed); values{} are Avro in the Confluent wire format{}.",
        out.topic,
        if out.key.is_some() { " and keys" } else { "" },
        if subjects.is_empty() {
            String::new()
        } else {
            format!(", registry subjects {}", subjects.join(", "))
        }
    );
    Ok(DataContract {
        api_version: ODCS_API_VERSION.to_string(),
        kind: "DataContract".to_string(),
        id: record.contract_id(port),
        name: format!("{}.{port}", record.name),
        version: record.version.clone(),
        status: "active".to_string(),
        domain: record.domain.clone(),
        data_product: record.name.clone(),
        description: Some(ContractDescription {
            purpose: (!record.description.is_empty()).then(|| record.description.clone()),
            usage: Some(usage),
        }),
        tags: record.tags.clone(),
        schema,
        servers: host
            .map(|host| Server {
                server: "kafka".to_string(),
                kind: "kafka".to_string(),
                host,
                format: Some("avro".to_string()),
            })
            .into_iter()
            .collect(),
        team: vec![TeamMember {
            username: record.owner.clone(),
            role: Some("owner".to_string()),
        }],
        sla_properties: record
            .slo
            .freshness_ms
            .map(|ms| SlaProperty {
                property: "latency".to_string(),
                value: ms,
                unit: Some("ms".to_string()),
            })
            .into_iter()
            .collect(),
        contract_created_ts: Some(options.created_at.unwrap_or(record.updated_at)),
    })
}

fn schema_object(
    port: &PortRecord,
    schema: &SchemaRecord,
    part: &'static str,
    physical_type: &str,
) -> Result<SchemaObject, ContractError> {
    let avro = Schema::parse_str(&schema.schema).map_err(|e| ContractError::InvalidAvro {
        port: port.name.clone(),
        part,
        reason: e.to_string(),
    })?;
    let mut mapper = Mapper::default();
    let mut custom = Vec::new();
    let mut push = |property: &str, value: serde_json::Value| {
        custom.push(CustomProperty {
            property: property.to_string(),
            value,
        });
    };
    if let Some(subject) = &schema.subject {
        push("schemaRegistrySubject", subject.clone().into());
    }
    if let Some(id) = schema.id {
        push("schemaId", id.into());
    }
    if let Some(version) = schema.version {
        push("schemaVersion", version.into());
    }
    push("rustType", schema.type_name.clone().into());
    let (name, description, properties) = match &avro {
        Schema::Record(record) => {
            mapper.define(&avro);
            push("avroType", record.name.fullname(None).into());
            mapper.stack.push(record.name.fullname(None));
            let fields = record.fields.iter().map(|f| mapper.field(f)).collect();
            (record.name.name().to_string(), record.doc.clone(), fields)
        }
        other => {
            // A primitive (or non-record) key or value: one property.
            let mut property = mapper.property(other);
            property.name = part.to_string();
            (part.to_string(), None, vec![property])
        }
    };
    Ok(SchemaObject {
        name,
        physical_name: Some(port.topic.clone()),
        physical_type: Some(physical_type.to_string()),
        logical_type: Some(LogicalType::Object),
        description,
        properties,
        custom_properties: custom,
    })
}

/// Walks an Avro schema, resolving named references.
#[derive(Default)]
struct Mapper {
    /// Named types seen so far, by full name.
    named: BTreeMap<String, Schema>,
    /// Records being expanded (to stop at recursive references).
    stack: Vec<String>,
}

impl Mapper {
    /// Records every named type defined in `schema`.
    fn define(&mut self, schema: &Schema) {
        let mut seen = HashSet::new();
        self.define_inner(schema, &mut seen);
    }

    fn define_inner(&mut self, schema: &Schema, seen: &mut HashSet<String>) {
        match schema {
            Schema::Record(r) => {
                let name = r.name.fullname(None);
                if seen.insert(name.clone()) {
                    self.named.insert(name, schema.clone());
                    for f in &r.fields {
                        self.define_inner(&f.schema, seen);
                    }
                }
            }
            Schema::Enum(e) => {
                self.named.insert(e.name.fullname(None), schema.clone());
            }
            Schema::Fixed(f) => {
                self.named.insert(f.name.fullname(None), schema.clone());
            }
            Schema::Array(a) => self.define_inner(&a.items, seen),
            Schema::Map(m) => self.define_inner(&m.types, seen),
            Schema::Union(u) => {
                for v in u.variants() {
                    self.define_inner(v, seen);
                }
            }
            _ => {}
        }
    }

    fn field(&mut self, field: &RecordField) -> SchemaProperty {
        let mut property = self.property(&field.schema);
        property.name = field.name.clone();
        property.description = field.doc.clone().or(property.description);
        property
    }

    fn property(&mut self, schema: &Schema) -> SchemaProperty {
        let mut p = SchemaProperty {
            name: String::new(),
            logical_type: None,
            logical_type_options: BTreeMap::new(),
            physical_type: None,
            required: Some(true),
            description: None,
            properties: Vec::new(),
            items: None,
            custom_properties: Vec::new(),
        };
        let mut set = |logical: Option<LogicalType>, physical: &str| {
            p.logical_type = logical;
            p.physical_type = Some(physical.to_string());
        };
        match schema {
            Schema::Null => set(None, "null"),
            Schema::Boolean => set(Some(LogicalType::Boolean), "boolean"),
            Schema::Int => {
                set(Some(LogicalType::Integer), "int");
                p.logical_type_options.insert("format".into(), "i32".into());
            }
            Schema::Long => {
                set(Some(LogicalType::Integer), "long");
                p.logical_type_options.insert("format".into(), "i64".into());
            }
            Schema::Float => {
                set(Some(LogicalType::Number), "float");
                p.logical_type_options.insert("format".into(), "f32".into());
            }
            Schema::Double => {
                set(Some(LogicalType::Number), "double");
                p.logical_type_options.insert("format".into(), "f64".into());
            }
            Schema::Bytes => {
                set(Some(LogicalType::String), "bytes");
                p.logical_type_options.insert("format".into(), "binary".into());
            }
            Schema::String => set(Some(LogicalType::String), "string"),
            Schema::Uuid(_) => {
                set(Some(LogicalType::String), "uuid");
                p.logical_type_options.insert("format".into(), "uuid".into());
            }
            Schema::Fixed(f) => {
                set(Some(LogicalType::String), &format!("fixed({})", f.size));
                p.logical_type_options.insert("format".into(), "binary".into());
            }
            Schema::Decimal(d) => {
                set(
                    Some(LogicalType::Number),
                    &format!("decimal({},{})", d.precision, d.scale),
                );
            }
            Schema::BigDecimal => set(Some(LogicalType::Number), "big-decimal"),
            Schema::Date => {
                set(Some(LogicalType::Date), "date");
                p.logical_type_options
                    .insert("format".into(), "yyyy-MM-dd".into());
            }
            Schema::TimeMillis | Schema::TimeMicros => {
                let physical = if matches!(schema, Schema::TimeMillis) {
                    "time-millis"
                } else {
                    "time-micros"
                };
                set(Some(LogicalType::Date), physical);
                p.logical_type_options
                    .insert("format".into(), "HH:mm:ss.SSS".into());
            }
            Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => {
                let (physical, format) = match schema {
                    Schema::TimestampMillis => ("timestamp-millis", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"),
                    Schema::TimestampMicros => ("timestamp-micros", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"),
                    Schema::TimestampNanos => ("timestamp-nanos", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSSXXX"),
                    Schema::LocalTimestampMillis => ("local-timestamp-millis", "yyyy-MM-dd'T'HH:mm:ss.SSS"),
                    Schema::LocalTimestampMicros => {
                        ("local-timestamp-micros", "yyyy-MM-dd'T'HH:mm:ss.SSSSSS")
                    }
                    _ => ("local-timestamp-nanos", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSS"),
                };
                set(Some(LogicalType::Date), physical);
                p.logical_type_options.insert("format".into(), format.into());
            }
            Schema::Duration(_) => set(Some(LogicalType::String), "duration"),
            Schema::Enum(e) => {
                set(Some(LogicalType::String), "enum");
                p.description = e.doc.clone();
                p.custom_properties.push(CustomProperty {
                    property: "enumValues".into(),
                    value: e.symbols.clone().into(),
                });
            }
            Schema::Array(a) => {
                set(Some(LogicalType::Array), "array");
                p.items = Some(Box::new(self.property(&a.items)));
            }
            Schema::Map(m) => {
                set(Some(LogicalType::Object), "map");
                // ODCS v3.0.x has no map type; describe the values.
                let values = self.property(&m.types);
                p.custom_properties.push(CustomProperty {
                    property: "mapValues".into(),
                    value: serde_json::to_value(&values).unwrap_or_default(),
                });
            }
            Schema::Union(u) => return self.union(u),
            Schema::Record(r) => {
                let name = r.name.fullname(None);
                set(Some(LogicalType::Object), "record");
                p.description = r.doc.clone();
                if self.stack.contains(&name) {
                    // A recursive reference: name the type, do not expand it.
                    p.physical_type = Some(name);
                } else {
                    self.named.entry(name.clone()).or_insert_with(|| schema.clone());
                    self.stack.push(name);
                    p.properties = r.fields.iter().map(|f| self.field(f)).collect();
                    self.stack.pop();
                }
            }
            Schema::Ref { name } => return self.reference(name),
        }
        p
    }

    fn reference(&mut self, name: &Name) -> SchemaProperty {
        let full = name.fullname(None);
        match self.named.get(&full).cloned() {
            Some(schema) if !self.stack.contains(&full) => self.property(&schema),
            _ => SchemaProperty {
                name: String::new(),
                logical_type: Some(LogicalType::Object),
                logical_type_options: BTreeMap::new(),
                physical_type: Some(full),
                required: Some(true),
                description: None,
                properties: Vec::new(),
                items: None,
                custom_properties: Vec::new(),
            },
        }
    }

    fn union(&mut self, union: &UnionSchema) -> SchemaProperty {
        let variants = union.variants();
        let nullable = variants.iter().any(|v| matches!(v, Schema::Null));
        let others: Vec<&Schema> = variants.iter().filter(|v| !matches!(v, Schema::Null)).collect();
        let mut p = match others.as_slice() {
            [single] => self.property(single),
            _ => {
                let names: Vec<String> = others.iter().map(|s| physical_name(s)).collect();
                let mut p = self.property(&Schema::Null);
                p.logical_type = None;
                p.physical_type = Some(format!("union<{}>", names.join(",")));
                p
            }
        };
        if nullable {
            p.required = Some(false);
        }
        p
    }
}

/// A short Avro type name for messages and `union<…>`.
fn physical_name(schema: &Schema) -> String {
    match schema {
        Schema::Record(r) => r.name.fullname(None),
        Schema::Enum(e) => e.name.fullname(None),
        Schema::Fixed(f) => f.name.fullname(None),
        Schema::Ref { name } => name.fullname(None),
        Schema::Array(_) => "array".into(),
        Schema::Map(_) => "map".into(),
        other => other.canonical_form().trim_matches('"').to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::input::{DescriptorInput, PortInput, SchemaInput};
    use super::*;

    const ORDER: &str = r#"{
      "type": "record", "name": "Order", "namespace": "com.acme", "doc": "One order",
      "fields": [
        {"name": "id", "type": "long", "doc": "Order id"},
        {"name": "amount", "type": "double"},
        {"name": "customer", "type": "string"},
        {"name": "paid", "type": "boolean"},
        {"name": "qty", "type": "int"},
        {"name": "note", "type": ["null", "string"], "default": null},
        {"name": "band", "type": {"type": "enum", "name": "Band", "symbols": ["LOW", "MID", "HIGH"]}},
        {"name": "lines", "type": {"type": "array", "items": {
            "type": "record", "name": "Line",
            "fields": [{"name": "sku", "type": "string"}, {"name": "price", "type": "double"}]}}},
        {"name": "address", "type": {"type": "record", "name": "Address",
            "fields": [{"name": "city", "type": "string"}, {"name": "zip", "type": ["null", "string"]}]}},
        {"name": "billing", "type": ["null", "Address"], "default": null},
        {"name": "placed_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
        {"name": "attrs", "type": {"type": "map", "values": "string"}},
        {"name": "either", "type": ["int", "string"]},
        {"name": "digest", "type": {"type": "fixed", "name": "Md5", "size": 16}}
      ]
    }"#;

    fn record() -> CatalogRecord {
        let mut d = DescriptorInput::new("sales", "orders-enriched", "1.2.0", "team-sales@example.com")
            .input(PortInput::new("orders", "sales.orders"))
            .output(
                PortInput::new("enriched", "sales.orders.enriched")
                    .with_value(SchemaInput::new(ORDER, "acme::Order").registered(
                        "sales.orders.enriched-value",
                        9,
                        4,
                    ))
                    .with_key(SchemaInput::new(r#""string""#, "String")),
            )
            .output(PortInput::new("raw", "sales.orders.raw"));
        d.description = "Orders with their price band".into();
        d.tags = vec!["tier-1".into()];
        d.freshness_slo = Some(std::time::Duration::from_secs(60));
        CatalogRecord::from_descriptor(&d, Timestamp::from_millis(0)).with_bootstrap_servers("broker-1:9092")
    }

    fn prop<'a>(props: &'a [SchemaProperty], name: &str) -> &'a SchemaProperty {
        props
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no property {name}"))
    }

    #[test]
    fn exported_yaml_parses_back_with_fields_types_and_owner() {
        let contract = export_contract(&record(), "enriched", &ContractOptions::default()).unwrap();
        let yaml = contract.to_yaml().unwrap();
        // Parses as generic YAML, with the ODCS keys in place.
        let doc: serde_norway::Value = serde_norway::from_str(&yaml).unwrap();
        assert_eq!(doc["apiVersion"].as_str(), Some("v3.0.2"));
        assert_eq!(doc["kind"].as_str(), Some("DataContract"));
        assert_eq!(doc["id"].as_str(), Some("sales/orders-enriched/enriched"));
        assert_eq!(doc["version"].as_str(), Some("1.2.0"));
        assert_eq!(doc["status"].as_str(), Some("active"));
        assert_eq!(doc["domain"].as_str(), Some("sales"));
        assert_eq!(doc["dataProduct"].as_str(), Some("orders-enriched"));
        assert_eq!(
            doc["team"][0]["username"].as_str(),
            Some("team-sales@example.com")
        );
        assert_eq!(doc["team"][0]["role"].as_str(), Some("owner"));
        assert_eq!(doc["servers"][0]["type"].as_str(), Some("kafka"));
        assert_eq!(doc["servers"][0]["host"].as_str(), Some("broker-1:9092"));
        assert_eq!(
            doc["schema"][0]["physicalName"].as_str(),
            Some("sales.orders.enriched")
        );
        assert_eq!(doc["schema"][0]["physicalType"].as_str(), Some("topic"));
        assert_eq!(doc["schema"][0]["properties"][0]["name"].as_str(), Some("id"));
        assert_eq!(
            doc["schema"][0]["properties"][0]["logicalType"].as_str(),
            Some("integer")
        );
        assert_eq!(doc["slaProperties"][0]["property"].as_str(), Some("latency"));
        assert_eq!(doc["slaProperties"][0]["value"].as_u64(), Some(60_000));
        assert!(
            yaml.contains("\ncontractCreatedTs: '1970-01-01T00:00:00.000Z'\n"),
            "{yaml}"
        );
        // And back into the typed contract, unchanged.
        assert_eq!(DataContract::from_yaml(&yaml).unwrap(), contract);
    }

    #[test]
    fn avro_types_map_to_odcs_properties() {
        let contract = export_contract(&record(), "enriched", &ContractOptions::default()).unwrap();
        let value = &contract.schema[0];
        assert_eq!(value.name, "Order");
        assert_eq!(value.description.as_deref(), Some("One order"));
        let subject = value
            .custom_properties
            .iter()
            .find(|c| c.property == "schemaRegistrySubject")
            .unwrap();
        assert_eq!(subject.value, "sales.orders.enriched-value");
        let p = &value.properties;
        let check = |name: &str, logical: Option<LogicalType>, physical: &str, required: bool| {
            let f = prop(p, name);
            assert_eq!(f.logical_type, logical, "{name}");
            assert_eq!(f.physical_type.as_deref(), Some(physical), "{name}");
            assert_eq!(f.required, Some(required), "{name}");
        };
        check("id", Some(LogicalType::Integer), "long", true);
        assert_eq!(prop(p, "id").description.as_deref(), Some("Order id"));
        check("amount", Some(LogicalType::Number), "double", true);
        check("customer", Some(LogicalType::String), "string", true);
        check("paid", Some(LogicalType::Boolean), "boolean", true);
        check("qty", Some(LogicalType::Integer), "int", true);
        check("note", Some(LogicalType::String), "string", false);
        check("band", Some(LogicalType::String), "enum", true);
        assert_eq!(
            prop(p, "band").custom_properties[0].value,
            serde_json::json!(["LOW", "MID", "HIGH"])
        );
        check("lines", Some(LogicalType::Array), "array", true);
        let line = prop(p, "lines").items.as_deref().unwrap();
        assert_eq!(line.logical_type, Some(LogicalType::Object));
        assert_eq!(
            prop(&line.properties, "price").logical_type,
            Some(LogicalType::Number)
        );
        check("address", Some(LogicalType::Object), "record", true);
        let address = prop(p, "address");
        assert_eq!(prop(&address.properties, "zip").required, Some(false));
        // A named reference to an earlier record is expanded, nullable.
        let billing = prop(p, "billing");
        assert_eq!(billing.required, Some(false));
        assert_eq!(
            prop(&billing.properties, "city").logical_type,
            Some(LogicalType::String)
        );
        check("placed_at", Some(LogicalType::Date), "timestamp-millis", true);
        check("day", Some(LogicalType::Date), "date", true);
        check("ref", Some(LogicalType::String), "uuid", true);
        check("price", Some(LogicalType::Number), "decimal(10,2)", true);
        check("attrs", Some(LogicalType::Object), "map", true);
        check("either", None, "union<int,string>", true);
        check("digest", Some(LogicalType::String), "fixed(16)", true);
        // The key: a primitive, as one property.
        let key = &contract.schema[1];
        assert_eq!(key.physical_type.as_deref(), Some("key"));
        assert_eq!(key.properties[0].name, "key");
        assert_eq!(key.properties[0].logical_type, Some(LogicalType::String));
    }

    #[test]
    fn recursive_records_stop_at_the_reference() {
        let node = r#"{"type":"record","name":"Node","fields":[
            {"name":"value","type":"long"},
            {"name":"next","type":["null","Node"],"default":null}]}"#;
        let d = DescriptorInput::new("d", "p", "1.0.0", "o")
            .input(PortInput::new("i", "in"))
            .output(PortInput::new("o", "out").with_value(SchemaInput::new(node, "Node")));
        let r = CatalogRecord::from_descriptor(&d, Timestamp::from_millis(0));
        let contract = export_contract(&r, "o", &ContractOptions::default()).unwrap();
        let next = prop(&contract.schema[0].properties, "next");
        assert_eq!(next.required, Some(false));
        assert_eq!(next.physical_type.as_deref(), Some("Node"));
        assert!(next.properties.is_empty());
        assert!(contract.servers.is_empty(), "no bootstrap servers known");
    }

    #[test]
    fn errors_name_the_problem() {
        let r = record();
        let err = export_contract(&r, "nope", &ContractOptions::default()).unwrap_err();
        assert!(err.to_string().contains("enriched, raw"), "{err}");
        assert!(matches!(
            export_contract(&r, "raw", &ContractOptions::default()),
            Err(ContractError::NoSchema { .. })
        ));
        let mut broken = r.clone();
        if let Some(v) = broken.outputs[0].value.as_mut() {
            v.schema = "{not avro".into();
        }
        assert!(matches!(
            export_contract(&broken, "enriched", &ContractOptions::default()),
            Err(ContractError::InvalidAvro { part: "value", .. })
        ));
        assert!(DataContract::from_yaml("kind: [unclosed").is_err());
    }

    #[test]
    fn options_override_host_and_time() {
        let options = ContractOptions {
            kafka_host: Some("other:9093".into()),
            created_at: Some(Timestamp::from_millis(5_000)),
        };
        let c = export_contract(&record(), "enriched", &options).unwrap();
        assert_eq!(c.servers[0].host, "other:9093");
        assert_eq!(c.contract_created_ts, Some(Timestamp::from_millis(5_000)));
    }
}
