//! The catalog record: what one data product publishes about itself to the
//! compacted catalog topic, and the [`Catalog`] a reader folds it into.
//!
//! # On the wire
//!
//! Topic [`CATALOG_TOPIC`] (`_meshkit.catalog`, `cleanup.policy=compact`),
//! key `domain/name` (UTF-8), value a JSON document shaped as an
//! [Open Data Product Standard](https://bitol-io.github.io/open-data-product-standard/)
//! (Bitol ODPS v1.0.0) data product: `apiVersion`, `kind: DataProduct`, `id`
//! (the key), `name`, `version`, `status`, `domain`, `description.purpose`,
//! `tags`, `inputPorts` / `outputPorts` (`name`, `version`, `contractId`),
//! `team` (`members`: the owner, role `owner`) and `productCreatedTs`.
//!
//! ODPS has no keys for topics, schemas, SLOs, lineage or running
//! instances (and allows no undeclared keys), so everything meshkit adds
//! lives in ODPS's extension point: one top-level `customProperties` entry
//! with `property: meshkit` whose `value` holds `status` (running / stopped /
//! failed), `updatedAt`, `slo`, the ports with topic and key / value schema
//! (subject, id, version, Avro text), `lineage` (upstream topics and, when
//! known, products), `stores`, `instances`, `bootstrapServers` and
//! `deadLetterTopic`. The
//! document validates against the ODPS v1.0.0 JSON schema (checked by hand
//! with Python `jsonschema`; not part of the test suite).
//!
//! ODPS's own `status` is the product's *lifecycle* (`active`); whether it is
//! running is [`CatalogRecord::status`]. An existing stream published as a
//! product (`meshkit catalog publish`), which meshkit does not run, has
//! status `published` and no instances ([`CatalogRecord::published`]).
//!
//! # One record, several instances
//!
//! Every instance of a product writes the same key. An instance starts by
//! reading the current record (if any), then publishes
//! [`CatalogRecord::register`]: the descriptor it runs, with every other
//! instance's entry kept and its own added. A clean stop publishes
//! [`CatalogRecord::mark_stopped`]; a fatal error [`CatalogRecord::mark_failed`].
//! Two instances starting at once can race (read, read, write, write) and
//! the first write's entry is lost; each running instance therefore
//! republishes its entry periodically ([`CatalogRecord::heartbeat`] after
//! re-reading), which heals the loss, and a reader may call
//! [`CatalogRecord::expire_silent`] to mark instances that stopped
//! heartbeating (a crash) as failed.
//!
//! # Tombstones
//!
//! A record with a null value (a Kafka tombstone) for key `domain/name`
//! means the product was *decommissioned*: readers drop it
//! ([`CatalogUpdate::Removed`]) and compaction deletes the key after
//! `delete.retention.ms`. A clean stop is **not** a tombstone: the record
//! stays, with status `stopped`, so consumers still find the product, its
//! owner and its contracts. The runtime never writes tombstones; an operator
//! (`meshkit catalog remove`) does.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::input::{DescriptorInput, PortInput, SchemaInput};
use super::Timestamp;

pub use crate::config::CATALOG_TOPIC;

/// The ODPS version the record follows.
pub const ODPS_API_VERSION: &str = "v1.0.0";

/// The name of the ODPS custom property that carries meshkit's section.
pub const MESHKIT_PROPERTY: &str = "meshkit";

/// How many stopped or failed instances a record keeps (newest first); running
/// ones are always kept.
pub const MAX_FINISHED_INSTANCES: usize = 16;

/// Why a catalog record could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The value is not JSON of the record's shape.
    #[error("catalog record for `{key}` is not a valid document")]
    Json {
        /// The record's key, as text (lossy).
        key: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The key is not `domain/name`.
    #[error("catalog key `{key}` is invalid: {reason}")]
    InvalidKey {
        /// The key, as text (lossy).
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The document's `id` is not its Kafka key.
    #[error("catalog record under key `{key}` describes `{id}`")]
    KeyMismatch {
        /// The Kafka key.
        key: String,
        /// The document's id.
        id: String,
    },
    /// A data product document without meshkit's section (another tool's).
    #[error("catalog record `{id}` has no `{MESHKIT_PROPERTY}` custom property; not published by meshkit")]
    NotMeshkit {
        /// The document's id.
        id: String,
    },
    /// Not `kind: DataProduct`.
    #[error("catalog record `{id}` is of kind `{kind}`, not `DataProduct`")]
    WrongKind {
        /// The document's id.
        id: String,
        /// Its kind.
        kind: String,
    },
}

/// A product's catalog key: `domain/name`.
///
/// # Examples
///
/// ```
/// use meshkit::catalog::ProductKey;
///
/// let key: ProductKey = "sales/orders-enriched".parse()?;
/// assert_eq!(key.domain, "sales");
/// assert_eq!(key.to_string(), "sales/orders-enriched");
/// assert!("no-slash".parse::<ProductKey>().is_err());
/// # Ok::<(), meshkit::catalog::CatalogError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProductKey {
    /// The owning domain.
    pub domain: String,
    /// The product's name within it.
    pub name: String,
}

impl ProductKey {
    /// The key of product `name` in `domain`.
    pub fn new(domain: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            domain: domain.into(),
            name: name.into(),
        }
    }

    /// The Kafka record key: `domain/name` as UTF-8.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// Parses a Kafka record key.
    ///
    /// # Errors
    ///
    /// [`CatalogError::InvalidKey`] unless it is UTF-8 `domain/name`.
    pub fn from_bytes(key: &[u8]) -> Result<Self, CatalogError> {
        std::str::from_utf8(key)
            .map_err(|_| CatalogError::InvalidKey {
                key: String::from_utf8_lossy(key).into_owned(),
                reason: "it is not UTF-8",
            })?
            .parse()
    }
}

impl fmt::Display for ProductKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.name)
    }
}

impl FromStr for ProductKey {
    type Err = CatalogError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| CatalogError::InvalidKey {
            key: s.to_string(),
            reason,
        };
        let (domain, name) = s
            .split_once('/')
            .ok_or_else(|| invalid("expected `domain/name`"))?;
        if domain.is_empty() || name.is_empty() {
            return Err(invalid("domain and name must not be empty"));
        }
        if name.contains('/') {
            return Err(invalid("more than one `/`"));
        }
        Ok(Self::new(domain, name))
    }
}

impl TryFrom<String> for ProductKey {
    type Error = CatalogError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<ProductKey> for String {
    fn from(key: ProductKey) -> Self {
        key.to_string()
    }
}

/// Whether a product is running, over all its instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ProductStatus {
    /// At least one instance is running.
    Running,
    /// No instance runs; the last one to end stopped cleanly.
    Stopped,
    /// No instance runs; the last one to end failed (or stopped heartbeating).
    Failed,
    /// An existing stream published as a data product (a source-aligned
    /// product): meshkit does not run it, so it has no instances.
    Published,
}

impl fmt::Display for ProductStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Running => "running",
            Self::Stopped => "stopped",
            Self::Failed => "failed",
            Self::Published => "published",
        })
    }
}

/// One instance's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum InstanceStatus {
    /// Processing.
    Running,
    /// Stopped cleanly.
    Stopped,
    /// Ended by a fatal error, or stopped heartbeating.
    Failed,
}

/// One running (or ended) instance of a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceRecord {
    /// A unique id per process start (a UUID).
    pub instance_id: String,
    /// The host it runs on.
    pub host: String,
    /// When it started.
    pub started_at: Timestamp,
    /// When it last published its entry.
    pub last_seen: Timestamp,
    /// Its state.
    pub status: InstanceStatus,
    /// When it stopped or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How often it republishes its entry while running, in milliseconds;
    /// readers take an entry silent for three of these as crashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_ms: Option<u64>,
}

impl InstanceRecord {
    /// An instance that starts running `now`.
    pub fn running(instance_id: impl Into<String>, host: impl Into<String>, now: Timestamp) -> Self {
        Self {
            instance_id: instance_id.into(),
            host: host.into(),
            started_at: now,
            last_seen: now,
            status: InstanceStatus::Running,
            ended_at: None,
            error: None,
            heartbeat_ms: None,
        }
    }

    /// Records that it republishes its entry every `every`.
    #[must_use]
    pub fn with_heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat_ms = Some(u64::try_from(every.as_millis()).unwrap_or(u64::MAX));
        self
    }
}

/// How many heartbeats an instance may miss before readers take it as
/// crashed: one lost or late write is not a crash.
pub const MISSED_HEARTBEATS: u32 = 3;

/// The heartbeat assumed for an instance whose entry does not say (meshkit's
/// default, 30 s).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(30);

/// One of a port's Avro schemas, as registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaRecord {
    /// Always `avro` for now.
    pub format: String,
    /// The Rust type carried.
    pub type_name: String,
    /// The registry subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The registry's schema id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    /// The subject version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// The schema's JSON text, so contracts can be exported from the catalog
    /// alone.
    pub schema: String,
}

impl From<&SchemaInput> for SchemaRecord {
    fn from(input: &SchemaInput) -> Self {
        Self {
            format: "avro".to_string(),
            type_name: input.type_name.clone(),
            subject: input.subject.clone(),
            id: input.id,
            version: input.version,
            schema: input.schema_json.clone(),
        }
    }
}

/// A port in the catalog: its topic and schemas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortRecord {
    /// The port's name.
    pub name: String,
    /// Its topic.
    pub topic: String,
    /// The keys' schema, on a keyed port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<SchemaRecord>,
    /// The values' schema; `None` for raw bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<SchemaRecord>,
    /// On an input port: the product (and its output port) that writes the
    /// topic, when the catalog knows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamProduct>,
}

impl From<&PortInput> for PortRecord {
    fn from(port: &PortInput) -> Self {
        Self {
            name: port.name.clone(),
            topic: port.topic.clone(),
            key: port.key.as_ref().map(SchemaRecord::from),
            value: port.value.as_ref().map(SchemaRecord::from),
            upstream: None,
        }
    }
}

/// The product and output port that write a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamProduct {
    /// The upstream product.
    pub product: ProductKey,
    /// Its output port.
    pub port: String,
}

/// One line of a product's input lineage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Upstream {
    /// The input port.
    pub input: String,
    /// The topic it reads.
    pub topic: String,
    /// The product writing it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<ProductKey>,
}

/// The service level objectives, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SloRecord {
    /// Maximum age of an output, from its input's timestamp to its commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness_ms: Option<u64>,
    /// Maximum processing time of one record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

/// A state store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreRecord {
    /// Its name.
    pub name: String,
    /// Whether it is windowed.
    #[serde(default)]
    pub windowed: bool,
}

/// What one data product publishes to the catalog topic.
///
/// Serialized as an ODPS v1.0.0 document (see the [module docs](self)).
///
/// # Examples
///
/// ```
/// use meshkit::catalog::{
///     CatalogRecord, DescriptorInput, InstanceRecord, PortInput, ProductStatus, Timestamp,
/// };
///
/// let d = DescriptorInput::new("sales", "orders-enriched", "1.2.0", "team-sales@example.com")
///     .input(PortInput::new("orders", "sales.orders"))
///     .output(PortInput::new("enriched", "sales.orders.enriched"));
/// let now = Timestamp::from_millis(1_000);
/// let mut record = CatalogRecord::register(None, &d, InstanceRecord::running("i-1", "host-a", now), now);
/// assert_eq!(record.status, ProductStatus::Running);
/// record.mark_stopped("i-1", Timestamp::from_millis(2_000));
/// assert_eq!(record.status, ProductStatus::Stopped);
/// let back = CatalogRecord::decode(&record.key().to_bytes(), &record.encode()?)?;
/// assert_eq!(back, record);
/// # Ok::<(), meshkit::catalog::CatalogError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "WireRecord", try_from = "WireRecord")]
pub struct CatalogRecord {
    /// The owning domain.
    pub domain: String,
    /// The product's name.
    pub name: String,
    /// Its semantic version.
    pub version: String,
    /// The accountable owner.
    pub owner: String,
    /// What it offers.
    pub description: String,
    /// Catalog tags.
    pub tags: Vec<String>,
    /// The ODPS lifecycle status (`active` for everything meshkit runs).
    pub lifecycle: String,
    /// Its service level objectives.
    pub slo: SloRecord,
    /// Its input ports.
    pub inputs: Vec<PortRecord>,
    /// Its output ports.
    pub outputs: Vec<PortRecord>,
    /// Its state stores.
    pub stores: Vec<StoreRecord>,
    /// The Kafka bootstrap servers it runs against, when published by a
    /// runtime (OpenLineage namespaces and ODCS servers come from it).
    pub bootstrap_servers: Option<String>,
    /// The topic its undecodable and rejected records are dead-lettered to,
    /// when published by a runtime (`meshkit dlq` reads it).
    pub dead_letter_topic: Option<String>,
    /// Its instances: all running ones and the latest ended ones.
    pub instances: Vec<InstanceRecord>,
    /// Running, stopped or failed, over all instances.
    pub status: ProductStatus,
    /// When the product was first registered.
    pub created_at: Timestamp,
    /// When this record was last changed.
    pub updated_at: Timestamp,
}

impl CatalogRecord {
    /// The record for descriptor `d`, with no instance yet (status
    /// `stopped`), created and updated `now`.
    pub fn from_descriptor(d: &DescriptorInput, now: Timestamp) -> Self {
        let ms = |slo: Option<Duration>| slo.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self {
            domain: d.domain.clone(),
            name: d.name.clone(),
            version: d.version.clone(),
            owner: d.owner.clone(),
            description: d.description.clone(),
            tags: d.tags.clone(),
            lifecycle: "active".to_string(),
            slo: SloRecord {
                freshness_ms: ms(d.freshness_slo),
                latency_ms: ms(d.latency_slo),
            },
            inputs: d.inputs.iter().map(PortRecord::from).collect(),
            outputs: d.outputs.iter().map(PortRecord::from).collect(),
            stores: d
                .stores
                .iter()
                .map(|s| StoreRecord {
                    name: s.name.clone(),
                    windowed: s.windowed,
                })
                .collect(),
            bootstrap_servers: None,
            dead_letter_topic: None,
            instances: Vec::new(),
            status: ProductStatus::Stopped,
            created_at: now,
            updated_at: now,
        }
    }

    /// Sets the bootstrap servers the product runs against.
    #[must_use]
    pub fn with_bootstrap_servers(mut self, servers: impl Into<String>) -> Self {
        self.bootstrap_servers = Some(servers.into());
        self
    }

    /// Sets the topic the product dead-letters to.
    #[must_use]
    pub fn with_dead_letter_topic(mut self, topic: impl Into<String>) -> Self {
        self.dead_letter_topic = Some(topic.into());
        self
    }

    /// The record of an existing stream published as a data product
    /// (status [`ProductStatus::Published`], no instances): descriptor `d`
    /// names its one output port, the stream's topic, with its schema.
    /// Republishing keeps `previous`'s creation time.
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::catalog::{CatalogRecord, DescriptorInput, PortInput, ProductStatus, Timestamp};
    ///
    /// let d = DescriptorInput::new("crm", "customers", "1.0.0", "team-crm@example.com")
    ///     .output(PortInput::new("customers", "crm.customers"));
    /// let record = CatalogRecord::published(None, &d, Timestamp::from_millis(5));
    /// assert_eq!(record.status, ProductStatus::Published);
    /// assert!(record.instances.is_empty());
    /// ```
    pub fn published(previous: Option<&CatalogRecord>, d: &DescriptorInput, now: Timestamp) -> Self {
        let mut record = Self::from_descriptor(d, now);
        record.status = ProductStatus::Published;
        if let Some(previous) = previous.filter(|p| p.key() == record.key()) {
            record.created_at = previous.created_at.min(now);
        }
        record
    }

    /// Whether it is a published stream that meshkit does not run.
    pub fn is_published_stream(&self) -> bool {
        self.status == ProductStatus::Published
    }

    /// What an instance publishes when it starts: `previous` (the record
    /// read from the catalog, if any) updated to descriptor `d`, with
    /// `instance` added or replaced. Other instances' entries are kept.
    pub fn register(
        previous: Option<CatalogRecord>,
        d: &DescriptorInput,
        instance: InstanceRecord,
        now: Timestamp,
    ) -> Self {
        let current = Self::from_descriptor(d, now);
        let mut record = match previous {
            Some(mut previous) if previous.key() == current.key() => {
                previous.adopt_descriptor(current);
                previous
            }
            _ => current,
        };
        record.merge_instance(instance, now);
        record
    }

    /// The catalog key, `domain/name`.
    pub fn key(&self) -> ProductKey {
        ProductKey::new(&self.domain, &self.name)
    }

    /// The id of output port `port`'s data contract: `domain/name/port`.
    pub fn contract_id(&self, port: &str) -> String {
        format!("{}/{}/{port}", self.domain, self.name)
    }

    /// The output port named `name`.
    pub fn output(&self, name: &str) -> Option<&PortRecord> {
        self.outputs.iter().find(|p| p.name == name)
    }

    /// The input lineage: each input port's topic and, when known, the
    /// product writing it.
    pub fn lineage(&self) -> Vec<Upstream> {
        self.inputs
            .iter()
            .map(|p| Upstream {
                input: p.name.clone(),
                topic: p.topic.clone(),
                product: p.upstream.as_ref().map(|u| u.product.clone()),
            })
            .collect()
    }

    /// Replaces the descriptor part (identity, ports, stores, SLOs) with
    /// `newer`'s, keeping the instances and the creation time: a product
    /// redeployed with a new version or new ports.
    pub fn adopt_descriptor(&mut self, newer: CatalogRecord) {
        let instances = std::mem::take(&mut self.instances);
        let created_at = self.created_at.min(newer.created_at);
        let updated_at = self.updated_at.max(newer.updated_at);
        let bootstrap = self.bootstrap_servers.take();
        let dead_letters = self.dead_letter_topic.take();
        *self = Self {
            instances,
            created_at,
            updated_at,
            bootstrap_servers: newer.bootstrap_servers.clone().or(bootstrap),
            dead_letter_topic: newer.dead_letter_topic.clone().or(dead_letters),
            ..newer
        };
        self.refresh_status();
    }

    /// Adds `instance`, or replaces the entry with its id (a restart with
    /// the same id, or a heartbeat), and recomputes the status.
    pub fn merge_instance(&mut self, instance: InstanceRecord, now: Timestamp) {
        match self
            .instances
            .iter_mut()
            .find(|i| i.instance_id == instance.instance_id)
        {
            Some(existing) => *existing = instance,
            None => self.instances.push(instance),
        }
        self.touch(now);
    }

    /// Records that instance `instance_id` is alive at `now`. Returns
    /// whether the record holds it (if not, merge it again: a concurrent
    /// writer dropped it).
    pub fn heartbeat(&mut self, instance_id: &str, now: Timestamp) -> bool {
        let Some(instance) = self.instances.iter_mut().find(|i| i.instance_id == instance_id) else {
            return false;
        };
        instance.last_seen = now;
        self.touch(now);
        true
    }

    /// Marks instance `instance_id` stopped cleanly at `now`. The product is
    /// `stopped` once no instance runs. Returns whether the record held it.
    pub fn mark_stopped(&mut self, instance_id: &str, now: Timestamp) -> bool {
        self.end_instance(instance_id, InstanceStatus::Stopped, None, now)
    }

    /// Marks instance `instance_id` failed at `now`, with the reason. The
    /// product is `failed` once no instance runs and this was the last to
    /// end. Returns whether the record held it.
    pub fn mark_failed(&mut self, instance_id: &str, reason: impl Into<String>, now: Timestamp) -> bool {
        self.end_instance(instance_id, InstanceStatus::Failed, Some(reason.into()), now)
    }

    /// Marks every running instance not seen for longer than `max_silence`
    /// as failed (a crash leaves no clean stop). Returns how many.
    pub fn expire_silent(&mut self, now: Timestamp, max_silence: Duration) -> usize {
        self.expire(now, |_| max_silence)
    }

    /// Marks every running instance that missed [`MISSED_HEARTBEATS`] of its
    /// own heartbeats ([`DEFAULT_HEARTBEAT`] if its entry does not say) as
    /// failed: it was killed or lost its brokers without a clean stop.
    /// Returns how many.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use meshkit::catalog::{CatalogRecord, DescriptorInput, InstanceRecord, ProductStatus, Timestamp};
    ///
    /// let d = DescriptorInput::new("sales", "orders", "1.0.0", "team-sales");
    /// let started = Timestamp::from_millis(0);
    /// let instance = InstanceRecord::running("i-1", "host", started).with_heartbeat(Duration::from_secs(1));
    /// let mut record = CatalogRecord::register(None, &d, instance, started);
    /// assert_eq!(record.expire_stale(Timestamp::from_millis(2_500)), 0);
    /// assert_eq!(record.expire_stale(Timestamp::from_millis(3_500)), 1);
    /// assert_eq!(record.status, ProductStatus::Failed);
    /// ```
    pub fn expire_stale(&mut self, now: Timestamp) -> usize {
        self.expire(now, |instance| {
            instance
                .heartbeat_ms
                .map_or(DEFAULT_HEARTBEAT, Duration::from_millis)
                .saturating_mul(MISSED_HEARTBEATS)
        })
    }

    fn expire(&mut self, now: Timestamp, max_silence: impl Fn(&InstanceRecord) -> Duration) -> usize {
        let mut expired = 0;
        for instance in &mut self.instances {
            let max_silence = max_silence(instance);
            if instance.status == InstanceStatus::Running && now.since(instance.last_seen) > max_silence {
                instance.status = InstanceStatus::Failed;
                instance.ended_at = Some(instance.last_seen);
                instance.error = Some(format!("no heartbeat for more than {} s", max_silence.as_secs()));
                expired += 1;
            }
        }
        if expired > 0 {
            self.touch(now);
        }
        expired
    }

    /// Fills each input port's upstream product from `catalog`: the product
    /// with an output port writing the same topic (the first, by key, if
    /// several claim it). Inputs no product writes keep `None`.
    pub fn resolve_upstreams<'a>(&mut self, catalog: impl IntoIterator<Item = &'a CatalogRecord>) {
        let me = self.key();
        let mut writers: BTreeMap<&str, (ProductKey, &str)> = BTreeMap::new();
        for record in catalog {
            let key = record.key();
            if key == me {
                continue;
            }
            for port in &record.outputs {
                let candidate = (key.clone(), port.name.as_str());
                writers
                    .entry(port.topic.as_str())
                    .and_modify(|w| {
                        if candidate.0 < w.0 {
                            *w = candidate.clone();
                        }
                    })
                    .or_insert(candidate);
            }
        }
        for input in &mut self.inputs {
            input.upstream = writers
                .get(input.topic.as_str())
                .map(|(product, port)| UpstreamProduct {
                    product: product.clone(),
                    port: (*port).to_string(),
                });
        }
    }

    /// Whether `text` occurs (case-insensitively) in the key, description,
    /// owner, a tag, a port name or topic, or a schema's type, subject or
    /// field names ([`SchemaRecord::fields`]).
    pub fn matches(&self, text: &str) -> bool {
        let needle = text.to_lowercase();
        let hit = |s: &str| s.to_lowercase().contains(&needle);
        let schema_hit = |s: &Option<SchemaRecord>| {
            s.as_ref().is_some_and(|s| {
                hit(&s.type_name)
                    || s.subject.as_deref().is_some_and(hit)
                    || s.fields().iter().any(|f| hit(&f.name))
            })
        };
        hit(&self.key().to_string())
            || hit(&self.description)
            || hit(&self.owner)
            || self.tags.iter().any(|t| hit(t))
            || self
                .inputs
                .iter()
                .chain(&self.outputs)
                .any(|p| hit(&p.name) || hit(&p.topic) || schema_hit(&p.key) || schema_hit(&p.value))
    }

    /// The record's JSON, the catalog topic's value.
    ///
    /// # Errors
    ///
    /// [`CatalogError::Json`] if serialization fails (it does not for
    /// records built by this module).
    pub fn encode(&self) -> Result<Vec<u8>, CatalogError> {
        serde_json::to_vec(&WireRecord::from(self.clone())).map_err(|source| CatalogError::Json {
            key: self.key().to_string(),
            source,
        })
    }

    /// Reads a record from the catalog topic, checking it is stored under
    /// its own key.
    ///
    /// # Errors
    ///
    /// A [`CatalogError`]: the key is not `domain/name`, the value is not an
    /// ODPS document with meshkit's section, or it describes another product.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, CatalogError> {
        let key = ProductKey::from_bytes(key)?;
        let wire: WireRecord = serde_json::from_slice(value).map_err(|source| CatalogError::Json {
            key: key.to_string(),
            source,
        })?;
        let record = Self::try_from(wire)?;
        if record.key() != key {
            return Err(CatalogError::KeyMismatch {
                key: key.to_string(),
                id: record.key().to_string(),
            });
        }
        Ok(record)
    }

    fn end_instance(
        &mut self,
        instance_id: &str,
        status: InstanceStatus,
        error: Option<String>,
        now: Timestamp,
    ) -> bool {
        let Some(instance) = self.instances.iter_mut().find(|i| i.instance_id == instance_id) else {
            return false;
        };
        instance.status = status;
        instance.last_seen = now;
        instance.ended_at = Some(now);
        instance.error = error;
        self.touch(now);
        true
    }

    fn touch(&mut self, now: Timestamp) {
        self.updated_at = self.updated_at.max(now);
        self.prune();
        self.refresh_status();
    }

    /// Keeps every running instance and the newest ended ones.
    fn prune(&mut self) {
        let mut ended: Vec<(Timestamp, String)> = self
            .instances
            .iter()
            .filter(|i| i.status != InstanceStatus::Running)
            .map(|i| (i.ended_at.unwrap_or(i.last_seen), i.instance_id.clone()))
            .collect();
        if ended.len() <= MAX_FINISHED_INSTANCES {
            return;
        }
        ended.sort_by(|a, b| b.cmp(a));
        let dropped: Vec<String> = ended
            .split_off(MAX_FINISHED_INSTANCES)
            .into_iter()
            .map(|e| e.1)
            .collect();
        self.instances
            .retain(|i| i.status == InstanceStatus::Running || !dropped.contains(&i.instance_id));
    }

    fn refresh_status(&mut self) {
        // A published stream has no instances of its own; a product that
        // later runs under its key (a first instance merged) is run by meshkit.
        if self.status == ProductStatus::Published && self.instances.is_empty() {
            return;
        }
        self.status = if self.instances.iter().any(|i| i.status == InstanceStatus::Running) {
            ProductStatus::Running
        } else {
            match self
                .instances
                .iter()
                .max_by_key(|i| {
                    (
                        i.ended_at.unwrap_or(i.last_seen),
                        i.status == InstanceStatus::Failed,
                    )
                })
                .map(|i| i.status)
            {
                Some(InstanceStatus::Failed) => ProductStatus::Failed,
                _ => ProductStatus::Stopped,
            }
        };
    }
}

/// One change read from the catalog topic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CatalogUpdate {
    /// A product's current record.
    Upsert(Box<CatalogRecord>),
    /// A tombstone: the product was decommissioned.
    Removed(ProductKey),
}

impl CatalogUpdate {
    /// Reads one catalog topic record: `value` `None` is a tombstone.
    ///
    /// # Errors
    ///
    /// As [`CatalogRecord::decode`].
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<Self, CatalogError> {
        match value {
            None => Ok(Self::Removed(ProductKey::from_bytes(key)?)),
            Some(value) => Ok(Self::Upsert(Box::new(CatalogRecord::decode(key, value)?))),
        }
    }
}

/// The catalog as a reader sees it: the catalog topic folded into the
/// latest record per product (what `meshkit catalog list/show/search` print).
///
/// # Examples
///
/// ```
/// use meshkit::catalog::{Catalog, CatalogRecord, DescriptorInput, PortInput, Timestamp};
///
/// let d = DescriptorInput::new("sales", "orders", "1.0.0", "team-sales")
///     .input(PortInput::new("in", "raw.orders"))
///     .output(PortInput::new("out", "sales.orders"));
/// let record = CatalogRecord::from_descriptor(&d, Timestamp::from_millis(0));
/// let mut catalog = Catalog::new();
/// catalog.apply(&record.key().to_bytes(), Some(&record.encode()?))?;
/// assert_eq!(catalog.search("SALES.ORDERS").len(), 1);
/// catalog.apply(b"sales/orders", None)?; // a tombstone
/// assert!(catalog.is_empty());
/// # Ok::<(), meshkit::catalog::CatalogError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    records: BTreeMap<ProductKey, CatalogRecord>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one catalog topic record (in offset order).
    ///
    /// # Errors
    ///
    /// As [`CatalogUpdate::decode`]; the catalog is left unchanged.
    pub fn apply(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), CatalogError> {
        self.apply_update(CatalogUpdate::decode(key, value)?);
        Ok(())
    }

    /// Applies a decoded update.
    pub fn apply_update(&mut self, update: CatalogUpdate) {
        match update {
            CatalogUpdate::Upsert(record) => {
                self.records.insert(record.key(), *record);
            }
            CatalogUpdate::Removed(key) => {
                self.records.remove(&key);
            }
        }
    }

    /// The record of product `key`.
    pub fn get(&self, key: &ProductKey) -> Option<&CatalogRecord> {
        self.records.get(key)
    }

    /// Every record, by key.
    pub fn list(&self) -> impl Iterator<Item = &CatalogRecord> {
        self.records.values()
    }

    /// Applies [`CatalogRecord::expire_stale`] to every record: instances
    /// that stopped heartbeating show as failed. Returns how many.
    pub fn expire_stale(&mut self, now: Timestamp) -> usize {
        self.records.values_mut().map(|r| r.expire_stale(now)).sum()
    }

    /// The records [matching](CatalogRecord::matches) `text`, by key.
    pub fn search(&self, text: &str) -> Vec<&CatalogRecord> {
        self.records.values().filter(|r| r.matches(text)).collect()
    }

    /// How many products it holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

// ---- The ODPS document on the wire ----

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRecord {
    api_version: String,
    kind: String,
    id: String,
    name: String,
    #[serde(default)]
    version: String,
    status: String,
    #[serde(default)]
    domain: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<WireDescription>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(default)]
    input_ports: Vec<WireInputPort>,
    #[serde(default)]
    output_ports: Vec<WireOutputPort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    team: Option<WireTeam>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    product_created_ts: Option<Timestamp>,
    #[serde(default)]
    custom_properties: Vec<WireCustomProperty>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WireDescription {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    purpose: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireInputPort {
    name: String,
    version: String,
    contract_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireOutputPort {
    name: String,
    version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contract_id: Option<String>,
}

/// ODPS v1.0.0's `team` is an object with `members`; v0.9.0's was the
/// member list itself. Both are read; the object is written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum WireTeam {
    Team(WireTeamObject),
    Members(Vec<WireTeamMember>),
}

impl WireTeam {
    fn members(&self) -> &[WireTeamMember] {
        match self {
            Self::Team(team) => &team.members,
            Self::Members(members) => members,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WireTeamObject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default)]
    members: Vec<WireTeamMember>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WireTeamMember {
    username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WireCustomProperty {
    property: String,
    value: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

/// meshkit's section, the value of custom property `meshkit`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MeshkitSection {
    status: ProductStatus,
    updated_at: Timestamp,
    #[serde(default)]
    slo: SloRecord,
    #[serde(default)]
    inputs: Vec<PortRecord>,
    #[serde(default)]
    outputs: Vec<PortRecord>,
    /// Derived from `inputs`; written for other readers, ignored on read.
    #[serde(default)]
    lineage: Vec<Upstream>,
    #[serde(default)]
    stores: Vec<StoreRecord>,
    #[serde(default)]
    instances: Vec<InstanceRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bootstrap_servers: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dead_letter_topic: Option<String>,
}

impl From<CatalogRecord> for WireRecord {
    fn from(r: CatalogRecord) -> Self {
        let key = r.key();
        let input_ports = r
            .inputs
            .iter()
            .map(|p| WireInputPort {
                name: p.name.clone(),
                version: r.version.clone(),
                contract_id: match &p.upstream {
                    Some(u) => format!("{}/{}", u.product, u.port),
                    None => format!("kafka-topic:{}", p.topic),
                },
            })
            .collect();
        let output_ports = r
            .outputs
            .iter()
            .map(|p| WireOutputPort {
                name: p.name.clone(),
                version: r.version.clone(),
                description: Some(format!("Kafka topic `{}`", p.topic)),
                kind: Some("topic".to_string()),
                contract_id: Some(r.contract_id(&p.name)),
            })
            .collect();
        let lineage = r.lineage();
        let section = MeshkitSection {
            status: r.status,
            updated_at: r.updated_at,
            slo: r.slo,
            inputs: r.inputs,
            outputs: r.outputs,
            lineage,
            stores: r.stores,
            instances: r.instances,
            bootstrap_servers: r.bootstrap_servers,
            dead_letter_topic: r.dead_letter_topic,
        };
        // Serializing plain data into a `Value` cannot fail; fall back to
        // null rather than panic.
        let value = serde_json::to_value(&section).unwrap_or(serde_json::Value::Null);
        Self {
            api_version: ODPS_API_VERSION.to_string(),
            kind: "DataProduct".to_string(),
            id: key.to_string(),
            name: r.name,
            version: r.version,
            status: r.lifecycle,
            domain: r.domain,
            description: (!r.description.is_empty()).then_some(WireDescription {
                purpose: Some(r.description),
            }),
            tags: r.tags,
            input_ports,
            output_ports,
            team: Some(WireTeam::Team(WireTeamObject {
                name: Some(r.owner.clone()),
                members: vec![WireTeamMember {
                    username: r.owner,
                    role: Some("owner".to_string()),
                }],
            })),
            product_created_ts: Some(r.created_at),
            custom_properties: vec![WireCustomProperty {
                property: MESHKIT_PROPERTY.to_string(),
                value,
                description: Some("meshkit runtime data: topics, schemas, SLOs, lineage, instances".into()),
            }],
        }
    }
}

impl TryFrom<WireRecord> for CatalogRecord {
    type Error = CatalogError;

    fn try_from(w: WireRecord) -> Result<Self, Self::Error> {
        if w.kind != "DataProduct" {
            return Err(CatalogError::WrongKind {
                id: w.id,
                kind: w.kind,
            });
        }
        let Some(section) = w
            .custom_properties
            .into_iter()
            .find(|p| p.property == MESHKIT_PROPERTY)
        else {
            return Err(CatalogError::NotMeshkit { id: w.id });
        };
        let section: MeshkitSection =
            serde_json::from_value(section.value).map_err(|source| CatalogError::Json {
                key: w.id.clone(),
                source,
            })?;
        let members = w.team.as_ref().map_or(&[][..], WireTeam::members);
        let owner = members
            .iter()
            .find(|m| m.role.as_deref() == Some("owner"))
            .or(members.first())
            .map(|m| m.username.clone())
            .unwrap_or_default();
        Ok(Self {
            domain: w.domain,
            name: w.name,
            version: w.version,
            owner,
            description: w.description.and_then(|d| d.purpose).unwrap_or_default(),
            tags: w.tags,
            lifecycle: w.status,
            slo: section.slo,
            inputs: section.inputs,
            outputs: section.outputs,
            stores: section.stores,
            bootstrap_servers: section.bootstrap_servers,
            dead_letter_topic: section.dead_letter_topic,
            instances: section.instances,
            status: section.status,
            created_at: w.product_created_ts.unwrap_or(section.updated_at),
            updated_at: section.updated_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::input::StoreInput;
    use super::*;

    const ORDER: &str =
        r#"{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"}]}"#;

    fn t(ms: u64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    fn descriptor(version: &str) -> DescriptorInput {
        let mut d =
            DescriptorInput::new("sales", "orders-enriched", version, "team-sales@example.com")
                .input(PortInput::new("orders", "sales.orders").with_value(
                    SchemaInput::new(ORDER, "acme::Order").registered("sales.orders-value", 7, 2),
                ))
                .output(
                    PortInput::new("enriched", "sales.orders.enriched")
                        .with_value(SchemaInput::new(ORDER, "acme::Order").registered(
                            "sales.orders.enriched-value",
                            9,
                            1,
                        ))
                        .with_key(SchemaInput::new(r#""string""#, "String").registered(
                            "sales.orders.enriched-key",
                            3,
                            1,
                        )),
                );
        d.description = "Orders with their price band".into();
        d.tags = vec!["sales".into(), "tier-1".into()];
        d.freshness_slo = Some(Duration::from_secs(60));
        d.latency_slo = Some(Duration::from_millis(250));
        d.stores.push(StoreInput {
            name: "spend".into(),
            windowed: true,
        });
        d
    }

    #[test]
    fn round_trips_through_the_odps_document() {
        let record = CatalogRecord::register(
            None,
            &descriptor("1.2.0"),
            InstanceRecord::running("i-1", "host-a", t(1_000)),
            t(1_000),
        )
        .with_bootstrap_servers("localhost:9092")
        .with_dead_letter_topic("sales.orders-enriched.dlq");
        let bytes = record.encode().unwrap();
        let back = CatalogRecord::decode(b"sales/orders-enriched", &bytes).unwrap();
        assert_eq!(back, record);
        // Through serde directly too (the `into`/`try_from` impls).
        let via_serde: CatalogRecord =
            serde_json::from_str(&serde_json::to_string(&record).unwrap()).unwrap();
        assert_eq!(via_serde, record);
    }

    #[test]
    fn a_published_stream_stays_published_until_meshkit_runs_it() {
        let mut record = CatalogRecord::published(None, &descriptor("1.0.0"), t(1_000));
        assert_eq!(record.status, ProductStatus::Published);
        assert_eq!(record.expire_stale(t(10_000_000)), 0);
        let newer = CatalogRecord::from_descriptor(&descriptor("1.1.0"), t(2_000));
        let mut republished = record.clone();
        republished.adopt_descriptor(CatalogRecord::published(
            Some(&record),
            &descriptor("1.1.0"),
            t(2_000),
        ));
        assert_eq!(republished.status, ProductStatus::Published);
        assert_eq!(republished.created_at, t(1_000));
        let back = CatalogRecord::decode(b"sales/orders-enriched", &republished.encode().unwrap()).unwrap();
        assert_eq!(back.status, ProductStatus::Published);
        // A product deployed under the same key is run by meshkit.
        record.adopt_descriptor(newer);
        record.merge_instance(InstanceRecord::running("i-1", "host", t(3_000)), t(3_000));
        assert_eq!(record.status, ProductStatus::Running);
        record.mark_stopped("i-1", t(4_000));
        assert_eq!(record.status, ProductStatus::Stopped);
    }

    #[test]
    fn the_document_has_the_odps_shape_and_meshkit_section() {
        let record = CatalogRecord::register(
            None,
            &descriptor("1.2.0"),
            InstanceRecord::running("i-1", "host-a", t(1_000)),
            t(1_000),
        );
        let doc: serde_json::Value = serde_json::from_slice(&record.encode().unwrap()).unwrap();
        assert_eq!(doc["apiVersion"], "v1.0.0");
        assert_eq!(doc["kind"], "DataProduct");
        assert_eq!(doc["id"], "sales/orders-enriched");
        assert_eq!(doc["status"], "active");
        assert_eq!(doc["description"]["purpose"], "Orders with their price band");
        assert_eq!(doc["tags"], serde_json::json!(["sales", "tier-1"]));
        assert_eq!(doc["team"]["members"][0]["username"], "team-sales@example.com");
        assert_eq!(doc["team"]["members"][0]["role"], "owner");
        assert_eq!(doc["productCreatedTs"], "1970-01-01T00:00:01.000Z");
        assert_eq!(
            doc["inputPorts"][0],
            serde_json::json!({"name": "orders", "version": "1.2.0", "contractId": "kafka-topic:sales.orders"})
        );
        assert_eq!(
            doc["outputPorts"][0]["contractId"],
            "sales/orders-enriched/enriched"
        );
        // ODPS ports allow no other keys.
        assert_eq!(doc["inputPorts"][0].as_object().unwrap().len(), 3);
        let section = &doc["customProperties"][0];
        assert_eq!(section["property"], "meshkit");
        let m = &section["value"];
        assert_eq!(m["status"], "running");
        assert_eq!(
            m["slo"],
            serde_json::json!({"freshnessMs": 60000, "latencyMs": 250})
        );
        assert_eq!(m["outputs"][0]["topic"], "sales.orders.enriched");
        assert_eq!(m["outputs"][0]["value"]["subject"], "sales.orders.enriched-value");
        assert_eq!(m["outputs"][0]["value"]["id"], 9);
        assert_eq!(m["outputs"][0]["value"]["version"], 1);
        assert_eq!(m["outputs"][0]["key"]["subject"], "sales.orders.enriched-key");
        assert_eq!(
            m["lineage"][0],
            serde_json::json!({"input": "orders", "topic": "sales.orders"})
        );
        assert_eq!(m["instances"][0]["instanceId"], "i-1");
        assert_eq!(m["instances"][0]["host"], "host-a");
        assert_eq!(m["instances"][0]["startedAt"], "1970-01-01T00:00:01.000Z");
        assert_eq!(
            m["stores"][0],
            serde_json::json!({"name": "spend", "windowed": true})
        );
    }

    #[test]
    fn two_instances_keep_one_record_until_both_stop() {
        let d = descriptor("1.2.0");
        let a = CatalogRecord::register(
            None,
            &d,
            InstanceRecord::running("a", "host-a", t(1_000)),
            t(1_000),
        );
        // Instance b reads a's record from the topic, then registers itself.
        let read_back = CatalogRecord::decode(b"sales/orders-enriched", &a.encode().unwrap()).unwrap();
        let mut both = CatalogRecord::register(
            Some(read_back),
            &d,
            InstanceRecord::running("b", "host-b", t(2_000)),
            t(2_000),
        );
        assert_eq!(both.instances.len(), 2);
        assert_eq!(both.status, ProductStatus::Running);
        assert_eq!(both.created_at, t(1_000));
        assert_eq!(both.updated_at, t(2_000));

        assert!(both.mark_stopped("a", t(3_000)));
        assert_eq!(both.status, ProductStatus::Running, "b still runs");
        assert!(both.mark_stopped("b", t(4_000)));
        assert_eq!(both.status, ProductStatus::Stopped);
        assert!(both.instances.iter().all(|i| i.status == InstanceStatus::Stopped));
        assert_eq!(both.instances[1].ended_at, Some(t(4_000)));
        assert!(!both.mark_stopped("nobody", t(5_000)));

        // A restart of `a` (same id) replaces its entry rather than adding one.
        both.merge_instance(InstanceRecord::running("a", "host-a", t(6_000)), t(6_000));
        assert_eq!(both.instances.len(), 2);
        assert_eq!(both.status, ProductStatus::Running);
    }

    #[test]
    fn failures_and_silence_mark_the_product_failed() {
        let d = descriptor("1.2.0");
        let mut r = CatalogRecord::register(None, &d, InstanceRecord::running("a", "h", t(1_000)), t(1_000));
        r.merge_instance(InstanceRecord::running("b", "h", t(1_000)), t(1_000));
        assert!(r.mark_failed("a", "broker fenced the producer", t(2_000)));
        assert_eq!(r.status, ProductStatus::Running);
        assert!(r.heartbeat("b", t(10_000)));
        assert_eq!(r.expire_silent(t(20_000), Duration::from_secs(30)), 0);
        assert_eq!(r.expire_silent(t(50_000), Duration::from_secs(30)), 1);
        assert_eq!(r.status, ProductStatus::Failed);
        assert!(r.instances[1].error.as_deref().unwrap().contains("heartbeat"));
        // The last to end decides: a clean stop after a failure is `stopped`.
        r.merge_instance(InstanceRecord::running("c", "h", t(60_000)), t(60_000));
        r.mark_stopped("c", t(61_000));
        assert_eq!(r.status, ProductStatus::Stopped);
    }

    #[test]
    fn each_instance_expires_after_three_of_its_own_heartbeats() {
        let d = descriptor("1.2.0");
        let fast = InstanceRecord::running("fast", "h", t(0)).with_heartbeat(Duration::from_secs(1));
        let slow = InstanceRecord::running("slow", "h", t(0)).with_heartbeat(Duration::from_secs(60));
        let unsaid = InstanceRecord::running("unsaid", "h", t(0));
        let mut r = CatalogRecord::register(None, &d, fast, t(0));
        r.merge_instance(slow, t(0));
        r.merge_instance(unsaid, t(0));
        let back = CatalogRecord::decode(&r.key().to_bytes(), &r.encode().unwrap()).unwrap();
        assert_eq!(
            back.instances[0].heartbeat_ms,
            Some(1_000),
            "heartbeatMs round-trips"
        );
        assert_eq!(back.instances[2].heartbeat_ms, None);

        let mut catalog = Catalog::new();
        catalog
            .apply(&r.key().to_bytes(), Some(&r.encode().unwrap()))
            .unwrap();
        // 3 s of silence is exactly three missed 1 s heartbeats: not yet.
        assert_eq!(catalog.expire_stale(t(3_000)), 0);
        assert_eq!(catalog.expire_stale(t(3_001)), 1);
        let r = catalog.get(&ProductKey::new("sales", "orders-enriched")).unwrap();
        let status = |id: &str| r.instances.iter().find(|i| i.instance_id == id).unwrap().status;
        assert_eq!(status("fast"), InstanceStatus::Failed);
        assert_eq!(status("slow"), InstanceStatus::Running);
        assert_eq!(
            status("unsaid"),
            InstanceStatus::Running,
            "default heartbeat 30 s: 90 s of silence"
        );
        assert_eq!(r.status, ProductStatus::Running, "others still run");
        assert_eq!(
            catalog.expire_stale(t(90_001)),
            1,
            "the one without a heartbeat, after 90 s"
        );
        assert_eq!(catalog.expire_stale(t(180_001)), 1, "the slow one, after 180 s");
        let r = catalog.get(&ProductKey::new("sales", "orders-enriched")).unwrap();
        assert_eq!(r.status, ProductStatus::Failed);
    }

    #[test]
    fn a_new_version_keeps_instances_and_ended_instances_are_bounded() {
        let mut r = CatalogRecord::register(
            None,
            &descriptor("1.2.0"),
            InstanceRecord::running("a", "h", t(1_000)),
            t(1_000),
        );
        r = CatalogRecord::register(
            Some(r),
            &descriptor("1.3.0"),
            InstanceRecord::running("b", "h", t(2_000)),
            t(2_000),
        );
        assert_eq!(r.version, "1.3.0");
        assert_eq!(r.instances.len(), 2);
        for i in 0..40 {
            let id = format!("x{i}");
            r.merge_instance(InstanceRecord::running(&id, "h", t(3_000 + i)), t(3_000 + i));
            r.mark_stopped(&id, t(3_000 + i));
        }
        let ended = r
            .instances
            .iter()
            .filter(|i| i.status != InstanceStatus::Running)
            .count();
        assert_eq!(ended, MAX_FINISHED_INSTANCES);
        assert_eq!(
            r.instances
                .iter()
                .filter(|i| i.status == InstanceStatus::Running)
                .count(),
            2
        );
        assert!(r.instances.iter().any(|i| i.instance_id == "x39"));
        assert!(!r.instances.iter().any(|i| i.instance_id == "x0"));
    }

    #[test]
    fn upstreams_resolve_from_the_catalog_and_show_in_lineage() {
        let upstream = CatalogRecord::from_descriptor(
            &DescriptorInput::new("sales", "orders", "1.0.0", "o")
                .input(PortInput::new("raw", "raw.orders"))
                .output(PortInput::new("clean", "sales.orders")),
            t(0),
        );
        let mut r = CatalogRecord::from_descriptor(&descriptor("1.2.0"), t(0));
        r.resolve_upstreams([&upstream, &r.clone()]);
        assert_eq!(
            r.lineage(),
            vec![Upstream {
                input: "orders".into(),
                topic: "sales.orders".into(),
                product: Some(ProductKey::new("sales", "orders")),
            }]
        );
        let doc: serde_json::Value = serde_json::from_slice(&r.encode().unwrap()).unwrap();
        assert_eq!(doc["inputPorts"][0]["contractId"], "sales/orders/clean");
        assert_eq!(
            doc["customProperties"][0]["value"]["lineage"][0]["product"],
            "sales/orders"
        );
        let back = CatalogRecord::decode(b"sales/orders-enriched", &r.encode().unwrap()).unwrap();
        assert_eq!(back.inputs[0].upstream.as_ref().unwrap().port, "clean");
    }

    #[test]
    fn decoding_rejects_foreign_or_misfiled_documents() {
        let r = CatalogRecord::from_descriptor(&descriptor("1.2.0"), t(0));
        let bytes = r.encode().unwrap();
        assert!(matches!(
            CatalogRecord::decode(b"sales/other", &bytes),
            Err(CatalogError::KeyMismatch { .. })
        ));
        assert!(matches!(
            CatalogRecord::decode(b"no-slash", &bytes),
            Err(CatalogError::InvalidKey { .. })
        ));
        assert!(matches!(
            CatalogRecord::decode(b"sales/x", b"{not json"),
            Err(CatalogError::Json { .. })
        ));
        let foreign =
            br#"{"apiVersion":"v1.0.0","kind":"DataProduct","id":"x/y","name":"y","status":"active"}"#;
        assert!(matches!(
            CatalogRecord::decode(b"x/y", foreign),
            Err(CatalogError::NotMeshkit { .. })
        ));
        let contract =
            br#"{"apiVersion":"v1.0.0","kind":"DataContract","id":"x/y","name":"y","status":"active"}"#;
        assert!(matches!(
            CatalogRecord::decode(b"x/y", contract),
            Err(CatalogError::WrongKind { .. })
        ));
    }

    #[test]
    fn the_catalog_folds_upserts_and_tombstones_and_searches() {
        let mut catalog = Catalog::new();
        let a = CatalogRecord::from_descriptor(&descriptor("1.2.0"), t(0));
        let b = CatalogRecord::from_descriptor(
            &DescriptorInput::new("finance", "ledger", "0.1.0", "team-fin")
                .input(PortInput::new("in", "finance.entries"))
                .output(PortInput::new("out", "finance.ledger")),
            t(0),
        );
        for r in [&a, &b] {
            catalog
                .apply(&r.key().to_bytes(), Some(&r.encode().unwrap()))
                .unwrap();
        }
        assert_eq!(catalog.len(), 2);
        let keys: Vec<String> = catalog.list().map(|r| r.key().to_string()).collect();
        assert_eq!(keys, ["finance/ledger", "sales/orders-enriched"]);
        assert_eq!(catalog.search("tier-1").len(), 1);
        assert_eq!(catalog.search("acme::order").len(), 1, "by schema type");
        assert_eq!(catalog.search("team-").len(), 2, "by owner");
        assert!(catalog.search("nothing-like-this").is_empty());
        assert!(catalog.apply(b"bad", Some(b"{}")).is_err());
        assert_eq!(catalog.len(), 2, "a bad record changes nothing");
        catalog.apply(b"finance/ledger", None).unwrap();
        assert_eq!(catalog.len(), 1);
        assert!(catalog
            .get(&ProductKey::new("sales", "orders-enriched"))
            .is_some());
    }
}
