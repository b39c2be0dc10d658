//! A client for any registry that speaks the Confluent Schema Registry REST
//! API: Confluent's, Karapace, Apicurio (ccompat), Redpanda's, or meshkit's
//! own served over HTTP.
//!
//! Written on reqwest (HTTP, TLS, basic auth) rather than on an existing
//! registry crate because those either hide Confluent's error codes in
//! strings (and meshkit's gate must tell "no such subject" from "down"), or
//! pin another apache-avro.

use std::time::Duration;

use reqwest::{Client, Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::{
    CompatibilityLevel, CompatibilityReport, RegisteredSchema, RegistryError, RegistryFuture,
    SchemaDefinition, SchemaFilter, SchemaReference, SchemaRegistry, SchemaType, SchemaVersion,
    SubjectVersion, VersionRef,
};

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A [`SchemaRegistry`] reached over HTTP(S).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use meshkit::schema::HttpRegistry;
///
/// let registry = HttpRegistry::builder("https://registry.example.com:8081")
///     .basic_auth("svc-sales", "secret")
///     .timeout(Duration::from_secs(5))
///     .build()?;
/// assert_eq!(registry.url(), "https://registry.example.com:8081/");
/// # Ok::<(), meshkit::schema::RegistryError>(())
/// ```
#[derive(Debug, Clone)]
pub struct HttpRegistry {
    base: Url,
    client: Client,
    auth: Option<(String, String)>,
}

/// Builds an [`HttpRegistry`]: URL, basic auth, TLS trust, timeout.
#[derive(Debug)]
pub struct HttpRegistryBuilder {
    url: String,
    auth: Option<(String, String)>,
    ca_pem: Option<Vec<u8>>,
    timeout: Duration,
}

impl HttpRegistry {
    /// Starts a client for the registry at `url` (e.g. `http://localhost:8081`).
    pub fn builder(url: impl Into<String>) -> HttpRegistryBuilder {
        HttpRegistryBuilder {
            url: url.into(),
            auth: None,
            ca_pem: None,
            timeout: Duration::from_secs(10),
        }
    }

    /// The registry's base URL, normalised (e.g. with a trailing `/`).
    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    fn url_for(&self, segments: &[&str]) -> Result<Url, RegistryError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| RegistryError::Unavailable {
                reason: format!("registry URL {} cannot have a path", self.base),
                source: None,
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        mut url: Url,
        query: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> Result<T, RegistryError> {
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = self
            .client
            .request(method, url.clone())
            .header(reqwest::header::ACCEPT, CONTENT_TYPE);
        if let Some((user, password)) = &self.auth {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                .body(body.to_string());
        }
        let response = request.send().await.map_err(|e| RegistryError::Unavailable {
            reason: format!("request to {url} failed"),
            source: Some(Box::new(e)),
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| RegistryError::Unavailable {
            reason: format!("reading the answer from {url}"),
            source: Some(Box::new(e)),
        })?;
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| RegistryError::Remote {
                code: u32::from(status.as_u16()),
                message: format!("unexpected answer from {url}: {e}: {text}"),
            });
        }
        Err(error_from(status, &text))
    }
}

impl HttpRegistryBuilder {
    /// Authenticates with HTTP basic auth (Confluent Cloud: API key and secret).
    #[must_use]
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Some((user.into(), password.into()));
        self
    }

    /// Also trusts the CA certificate(s) in `pem` for `https` URLs.
    #[must_use]
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Gives up on one request after `timeout` (default 10 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Unavailable`] if the URL or the CA certificate cannot be used.
    pub fn build(self) -> Result<HttpRegistry, RegistryError> {
        let bad = |reason: String, source: Option<Box<dyn std::error::Error + Send + Sync>>| {
            RegistryError::Unavailable { reason, source }
        };
        let base = Url::parse(&self.url).map_err(|e| {
            bad(
                format!("invalid schema registry URL `{}`", self.url),
                Some(Box::new(e)),
            )
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(bad(
                format!("schema registry URL `{}` must be http:// or https://", self.url),
                None,
            ));
        }
        let tls = cfg!(any(feature = "native-tls", feature = "rustls"));
        if !tls && (base.scheme() == "https" || self.ca_pem.is_some()) {
            return Err(bad(
                format!(
                    "schema registry URL `{}` needs TLS, which this build leaves out: \
                     enable meshkit's `native-tls` or `rustls` feature",
                    self.url
                ),
                None,
            ));
        }
        #[cfg_attr(not(any(feature = "native-tls", feature = "rustls")), allow(unused_mut))]
        let mut client = Client::builder().timeout(self.timeout);
        #[cfg(any(feature = "native-tls", feature = "rustls"))]
        if let Some(pem) = &self.ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                bad(
                    "invalid CA certificate for the schema registry".into(),
                    Some(Box::new(e)),
                )
            })? {
                client = client.add_root_certificate(cert);
            }
        }
        let client = client
            .build()
            .map_err(|e| bad("cannot build the HTTP client".into(), Some(Box::new(e))))?;
        Ok(HttpRegistry {
            base,
            client,
            auth: self.auth,
        })
    }
}

#[derive(Deserialize)]
struct RemoteError {
    error_code: u32,
    #[serde(default)]
    message: String,
}

fn error_from(status: StatusCode, text: &str) -> RegistryError {
    let (code, message) = match serde_json::from_str::<RemoteError>(text) {
        Ok(e) => (e.error_code, e.message),
        Err(_) => (u32::from(status.as_u16()), text.to_string()),
    };
    match code {
        40401 => RegistryError::SubjectNotFound { subject: message },
        40402 => RegistryError::VersionNotFound {
            subject: String::new(),
            version: message,
        },
        40403 => RegistryError::SchemaNotFound {
            id: first_number(&message).unwrap_or(0),
        },
        40404 => RegistryError::SubjectSoftDeleted {
            subject: String::new(),
        },
        40405 => RegistryError::SubjectNotSoftDeleted {
            subject: String::new(),
        },
        40406 => RegistryError::VersionSoftDeleted {
            subject: String::new(),
            version: first_number(&message).unwrap_or(0),
        },
        40407 => RegistryError::VersionNotSoftDeleted {
            subject: String::new(),
            version: first_number(&message).unwrap_or(0),
        },
        40408 => RegistryError::SubjectLevelNotConfigured {
            subject: String::new(),
        },
        409 => RegistryError::Incompatible {
            subject: String::new(),
            messages: vec![message],
        },
        42201 => RegistryError::InvalidSchema { reason: message },
        42202 => RegistryError::InvalidVersion { version: message },
        42203 => RegistryError::InvalidCompatibilityLevel { reason: message },
        42206 => RegistryError::ReferenceExists {
            subject: String::new(),
            version: first_number(&message).unwrap_or(0),
        },
        501 => RegistryError::Unsupported { what: message },
        _ if status.is_server_error() => RegistryError::Unavailable {
            reason: format!("registry answered {status}: {message}"),
            source: None,
        },
        _ => RegistryError::Remote { code, message },
    }
}

fn first_number(text: &str) -> Option<u32> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .and_then(|s| s.parse().ok())
}

fn version_segment(version: VersionRef) -> String {
    match version {
        VersionRef::Latest => "latest".to_string(),
        VersionRef::Number(n) => n.to_string(),
    }
}

/// A subject version as Confluent answers it, with type and references.
#[derive(Deserialize)]
struct VersionAnswer {
    subject: String,
    version: u32,
    id: u32,
    #[serde(rename = "schemaType", default)]
    schema_type: Option<SchemaType>,
    #[serde(default)]
    references: Vec<SchemaReference>,
    schema: String,
    /// Confluent 8 says so; older ones do not.
    #[serde(default)]
    deleted: bool,
}

impl From<VersionAnswer> for SchemaVersion {
    fn from(v: VersionAnswer) -> Self {
        let definition =
            SchemaDefinition::new(v.schema_type.unwrap_or_default(), v.schema).with_references(v.references);
        SchemaVersion::new(v.subject, v.version, v.id, definition).with_deleted(v.deleted)
    }
}

/// A schema by id as Confluent answers it.
#[derive(Deserialize)]
struct DefinitionAnswer {
    #[serde(rename = "schemaType", default)]
    schema_type: Option<SchemaType>,
    #[serde(default)]
    references: Vec<SchemaReference>,
    schema: String,
}

/// A register / lookup / compatibility body: `schemaType` only when not
/// AVRO, `references` only when any (what older registries expect).
fn definition_body(definition: &SchemaDefinition) -> serde_json::Value {
    let mut body = json!({ "schema": definition.schema });
    if definition.schema_type != SchemaType::Avro {
        body["schemaType"] = json!(definition.schema_type.as_str());
    }
    if !definition.references.is_empty() {
        body["references"] = json!(definition.references);
    }
    body
}

fn deleted_query(include_deleted: bool) -> &'static [(&'static str, &'static str)] {
    if include_deleted {
        &[("deleted", "true")]
    } else {
        &[]
    }
}

impl SchemaRegistry for HttpRegistry {
    // The Avro-only calls are the general ones with an Avro definition: one
    // request and one answer each to keep in step with Confluent's API.
    fn register<'a>(&'a self, subject: &'a str, schema: &'a str) -> RegistryFuture<'a, RegisteredSchema> {
        Box::pin(async move {
            let definition = SchemaDefinition::avro(schema);
            Ok(self.register_definition(subject, &definition).await?.into())
        })
    }

    fn lookup<'a>(&'a self, subject: &'a str, schema: &'a str) -> RegistryFuture<'a, RegisteredSchema> {
        Box::pin(async move {
            let definition = SchemaDefinition::avro(schema);
            Ok(self.lookup_definition(subject, &definition, false).await?.into())
        })
    }

    fn schema_by_id(&self, id: u32) -> RegistryFuture<'_, String> {
        Box::pin(async move {
            #[derive(Deserialize)]
            struct Schema {
                schema: String,
            }
            let url = self.url_for(&["schemas", "ids", &id.to_string()])?;
            let found: Schema = self
                .call(Method::GET, url, &[], None)
                .await
                .map_err(|e| match e {
                    RegistryError::SchemaNotFound { .. } => RegistryError::SchemaNotFound { id },
                    other => other,
                })?;
            Ok(found.schema)
        })
    }

    fn subjects(&self) -> RegistryFuture<'_, Vec<String>> {
        Box::pin(async move {
            self.call(Method::GET, self.url_for(&["subjects"])?, &[], None)
                .await
        })
    }

    fn versions<'a>(&'a self, subject: &'a str) -> RegistryFuture<'a, Vec<u32>> {
        Box::pin(async move {
            let url = self.url_for(&["subjects", subject, "versions"])?;
            self.call(Method::GET, url, &[], None)
                .await
                .map_err(|e| with_subject(e, subject))
        })
    }

    fn version<'a>(&'a self, subject: &'a str, version: VersionRef) -> RegistryFuture<'a, RegisteredSchema> {
        Box::pin(async move { Ok(self.schema_version(subject, version, false).await?.into()) })
    }

    fn check_compatibility<'a>(
        &'a self,
        subject: &'a str,
        schema: &'a str,
        version: VersionRef,
    ) -> RegistryFuture<'a, CompatibilityReport> {
        Box::pin(async move {
            let definition = SchemaDefinition::avro(schema);
            self.check_definition_compatibility(subject, &definition, version)
                .await
        })
    }

    fn compatibility_level<'a>(&'a self, subject: Option<&'a str>) -> RegistryFuture<'a, CompatibilityLevel> {
        Box::pin(async move {
            #[derive(Deserialize)]
            struct Answer {
                #[serde(rename = "compatibilityLevel")]
                level: String,
            }
            let (url, query): (Url, &[(&str, &str)]) = match subject {
                Some(s) => (self.url_for(&["config", s])?, &[("defaultToGlobal", "true")]),
                None => (self.url_for(&["config"])?, &[]),
            };
            let answer: Answer = self.call(Method::GET, url, query, None).await?;
            answer
                .level
                .parse()
                .map_err(|reason| RegistryError::InvalidCompatibilityLevel { reason })
        })
    }

    fn set_compatibility_level<'a>(
        &'a self,
        subject: Option<&'a str>,
        level: CompatibilityLevel,
    ) -> RegistryFuture<'a, CompatibilityLevel> {
        Box::pin(async move {
            let url = match subject {
                Some(s) => self.url_for(&["config", s])?,
                None => self.url_for(&["config"])?,
            };
            let _: serde_json::Value = self
                .call(
                    Method::PUT,
                    url,
                    &[],
                    Some(json!({ "compatibility": level.as_str() })),
                )
                .await?;
            Ok(level)
        })
    }

    fn delete_subject<'a>(&'a self, subject: &'a str, permanent: bool) -> RegistryFuture<'a, Vec<u32>> {
        Box::pin(async move {
            let url = self.url_for(&["subjects", subject])?;
            let query: &[(&str, &str)] = if permanent { &[("permanent", "true")] } else { &[] };
            self.call(Method::DELETE, url, query, None)
                .await
                .map_err(|e| with_subject(e, subject))
        })
    }

    fn delete_version<'a>(
        &'a self,
        subject: &'a str,
        version: VersionRef,
        permanent: bool,
    ) -> RegistryFuture<'a, u32> {
        Box::pin(async move {
            let url = self.url_for(&["subjects", subject, "versions", &version_segment(version)])?;
            let query: &[(&str, &str)] = if permanent { &[("permanent", "true")] } else { &[] };
            self.call(Method::DELETE, url, query, None)
                .await
                .map_err(|e| with_subject(e, subject))
        })
    }

    /// `POST /subjects/{subject}/versions`, then a lookup for the version
    /// (Confluent answers only the id).
    fn register_definition<'a>(
        &'a self,
        subject: &'a str,
        definition: &'a SchemaDefinition,
    ) -> RegistryFuture<'a, SchemaVersion> {
        Box::pin(async move {
            #[derive(Deserialize)]
            struct Id {
                id: u32,
            }
            let url = self.url_for(&["subjects", subject, "versions"])?;
            let Id { id } = self.post_definition(url, &[], subject, definition).await?;
            let mut found = self.lookup_definition(subject, definition, false).await?;
            found.id = id;
            Ok(found)
        })
    }

    fn lookup_definition<'a>(
        &'a self,
        subject: &'a str,
        definition: &'a SchemaDefinition,
        include_deleted: bool,
    ) -> RegistryFuture<'a, SchemaVersion> {
        Box::pin(async move {
            let url = self.url_for(&["subjects", subject])?;
            let found: VersionAnswer = self
                .post_definition(url, deleted_query(include_deleted), subject, definition)
                .await
                .map_err(|e| match e {
                    // On a lookup, 40403 means "not under this subject".
                    RegistryError::SchemaNotFound { .. } => RegistryError::SchemaNotInSubject {
                        subject: subject.to_string(),
                    },
                    other => other,
                })?;
            Ok(found.into())
        })
    }

    fn check_definition_compatibility<'a>(
        &'a self,
        subject: &'a str,
        definition: &'a SchemaDefinition,
        version: VersionRef,
    ) -> RegistryFuture<'a, CompatibilityReport> {
        Box::pin(async move {
            #[derive(Deserialize)]
            struct Answer {
                is_compatible: bool,
                #[serde(default)]
                messages: Vec<String>,
            }
            let url = self.url_for(&[
                "compatibility",
                "subjects",
                subject,
                "versions",
                &version_segment(version),
            ])?;
            let answer: Answer = self
                .post_definition(url, &[("verbose", "true")], subject, definition)
                .await?;
            Ok(CompatibilityReport {
                is_compatible: answer.is_compatible,
                messages: answer.messages,
            })
        })
    }

    fn schema_definition_by_id(&self, id: u32) -> RegistryFuture<'_, SchemaDefinition> {
        Box::pin(async move {
            let url = self.url_for(&["schemas", "ids", &id.to_string()])?;
            let found: DefinitionAnswer = self
                .get_json(url, &[])
                .await
                .map_err(|e| schema_not_found_as(id, e))?;
            Ok(
                SchemaDefinition::new(found.schema_type.unwrap_or_default(), found.schema)
                    .with_references(found.references),
            )
        })
    }

    fn subject_versions_by_id(
        &self,
        id: u32,
        include_deleted: bool,
    ) -> RegistryFuture<'_, Vec<SubjectVersion>> {
        Box::pin(async move {
            let url = self.url_for(&["schemas", "ids", &id.to_string(), "versions"])?;
            self.get_json(url, deleted_query(include_deleted))
                .await
                .map_err(|e| schema_not_found_as(id, e))
        })
    }

    fn schemas<'a>(&'a self, filter: &'a SchemaFilter) -> RegistryFuture<'a, Vec<SchemaVersion>> {
        Box::pin(async move {
            let mut query = vec![
                (
                    "deleted",
                    if filter.includes_deleted() {
                        "true"
                    } else {
                        "false"
                    },
                ),
                (
                    "latestOnly",
                    if filter.is_latest_only() { "true" } else { "false" },
                ),
            ];
            if let Some(prefix) = filter.prefix() {
                query.push(("subjectPrefix", prefix));
            }
            let found: Vec<VersionAnswer> = self.get_json(self.url_for(&["schemas"])?, &query).await?;
            Ok(found.into_iter().map(SchemaVersion::from).collect())
        })
    }

    fn referenced_by<'a>(
        &'a self,
        subject: &'a str,
        version: VersionRef,
        include_deleted: bool,
    ) -> RegistryFuture<'a, Vec<u32>> {
        Box::pin(async move {
            let segment = version_segment(version);
            let url = self.url_for(&["subjects", subject, "versions", &segment, "referencedby"])?;
            self.get_json(url, deleted_query(include_deleted))
                .await
                .map_err(|e| with_subject(e, subject))
        })
    }

    fn list_subjects(&self, include_deleted: bool) -> RegistryFuture<'_, Vec<String>> {
        Box::pin(async move {
            self.get_json(self.url_for(&["subjects"])?, deleted_query(include_deleted))
                .await
        })
    }

    fn list_versions<'a>(&'a self, subject: &'a str, include_deleted: bool) -> RegistryFuture<'a, Vec<u32>> {
        Box::pin(async move {
            let url = self.url_for(&["subjects", subject, "versions"])?;
            self.get_json(url, deleted_query(include_deleted))
                .await
                .map_err(|e| with_subject(e, subject))
        })
    }

    fn schema_version<'a>(
        &'a self,
        subject: &'a str,
        version: VersionRef,
        include_deleted: bool,
    ) -> RegistryFuture<'a, SchemaVersion> {
        Box::pin(async move {
            let url = self.url_for(&["subjects", subject, "versions", &version_segment(version)])?;
            let found: VersionAnswer = self
                .get_json(url, deleted_query(include_deleted))
                .await
                .map_err(|e| with_subject(e, subject))?;
            Ok(found.into())
        })
    }

    /// `GET /v1/metadata/id`; an empty id is `None`.
    fn kafka_cluster_id(&self) -> RegistryFuture<'_, Option<String>> {
        Box::pin(async move {
            let answer: serde_json::Value = self
                .get_json(self.url_for(&["v1", "metadata", "id"])?, &[])
                .await?;
            Ok(answer["scope"]["clusters"]["kafka-cluster"]
                .as_str()
                .filter(|id| !id.is_empty())
                .map(str::to_string))
        })
    }
}

/// The later trait methods, over Confluent's routes.
impl HttpRegistry {
    async fn post_definition<T: DeserializeOwned>(
        &self,
        url: Url,
        query: &[(&str, &str)],
        subject: &str,
        definition: &SchemaDefinition,
    ) -> Result<T, RegistryError> {
        self.call(Method::POST, url, query, Some(definition_body(definition)))
            .await
            .map_err(|e| with_subject(e, subject))
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        query: &[(&str, &str)],
    ) -> Result<T, RegistryError> {
        self.call(Method::GET, url, query, None).await
    }
}

/// Puts the id asked about into a 40403 (its message may lack it).
fn schema_not_found_as(id: u32, err: RegistryError) -> RegistryError {
    match err {
        RegistryError::SchemaNotFound { .. } => RegistryError::SchemaNotFound { id },
        other => other,
    }
}

/// Puts the subject asked about into errors whose remote message lacks it.
fn with_subject(err: RegistryError, subject: &str) -> RegistryError {
    match err {
        RegistryError::SubjectNotFound { .. } => RegistryError::SubjectNotFound {
            subject: subject.to_string(),
        },
        RegistryError::VersionNotFound { version, .. } => RegistryError::VersionNotFound {
            subject: subject.to_string(),
            version,
        },
        RegistryError::Incompatible { messages, .. } => RegistryError::Incompatible {
            subject: subject.to_string(),
            messages,
        },
        RegistryError::SubjectSoftDeleted { .. } => RegistryError::SubjectSoftDeleted {
            subject: subject.to_string(),
        },
        RegistryError::SubjectNotSoftDeleted { .. } => RegistryError::SubjectNotSoftDeleted {
            subject: subject.to_string(),
        },
        RegistryError::VersionSoftDeleted { version, .. } => RegistryError::VersionSoftDeleted {
            subject: subject.to_string(),
            version,
        },
        RegistryError::VersionNotSoftDeleted { version, .. } => RegistryError::VersionNotSoftDeleted {
            subject: subject.to_string(),
            version,
        },
        RegistryError::SubjectLevelNotConfigured { .. } => RegistryError::SubjectLevelNotConfigured {
            subject: subject.to_string(),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confluent_error_bodies_map_to_typed_errors() {
        let e = error_from(
            StatusCode::NOT_FOUND,
            r#"{"error_code":40403,"message":"Schema 17 not found"}"#,
        );
        assert!(matches!(e, RegistryError::SchemaNotFound { id: 17 }));
        let e = error_from(
            StatusCode::NOT_FOUND,
            r#"{"error_code":40401,"message":"Subject 'x' not found."}"#,
        );
        assert!(matches!(e, RegistryError::SubjectNotFound { .. }));
        let e = error_from(
            StatusCode::CONFLICT,
            r#"{"error_code":409,"message":"incompatible"}"#,
        );
        assert!(matches!(e, RegistryError::Incompatible { .. }));
        let e = error_from(StatusCode::BAD_GATEWAY, "<html>proxy</html>");
        assert!(e.is_retriable(), "{e}");
        let e = error_from(StatusCode::UNAUTHORIZED, r#"{"error_code":401,"message":"no"}"#);
        assert!(matches!(e, RegistryError::Remote { code: 401, .. }));
    }

    #[test]
    fn subjects_are_escaped_in_paths() {
        let registry = HttpRegistry::builder("http://localhost:8081/base")
            .build()
            .unwrap();
        let url = registry.url_for(&["subjects", "a/b c", "versions"]).unwrap();
        assert_eq!(
            url.as_str(),
            "http://localhost:8081/base/subjects/a%2Fb%20c/versions"
        );
        assert!(HttpRegistry::builder("ftp://x").build().is_err());
        assert!(HttpRegistry::builder("not a url").build().is_err());
    }

    /// The client against meshkit's own REST server: every call of the
    /// trait, and Confluent's error codes turned back into typed errors.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn talks_to_a_confluent_compatible_server() {
        use super::super::{EmbeddedRegistry, RegistryServer};
        use std::sync::Arc;

        let server = RegistryServer::bind(
            "127.0.0.1:0".parse().unwrap(),
            Arc::new(EmbeddedRegistry::in_memory()),
        )
        .unwrap();
        let client = HttpRegistry::builder(format!("http://{}", server.local_addr()))
            .build()
            .unwrap();
        let v1 = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}"#;
        let v2 = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"b","type":"string","default":"x"}]}"#;
        let bad = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}"#;

        let first = client.register("s-value", v1).await.unwrap();
        assert_eq!((first.version, first.subject.as_str()), (1, "s-value"));
        assert_eq!(
            client.register("s-value", v1).await.unwrap().id,
            first.id,
            "idempotent"
        );
        let second = client.register("s-value", v2).await.unwrap();
        assert_eq!(second.version, 2);
        assert_eq!(
            client.register("other-value", v1).await.unwrap().id,
            first.id,
            "ids are global"
        );
        assert!(client.schema_by_id(second.id).await.unwrap().contains("\"b\""));
        assert_eq!(client.lookup("s-value", v1).await.unwrap().version, 1);
        assert_eq!(
            client.version("s-value", VersionRef::Latest).await.unwrap().id,
            second.id
        );
        assert_eq!(client.versions("s-value").await.unwrap(), vec![1, 2]);
        let mut subjects = client.subjects().await.unwrap();
        subjects.sort();
        assert_eq!(subjects, ["other-value", "s-value"]);

        let report = client
            .check_compatibility("s-value", bad, VersionRef::Latest)
            .await
            .unwrap();
        assert!(!report.is_compatible);
        assert!(report.messages.iter().any(|m| m.contains('a')), "{report:?}");
        match client.register("s-value", bad).await {
            Err(RegistryError::Incompatible { subject, messages }) => {
                assert_eq!(subject, "s-value");
                assert!(!messages.is_empty());
            }
            other => panic!("expected incompatible, got {other:?}"),
        }
        assert!(matches!(
            client.schema_by_id(9_999).await,
            Err(RegistryError::SchemaNotFound { id: 9_999 })
        ));
        assert!(matches!(
            client.versions("nope").await,
            Err(RegistryError::SubjectNotFound { subject }) if subject == "nope"
        ));
        assert!(matches!(
            client.register("s-value", "{not json").await,
            Err(RegistryError::InvalidSchema { .. })
        ));

        assert_eq!(
            client.compatibility_level(None).await.unwrap(),
            CompatibilityLevel::Backward
        );
        client
            .set_compatibility_level(Some("s-value"), CompatibilityLevel::None)
            .await
            .unwrap();
        assert_eq!(
            client.compatibility_level(Some("s-value")).await.unwrap(),
            CompatibilityLevel::None
        );
        assert_eq!(
            client.register("s-value", bad).await.unwrap().version,
            3,
            "level NONE lets it in"
        );
        assert_eq!(
            client
                .delete_version("s-value", VersionRef::Number(3), false)
                .await
                .unwrap(),
            3
        );
        assert_eq!(client.delete_subject("s-value", false).await.unwrap(), vec![1, 2]);

        server.shutdown().await.unwrap();
        assert!(
            client.subjects().await.unwrap_err().is_retriable(),
            "a registry that is gone"
        );
    }

    /// The later trait methods against meshkit's REST server: types,
    /// references, soft-deleted versions and listings survive the round trip.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_types_references_and_deleted_versions() {
        use super::super::{EmbeddedRegistry, RegistryServer};
        use std::sync::Arc;

        let server = RegistryServer::bind(
            "127.0.0.1:0".parse().unwrap(),
            Arc::new(EmbeddedRegistry::in_memory()),
        )
        .unwrap();
        let client = HttpRegistry::builder(format!("http://{}", server.local_addr()))
            .build()
            .unwrap();
        let customer = r#"{"type":"record","name":"Customer","fields":[{"name":"id","type":"long"}]}"#;
        let order = SchemaDefinition::avro(
            r#"{"type":"record","name":"Order","fields":[{"name":"c","type":"Customer"}]}"#,
        )
        .with_references(vec![SchemaReference::new("Customer", "customer", 1)]);
        let c = client.register("customer", customer).await.unwrap();
        let o = client.register_definition("order", &order).await.unwrap();
        assert_eq!(
            (o.subject.as_str(), o.version, o.definition.clone()),
            ("order", 1, order.clone())
        );
        assert_eq!(client.schema_definition_by_id(o.id).await.unwrap(), order);
        assert_eq!(
            client.lookup_definition("order", &order, false).await.unwrap().id,
            o.id
        );
        assert_eq!(
            client
                .referenced_by("customer", VersionRef::Latest, false)
                .await
                .unwrap(),
            vec![o.id]
        );
        assert_eq!(
            client.subject_versions_by_id(c.id, false).await.unwrap(),
            vec![SubjectVersion::new("customer", 1)]
        );
        assert!(matches!(
            client.subject_versions_by_id(999, false).await,
            Err(RegistryError::SchemaNotFound { id: 999 })
        ));
        assert!(matches!(
            client
                .delete_version("customer", VersionRef::Number(1), false)
                .await,
            Err(RegistryError::ReferenceExists { version: 1, .. })
        ));
        let bad_ref = SchemaDefinition::avro(order.schema.clone())
            .with_references(vec![SchemaReference::new("Customer", "customer", 5)]);
        assert!(matches!(
            client.register_definition("order", &bad_ref).await,
            Err(RegistryError::InvalidSchema { .. })
        ));

        let proto = SchemaDefinition::new(SchemaType::Protobuf, "syntax = \"proto3\";\nmessage P {}\n");
        let p = client.register_definition("p", &proto).await.unwrap();
        assert_eq!(client.schema_definition_by_id(p.id).await.unwrap(), proto);
        let proto2 = SchemaDefinition::new(SchemaType::Protobuf, "syntax = \"proto3\";\nmessage Q {}\n");
        let err = client.register_definition("p", &proto2).await.unwrap_err();
        // `P` is gone: a reader of the new version cannot read what was written.
        #[cfg(feature = "protobuf")]
        assert!(
            matches!(&err, RegistryError::Incompatible { messages, .. } if messages[0].contains("`P` was removed")),
            "{err:?}"
        );
        #[cfg(not(feature = "protobuf"))]
        assert!(matches!(err, RegistryError::Unsupported { .. }), "{err:?}");
        assert!(!err.is_retriable());

        client.delete_subject("p", false).await.unwrap();
        assert_eq!(client.list_subjects(false).await.unwrap(), ["customer", "order"]);
        assert_eq!(
            client.list_subjects(true).await.unwrap(),
            ["customer", "order", "p"]
        );
        assert_eq!(client.list_versions("p", true).await.unwrap(), vec![1]);
        let deleted = client
            .schema_version("p", VersionRef::Number(1), true)
            .await
            .unwrap();
        assert!(deleted.deleted);
        assert_eq!(deleted.definition, proto);
        let listed = client
            .schemas(&SchemaFilter::default().subject_prefix("o").latest_only(true))
            .await
            .unwrap();
        assert_eq!(listed, vec![o]);
        assert_eq!(client.kafka_cluster_id().await.unwrap(), None);
        server.shutdown().await.unwrap();
    }
}
