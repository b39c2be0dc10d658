//! Schema registries: the [`SchemaRegistry`] trait meshkit talks to, the
//! HTTP client for Confluent-compatible registries, the embedded registry
//! (kept in a compacted Kafka topic, with Confluent's semantics) and its
//! Confluent-compatible REST server.

use std::future::Future;
use std::pin::Pin;

#[cfg(feature = "registry-client")]
mod client;
#[cfg(feature = "registry-server")]
mod embedded;
mod error;
#[cfg(feature = "registry-server")]
mod log;
mod model;
#[cfg(feature = "registry-server")]
mod server;
#[cfg(feature = "registry-server")]
mod state;
#[cfg(feature = "registry-server")]
mod stored;

#[cfg(feature = "registry-client")]
#[cfg_attr(docsrs, doc(cfg(feature = "registry-client")))]
pub use client::{HttpRegistry, HttpRegistryBuilder};
#[cfg(feature = "registry-server")]
#[cfg_attr(docsrs, doc(cfg(feature = "registry-server")))]
pub use embedded::EmbeddedRegistry;
pub use error::RegistryError;
pub use model::{
    CompatibilityLevel, CompatibilityReport, RegisteredSchema, SchemaDefinition, SchemaFilter,
    SchemaReference, SchemaType, SchemaVersion, SubjectVersion, VersionRef,
};
#[cfg(feature = "registry-server")]
#[cfg_attr(docsrs, doc(cfg(feature = "registry-server")))]
pub use server::RegistryServer;

/// The future every [`SchemaRegistry`] call returns: boxed, so that the trait
/// can be used as `Arc<dyn SchemaRegistry>`.
pub type RegistryFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, RegistryError>> + Send + 'a>>;

/// A schema registry with the semantics of Confluent's: global schema ids,
/// subjects with versions from 1, per-subject compatibility levels.
///
/// The first methods pass schemas as their JSON text (Avro without
/// references). The later ones, from [`register_definition`](Self::register_definition)
/// on, deal in [`SchemaDefinition`]s (Avro, JSON Schema or Protobuf, with
/// references) and soft-deleted versions; they have default bodies (most
/// answer [`RegistryError::Unsupported`]) so that an implementation written
/// against the first methods keeps compiling. Implemented by the embedded
/// registry and by [`HttpRegistry`]; the REST server serves any.
pub trait SchemaRegistry: Send + Sync + 'static {
    /// Registers `schema` under `subject` (checking compatibility at the
    /// subject's level) and returns it with its global id and version.
    /// Registering a schema the subject already has returns the existing one.
    fn register<'a>(&'a self, subject: &'a str, schema: &'a str) -> RegistryFuture<'a, RegisteredSchema>;

    /// Finds `schema` among `subject`'s (non-deleted) versions
    /// (`POST /subjects/{subject}`).
    fn lookup<'a>(&'a self, subject: &'a str, schema: &'a str) -> RegistryFuture<'a, RegisteredSchema>;

    /// The schema text with global id `id` (`GET /schemas/ids/{id}`).
    fn schema_by_id(&self, id: u32) -> RegistryFuture<'_, String>;

    /// All subjects with at least one non-deleted version (`GET /subjects`).
    fn subjects(&self) -> RegistryFuture<'_, Vec<String>>;

    /// The non-deleted versions of `subject` (`GET /subjects/{subject}/versions`).
    fn versions<'a>(&'a self, subject: &'a str) -> RegistryFuture<'a, Vec<u32>>;

    /// One version of `subject` (`GET /subjects/{subject}/versions/{version}`).
    fn version<'a>(&'a self, subject: &'a str, version: VersionRef) -> RegistryFuture<'a, RegisteredSchema>;

    /// Whether `schema` is compatible with `version` of `subject` at the
    /// subject's level (`POST /compatibility/subjects/{subject}/versions/{version}`);
    /// with a transitive level and `VersionRef::Latest`, against all versions.
    fn check_compatibility<'a>(
        &'a self,
        subject: &'a str,
        schema: &'a str,
        version: VersionRef,
    ) -> RegistryFuture<'a, CompatibilityReport>;

    /// The compatibility level of `subject`, or the global one for `None`
    /// (`GET /config[/{subject}]`); a subject without its own level has the global one.
    fn compatibility_level<'a>(&'a self, subject: Option<&'a str>) -> RegistryFuture<'a, CompatibilityLevel>;

    /// The compatibility level set on `subject` itself, or `None` when it
    /// uses the global one (`GET /config/{subject}` without `defaultToGlobal`).
    ///
    /// The default body cannot tell the two apart and answers the effective
    /// level ([`compatibility_level`](Self::compatibility_level)) as `Some`;
    /// the embedded registry overrides it.
    fn subject_compatibility_level<'a>(
        &'a self,
        subject: &'a str,
    ) -> RegistryFuture<'a, Option<CompatibilityLevel>> {
        Box::pin(async move { self.compatibility_level(Some(subject)).await.map(Some) })
    }

    /// Sets the compatibility level of `subject`, or the global one for `None`
    /// (`PUT /config[/{subject}]`).
    fn set_compatibility_level<'a>(
        &'a self,
        subject: Option<&'a str>,
        level: CompatibilityLevel,
    ) -> RegistryFuture<'a, CompatibilityLevel>;

    /// Soft-deletes `subject` (or, with `permanent`, hard-deletes an already
    /// soft-deleted one) and returns the versions deleted (`DELETE /subjects/{subject}`).
    fn delete_subject<'a>(&'a self, subject: &'a str, permanent: bool) -> RegistryFuture<'a, Vec<u32>>;

    /// Soft- (or hard-) deletes one version (`DELETE /subjects/{subject}/versions/{version}`).
    fn delete_version<'a>(
        &'a self,
        subject: &'a str,
        version: VersionRef,
        permanent: bool,
    ) -> RegistryFuture<'a, u32>;

    /// Registers `definition` under `subject` (`POST /subjects/{subject}/versions`
    /// with `schemaType` and `references`): as [`register`](Self::register),
    /// and every reference must name a live version of its subject.
    ///
    /// The default body registers Avro without references through
    /// [`register`](Self::register) and answers [`RegistryError::Unsupported`] otherwise.
    fn register_definition<'a>(
        &'a self,
        subject: &'a str,
        definition: &'a SchemaDefinition,
    ) -> RegistryFuture<'a, SchemaVersion> {
        Box::pin(async move {
            if !definition.is_plain_avro() {
                return Err(RegistryError::unsupported(
                    "registering schemas other than Avro without references",
                ));
            }
            self.register(subject, &definition.schema)
                .await
                .map(SchemaVersion::from)
        })
    }

    /// Finds `definition` among `subject`'s versions, the soft-deleted ones
    /// too with `include_deleted` (`POST /subjects/{subject}?deleted=`).
    ///
    /// The default body looks up Avro without references, among live
    /// versions, through [`lookup`](Self::lookup).
    fn lookup_definition<'a>(
        &'a self,
        subject: &'a str,
        definition: &'a SchemaDefinition,
        include_deleted: bool,
    ) -> RegistryFuture<'a, SchemaVersion> {
        Box::pin(async move {
            if !definition.is_plain_avro() || include_deleted {
                return Err(RegistryError::unsupported(
                    "looking up schemas other than Avro without references, or among deleted versions",
                ));
            }
            self.lookup(subject, &definition.schema)
                .await
                .map(SchemaVersion::from)
        })
    }

    /// As [`check_compatibility`](Self::check_compatibility) for a
    /// [`SchemaDefinition`]. Registries that cannot parse a type answer
    /// [`RegistryError::Unsupported`] when there is something to check against.
    ///
    /// The default body checks Avro without references through
    /// [`check_compatibility`](Self::check_compatibility).
    fn check_definition_compatibility<'a>(
        &'a self,
        subject: &'a str,
        definition: &'a SchemaDefinition,
        version: VersionRef,
    ) -> RegistryFuture<'a, CompatibilityReport> {
        Box::pin(async move {
            if !definition.is_plain_avro() {
                return Err(RegistryError::unsupported(
                    "checking schemas other than Avro without references",
                ));
            }
            self.check_compatibility(subject, &definition.schema, version)
                .await
        })
    }

    /// The schema with global id `id` with its type and references
    /// (`GET /schemas/ids/{id}`).
    ///
    /// The default body takes [`schema_by_id`](Self::schema_by_id)'s text as
    /// Avro without references, which is what that method promises.
    fn schema_definition_by_id(&self, id: u32) -> RegistryFuture<'_, SchemaDefinition> {
        Box::pin(async move { self.schema_by_id(id).await.map(SchemaDefinition::avro) })
    }

    /// The subject versions that hold schema `id`, by subject then version;
    /// soft-deleted ones too with `include_deleted` (`GET /schemas/ids/{id}/versions`).
    /// [`RegistryError::SchemaNotFound`] when no version holds it at all.
    ///
    /// The default body answers [`RegistryError::Unsupported`].
    fn subject_versions_by_id(
        &self,
        id: u32,
        include_deleted: bool,
    ) -> RegistryFuture<'_, Vec<SubjectVersion>> {
        let _ = (id, include_deleted);
        Box::pin(async {
            Err(RegistryError::unsupported(
                "listing the subject versions of a schema id",
            ))
        })
    }

    /// The subject versions `filter` selects, by subject then version (`GET /schemas`).
    ///
    /// The default body answers [`RegistryError::Unsupported`].
    fn schemas<'a>(&'a self, filter: &'a SchemaFilter) -> RegistryFuture<'a, Vec<SchemaVersion>> {
        let _ = filter;
        Box::pin(async { Err(RegistryError::unsupported("listing schemas")) })
    }

    /// The ids of the schemas that refer to `version` of `subject`, ascending;
    /// those whose versions are all soft-deleted only with `include_deleted`
    /// (`GET /subjects/{subject}/versions/{version}/referencedby`).
    ///
    /// The default body answers [`RegistryError::Unsupported`].
    fn referenced_by<'a>(
        &'a self,
        subject: &'a str,
        version: VersionRef,
        include_deleted: bool,
    ) -> RegistryFuture<'a, Vec<u32>> {
        let _ = (subject, version, include_deleted);
        Box::pin(async {
            Err(RegistryError::unsupported(
                "listing the schemas that refer to a version",
            ))
        })
    }

    /// The subjects, sorted; with `include_deleted` also those whose versions
    /// are all soft-deleted (`GET /subjects?deleted=`).
    ///
    /// The default body answers [`subjects`](Self::subjects) without deleted ones.
    fn list_subjects(&self, include_deleted: bool) -> RegistryFuture<'_, Vec<String>> {
        Box::pin(async move {
            if include_deleted {
                return Err(RegistryError::unsupported("listing soft-deleted subjects"));
            }
            self.subjects().await
        })
    }

    /// The versions of `subject`, ascending; with `include_deleted` the
    /// soft-deleted ones too (`GET /subjects/{subject}/versions?deleted=`).
    ///
    /// The default body answers [`versions`](Self::versions) without deleted ones.
    fn list_versions<'a>(&'a self, subject: &'a str, include_deleted: bool) -> RegistryFuture<'a, Vec<u32>> {
        Box::pin(async move {
            if include_deleted {
                return Err(RegistryError::unsupported("listing soft-deleted versions"));
            }
            self.versions(subject).await
        })
    }

    /// One version of `subject` with its schema's type and references; with
    /// `include_deleted` a soft-deleted version number is found too (`latest`
    /// is always the latest live version), as
    /// `GET /subjects/{subject}/versions/{version}?deleted=`.
    ///
    /// The default body answers [`version`](Self::version) without deleted ones.
    fn schema_version<'a>(
        &'a self,
        subject: &'a str,
        version: VersionRef,
        include_deleted: bool,
    ) -> RegistryFuture<'a, SchemaVersion> {
        Box::pin(async move {
            if include_deleted {
                return Err(RegistryError::unsupported("reading soft-deleted versions"));
            }
            self.version(subject, version).await.map(SchemaVersion::from)
        })
    }

    /// The id of the Kafka cluster the registry keeps its data in, if it has
    /// one (`GET /v1/metadata/id`).
    ///
    /// The default body answers [`RegistryError::Unsupported`].
    fn kafka_cluster_id(&self) -> RegistryFuture<'_, Option<String>> {
        Box::pin(async { Err(RegistryError::unsupported("reporting the Kafka cluster id")) })
    }
}
