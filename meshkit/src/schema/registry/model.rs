//! The values a registry deals in.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A schema registered under a subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredSchema {
    /// The subject, e.g. `sales.orders-value`.
    pub subject: String,
    /// The version within the subject, from 1.
    pub version: u32,
    /// The global schema id (the same schema has the same id in every subject).
    pub id: u32,
    /// The schema's JSON text.
    pub schema: String,
}

/// Which version of a subject: a number or the latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionRef {
    /// The newest non-deleted version.
    Latest,
    /// Version number `n` (from 1).
    Number(u32),
}

/// Confluent's compatibility levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CompatibilityLevel {
    /// The new schema can read data written with the latest one (the default).
    #[default]
    Backward,
    /// As `Backward`, against every earlier version.
    BackwardTransitive,
    /// The latest schema can read data written with the new one.
    Forward,
    /// As `Forward`, against every earlier version.
    ForwardTransitive,
    /// Both `Backward` and `Forward`.
    Full,
    /// As `Full`, against every earlier version.
    FullTransitive,
    /// No check.
    None,
}

impl CompatibilityLevel {
    /// Every level, in Confluent's spelling order.
    pub const ALL: [CompatibilityLevel; 7] = [
        Self::Backward,
        Self::BackwardTransitive,
        Self::Forward,
        Self::ForwardTransitive,
        Self::Full,
        Self::FullTransitive,
        Self::None,
    ];

    /// Confluent's name, e.g. `BACKWARD_TRANSITIVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backward => "BACKWARD",
            Self::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Self::Forward => "FORWARD",
            Self::ForwardTransitive => "FORWARD_TRANSITIVE",
            Self::Full => "FULL",
            Self::FullTransitive => "FULL_TRANSITIVE",
            Self::None => "NONE",
        }
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CompatibilityLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|l| l.as_str()).collect();
                format!(
                    "unknown compatibility level `{s}`; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// The answer to a compatibility check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompatibilityReport {
    /// Whether the schema may be registered.
    pub is_compatible: bool,
    /// Why not: each names the subject version, the field and the rule broken.
    pub messages: Vec<String>,
}

/// The kind of a schema's text, as Confluent names it (`schemaType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SchemaType {
    /// Apache Avro (the default when a request names no type).
    #[default]
    Avro,
    /// JSON Schema.
    Json,
    /// Protocol Buffers.
    Protobuf,
}

impl SchemaType {
    /// Every type, in the order `GET /schemas/types` lists them.
    pub const ALL: [SchemaType; 3] = [Self::Json, Self::Protobuf, Self::Avro];

    /// Confluent's name, e.g. `PROTOBUF`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Avro => "AVRO",
            Self::Json => "JSON",
            Self::Protobuf => "PROTOBUF",
        }
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SchemaType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown schema type `{s}`; expected AVRO, JSON or PROTOBUF"))
    }
}

impl Serialize for SchemaType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SchemaType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A reference from one schema to a version of another subject: `name` is
/// how the referring schema names it (an Avro full name, a `.proto` import
/// path, a JSON Schema `$ref` URL).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SchemaReference {
    /// The name the referring schema uses.
    pub name: String,
    /// The subject referred to.
    pub subject: String,
    /// The version of that subject (from 1).
    pub version: u32,
}

impl SchemaReference {
    /// A reference to `version` of `subject`, known as `name` in the referring schema.
    pub fn new(name: impl Into<String>, subject: impl Into<String>, version: u32) -> Self {
        Self {
            name: name.into(),
            subject: subject.into(),
            version,
        }
    }
}

/// A schema as registered: its text, its type and its references
/// (Confluent's `SchemaString`, the answer to `GET /schemas/ids/{id}`).
///
/// # Examples
///
/// ```
/// use meshkit::schema::registry::{SchemaDefinition, SchemaReference, SchemaType};
///
/// let order = SchemaDefinition::avro(
///     r#"{"type":"record","name":"Order","fields":[{"name":"customer","type":"Customer"}]}"#,
/// )
/// .with_references(vec![SchemaReference::new("Customer", "customers-value", 1)]);
/// assert_eq!(order.schema_type, SchemaType::Avro);
/// assert_eq!(order.references.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchemaDefinition {
    /// The kind of text.
    pub schema_type: SchemaType,
    /// The schema's text (JSON for Avro and JSON Schema, `.proto` source for Protobuf).
    pub schema: String,
    /// The schemas this one uses, in the order given at registration.
    pub references: Vec<SchemaReference>,
}

impl SchemaDefinition {
    /// A schema of `schema_type` with text `schema` and no references.
    pub fn new(schema_type: SchemaType, schema: impl Into<String>) -> Self {
        Self {
            schema_type,
            schema: schema.into(),
            references: Vec::new(),
        }
    }

    /// An Avro schema without references.
    pub fn avro(schema: impl Into<String>) -> Self {
        Self::new(SchemaType::Avro, schema)
    }

    /// The same schema with `references`.
    #[must_use]
    pub fn with_references(mut self, references: Vec<SchemaReference>) -> Self {
        self.references = references;
        self
    }

    /// Whether this is what the first methods of [`SchemaRegistry`](super::SchemaRegistry)
    /// deal in: Avro without references.
    pub fn is_plain_avro(&self) -> bool {
        self.schema_type == SchemaType::Avro && self.references.is_empty()
    }
}

/// A subject version with its schema's type and references, and whether it
/// is soft-deleted (`GET /subjects/{subject}/versions/{version}`, `GET /schemas`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchemaVersion {
    /// The subject.
    pub subject: String,
    /// The version within the subject, from 1.
    pub version: u32,
    /// The global schema id.
    pub id: u32,
    /// The schema.
    pub definition: SchemaDefinition,
    /// Whether the version is soft-deleted.
    pub deleted: bool,
}

impl SchemaVersion {
    /// A live version of `subject` holding schema `id`.
    pub fn new(subject: impl Into<String>, version: u32, id: u32, definition: SchemaDefinition) -> Self {
        Self {
            subject: subject.into(),
            version,
            id,
            definition,
            deleted: false,
        }
    }

    /// The same version marked soft-deleted or not.
    #[must_use]
    pub fn with_deleted(mut self, deleted: bool) -> Self {
        self.deleted = deleted;
        self
    }
}

impl From<RegisteredSchema> for SchemaVersion {
    /// An Avro schema without references, as the first trait methods return it.
    fn from(r: RegisteredSchema) -> Self {
        Self::new(r.subject, r.version, r.id, SchemaDefinition::avro(r.schema))
    }
}

impl From<SchemaVersion> for RegisteredSchema {
    /// Drops the type and the references.
    fn from(v: SchemaVersion) -> Self {
        Self {
            subject: v.subject,
            version: v.version,
            id: v.id,
            schema: v.definition.schema,
        }
    }
}

/// One version of one subject that holds a schema id
/// (`GET /schemas/ids/{id}/versions`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SubjectVersion {
    /// The subject.
    pub subject: String,
    /// The version.
    pub version: u32,
}

impl SubjectVersion {
    /// Version `version` of `subject`.
    pub fn new(subject: impl Into<String>, version: u32) -> Self {
        Self {
            subject: subject.into(),
            version,
        }
    }
}

/// Which schemas `GET /schemas` lists.
///
/// # Examples
///
/// ```
/// use meshkit::schema::registry::SchemaFilter;
///
/// let filter = SchemaFilter::default().subject_prefix("sales.").latest_only(true);
/// assert_eq!(filter.prefix(), Some("sales."));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaFilter {
    subject_prefix: Option<String>,
    include_deleted: bool,
    latest_only: bool,
}

impl SchemaFilter {
    /// Only subjects starting with `prefix`.
    #[must_use]
    pub fn subject_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.subject_prefix = Some(prefix.into());
        self
    }

    /// Soft-deleted versions too.
    #[must_use]
    pub fn include_deleted(mut self, include: bool) -> Self {
        self.include_deleted = include;
        self
    }

    /// Only the latest version of each subject.
    #[must_use]
    pub fn latest_only(mut self, latest_only: bool) -> Self {
        self.latest_only = latest_only;
        self
    }

    /// The subject prefix, if any.
    pub fn prefix(&self) -> Option<&str> {
        self.subject_prefix.as_deref()
    }

    /// Whether soft-deleted versions are listed.
    pub fn includes_deleted(&self) -> bool {
        self.include_deleted
    }

    /// Whether only each subject's latest version is listed.
    pub fn is_latest_only(&self) -> bool {
        self.latest_only
    }

    /// Whether `subject` passes the prefix.
    pub fn matches_subject(&self, subject: &str) -> bool {
        self.subject_prefix
            .as_deref()
            .is_none_or(|p| subject.starts_with(p))
    }
}
