//! [OpenLineage](https://openlineage.io/) run events for a data product, and
//! a [`LineageEmitter`] that posts them to a lineage endpoint (Marquez,
//! DataHub, …) without ever slowing or failing the product.
//!
//! A product instance is one OpenLineage *run* (one `runId` per process
//! start) of the *job* `domain.name` in a configured job namespace. It emits
//! `START` when it starts processing, `RUNNING` periodically, and `COMPLETE`
//! on a clean stop or `FAIL` (with an `errorMessage` run facet) on a fatal
//! error. Its inputs and outputs are Kafka datasets named as the OpenLineage
//! naming spec says: namespace `kafka://{host}:{port}` (the first bootstrap
//! server), name = the topic, each with a `schema` dataset facet listing the
//! Avro fields. The job carries the `ownership` facet (the owner), the
//! `jobType` facet (`STREAMING`, integration `MESHKIT`) and a custom
//! `meshkit_product` facet with the product's identity and ports.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use apache_avro::Schema;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::record::{CatalogRecord, PortRecord};
use super::Timestamp;

/// The OpenLineage RunEvent schema the events follow.
pub const RUN_EVENT_SCHEMA_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";

/// The default `producer` URI (meshkit's repository).
pub const DEFAULT_PRODUCER: &str = "https://example.invalid/meshkit";

pub use crate::config::DEFAULT_JOB_NAMESPACE;

const OWNERSHIP_SCHEMA_URL: &str =
    "https://openlineage.io/spec/facets/1-0-0/OwnershipJobFacet.json#/$defs/OwnershipJobFacet";
const JOB_TYPE_SCHEMA_URL: &str =
    "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet";
const SCHEMA_FACET_SCHEMA_URL: &str =
    "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet";
const ERROR_SCHEMA_URL: &str =
    "https://openlineage.io/spec/facets/1-0-0/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet";
const MESHKIT_FACET_SCHEMA_URL: &str =
    "https://example.invalid/meshkit/spec/facets/1-0-0/MeshkitProductJobFacet.json";

/// Why the emitter could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LineageError {
    /// The HTTP client could not be built (e.g. TLS initialisation).
    #[error("cannot build the OpenLineage HTTP client")]
    Client {
        /// reqwest's error.
        #[source]
        source: reqwest::Error,
    },
    /// The endpoint is not an absolute http(s) URL.
    #[error("OpenLineage endpoint `{url}` is not an http:// or https:// URL")]
    InvalidUrl {
        /// The URL given.
        url: String,
    },
    /// Not called inside a Tokio runtime.
    #[error("the OpenLineage emitter must be started inside a Tokio runtime")]
    NoRuntime,
}

/// The run's state transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum RunEventType {
    /// The run started.
    Start,
    /// The run is alive (periodic).
    Running,
    /// The run ended cleanly.
    Complete,
    /// The run was aborted.
    Abort,
    /// The run failed.
    Fail,
    /// Anything else.
    Other,
}

/// An OpenLineage `RunEvent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunEvent {
    /// The transition.
    pub event_type: RunEventType,
    /// When it happened.
    pub event_time: Timestamp,
    /// The run.
    pub run: Run,
    /// The job.
    pub job: Job,
    /// Datasets read.
    #[serde(default)]
    pub inputs: Vec<Dataset>,
    /// Datasets written.
    #[serde(default)]
    pub outputs: Vec<Dataset>,
    /// Who produced the event (a URI).
    pub producer: String,
    /// The RunEvent schema.
    #[serde(rename = "schemaURL")]
    pub schema_url: String,
}

/// `_producer` and `_schemaURL`, on every facet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetBase {
    /// Who produced the facet.
    #[serde(rename = "_producer")]
    pub producer: String,
    /// The facet's schema.
    #[serde(rename = "_schemaURL")]
    pub schema_url: String,
}

impl FacetBase {
    fn new(producer: &str, schema_url: &str) -> Self {
        Self {
            producer: producer.to_string(),
            schema_url: schema_url.to_string(),
        }
    }
}

/// The run: one product instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// A UUID per process start.
    pub run_id: Uuid,
    /// Run facets.
    #[serde(default)]
    pub facets: RunFacets,
}

/// Run facets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunFacets {
    /// On FAIL: what went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<ErrorMessageRunFacet>,
}

/// The `errorMessage` run facet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorMessageRunFacet {
    /// Producer and schema.
    #[serde(flatten)]
    pub base: FacetBase,
    /// The error.
    pub message: String,
    /// `Rust`.
    pub programming_language: String,
}

/// The job: the data product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The job namespace.
    pub namespace: String,
    /// `domain.name`.
    pub name: String,
    /// Job facets.
    #[serde(default)]
    pub facets: JobFacets,
}

/// Job facets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobFacets {
    /// The owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership: Option<OwnershipJobFacet>,
    /// `STREAMING`, integration `MESHKIT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_type: Option<JobTypeJobFacet>,
    /// meshkit's own facet: identity and ports.
    #[serde(rename = "meshkit_product", default, skip_serializing_if = "Option::is_none")]
    pub meshkit_product: Option<MeshkitProductJobFacet>,
}

/// The `ownership` job facet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnershipJobFacet {
    /// Producer and schema.
    #[serde(flatten)]
    pub base: FacetBase,
    /// The owners.
    pub owners: Vec<Owner>,
}

/// One owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Who, e.g. `team-sales@example.com`.
    pub name: String,
    /// The kind of ownership, e.g. `OWNER`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The `jobType` job facet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobTypeJobFacet {
    /// Producer and schema.
    #[serde(flatten)]
    pub base: FacetBase,
    /// `STREAMING`.
    pub processing_type: String,
    /// `MESHKIT`.
    pub integration: String,
    /// `DATA_PRODUCT`.
    pub job_type: String,
}

/// meshkit's custom job facet (`meshkit_product`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshkitProductJobFacet {
    /// Producer and schema.
    #[serde(flatten)]
    pub base: FacetBase,
    /// The domain.
    pub domain: String,
    /// The product's name.
    pub product: String,
    /// Its version.
    pub version: String,
    /// Input ports: name and topic.
    pub input_ports: Vec<PortRef>,
    /// Output ports: name and topic.
    pub output_ports: Vec<PortRef>,
}

/// A port's name and topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRef {
    /// The port.
    pub name: String,
    /// Its topic.
    pub topic: String,
}

/// A dataset: a Kafka topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// `kafka://host:port`.
    pub namespace: String,
    /// The topic.
    pub name: String,
    /// Dataset facets.
    #[serde(default)]
    pub facets: DatasetFacets,
}

/// Dataset facets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetFacets {
    /// The value schema's fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<SchemaDatasetFacet>,
}

/// The `schema` dataset facet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaDatasetFacet {
    /// Producer and schema.
    #[serde(flatten)]
    pub base: FacetBase,
    /// The fields.
    pub fields: Vec<SchemaField>,
}

/// One field of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaField {
    /// Its name.
    pub name: String,
    /// Its Avro type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Its doc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Nested fields, for a record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<SchemaField>,
}

/// The OpenLineage dataset namespace of a Kafka cluster: `kafka://host:port`
/// of the first bootstrap server (port 9092 if none is given).
///
/// # Examples
///
/// ```
/// use meshkit::catalog::lineage::kafka_namespace;
///
/// assert_eq!(kafka_namespace("b1:9093,b2:9093"), "kafka://b1:9093");
/// assert_eq!(kafka_namespace("PLAINTEXT://broker"), "kafka://broker:9092");
/// ```
pub fn kafka_namespace(bootstrap_servers: &str) -> String {
    let first = bootstrap_servers.split(',').next().unwrap_or_default().trim();
    let host_port = first.split_once("://").map_or(first, |(_, rest)| rest);
    let host_port = host_port.trim_end_matches('/');
    let has_port = match host_port.rsplit_once(':') {
        // `[::1]:9092` or `host:9092`, but not a bare IPv6 address.
        Some((host, port)) => {
            !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    };
    if has_port {
        format!("kafka://{host_port}")
    } else {
        format!("kafka://{host_port}:9092")
    }
}

/// One product instance's run: builds its events.
///
/// # Examples
///
/// ```
/// use meshkit::catalog::{CatalogRecord, DescriptorInput, LineageRun, PortInput, RunEventType, Timestamp};
///
/// let d = DescriptorInput::new("sales", "orders", "1.0.0", "team-sales")
///     .input(PortInput::new("in", "raw.orders"))
///     .output(PortInput::new("out", "sales.orders"));
/// let record = CatalogRecord::from_descriptor(&d, Timestamp::from_millis(0));
/// let run = LineageRun::new(&record, "localhost:9092", "meshkit");
/// let start = run.start(Timestamp::from_millis(1));
/// assert_eq!(start.event_type, RunEventType::Start);
/// assert_eq!(start.job.name, "sales.orders");
/// assert_eq!(start.inputs[0].namespace, "kafka://localhost:9092");
/// assert_eq!(start.outputs[0].name, "sales.orders");
/// ```
#[derive(Debug, Clone)]
pub struct LineageRun {
    run_id: Uuid,
    job: Job,
    inputs: Vec<Dataset>,
    outputs: Vec<Dataset>,
    producer: String,
}

impl LineageRun {
    /// A new run (fresh `runId`) of `record`'s product against Kafka at
    /// `bootstrap_servers`, in job namespace `job_namespace`.
    pub fn new(record: &CatalogRecord, bootstrap_servers: &str, job_namespace: &str) -> Self {
        Self::with_producer(record, bootstrap_servers, job_namespace, DEFAULT_PRODUCER)
    }

    /// As [`new`](Self::new), with `producer` as the events' producer URI.
    pub fn with_producer(
        record: &CatalogRecord,
        bootstrap_servers: &str,
        job_namespace: &str,
        producer: &str,
    ) -> Self {
        let namespace = kafka_namespace(bootstrap_servers);
        let dataset = |port: &PortRecord| Dataset {
            namespace: namespace.clone(),
            name: port.topic.clone(),
            facets: DatasetFacets {
                schema: port.value.as_ref().and_then(|v| {
                    let schema = Schema::parse_str(&v.schema).ok()?;
                    Some(SchemaDatasetFacet {
                        base: FacetBase::new(producer, SCHEMA_FACET_SCHEMA_URL),
                        fields: avro_fields(&schema),
                    })
                }),
            },
        };
        let port_refs = |ports: &[PortRecord]| {
            ports
                .iter()
                .map(|p| PortRef {
                    name: p.name.clone(),
                    topic: p.topic.clone(),
                })
                .collect()
        };
        let job = Job {
            namespace: job_namespace.to_string(),
            name: format!("{}.{}", record.domain, record.name),
            facets: JobFacets {
                ownership: Some(OwnershipJobFacet {
                    base: FacetBase::new(producer, OWNERSHIP_SCHEMA_URL),
                    owners: vec![Owner {
                        name: record.owner.clone(),
                        kind: Some("OWNER".to_string()),
                    }],
                }),
                job_type: Some(JobTypeJobFacet {
                    base: FacetBase::new(producer, JOB_TYPE_SCHEMA_URL),
                    processing_type: "STREAMING".to_string(),
                    integration: "MESHKIT".to_string(),
                    job_type: "DATA_PRODUCT".to_string(),
                }),
                meshkit_product: Some(MeshkitProductJobFacet {
                    base: FacetBase::new(producer, MESHKIT_FACET_SCHEMA_URL),
                    domain: record.domain.clone(),
                    product: record.name.clone(),
                    version: record.version.clone(),
                    input_ports: port_refs(&record.inputs),
                    output_ports: port_refs(&record.outputs),
                }),
            },
        };
        Self {
            run_id: Uuid::new_v4(),
            job,
            inputs: record.inputs.iter().map(dataset).collect(),
            outputs: record.outputs.iter().map(dataset).collect(),
            producer: producer.to_string(),
        }
    }

    /// The run's id.
    pub fn run_id(&self) -> Uuid {
        self.run_id
    }

    /// An event of type `event_type` at `at`.
    pub fn event(&self, event_type: RunEventType, at: Timestamp) -> RunEvent {
        RunEvent {
            event_type,
            event_time: at,
            run: Run {
                run_id: self.run_id,
                facets: RunFacets::default(),
            },
            job: self.job.clone(),
            inputs: self.inputs.clone(),
            outputs: self.outputs.clone(),
            producer: self.producer.clone(),
            schema_url: RUN_EVENT_SCHEMA_URL.to_string(),
        }
    }

    /// `START`.
    pub fn start(&self, at: Timestamp) -> RunEvent {
        self.event(RunEventType::Start, at)
    }

    /// `RUNNING` (emit periodically).
    pub fn running(&self, at: Timestamp) -> RunEvent {
        self.event(RunEventType::Running, at)
    }

    /// `COMPLETE` (a clean stop).
    pub fn complete(&self, at: Timestamp) -> RunEvent {
        self.event(RunEventType::Complete, at)
    }

    /// `FAIL`, with `message` in the `errorMessage` run facet.
    pub fn fail(&self, at: Timestamp, message: impl Into<String>) -> RunEvent {
        let mut event = self.event(RunEventType::Fail, at);
        event.run.facets.error_message = Some(ErrorMessageRunFacet {
            base: FacetBase::new(&self.producer, ERROR_SCHEMA_URL),
            message: message.into(),
            programming_language: "Rust".to_string(),
        });
        event
    }
}

/// The fields of an Avro record (nested records expanded; a primitive
/// schema is one field named `value`).
fn avro_fields(schema: &Schema) -> Vec<SchemaField> {
    fn strip_null(schema: &Schema) -> &Schema {
        match schema {
            Schema::Union(u) => {
                let others: Vec<&Schema> = u
                    .variants()
                    .iter()
                    .filter(|v| !matches!(v, Schema::Null))
                    .collect();
                match others.as_slice() {
                    [one] => one,
                    _ => schema,
                }
            }
            other => other,
        }
    }
    fn type_name(schema: &Schema) -> String {
        match schema {
            Schema::Record(r) => r.name.fullname(None),
            Schema::Enum(e) => e.name.fullname(None),
            Schema::Fixed(f) => f.name.fullname(None),
            Schema::Ref { name } => name.fullname(None),
            Schema::Union(u) => {
                let names: Vec<String> = u.variants().iter().map(type_name).collect();
                format!("union<{}>", names.join(","))
            }
            Schema::Array(a) => format!("array<{}>", type_name(&a.items)),
            Schema::Map(m) => format!("map<{}>", type_name(&m.types)),
            other => other.canonical_form().trim_matches('"').to_string(),
        }
    }
    fn field(name: &str, doc: Option<String>, schema: &Schema, depth: usize) -> SchemaField {
        let inner = strip_null(schema);
        SchemaField {
            name: name.to_string(),
            kind: Some(type_name(inner)),
            description: doc,
            fields: match inner {
                Schema::Record(r) if depth < 16 => r
                    .fields
                    .iter()
                    .map(|f| field(&f.name, f.doc.clone(), &f.schema, depth + 1))
                    .collect(),
                _ => Vec::new(),
            },
        }
    }
    match schema {
        Schema::Record(r) => r
            .fields
            .iter()
            .map(|f| field(&f.name, f.doc.clone(), &f.schema, 1))
            .collect(),
        other => vec![field("value", None, other, 1)],
    }
}

/// Where and how the emitter posts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LineageConfig {
    /// The endpoint, e.g. `http://marquez:5000/api/v1/lineage`.
    pub url: String,
    /// Events held while the endpoint is slow; more are dropped (counted).
    pub queue_capacity: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Sent as `Authorization: Bearer …` when set.
    pub api_key: Option<String>,
}

impl LineageConfig {
    /// Posts to `url`, holding up to 64 events, with a 5 s timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            queue_capacity: 64,
            timeout: Duration::from_secs(5),
            api_key: None,
        }
    }

    /// Sets the queue capacity (at least 1).
    #[must_use]
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }

    /// Sets the per-request timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets a bearer token.
    #[must_use]
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }
}

/// What the emitter has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EmitterStats {
    /// Events accepted into the queue.
    pub queued: u64,
    /// Events the endpoint answered with 2xx.
    pub sent: u64,
    /// Events posted but refused, timed out or unreachable.
    pub failed: u64,
    /// Events dropped: the queue was full, or still queued at shutdown.
    pub dropped: u64,
}

#[derive(Debug, Default)]
struct Counters {
    queued: AtomicU64,
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> EmitterStats {
        EmitterStats {
            queued: self.queued.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// Queues events into a [`LineageEmitter`] from another task
/// ([`LineageEmitter::sender`]); [`emit`](Self::emit) behaves as the emitter's.
#[derive(Debug, Clone)]
pub struct LineageSender {
    tx: mpsc::Sender<RunEvent>,
    counters: Arc<Counters>,
}

impl LineageSender {
    /// Queues `event`; returns whether it was queued. Never blocks.
    pub fn emit(&self, event: RunEvent) -> bool {
        queue(&self.tx, &self.counters, event)
    }
}

fn queue(tx: &mpsc::Sender<RunEvent>, counters: &Counters, event: RunEvent) -> bool {
    match tx.try_send(event) {
        Ok(()) => {
            counters.queued.fetch_add(1, Ordering::Relaxed);
            true
        }
        Err(_) => {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("OpenLineage queue full or closed; event dropped");
            false
        }
    }
}

/// Posts run events as JSON to an OpenLineage endpoint, in order, from a
/// background task behind a bounded queue: [`emit`](Self::emit) never waits
/// and never fails the caller; what cannot be queued or delivered is counted
/// ([`stats`](Self::stats)), never retried.
#[derive(Debug)]
pub struct LineageEmitter {
    tx: mpsc::Sender<RunEvent>,
    counters: Arc<Counters>,
    worker: JoinHandle<()>,
}

impl LineageEmitter {
    /// Starts the background task.
    ///
    /// # Errors
    ///
    /// A [`LineageError`]: the URL is not http(s), the HTTP client cannot be
    /// built, or there is no Tokio runtime.
    pub fn spawn(config: LineageConfig) -> Result<Self, LineageError> {
        if !(config.url.starts_with("http://") || config.url.starts_with("https://")) {
            return Err(LineageError::InvalidUrl { url: config.url });
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| LineageError::NoRuntime)?;
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|source| LineageError::Client { source })?;
        let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let worker = runtime.spawn(deliver(rx, client, config, counters.clone()));
        Ok(Self { tx, counters, worker })
    }

    /// Queues `event`; returns whether it was queued (if not, it is counted
    /// as dropped). Never blocks.
    pub fn emit(&self, event: RunEvent) -> bool {
        queue(&self.tx, &self.counters, event)
    }

    /// A handle that queues events into this emitter, for other tasks.
    pub fn sender(&self) -> LineageSender {
        LineageSender {
            tx: self.tx.clone(),
            counters: self.counters.clone(),
        }
    }

    /// What it has done so far.
    pub fn stats(&self) -> EmitterStats {
        self.counters.snapshot()
    }

    /// Stops accepting events and waits up to `grace` for the queued ones to
    /// be posted (e.g. the final COMPLETE); whatever is left is dropped.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future aborts the delivery task; nothing else is lost.
    pub async fn shutdown(self, grace: Duration) -> EmitterStats {
        let Self {
            tx,
            counters,
            mut worker,
        } = self;
        drop(tx);
        if tokio::time::timeout(grace, &mut worker).await.is_err() {
            worker.abort();
            let _ = worker.await;
        }
        let mut stats = counters.snapshot();
        let unfinished = stats.queued.saturating_sub(stats.sent + stats.failed);
        stats.dropped += unfinished;
        counters.dropped.fetch_add(unfinished, Ordering::Relaxed);
        stats
    }
}

async fn deliver(
    mut rx: mpsc::Receiver<RunEvent>,
    client: reqwest::Client,
    config: LineageConfig,
    counters: Arc<Counters>,
) {
    while let Some(event) = rx.recv().await {
        let mut request = client.post(&config.url).json(&event);
        if let Some(key) = &config.api_key {
            request = request.bearer_auth(key);
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => {
                counters.sent.fetch_add(1, Ordering::Relaxed);
            }
            Ok(response) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(status = %response.status(), "OpenLineage endpoint refused an event");
            }
            Err(err) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(error = %crate::ErrorChain(&err), "OpenLineage endpoint unreachable");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::input::{DescriptorInput, PortInput, SchemaInput};
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const ORDER: &str = r#"{"type":"record","name":"Order","namespace":"com.acme","fields":[
        {"name":"id","type":"long","doc":"Order id"},
        {"name":"note","type":["null","string"]},
        {"name":"address","type":{"type":"record","name":"Address","fields":[{"name":"city","type":"string"}]}}]}"#;

    fn record() -> CatalogRecord {
        let d = DescriptorInput::new("sales", "orders-enriched", "1.2.0", "team-sales@example.com")
            .input(PortInput::new("orders", "sales.orders").with_value(SchemaInput::new(ORDER, "Order")))
            .input(PortInput::new("customers", "crm.customers"))
            .output(
                PortInput::new("enriched", "sales.orders.enriched")
                    .with_value(SchemaInput::new(ORDER, "Order")),
            );
        CatalogRecord::from_descriptor(&d, Timestamp::from_millis(0))
    }

    /// A tiny HTTP server: every POST body goes to the channel; answers 200
    /// (or, with `stall`, never answers).
    async fn server(stall: bool) -> (String, mpsc::UnboundedReceiver<(String, serde_json::Value)>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let n = stream.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let n = stream.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body: serde_json::Value =
                        serde_json::from_slice(&buf[head_end..head_end + len]).unwrap();
                    let _ = tx.send((head, body));
                    if stall {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .await;
                });
            }
        });
        (format!("http://{addr}/api/v1/lineage"), rx)
    }

    #[tokio::test]
    async fn start_running_complete_arrive_in_order_with_kafka_datasets() {
        let (url, mut received) = server(false).await;
        let emitter = LineageEmitter::spawn(LineageConfig::new(url).with_api_key("secret")).unwrap();
        let run = LineageRun::new(&record(), "broker-1:9092,broker-2:9092", "meshkit-test");
        assert!(emitter.emit(run.start(Timestamp::from_millis(1_000))));
        assert!(emitter.emit(run.running(Timestamp::from_millis(2_000))));
        assert!(emitter.emit(run.complete(Timestamp::from_millis(3_000))));

        let mut events = Vec::new();
        for _ in 0..3 {
            let (head, body) = tokio::time::timeout(Duration::from_secs(10), received.recv())
                .await
                .unwrap()
                .unwrap();
            assert!(head.starts_with("POST /api/v1/lineage "), "{head}");
            assert!(
                head.to_lowercase().contains("content-type: application/json"),
                "{head}"
            );
            assert!(
                head.to_lowercase().contains("authorization: bearer secret"),
                "{head}"
            );
            events.push(body);
        }
        let types: Vec<&str> = events.iter().map(|e| e["eventType"].as_str().unwrap()).collect();
        assert_eq!(types, ["START", "RUNNING", "COMPLETE"]);
        for e in &events {
            assert_eq!(e["run"]["runId"], run.run_id().to_string());
            assert_eq!(e["schemaURL"], RUN_EVENT_SCHEMA_URL);
            assert_eq!(e["producer"], DEFAULT_PRODUCER);
            assert_eq!(e["job"]["namespace"], "meshkit-test");
            assert_eq!(e["job"]["name"], "sales.orders-enriched");
            assert_eq!(
                e["job"]["facets"]["ownership"]["owners"][0]["name"],
                "team-sales@example.com"
            );
            assert_eq!(e["job"]["facets"]["jobType"]["processingType"], "STREAMING");
            assert_eq!(
                e["job"]["facets"]["meshkit_product"]["outputPorts"][0]["topic"],
                "sales.orders.enriched"
            );
            let names = |side: &str| -> Vec<(String, String)> {
                e[side]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| {
                        (
                            d["namespace"].as_str().unwrap().to_string(),
                            d["name"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            };
            let ns = "kafka://broker-1:9092".to_string();
            assert_eq!(
                names("inputs"),
                [
                    (ns.clone(), "sales.orders".to_string()),
                    (ns.clone(), "crm.customers".to_string())
                ]
            );
            assert_eq!(names("outputs"), [(ns, "sales.orders.enriched".to_string())]);
            let fields = &e["inputs"][0]["facets"]["schema"]["fields"];
            assert_eq!(
                fields[0],
                serde_json::json!({"name": "id", "type": "long", "description": "Order id"})
            );
            assert_eq!(fields[1]["type"], "string", "nullable unions show their type");
            assert_eq!(fields[2]["fields"][0]["name"], "city");
            assert!(
                e["inputs"][1]["facets"].get("schema").is_none(),
                "raw bytes: no schema"
            );
        }
        assert_eq!(events[0]["eventTime"], "1970-01-01T00:00:01.000Z");
        let stats = emitter.shutdown(Duration::from_secs(5)).await;
        assert_eq!((stats.sent, stats.failed, stats.dropped), (3, 0, 0));
    }

    #[tokio::test]
    async fn fail_carries_the_error_message() {
        let (url, mut received) = server(false).await;
        let emitter = LineageEmitter::spawn(LineageConfig::new(url)).unwrap();
        let run = LineageRun::new(&record(), "localhost", "meshkit");
        emitter.emit(run.start(Timestamp::now()));
        emitter.emit(run.fail(Timestamp::now(), "injected fatal error"));
        let start = received.recv().await.unwrap().1;
        let fail = received.recv().await.unwrap().1;
        assert_eq!(start["eventType"], "START");
        assert_eq!(fail["eventType"], "FAIL");
        assert_eq!(
            fail["run"]["facets"]["errorMessage"]["message"],
            "injected fatal error"
        );
        assert_eq!(
            fail["run"]["facets"]["errorMessage"]["programmingLanguage"],
            "Rust"
        );
        assert_eq!(fail["inputs"][0]["namespace"], "kafka://localhost:9092");
        emitter.shutdown(Duration::from_secs(5)).await;
    }

    #[tokio::test]
    async fn a_stalled_endpoint_never_blocks_and_drops_are_counted() {
        let (url, _received) = server(true).await;
        let emitter = LineageEmitter::spawn(
            LineageConfig::new(url)
                .with_queue_capacity(2)
                .with_timeout(Duration::from_millis(300)),
        )
        .unwrap();
        let run = LineageRun::new(&record(), "localhost:9092", "meshkit");
        let began = std::time::Instant::now();
        let accepted = (0..50)
            .filter(|_| emitter.emit(run.running(Timestamp::now())))
            .count();
        assert!(began.elapsed() < Duration::from_millis(200), "emit must not wait");
        assert!(accepted <= 3, "a queue of 2 (plus one in flight), got {accepted}");
        let stats = emitter.stats();
        assert_eq!(stats.dropped, 50 - accepted as u64);
        let stats = emitter.shutdown(Duration::from_millis(100)).await;
        assert_eq!(stats.sent, 0);
        assert_eq!(stats.queued, accepted as u64);
        assert_eq!(stats.failed + stats.dropped, 50, "{stats:?}");
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_counts_failures() {
        // Bind then drop: nothing listens on this port.
        let addr = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let emitter = LineageEmitter::spawn(
            LineageConfig::new(format!("http://{addr}/")).with_timeout(Duration::from_secs(2)),
        )
        .unwrap();
        let run = LineageRun::new(&record(), "localhost:9092", "meshkit");
        assert!(emitter.emit(run.start(Timestamp::now())));
        let stats = emitter.shutdown(Duration::from_secs(5)).await;
        assert_eq!((stats.sent, stats.failed, stats.dropped), (0, 1, 0));
    }

    #[test]
    fn configuration_errors_are_reported() {
        assert!(matches!(
            LineageEmitter::spawn(LineageConfig::new("ftp://x")),
            Err(LineageError::InvalidUrl { .. })
        ));
        assert!(matches!(
            LineageEmitter::spawn(LineageConfig::new("http://x")),
            Err(LineageError::NoRuntime)
        ));
    }

    #[test]
    fn events_round_trip_and_namespaces_follow_the_naming_spec() {
        let run = LineageRun::new(&record(), "SASL_SSL://b1.example:9094,b2", "meshkit");
        let event = run.fail(Timestamp::from_millis(5), "boom");
        let json = serde_json::to_string(&event).unwrap();
        let back: RunEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event);
        assert_eq!(event.inputs[0].namespace, "kafka://b1.example:9094");
        assert_eq!(kafka_namespace("[::1]:9092"), "kafka://[::1]:9092");
        assert_eq!(kafka_namespace(" host "), "kafka://host:9092");
    }
}
