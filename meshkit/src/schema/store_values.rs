//! Store values that can evolve: a store that declares the Avro type of its
//! values keeps each one in the Confluent wire format (magic byte, schema
//! id, Avro datum), in RocksDB and in its changelog alike, its schema
//! registered under the changelog's value subject. A value is read with the
//! schema it was written with, resolved to the store's type, so adding a
//! field with a default (or removing one) leaves old state and changelogs
//! readable; a change that could not read them is refused at start.

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::codec::error_text;
use super::gate::{part_subject, register_output, SchemaGateError};
use super::registry::VersionRef;
use super::{Codec, PortSchema, RegistryError, SchemaRegistry, SubjectNameStrategy};

/// The magic byte of the Confluent wire format.
const MAGIC: u8 = 0;

/// A store whose values have a schema, as the gate settled it: the id new
/// values are written with, and every schema its subject holds (the ones
/// old values may have been written with).
#[derive(Debug)]
pub(crate) struct StoreValues {
    subject: String,
    id: u32,
    reader: Schema,
    writers: HashMap<u32, Schema>,
}

impl StoreValues {
    /// The subject its schemas are registered under.
    #[cfg(test)]
    pub(crate) fn subject(&self) -> &str {
        &self.subject
    }

    /// `value` in the wire format, with the store's current schema id.
    pub(crate) fn encode<V: Serialize>(&self, value: &V) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(32);
        out.push(MAGIC);
        out.extend_from_slice(&self.id.to_be_bytes());
        GenericDatumWriter::builder(&self.reader)
            .build()
            .and_then(|writer| writer.write_ser(&mut out, value))
            .map_err(|e| error_text(&e))?;
        Ok(out)
    }

    /// A stored value, read with the schema it was written with and
    /// resolved to the store's type.
    pub(crate) fn decode<V: DeserializeOwned>(&self, bytes: &[u8]) -> Result<V, String> {
        let Some((&MAGIC, rest)) = bytes.split_first() else {
            return Err(format!(
                "the value is not in the registry's wire format (no magic byte 0): it was written \
                 before the store declared a schema for its values (subject `{}`), by an encoding \
                 that cannot evolve; reset the application's state to start this store afresh",
                self.subject
            ));
        };
        let Some((id, mut datum)) = rest.split_first_chunk::<4>() else {
            return Err("the value is shorter than its schema id".to_string());
        };
        let id = u32::from_be_bytes(*id);
        let writer = self.writers.get(&id).ok_or_else(|| {
            format!(
                "the value was written with schema id {id}, which subject `{}` did not hold at start",
                self.subject
            )
        })?;
        let value = GenericDatumReader::builder(writer)
            .reader_schema(&self.reader)
            .build()
            .and_then(|reader| reader.read_value(&mut datum))
            .map_err(|e| error_text(&e))?;
        apache_avro::from_value(&value).map_err(|e| error_text(&e))
    }
}

/// A store the gate checks: its name, changelog topic and value schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GateStore<'a> {
    pub(crate) name: &'a str,
    pub(crate) changelog: &'a str,
    pub(crate) values: &'a PortSchema,
}

/// Checks a store's value type against what its subject holds and
/// registers it: its type must read every schema the subject holds (old
/// values are in the store and its changelog), and the registry must
/// accept it at the subject's compatibility level.
pub(crate) async fn check_store(
    registry: &dyn SchemaRegistry,
    store: GateStore<'_>,
    strategy: SubjectNameStrategy,
    auto_register: bool,
) -> Result<Arc<StoreValues>, SchemaGateError> {
    let codec = store.values.value_codec();
    let (Some(subject), Codec::Avro(avro)) = (part_subject(strategy, store.changelog, codec, false), codec)
    else {
        return Err(SchemaGateError::StoreIncompatible {
            store: store.name.to_string(),
            subject: String::new(),
            reason: "a store's values may declare an Avro type only".to_string(),
        });
    };
    let registry_error = |source| SchemaGateError::Registry {
        subject: subject.clone(),
        source,
    };
    let mut writers = HashMap::new();
    let versions = match registry.versions(&subject).await {
        Ok(versions) => versions,
        Err(RegistryError::SubjectNotFound { .. }) => Vec::new(),
        Err(source) => return Err(registry_error(source)),
    };
    for version in versions {
        let held = registry
            .schema_version(&subject, VersionRef::Number(version), false)
            .await
            .map_err(registry_error)?;
        let incompatible = |reason: String| SchemaGateError::StoreIncompatible {
            store: store.name.to_string(),
            subject: subject.clone(),
            reason: format!("version {version} (id {}): {reason}", held.id),
        };
        let writer = Schema::parse_str(&held.definition.schema).map_err(|e| {
            incompatible(format!(
                "the registered schema cannot be parsed: {}",
                error_text(&e)
            ))
        })?;
        SchemaCompatibility::can_read(&writer, avro.schema()).map_err(|e| {
            incompatible(format!(
                "type `{}` cannot read it: {}",
                avro.type_name(),
                error_text(&e)
            ))
        })?;
        writers.insert(held.id, writer);
    }
    let (id, _) = register_output(registry, &subject, codec, auto_register)
        .await
        .map_err(|err| match err {
            RegistryError::Incompatible { messages, .. } => SchemaGateError::StoreIncompatible {
                store: store.name.to_string(),
                subject: subject.clone(),
                reason: messages.join("; "),
            },
            source => registry_error(source),
        })?;
    writers.insert(id, avro.schema().clone());
    tracing::info!(store = store.name, %subject, id, "store value schema registered");
    Ok(Arc::new(StoreValues {
        subject,
        id,
        reader: avro.schema().clone(),
        writers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::registry::EmbeddedRegistry;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize, apache_avro::AvroSchema)]
    #[serde(rename = "Total")]
    struct V1 {
        count: i64,
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize, apache_avro::AvroSchema)]
    #[serde(rename = "Total")]
    struct V2 {
        count: i64,
        #[avro(default = "0")]
        #[serde(default)]
        sum: i64,
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize, apache_avro::AvroSchema)]
    #[serde(rename = "Total")]
    struct Broken {
        count: String,
    }

    async fn settle<V: crate::schema::AvroType>(
        registry: &EmbeddedRegistry,
    ) -> Result<Arc<StoreValues>, SchemaGateError> {
        let values = PortSchema::avro::<V>();
        let store = GateStore {
            name: "totals",
            changelog: "app-totals-changelog",
            values: &values,
        };
        check_store(registry, store, SubjectNameStrategy::TopicName, true).await
    }

    #[tokio::test]
    async fn old_values_read_after_a_defaulted_field_is_added_and_a_breaking_change_is_refused() {
        let registry = EmbeddedRegistry::in_memory();
        let v1 = settle::<V1>(&registry).await.expect("v1 registers");
        assert_eq!(v1.subject(), "app-totals-changelog-value");
        let old = v1.encode(&V1 { count: 7 }).expect("encodes");
        assert_eq!(
            (old[0], u32::from_be_bytes([old[1], old[2], old[3], old[4]])),
            (0, v1.id)
        );

        let v2 = settle::<V2>(&registry)
            .await
            .expect("a defaulted field is compatible");
        assert_ne!(v2.id, v1.id);
        assert_eq!(
            v2.decode::<V2>(&old).expect("old value read"),
            V2 { count: 7, sum: 0 }
        );
        let new = v2.encode(&V2 { count: 8, sum: 3 }).expect("encodes");
        assert_eq!(
            v2.decode::<V2>(&new).expect("new value read"),
            V2 { count: 8, sum: 3 }
        );

        let err = settle::<Broken>(&registry).await.expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("store `totals`"), "{text}");
        assert!(text.contains("count"), "names the field: {text}");
        assert!(!err.is_retriable());

        let postcard = [3u8, 7];
        let err = v2.decode::<V2>(&postcard).expect_err("not the wire format");
        assert!(err.contains("reset the application's state"), "{err}");
    }
}
