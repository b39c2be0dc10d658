//! What a registry call can fail with.

/// A registry call's failure, with Confluent's error code where it has one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Confluent 40401.
    #[error("subject `{subject}` not found")]
    SubjectNotFound {
        /// The subject asked for.
        subject: String,
    },
    /// Confluent 40402.
    #[error("version {version} of subject `{subject}` not found")]
    VersionNotFound {
        /// The subject.
        subject: String,
        /// The version asked for.
        version: String,
    },
    /// Confluent 40403.
    #[error("schema {id} not found")]
    SchemaNotFound {
        /// The id asked for.
        id: u32,
    },
    /// Confluent 40403 for a lookup: `subject` has no (non-deleted) version
    /// with the schema asked about.
    #[error("schema not found under subject `{subject}`")]
    SchemaNotInSubject {
        /// The subject searched.
        subject: String,
    },
    /// Confluent 40404: the subject's versions are all soft-deleted already;
    /// delete it with `permanent` to remove it for good.
    #[error("subject `{subject}` was soft-deleted; delete it with permanent=true to remove it for good")]
    SubjectSoftDeleted {
        /// The subject.
        subject: String,
    },
    /// Confluent 40405: a permanent delete needs the subject to be soft-deleted first.
    #[error("subject `{subject}` was not soft-deleted before being permanently deleted")]
    SubjectNotSoftDeleted {
        /// The subject.
        subject: String,
    },
    /// Confluent 40406: the version is soft-deleted already; delete it with
    /// `permanent` to remove it for good.
    #[error("version {version} of subject `{subject}` was soft-deleted; delete it with permanent=true to remove it for good")]
    VersionSoftDeleted {
        /// The subject.
        subject: String,
        /// The version.
        version: u32,
    },
    /// Confluent 40407: a permanent delete needs the version to be soft-deleted first.
    #[error(
        "version {version} of subject `{subject}` was not soft-deleted before being permanently deleted"
    )]
    VersionNotSoftDeleted {
        /// The subject.
        subject: String,
        /// The version.
        version: u32,
    },
    /// Confluent 40408: the subject has no compatibility level of its own
    /// (it uses the global one).
    #[error("subject `{subject}` does not have a subject-level compatibility level")]
    SubjectLevelNotConfigured {
        /// The subject.
        subject: String,
    },
    /// Confluent 409.
    #[error("schema being registered is incompatible with an earlier schema for subject `{subject}`: {}", messages.join("; "))]
    Incompatible {
        /// The subject.
        subject: String,
        /// Each rule broken.
        messages: Vec<String>,
    },
    /// Confluent 42201.
    #[error("invalid schema: {reason}")]
    InvalidSchema {
        /// What the parser said.
        reason: String,
    },
    /// Confluent 42202.
    #[error("invalid version `{version}`")]
    InvalidVersion {
        /// The version given.
        version: String,
    },
    /// Confluent 42201 for a reference: the subject has no such (live) version.
    #[error("no schema reference found for subject `{subject}` and version {version}")]
    ReferenceNotFound {
        /// The subject referred to.
        subject: String,
        /// The version referred to (`-1`: the latest).
        version: i64,
    },
    /// Confluent 42206: other schemas refer to the version (or subject) being deleted.
    #[error("one or more references exist to version {version} of subject `{subject}`")]
    ReferenceExists {
        /// The subject referred to.
        subject: String,
        /// The version referred to.
        version: u32,
    },
    /// Confluent 42203.
    #[error("invalid compatibility level: {reason}")]
    InvalidCompatibilityLevel {
        /// Why.
        reason: String,
    },
    /// The registry (or the Kafka topic behind it) cannot be reached; a retry may help.
    #[error("schema registry unavailable: {reason}")]
    Unavailable {
        /// What failed.
        reason: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The registry's Kafka topic exists but cannot hold a registry (e.g. it
    /// has more than one partition). Not retriable: fix or rename the topic.
    #[error("topic `{topic}` cannot hold the schema registry: {reason}")]
    TopicMisconfigured {
        /// The topic.
        topic: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The registry cannot do this (e.g. a [`SchemaRegistry`](super::SchemaRegistry)
    /// that does not implement one of the later trait methods, or a
    /// compatibility check of a schema type it cannot parse). Answered as
    /// HTTP 501. Not retriable.
    #[error("not supported by this registry: {what}")]
    Unsupported {
        /// What was asked for.
        what: String,
    },
    /// Any other answer from a remote registry, with its code.
    #[error("schema registry error {code}: {message}")]
    Remote {
        /// Confluent's `error_code` (or the HTTP status).
        code: u32,
        /// Its message.
        message: String,
    },
}

impl RegistryError {
    /// [`RegistryError::Unsupported`] for `what`.
    pub fn unsupported(what: impl Into<String>) -> Self {
        Self::Unsupported { what: what.into() }
    }

    /// Confluent's `error_code` for this error (e.g. 40401), as the REST server returns it.
    pub fn error_code(&self) -> u32 {
        match self {
            Self::SubjectNotFound { .. } => 40401,
            Self::VersionNotFound { .. } => 40402,
            Self::SchemaNotFound { .. } | Self::SchemaNotInSubject { .. } => 40403,
            Self::SubjectSoftDeleted { .. } => 40404,
            Self::SubjectNotSoftDeleted { .. } => 40405,
            Self::VersionSoftDeleted { .. } => 40406,
            Self::VersionNotSoftDeleted { .. } => 40407,
            Self::SubjectLevelNotConfigured { .. } => 40408,
            Self::Incompatible { .. } => 409,
            Self::InvalidSchema { .. } | Self::ReferenceNotFound { .. } => 42201,
            Self::InvalidVersion { .. } => 42202,
            Self::InvalidCompatibilityLevel { .. } => 42203,
            Self::ReferenceExists { .. } => 42206,
            Self::Unsupported { .. } => 501,
            Self::Unavailable { .. } => 50003,
            Self::TopicMisconfigured { .. } => 50001,
            Self::Remote { code, .. } => *code,
        }
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Unavailable { .. } => true,
            Self::Remote { code, .. } => *code >= 500 && *code != 501,
            _ => false,
        }
    }
}
