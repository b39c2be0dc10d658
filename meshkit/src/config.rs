//! The runtime's settings: a builder, and the same settings from environment
//! variables (`MESHKIT_*`), so a product can be configured either in code or
//! at deployment.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::ConfigError;
use crate::kafka::KafkaSettings;
use crate::policy::{ErrorPolicy, Guarantee};
use crate::schema::SubjectNameStrategy;

/// The default catalog topic (compacted, keyed `domain/name`).
#[cfg_attr(not(feature = "catalog"), allow(unreachable_pub))]
pub const CATALOG_TOPIC: &str = "_meshkit.catalog";

/// The default OpenLineage job namespace.
#[cfg_attr(not(feature = "lineage"), allow(unreachable_pub))]
pub const DEFAULT_JOB_NAMESPACE: &str = "meshkit";

/// The `brokers` value that asks for the embedded local cluster.
const EMBEDDED: &str = "embedded";

/// Kafka client properties that meshkit sets itself because exactly-once
/// depends on them; passing one through is a [`ConfigError`].
const RESERVED_PROPERTIES: &[&str] = &[
    "bootstrap.servers",
    "group.id",
    "transactional.id",
    "enable.idempotence",
    "isolation.level",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "group.instance.id",
];

/// Why a consumer group setting is refused, if it is: the runtime finishes
/// the open transaction and restores stores for whole assignments, as the
/// eager rebalance protocol hands them over; incremental assignment
/// (`cooperative-sticky`) and the broker-driven protocol of KIP-848 hand
/// over parts of one, which it does not handle yet.
fn unsupported_group_protocol(name: &str, value: &str) -> Option<&'static str> {
    match name {
        "partition.assignment.strategy" if value.contains("cooperative") => Some(
            "incremental (cooperative) assignment is not supported yet: use range or roundrobin (the default)",
        ),
        "group.protocol" if value.trim() != "classic" => {
            Some("KIP-848's `consumer` group protocol is not supported yet: use `classic` (the default)")
        }
        _ => None,
    }
}

/// A password, kept out of `Debug` output (and so out of logs).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The runtime's settings.
///
/// Every setting has a builder method and an environment variable:
///
/// | builder method | environment variable | default |
/// |---|---|---|
/// | `brokers` | `MESHKIT_BROKERS` (`embedded`: the embedded local cluster) | none: an error at start |
/// | `application_id` | `MESHKIT_APPLICATION_ID` | `domain.name` of the product |
/// | `instance_id` | `MESHKIT_INSTANCE_ID` | generated once, kept in the state directory |
/// | `static_membership` | `MESHKIT_STATIC_MEMBERSHIP` (the instance id is the group member's `group.instance.id`) | `true` |
/// | `commit_interval` | `MESHKIT_COMMIT_INTERVAL_MS` | 100 ms |
/// | `commit_records` | `MESHKIT_COMMIT_RECORDS` | 10,000 records |
/// | `processing_threads` | `MESHKIT_PROCESSING_THREADS` (each its own consumer, producer and tasks) | 1 |
/// | `state_dir` | `MESHKIT_STATE_DIR` | `<temp dir>/meshkit` |
/// | `metrics_addr` | `MESHKIT_METRICS_ADDR` | none (no HTTP endpoint) |
/// | `metrics` | `MESHKIT_METRICS` (`true`, `false`) | `true` |
/// | `trace_sample_every` | `MESHKIT_TRACE_SAMPLE_EVERY` (0: never) | 100: one record span in 100 |
/// | `auto_create_topics` | `MESHKIT_AUTO_CREATE_TOPICS` | `true` |
/// | `topic_partitions` | `MESHKIT_TOPIC_PARTITIONS` | 4 |
/// | `replication_factor` | `MESHKIT_REPLICATION_FACTOR` | 1 |
/// | `dead_letter_topic` | `MESHKIT_DEAD_LETTER_TOPIC` | `<application id>.dlq` |
/// | `error_policy` | `MESHKIT_ERROR_POLICY` (`dead-letter`, `stop`, `retry:N`) | `dead-letter` |
/// | `guarantee` | `MESHKIT_PROCESSING_GUARANTEE` (`exactly_once`, `at_least_once`) | `exactly_once` |
/// | `startup_timeout` | `MESHKIT_STARTUP_TIMEOUT_MS` | 30 s |
/// | `transaction_timeout` | `MESHKIT_TRANSACTION_TIMEOUT_MS` | 10 s |
/// | `schema_registry_url` | `MESHKIT_SCHEMA_REGISTRY_URL` | none: the embedded registry |
/// | `schema_registry_basic_auth` | `MESHKIT_SCHEMA_REGISTRY_BASIC_AUTH` (`user:password`) | none |
/// | `schema_registry_ca_file` | `MESHKIT_SCHEMA_REGISTRY_CA_FILE` (PEM) | the system's roots |
/// | `schema_topic` | `MESHKIT_SCHEMA_TOPIC` (embedded registry's topic) | `_schemas` |
/// | `schema_registry_listen` | `MESHKIT_SCHEMA_REGISTRY_LISTEN` (serve the embedded registry's REST API) | none |
/// | `auto_register_schemas` | `MESHKIT_AUTO_REGISTER_SCHEMAS` | `true` |
/// | `subject_name_strategy` | `MESHKIT_SUBJECT_NAME_STRATEGY` (`topic`, `record`, `topic-record`) | `topic` |
/// | `max_record_bytes` | `MESHKIT_MAX_RECORD_BYTES` (larger records are dead letters) | 1 MiB |
/// | `catalog` | `MESHKIT_CATALOG` (publish the product's descriptor) | `true` |
/// | `catalog_topic` | `MESHKIT_CATALOG_TOPIC` | `_meshkit.catalog` |
/// | `catalog_heartbeat` | `MESHKIT_CATALOG_HEARTBEAT_MS` (also the OpenLineage RUNNING period) | 30 s |
/// | `openlineage_url` | `MESHKIT_OPENLINEAGE_URL` (e.g. `http://marquez:5000/api/v1/lineage`) | none: no events |
/// | `openlineage_namespace` | `MESHKIT_OPENLINEAGE_NAMESPACE` (the job namespace) | `meshkit` |
/// | `openlineage_api_key` | `MESHKIT_OPENLINEAGE_API_KEY` (sent as a bearer token) | none |
/// | `kafka_property` | `MESHKIT_KAFKA_<NAME>` (e.g. `MESHKIT_KAFKA_SECURITY_PROTOCOL`) | — |
///
/// A `MESHKIT_KAFKA_*` variable passes a librdkafka property through (for
/// SASL, TLS and tuning): the rest of the name, lower-cased, with `_` read as
/// `.`. Properties that exactly-once depends on are refused.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use meshkit::Config;
///
/// let config = Config::builder()
///     .brokers("127.0.0.1:9092")
///     .commit_interval(Duration::from_secs(1))
///     .kafka_property("security.protocol", "plaintext")
///     .build()?;
/// assert_eq!(config.commit_interval(), Duration::from_secs(1));
///
/// let from_env = Config::from_env_iter([("MESHKIT_BROKERS", "127.0.0.1:9092")])?;
/// assert_eq!(from_env.brokers(), Some("127.0.0.1:9092"));
/// # Ok::<(), meshkit::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) brokers: Option<String>,
    pub(crate) embedded_cluster: bool,
    pub(crate) application_id: Option<String>,
    pub(crate) instance_id: Option<String>,
    pub(crate) commit_interval: Duration,
    pub(crate) commit_records: usize,
    pub(crate) processing_threads: usize,
    pub(crate) state_dir: PathBuf,
    pub(crate) metrics_addr: Option<SocketAddr>,
    pub(crate) metrics: bool,
    pub(crate) trace_sample_every: u32,
    pub(crate) dead_letter_topic: Option<String>,
    pub(crate) error_policy: ErrorPolicy,
    pub(crate) guarantee: Guarantee,
    pub(crate) kafka: KafkaSettings,
    pub(crate) schema_registry_url: Option<String>,
    pub(crate) schema_registry_auth: Option<(String, Secret)>,
    pub(crate) schema_registry_ca_file: Option<PathBuf>,
    pub(crate) schema_topic: String,
    pub(crate) schema_registry_listen: Option<SocketAddr>,
    pub(crate) auto_register_schemas: bool,
    pub(crate) subject_name_strategy: SubjectNameStrategy,
    pub(crate) max_record_bytes: usize,
    pub(crate) catalog: bool,
    pub(crate) catalog_topic: String,
    pub(crate) catalog_heartbeat: Duration,
    pub(crate) openlineage_url: Option<String>,
    pub(crate) openlineage_namespace: String,
    pub(crate) openlineage_api_key: Option<Secret>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            brokers: None,
            embedded_cluster: false,
            application_id: None,
            instance_id: None,
            commit_interval: Duration::from_millis(100),
            commit_records: 10_000,
            processing_threads: 1,
            state_dir: std::env::temp_dir().join("meshkit"),
            metrics_addr: None,
            metrics: true,
            trace_sample_every: 100,
            dead_letter_topic: None,
            error_policy: ErrorPolicy::default(),
            guarantee: Guarantee::default(),
            kafka: KafkaSettings::default(),
            schema_registry_url: None,
            schema_registry_auth: None,
            schema_registry_ca_file: None,
            schema_topic: "_schemas".to_string(),
            schema_registry_listen: None,
            auto_register_schemas: true,
            subject_name_strategy: SubjectNameStrategy::default(),
            max_record_bytes: 1024 * 1024,
            catalog: cfg!(feature = "catalog"),
            catalog_topic: CATALOG_TOPIC.to_string(),
            catalog_heartbeat: Duration::from_secs(30),
            openlineage_url: None,
            openlineage_namespace: DEFAULT_JOB_NAMESPACE.to_string(),
            openlineage_api_key: None,
        }
    }
}

impl Config {
    /// A builder starting from the defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Config::default(),
            error: None,
        }
    }

    /// The defaults overlaid with the process's `MESHKIT_*` environment variables.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first variable with a bad value.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_iter(std::env::vars())
    }

    /// Like [`from_env`](Config::from_env), from the given variables (for tests
    /// and for services that keep their settings elsewhere).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first variable with a bad value.
    pub fn from_env_iter<I, K, V>(vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        Config::builder().env_iter(vars).build()
    }

    /// Bootstrap brokers, if set.
    pub fn brokers(&self) -> Option<&str> {
        self.brokers.as_deref()
    }

    /// Whether the embedded local cluster was asked for (then no brokers
    /// are set: the builder keeps one or the other).
    pub fn embedded_cluster(&self) -> bool {
        self.embedded_cluster
    }

    /// The application id, if set (otherwise the product's `domain.name`).
    pub fn application_id(&self) -> Option<&str> {
        self.application_id.as_deref()
    }

    /// The instance id, if set.
    pub fn instance_id(&self) -> Option<&str> {
        self.instance_id.as_deref()
    }

    /// The longest a transaction stays open before it commits.
    pub fn commit_interval(&self) -> Duration {
        self.commit_interval
    }

    /// The most records one transaction carries before it commits.
    pub fn commit_records(&self) -> usize {
        self.commit_records
    }

    /// How many processing loops the runtime runs, each on a thread of its
    /// own (see [`ConfigBuilder::processing_threads`]).
    pub fn processing_threads(&self) -> usize {
        self.processing_threads
    }

    /// Where local state is kept.
    pub fn state_dir(&self) -> &std::path::Path {
        &self.state_dir
    }

    /// The address of the metrics endpoint, if any.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Whether the runtime records metrics.
    pub fn metrics(&self) -> bool {
        self.metrics
    }

    /// One input record in this many gets a `record` span (0: none).
    pub fn trace_sample_every(&self) -> u32 {
        self.trace_sample_every
    }

    /// Whether missing topics are created at start.
    pub fn auto_create_topics(&self) -> bool {
        self.kafka.auto_create_topics
    }

    /// The error policy for records whose transform fails.
    pub fn error_policy(&self) -> &ErrorPolicy {
        &self.error_policy
    }

    /// The processing guarantee: exactly-once (the default) or at-least-once.
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::{Config, Guarantee};
    ///
    /// assert_eq!(Config::default().guarantee(), Guarantee::ExactlyOnce);
    /// ```
    pub fn guarantee(&self) -> Guarantee {
        self.guarantee
    }

    /// The Kafka properties passed through.
    pub fn kafka_properties(&self) -> &BTreeMap<String, String> {
        &self.kafka.properties
    }

    /// The schema registry's URL, or `None` for the embedded registry.
    pub fn schema_registry_url(&self) -> Option<&str> {
        self.schema_registry_url.as_deref()
    }

    /// The topic the embedded registry keeps its schemas in.
    pub fn schema_topic(&self) -> &str {
        &self.schema_topic
    }

    /// Whether output schemas are registered at start.
    pub fn auto_register_schemas(&self) -> bool {
        self.auto_register_schemas
    }

    /// How ports name their registry subjects.
    pub fn subject_name_strategy(&self) -> SubjectNameStrategy {
        self.subject_name_strategy
    }

    /// The largest input record (key and value) decoded; larger ones are dead letters.
    pub fn max_record_bytes(&self) -> usize {
        self.max_record_bytes
    }

    /// Whether the instance is a static member of its consumer group.
    pub fn static_membership(&self) -> bool {
        self.kafka.static_membership
    }

    /// Whether the product's descriptor is published to the catalog topic.
    pub fn catalog(&self) -> bool {
        self.catalog
    }

    /// The compacted topic the catalog lives in.
    pub fn catalog_topic(&self) -> &str {
        &self.catalog_topic
    }

    /// How often a running instance republishes its catalog entry (and
    /// sends an OpenLineage `RUNNING` event).
    pub fn catalog_heartbeat(&self) -> Duration {
        self.catalog_heartbeat
    }

    /// The OpenLineage endpoint run events are posted to, if any.
    pub fn openlineage_url(&self) -> Option<&str> {
        self.openlineage_url.as_deref()
    }

    /// The OpenLineage job namespace.
    pub fn openlineage_namespace(&self) -> &str {
        &self.openlineage_namespace
    }
}

/// Builds a [`Config`]; see there for the settings and an example.
#[derive(Debug, Clone)]
#[must_use]
pub struct ConfigBuilder {
    config: Config,
    error: Option<ConfigError>,
}

fn invalid(setting: &'static str, env: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        setting,
        env: env.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

impl ConfigBuilder {
    fn fail(mut self, err: ConfigError) -> Self {
        self.error.get_or_insert(err);
        self
    }

    /// Bootstrap brokers, `host:port[,host:port…]`; `embedded` asks for the
    /// embedded local cluster ([`embedded_cluster`](Self::embedded_cluster)).
    /// Unset, the runtime refuses to start: a product meant for real brokers
    /// never runs on the in-process cluster by mistake.
    pub fn brokers(mut self, brokers: impl Into<String>) -> Self {
        let brokers = brokers.into();
        if brokers.trim().is_empty() {
            return self.fail(invalid(
                "brokers",
                "MESHKIT_BROKERS",
                &brokers,
                "empty broker list",
            ));
        }
        if brokers.trim() == EMBEDDED {
            return self.embedded_cluster();
        }
        self.config.brokers = Some(brokers);
        self.config.embedded_cluster = false;
        self
    }

    /// Runs on the embedded local Kafka cluster (librdkafka's mock cluster,
    /// inside the process) instead of brokers: for demos and examples with
    /// nothing installed. It does not implement transactions faithfully, so
    /// exactly-once holds only on real brokers.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = meshkit::Config::builder().embedded_cluster().build()?;
    /// assert!(config.embedded_cluster());
    /// let from_env = meshkit::Config::from_env_iter([("MESHKIT_BROKERS", "embedded")])?;
    /// assert!(from_env.embedded_cluster() && from_env.brokers().is_none());
    /// # Ok::<(), meshkit::ConfigError>(())
    /// ```
    pub fn embedded_cluster(mut self) -> Self {
        self.config.brokers = None;
        self.config.embedded_cluster = true;
        self
    }

    /// The application id: consumer group, and prefix of the transactional id
    /// and of internal topics.
    pub fn application_id(mut self, id: impl Into<String>) -> Self {
        let id = id.into();
        if let Err(reason) = crate::kafka::check_topic_name(&id) {
            return self.fail(invalid("application_id", "MESHKIT_APPLICATION_ID", &id, reason));
        }
        self.config.application_id = Some(id);
        self
    }

    /// This instance's id, part of its transactional id. Two live instances
    /// with one id fence each other: the older stops.
    pub fn instance_id(mut self, id: impl Into<String>) -> Self {
        let id = id.into();
        if let Err(reason) = crate::kafka::check_topic_name(&id) {
            return self.fail(invalid("instance_id", "MESHKIT_INSTANCE_ID", &id, reason));
        }
        self.config.instance_id = Some(id);
        self
    }

    /// Whether the instance joins its consumer group as a static member
    /// (KIP-345), its [`instance_id`](Self::instance_id) as its
    /// `group.instance.id` (default `true`).
    ///
    /// A static member that restarts within the session timeout
    /// (`session.timeout.ms`, librdkafka's default 45 s) takes its own
    /// partitions back at once, without a rebalance: a crash costs a
    /// restart, not a session timeout. A clean stop still leaves the group
    /// (the runtime unsubscribes before it closes), so its partitions move
    /// to the other instances at once. The price: an instance that crashed
    /// and does not come back keeps its partitions, unprocessed, until its
    /// session times out; and a second process started with the same
    /// instance id replaces the first in the group, which then stops with
    /// [`Error::Fenced`](crate::Error::Fenced).
    ///
    /// # Examples
    ///
    /// ```
    /// let config = meshkit::Config::builder().static_membership(false).build()?;
    /// assert!(!config.static_membership());
    /// # Ok::<(), meshkit::ConfigError>(())
    /// ```
    pub fn static_membership(mut self, on: bool) -> Self {
        self.config.kafka.static_membership = on;
        self
    }

    /// The longest a transaction stays open before it commits (default 100 ms).
    pub fn commit_interval(mut self, interval: Duration) -> Self {
        if interval.is_zero() {
            return self.fail(invalid(
                "commit_interval",
                "MESHKIT_COMMIT_INTERVAL_MS",
                "0",
                "must be at least 1 ms",
            ));
        }
        self.config.commit_interval = interval;
        self
    }

    /// The most records one transaction carries (default 10,000).
    pub fn commit_records(mut self, records: usize) -> Self {
        if records == 0 {
            return self.fail(invalid(
                "commit_records",
                "MESHKIT_COMMIT_RECORDS",
                "0",
                "must be at least 1",
            ));
        }
        self.config.commit_records = records;
        self
    }

    /// How many processing loops the runtime runs (default 1), as Kafka
    /// Streams' `num.stream.threads`.
    ///
    /// Each loop runs on an OS thread of its own, with its own consumer in
    /// the product's group and its own transactional producer, and owns the
    /// tasks (input partitions, with their stores) the group assigns to its
    /// consumer: more threads use more cores for one instance's partitions,
    /// and a thread beyond the input's partition count gets none. The
    /// threads share the product value, and the runtime calls its transform
    /// from one thread at a time, unless each thread has a clone of its own
    /// ([`Runtime::product_per_thread`](crate::Runtime::product_per_thread)). Thread 0 keeps the instance's single-thread
    /// transactional id and group member id; thread `i` adds `-thread-<i>`
    /// to both, so a restarted instance fences what each of its threads
    /// left open. Each thread's clients get a `client.id` of their own
    /// (`<client.id or application id>-thread-<i>`).
    ///
    /// # Examples
    ///
    /// ```
    /// let config = meshkit::Config::builder().processing_threads(2).build()?;
    /// assert_eq!(config.processing_threads(), 2);
    /// let from_env = meshkit::Config::from_env_iter([("MESHKIT_PROCESSING_THREADS", "4")])?;
    /// assert_eq!(from_env.processing_threads(), 4);
    /// assert!(meshkit::Config::builder().processing_threads(0).build().is_err());
    /// # Ok::<(), meshkit::ConfigError>(())
    /// ```
    pub fn processing_threads(mut self, threads: usize) -> Self {
        if threads == 0 {
            return self.fail(invalid(
                "processing_threads",
                "MESHKIT_PROCESSING_THREADS",
                "0",
                "must be at least 1: a runtime runs at least one processing loop",
            ));
        }
        self.config.processing_threads = threads;
        self
    }

    /// Where local state is kept.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.state_dir = dir.into();
        self
    }

    /// Serve `/metrics` and `/healthz` on this address.
    pub fn metrics_addr(mut self, addr: SocketAddr) -> Self {
        self.config.metrics_addr = Some(addr);
        self
    }

    /// Whether the runtime records metrics (default `true`).
    ///
    /// Off, the runtime registers no metric and records nothing: `/metrics`
    /// serves an empty page and [`Metrics::is_enabled`](crate::Metrics::is_enabled)
    /// is `false`. Health (`/healthz`, `/readyz`, [`Health`](crate::Health))
    /// is kept either way. Meant for measuring the metrics' own cost, or for
    /// products that export nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = meshkit::Config::builder().metrics(false).build()?;
    /// assert!(!config.metrics());
    /// let from_env = meshkit::Config::from_env_iter([("MESHKIT_METRICS", "false")])?;
    /// assert!(!from_env.metrics());
    /// # Ok::<(), meshkit::ConfigError>(())
    /// ```
    pub fn metrics(mut self, on: bool) -> Self {
        self.config.metrics = on;
        self
    }

    /// Gives one input record in `every` a `record` span at `DEBUG` level
    /// (default 100; 0: none). Transactions always get a span (`INFO`).
    ///
    /// Spans cost next to nothing while no subscriber listens at their level;
    /// sampling keeps the per-record cost bounded while one does.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = meshkit::Config::builder().trace_sample_every(1).build()?;
    /// assert_eq!(config.trace_sample_every(), 1);
    /// # Ok::<(), meshkit::ConfigError>(())
    /// ```
    pub fn trace_sample_every(mut self, every: u32) -> Self {
        self.config.trace_sample_every = every;
        self
    }

    /// Whether missing topics are created at start (default `true`).
    pub fn auto_create_topics(mut self, on: bool) -> Self {
        self.config.kafka.auto_create_topics = on;
        self
    }

    /// Partitions of the topics meshkit creates (default 4).
    pub fn topic_partitions(mut self, partitions: i32) -> Self {
        if partitions < 1 {
            return self.fail(invalid(
                "topic_partitions",
                "MESHKIT_TOPIC_PARTITIONS",
                &partitions.to_string(),
                "must be at least 1",
            ));
        }
        self.config.kafka.topic_partitions = partitions;
        self
    }

    /// Replication factor of the topics meshkit creates (default 1).
    pub fn replication_factor(mut self, factor: i32) -> Self {
        if factor < 1 {
            return self.fail(invalid(
                "replication_factor",
                "MESHKIT_REPLICATION_FACTOR",
                &factor.to_string(),
                "must be at least 1",
            ));
        }
        self.config.kafka.replication_factor = factor;
        self
    }

    /// The dead-letter topic (default `<application id>.dlq`).
    pub fn dead_letter_topic(mut self, topic: impl Into<String>) -> Self {
        let topic = topic.into();
        if let Err(reason) = crate::kafka::check_topic_name(&topic) {
            return self.fail(invalid(
                "dead_letter_topic",
                "MESHKIT_DEAD_LETTER_TOPIC",
                &topic,
                reason,
            ));
        }
        self.config.dead_letter_topic = Some(topic);
        self
    }

    /// What happens to a record whose transform fails (default: dead-letter it).
    pub fn error_policy(mut self, policy: ErrorPolicy) -> Self {
        self.config.error_policy = policy;
        self
    }

    /// The processing guarantee (default [`Guarantee::ExactlyOnce`]).
    ///
    /// [`Guarantee::AtLeastOnce`] runs without transactions: an idempotent
    /// producer, flushed at each commit point (the same
    /// [`commit_interval`](Self::commit_interval) and
    /// [`commit_records`](Self::commit_records)) before the input offsets
    /// are committed. Cheaper, but a crash or a failed commit processes the
    /// records since the last commit again and their outputs may appear
    /// twice; none is lost. Stores, changelogs and dead letters work as
    /// under exactly-once; a second instance with the same id is no longer
    /// fenced by a transactional id (static membership still fences it).
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::{Config, Guarantee};
    ///
    /// let config = Config::builder().guarantee(Guarantee::AtLeastOnce).build()?;
    /// assert_eq!(config.guarantee(), Guarantee::AtLeastOnce);
    /// let from_env = Config::from_env_iter([("MESHKIT_PROCESSING_GUARANTEE", "at_least_once")])?;
    /// assert_eq!(from_env.guarantee(), Guarantee::AtLeastOnce);
    /// # Ok::<(), meshkit::ConfigError>(())
    /// ```
    pub fn guarantee(mut self, guarantee: Guarantee) -> Self {
        self.config.guarantee = guarantee;
        self
    }

    /// How long start-up may wait for the brokers (default 30 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.config.kafka.startup_timeout = timeout;
        self
    }

    /// The Kafka transaction timeout (default 10 s): how long the broker
    /// waits before aborting the open transaction of an instance that died.
    pub fn transaction_timeout(mut self, timeout: Duration) -> Self {
        self.config.kafka.transaction_timeout = timeout;
        self
    }

    /// Uses the Confluent-compatible schema registry at `url` instead of the
    /// embedded one.
    pub fn schema_registry_url(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return self.fail(invalid(
                "schema_registry_url",
                "MESHKIT_SCHEMA_REGISTRY_URL",
                &url,
                "expected an http:// or https:// URL",
            ));
        }
        self.config.schema_registry_url = Some(url);
        self
    }

    /// Authenticates to the schema registry with HTTP basic auth.
    pub fn schema_registry_basic_auth(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.config.schema_registry_auth = Some((user.into(), Secret(password.into())));
        self
    }

    /// Trusts the CA certificates in this PEM file for an `https` registry.
    pub fn schema_registry_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.schema_registry_ca_file = Some(path.into());
        self
    }

    /// The compacted topic the embedded registry keeps its schemas in (default `_schemas`).
    pub fn schema_topic(mut self, topic: impl Into<String>) -> Self {
        let topic = topic.into();
        if let Err(reason) = crate::kafka::check_topic_name(&topic) {
            return self.fail(invalid("schema_topic", "MESHKIT_SCHEMA_TOPIC", &topic, reason));
        }
        self.config.schema_topic = topic;
        self
    }

    /// Serves the embedded registry's Confluent REST API on this address, so
    /// that clients in other languages can use it.
    pub fn schema_registry_listen(mut self, addr: SocketAddr) -> Self {
        self.config.schema_registry_listen = Some(addr);
        self
    }

    /// Whether output schemas are registered at start (default `true`); when
    /// off, they must already be registered.
    pub fn auto_register_schemas(mut self, on: bool) -> Self {
        self.config.auto_register_schemas = on;
        self
    }

    /// How ports name their registry subjects (default: topic name).
    pub fn subject_name_strategy(mut self, strategy: SubjectNameStrategy) -> Self {
        self.config.subject_name_strategy = strategy;
        self
    }

    /// The largest input record (key and value bytes) decoded (default 1 MiB).
    pub fn max_record_bytes(mut self, bytes: usize) -> Self {
        if bytes < 5 {
            return self.fail(invalid(
                "max_record_bytes",
                "MESHKIT_MAX_RECORD_BYTES",
                &bytes.to_string(),
                "must be at least 5 (the wire-format header)",
            ));
        }
        self.config.max_record_bytes = bytes;
        self
    }

    /// Passes a librdkafka property through (SASL, TLS, tuning). Checked by
    /// [`build`](ConfigBuilder::build).
    pub fn kafka_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.kafka.properties.insert(name.into(), value.into());
        self
    }

    /// Whether the product's descriptor is published to the catalog topic
    /// at start, kept fresh while it runs and marked stopped at a clean stop
    /// (default `true` when meshkit is built with its `catalog` feature, and
    /// only then possible).
    pub fn catalog(mut self, publish: bool) -> Self {
        self.config.catalog = publish;
        self
    }

    /// The compacted topic the catalog lives in (default `_meshkit.catalog`).
    pub fn catalog_topic(mut self, topic: impl Into<String>) -> Self {
        let topic = topic.into();
        if let Err(reason) = crate::kafka::check_topic_name(&topic) {
            return self.fail(invalid("catalog_topic", "MESHKIT_CATALOG_TOPIC", &topic, reason));
        }
        self.config.catalog_topic = topic;
        self
    }

    /// How often a running instance republishes its catalog entry and sends
    /// an OpenLineage `RUNNING` event (default 30 s; at least 100 ms).
    pub fn catalog_heartbeat(mut self, every: Duration) -> Self {
        if every < Duration::from_millis(100) {
            return self.fail(invalid(
                "catalog_heartbeat",
                "MESHKIT_CATALOG_HEARTBEAT_MS",
                &every.as_millis().to_string(),
                "must be at least 100 ms",
            ));
        }
        self.config.catalog_heartbeat = every;
        self
    }

    /// Posts OpenLineage run events (START, RUNNING, COMPLETE or FAIL) to
    /// this `http(s)` endpoint, e.g. `http://marquez:5000/api/v1/lineage`.
    pub fn openlineage_url(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return self.fail(invalid(
                "openlineage_url",
                "MESHKIT_OPENLINEAGE_URL",
                &url,
                "expected an http:// or https:// URL",
            ));
        }
        self.config.openlineage_url = Some(url);
        self
    }

    /// The OpenLineage job namespace (default `meshkit`).
    pub fn openlineage_namespace(mut self, namespace: impl Into<String>) -> Self {
        let namespace = namespace.into();
        if namespace.trim().is_empty() {
            return self.fail(invalid(
                "openlineage_namespace",
                "MESHKIT_OPENLINEAGE_NAMESPACE",
                &namespace,
                "must not be empty",
            ));
        }
        self.config.openlineage_namespace = namespace;
        self
    }

    /// A bearer token for the OpenLineage endpoint.
    pub fn openlineage_api_key(mut self, key: impl Into<String>) -> Self {
        self.config.openlineage_api_key = Some(Secret(key.into()));
        self
    }

    /// Overlays `MESHKIT_*` variables from `vars` on the builder's settings.
    pub fn env_iter<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        for (key, value) in vars {
            self = self.env_var(key.as_ref(), value.as_ref());
        }
        self
    }

    /// Overlays the process's `MESHKIT_*` environment variables.
    pub fn env(self) -> Self {
        self.env_iter(std::env::vars())
    }

    fn env_var(self, key: &str, value: &str) -> Self {
        fn millis(value: &str) -> Result<Duration, String> {
            value
                .trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|e| format!("expected a whole number of milliseconds ({e})"))
        }
        fn number<T: std::str::FromStr>(value: &str) -> Result<T, String>
        where
            T::Err: std::fmt::Display,
        {
            value
                .trim()
                .parse::<T>()
                .map_err(|e| format!("expected a whole number ({e})"))
        }
        fn boolean(value: &str) -> Result<bool, String> {
            match value.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err("expected true or false".into()),
            }
        }
        macro_rules! parsed {
            ($setting:literal, $parse:expr, $apply:expr) => {
                match $parse(value) {
                    Ok(v) => $apply(self, v),
                    Err(reason) => self.fail(invalid($setting, key, value, reason)),
                }
            };
        }
        match key {
            "MESHKIT_BROKERS" => self.brokers(value),
            "MESHKIT_APPLICATION_ID" => self.application_id(value),
            "MESHKIT_INSTANCE_ID" => self.instance_id(value),
            "MESHKIT_STATE_DIR" => self.state_dir(value),
            "MESHKIT_DEAD_LETTER_TOPIC" => self.dead_letter_topic(value),
            "MESHKIT_COMMIT_INTERVAL_MS" => parsed!("commit_interval", millis, Self::commit_interval),
            "MESHKIT_STARTUP_TIMEOUT_MS" => parsed!("startup_timeout", millis, Self::startup_timeout),
            "MESHKIT_TRANSACTION_TIMEOUT_MS" => {
                parsed!("transaction_timeout", millis, Self::transaction_timeout)
            }
            "MESHKIT_COMMIT_RECORDS" => parsed!("commit_records", number::<usize>, Self::commit_records),
            "MESHKIT_PROCESSING_THREADS" => {
                parsed!("processing_threads", number::<usize>, Self::processing_threads)
            }
            "MESHKIT_TOPIC_PARTITIONS" => parsed!("topic_partitions", number::<i32>, Self::topic_partitions),
            "MESHKIT_REPLICATION_FACTOR" => {
                parsed!("replication_factor", number::<i32>, Self::replication_factor)
            }
            "MESHKIT_METRICS" => parsed!("metrics", boolean, Self::metrics),
            "MESHKIT_TRACE_SAMPLE_EVERY" => {
                parsed!("trace_sample_every", number::<u32>, Self::trace_sample_every)
            }
            "MESHKIT_AUTO_CREATE_TOPICS" => parsed!("auto_create_topics", boolean, Self::auto_create_topics),
            "MESHKIT_METRICS_ADDR" => parsed!(
                "metrics_addr",
                |v: &str| v
                    .trim()
                    .parse::<SocketAddr>()
                    .map_err(|e| format!("expected host:port ({e})")),
                Self::metrics_addr
            ),
            "MESHKIT_SCHEMA_REGISTRY_URL" => self.schema_registry_url(value),
            "MESHKIT_SCHEMA_REGISTRY_CA_FILE" => self.schema_registry_ca_file(value),
            "MESHKIT_SCHEMA_TOPIC" => self.schema_topic(value),
            "MESHKIT_SCHEMA_REGISTRY_BASIC_AUTH" => match value.split_once(':') {
                Some((user, password)) => self.schema_registry_basic_auth(user, password),
                None => self.fail(invalid(
                    "schema_registry_basic_auth",
                    key,
                    "<hidden>",
                    "expected user:password",
                )),
            },
            "MESHKIT_SCHEMA_REGISTRY_LISTEN" => parsed!(
                "schema_registry_listen",
                |v: &str| v
                    .trim()
                    .parse::<SocketAddr>()
                    .map_err(|e| format!("expected host:port ({e})")),
                Self::schema_registry_listen
            ),
            "MESHKIT_AUTO_REGISTER_SCHEMAS" => {
                parsed!("auto_register_schemas", boolean, Self::auto_register_schemas)
            }
            "MESHKIT_SUBJECT_NAME_STRATEGY" => parsed!(
                "subject_name_strategy",
                |v: &str| v.trim().parse::<SubjectNameStrategy>(),
                Self::subject_name_strategy
            ),
            "MESHKIT_MAX_RECORD_BYTES" => {
                parsed!("max_record_bytes", number::<usize>, Self::max_record_bytes)
            }
            "MESHKIT_CATALOG" => parsed!("catalog", boolean, Self::catalog),
            "MESHKIT_STATIC_MEMBERSHIP" => parsed!("static_membership", boolean, Self::static_membership),
            "MESHKIT_CATALOG_TOPIC" => self.catalog_topic(value),
            "MESHKIT_CATALOG_HEARTBEAT_MS" => parsed!("catalog_heartbeat", millis, Self::catalog_heartbeat),
            "MESHKIT_OPENLINEAGE_URL" => self.openlineage_url(value.trim()),
            "MESHKIT_OPENLINEAGE_NAMESPACE" => self.openlineage_namespace(value),
            "MESHKIT_OPENLINEAGE_API_KEY" => self.openlineage_api_key(value),
            "MESHKIT_ERROR_POLICY" => parsed!(
                "error_policy",
                |v: &str| v.parse::<ErrorPolicy>(),
                Self::error_policy
            ),
            "MESHKIT_PROCESSING_GUARANTEE" => {
                parsed!("guarantee", |v: &str| v.parse::<Guarantee>(), Self::guarantee)
            }
            other => match other.strip_prefix("MESHKIT_KAFKA_") {
                Some(name) if !name.is_empty() => {
                    self.kafka_property(name.to_ascii_lowercase().replace('_', "."), value)
                }
                // Unknown MESHKIT_ variables are most likely typos: say so.
                // Variables of meshkit's own scripts and tests are not settings.
                _ if other.starts_with("MESHKIT_TEST")
                    || ["MESHKIT_CACHE", "MESHKIT_BROKER_PORT"].contains(&other) =>
                {
                    self
                }
                _ if other.starts_with("MESHKIT_") => self.fail(ConfigError::InvalidValue {
                    setting: "environment",
                    env: other.to_string(),
                    value: value.to_string(),
                    reason: "unknown meshkit setting; see meshkit::Config for the list".into(),
                }),
                _ => self,
            },
        }
    }

    /// Checks every setting and builds the [`Config`].
    ///
    /// # Errors
    ///
    /// The first bad setting, as a [`ConfigError`] that names it; this includes
    /// Kafka properties librdkafka does not know or whose value it rejects.
    pub fn build(self) -> Result<Config, ConfigError> {
        if let Some(err) = self.error {
            return Err(err);
        }
        let config = self.config;
        let mut probe = rdkafka::ClientConfig::new();
        for (name, value) in &config.kafka.properties {
            if RESERVED_PROPERTIES.contains(&name.as_str()) {
                return Err(ConfigError::ReservedKafkaProperty {
                    property: name.clone(),
                });
            }
            if let Some(reason) = unsupported_group_protocol(name, value) {
                return Err(ConfigError::InvalidKafkaProperty {
                    property: name.clone(),
                    value: value.clone(),
                    reason: reason.to_string(),
                });
            }
            probe.set(name, value);
            // librdkafka checks names and values when the native config is made.
            if let Err(err) = probe.create_native_config() {
                let reason = match &err {
                    rdkafka::error::KafkaError::ClientConfig(_, desc, _, _) => desc.clone(),
                    other => other.to_string(),
                };
                return Err(ConfigError::InvalidKafkaProperty {
                    property: name.clone(),
                    value: value.clone(),
                    reason,
                });
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_defaults() {
        let config = Config::from_env_iter([
            ("MESHKIT_BROKERS", "a:1,b:2"),
            ("MESHKIT_COMMIT_INTERVAL_MS", "250"),
            ("MESHKIT_COMMIT_RECORDS", "500"),
            ("MESHKIT_AUTO_CREATE_TOPICS", "false"),
            ("MESHKIT_ERROR_POLICY", "retry:3"),
            ("MESHKIT_KAFKA_SOCKET_TIMEOUT_MS", "5000"),
            ("PATH", "/usr/bin"),
        ])
        .expect("valid settings");
        assert_eq!(config.brokers(), Some("a:1,b:2"));
        assert_eq!(config.commit_interval(), Duration::from_millis(250));
        assert_eq!(config.commit_records(), 500);
        assert!(!config.auto_create_topics());
        assert_eq!(config.error_policy(), &ErrorPolicy::Retry { attempts: 3 });
        assert_eq!(
            config
                .kafka_properties()
                .get("socket.timeout.ms")
                .map(String::as_str),
            Some("5000")
        );
    }

    #[test]
    fn catalog_and_lineage_settings_read_from_env_and_are_checked() {
        let config = Config::from_env_iter([
            ("MESHKIT_CATALOG", "off"),
            ("MESHKIT_CATALOG_TOPIC", "governance.catalog"),
            ("MESHKIT_CATALOG_HEARTBEAT_MS", "250"),
            ("MESHKIT_OPENLINEAGE_URL", "http://127.0.0.1:5000/api/v1/lineage"),
            ("MESHKIT_OPENLINEAGE_NAMESPACE", "prod"),
            ("MESHKIT_OPENLINEAGE_API_KEY", "s3cret"),
        ])
        .expect("valid settings");
        assert!(!config.catalog());
        assert_eq!(config.catalog_topic(), "governance.catalog");
        assert_eq!(config.catalog_heartbeat(), Duration::from_millis(250));
        assert_eq!(
            config.openlineage_url(),
            Some("http://127.0.0.1:5000/api/v1/lineage")
        );
        assert_eq!(config.openlineage_namespace(), "prod");
        assert!(
            !format!("{config:?}").contains("s3cret"),
            "the API key must not be logged"
        );

        let defaults = Config::default();
        assert_eq!(
            defaults.catalog(),
            cfg!(feature = "catalog"),
            "on where it can be"
        );
        assert_eq!(defaults.catalog_topic(), "_meshkit.catalog");
        assert_eq!(defaults.openlineage_url(), None);

        for (key, value, setting) in [
            ("MESHKIT_OPENLINEAGE_URL", "marquez:5000", "openlineage_url"),
            ("MESHKIT_CATALOG_HEARTBEAT_MS", "10", "catalog_heartbeat"),
            ("MESHKIT_CATALOG_TOPIC", "bad topic", "catalog_topic"),
            ("MESHKIT_CATALOG", "maybe", "catalog"),
        ] {
            let err = Config::from_env_iter([(key, value)]).unwrap_err();
            assert!(
                matches!(&err, ConfigError::InvalidValue { setting: s, .. } if *s == setting),
                "{key}={value}: {err}"
            );
        }
    }

    #[test]
    fn processing_threads_default_to_one_and_zero_is_refused() {
        assert_eq!(Config::default().processing_threads(), 1);
        let config = Config::from_env_iter([("MESHKIT_PROCESSING_THREADS", "3")]).expect("valid");
        assert_eq!(config.processing_threads(), 3);
        let built = Config::builder().processing_threads(2).build().expect("valid");
        assert_eq!(built.processing_threads(), 2);
        for (value, reason) in [("0", "at least 1"), ("two", ""), ("-1", "")] {
            let err = Config::from_env_iter([("MESHKIT_PROCESSING_THREADS", value)]).unwrap_err();
            assert!(
                matches!(
                    &err,
                    ConfigError::InvalidValue { setting: "processing_threads", env, .. }
                        if env == "MESHKIT_PROCESSING_THREADS"
                ),
                "{value}: {err:?}"
            );
            assert!(err.to_string().contains(reason), "{value}: {err}");
        }
        let err = Config::builder().processing_threads(0).build().unwrap_err();
        assert!(
            matches!(
                &err,
                ConfigError::InvalidValue {
                    setting: "processing_threads",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn bad_values_name_their_setting() {
        let err = Config::from_env_iter([("MESHKIT_COMMIT_RECORDS", "many")]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("commit_records") && text.contains("MESHKIT_COMMIT_RECORDS"),
            "{text}"
        );

        let err = Config::from_env_iter([("MESHKIT_COMMIT_INTERVALL_MS", "5")]).unwrap_err();
        assert!(err.to_string().contains("MESHKIT_COMMIT_INTERVALL_MS"), "{err}");
    }

    #[test]
    fn metrics_are_on_by_default_and_switched_off_by_env_or_builder() {
        let config = Config::from_env_iter([("PATH", "/usr/bin")]).expect("defaults");
        assert!(config.metrics());
        assert_eq!(config.trace_sample_every(), 100);
        let config =
            Config::from_env_iter([("MESHKIT_METRICS", "false"), ("MESHKIT_TRACE_SAMPLE_EVERY", "0")])
                .expect("valid settings");
        assert!(!config.metrics());
        assert_eq!(config.trace_sample_every(), 0);
        assert!(Config::from_env_iter([("MESHKIT_METRICS", "on")])
            .expect("valid")
            .metrics());
        assert!(!Config::builder().metrics(false).build().expect("valid").metrics());

        let err = Config::from_env_iter([("MESHKIT_METRICS", "sometimes")]).unwrap_err();
        assert!(
            matches!(&err, ConfigError::InvalidValue { setting: "metrics", env, .. } if env == "MESHKIT_METRICS"),
            "{err}"
        );
        let err = Config::from_env_iter([("MESHKIT_TRACE_SAMPLE_EVERY", "-1")]).unwrap_err();
        assert!(
            matches!(
                &err,
                ConfigError::InvalidValue {
                    setting: "trace_sample_every",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn the_processing_guarantee_defaults_to_exactly_once_and_reads_from_env() {
        assert_eq!(Config::default().guarantee(), Guarantee::ExactlyOnce);
        let defaults = Config::from_env_iter([("PATH", "/usr/bin")]).expect("defaults");
        assert_eq!(defaults.guarantee(), Guarantee::ExactlyOnce);
        for (value, expected) in [
            ("exactly_once", Guarantee::ExactlyOnce),
            ("at_least_once", Guarantee::AtLeastOnce),
            (" AT_LEAST_ONCE ", Guarantee::AtLeastOnce),
        ] {
            let config = Config::from_env_iter([("MESHKIT_PROCESSING_GUARANTEE", value)])
                .unwrap_or_else(|e| panic!("{value}: {e}"));
            assert_eq!(config.guarantee(), expected, "{value}");
        }
        let built = Config::builder()
            .guarantee(Guarantee::AtLeastOnce)
            .build()
            .expect("valid");
        assert_eq!(built.guarantee(), Guarantee::AtLeastOnce);
    }

    #[test]
    fn a_bad_processing_guarantee_names_the_setting_and_the_valid_values() {
        for value in ["exactly-once", "at_most_once", ""] {
            let err = Config::from_env_iter([("MESHKIT_PROCESSING_GUARANTEE", value)]).unwrap_err();
            assert!(
                matches!(
                    &err,
                    ConfigError::InvalidValue { setting: "guarantee", env, value: v, .. }
                        if env == "MESHKIT_PROCESSING_GUARANTEE" && v == value
                ),
                "{value}: {err:?}"
            );
            let text = err.to_string();
            assert!(
                text.contains("exactly_once") && text.contains("at_least_once"),
                "the valid values are listed: {text}"
            );
        }
    }

    #[test]
    fn unknown_kafka_property_is_refused() {
        let err = Config::builder()
            .kafka_property("no.such.property", "1")
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, ConfigError::InvalidKafkaProperty { property, .. } if property == "no.such.property")
        );
        let err = Config::builder()
            .kafka_property("socket.timeout.ms", "soon")
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, ConfigError::InvalidKafkaProperty { property, .. } if property == "socket.timeout.ms")
        );
    }

    #[test]
    fn incremental_assignment_and_the_consumer_group_protocol_are_refused() {
        for (property, value) in [
            ("partition.assignment.strategy", "cooperative-sticky"),
            ("group.protocol", "consumer"),
        ] {
            let err = Config::builder()
                .kafka_property(property, value)
                .build()
                .unwrap_err();
            assert!(
                matches!(&err, ConfigError::InvalidKafkaProperty { property: p, .. } if p == property),
                "{err:?}"
            );
            assert!(err.to_string().contains("not supported"), "{err}");
        }
        for (property, value) in [
            ("partition.assignment.strategy", "roundrobin"),
            ("group.protocol", "classic"),
        ] {
            Config::builder()
                .kafka_property(property, value)
                .build()
                .unwrap_or_else(|e| panic!("{property}={value}: {e}"));
        }
    }

    #[test]
    fn reserved_kafka_property_is_refused() {
        let err = Config::builder()
            .kafka_property("isolation.level", "read_uncommitted")
            .build()
            .unwrap_err();
        assert_eq!(
            err,
            ConfigError::ReservedKafkaProperty {
                property: "isolation.level".into()
            }
        );
    }
}
