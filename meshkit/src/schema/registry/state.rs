//! [`RegistryState`]: the registry's contents as a pure, synchronous state
//! machine with the semantics of Confluent's Schema Registry for Avro.
//!
//! Every change is split in two steps so that the topic the state is kept in
//! stays the single source of truth:
//! - *decide* (`decide_*`): validate a request against the current state and
//!   produce a [`Plan`]: the [`LogRecord`]s to append and the answer the
//!   request gets once they are accepted;
//! - *apply* ([`RegistryState::apply`]): apply one record of the log. Records
//!   are applied in log order; a `SCHEMA` record that is not consistent with
//!   the state so far is ignored (by every replayer alike), see
//!   [`RegistryState::apply`].
//!
//! Schemas are compared by their identity, see [`super::stored`]. A new
//! version is checked at its subject's compatibility level by the rules of
//! its type: Avro's schema resolution, JSON Schema's required properties and
//! types, Protobuf's messages and field shapes (with the `protobuf` feature;
//! without it, [`RegistryError::Unsupported`] unless there is nothing to
//! check against).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use apache_avro::Schema;

use super::error::RegistryError;
use super::log::{LogRecord, SchemaValue};
use super::model::{
    CompatibilityLevel, CompatibilityReport, RegisteredSchema, SchemaDefinition, SchemaFilter,
    SchemaReference, SchemaType, SchemaVersion, SubjectVersion, VersionRef,
};
use super::stored::{cannot_read, StoredSchema};

/// The outcome of a *decide* step: the records to append, and the answer the
/// request gets once they are all accepted (applied) in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan<T> {
    /// Records to append, in order (empty when nothing changes).
    pub(crate) records: Vec<LogRecord>,
    /// The answer to the request.
    pub(crate) outcome: T,
}

impl<T> Plan<T> {
    /// The same records with the outcome turned into another type.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Plan<U> {
        Plan {
            records: self.records,
            outcome: f(self.outcome),
        }
    }
}

/// What [`RegistryState::apply`] did with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Applied {
    /// The record was consistent with the state and is now part of it.
    Accepted,
    /// The record was ignored; why.
    Ignored(String),
}

impl Applied {
    /// Whether the record was accepted.
    #[cfg(test)]
    pub(crate) fn is_accepted(&self) -> bool {
        matches!(self, Self::Accepted)
    }
}

/// One schema id.
#[derive(Debug, Clone)]
struct IdEntry {
    stored: StoredSchema,
}

/// The `SCHEMA` record value of `version` of `subject`.
fn schema_value(
    subject: &str,
    version: u32,
    id: u32,
    definition: &SchemaDefinition,
    deleted: bool,
) -> SchemaValue {
    SchemaValue {
        subject: subject.to_string(),
        version,
        id,
        schema_type: definition.schema_type,
        references: definition.references.clone(),
        schema: definition.schema.clone(),
        deleted,
    }
}

/// One version of a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct VersionEntry {
    id: u32,
    deleted: bool,
}

/// The registry's contents: schema ids, subjects with their versions, and
/// compatibility levels, with Confluent's semantics. See the module docs.
#[derive(Debug, Clone, Default)]
pub(crate) struct RegistryState {
    /// Schema id → schema, for every id some version (deleted or not) uses.
    ids: BTreeMap<u32, IdEntry>,
    /// Schema identity → id.
    by_identity: HashMap<String, u32>,
    /// The highest id ever seen (ids are not reused, except after a hard
    /// delete has been compacted away).
    max_id: u32,
    /// Subject → version → entry (soft-deleted versions included).
    subjects: BTreeMap<String, BTreeMap<u32, VersionEntry>>,
    /// The global level, if set (default [`CompatibilityLevel::Backward`]).
    global_level: Option<CompatibilityLevel>,
    /// Levels set on subjects.
    subject_levels: BTreeMap<String, CompatibilityLevel>,
}

impl RegistryState {
    /// An empty registry.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    // ----- queries -------------------------------------------------------

    /// `subject`'s versions, the soft-deleted ones only with `include_deleted`.
    fn visible_versions(&self, subject: &str, include_deleted: bool) -> Vec<(u32, VersionEntry)> {
        self.subjects
            .get(subject)
            .map(|vs| {
                vs.iter()
                    .filter(|(_, e)| include_deleted || !e.deleted)
                    .map(|(v, e)| (*v, *e))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn live_versions(&self, subject: &str) -> Vec<(u32, VersionEntry)> {
        self.visible_versions(subject, false)
    }

    fn stored(&self, id: u32) -> Result<&StoredSchema, RegistryError> {
        self.ids
            .get(&id)
            .map(|e| &e.stored)
            .ok_or(RegistryError::SchemaNotFound { id })
    }

    fn schema_version_of(
        &self,
        subject: &str,
        version: u32,
        entry: VersionEntry,
    ) -> Result<SchemaVersion, RegistryError> {
        let stored = self.stored(entry.id)?;
        Ok(
            SchemaVersion::new(subject, version, entry.id, stored.definition.clone())
                .with_deleted(entry.deleted),
        )
    }

    fn subject_not_found(subject: &str) -> RegistryError {
        RegistryError::SubjectNotFound {
            subject: subject.to_string(),
        }
    }

    /// Finds `schema` (Avro) among `subject`'s non-deleted versions (the newest match).
    pub(crate) fn lookup(&self, subject: &str, schema: &str) -> Result<RegisteredSchema, RegistryError> {
        self.lookup_definition(subject, &SchemaDefinition::avro(schema), false)
            .map(RegisteredSchema::from)
    }

    /// Finds `definition` among `subject`'s versions (the newest match), the
    /// soft-deleted ones too with `include_deleted`.
    pub(crate) fn lookup_definition(
        &self,
        subject: &str,
        definition: &SchemaDefinition,
        include_deleted: bool,
    ) -> Result<SchemaVersion, RegistryError> {
        let visible = self.visible_versions(subject, include_deleted);
        if visible.is_empty() {
            return Err(Self::subject_not_found(subject));
        }
        let stored = StoredSchema::new(definition.clone())?;
        let not_in_subject = || RegistryError::SchemaNotInSubject {
            subject: subject.to_string(),
        };
        let id = *self
            .by_identity
            .get(&stored.identity)
            .ok_or_else(not_in_subject)?;
        match visible.iter().rev().find(|(_, e)| e.id == id) {
            Some((v, e)) => self.schema_version_of(subject, *v, *e),
            None => Err(not_in_subject()),
        }
    }

    /// The schema text with global id `id` (also when only soft-deleted
    /// versions use it).
    pub(crate) fn schema_by_id(&self, id: u32) -> Result<String, RegistryError> {
        self.stored(id).map(|s| s.definition.schema.clone())
    }

    /// The schema with global id `id`, with its type and references.
    pub(crate) fn schema_definition_by_id(&self, id: u32) -> Result<SchemaDefinition, RegistryError> {
        self.stored(id).map(|s| s.definition.clone())
    }

    /// The versions that hold schema `id`, by subject then version; the
    /// soft-deleted ones only with `include_deleted`.
    pub(crate) fn subject_versions_by_id(
        &self,
        id: u32,
        include_deleted: bool,
    ) -> Result<Vec<SubjectVersion>, RegistryError> {
        self.stored(id)?;
        Ok(self
            .subjects
            .iter()
            .flat_map(|(s, vs)| vs.iter().map(move |(v, e)| (s, *v, *e)))
            .filter(|(_, _, e)| e.id == id && (include_deleted || !e.deleted))
            .map(|(s, v, _)| SubjectVersion::new(s.clone(), v))
            .collect())
    }

    /// Subjects with at least one non-deleted version, sorted.
    pub(crate) fn subjects(&self) -> Vec<String> {
        self.list_subjects(false)
    }

    /// Subjects, sorted; with `include_deleted` also those whose versions are
    /// all soft-deleted.
    pub(crate) fn list_subjects(&self, include_deleted: bool) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(_, vs)| vs.values().any(|e| include_deleted || !e.deleted))
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// The non-deleted versions of `subject`, ascending.
    pub(crate) fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        self.list_versions(subject, false)
    }

    /// The versions of `subject`, ascending, the soft-deleted ones only with
    /// `include_deleted`.
    pub(crate) fn list_versions(
        &self,
        subject: &str,
        include_deleted: bool,
    ) -> Result<Vec<u32>, RegistryError> {
        let visible: Vec<u32> = self
            .visible_versions(subject, include_deleted)
            .into_iter()
            .map(|(v, _)| v)
            .collect();
        if visible.is_empty() {
            return Err(Self::subject_not_found(subject));
        }
        Ok(visible)
    }

    /// One non-deleted version of `subject`.
    pub(crate) fn version(
        &self,
        subject: &str,
        version: VersionRef,
    ) -> Result<RegisteredSchema, RegistryError> {
        self.schema_version(subject, version, false)
            .map(RegisteredSchema::from)
    }

    /// One version of `subject`: `Latest` is the latest live one; a number
    /// may name a soft-deleted version with `include_deleted`. As Confluent:
    /// 40401 when the subject has no version visible, else 40402.
    pub(crate) fn schema_version(
        &self,
        subject: &str,
        version: VersionRef,
        include_deleted: bool,
    ) -> Result<SchemaVersion, RegistryError> {
        let (number, entry) = self.resolve_version(subject, version, include_deleted)?;
        self.schema_version_of(subject, number, entry)
    }

    fn resolve_version(
        &self,
        subject: &str,
        version: VersionRef,
        include_deleted: bool,
    ) -> Result<(u32, VersionEntry), RegistryError> {
        let visible = self.visible_versions(subject, include_deleted);
        if visible.is_empty() {
            return Err(Self::subject_not_found(subject));
        }
        let found = match version {
            VersionRef::Latest => visible.iter().rev().find(|(_, e)| !e.deleted),
            VersionRef::Number(n) => visible.iter().find(|(v, _)| *v == n),
        };
        found.copied().ok_or_else(|| RegistryError::VersionNotFound {
            subject: subject.to_string(),
            version: match version {
                VersionRef::Latest => "latest".to_string(),
                VersionRef::Number(n) => n.to_string(),
            },
        })
    }

    /// The versions `filter` selects, by subject then version.
    pub(crate) fn schemas(&self, filter: &SchemaFilter) -> Result<Vec<SchemaVersion>, RegistryError> {
        let mut out = Vec::new();
        for subject in self.subjects.keys().filter(|s| filter.matches_subject(s)) {
            let visible = self.visible_versions(subject, filter.includes_deleted());
            let chosen = if filter.is_latest_only() {
                &visible[visible.len().saturating_sub(1)..]
            } else {
                &visible[..]
            };
            for (v, e) in chosen {
                out.push(self.schema_version_of(subject, *v, *e)?);
            }
        }
        Ok(out)
    }

    /// The ids of the schemas that refer to `version` of `subject`
    /// (ascending), those used only by soft-deleted versions only with
    /// `include_deleted`. The version itself may be soft-deleted, as Confluent allows.
    pub(crate) fn referenced_by(
        &self,
        subject: &str,
        version: VersionRef,
        include_deleted: bool,
    ) -> Result<Vec<u32>, RegistryError> {
        let (number, _) = self.resolve_version(subject, version, true)?;
        Ok(self.referrers(subject, number, include_deleted))
    }

    fn referrers(&self, subject: &str, version: u32, include_deleted: bool) -> Vec<u32> {
        self.ids
            .iter()
            .filter(|(_, e)| {
                e.stored
                    .definition
                    .references
                    .iter()
                    .any(|r| r.subject == subject && r.version == version)
            })
            .map(|(id, _)| *id)
            .filter(|id| include_deleted || self.is_live_id(*id))
            .collect()
    }

    fn is_live_id(&self, id: u32) -> bool {
        self.subjects
            .values()
            .any(|vs| vs.values().any(|e| e.id == id && !e.deleted))
    }

    /// The level that applies to `subject` (its own, else the global one),
    /// or the global level for `None`.
    pub(crate) fn compatibility_level(&self, subject: Option<&str>) -> CompatibilityLevel {
        subject
            .and_then(|s| self.subject_levels.get(s).copied())
            .or(self.global_level)
            .unwrap_or_default()
    }

    /// The level set on `subject` itself, if any.
    pub(crate) fn subject_compatibility_level(&self, subject: &str) -> Option<CompatibilityLevel> {
        self.subject_levels.get(subject).copied()
    }

    // ----- references and parsing -----------------------------------------

    /// Checks that each of a new schema's `references` names a live version.
    fn check_references(&self, references: &[SchemaReference]) -> Result<(), RegistryError> {
        for r in references {
            if r.name.trim().is_empty() || r.subject.is_empty() || r.version == 0 {
                return Err(RegistryError::InvalidSchema {
                    reason: format!(
                        "invalid reference {{name: {:?}, subject: {:?}, version: {}}}: each needs a name, a subject and a version from 1",
                        r.name, r.subject, r.version
                    ),
                });
            }
            let live = self
                .subjects
                .get(&r.subject)
                .and_then(|vs| vs.get(&r.version))
                .is_some_and(|e| !e.deleted);
            if !live {
                return Err(RegistryError::ReferenceNotFound {
                    subject: r.subject.clone(),
                    version: i64::from(r.version),
                });
            }
        }
        Ok(())
    }

    /// The texts of the schemas `references` name, transitively, each after
    /// the ones it refers to (the order Avro's parser needs).
    fn referenced_texts(&self, references: &[SchemaReference]) -> Result<Vec<String>, RegistryError> {
        let mut texts = Vec::new();
        self.collect_referenced(references, &mut HashSet::new(), &mut texts)?;
        Ok(texts)
    }

    fn collect_referenced(
        &self,
        references: &[SchemaReference],
        seen: &mut HashSet<(String, u32)>,
        texts: &mut Vec<String>,
    ) -> Result<(), RegistryError> {
        for r in references {
            if !seen.insert((r.subject.clone(), r.version)) {
                continue;
            }
            let stored = self
                .subjects
                .get(&r.subject)
                .and_then(|vs| vs.get(&r.version))
                .and_then(|e| self.ids.get(&e.id))
                .map(|e| &e.stored)
                .ok_or_else(|| RegistryError::ReferenceNotFound {
                    subject: r.subject.clone(),
                    version: i64::from(r.version),
                })?;
            self.collect_referenced(&stored.definition.references, seen, texts)?;
            texts.push(stored.definition.schema.clone());
        }
        Ok(())
    }

    /// The parsed Avro form of `stored` (its references resolved against
    /// this state), or `None` for other types.
    fn avro_of<'s>(&self, stored: &'s StoredSchema) -> Result<Option<Cow<'s, Schema>>, RegistryError> {
        let referenced = if stored.avro.is_none() && stored.definition.schema_type == SchemaType::Avro {
            self.referenced_texts(&stored.definition.references)?
        } else {
            Vec::new()
        };
        stored.avro_with(&referenced)
    }

    // ----- compatibility ----------------------------------------------------

    /// Checks `new` against `targets` (version, id), newest first, at `level`;
    /// returns what broke.
    fn incompatibilities(
        &self,
        subject: &str,
        new: &StoredSchema,
        level: CompatibilityLevel,
        targets: &[(u32, VersionEntry)],
    ) -> Result<Vec<String>, RegistryError> {
        use CompatibilityLevel as L;
        let (backward, forward) = match level {
            L::Backward | L::BackwardTransitive => (true, false),
            L::Forward | L::ForwardTransitive => (false, true),
            L::Full | L::FullTransitive => (true, true),
            _ => (false, false),
        };
        let mut messages = Vec::new();
        for (version, entry) in targets.iter().rev() {
            let Some(old) = self.ids.get(&entry.id).map(|e| &e.stored) else {
                continue;
            };
            let (old_type, new_type) = (old.definition.schema_type, new.definition.schema_type);
            if old_type != new_type {
                messages.push(format!(
                    "{level}: version {version} of subject '{subject}' (schema id {}) is {old_type}, the new schema {new_type}: Incompatible because of different schema type",
                    entry.id
                ));
                continue;
            }
            if backward {
                if let Some(why) = self.cannot_read(old, new)? {
                    messages.push(format!(
                        "{level}: the new schema cannot read data written with version {version} of subject '{subject}' (schema id {}): {why}",
                        entry.id
                    ));
                }
            }
            if forward {
                if let Some(why) = self.cannot_read(new, old)? {
                    messages.push(format!(
                        "{level}: version {version} of subject '{subject}' (schema id {}) cannot read data written with the new schema: {why}",
                        entry.id
                    ));
                }
            }
        }
        Ok(messages)
    }

    /// Why a reader with schema `reader` cannot read what a writer with
    /// `writer` (of the same type) writes, by the rules of their type.
    fn cannot_read(
        &self,
        writer: &StoredSchema,
        reader: &StoredSchema,
    ) -> Result<Option<String>, RegistryError> {
        let invalid = |reason: String| RegistryError::InvalidSchema { reason };
        match reader.definition.schema_type {
            SchemaType::Avro => {
                let (Some(writer), Some(reader)) = (self.avro_of(writer)?, self.avro_of(reader)?) else {
                    return Ok(None);
                };
                Ok(cannot_read(&writer, &reader))
            }
            SchemaType::Json => {
                let parse = |s: &StoredSchema| {
                    serde_json::from_str::<serde_json::Value>(&s.definition.schema)
                        .map_err(|e| invalid(e.to_string()))
                };
                Ok(crate::schema::json_cannot_read(&parse(writer)?, &parse(reader)?))
            }
            #[cfg(feature = "protobuf")]
            SchemaType::Protobuf => {
                crate::schema::file_cannot_read(&writer.definition.schema, &reader.definition.schema)
                    .map_err(|e| invalid(e.to_string()))
            }
            #[cfg(not(feature = "protobuf"))]
            SchemaType::Protobuf => Err(RegistryError::unsupported(
                "checking the compatibility of PROTOBUF schemas (meshkit's `protobuf` feature is off); \
                 set the subject to compatibility level NONE to register further versions",
            )),
        }
    }

    /// The versions a new schema for `subject` is checked against at `level`:
    /// the latest non-deleted one, or all of them for transitive levels.
    fn targets_for(&self, subject: &str, level: CompatibilityLevel) -> Vec<(u32, VersionEntry)> {
        let live = self.live_versions(subject);
        match level {
            CompatibilityLevel::None => Vec::new(),
            CompatibilityLevel::BackwardTransitive
            | CompatibilityLevel::ForwardTransitive
            | CompatibilityLevel::FullTransitive => live,
            _ => live.last().copied().into_iter().collect(),
        }
    }

    /// Whether `schema` (Avro) may be registered under `subject`; see
    /// [`check_definition_compatibility`](Self::check_definition_compatibility).
    pub(crate) fn check_compatibility(
        &self,
        subject: &str,
        schema: &str,
        version: VersionRef,
    ) -> Result<CompatibilityReport, RegistryError> {
        self.check_definition_compatibility(subject, &SchemaDefinition::avro(schema), version)
    }

    /// Whether `definition` may be registered under `subject`, checked
    /// against `version` (a number: that version alone; `Latest`: the latest
    /// version, or every version for transitive levels) at the subject's
    /// level. A subject without versions accepts any valid schema at `Latest`.
    pub(crate) fn check_definition_compatibility(
        &self,
        subject: &str,
        definition: &SchemaDefinition,
        version: VersionRef,
    ) -> Result<CompatibilityReport, RegistryError> {
        self.check_references(&definition.references)?;
        let stored = StoredSchema::new(definition.clone())?;
        let level = self.compatibility_level(Some(subject));
        let targets = match version {
            VersionRef::Latest => self.targets_for(subject, level),
            VersionRef::Number(_) => vec![self.resolve_version(subject, version, false)?],
        };
        let messages = self.incompatibilities(subject, &stored, level, &targets)?;
        Ok(CompatibilityReport {
            is_compatible: messages.is_empty(),
            messages,
        })
    }

    // ----- decide --------------------------------------------------------

    /// Decides registering `schema` (Avro) under `subject`; see
    /// [`decide_register_definition`](Self::decide_register_definition).
    pub(crate) fn decide_register(
        &self,
        subject: &str,
        schema: &str,
    ) -> Result<Plan<RegisteredSchema>, RegistryError> {
        self.decide_register_definition(subject, &SchemaDefinition::avro(schema))
            .map(|plan| plan.map(RegisteredSchema::from))
    }

    /// Decides registering `definition` under `subject`: the existing version
    /// if the subject already has it (no records), else (its references
    /// checked, Avro parsed with them) a compatibility check at the subject's
    /// level and a `SCHEMA` record for the next version, with the schema's
    /// existing id or a new one.
    pub(crate) fn decide_register_definition(
        &self,
        subject: &str,
        definition: &SchemaDefinition,
    ) -> Result<Plan<SchemaVersion>, RegistryError> {
        self.check_references(&definition.references)?;
        let stored = StoredSchema::new(definition.clone())?;
        // Parsing with the references is the validity check of Avro with references.
        self.avro_of(&stored)?;
        let existing_id = self.by_identity.get(&stored.identity).copied();
        let live = self.live_versions(subject);
        if let Some(id) = existing_id {
            if let Some((v, e)) = live.iter().rev().find(|(_, e)| e.id == id) {
                return Ok(Plan {
                    records: Vec::new(),
                    outcome: self.schema_version_of(subject, *v, *e)?,
                });
            }
        }
        let level = self.compatibility_level(Some(subject));
        let messages = self.incompatibilities(subject, &stored, level, &self.targets_for(subject, level))?;
        if !messages.is_empty() {
            return Err(RegistryError::Incompatible {
                subject: subject.to_string(),
                messages,
            });
        }
        // The same schema keeps the text it was first registered with.
        let (id, definition) = match existing_id.and_then(|id| self.ids.get(&id).map(|e| (id, e))) {
            Some((id, e)) => (id, e.stored.definition.clone()),
            None => (self.next_id()?, stored.definition),
        };
        let version = self.next_version(subject)?;
        let value = schema_value(subject, version, id, &definition, false);
        Ok(Plan {
            records: vec![LogRecord::Schema {
                subject: subject.to_string(),
                version,
                value: Some(value),
            }],
            outcome: SchemaVersion::new(subject, version, id, definition),
        })
    }

    fn next_version(&self, subject: &str) -> Result<u32, RegistryError> {
        self.subjects
            .get(subject)
            .and_then(|vs| vs.keys().next_back().copied())
            .unwrap_or(0)
            .checked_add(1)
            .filter(|v| *v <= i32::MAX as u32)
            .ok_or_else(|| RegistryError::InvalidVersion {
                version: "next version exceeds 2^31-1".to_string(),
            })
    }
    fn next_id(&self) -> Result<u32, RegistryError> {
        self.max_id
            .checked_add(1)
            .filter(|id| *id <= i32::MAX as u32)
            .ok_or_else(|| RegistryError::Unavailable {
                reason: "schema ids exhausted".to_string(),
                source: None,
            })
    }

    /// Decides deleting `subject`: soft (a `DELETE_SUBJECT` record, plus a
    /// tombstone for the subject's own level, as Confluent does) or, for an
    /// already soft-deleted subject, permanent (a tombstone per version).
    /// The outcome is the versions deleted.
    pub(crate) fn decide_delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<Plan<Vec<u32>>, RegistryError> {
        let versions = match self.subjects.get(subject) {
            Some(vs) if !vs.is_empty() => vs,
            _ => {
                return Err(RegistryError::SubjectNotFound {
                    subject: subject.to_string(),
                })
            }
        };
        let live: Vec<u32> = versions
            .iter()
            .filter(|(_, e)| !e.deleted)
            .map(|(v, _)| *v)
            .collect();
        let mut records = Vec::new();
        let outcome = if permanent {
            if !live.is_empty() {
                return Err(RegistryError::SubjectNotSoftDeleted {
                    subject: subject.to_string(),
                });
            }
            self.refuse_if_referenced(subject, versions.keys().copied(), true)?;
            for v in versions.keys() {
                records.push(LogRecord::Schema {
                    subject: subject.to_string(),
                    version: *v,
                    value: None,
                });
            }
            versions.keys().copied().collect()
        } else {
            self.refuse_if_referenced(subject, live.iter().copied(), false)?;
            let Some(&last) = live.last() else {
                return Err(RegistryError::SubjectSoftDeleted {
                    subject: subject.to_string(),
                });
            };
            records.push(LogRecord::DeleteSubject {
                subject: subject.to_string(),
                version: Some(last),
            });
            live
        };
        if self.subject_levels.contains_key(subject) {
            records.push(LogRecord::Config {
                subject: Some(subject.to_string()),
                level: None,
            });
        }
        Ok(Plan { records, outcome })
    }

    /// Decides deleting one version: soft (a `SCHEMA` record with
    /// `deleted: true`) or, for a soft-deleted version, permanent (a
    /// tombstone). `Latest` is the latest non-deleted version for a soft
    /// delete and the latest version of all for a permanent one.
    pub(crate) fn decide_delete_version(
        &self,
        subject: &str,
        version: VersionRef,
        permanent: bool,
    ) -> Result<Plan<u32>, RegistryError> {
        let not_found = || RegistryError::SubjectNotFound {
            subject: subject.to_string(),
        };
        let versions = self
            .subjects
            .get(subject)
            .filter(|vs| !vs.is_empty())
            .ok_or_else(not_found)?;
        let (number, entry) = match version {
            VersionRef::Latest if permanent => versions
                .iter()
                .next_back()
                .map(|(v, e)| (*v, *e))
                .ok_or_else(not_found)?,
            VersionRef::Latest => versions
                .iter()
                .rev()
                .find(|(_, e)| !e.deleted)
                .map(|(v, e)| (*v, *e))
                .ok_or_else(not_found)?,
            VersionRef::Number(n) => {
                versions
                    .get(&n)
                    .map(|e| (n, *e))
                    .ok_or_else(|| RegistryError::VersionNotFound {
                        subject: subject.to_string(),
                        version: n.to_string(),
                    })?
            }
        };
        self.refuse_if_referenced(subject, [number], permanent)?;
        let record = if permanent {
            if !entry.deleted {
                return Err(RegistryError::VersionNotSoftDeleted {
                    subject: subject.to_string(),
                    version: number,
                });
            }
            LogRecord::Schema {
                subject: subject.to_string(),
                version: number,
                value: None,
            }
        } else {
            if entry.deleted {
                return Err(RegistryError::VersionSoftDeleted {
                    subject: subject.to_string(),
                    version: number,
                });
            }
            // The soft delete rewrites the record: it keeps the type and references.
            let definition = &self.stored(entry.id)?.definition;
            LogRecord::Schema {
                subject: subject.to_string(),
                version: number,
                value: Some(schema_value(subject, number, entry.id, definition, true)),
            }
        };
        Ok(Plan {
            records: vec![record],
            outcome: number,
        })
    }

    /// [`RegistryError::ReferenceExists`] if another schema refers to one of
    /// `versions` of `subject`: for a soft delete, a schema some live version
    /// uses; for a permanent one, any (a soft delete can be undone by
    /// re-registering, a permanent one cannot), as Confluent does.
    fn refuse_if_referenced(
        &self,
        subject: &str,
        versions: impl IntoIterator<Item = u32>,
        permanent: bool,
    ) -> Result<(), RegistryError> {
        for version in versions {
            if !self.referrers(subject, version, permanent).is_empty() {
                return Err(RegistryError::ReferenceExists {
                    subject: subject.to_string(),
                    version,
                });
            }
        }
        Ok(())
    }

    /// Decides setting the level of `subject` (or the global one for `None`).
    pub(crate) fn decide_set_level(
        &self,
        subject: Option<&str>,
        level: CompatibilityLevel,
    ) -> Plan<CompatibilityLevel> {
        Plan {
            records: vec![LogRecord::Config {
                subject: subject.map(str::to_string),
                level: Some(level),
            }],
            outcome: level,
        }
    }

    /// The record that undoes the effect a rejected `SCHEMA` record would have
    /// after log compaction (which keeps only the newest record of each key):
    /// the accepted value of the same key, or a tombstone if the key has
    /// none. `None` for other records (they are never rejected).
    pub(crate) fn repair_for(&self, rejected: &LogRecord) -> Option<LogRecord> {
        let LogRecord::Schema { subject, version, .. } = rejected else {
            return None;
        };
        let value = self
            .subjects
            .get(subject)
            .and_then(|vs| vs.get(version))
            .and_then(|e| {
                self.ids
                    .get(&e.id)
                    .map(|id| schema_value(subject, *version, e.id, &id.stored.definition, e.deleted))
            });
        Some(LogRecord::Schema {
            subject: subject.clone(),
            version: *version,
            value,
        })
    }

    // ----- apply ---------------------------------------------------------

    /// Applies one record of the log.
    ///
    /// The replay rule: a `SCHEMA` record is accepted only if it is
    /// consistent with the state so far: its id is unused or already names
    /// the identical schema (and the schema has no other id), and its version
    /// is free or holds the identical schema already (a repeat, or a soft
    /// delete). Soft-deleted versions are not revived by a repeat. A
    /// tombstone removes a soft-deleted version (a live one is left alone).
    /// `CONFIG` and `DELETE_SUBJECT` records always apply. Because the rule
    /// depends only on the records before, every replayer agrees on which
    /// records were accepted.
    pub(crate) fn apply(&mut self, record: &LogRecord) -> Applied {
        match record {
            LogRecord::Schema {
                subject,
                version,
                value: Some(value),
            } => self.apply_schema(subject, *version, value),
            LogRecord::Schema {
                subject,
                version,
                value: None,
            } => self.apply_tombstone(subject, *version),
            LogRecord::Config { subject, level } => {
                match (subject, level) {
                    (None, level) => self.global_level = *level,
                    (Some(s), Some(level)) => {
                        self.subject_levels.insert(s.clone(), *level);
                    }
                    (Some(s), None) => {
                        self.subject_levels.remove(s);
                    }
                }
                Applied::Accepted
            }
            LogRecord::DeleteSubject {
                subject,
                version: Some(up_to),
            } => {
                if let Some(vs) = self.subjects.get_mut(subject) {
                    for (_, e) in vs.range_mut(..=*up_to) {
                        e.deleted = true;
                    }
                }
                Applied::Accepted
            }
            LogRecord::DeleteSubject { version: None, .. } | LogRecord::Noop => Applied::Accepted,
            LogRecord::Other { keytype } => {
                Applied::Ignored(format!("key type {keytype} is not used by this registry"))
            }
        }
    }

    fn apply_schema(&mut self, subject: &str, version: u32, value: &SchemaValue) -> Applied {
        if value.subject != subject || value.version != version {
            return Applied::Ignored("value does not match its key".to_string());
        }
        if version == 0 || value.id == 0 {
            return Applied::Ignored("version and id start at 1".to_string());
        }
        // References are not resolved here: after compaction a schema may
        // come before the versions it refers to.
        let definition = SchemaDefinition::new(value.schema_type, value.schema.clone())
            .with_references(value.references.clone());
        let stored = match StoredSchema::new(definition) {
            Ok(p) => p,
            Err(e) => return Applied::Ignored(e.to_string()),
        };
        if let Some(entry) = self.ids.get(&value.id) {
            if entry.stored.identity != stored.identity {
                return Applied::Ignored(format!("id {} already names another schema", value.id));
            }
        }
        if let Some(&other) = self.by_identity.get(&stored.identity) {
            if other != value.id {
                return Applied::Ignored(format!("the schema already has id {other}, not {}", value.id));
            }
        }
        let slot = self
            .subjects
            .get(subject)
            .and_then(|vs| vs.get(&version))
            .copied();
        match slot {
            Some(entry) if entry.id != value.id => {
                return Applied::Ignored(format!(
                    "version {version} of subject '{subject}' already holds schema id {}",
                    entry.id
                ))
            }
            Some(entry) if entry.deleted && !value.deleted => {
                return Applied::Ignored(format!(
                    "version {version} of subject '{subject}' is soft-deleted; it is not revived"
                ))
            }
            _ => {}
        }
        let id = value.id;
        if !self.ids.contains_key(&id) {
            self.by_identity.insert(stored.identity.clone(), id);
            self.ids.insert(id, IdEntry { stored });
        }
        self.max_id = self.max_id.max(id);
        let entry = self
            .subjects
            .entry(subject.to_string())
            .or_default()
            .entry(version)
            .or_insert(VersionEntry {
                id,
                deleted: value.deleted,
            });
        entry.deleted |= value.deleted;
        Applied::Accepted
    }

    fn apply_tombstone(&mut self, subject: &str, version: u32) -> Applied {
        let Some(vs) = self.subjects.get_mut(subject) else {
            return Applied::Accepted;
        };
        let Some(entry) = vs.get(&version).copied() else {
            return Applied::Accepted;
        };
        if !entry.deleted {
            return Applied::Ignored(format!(
                "version {version} of subject '{subject}' is not soft-deleted; a hard delete needs a soft delete first"
            ));
        }
        vs.remove(&version);
        if vs.is_empty() {
            self.subjects.remove(subject);
        }
        let still_used = self
            .subjects
            .values()
            .any(|vs| vs.values().any(|e| e.id == entry.id));
        if !still_used {
            if let Some(gone) = self.ids.remove(&entry.id) {
                self.by_identity.remove(&gone.stored.identity);
            }
        }
        Applied::Accepted
    }

    /// Applies every record of `plan` (for a registry that owns its state
    /// alone, e.g. in memory); the outcome if all were accepted.
    pub(crate) fn commit<T>(&mut self, plan: Plan<T>) -> Result<T, RegistryError> {
        for record in &plan.records {
            if let Applied::Ignored(why) = self.apply(record) {
                return Err(RegistryError::Unavailable {
                    reason: format!(
                        "internal error: own record {} was rejected: {why}",
                        record.describe()
                    ),
                    source: None,
                });
            }
        }
        Ok(plan.outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CompatibilityLevel as L;

    /// A record schema `R` with fields `f0..fn`; fields from `first_default` on have defaults.
    fn rec(fields: &[(&str, &str, Option<&str>)]) -> String {
        let fields: Vec<String> = fields
            .iter()
            .map(|(name, ty, default)| match default {
                Some(d) => format!(r#"{{"name":"{name}","type":"{ty}","default":{d}}}"#),
                None => format!(r#"{{"name":"{name}","type":"{ty}"}}"#),
            })
            .collect();
        format!(
            r#"{{"type":"record","name":"R","fields":[{}]}}"#,
            fields.join(",")
        )
    }

    fn register(
        state: &mut RegistryState,
        subject: &str,
        schema: &str,
    ) -> Result<RegisteredSchema, RegistryError> {
        let plan = state.decide_register(subject, schema)?;
        state.commit(plan)
    }

    fn set_level(state: &mut RegistryState, subject: Option<&str>, level: L) {
        let plan = state.decide_set_level(subject, level);
        state.commit(plan).unwrap();
    }

    #[test]
    fn ids_are_global_and_shared_across_subjects() {
        let mut st = RegistryState::new();
        let a = register(&mut st, "a", r#""string""#).unwrap();
        let b = register(&mut st, "b", r#"{"type": "string"}"#).unwrap();
        let c = register(&mut st, "c", r#""long""#).unwrap();
        assert_eq!((a.id, a.version), (1, 1));
        assert_eq!(
            (b.id, b.version),
            (1, 1),
            "the same schema has the same id in every subject"
        );
        assert_eq!((c.id, c.version), (2, 1));
        assert_eq!(st.schema_by_id(1).unwrap(), r#""string""#);
        assert_eq!(st.subjects(), vec!["a", "b", "c"]);
        // Whitespace and attribute order do not matter; a default does.
        let r1 = rec(&[("f0", "int", None)]);
        let r1_spaced = r#"{ "name": "R", "fields": [ {"type": "int", "name": "f0"} ], "type": "record" }"#;
        let x = register(&mut st, "x", &r1).unwrap();
        let y = register(&mut st, "y", r1_spaced).unwrap();
        assert_eq!(x.id, y.id);
        let with_default = rec(&[("f0", "int", Some("0"))]);
        let z = register(&mut st, "x", &with_default).unwrap();
        assert_ne!(z.id, x.id, "adding a default is a new schema, as in Confluent");
        assert_eq!(z.version, 2);
    }

    #[test]
    fn re_registering_is_idempotent() {
        let mut st = RegistryState::new();
        let first = register(&mut st, "s", &rec(&[("f0", "int", None)])).unwrap();
        let plan = st.decide_register("s", &rec(&[("f0", "int", None)])).unwrap();
        assert!(plan.records.is_empty(), "no record for a schema the subject has");
        assert_eq!(plan.outcome, first);
        assert_eq!(st.versions("s").unwrap(), vec![1]);
        assert_eq!(st.lookup("s", &rec(&[("f0", "int", None)])).unwrap(), first);
        assert!(matches!(
            st.lookup("s", r#""int""#),
            Err(RegistryError::SchemaNotInSubject { .. })
        ));
        assert!(matches!(
            st.lookup("nope", r#""int""#),
            Err(RegistryError::SubjectNotFound { .. })
        ));
    }

    #[test]
    fn invalid_schemas_are_rejected() {
        let mut st = RegistryState::new();
        for bad in ["", "{", r#"{"type":"record","name":"R"}"#, r#""nosuchtype""#] {
            assert!(
                matches!(
                    register(&mut st, "s", bad),
                    Err(RegistryError::InvalidSchema { .. })
                ),
                "{bad}"
            );
        }
        assert!(st.subjects().is_empty());
    }

    /// v1: {a}; v2: {a, b=0}; v3: {b=0} (a removed).
    fn history(level: L) -> (RegistryState, [String; 3]) {
        let mut st = RegistryState::new();
        set_level(&mut st, Some("s"), L::None);
        let v = [
            rec(&[("a", "int", None)]),
            rec(&[("a", "int", None), ("b", "int", Some("0"))]),
            rec(&[("b", "int", Some("0"))]),
        ];
        for s in &v {
            register(&mut st, "s", s).unwrap();
        }
        set_level(&mut st, Some("s"), level);
        (st, v)
    }

    #[test]
    fn backward_checks_that_the_new_schema_reads_the_latest() {
        let (mut st, _) = history(L::Backward);
        // New field without default: the new schema cannot read v3's data.
        let err = register(&mut st, "s", &rec(&[("b", "int", Some("0")), ("c", "int", None)])).unwrap_err();
        let RegistryError::Incompatible { subject, messages } = err else {
            panic!("{err:?}")
        };
        assert_eq!(subject, "s");
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].contains("version 3"), "{}", messages[0]);
        assert!(messages[0].contains("'c'"), "names the field: {}", messages[0]);
        assert!(messages[0].contains("BACKWARD"), "{}", messages[0]);
        // Reading v3 only: {b} without a is fine even though v1 has no b default... (not transitive)
        assert!(register(
            &mut st,
            "s",
            &rec(&[("b", "int", Some("0")), ("c", "int", Some("1"))])
        )
        .is_ok());
    }

    #[test]
    fn backward_transitive_checks_every_version() {
        // Candidate {a} (a without default): reads v1 {a}; cannot read v3 {b}
        // (a missing, no default); v2 {a,b} fine.
        let (st, _) = history(L::BackwardTransitive);
        let report = st
            .check_compatibility("s", &rec(&[("a", "int", None)]), VersionRef::Latest)
            .unwrap();
        assert!(!report.is_compatible);
        assert_eq!(report.messages.len(), 1, "{:?}", report.messages);
        assert!(report.messages[0].contains("version 3"));
        // Candidate {b=0, c=int no default}: cannot read v1, v2, v3 (c missing).
        let report = st
            .check_compatibility(
                "s",
                &rec(&[("b", "int", Some("0")), ("c", "int", None)]),
                VersionRef::Latest,
            )
            .unwrap();
        assert_eq!(report.messages.len(), 3, "{:?}", report.messages);
        // Candidate {a=0 with default, b=0}: reads all three.
        let ok = rec(&[("a", "int", Some("0")), ("b", "int", Some("0"))]);
        assert!(
            st.check_compatibility("s", &ok, VersionRef::Latest)
                .unwrap()
                .is_compatible
        );
        // Non-transitive BACKWARD would accept {b, c=1} against v3 only; transitive
        // also needs to read v1 {a}: fine (b default, c default). And {a}: v3 fails.
        let (st_plain, _) = history(L::Backward);
        let cand = rec(&[("a", "int", Some("5"))]);
        assert!(
            st_plain
                .check_compatibility("s", &cand, VersionRef::Latest)
                .unwrap()
                .is_compatible
        );
    }

    #[test]
    fn forward_and_forward_transitive() {
        // FORWARD: the latest (v3 {b=0}) must read data of the new schema.
        let (mut st, _) = history(L::Forward);
        // New {a}: v3 reading {a}-data: b has a default → fine.
        let new_a = rec(&[("a", "int", None)]);
        assert!(
            st.check_compatibility("s", &new_a, VersionRef::Latest)
                .unwrap()
                .is_compatible
        );
        // New {c}: v3 reads: b default → fine; forward transitive: v1 {a} reading {c}: a missing, no default.
        let new_c = rec(&[("c", "int", None)]);
        assert!(
            st.check_compatibility("s", &new_c, VersionRef::Latest)
                .unwrap()
                .is_compatible
        );
        set_level(&mut st, Some("s"), L::ForwardTransitive);
        let report = st.check_compatibility("s", &new_c, VersionRef::Latest).unwrap();
        assert!(!report.is_compatible);
        // v1 {a} and v2 {a, b=0} both need `a`.
        assert_eq!(report.messages.len(), 2, "{:?}", report.messages);
        assert!(report
            .messages
            .iter()
            .any(|m| m.contains("version 1") && m.contains("'a'")));
        assert!(matches!(
            register(&mut st, "s", &new_c),
            Err(RegistryError::Incompatible { .. })
        ));
        // A type change that v3 cannot read: b as string.
        set_level(&mut st, Some("s"), L::Forward);
        let report = st
            .check_compatibility("s", &rec(&[("b", "string", Some("\"x\""))]), VersionRef::Latest)
            .unwrap();
        assert!(!report.is_compatible);
        assert!(report.messages[0].contains("'b'"), "{:?}", report.messages);
    }

    #[test]
    fn full_and_full_transitive() {
        // FULL against v3 {b=0}: new {b=0, c=1} is fine both ways.
        let (mut st, _) = history(L::Full);
        let fine = rec(&[("b", "int", Some("0")), ("c", "int", Some("1"))]);
        assert!(
            st.check_compatibility("s", &fine, VersionRef::Latest)
                .unwrap()
                .is_compatible
        );
        // New {b=0, c}: backward fails (c no default), forward fine.
        let half = rec(&[("b", "int", Some("0")), ("c", "int", None)]);
        let report = st.check_compatibility("s", &half, VersionRef::Latest).unwrap();
        assert_eq!(report.messages.len(), 1, "{:?}", report.messages);
        // FULL_TRANSITIVE: {b=0, c=1} must also be read by v1 {a}: a missing → fails for v1 and v2.
        set_level(&mut st, Some("s"), L::FullTransitive);
        let report = st.check_compatibility("s", &fine, VersionRef::Latest).unwrap();
        assert!(!report.is_compatible);
        assert_eq!(report.messages.len(), 2, "{:?}", report.messages);
        assert!(matches!(
            register(&mut st, "s", &fine),
            Err(RegistryError::Incompatible { .. })
        ));
        // NONE: anything valid goes.
        set_level(&mut st, Some("s"), L::None);
        assert!(register(&mut st, "s", r#""bytes""#).is_ok());
    }

    #[test]
    fn check_against_a_given_version_and_partial_is_incompatible() {
        let (st, v) = history(L::Backward);
        // Against v1 {a} only: candidate {b=0} reads v1 data fine (b default).
        assert!(
            st.check_compatibility("s", &v[2], VersionRef::Number(1))
                .unwrap()
                .is_compatible
        );
        assert!(matches!(
            st.check_compatibility("s", &v[2], VersionRef::Number(9)),
            Err(RegistryError::VersionNotFound { .. })
        ));
        assert!(matches!(
            st.check_compatibility("t", &v[2], VersionRef::Number(1)),
            Err(RegistryError::SubjectNotFound { .. })
        ));
        assert!(
            st.check_compatibility("t", &v[2], VersionRef::Latest)
                .unwrap()
                .is_compatible
        );
        // Removing an enum symbol: Avro calls it partial, Confluent incompatible.
        let mut st = RegistryState::new();
        let e2 = r#"{"type":"enum","name":"E","symbols":["A","B"]}"#;
        let e1 = r#"{"type":"enum","name":"E","symbols":["A"]}"#;
        register(&mut st, "e", e2).unwrap();
        let report = st.check_compatibility("e", e1, VersionRef::Latest).unwrap();
        assert!(!report.is_compatible, "{report:?}");
    }

    #[test]
    fn soft_and_hard_delete() {
        let mut st = RegistryState::new();
        set_level(&mut st, None, L::None);
        let s1 = register(&mut st, "s", r#""int""#).unwrap();
        let s2 = register(&mut st, "s", r#""long""#).unwrap();
        register(&mut st, "t", r#""long""#).unwrap();
        // Hard delete needs a soft delete first.
        let err = st
            .decide_delete_version("s", VersionRef::Number(2), true)
            .unwrap_err();
        assert!(matches!(
            err,
            RegistryError::VersionNotSoftDeleted { version: 2, .. }
        ));
        let plan = st.decide_delete_version("s", VersionRef::Latest, false).unwrap();
        assert_eq!(st.commit(plan).unwrap(), 2);
        assert_eq!(st.versions("s").unwrap(), vec![1]);
        assert_eq!(st.version("s", VersionRef::Latest).unwrap(), s1);
        assert!(matches!(
            st.version("s", VersionRef::Number(2)),
            Err(RegistryError::VersionNotFound { .. })
        ));
        assert_eq!(
            st.schema_by_id(s2.id).unwrap(),
            r#""long""#,
            "ids of deleted versions stay resolvable"
        );
        assert!(matches!(
            st.decide_delete_version("s", VersionRef::Number(2), false),
            Err(RegistryError::VersionSoftDeleted { version: 2, .. })
        ));
        // Re-registering a soft-deleted schema gives a new version, same id.
        let again = register(&mut st, "s", r#""long""#).unwrap();
        assert_eq!((again.version, again.id), (3, s2.id));
        // Soft delete of the subject, then permanent.
        assert!(matches!(
            st.decide_delete_subject("s", true),
            Err(RegistryError::SubjectNotSoftDeleted { .. })
        ));
        let plan = st.decide_delete_subject("s", false).unwrap();
        assert_eq!(st.commit(plan).unwrap(), vec![1, 3]);
        assert!(matches!(
            st.versions("s"),
            Err(RegistryError::SubjectNotFound { .. })
        ));
        assert_eq!(st.subjects(), vec!["t"]);
        assert!(matches!(
            st.decide_delete_subject("s", false),
            Err(RegistryError::SubjectSoftDeleted { .. })
        ));
        assert!(st.schema_by_id(s1.id).is_ok());
        let plan = st.decide_delete_subject("s", true).unwrap();
        assert_eq!(st.commit(plan).unwrap(), vec![1, 2, 3]);
        assert!(matches!(
            st.decide_delete_subject("s", false),
            Err(RegistryError::SubjectNotFound { .. })
        ));
        assert!(matches!(
            st.schema_by_id(s1.id),
            Err(RegistryError::SchemaNotFound { .. })
        ));
        assert!(st.schema_by_id(s2.id).is_ok(), "still used by subject t");
        // After a hard delete, versions start again at 1; the id is not reused.
        let back = register(&mut st, "s", r#""int""#).unwrap();
        assert_eq!(back.version, 1);
        assert!(back.id > s2.id);
    }

    #[test]
    fn levels_global_and_per_subject() {
        let mut st = RegistryState::new();
        assert_eq!(st.compatibility_level(None), L::Backward);
        assert_eq!(st.compatibility_level(Some("s")), L::Backward);
        set_level(&mut st, None, L::Full);
        set_level(&mut st, Some("s"), L::None);
        assert_eq!(st.compatibility_level(Some("s")), L::None);
        assert_eq!(st.compatibility_level(Some("t")), L::Full);
        assert_eq!(st.subject_compatibility_level("t"), None);
        register(&mut st, "s", r#""int""#).unwrap();
        // Soft-deleting the subject removes its level, as Confluent does.
        let plan = st.decide_delete_subject("s", false).unwrap();
        st.commit(plan).unwrap();
        assert_eq!(st.subject_compatibility_level("s"), None);
    }

    fn schema_record(subject: &str, version: u32, id: u32, schema: &str, deleted: bool) -> LogRecord {
        LogRecord::Schema {
            subject: subject.into(),
            version,
            value: Some(SchemaValue {
                subject: subject.into(),
                version,
                id,
                schema_type: SchemaType::Avro,
                references: Vec::new(),
                schema: schema.into(),
                deleted,
            }),
        }
    }

    #[test]
    fn replay_ignores_the_loser_of_a_race() {
        // Two writers decided from the same state: both want s/1, and ids 1.
        let base = RegistryState::new();
        let a = base.decide_register("s", r#""int""#).unwrap();
        let b = base.decide_register("s", r#""string""#).unwrap();
        let c = base.decide_register("t", r#""long""#).unwrap();
        let mut log = Vec::new();
        log.extend(a.records.clone());
        log.extend(b.records.clone());
        log.extend(c.records.clone());
        let mut st = RegistryState::new();
        let outcomes: Vec<Applied> = log.iter().map(|r| st.apply(r)).collect();
        assert!(outcomes[0].is_accepted());
        assert!(
            !outcomes[1].is_accepted(),
            "version 1 of s is taken: {:?}",
            outcomes[1]
        );
        assert!(
            !outcomes[2].is_accepted(),
            "id 1 names another schema: {:?}",
            outcomes[2]
        );
        assert_eq!(st.version("s", VersionRef::Latest).unwrap(), a.outcome);
        assert!(st.versions("t").is_err());
        // The losers retry from the new state and win.
        let b2 = st.decide_register("s", r#""string""#);
        // BACKWARD: "string" cannot read "int" data.
        assert!(matches!(b2, Err(RegistryError::Incompatible { .. })));
        let c2 = st.decide_register("t", r#""long""#).unwrap();
        assert_eq!(c2.outcome.id, 2);
        let r = c2.records[0].clone();
        assert!(st.apply(&r).is_accepted());
        // A repeat of an identical record is accepted; a different schema for
        // an existing id or a second id for a schema are not.
        assert!(st.apply(&r).is_accepted());
        assert!(!st
            .apply(&schema_record("u", 1, 2, r#""int""#, false))
            .is_accepted());
        assert!(!st
            .apply(&schema_record("u", 1, 9, r#""long""#, false))
            .is_accepted());
        // A live repeat does not revive a soft-deleted version; a tombstone
        // does not remove a live one.
        assert!(st
            .apply(&schema_record("t", 1, 2, r#""long""#, true))
            .is_accepted());
        assert!(st.versions("t").is_err());
        assert!(!st
            .apply(&schema_record("t", 1, 2, r#""long""#, false))
            .is_accepted());
        let tomb = LogRecord::Schema {
            subject: "s".into(),
            version: 1,
            value: None,
        };
        assert!(!st.apply(&tomb).is_accepted());
        assert_eq!(st.versions("s").unwrap(), vec![1]);
        // The repair for the loser's record re-asserts the winner's value.
        let repair = st.repair_for(&b.records[0]).unwrap();
        assert_eq!(repair, a.records[0]);
        assert!(st.apply(&repair).is_accepted());
        let repair = st.repair_for(&c.records[0]).unwrap();
        assert_eq!(repair, schema_record("t", 1, 2, r#""long""#, true));
    }

    #[test]
    fn replay_of_a_compacted_log_gives_the_same_state() {
        // s/1, s/2, soft delete of s/1 (same key as the first record).
        let log = [
            schema_record("s", 1, 1, r#""int""#, false),
            schema_record("s", 2, 2, r#""long""#, false),
            schema_record("s", 1, 1, r#""int""#, true),
            LogRecord::Config {
                subject: None,
                level: Some(L::None),
            },
        ];
        let mut full = RegistryState::new();
        assert!(log.iter().all(|r| full.apply(r).is_accepted()));
        // Compaction keeps the newest record per key: s/2 now comes first.
        let mut compacted = RegistryState::new();
        assert!(log[1..].iter().all(|r| compacted.apply(r).is_accepted()));
        for st in [&full, &compacted] {
            assert_eq!(st.versions("s").unwrap(), vec![2]);
            assert_eq!(st.schema_by_id(1).unwrap(), r#""int""#);
            assert_eq!(st.compatibility_level(None), L::None);
        }
        let next_full = full.decide_register("s", r#""double""#).unwrap().outcome;
        let next_compacted = compacted.decide_register("s", r#""double""#).unwrap().outcome;
        assert_eq!(next_full, next_compacted);
        assert_eq!((next_full.version, next_full.id), (3, 3));
    }

    fn register_definition(
        state: &mut RegistryState,
        subject: &str,
        definition: &SchemaDefinition,
    ) -> Result<SchemaVersion, RegistryError> {
        let plan = state.decide_register_definition(subject, definition)?;
        state.commit(plan)
    }

    const CUSTOMER: &str = r#"{"type":"record","name":"Customer","fields":[{"name":"id","type":"long"}]}"#;
    const ORDER: &str = r#"{"type":"record","name":"Order","fields":[{"name":"buyer","type":"Customer"}]}"#;

    fn order() -> SchemaDefinition {
        SchemaDefinition::avro(ORDER).with_references(vec![SchemaReference::new("Customer", "customer", 1)])
    }

    #[test]
    fn references_survive_soft_delete_repair_and_compacted_replay() {
        let mut st = RegistryState::new();
        register(&mut st, "customer", CUSTOMER).unwrap();
        let o = register_definition(&mut st, "order", &order()).unwrap();
        assert_eq!(o.definition, order());
        assert_eq!(
            st.referenced_by("customer", VersionRef::Number(1), false)
                .unwrap(),
            vec![o.id]
        );
        // The soft delete rewrites the record with its references.
        let plan = st
            .decide_delete_version("order", VersionRef::Number(1), false)
            .unwrap();
        let LogRecord::Schema { value: Some(v), .. } = &plan.records[0] else {
            panic!("{:?}", plan.records)
        };
        assert_eq!(v.references, order().references);
        st.commit(plan).unwrap();
        assert_eq!(
            st.schema_version("order", VersionRef::Number(1), true)
                .unwrap()
                .definition,
            order()
        );
        let LogRecord::Schema { value: Some(v), .. } = st
            .repair_for(&schema_record("order", 1, 5, "\"int\"", false))
            .unwrap()
        else {
            panic!("no repair value")
        };
        assert_eq!((v.references, v.deleted), (order().references, true));

        // After compaction the referring schema may come first: still accepted.
        let records = [
            LogRecord::Schema {
                subject: "order".into(),
                version: 1,
                value: Some(schema_value("order", 1, 2, &order(), false)),
            },
            schema_record("customer", 1, 1, CUSTOMER, false),
        ];
        let mut replayed = RegistryState::new();
        assert!(records.iter().all(|r| replayed.apply(r).is_accepted()));
        assert_eq!(replayed.schema_definition_by_id(2).unwrap(), order());
        // And the same registration again is that version.
        assert_eq!(
            register_definition(&mut replayed, "order", &order())
                .unwrap()
                .version,
            1
        );
    }

    #[test]
    fn other_types_are_kept_and_not_mixed_up() {
        let mut st = RegistryState::new();
        let text = r#"{"type":"string"}"#;
        let avro = register(&mut st, "a", text).unwrap();
        let json = register_definition(&mut st, "j", &SchemaDefinition::new(SchemaType::Json, text)).unwrap();
        assert_ne!(
            avro.id, json.id,
            "the same text of another type is another schema"
        );
        assert_eq!(
            st.schema_definition_by_id(json.id).unwrap().schema_type,
            SchemaType::Json
        );
        assert_eq!(
            st.subject_versions_by_id(json.id, false).unwrap(),
            vec![SubjectVersion::new("j", 1)]
        );
        // A string schema read as an integer one: refused at BACKWARD.
        let next = SchemaDefinition::new(SchemaType::Json, r#"{"type":"integer"}"#);
        assert!(matches!(
            register_definition(&mut st, "j", &next),
            Err(RegistryError::Incompatible { .. })
        ));
        set_level(&mut st, Some("j"), L::None);
        assert_eq!(register_definition(&mut st, "j", &next).unwrap().version, 2);
        let listed = st.schemas(&SchemaFilter::default().latest_only(true)).unwrap();
        let listed: Vec<_> = listed.iter().map(|v| (v.subject.as_str(), v.version)).collect();
        assert_eq!(listed, [("a", 1), ("j", 2)]);
    }
}
