//! [`RegistryServer`]: Confluent Schema Registry's REST API over any
//! [`SchemaRegistry`], so that Confluent's clients and serializers (Java,
//! Python's `confluent-kafka`, …) can use an [`EmbeddedRegistry`](super::EmbeddedRegistry).
//!
//! Served: `GET /`, `GET /subjects`, `GET|POST /subjects/{s}/versions`,
//! `GET|DELETE /subjects/{s}/versions/{v}`, `GET /subjects/{s}/versions/{v}/schema`,
//! `GET /subjects/{s}/versions/{v}/referencedby`, `POST|DELETE /subjects/{s}`,
//! `GET /schemas`, `GET /schemas/ids/{id}`, `GET /schemas/ids/{id}/schema`,
//! `GET /schemas/ids/{id}/subjects`, `GET /schemas/ids/{id}/versions`,
//! `GET /schemas/types`, `POST /compatibility/subjects/{s}/versions[/{v}]`,
//! `GET|PUT /config`, `GET|PUT /config/{s}`, `GET /mode`, `GET /mode/{s}`,
//! `GET /contexts`, `GET /v1/metadata/id`. `?deleted=true` includes
//! soft-deleted subjects and versions where Confluent's does. Schemas may be
//! AVRO (the default), JSON or PROTOBUF, with `references`; `schemaType` is
//! answered only when not AVRO (as Confluent did before 8.0; clients take a
//! missing type as AVRO), `references` only when there are some, and
//! `"deleted":true` on soft-deleted versions. Bodies
//! are read as JSON whatever their content type; answers are
//! `application/vnd.schemaregistry.v1+json`, or
//! `application/vnd.schemaregistry+json` / `application/json` when the
//! client accepts only those. Errors are Confluent's: `{"error_code":40401,
//! "message":"Subject 'x' not found."}` with the HTTP status of the code's
//! first three digits.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::error::RegistryError;
use super::model::{
    CompatibilityLevel, SchemaDefinition, SchemaFilter, SchemaReference, SchemaType, SchemaVersion,
    SubjectVersion, VersionRef,
};
use super::SchemaRegistry;

/// The registry served.
type Shared = Arc<dyn SchemaRegistry>;

const V1_JSON: &str = "application/vnd.schemaregistry.v1+json";
const SR_JSON: &str = "application/vnd.schemaregistry+json";
const PLAIN_JSON: &str = "application/json";
/// Confluent's default context, the only one this registry has.
const DEFAULT_CONTEXT: &str = ".";
/// The only mode this registry has.
const READWRITE: &str = "READWRITE";
/// What `GET /v1/metadata/id` names the registry's cluster (Confluent's
/// default `schema.registry.group.id`).
const REGISTRY_CLUSTER_ID: &str = "schema-registry";

/// A running REST server for a [`SchemaRegistry`], speaking Confluent Schema
/// Registry's API (see the module docs).
///
/// It runs as a task on the tokio runtime it was bound on. Dropping it stops
/// it too (gracefully, in the background); [`shutdown`](Self::shutdown) waits
/// until it has stopped.
#[derive(Debug)]
pub struct RegistryServer {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl RegistryServer {
    /// Binds `addr` (e.g. `127.0.0.1:0` for a free port) and serves
    /// `registry` there, on a task of the current tokio runtime.
    ///
    /// # Errors
    /// If the address cannot be bound, or if called outside a tokio runtime.
    pub fn bind(addr: SocketAddr, registry: Arc<dyn SchemaRegistry>) -> Result<RegistryServer, io::Error> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| io::Error::other(format!("RegistryServer::bind needs a tokio runtime: {e}")))?;
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local_addr = listener.local_addr()?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let app = Self::router(registry);
        let task = runtime.spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // A send or a dropped sender both mean stop.
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%local_addr, "schema registry REST server listening");
        Ok(RegistryServer {
            local_addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The address the server listens on (with the port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections, lets requests in flight finish, and
    /// waits until the server has stopped.
    ///
    /// # Errors
    /// The server's I/O error, if it failed.
    pub async fn shutdown(mut self) -> Result<(), io::Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task
                .await
                .map_err(|e| io::Error::other(format!("the registry server task failed: {e}")))?,
            None => Ok(()),
        }
    }

    /// The server's routes, to mount in another axum application (of the
    /// axum release meshkit depends on, 0.8).
    pub fn router(registry: Arc<dyn SchemaRegistry>) -> Router {
        Router::new()
            .route("/", get(root))
            .route("/subjects", get(subjects))
            .route("/subjects/{subject}", post(lookup).delete(delete_subject))
            .route("/subjects/{subject}/versions", get(versions).post(register))
            .route(
                "/subjects/{subject}/versions/{version}",
                get(version).delete(delete_version),
            )
            .route(
                "/subjects/{subject}/versions/{version}/schema",
                get(version_schema),
            )
            .route(
                "/subjects/{subject}/versions/{version}/referencedby",
                get(referenced_by),
            )
            .route("/schemas", get(list_schemas))
            .route("/schemas/ids/{id}", get(schema_by_id))
            .route("/schemas/ids/{id}/schema", get(raw_schema_by_id))
            .route("/schemas/ids/{id}/subjects", get(subjects_by_id))
            .route("/schemas/ids/{id}/versions", get(versions_by_id))
            .route("/schemas/types", get(schema_types))
            .route(
                "/compatibility/subjects/{subject}/versions",
                post(compatibility_all),
            )
            .route(
                "/compatibility/subjects/{subject}/versions/{version}",
                post(compatibility_version),
            )
            .route("/config", get(global_config).put(set_global_config))
            .route("/config/{subject}", get(subject_config).put(set_subject_config))
            .route("/mode", get(global_mode))
            .route("/mode/{subject}", get(subject_mode))
            .route("/contexts", get(contexts))
            .route("/v1/metadata/id", get(cluster_ids))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(middleware::from_fn(negotiate))
            .with_state(registry)
    }
}

impl Drop for RegistryServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

// ----- responses -----------------------------------------------------------

/// A Confluent-style error answer.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: u32,
    message: String,
}

impl ApiError {
    fn new(code: u32, message: impl Into<String>) -> Self {
        let status = if code >= 10_000 { code / 100 } else { code };
        let status = u16::try_from(status)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(err: RegistryError) -> Self {
        let code = err.error_code();
        let message = match &err {
            RegistryError::SubjectNotFound { subject } => format!("Subject '{subject}' not found."),
            RegistryError::VersionNotFound { version, .. } => format!("Version {version} not found."),
            RegistryError::SchemaNotFound { id } => format!("Schema {id} not found"),
            RegistryError::SchemaNotInSubject { .. } => "Schema not found".to_string(),
            RegistryError::SubjectSoftDeleted { subject } => {
                format!("Subject '{subject}' was soft deleted.Set permanent=true to delete permanently")
            }
            RegistryError::SubjectNotSoftDeleted { subject } => {
                format!("Subject '{subject}' was not deleted first before being permanently deleted")
            }
            RegistryError::VersionSoftDeleted { subject, version } => format!(
                "Subject '{subject}' Version {version} was soft deleted.Set permanent=true to delete permanently"
            ),
            RegistryError::VersionNotSoftDeleted { subject, version } => format!(
                "Subject '{subject}' Version {version} was not deleted first before being permanently deleted"
            ),
            RegistryError::SubjectLevelNotConfigured { subject } => {
                format!("Subject '{subject}' does not have subject-level compatibility configured")
            }
            RegistryError::Incompatible { subject, messages } => format!(
                "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]",
                messages.join("; ")
            ),
            RegistryError::InvalidSchema { reason } => format!("Invalid schema: {reason}"),
            RegistryError::ReferenceNotFound { subject, version } => format!(
                "Invalid schema: No schema reference found for subject \"{subject}\" and version {version}"
            ),
            RegistryError::ReferenceExists { subject, version } => {
                format!("One or more references exist to the schema {{subject={subject},version={version}}}.")
            }
            RegistryError::InvalidVersion { version } => format!(
                "The specified version '{version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
            ),
            RegistryError::InvalidCompatibilityLevel { .. } => invalid_level_message(),
            RegistryError::Unavailable { .. } => {
                tracing::warn!(error = %crate::ErrorChain(&err), "schema registry request failed");
                format!("Error while forwarding the request or reading the store: {err}")
            }
            other => other.to_string(),
        };
        Self::new(code, message)
    }
}

fn invalid_level_message() -> String {
    "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, \
     forward_transitive, and full_transitive"
        .to_string()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error_code": self.code, "message": self.message });
        (self.status, json_body(&body)).into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

fn json_body(value: &impl Serialize) -> ([(header::HeaderName, HeaderValue); 1], String) {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "null".to_string());
    ([(header::CONTENT_TYPE, HeaderValue::from_static(V1_JSON))], text)
}

fn ok(value: &impl Serialize) -> ApiResult {
    Ok((StatusCode::OK, json_body(value)).into_response())
}

/// A raw schema text as the body (the `/schema` endpoints).
fn raw(text: String) -> ApiResult {
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(V1_JSON))],
        text,
    )
        .into_response())
}

/// Answers with the JSON type the client accepts (v1 unless it accepts only
/// one of the others).
async fn negotiate(request: Request, next: Next) -> Response {
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut response = next.run(request).await;
    let chosen = if accept.is_empty() || accept.contains(V1_JSON) || accept.contains("*/*") {
        None
    } else if accept.contains(SR_JSON) {
        Some(SR_JSON)
    } else if accept.contains(PLAIN_JSON) {
        Some(PLAIN_JSON)
    } else {
        None
    };
    if let Some(chosen) = chosen {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(chosen));
    }
    response
}

async fn not_found() -> ApiError {
    ApiError::new(404, "HTTP 404 Not Found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(405, "HTTP 405 Method Not Allowed")
}

// ----- request parsing -----------------------------------------------------

/// The query parameters, percent-decoded.
fn query_params(query: &Option<String>) -> Vec<(String, String)> {
    query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let decoded = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match decoded {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A boolean query flag; Python's client sends `True`/`False`.
fn flag(params: &[(String, String)], name: &str) -> bool {
    param(params, name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn parse_version(text: &str) -> Result<VersionRef, ApiError> {
    if text.eq_ignore_ascii_case("latest") || text == "-1" {
        return Ok(VersionRef::Latest);
    }
    match text.parse::<i64>() {
        Ok(n) if (1..=i64::from(i32::MAX)).contains(&n) => Ok(VersionRef::Number(n as u32)),
        _ => Err(RegistryError::InvalidVersion {
            version: text.to_string(),
        }
        .into()),
    }
}

/// The offset and limit of a listing (`limit` < 0: no limit), applied to `items`.
fn page<T>(items: Vec<T>, params: &[(String, String)]) -> Vec<T> {
    let offset = param(params, "offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0);
    let limit = param(params, "limit")
        .and_then(|l| l.parse::<i64>().ok())
        .unwrap_or(-1);
    items
        .into_iter()
        .skip(offset)
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect()
}

#[derive(Deserialize)]
struct SchemaRequest {
    schema: Option<String>,
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
    #[serde(default)]
    references: Option<Vec<ReferenceRequest>>,
}

/// A reference as sent: every field is checked, `version` may be -1 (latest).
#[derive(Deserialize)]
struct ReferenceRequest {
    name: Option<String>,
    subject: Option<String>,
    version: Option<i64>,
}

fn invalid_schema(reason: impl Into<String>) -> ApiError {
    RegistryError::InvalidSchema {
        reason: reason.into(),
    }
    .into()
}

/// The schema of a register / lookup / compatibility request, its
/// references' `-1` versions resolved to the subjects' latest.
async fn definition_of(reg: &Shared, body: &Bytes) -> Result<SchemaDefinition, ApiError> {
    let request: SchemaRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(400, format!("Malformed request body: {e}")))?;
    let schema_type = match request.schema_type.as_deref() {
        None => SchemaType::Avro,
        Some(kind) => kind.parse::<SchemaType>().map_err(invalid_schema)?,
    };
    let schema = match request.schema {
        Some(schema) if !schema.trim().is_empty() => schema,
        _ => return Err(invalid_schema("Empty schema")),
    };
    let mut references = Vec::new();
    for r in request.references.unwrap_or_default() {
        references.push(reference_of(reg, r).await?);
    }
    Ok(SchemaDefinition::new(schema_type, schema).with_references(references))
}

async fn reference_of(reg: &Shared, r: ReferenceRequest) -> Result<SchemaReference, ApiError> {
    let (Some(name), Some(subject), Some(version)) = (r.name, r.subject, r.version) else {
        return Err(invalid_schema(
            "Invalid reference: each needs a name, a subject and a version",
        ));
    };
    let version = match version {
        -1 => match reg.version(&subject, VersionRef::Latest).await {
            Ok(latest) => latest.version,
            Err(RegistryError::SubjectNotFound { .. } | RegistryError::VersionNotFound { .. }) => {
                return Err(RegistryError::ReferenceNotFound { subject, version: -1 }.into())
            }
            Err(e) => return Err(e.into()),
        },
        n => u32::try_from(n)
            .ok()
            .filter(|n| (1..=i32::MAX as u32).contains(n))
            .ok_or_else(|| {
                invalid_schema(format!("Invalid reference version {n} for subject \"{subject}\""))
            })?,
    };
    Ok(SchemaReference::new(name, subject, version))
}

/// `schemaType` (unless AVRO) and `references` (unless none) into `object`.
fn put_type_and_references(object: &mut serde_json::Map<String, Value>, definition: &SchemaDefinition) {
    if definition.schema_type != SchemaType::Avro {
        object.insert("schemaType".into(), json!(definition.schema_type.as_str()));
    }
    if !definition.references.is_empty() {
        object.insert("references".into(), json!(definition.references));
    }
}

/// A subject version as Confluent answers it.
fn version_json(v: &SchemaVersion) -> Value {
    let mut object = serde_json::Map::new();
    object.insert("subject".into(), json!(v.subject));
    object.insert("version".into(), json!(v.version));
    object.insert("id".into(), json!(v.id));
    put_type_and_references(&mut object, &v.definition);
    object.insert("schema".into(), json!(v.definition.schema));
    // Only `deleted=true` shows soft-deleted versions; say which they are.
    if v.deleted {
        object.insert("deleted".into(), json!(true));
    }
    Value::Object(object)
}

/// A schema by id as Confluent answers it (its `SchemaString`).
fn definition_json(d: &SchemaDefinition) -> Value {
    let mut object = serde_json::Map::new();
    put_type_and_references(&mut object, d);
    object.insert("schema".into(), json!(d.schema));
    Value::Object(object)
}

// ----- handlers ------------------------------------------------------------

async fn root() -> ApiResult {
    ok(&json!({}))
}

async fn subjects(State(reg): State<Shared>, RawQuery(query): RawQuery) -> ApiResult {
    let params = query_params(&query);
    let mut subjects = reg.list_subjects(flag(&params, "deleted")).await?;
    if let Some(prefix) = param(&params, "subjectPrefix").filter(|p| !p.is_empty() && *p != ":*:") {
        subjects.retain(|s| s.starts_with(prefix));
    }
    ok(&page(subjects, &params))
}

async fn versions(
    State(reg): State<Shared>,
    Path(subject): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let params = query_params(&query);
    let versions = reg.list_versions(&subject, flag(&params, "deleted")).await?;
    ok(&page(versions, &params))
}

async fn register(State(reg): State<Shared>, Path(subject): Path<String>, body: Bytes) -> ApiResult {
    let definition = definition_of(&reg, &body).await?;
    let registered = reg.register_definition(&subject, &definition).await?;
    ok(&version_json(&registered))
}

async fn lookup(
    State(reg): State<Shared>,
    Path(subject): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> ApiResult {
    let definition = definition_of(&reg, &body).await?;
    let deleted = flag(&query_params(&query), "deleted");
    let found = reg.lookup_definition(&subject, &definition, deleted).await?;
    ok(&version_json(&found))
}

async fn version(
    State(reg): State<Shared>,
    Path((subject, version)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let version = parse_version(&version)?;
    let params = query_params(&query);
    let mut found = reg
        .schema_version(&subject, version, flag(&params, "deleted"))
        .await?;
    in_format(&mut found.definition, &params);
    ok(&version_json(&found))
}

async fn version_schema(
    State(reg): State<Shared>,
    Path((subject, version)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let version = parse_version(&version)?;
    let deleted = flag(&query_params(&query), "deleted");
    raw(reg
        .schema_version(&subject, version, deleted)
        .await?
        .definition
        .schema)
}

async fn referenced_by(
    State(reg): State<Shared>,
    Path((subject, version)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let version = parse_version(&version)?;
    let params = query_params(&query);
    let ids = reg
        .referenced_by(&subject, version, flag(&params, "deleted"))
        .await?;
    ok(&page(ids, &params))
}

async fn delete_subject(
    State(reg): State<Shared>,
    Path(subject): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let permanent = flag(&query_params(&query), "permanent");
    ok(&reg.delete_subject(&subject, permanent).await?)
}

async fn delete_version(
    State(reg): State<Shared>,
    Path((subject, version)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let version = parse_version(&version)?;
    let permanent = flag(&query_params(&query), "permanent");
    ok(&reg.delete_version(&subject, version, permanent).await?)
}

fn parse_id(text: &str) -> Result<u32, ApiError> {
    text.parse::<u32>()
        .map_err(|_| ApiError::new(40403, format!("Schema {text} not found")))
}

async fn schema_by_id(
    State(reg): State<Shared>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let mut definition = reg.schema_definition_by_id(parse_id(&id)?).await?;
    in_format(&mut definition, &query_params(&query));
    ok(&definition_json(&definition))
}

/// Writes a Protobuf schema in the form `?format=` asks for: `serialized`
/// is the base64 of its `FileDescriptorProto`, which Confluent's clients
/// parse; otherwise the text as registered.
#[cfg(feature = "protobuf")]
fn in_format(definition: &mut SchemaDefinition, params: &[(String, String)]) {
    let serialized = params.iter().any(|(k, v)| k == "format" && v == "serialized");
    if serialized && definition.schema_type == SchemaType::Protobuf {
        // Validated at registration: a failure here leaves the text as it is.
        if let Ok(base64) = crate::schema::serialized_proto_schema(&definition.schema) {
            definition.schema = base64;
        }
    }
}

/// Without Protobuf support every schema is given as registered.
#[cfg(not(feature = "protobuf"))]
fn in_format(_: &mut SchemaDefinition, _: &[(String, String)]) {}

async fn raw_schema_by_id(State(reg): State<Shared>, Path(id): Path<String>) -> ApiResult {
    raw(reg.schema_by_id(parse_id(&id)?).await?)
}

async fn id_versions(
    reg: &Shared,
    id: &str,
    params: &[(String, String)],
) -> Result<Vec<SubjectVersion>, ApiError> {
    Ok(reg
        .subject_versions_by_id(parse_id(id)?, flag(params, "deleted"))
        .await?)
}

async fn subjects_by_id(
    State(reg): State<Shared>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let params = query_params(&query);
    let mut subjects: Vec<String> = Vec::new();
    // By subject then version: each subject's versions are adjacent.
    for v in id_versions(&reg, &id, &params).await? {
        if subjects.last() != Some(&v.subject) {
            subjects.push(v.subject);
        }
    }
    ok(&page(subjects, &params))
}

async fn versions_by_id(
    State(reg): State<Shared>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let params = query_params(&query);
    let versions = id_versions(&reg, &id, &params).await?;
    ok(&page(versions, &params))
}

async fn list_schemas(State(reg): State<Shared>, RawQuery(query): RawQuery) -> ApiResult {
    let params = query_params(&query);
    let mut filter = SchemaFilter::default()
        .include_deleted(flag(&params, "deleted"))
        .latest_only(flag(&params, "latestOnly"));
    if let Some(prefix) = param(&params, "subjectPrefix").filter(|p| !p.is_empty() && *p != ":*:") {
        filter = filter.subject_prefix(prefix);
    }
    let schemas: Vec<Value> = reg.schemas(&filter).await?.iter().map(version_json).collect();
    ok(&page(schemas, &params))
}

async fn schema_types() -> ApiResult {
    let types: Vec<&str> = SchemaType::ALL.iter().map(|t| t.as_str()).collect();
    ok(&types)
}

fn compatibility_answer(is_compatible: bool, messages: Vec<String>, verbose: bool) -> ApiResult {
    if verbose {
        ok(&json!({ "is_compatible": is_compatible, "messages": messages }))
    } else {
        ok(&json!({ "is_compatible": is_compatible }))
    }
}

/// Against one version (`latest`: the latest only, as Confluent does).
async fn compatibility_version(
    State(reg): State<Shared>,
    Path((subject, version)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> ApiResult {
    let verbose = flag(&query_params(&query), "verbose");
    let definition = definition_of(&reg, &body).await?;
    let version = match parse_version(&version)? {
        VersionRef::Number(n) => VersionRef::Number(n),
        VersionRef::Latest => match reg.version(&subject, VersionRef::Latest).await {
            Ok(latest) => VersionRef::Number(latest.version),
            // No versions yet: anything valid is compatible.
            Err(RegistryError::SubjectNotFound { .. }) => VersionRef::Latest,
            Err(e) => return Err(e.into()),
        },
    };
    let report = reg
        .check_definition_compatibility(&subject, &definition, version)
        .await?;
    compatibility_answer(report.is_compatible, report.messages, verbose)
}

/// Against the versions the subject's level names (all for transitive levels).
async fn compatibility_all(
    State(reg): State<Shared>,
    Path(subject): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> ApiResult {
    let verbose = flag(&query_params(&query), "verbose");
    let definition = definition_of(&reg, &body).await?;
    let report = reg
        .check_definition_compatibility(&subject, &definition, VersionRef::Latest)
        .await?;
    compatibility_answer(report.is_compatible, report.messages, verbose)
}

async fn global_config(State(reg): State<Shared>) -> ApiResult {
    let level = reg.compatibility_level(None).await?;
    ok(&json!({ "compatibilityLevel": level.as_str() }))
}

async fn subject_config(
    State(reg): State<Shared>,
    Path(subject): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let level = if flag(&query_params(&query), "defaultToGlobal") {
        reg.compatibility_level(Some(&subject)).await?
    } else {
        reg.subject_compatibility_level(&subject)
            .await?
            .ok_or(RegistryError::SubjectLevelNotConfigured { subject })?
    };
    ok(&json!({ "compatibilityLevel": level.as_str() }))
}

/// The level of a `PUT /config` body: `{"compatibility":"FULL"}` (or
/// `compatibilityLevel`, which Confluent's clients may send too).
fn level_of(body: &Bytes) -> Result<CompatibilityLevel, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(400, format!("Malformed request body: {e}")))?;
    let text = value
        .get("compatibility")
        .or_else(|| value.get("compatibilityLevel"))
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::new(42203, invalid_level_message()))?;
    text.parse::<CompatibilityLevel>()
        .map_err(|_| ApiError::new(42203, invalid_level_message()))
}

async fn set_global_config(State(reg): State<Shared>, body: Bytes) -> ApiResult {
    let level = reg.set_compatibility_level(None, level_of(&body)?).await?;
    ok(&json!({ "compatibility": level.as_str() }))
}

async fn set_subject_config(
    State(reg): State<Shared>,
    Path(subject): Path<String>,
    body: Bytes,
) -> ApiResult {
    let level = reg
        .set_compatibility_level(Some(&subject), level_of(&body)?)
        .await?;
    ok(&json!({ "compatibility": level.as_str() }))
}

/// The registry has no modes: it is always read-write.
async fn global_mode() -> ApiResult {
    ok(&json!({ "mode": READWRITE }))
}

/// A subject has no mode of its own (Confluent's 40409), unless asked with
/// `defaultToGlobal=true`.
async fn subject_mode(Path(subject): Path<String>, RawQuery(query): RawQuery) -> ApiResult {
    if flag(&query_params(&query), "defaultToGlobal") {
        return ok(&json!({ "mode": READWRITE }));
    }
    Err(ApiError::new(
        40409,
        format!("Subject '{subject}' does not have subject-level mode configured"),
    ))
}

/// The registry has only the default context.
async fn contexts() -> ApiResult {
    ok(&[DEFAULT_CONTEXT])
}

/// Confluent's `ServerClusterId`; the Kafka cluster's id is empty when the
/// registry has none (in memory) or does not say.
async fn cluster_ids(State(reg): State<Shared>) -> ApiResult {
    let kafka = match reg.kafka_cluster_id().await {
        Ok(id) => id.unwrap_or_default(),
        Err(RegistryError::Unsupported { .. }) => String::new(),
        Err(e) => return Err(e.into()),
    };
    ok(&json!({
        "scope": {
            "path": [],
            "clusters": { "kafka-cluster": kafka, "schema-registry-cluster": REGISTRY_CLUSTER_ID }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::registry::{CompatibilityReport, EmbeddedRegistry, RegisteredSchema, RegistryFuture};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// The answer to one request: status, content type, body.
    struct Answer {
        status: u16,
        content_type: String,
        body: String,
    }

    impl Answer {
        fn json(&self) -> Value {
            serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
        }

        #[track_caller]
        fn error(&self, status: u16, code: u32) -> String {
            assert_eq!(self.status, status, "{}", self.body);
            let v = self.json();
            assert_eq!(v["error_code"], json!(code), "{}", self.body);
            v["message"].as_str().unwrap().to_string()
        }
    }

    /// A minimal HTTP/1.1 client: one request per connection.
    async fn http(
        addr: SocketAddr,
        method: &str,
        path: &str,
        body: Option<&str>,
        accept: Option<&str>,
    ) -> Answer {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        if let Some(accept) = accept {
            request.push_str(&format!("Accept: {accept}\r\n"));
        }
        if let Some(body) = body {
            request.push_str(&format!(
                "Content-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(body.unwrap_or(""));
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        let response = String::from_utf8(response).unwrap();
        let (head, mut body) = response.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let mut content_type = String::new();
        let mut chunked = false;
        for line in lines {
            let (name, value) = line.split_once(':').unwrap();
            match name.to_ascii_lowercase().as_str() {
                "content-type" => content_type = value.trim().to_string(),
                "transfer-encoding" => chunked = value.trim().eq_ignore_ascii_case("chunked"),
                _ => {}
            }
        }
        let mut text = String::new();
        if chunked {
            loop {
                let (size, rest) = body.split_once("\r\n").unwrap();
                let size = usize::from_str_radix(size.trim(), 16).unwrap();
                if size == 0 {
                    break;
                }
                text.push_str(&rest[..size]);
                body = &rest[size + 2..];
            }
        } else {
            text = body.to_string();
        }
        Answer {
            status,
            content_type,
            body: text,
        }
    }

    fn body(schema: &str) -> String {
        json!({ "schema": schema }).to_string()
    }

    const V1: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
    const V2: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":""}]}"#;
    const BAD: &str =
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"c","type":"long"}]}"#;

    async fn server() -> RegistryServer {
        let registry: Arc<dyn SchemaRegistry> = Arc::new(EmbeddedRegistry::in_memory());
        RegistryServer::bind("127.0.0.1:0".parse().unwrap(), registry).unwrap()
    }

    #[tokio::test]
    async fn registers_looks_up_and_reads_schemas() {
        let server = server().await;
        let addr = server.local_addr();
        let a = http(addr, "GET", "/", None, None).await;
        assert_eq!((a.status, a.json()), (200, json!({})));
        assert_eq!(a.content_type, V1_JSON);

        let a = http(
            addr,
            "POST",
            "/subjects/orders-value/versions",
            Some(&body(V1)),
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.json()["id"], json!(1));
        assert_eq!(a.json()["version"], json!(1));
        // Same schema, other whitespace: same id and version; other subject: same id, version 1.
        let spaced = V1.replace(',', ", ");
        let a = http(
            addr,
            "POST",
            "/subjects/orders-value/versions",
            Some(&body(&spaced)),
            None,
        )
        .await;
        assert_eq!(
            (a.json()["id"].clone(), a.json()["version"].clone()),
            (json!(1), json!(1))
        );
        let a = http(
            addr,
            "POST",
            "/subjects/other%2Fsubject/versions",
            Some(&body(V1)),
            None,
        )
        .await;
        assert_eq!(
            (a.json()["id"].clone(), a.json()["version"].clone()),
            (json!(1), json!(1))
        );
        let a = http(
            addr,
            "POST",
            "/subjects/orders-value/versions",
            Some(&body(V2)),
            None,
        )
        .await;
        assert_eq!(
            (a.json()["id"].clone(), a.json()["version"].clone()),
            (json!(2), json!(2))
        );

        let a = http(addr, "GET", "/subjects", None, None).await;
        assert_eq!(a.json(), json!(["orders-value", "other/subject"]));
        let a = http(
            addr,
            "GET",
            "/subjects?subjectPrefix=ord&deleted=False&offset=0&limit=-1",
            None,
            None,
        )
        .await;
        assert_eq!(a.json(), json!(["orders-value"]));
        let a = http(addr, "GET", "/subjects/orders-value/versions", None, None).await;
        assert_eq!(a.json(), json!([1, 2]));
        let a = http(addr, "GET", "/subjects/orders-value/versions/latest", None, None).await;
        assert_eq!(
            a.json(),
            json!({"subject": "orders-value", "version": 2, "id": 2, "schema": V2})
        );
        let a = http(addr, "GET", "/subjects/orders-value/versions/1", None, None).await;
        assert_eq!(a.json()["schema"], json!(V1));
        let a = http(
            addr,
            "GET",
            "/subjects/orders-value/versions/1/schema",
            None,
            None,
        )
        .await;
        assert_eq!(a.body, V1);
        let a = http(addr, "GET", "/schemas/ids/2", None, None).await;
        assert_eq!(a.json(), json!({ "schema": V2 }));
        let a = http(addr, "GET", "/schemas/ids/2/schema", None, None).await;
        assert_eq!(a.body, V2);
        let a = http(addr, "GET", "/schemas/types", None, None).await;
        assert_eq!(a.json(), json!(["JSON", "PROTOBUF", "AVRO"]));
        let a = http(
            addr,
            "POST",
            "/subjects/orders-value?normalize=False&deleted=False",
            Some(&body(V1)),
            None,
        )
        .await;
        assert_eq!(
            a.json(),
            json!({"subject": "orders-value", "version": 1, "id": 1, "schema": V1})
        );

        // Content negotiation: each accepted type is answered as such.
        for accept in [SR_JSON, PLAIN_JSON] {
            let a = http(addr, "GET", "/subjects", None, Some(accept)).await;
            assert_eq!(a.content_type, accept);
        }
        let both = format!("{V1_JSON}, {SR_JSON}, {PLAIN_JSON}");
        assert_eq!(
            http(addr, "GET", "/subjects", None, Some(&both))
                .await
                .content_type,
            V1_JSON
        );
        server.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn answers_confluents_errors() {
        let server = server().await;
        let addr = server.local_addr();
        http(addr, "POST", "/subjects/s/versions", Some(&body(V1)), None).await;
        let m = http(addr, "GET", "/subjects/nope/versions", None, None)
            .await
            .error(404, 40401);
        assert_eq!(m, "Subject 'nope' not found.");
        http(addr, "GET", "/subjects/s/versions/7", None, None)
            .await
            .error(404, 40402);
        http(addr, "GET", "/schemas/ids/99", None, None)
            .await
            .error(404, 40403);
        http(addr, "POST", "/subjects/s", Some(&body(V2)), None)
            .await
            .error(404, 40403);
        http(addr, "GET", "/subjects/s/versions/0", None, None)
            .await
            .error(422, 42202);
        http(addr, "GET", "/subjects/s/versions/abc", None, None)
            .await
            .error(422, 42202);
        let m = http(addr, "POST", "/subjects/s/versions", Some(&body(BAD)), None)
            .await
            .error(409, 409);
        assert!(
            m.contains("\"s\"") && m.contains("version 1") && m.contains("'c'"),
            "{m}"
        );
        http(
            addr,
            "POST",
            "/subjects/s/versions",
            Some(&body("{\"type\":")),
            None,
        )
        .await
        .error(422, 42201);
        // Another type under an Avro subject is incompatible, as with Confluent.
        let proto = json!({"schema": "syntax = \"proto3\";", "schemaType": "PROTOBUF"}).to_string();
        let m = http(addr, "POST", "/subjects/s/versions", Some(&proto), None)
            .await
            .error(409, 409);
        assert!(m.contains("different schema type"), "{m}");
        let xml = json!({"schema": "<a/>", "schemaType": "XML"}).to_string();
        let m = http(addr, "POST", "/subjects/s/versions", Some(&xml), None)
            .await
            .error(422, 42201);
        assert!(m.contains("XML"), "{m}");
        http(addr, "POST", "/subjects/s/versions", Some("not json"), None)
            .await
            .error(400, 400);
        http(
            addr,
            "PUT",
            "/config",
            Some(r#"{"compatibility":"SIDEWAYS"}"#),
            None,
        )
        .await
        .error(422, 42203);
        http(addr, "GET", "/nowhere", None, None).await.error(404, 404);
        server.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn checks_compatibility() {
        let server = server().await;
        let addr = server.local_addr();
        http(addr, "POST", "/subjects/s/versions", Some(&body(V1)), None).await;
        let path = "/compatibility/subjects/s/versions/latest?normalize=False&verbose=False";
        assert_eq!(
            http(addr, "POST", path, Some(&body(V2)), None).await.json(),
            json!({"is_compatible": true})
        );
        assert_eq!(
            http(addr, "POST", path, Some(&body(BAD)), None).await.json(),
            json!({"is_compatible": false})
        );
        let a = http(
            addr,
            "POST",
            "/compatibility/subjects/s/versions/1?verbose=true",
            Some(&body(BAD)),
            None,
        )
        .await;
        assert_eq!(a.json()["is_compatible"], json!(false));
        let messages = a.json()["messages"].as_array().unwrap().clone();
        assert_eq!(messages.len(), 1);
        assert!(messages[0].as_str().unwrap().contains("'c'"), "{messages:?}");
        let a = http(
            addr,
            "POST",
            "/compatibility/subjects/s/versions?verbose=True",
            Some(&body(V2)),
            None,
        )
        .await;
        assert_eq!(a.json(), json!({"is_compatible": true, "messages": []}));
        // A subject without versions accepts anything valid at `latest`.
        let a = http(
            addr,
            "POST",
            "/compatibility/subjects/new/versions/latest",
            Some(&body(BAD)),
            None,
        )
        .await;
        assert_eq!(a.json(), json!({"is_compatible": true}));
        http(
            addr,
            "POST",
            "/compatibility/subjects/new/versions/1",
            Some(&body(BAD)),
            None,
        )
        .await
        .error(404, 40401);
        http(
            addr,
            "POST",
            "/compatibility/subjects/s/versions/3",
            Some(&body(BAD)),
            None,
        )
        .await
        .error(404, 40402);
        server.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn configures_levels() {
        let server = server().await;
        let addr = server.local_addr();
        assert_eq!(
            http(addr, "GET", "/config", None, None).await.json(),
            json!({"compatibilityLevel": "BACKWARD"})
        );
        let a = http(addr, "PUT", "/config", Some(r#"{"compatibility":"full"}"#), None).await;
        assert_eq!(a.json(), json!({"compatibility": "FULL"}));
        assert_eq!(
            http(addr, "GET", "/config", None, None).await.json(),
            json!({"compatibilityLevel": "FULL"})
        );
        let m = http(addr, "GET", "/config/s", None, None).await.error(404, 40408);
        assert!(m.contains("'s'"), "{m}");
        let a = http(addr, "GET", "/config/s?defaultToGlobal=true", None, None).await;
        assert_eq!(a.json(), json!({"compatibilityLevel": "FULL"}));
        let a = http(
            addr,
            "PUT",
            "/config/s",
            Some(r#"{"compatibility":"NONE"}"#),
            None,
        )
        .await;
        assert_eq!(a.json(), json!({"compatibility": "NONE"}));
        assert_eq!(
            http(addr, "GET", "/config/s", None, None).await.json(),
            json!({"compatibilityLevel": "NONE"})
        );
        // With NONE, anything goes.
        http(addr, "POST", "/subjects/s/versions", Some(&body(V1)), None).await;
        let a = http(
            addr,
            "POST",
            "/subjects/s/versions",
            Some(&body(r#""string""#)),
            None,
        )
        .await;
        assert_eq!(a.json()["version"], json!(2));
        server.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn deletes_softly_then_permanently() {
        let server = server().await;
        let addr = server.local_addr();
        http(addr, "PUT", "/config", Some(r#"{"compatibility":"NONE"}"#), None).await;
        for s in [V1, V2, r#""string""#] {
            http(addr, "POST", "/subjects/s/versions", Some(&body(s)), None).await;
        }
        http(
            addr,
            "DELETE",
            "/subjects/s/versions/2?permanent=true",
            None,
            None,
        )
        .await
        .error(404, 40407);
        assert_eq!(
            http(addr, "DELETE", "/subjects/s/versions/2", None, None)
                .await
                .json(),
            json!(2)
        );
        http(addr, "DELETE", "/subjects/s/versions/2", None, None)
            .await
            .error(404, 40406);
        assert_eq!(
            http(addr, "GET", "/subjects/s/versions", None, None).await.json(),
            json!([1, 3])
        );
        // The id of a soft-deleted version still resolves.
        assert_eq!(http(addr, "GET", "/schemas/ids/2", None, None).await.status, 200);
        assert_eq!(
            http(
                addr,
                "DELETE",
                "/subjects/s/versions/2?permanent=true",
                None,
                None
            )
            .await
            .json(),
            json!(2)
        );
        http(addr, "GET", "/schemas/ids/2", None, None)
            .await
            .error(404, 40403);
        http(addr, "DELETE", "/subjects/s?permanent=true", None, None)
            .await
            .error(404, 40405);
        assert_eq!(
            http(addr, "DELETE", "/subjects/s", None, None).await.json(),
            json!([1, 3])
        );
        http(addr, "DELETE", "/subjects/s", None, None)
            .await
            .error(404, 40404);
        http(addr, "GET", "/subjects/s/versions", None, None)
            .await
            .error(404, 40401);
        assert_eq!(http(addr, "GET", "/subjects", None, None).await.json(), json!([]));
        let a = http(addr, "DELETE", "/subjects/s?permanent=true", None, None).await;
        assert_eq!(a.json(), json!([1, 3]));
        http(addr, "DELETE", "/subjects/s?permanent=true", None, None)
            .await
            .error(404, 40401);
        server.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn shutdown_stops_the_server() {
        let server = server().await;
        let addr = server.local_addr();
        assert_eq!(http(addr, "GET", "/", None, None).await.status, 200);
        server.shutdown().await.unwrap();
        assert!(TcpStream::connect(addr).await.is_err());
    }

    /// Runs `tests/python/registry_interop.py` (Confluent's Python client)
    /// against `registry` served over HTTP; skipped with a notice when the
    /// venv of scripts/install-python.sh or the script is missing.
    async fn python_interop(test: &str, registry: Arc<dyn SchemaRegistry>) {
        let cache = std::env::var_os("MESHKIT_CACHE")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache/meshkit")));
        let Some(python) = cache.map(|c| c.join("venv/bin/python")).filter(|p| p.exists()) else {
            // CI installs the venv and sets this, so there the test cannot pass by skipping.
            assert!(
                std::env::var_os("MESHKIT_TEST_REQUIRE_PYTHON").is_none(),
                "{test}: no Python venv although MESHKIT_TEST_REQUIRE_PYTHON is set (run scripts/install-python.sh)"
            );
            eprintln!("{test}: skipped: no Python venv (run scripts/install-python.sh)");
            return;
        };
        let script = std::env::var_os("MESHKIT_TEST_INTEROP_SCRIPT")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/registry_interop.py")
            });
        if !script.exists() {
            eprintln!(
                "{test}: skipped: {} not found (set MESHKIT_TEST_INTEROP_SCRIPT)",
                script.display()
            );
            return;
        }
        let server = RegistryServer::bind("127.0.0.1:0".parse().unwrap(), registry).unwrap();
        let url = format!("http://{}", server.local_addr());
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new(python)
                .arg(script)
                .arg("--registry")
                .arg(url)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        eprintln!("{test}: {stdout}{stderr}");
        assert!(
            output.status.success(),
            "Confluent's client disagrees:\n{stdout}{stderr}"
        );
        server.shutdown().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn confluents_python_client_is_happy_in_memory() {
        let registry: Arc<dyn SchemaRegistry> = Arc::new(EmbeddedRegistry::in_memory());
        python_interop("confluents_python_client_is_happy_in_memory", registry).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn confluents_python_client_is_happy_on_kafka() {
        let test = "confluents_python_client_is_happy_on_kafka";
        let Some(brokers) = crate::test_support::test_brokers(test) else {
            return;
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let topic = format!("_schemas-interop-{}-{nanos}", std::process::id());
        let no_extra: [(&str, &str); 0] = [];
        let registry = EmbeddedRegistry::connect(&brokers, &topic, no_extra)
            .await
            .unwrap();
        python_interop(test, Arc::new(registry)).await;
    }

    // ----- routes driven through the router (no socket) -------------------

    /// The router over a fresh in-memory registry.
    fn app() -> Router {
        RegistryServer::router(Arc::new(EmbeddedRegistry::in_memory()))
    }

    /// `method path` with an optional JSON body, through `router`.
    async fn call(router: &Router, method: &str, path: &str, body: Option<&str>) -> Answer {
        use tower::ServiceExt;
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, V1_JSON)
            .body(axum::body::Body::from(body.unwrap_or("").to_string()))
            .expect("request");
        let response = router.clone().oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        Answer {
            status,
            content_type,
            body: String::from_utf8(bytes.to_vec()).expect("UTF-8"),
        }
    }

    /// Registers `body` under `subject`; its id.
    async fn post_version(router: &Router, subject: &str, body: &str) -> u64 {
        let a = call(
            router,
            "POST",
            &format!("/subjects/{subject}/versions"),
            Some(body),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.json()["id"].as_u64().expect("an id")
    }

    async fn get_json(router: &Router, path: &str) -> Value {
        let a = call(router, "GET", path, None).await;
        assert_eq!(a.status, 200, "GET {path}: {}", a.body);
        a.json()
    }

    const CUSTOMER: &str =
        r#"{"type":"record","name":"Customer","namespace":"shop","fields":[{"name":"id","type":"long"}]}"#;
    const CUSTOMER_V2: &str = r#"{"type":"record","name":"Customer","namespace":"shop","fields":[{"name":"id","type":"long"},{"name":"vip","type":"boolean","default":false}]}"#;
    const CUSTOMER_V3: &str = r#"{"type":"record","name":"Customer","namespace":"shop","fields":[{"name":"id","type":"long"},{"name":"tier","type":"string"}]}"#;
    const ORDER: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"buyer","type":"Customer"}]}"#;

    fn with_refs(schema: &str, references: Value) -> String {
        json!({ "schema": schema, "references": references }).to_string()
    }

    #[tokio::test]
    async fn lists_the_subjects_and_versions_of_an_id() {
        let app = app();
        let id = post_version(&app, "b", &body(V1)).await;
        post_version(&app, "a", &body(V1)).await;
        post_version(&app, "a", &body(V2)).await;
        // `a` has V1 as version 1; soft-delete it.
        assert_eq!(
            call(&app, "DELETE", "/subjects/a/versions/1", None).await.json(),
            json!(1)
        );
        assert_eq!(
            get_json(&app, &format!("/schemas/ids/{id}/subjects")).await,
            json!(["b"])
        );
        assert_eq!(
            get_json(&app, &format!("/schemas/ids/{id}/subjects?deleted=true")).await,
            json!(["a", "b"])
        );
        assert_eq!(
            get_json(&app, &format!("/schemas/ids/{id}/versions")).await,
            json!([{"subject": "b", "version": 1}])
        );
        assert_eq!(
            get_json(
                &app,
                &format!("/schemas/ids/{id}/versions?deleted=true&offset=1&limit=5")
            )
            .await,
            json!([{"subject": "b", "version": 1}])
        );
        assert_eq!(
            get_json(&app, &format!("/schemas/ids/{id}/versions?deleted=true")).await,
            json!([{"subject": "a", "version": 1}, {"subject": "b", "version": 1}])
        );
        let m = call(&app, "GET", "/schemas/ids/99/subjects", None)
            .await
            .error(404, 40403);
        assert!(m.contains("99"), "{m}");
        call(&app, "GET", "/schemas/ids/99/versions", None)
            .await
            .error(404, 40403);
        call(&app, "GET", "/schemas/ids/x/versions", None)
            .await
            .error(404, 40403);
    }

    #[tokio::test]
    async fn lists_schemas_by_prefix_deleted_and_latest() {
        let app = app();
        post_version(&app, "orders-value", &body(V1)).await;
        post_version(&app, "orders-value", &body(V2)).await;
        let json_schema = r#"{"type":"object","properties":{"n":{"type":"integer"}}}"#;
        let json_id = post_version(
            &app,
            "other-value",
            &json!({"schema": json_schema, "schemaType": "JSON"}).to_string(),
        )
        .await;
        call(&app, "DELETE", "/subjects/orders-value/versions/2", None).await;
        assert_eq!(
            get_json(&app, "/schemas").await,
            json!([
                {"subject": "orders-value", "version": 1, "id": 1, "schema": V1},
                {"subject": "other-value", "version": 1, "id": json_id, "schemaType": "JSON", "schema": json_schema},
            ])
        );
        assert_eq!(
            get_json(&app, "/schemas?subjectPrefix=orders&deleted=true").await,
            json!([
                {"subject": "orders-value", "version": 1, "id": 1, "schema": V1},
                {"subject": "orders-value", "version": 2, "id": 2, "schema": V2, "deleted": true},
            ])
        );
        assert_eq!(
            get_json(&app, "/schemas?subjectPrefix=orders&deleted=true&latestOnly=true").await,
            json!([{"subject": "orders-value", "version": 2, "id": 2, "schema": V2, "deleted": true}])
        );
        assert_eq!(
            get_json(&app, "/schemas?latestOnly=true&limit=1&offset=1").await,
            json!([{"subject": "other-value", "version": 1, "id": json_id, "schemaType": "JSON", "schema": json_schema}])
        );
        assert_eq!(get_json(&app, "/schemas?subjectPrefix=none").await, json!([]));
    }

    #[tokio::test]
    async fn registers_references_and_lists_who_refers() {
        let app = app();
        let customer = post_version(&app, "customer", &body(CUSTOMER)).await;
        // Order alone does not parse: Customer is unknown.
        call(&app, "POST", "/subjects/order/versions", Some(&body(ORDER)))
            .await
            .error(422, 42201);
        let refs = json!([{"name": "shop.Customer", "subject": "customer", "version": 1}]);
        let order = post_version(&app, "order", &with_refs(ORDER, refs.clone())).await;
        assert_ne!(order, customer);
        assert_eq!(
            get_json(&app, &format!("/schemas/ids/{order}")).await,
            json!({"schema": ORDER, "references": refs})
        );
        assert_eq!(
            get_json(&app, "/subjects/order/versions/latest").await,
            json!({"subject": "order", "version": 1, "id": order, "references": refs, "schema": ORDER})
        );
        // The same again (latest as -1) is the same version; lookup finds it.
        let latest_ref = json!([{"name": "shop.Customer", "subject": "customer", "version": -1}]);
        assert_eq!(
            post_version(&app, "order", &with_refs(ORDER, latest_ref.clone())).await,
            order
        );
        let a = call(
            &app,
            "POST",
            "/subjects/order",
            Some(&with_refs(ORDER, latest_ref)),
        )
        .await;
        assert_eq!(a.json()["version"], json!(1), "{}", a.body);
        assert_eq!(a.json()["references"], refs);
        // The text alone is another schema: not found under the subject.
        call(&app, "POST", "/subjects/order", Some(&body(ORDER)))
            .await
            .error(422, 42201);

        assert_eq!(
            get_json(&app, "/subjects/customer/versions/1/referencedby").await,
            json!([order])
        );
        assert_eq!(
            get_json(&app, "/subjects/customer/versions/latest/referencedby").await,
            json!([order])
        );
        assert_eq!(
            get_json(&app, "/subjects/order/versions/1/referencedby").await,
            json!([])
        );
        call(&app, "GET", "/subjects/nope/versions/1/referencedby", None)
            .await
            .error(404, 40401);
        call(&app, "GET", "/subjects/customer/versions/7/referencedby", None)
            .await
            .error(404, 40402);

        // A newer Customer that Order's next version refers to: checked with its fields.
        post_version(&app, "customer", &body(CUSTOMER_V2)).await;
        let v2_refs = json!([{"name": "shop.Customer", "subject": "customer", "version": 2}]);
        let a = call(
            &app,
            "POST",
            "/compatibility/subjects/order/versions/latest?verbose=true",
            Some(&with_refs(ORDER, v2_refs)),
        )
        .await;
        assert_eq!(a.json(), json!({"is_compatible": true, "messages": []}));
        // One whose new field has no default cannot read Order's data: the
        // referenced fields are compared, not only the type's name.
        call(
            &app,
            "PUT",
            "/config/customer",
            Some(r#"{"compatibility":"NONE"}"#),
        )
        .await;
        post_version(&app, "customer", &body(CUSTOMER_V3)).await;
        let v3_refs = json!([{"name": "shop.Customer", "subject": "customer", "version": 3}]);
        let a = call(
            &app,
            "POST",
            "/compatibility/subjects/order/versions/latest?verbose=true",
            Some(&with_refs(ORDER, v3_refs.clone())),
        )
        .await;
        assert_eq!(a.json()["is_compatible"], json!(false), "{}", a.body);
        assert!(a.body.contains("tier"), "{}", a.body);
        call(
            &app,
            "POST",
            "/subjects/order/versions",
            Some(&with_refs(ORDER, v3_refs)),
        )
        .await
        .error(409, 409);

        // References must name live versions.
        let m = call(
            &app,
            "POST",
            "/subjects/order/versions",
            Some(&with_refs(
                ORDER,
                json!([{"name": "shop.Customer", "subject": "customer", "version": 9}]),
            )),
        )
        .await
        .error(422, 42201);
        assert!(m.contains("\"customer\"") && m.contains('9'), "{m}");
        call(
            &app,
            "POST",
            "/subjects/order/versions",
            Some(&with_refs(
                ORDER,
                json!([{"name": "shop.Customer", "subject": "ghost", "version": -1}]),
            )),
        )
        .await
        .error(422, 42201);
        call(
            &app,
            "POST",
            "/subjects/order/versions",
            Some(&with_refs(
                ORDER,
                json!([{"name": "shop.Customer", "version": 1}]),
            )),
        )
        .await
        .error(422, 42201);

        // A referenced version cannot be deleted while a live schema refers to it.
        let m = call(&app, "DELETE", "/subjects/customer/versions/1", None)
            .await
            .error(422, 42206);
        assert!(m.contains("customer"), "{m}");
        call(&app, "DELETE", "/subjects/customer", None)
            .await
            .error(422, 42206);
        call(&app, "DELETE", "/subjects/order", None).await;
        assert_eq!(
            get_json(&app, "/subjects/customer/versions/1/referencedby").await,
            json!([])
        );
        assert_eq!(
            get_json(&app, "/subjects/customer/versions/1/referencedby?deleted=true").await,
            json!([order])
        );
        assert_eq!(
            call(&app, "DELETE", "/subjects/customer/versions/1", None)
                .await
                .json(),
            json!(1)
        );
        // Still referred to by a soft-deleted schema: not permanently.
        call(
            &app,
            "DELETE",
            "/subjects/customer/versions/1?permanent=true",
            None,
        )
        .await
        .error(422, 42206);
    }

    #[cfg(feature = "protobuf")]
    #[tokio::test]
    async fn registers_json_and_protobuf_schemas() {
        let app = app();
        let proto = "syntax = \"proto3\";\nmessage Ping { int64 at = 1; }\n";
        let proto_body = json!({"schema": proto, "schemaType": "PROTOBUF"}).to_string();
        let id = post_version(&app, "ping-value", &proto_body).await;
        assert_eq!(
            get_json(&app, &format!("/schemas/ids/{id}")).await,
            json!({"schemaType": "PROTOBUF", "schema": proto})
        );
        assert_eq!(
            call(&app, "GET", &format!("/schemas/ids/{id}/schema"), None)
                .await
                .body,
            proto
        );
        assert_eq!(
            get_json(&app, "/subjects/ping-value/versions/1").await,
            json!({"subject": "ping-value", "version": 1, "id": id, "schemaType": "PROTOBUF", "schema": proto})
        );
        assert_eq!(
            post_version(&app, "ping-value", &proto_body).await,
            id,
            "idempotent"
        );
        let a = call(&app, "POST", "/subjects/ping-value", Some(&proto_body)).await;
        assert_eq!(
            (a.json()["id"].as_u64(), a.json()["schemaType"].clone()),
            (Some(id), json!("PROTOBUF"))
        );

        // At BACKWARD a field that changes its type is refused, naming it;
        // one added is fine.
        let retyped =
            json!({"schema": proto.replace("int64 at", "string at"), "schemaType": "PROTOBUF"}).to_string();
        let check = call(
            &app,
            "POST",
            "/compatibility/subjects/ping-value/versions/latest?verbose=true",
            Some(&retyped),
        )
        .await;
        assert_eq!(check.json()["is_compatible"], json!(false), "{}", check.body);
        assert!(check.body.contains("field 1"), "{}", check.body);
        let m = call(&app, "POST", "/subjects/ping-value/versions", Some(&retyped))
            .await
            .error(409, 409);
        assert!(m.contains("field 1"), "{m}");
        let proto2 =
            json!({"schema": proto.replace("at = 1;", "at = 1; bool rush = 3;"), "schemaType": "PROTOBUF"})
                .to_string();
        let a = call(&app, "POST", "/subjects/ping-value/versions", Some(&proto2)).await;
        assert_eq!(a.json()["version"], json!(2), "{}", a.body);
        // Confluent's clients ask for the descriptor, base64, by `format=serialized`.
        let serialized = get_json(&app, &format!("/schemas/ids/{id}?format=serialized")).await;
        let file = crate::schema::parse_proto_schema(serialized["schema"].as_str().expect("text"))
            .expect("a descriptor");
        assert_eq!(file.message_type[0].name(), "Ping");
        assert_ne!(
            serialized["schema"],
            json!(proto),
            "the base64 form, not the text"
        );
        let latest = get_json(&app, "/subjects/ping-value/versions/latest?format=serialized").await;
        assert!(crate::schema::parse_proto_schema(latest["schema"].as_str().expect("text")).is_ok());

        let json_body = json!({"schema": "{\"type\": \"string\"}", "schemaType": "json"}).to_string();
        let json_id = post_version(&app, "names-value", &json_body).await;
        assert_eq!(
            get_json(&app, &format!("/schemas/ids/{json_id}")).await,
            json!({"schemaType": "JSON", "schema": "{\"type\": \"string\"}"})
        );
        let bad_json = json!({"schema": "{\"type\":", "schemaType": "JSON"}).to_string();
        call(&app, "POST", "/subjects/names-value/versions", Some(&bad_json))
            .await
            .error(422, 42201);
    }

    #[tokio::test]
    async fn deleted_flag_shows_soft_deleted_subjects_and_versions() {
        let app = app();
        call(&app, "PUT", "/config", Some(r#"{"compatibility":"NONE"}"#)).await;
        post_version(&app, "s", &body(V1)).await;
        post_version(&app, "s", &body(V2)).await;
        post_version(&app, "gone", &body(V1)).await;
        call(&app, "DELETE", "/subjects/s/versions/1", None).await;
        call(&app, "DELETE", "/subjects/gone", None).await;
        assert_eq!(get_json(&app, "/subjects").await, json!(["s"]));
        assert_eq!(
            get_json(&app, "/subjects?deleted=true").await,
            json!(["gone", "s"])
        );
        assert_eq!(
            get_json(&app, "/subjects?deleted=true&subjectPrefix=g").await,
            json!(["gone"])
        );
        assert_eq!(get_json(&app, "/subjects/s/versions").await, json!([2]));
        assert_eq!(
            get_json(&app, "/subjects/s/versions?deleted=true").await,
            json!([1, 2])
        );
        assert_eq!(
            get_json(&app, "/subjects/gone/versions?deleted=true").await,
            json!([1])
        );
        call(&app, "GET", "/subjects/gone/versions", None)
            .await
            .error(404, 40401);
        call(&app, "GET", "/subjects/s/versions/1", None)
            .await
            .error(404, 40402);
        assert_eq!(
            get_json(&app, "/subjects/s/versions/1?deleted=true").await,
            json!({"subject": "s", "version": 1, "id": 1, "schema": V1, "deleted": true})
        );
        assert_eq!(
            call(&app, "GET", "/subjects/s/versions/1/schema?deleted=true", None)
                .await
                .body,
            V1
        );
        // `latest` is the latest live version, deleted or not asked.
        assert_eq!(
            get_json(&app, "/subjects/s/versions/latest?deleted=true").await["version"],
            json!(2)
        );
        call(&app, "GET", "/subjects/gone/versions/latest?deleted=true", None)
            .await
            .error(404, 40402);
        call(&app, "GET", "/subjects/none/versions/1?deleted=true", None)
            .await
            .error(404, 40401);
        // Lookup among deleted versions only when asked.
        call(&app, "POST", "/subjects/s", Some(&body(V1)))
            .await
            .error(404, 40403);
        let a = call(&app, "POST", "/subjects/s?deleted=true", Some(&body(V1))).await;
        assert_eq!(a.json()["version"], json!(1), "{}", a.body);
    }

    #[tokio::test]
    async fn answers_mode_contexts_and_cluster_ids() {
        let app = app();
        assert_eq!(get_json(&app, "/mode").await, json!({"mode": "READWRITE"}));
        let m = call(&app, "GET", "/mode/orders-value", None)
            .await
            .error(404, 40409);
        assert!(m.contains("'orders-value'"), "{m}");
        assert_eq!(
            get_json(&app, "/mode/orders-value?defaultToGlobal=true").await,
            json!({"mode": "READWRITE"})
        );
        assert_eq!(get_json(&app, "/contexts").await, json!(["."]));
        assert_eq!(
            get_json(&app, "/v1/metadata/id").await,
            json!({"scope": {"path": [], "clusters": {"kafka-cluster": "", "schema-registry-cluster": "schema-registry"}}})
        );
        call(&app, "PUT", "/mode", Some(r#"{"mode":"READONLY"}"#))
            .await
            .error(405, 405);
    }

    /// A registry with only the first trait methods: the new routes say
    /// what it cannot do instead of 404.
    struct Minimal(EmbeddedRegistry);

    impl SchemaRegistry for Minimal {
        fn register<'a>(&'a self, subject: &'a str, schema: &'a str) -> RegistryFuture<'a, RegisteredSchema> {
            self.0.register(subject, schema)
        }
        fn lookup<'a>(&'a self, subject: &'a str, schema: &'a str) -> RegistryFuture<'a, RegisteredSchema> {
            self.0.lookup(subject, schema)
        }
        fn schema_by_id(&self, id: u32) -> RegistryFuture<'_, String> {
            self.0.schema_by_id(id)
        }
        fn subjects(&self) -> RegistryFuture<'_, Vec<String>> {
            self.0.subjects()
        }
        fn versions<'a>(&'a self, subject: &'a str) -> RegistryFuture<'a, Vec<u32>> {
            self.0.versions(subject)
        }
        fn version<'a>(
            &'a self,
            subject: &'a str,
            version: VersionRef,
        ) -> RegistryFuture<'a, RegisteredSchema> {
            self.0.version(subject, version)
        }
        fn check_compatibility<'a>(
            &'a self,
            subject: &'a str,
            schema: &'a str,
            version: VersionRef,
        ) -> RegistryFuture<'a, CompatibilityReport> {
            self.0.check_compatibility(subject, schema, version)
        }
        fn compatibility_level<'a>(
            &'a self,
            subject: Option<&'a str>,
        ) -> RegistryFuture<'a, CompatibilityLevel> {
            self.0.compatibility_level(subject)
        }
        fn set_compatibility_level<'a>(
            &'a self,
            subject: Option<&'a str>,
            level: CompatibilityLevel,
        ) -> RegistryFuture<'a, CompatibilityLevel> {
            self.0.set_compatibility_level(subject, level)
        }
        fn delete_subject<'a>(&'a self, subject: &'a str, permanent: bool) -> RegistryFuture<'a, Vec<u32>> {
            self.0.delete_subject(subject, permanent)
        }
        fn delete_version<'a>(
            &'a self,
            subject: &'a str,
            version: VersionRef,
            permanent: bool,
        ) -> RegistryFuture<'a, u32> {
            self.0.delete_version(subject, version, permanent)
        }
    }

    #[tokio::test]
    async fn a_registry_without_the_new_methods_answers_501() {
        let app = RegistryServer::router(Arc::new(Minimal(EmbeddedRegistry::in_memory())));
        // The first methods still serve Avro.
        let id = post_version(&app, "s", &body(V1)).await;
        assert_eq!(
            get_json(&app, &format!("/schemas/ids/{id}")).await,
            json!({"schema": V1})
        );
        assert_eq!(get_json(&app, "/subjects/s/versions/1").await["id"], json!(id));
        for path in [
            "/schemas",
            "/schemas/ids/1/versions",
            "/subjects/s/versions/1/referencedby",
            "/subjects?deleted=true",
        ] {
            let m = call(&app, "GET", path, None).await.error(501, 501);
            assert!(m.contains("not supported"), "{path}: {m}");
        }
        let proto = json!({"schema": "syntax = \"proto3\";", "schemaType": "PROTOBUF"}).to_string();
        call(&app, "POST", "/subjects/p/versions", Some(&proto))
            .await
            .error(501, 501);
        assert_eq!(
            get_json(&app, "/v1/metadata/id").await["scope"]["clusters"]["kafka-cluster"],
            json!("")
        );
    }
}
