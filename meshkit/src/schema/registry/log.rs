//! The records of the registry's compacted topic (`_schemas`), in the JSON
//! format Confluent's Schema Registry writes, so that the topic can be read
//! by (and taken over from) Confluent's tools.
//!
//! | key | value |
//! |---|---|
//! | `{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}` | `{"subject":"s","version":1,"id":7,"schema":"…","deleted":false}` (with `"schemaType":"PROTOBUF"` when not Avro and `"references":[{"name":…,"subject":…,"version":…}]` when there are some), or null (hard delete) |
//! | `{"keytype":"CONFIG","subject":"s","magic":0}` (`"subject":null` for the global level) | `{"compatibilityLevel":"FULL"}`, or null (level removed) |
//! | `{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}` | `{"subject":"s","version":3}`: versions up to 3 are soft-deleted |
//! | `{"keytype":"NOOP","magic":0}` | null |
//!
//! Keys of other types (`MODE`, `CONTEXT`, `CLEAR_SUBJECT`, …) decode to
//! [`LogRecord::Other`] and are ignored on replay; unknown fields in keys and
//! values are ignored.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::{CompatibilityLevel, SchemaReference, SchemaType};

/// One record of the registry topic: its key and (unless a tombstone) value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LogRecord {
    /// A subject version (`SCHEMA` key); `None` is a tombstone (hard delete).
    Schema {
        /// The subject of the key.
        subject: String,
        /// The version of the key.
        version: u32,
        /// The value, or `None` for a tombstone.
        value: Option<SchemaValue>,
    },
    /// A compatibility level (`CONFIG` key): the global one for `subject: None`;
    /// `level: None` is a tombstone (level removed).
    Config {
        /// The subject, or `None` for the global level.
        subject: Option<String>,
        /// The level, or `None` for a tombstone.
        level: Option<CompatibilityLevel>,
    },
    /// A soft delete of a whole subject (`DELETE_SUBJECT` key): versions up to
    /// `version` are deleted; `None` is a tombstone (ignored).
    DeleteSubject {
        /// The subject.
        subject: String,
        /// The highest version deleted, or `None` for a tombstone.
        version: Option<u32>,
    },
    /// A `NOOP` record (Confluent writes them to find the end of the log).
    Noop,
    /// A key type this registry does not use (`MODE`, `CONTEXT`, …).
    Other {
        /// The key's `keytype`.
        keytype: String,
    },
}

/// The value of a `SCHEMA` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SchemaValue {
    /// The subject (the same as the key's).
    pub(crate) subject: String,
    /// The version (the same as the key's).
    pub(crate) version: u32,
    /// The global schema id.
    pub(crate) id: u32,
    /// The schema's type: written only when not Avro, as records written
    /// before types were kept (and Confluent's for Avro) have none.
    #[serde(rename = "schemaType", default, skip_serializing_if = "is_avro")]
    pub(crate) schema_type: SchemaType,
    /// The schemas this one refers to: written only when there are some.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) references: Vec<SchemaReference>,
    /// The schema's text.
    pub(crate) schema: String,
    /// Whether the version is soft-deleted.
    #[serde(default)]
    pub(crate) deleted: bool,
}

fn is_avro(schema_type: &SchemaType) -> bool {
    *schema_type == SchemaType::Avro
}

/// Why a record of the topic could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogFormatError {
    /// What was wrong.
    pub(crate) reason: String,
}

impl fmt::Display for LogFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a schema registry record: {}", self.reason)
    }
}

impl std::error::Error for LogFormatError {}

fn format_error(reason: impl Into<String>) -> LogFormatError {
    LogFormatError {
        reason: reason.into(),
    }
}

/// The keys, field order as Confluent writes them.
#[derive(Serialize)]
struct SchemaKeyJson<'a> {
    keytype: &'static str,
    subject: &'a str,
    version: u32,
    magic: u32,
}

#[derive(Serialize)]
struct SubjectKeyJson<'a> {
    keytype: &'static str,
    subject: Option<&'a str>,
    magic: u32,
}

#[derive(Serialize)]
struct BareKeyJson<'a> {
    keytype: &'a str,
    magic: u32,
}

#[derive(Serialize, Deserialize)]
struct ConfigValueJson {
    #[serde(rename = "compatibilityLevel")]
    compatibility_level: String,
}

#[derive(Serialize, Deserialize)]
struct DeleteSubjectValueJson {
    subject: String,
    version: u32,
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs (strings and integers) cannot fail;
    // an empty JSON object keeps this total without a panic path.
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}

impl LogRecord {
    /// The record's key and value bytes (`None` for a tombstone).
    pub(crate) fn encode(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        match self {
            Self::Schema {
                subject,
                version,
                value,
            } => (
                to_json(&SchemaKeyJson {
                    keytype: "SCHEMA",
                    subject,
                    version: *version,
                    magic: 1,
                }),
                value.as_ref().map(to_json),
            ),
            Self::Config { subject, level } => (
                to_json(&SubjectKeyJson {
                    keytype: "CONFIG",
                    subject: subject.as_deref(),
                    magic: 0,
                }),
                level.map(|l| {
                    to_json(&ConfigValueJson {
                        compatibility_level: l.as_str().to_string(),
                    })
                }),
            ),
            Self::DeleteSubject { subject, version } => (
                to_json(&SubjectKeyJson {
                    keytype: "DELETE_SUBJECT",
                    subject: Some(subject),
                    magic: 0,
                }),
                version.map(|v| {
                    to_json(&DeleteSubjectValueJson {
                        subject: subject.clone(),
                        version: v,
                    })
                }),
            ),
            Self::Noop => (
                to_json(&BareKeyJson {
                    keytype: "NOOP",
                    magic: 0,
                }),
                None,
            ),
            Self::Other { keytype } => (to_json(&BareKeyJson { keytype, magic: 0 }), None),
        }
    }

    /// Decodes a record of the topic from its key and value bytes.
    pub(crate) fn decode(key: &[u8], value: Option<&[u8]>) -> Result<Self, LogFormatError> {
        let key: Value =
            serde_json::from_slice(key).map_err(|e| format_error(format!("key is not JSON: {e}")))?;
        let keytype = key
            .get("keytype")
            .and_then(Value::as_str)
            .ok_or_else(|| format_error("key has no `keytype`"))?;
        let subject = key.get("subject").and_then(Value::as_str).map(str::to_string);
        match keytype {
            "SCHEMA" => {
                let subject = subject.ok_or_else(|| format_error("SCHEMA key has no `subject`"))?;
                let version = key
                    .get("version")
                    .and_then(Value::as_u64)
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| format_error("SCHEMA key has no valid `version`"))?;
                let value = match value {
                    None => None,
                    Some(bytes) => {
                        let v: SchemaValue = serde_json::from_slice(bytes)
                            .map_err(|e| format_error(format!("SCHEMA value: {e}")))?;
                        if v.subject != subject || v.version != version {
                            return Err(format_error(format!(
                                "SCHEMA value names `{}` version {} under key `{subject}` version {version}",
                                v.subject, v.version
                            )));
                        }
                        Some(v)
                    }
                };
                Ok(Self::Schema {
                    subject,
                    version,
                    value,
                })
            }
            "CONFIG" => {
                let level = match value {
                    None => None,
                    Some(bytes) => {
                        let v: ConfigValueJson = serde_json::from_slice(bytes)
                            .map_err(|e| format_error(format!("CONFIG value: {e}")))?;
                        Some(
                            v.compatibility_level
                                .parse::<CompatibilityLevel>()
                                .map_err(format_error)?,
                        )
                    }
                };
                Ok(Self::Config { subject, level })
            }
            "DELETE_SUBJECT" => {
                let subject = subject.ok_or_else(|| format_error("DELETE_SUBJECT key has no `subject`"))?;
                let version = match value {
                    None => None,
                    Some(bytes) => {
                        let v: DeleteSubjectValueJson = serde_json::from_slice(bytes)
                            .map_err(|e| format_error(format!("DELETE_SUBJECT value: {e}")))?;
                        Some(v.version)
                    }
                };
                Ok(Self::DeleteSubject { subject, version })
            }
            "NOOP" => Ok(Self::Noop),
            other => Ok(Self::Other {
                keytype: other.to_string(),
            }),
        }
    }

    /// A short description for logs, e.g. `SCHEMA s/3`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Schema {
                subject,
                version,
                value,
            } => match value {
                Some(v) => format!(
                    "SCHEMA {subject}/{version} id {}{}",
                    v.id,
                    if v.deleted { " (deleted)" } else { "" }
                ),
                None => format!("SCHEMA {subject}/{version} tombstone"),
            },
            Self::Config { subject, level } => format!(
                "CONFIG {} = {}",
                subject.as_deref().unwrap_or("(global)"),
                level.map_or("(removed)", CompatibilityLevel::as_str)
            ),
            Self::DeleteSubject { subject, version } => match version {
                Some(v) => format!("DELETE_SUBJECT {subject} up to {v}"),
                None => format!("DELETE_SUBJECT {subject} tombstone"),
            },
            Self::Noop => "NOOP".to_string(),
            Self::Other { keytype } => keytype.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    #[test]
    fn schema_records_are_confluents_json() {
        let record = LogRecord::Schema {
            subject: "orders-value".into(),
            version: 1,
            value: Some(SchemaValue {
                subject: "orders-value".into(),
                version: 1,
                id: 7,
                schema_type: SchemaType::Avro,
                references: Vec::new(),
                schema: r#"{"type":"string"}"#.into(),
                deleted: false,
            }),
        };
        let (key, value) = record.encode();
        assert_eq!(
            text(&key),
            r#"{"keytype":"SCHEMA","subject":"orders-value","version":1,"magic":1}"#
        );
        let value = value.unwrap();
        assert_eq!(
            text(&value),
            r#"{"subject":"orders-value","version":1,"id":7,"schema":"{\"type\":\"string\"}","deleted":false}"#
        );
        assert_eq!(LogRecord::decode(&key, Some(&value)).unwrap(), record);
    }

    #[test]
    fn config_delete_subject_and_tombstones_round_trip() {
        let records = [
            LogRecord::Config {
                subject: None,
                level: Some(CompatibilityLevel::Full),
            },
            LogRecord::Config {
                subject: Some("s".into()),
                level: Some(CompatibilityLevel::BackwardTransitive),
            },
            LogRecord::Config {
                subject: Some("s".into()),
                level: None,
            },
            LogRecord::DeleteSubject {
                subject: "s".into(),
                version: Some(3),
            },
            LogRecord::Schema {
                subject: "s".into(),
                version: 2,
                value: None,
            },
            LogRecord::Noop,
        ];
        for record in records {
            let (key, value) = record.encode();
            assert_eq!(
                LogRecord::decode(&key, value.as_deref()).unwrap(),
                record,
                "{}",
                text(&key)
            );
        }
        let (key, value) = LogRecord::Config {
            subject: None,
            level: Some(CompatibilityLevel::Full),
        }
        .encode();
        assert_eq!(text(&key), r#"{"keytype":"CONFIG","subject":null,"magic":0}"#);
        assert_eq!(text(&value.unwrap()), r#"{"compatibilityLevel":"FULL"}"#);
        let (key, value) = LogRecord::DeleteSubject {
            subject: "s".into(),
            version: Some(3),
        }
        .encode();
        assert_eq!(
            text(&key),
            r#"{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}"#
        );
        assert_eq!(text(&value.unwrap()), r#"{"subject":"s","version":3}"#);
    }

    #[test]
    fn decodes_records_written_by_confluent() {
        // As Confluent 7.x writes them: extra fields, no `deleted` on old records.
        let key = br#"{"keytype":"SCHEMA","subject":"t-value","version":2,"magic":1}"#;
        let value = br#"{"subject":"t-value","version":2,"id":12,"schemaType":"AVRO","references":[],"schema":"\"string\"","ts":1700000000000}"#;
        let record = LogRecord::decode(key, Some(value)).unwrap();
        let LogRecord::Schema { value: Some(v), .. } = record else {
            panic!("not a schema record: {record:?}")
        };
        assert_eq!((v.id, v.deleted, v.schema.as_str()), (12, false, "\"string\""));
        assert_eq!((v.schema_type, v.references.len()), (SchemaType::Avro, 0));
        let key = br#"{"keytype":"CONFIG","magic":0}"#;
        let value = br#"{"compatibilityLevel":"NONE","alias":null}"#;
        assert_eq!(
            LogRecord::decode(key, Some(value)).unwrap(),
            LogRecord::Config {
                subject: None,
                level: Some(CompatibilityLevel::None)
            }
        );
        assert_eq!(
            LogRecord::decode(
                br#"{"keytype":"MODE","subject":null,"magic":0}"#,
                Some(br#"{"mode":"READWRITE"}"#)
            )
            .unwrap(),
            LogRecord::Other {
                keytype: "MODE".into()
            }
        );
    }

    #[test]
    fn schema_type_and_references_round_trip() {
        let record = LogRecord::Schema {
            subject: "order".into(),
            version: 2,
            value: Some(SchemaValue {
                subject: "order".into(),
                version: 2,
                id: 9,
                schema_type: SchemaType::Protobuf,
                references: vec![SchemaReference::new("customer.proto", "customer", 3)],
                schema: "syntax = \"proto3\";".into(),
                deleted: true,
            }),
        };
        let (key, value) = record.encode();
        let value = value.unwrap();
        assert_eq!(
            text(&value),
            r#"{"subject":"order","version":2,"id":9,"schemaType":"PROTOBUF","references":[{"name":"customer.proto","subject":"customer","version":3}],"schema":"syntax = \"proto3\";","deleted":true}"#
        );
        assert_eq!(LogRecord::decode(&key, Some(&value)).unwrap(), record);
    }

    #[test]
    fn records_without_type_or_references_read_as_avro() {
        // As this registry wrote them before it kept types and references.
        let key = br#"{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}"#;
        let value = br#"{"subject":"s","version":1,"id":3,"schema":"\"int\"","deleted":false}"#;
        let LogRecord::Schema { value: Some(v), .. } = LogRecord::decode(key, Some(value)).unwrap() else {
            panic!("not a schema record")
        };
        assert_eq!((v.schema_type, v.references.len()), (SchemaType::Avro, 0));
        let value = br#"{"subject":"s","version":1,"id":3,"schemaType":"XML","schema":"<a/>"}"#;
        let err = LogRecord::decode(key, Some(value)).unwrap_err();
        assert!(err.reason.contains("XML"), "{err}");
    }

    #[test]
    fn rejects_malformed_records() {
        assert!(LogRecord::decode(b"not json", None).is_err());
        assert!(LogRecord::decode(br#"{"magic":1}"#, None).is_err());
        assert!(LogRecord::decode(br#"{"keytype":"SCHEMA","subject":"s","magic":1}"#, None).is_err());
        let key = br#"{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}"#;
        let other = br#"{"subject":"t","version":1,"id":1,"schema":"\"int\""}"#;
        assert!(LogRecord::decode(key, Some(other)).is_err());
        let config = br#"{"keytype":"CONFIG","subject":"s","magic":0}"#;
        assert!(LogRecord::decode(config, Some(br#"{"compatibilityLevel":"SIDEWAYS"}"#)).is_err());
    }
}
