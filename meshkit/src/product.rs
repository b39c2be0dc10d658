//! What a data product is: its descriptor (identity, ports and stores). The
//! [`DataProduct`](crate::DataProduct) trait through which the runtime drives
//! its transform is in the runtime's layer, beside the context it is handed.
//!
//! Everything here can be written by hand; the `meshkit-macros` DSL only
//! generates these same items.

use serde::Serialize;

use crate::error::DescriptorError;
use crate::kafka::check_topic_name;
#[cfg(feature = "avro")]
use crate::schema::{AvroType, PortSchema};

/// Who a data product is: the identity it is published and discovered under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProductIdentity {
    /// The business domain that owns the product, e.g. `sales`.
    pub domain: String,
    /// The product's name, unique within its domain, e.g. `orders-enriched`.
    pub name: String,
    /// The product's semantic version.
    pub version: semver::Version,
    /// The accountable owner (team or person), e.g. `team-sales@example.com`.
    pub owner: String,
    /// What the product offers, for people browsing the catalog.
    pub description: String,
    /// Catalog tags, in declaration order, e.g. `["sales", "tier-1"]`.
    pub tags: Vec<String>,
    /// The service level objectives the product declares.
    pub slo: Slo,
}

/// Service level objectives a product declares: metadata, published with
/// its descriptor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Slo {
    /// How old an output may be, from its input record's timestamp to its commit.
    pub freshness: Option<std::time::Duration>,
    /// How long processing one record may take, from being consumed to its
    /// outputs being committed.
    pub latency: Option<std::time::Duration>,
}

impl ProductIdentity {
    /// The default Kafka application id: `domain.name`, used as the consumer
    /// group and the prefix of the transactional id.
    pub fn default_application_id(&self) -> String {
        format!("{}.{}", self.domain, self.name)
    }
}

/// How an input port's records are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PortKind {
    /// Every record is an event.
    #[default]
    Stream,
    /// A changelog: each record is the latest value of its key, a record
    /// without a value (a tombstone) deletes it. The stream operators
    /// materialize it per task (`meshkit::ops::Topology::table`); it is
    /// co-partitioned with the other inputs.
    Table,
    /// A table read in full by every instance, whatever tasks it owns, and
    /// before it processes its first record; kept up to date as its topic
    /// changes. For reference data: no co-partitioning needed. Not in the
    /// consumer group: its offsets are never committed, and each start
    /// reads it again.
    GlobalTable,
}

/// A named input: a Kafka topic the product consumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct InputPort {
    /// The port's name within the product, e.g. `orders`.
    pub name: String,
    /// The topic it reads.
    pub topic: String,
    /// A stream of events, or a table.
    pub kind: PortKind,
    /// The Avro type its records carry, if the runtime enforces one; `None`
    /// for a port of raw bytes.
    #[cfg(feature = "avro")]
    #[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
    pub schema: Option<PortSchema>,
}

/// A named output: a Kafka topic the product writes, and others consume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OutputPort {
    /// The port's name within the product, e.g. `enriched`.
    pub name: String,
    /// The topic it writes.
    pub topic: String,
    /// The Avro type its records carry, registered at start; `None` for a
    /// port of raw bytes.
    #[cfg(feature = "avro")]
    #[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
    pub schema: Option<PortSchema>,
}

/// A state store the product's transform keeps: one logical store per name
/// and input partition, backed by a changelog topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StoreDescriptor {
    /// The store's name, e.g. `spend`.
    pub name: String,
    /// For a windowed store, its windows.
    pub window: Option<crate::window::Windows>,
    /// For a key-value store whose entries expire, their time to live.
    pub ttl: Option<crate::timer::Ttl>,
    /// The Avro type of its values, for a store whose values can evolve:
    /// they are kept in the Confluent wire format, the schema registered
    /// under its changelog's value subject, and read with the schema they
    /// were written with. `None`: a compact encoding that cannot evolve.
    #[cfg(feature = "avro")]
    #[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
    pub values: Option<PortSchema>,
}

impl StoreDescriptor {
    /// Key-value store `name`, its values in a compact encoding, never
    /// expiring; declared with [`DescriptorBuilder::store_with`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use meshkit::{Clock, ProductDescriptor, StoreDescriptor, Ttl};
    ///
    /// #[derive(apache_avro::AvroSchema, serde::Serialize, serde::Deserialize)]
    /// struct Spend {
    ///     total_cents: i64,
    ///     #[avro(default = "0")]
    ///     #[serde(default)]
    ///     orders: i64,
    /// }
    ///
    /// let descriptor = ProductDescriptor::builder("sales", "spend")
    ///     .version("1.0.0")
    ///     .owner("team-sales")
    ///     .input("orders", "sales.orders")
    ///     .output("totals", "sales.spend")
    ///     .store_with(
    ///         StoreDescriptor::new("spend")
    ///             .avro_values::<Spend>()
    ///             .ttl(Ttl::new(Clock::Wall, Duration::from_secs(86_400))),
    ///     )
    ///     .build()?;
    /// assert!(descriptor.stores[0].values.is_some());
    /// # Ok::<(), meshkit::DescriptorError>(())
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            window: None,
            ttl: None,
            #[cfg(feature = "avro")]
            values: None,
        }
    }

    /// Its entries expire `ttl` after their last write.
    pub fn ttl(mut self, ttl: crate::timer::Ttl) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Its values are `V`, kept with their Avro schema so that `V` can
    /// evolve (see [`values`](Self::values)).
    #[cfg(feature = "avro")]
    #[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
    pub fn avro_values<V: AvroType>(mut self) -> Self {
        self.values = Some(PortSchema::avro::<V>());
        self
    }
}

/// Why a store's declaration mixes what does not go together, if it does.
fn check_store_kind(store: &StoreDescriptor) -> Result<(), &'static str> {
    if store.window.is_some() && store.ttl.is_some() {
        return Err(
            "a windowed store's entries go with their windows: a time to live is for key-value stores",
        );
    }
    #[cfg(feature = "avro")]
    if let Some(values) = &store.values {
        if store.window.is_some() {
            return Err("a windowed store's values cannot declare an Avro type yet");
        }
        if values.key_codec().is_some() {
            return Err("a store's value schema has no key part: store keys keep their ordered encoding");
        }
    }
    Ok(())
}

/// A data product's full declaration: identity, input ports, output ports
/// and state stores.
///
/// Built with [`ProductDescriptor::builder`], which checks it.
///
/// # Examples
///
/// ```
/// use meshkit::ProductDescriptor;
///
/// let descriptor = ProductDescriptor::builder("sales", "orders-enriched")
///     .version("1.2.0")
///     .owner("team-sales@example.com")
///     .description("Orders with their price band")
///     .input("orders", "sales.orders")
///     .output("enriched", "sales.orders.enriched")
///     .build()?;
/// assert_eq!(descriptor.identity.default_application_id(), "sales.orders-enriched");
/// assert_eq!(descriptor.output("enriched").unwrap().topic, "sales.orders.enriched");
/// # Ok::<(), meshkit::DescriptorError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProductDescriptor {
    /// Who the product is.
    pub identity: ProductIdentity,
    /// What it reads.
    pub inputs: Vec<InputPort>,
    /// What it writes.
    pub outputs: Vec<OutputPort>,
    /// The state stores it keeps.
    pub stores: Vec<StoreDescriptor>,
    /// The timers it declares.
    pub timers: Vec<crate::timer::TimerDescriptor>,
    /// The repartition topics it writes and reads back, by name: how records
    /// re-keyed by another key reach the task that owns that key (see
    /// [`DescriptorBuilder::repartition`]).
    pub repartitions: Vec<String>,
}

/// The suffix of a repartition's topic and internal port names.
const REPARTITION_SUFFIX: &str = "-repartition";

/// The topic of repartition `name` for `application_id`:
/// `<application id>-<name>-repartition`, as Kafka Streams names its own.
///
/// # Examples
///
/// ```
/// assert_eq!(meshkit::repartition_topic("sales.stats", "by-region"), "sales.stats-by-region-repartition");
/// ```
pub fn repartition_topic(application_id: &str, name: &str) -> String {
    format!("{application_id}-{name}{REPARTITION_SUFFIX}")
}

/// The internal port (input and output) through which repartition `name`
/// is written and read: `<name>-repartition`.
///
/// # Examples
///
/// ```
/// assert_eq!(meshkit::repartition_port("by-region"), "by-region-repartition");
/// ```
pub fn repartition_port(name: &str) -> String {
    format!("{name}{REPARTITION_SUFFIX}")
}

impl ProductDescriptor {
    /// Starts a descriptor for product `name` in `domain`.
    pub fn builder(domain: impl Into<String>, name: impl Into<String>) -> DescriptorBuilder {
        DescriptorBuilder {
            domain: domain.into(),
            name: name.into(),
            version: String::new(),
            owner: String::new(),
            description: String::new(),
            tags: Vec::new(),
            slo: Slo::default(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            stores: Vec::new(),
            timers: Vec::new(),
            repartitions: Vec::new(),
        }
    }

    /// This descriptor with each repartition's internal ports added, an
    /// input and an output both named [`repartition_port`] on its topic
    /// ([`repartition_topic`] for `application_id`): what the runtime
    /// subscribes to and produces to. The declared ports come first, in
    /// their order.
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::ProductDescriptor;
    ///
    /// let descriptor = ProductDescriptor::builder("web", "views")
    ///     .version("1.0.0")
    ///     .owner("team-web")
    ///     .input("views", "web.views")
    ///     .output("per-url", "web.views-per-url")
    ///     .store("per-url")
    ///     .repartition("per-url")
    ///     .build()?;
    /// let running = descriptor.with_internal_ports("web.views");
    /// assert_eq!(running.inputs[1].name, "per-url-repartition");
    /// assert_eq!(running.inputs[1].topic, "web.views-per-url-repartition");
    /// assert_eq!(running.outputs[1].topic, running.inputs[1].topic);
    /// # Ok::<(), meshkit::DescriptorError>(())
    /// ```
    pub fn with_internal_ports(&self, application_id: &str) -> ProductDescriptor {
        let mut running = self.clone();
        for name in &self.repartitions {
            let (port, topic) = (repartition_port(name), repartition_topic(application_id, name));
            if self.input(&port).is_some() {
                continue;
            }
            running.inputs.push(InputPort {
                name: port.clone(),
                topic: topic.clone(),
                kind: PortKind::Stream,
                #[cfg(feature = "avro")]
                schema: None,
            });
            running.outputs.push(OutputPort {
                name: port,
                topic,
                #[cfg(feature = "avro")]
                schema: None,
            });
        }
        running
    }

    /// Whether input or output port `port` is a repartition's internal one
    /// (in a descriptor [`with_internal_ports`](Self::with_internal_ports)).
    pub fn is_internal_port(&self, port: &str) -> bool {
        port.strip_suffix(REPARTITION_SUFFIX)
            .is_some_and(|name| self.repartitions.iter().any(|r| r == name))
    }

    /// The input port named `name`, if declared.
    pub fn input(&self, name: &str) -> Option<&InputPort> {
        self.inputs.iter().find(|p| p.name == name)
    }

    /// The output port named `name`, if declared.
    pub fn output(&self, name: &str) -> Option<&OutputPort> {
        self.outputs.iter().find(|p| p.name == name)
    }

    /// The input ports whose partitions make the tasks: all but global
    /// tables, which every instance reads whole.
    pub fn task_inputs(&self) -> impl Iterator<Item = &InputPort> {
        self.inputs.iter().filter(|p| p.kind != PortKind::GlobalTable)
    }

    /// The topics of the table and global table ports, where a record
    /// without a value is a tombstone.
    #[cfg(feature = "avro")]
    pub(crate) fn table_topics(&self) -> impl Iterator<Item = String> + '_ {
        (self.inputs.iter())
            .filter(|p| p.kind != PortKind::Stream)
            .map(|p| p.topic.clone())
    }

    /// The input port that reads `topic`, if any.
    pub fn input_for_topic(&self, topic: &str) -> Option<&InputPort> {
        self.inputs.iter().find(|p| p.topic == topic)
    }

    /// Checks the rules every descriptor must keep (also run by the builder).
    ///
    /// # Errors
    ///
    /// The first rule broken, as a [`DescriptorError`].
    pub fn validate(&self) -> Result<(), DescriptorError> {
        for (field, value) in [
            ("domain", &self.identity.domain),
            ("name", &self.identity.name),
            ("owner", &self.identity.owner),
        ] {
            if value.trim().is_empty() {
                return Err(DescriptorError::MissingField { field });
            }
        }
        if self.inputs.is_empty() {
            return Err(DescriptorError::NoInputPorts);
        }
        if self.outputs.is_empty() {
            return Err(DescriptorError::NoOutputPorts);
        }
        let mut names = std::collections::HashSet::new();
        let ports = self
            .inputs
            .iter()
            .map(|p| (&p.name, &p.topic))
            .chain(self.outputs.iter().map(|p| (&p.name, &p.topic)));
        for (name, topic) in ports {
            if !names.insert(name.as_str()) {
                return Err(DescriptorError::DuplicatePort { name: name.clone() });
            }
            if let Err(reason) = check_topic_name(topic) {
                return Err(DescriptorError::InvalidTopic {
                    port: name.clone(),
                    topic: topic.clone(),
                    reason,
                });
            }
        }
        let mut stores = std::collections::HashSet::new();
        for store in &self.stores {
            if !stores.insert(store.name.as_str()) {
                return Err(DescriptorError::DuplicateStore {
                    name: store.name.clone(),
                });
            }
            if let Err(reason) = check_topic_name(&store.name)
                .and(store.window.map_or(Ok(()), |w| w.check()))
                .and(store.ttl.map_or(Ok(()), |t| t.check()))
                .and(check_store_kind(store))
            {
                return Err(DescriptorError::InvalidStore {
                    name: store.name.clone(),
                    reason,
                });
            }
        }
        // A store's index is a byte of its keys, the high bit marking its
        // expiry index (see the stores' manager).
        if self.stores.len() > 127 {
            return Err(DescriptorError::InvalidStore {
                name: self.stores[127].name.clone(),
                reason: "a product keeps at most 127 stores",
            });
        }
        let mut timers = std::collections::HashSet::new();
        for timer in &self.timers {
            let reason = if timer.name.trim().is_empty() {
                Some("a timer needs a name")
            } else if !timers.insert(timer.name.as_str()) {
                Some("two timers have this name")
            } else {
                timer.check().err()
            };
            if let Some(reason) = reason {
                return Err(DescriptorError::InvalidTimer {
                    name: timer.name.clone(),
                    reason,
                });
            }
        }
        #[cfg(feature = "avro")]
        if let Some(port) = (self.inputs.iter())
            .find(|p| p.kind != PortKind::Stream && p.schema.as_ref().is_none_or(|s| s.key_codec().is_none()))
        {
            return Err(DescriptorError::UnkeyedTable {
                port: port.name.clone(),
            });
        }
        let mut repartitions = std::collections::HashSet::new();
        for name in &self.repartitions {
            let port = repartition_port(name);
            let reason = if !repartitions.insert(name.as_str()) {
                Some("two repartitions have this name")
            } else if names.contains(port.as_str())
                && !(self.input(&port)).is_some_and(|p| p.topic.ends_with(&format!("-{port}")))
            {
                Some("a port has its internal port's name")
            } else {
                check_topic_name(&port).err()
            };
            if let Some(reason) = reason {
                return Err(DescriptorError::InvalidStore {
                    name: name.clone(),
                    reason,
                });
            }
        }
        for output in &self.outputs {
            if let Some(input) = self.input_for_topic(&output.topic) {
                return Err(DescriptorError::OutputIsInput {
                    output: output.name.clone(),
                    input: input.name.clone(),
                    topic: output.topic.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Builds a [`ProductDescriptor`]; see there for an example.
#[derive(Debug, Clone)]
#[must_use]
pub struct DescriptorBuilder {
    domain: String,
    name: String,
    version: String,
    owner: String,
    description: String,
    tags: Vec<String>,
    slo: Slo,
    inputs: Vec<InputPort>,
    outputs: Vec<OutputPort>,
    stores: Vec<StoreDescriptor>,
    timers: Vec<crate::timer::TimerDescriptor>,
    repartitions: Vec<String>,
}

impl DescriptorBuilder {
    /// Adds a catalog tag (e.g. `tier-1`).
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Declares how old an output may be, at most, from its input's timestamp.
    pub fn freshness_slo(mut self, max_age: std::time::Duration) -> Self {
        self.slo.freshness = Some(max_age);
        self
    }

    /// Declares how long processing one record may take, at most.
    pub fn latency_slo(mut self, max_latency: std::time::Duration) -> Self {
        self.slo.latency = Some(max_latency);
        self
    }

    /// The semantic version, e.g. `1.2.0`.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// The accountable owner.
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self
    }

    /// A description for the catalog.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Declares input port `name` reading `topic`, of raw bytes.
    pub fn input(mut self, name: impl Into<String>, topic: impl Into<String>) -> Self {
        self.inputs.push(InputPort {
            name: name.into(),
            topic: topic.into(),
            kind: PortKind::Stream,
            #[cfg(feature = "avro")]
            schema: None,
        });
        self
    }

    /// Declares input port `name` reading `topic`, whose values are Avro
    /// records of type `V` in the Confluent wire format. The transform reads
    /// them with [`Record::value_as`]; what cannot be decoded as a `V` is
    /// dead-lettered before the transform sees it.
    #[cfg(feature = "avro")]
    #[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
    pub fn input_avro<V: AvroType>(self, name: impl Into<String>, topic: impl Into<String>) -> Self {
        self.input_with(name, topic, PortSchema::value::<V>())
    }

    /// Declares input port `name` reading `topic`, with the types in `schema`
    /// (e.g. a keyed port: `PortSchema::value::<V>().with_key::<K>()`).
    #[cfg(feature = "avro")]
    #[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
    pub fn input_with(self, name: impl Into<String>, topic: impl Into<String>, schema: PortSchema) -> Self {
        self.typed_input(name.into(), topic.into(), PortKind::Stream, schema)
    }

    /// Declares global table port `name` reading `topic` with the types in
    /// `schema`, which must be keyed: read in full by every instance before
    /// it processes a record, and kept up to date (see
    /// [`PortKind::GlobalTable`]); `meshkit::ops::Topology::global_table`
    /// keeps it in memory. Its topic may have any partition count.
    #[cfg(feature = "avro")]
    #[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
    pub fn global_table_with(
        self,
        name: impl Into<String>,
        topic: impl Into<String>,
        schema: PortSchema,
    ) -> Self {
        self.typed_input(name.into(), topic.into(), PortKind::GlobalTable, schema)
    }

    /// Declares table port `name` reading `topic` with the types in
    /// `schema`, which must be keyed: each record is the latest value of its
    /// key, a record without a value (a tombstone) deletes it, and such
    /// records are not dead-lettered. Read it with
    /// `meshkit::ops::Topology::table`, which keeps it in a store named
    /// after the port; its topic is co-partitioned with the other inputs.
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::{PortKind, ProductDescriptor};
    /// use meshkit::schema::PortSchema;
    ///
    /// #[derive(apache_avro::AvroSchema, serde::Serialize, serde::Deserialize)]
    /// struct Customer {
    ///     name: String,
    /// }
    ///
    /// let descriptor = ProductDescriptor::builder("sales", "orders-enriched")
    ///     .version("1.0.0")
    ///     .owner("team-sales")
    ///     .input("orders", "sales.orders")
    ///     .table_with("customers", "crm.customers", PortSchema::value::<Customer>().with_string_key())
    ///     .output("enriched", "sales.orders-enriched")
    ///     .build()?;
    /// assert_eq!(descriptor.inputs[1].kind, PortKind::Table);
    /// # Ok::<(), meshkit::DescriptorError>(())
    /// ```
    #[cfg(feature = "avro")]
    #[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
    pub fn table_with(self, name: impl Into<String>, topic: impl Into<String>, schema: PortSchema) -> Self {
        self.typed_input(name.into(), topic.into(), PortKind::Table, schema)
    }

    #[cfg(feature = "avro")]
    fn typed_input(mut self, name: String, topic: String, kind: PortKind, schema: PortSchema) -> Self {
        self.inputs.push(InputPort {
            name,
            topic,
            kind,
            schema: Some(schema),
        });
        self
    }

    /// Declares output port `name` writing `topic`, of raw bytes.
    pub fn output(mut self, name: impl Into<String>, topic: impl Into<String>) -> Self {
        self.outputs.push(OutputPort {
            name: name.into(),
            topic: topic.into(),
            #[cfg(feature = "avro")]
            schema: None,
        });
        self
    }

    /// Declares output port `name` writing `topic`, whose values are Avro
    /// records of type `V`, registered at start and emitted with
    /// [`Context::emit_value`].
    #[cfg(feature = "avro")]
    #[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
    pub fn output_avro<V: AvroType>(self, name: impl Into<String>, topic: impl Into<String>) -> Self {
        self.output_with(name, topic, PortSchema::value::<V>())
    }

    /// Declares output port `name` writing `topic`, with the types in `schema`.
    #[cfg(feature = "avro")]
    #[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
    pub fn output_with(
        mut self,
        name: impl Into<String>,
        topic: impl Into<String>,
        schema: PortSchema,
    ) -> Self {
        self.outputs.push(OutputPort {
            name: name.into(),
            topic: topic.into(),
            schema: Some(schema),
        });
        self
    }

    /// Declares state store `name` (reached with
    /// [`Context::store`](crate::Context::store)).
    pub fn store(mut self, name: impl Into<String>) -> Self {
        self.stores.push(StoreDescriptor::new(name));
        self
    }

    /// Declares a store as `store` describes it: its time to live, the
    /// type of its values.
    pub fn store_with(mut self, store: StoreDescriptor) -> Self {
        self.stores.push(store);
        self
    }

    /// Declares state store `name` whose entries expire `ttl` after their
    /// last write (see [`Ttl`](crate::Ttl)): expired entries read as absent,
    /// and are removed with a tombstone in the changelog.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use meshkit::{Clock, ProductDescriptor, Ttl};
    ///
    /// let descriptor = ProductDescriptor::builder("web", "sessions")
    ///     .version("1.0.0")
    ///     .owner("team-web")
    ///     .input("clicks", "web.clicks")
    ///     .output("visits", "web.visits")
    ///     .store_with_ttl("last-seen", Ttl::new(Clock::Stream, Duration::from_secs(1800)))
    ///     .build()?;
    /// assert_eq!(descriptor.stores[0].ttl.map(|t| t.after_ms()), Some(1_800_000));
    /// # Ok::<(), meshkit::DescriptorError>(())
    /// ```
    pub fn store_with_ttl(mut self, name: impl Into<String>, ttl: crate::timer::Ttl) -> Self {
        self.stores.push(StoreDescriptor::new(name).ttl(ttl));
        self
    }

    /// Declares windowed store `name` (reached with
    /// [`Context::window_store`](crate::Context::window_store)).
    pub fn window_store(mut self, name: impl Into<String>, windows: crate::window::Windows) -> Self {
        self.stores.push(StoreDescriptor {
            window: Some(windows),
            ..StoreDescriptor::new(name)
        });
        self
    }

    /// Declares repartition `name`: records written to its internal port
    /// ([`repartition_port`]) with a new key are read back by the task that
    /// owns that key, so that a store keyed by it is whole in one task. The runtime creates its topic ([`repartition_topic`]),
    /// as wide as the inputs, and writes and reads it inside the product's
    /// transactions. The stream operators declare their own.
    pub fn repartition(mut self, name: impl Into<String>) -> Self {
        self.repartitions.push(name.into());
        self
    }

    /// Declares timer `name`, on `clock`, every `every` (see
    /// [`TimerDescriptor`](crate::TimerDescriptor)): the runtime calls
    /// [`DataProduct::on_timer`](crate::DataProduct::on_timer) with it.
    pub fn timer(
        mut self,
        name: impl Into<String>,
        clock: crate::timer::Clock,
        every: std::time::Duration,
    ) -> Self {
        self.timers
            .push(crate::timer::TimerDescriptor::new(name, clock, every));
        self
    }

    /// Checks and builds the descriptor.
    ///
    /// # Errors
    ///
    /// A [`DescriptorError`] naming the first rule broken: an empty domain,
    /// name or owner, a version that is not semver, no input or output port,
    /// two ports with one name, an invalid topic name, or an output topic that
    /// is also an input.
    pub fn build(self) -> Result<ProductDescriptor, DescriptorError> {
        let version =
            semver::Version::parse(self.version.trim()).map_err(|e| DescriptorError::InvalidVersion {
                version: self.version.clone(),
                reason: e.to_string(),
            })?;
        let descriptor = ProductDescriptor {
            identity: ProductIdentity {
                domain: self.domain,
                name: self.name,
                version,
                owner: self.owner,
                description: self.description,
                tags: self.tags,
                slo: self.slo,
            },
            inputs: self.inputs,
            outputs: self.outputs,
            stores: self.stores,
            timers: self.timers,
            repartitions: self.repartitions,
        };
        descriptor.validate()?;
        Ok(descriptor)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::ProductDescriptor;

    /// A valid descriptor with one input, one output and one store
    /// (`totals`), for the unit tests of what a store needs.
    pub(crate) fn one_store() -> ProductDescriptor {
        ProductDescriptor::builder("sales", "totals")
            .version("1.0.0")
            .owner("team-sales")
            .input("orders", "sales.orders")
            .output("totals", "sales.totals")
            .store("totals")
            .build()
            .expect("descriptor")
    }
}
