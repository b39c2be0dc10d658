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

#[cfg(feature = "registry-client")]
#[cfg_attr(docsrs, doc(cfg(feature = "registry-client")))]
pub use client::{HttpRegistry, HttpRegistryBuilder};
#[cfg(feature = "registry-server")]
#[cfg_attr(docsrs, doc(cfg(feature = "registry-server")))]
pub use embedded::EmbeddedRegistry;
pub use error::RegistryError;
pub use model::{CompatibilityLevel, CompatibilityReport, RegisteredSchema, VersionRef};
#[cfg(feature = "registry-server")]
#[cfg_attr(docsrs, doc(cfg(feature = "registry-server")))]
pub use server::RegistryServer;

/// The future every [`SchemaRegistry`] call returns: boxed, so that the trait
/// can be used as `Arc<dyn SchemaRegistry>`.
pub type RegistryFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, RegistryError>> + Send + 'a>>;

/// A schema registry with the semantics of Confluent's: global schema ids,
/// subjects with versions from 1, per-subject compatibility levels.
///
/// Schemas are passed as their JSON text (Avro only). Implemented by the
/// embedded registry and by [`HttpRegistry`]; the REST server serves any.
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
}
