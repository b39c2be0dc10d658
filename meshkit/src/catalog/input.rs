//! What the catalog is built from: plain mirrors of meshkit's
//! [`ProductDescriptor`] and of what the schema gate settled, so the rest of
//! the module works on plain data and its tests need no broker or registry.

use std::time::Duration;

use crate::product::ProductDescriptor;

/// A product's declaration as the catalog needs it: `ProductIdentity`, its
/// ports (with the registry's subject, id and version where known) and its
/// stores.
///
/// # Examples
///
/// ```
/// use meshkit::catalog::{DescriptorInput, PortInput};
///
/// let d = DescriptorInput::new("sales", "orders-enriched", "1.2.0", "team-sales@example.com")
///     .input(PortInput::new("orders", "sales.orders"))
///     .output(PortInput::new("enriched", "sales.orders.enriched"));
/// assert_eq!(d.key().to_string(), "sales/orders-enriched");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescriptorInput {
    /// The owning domain (`ProductIdentity::domain`).
    pub domain: String,
    /// The product's name within its domain.
    pub name: String,
    /// Its semantic version, as text.
    pub version: String,
    /// The accountable owner (team or person).
    pub owner: String,
    /// What the product offers.
    pub description: String,
    /// Catalog tags, in declaration order.
    pub tags: Vec<String>,
    /// `Slo::freshness`: how old an output may be.
    pub freshness_slo: Option<Duration>,
    /// `Slo::latency`: how long processing one record may take.
    pub latency_slo: Option<Duration>,
    /// The input ports.
    pub inputs: Vec<PortInput>,
    /// The output ports.
    pub outputs: Vec<PortInput>,
    /// The state stores.
    pub stores: Vec<StoreInput>,
}

impl DescriptorInput {
    /// A descriptor with identity only; add ports with [`input`](Self::input)
    /// and [`output`](Self::output).
    pub fn new(
        domain: impl Into<String>,
        name: impl Into<String>,
        version: impl Into<String>,
        owner: impl Into<String>,
    ) -> Self {
        Self {
            domain: domain.into(),
            name: name.into(),
            version: version.into(),
            owner: owner.into(),
            ..Self::default()
        }
    }

    /// Adds an input port.
    #[must_use]
    pub fn input(mut self, port: PortInput) -> Self {
        self.inputs.push(port);
        self
    }

    /// Adds an output port.
    #[must_use]
    pub fn output(mut self, port: PortInput) -> Self {
        self.outputs.push(port);
        self
    }

    /// The product's catalog key, `domain/name`.
    pub fn key(&self) -> super::ProductKey {
        super::ProductKey::new(&self.domain, &self.name)
    }
}

impl From<&ProductDescriptor> for DescriptorInput {
    /// The descriptor's identity, ports (with their schemas' Avro text and
    /// Rust types, not yet where a registry holds them) and stores.
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::catalog::DescriptorInput;
    /// use meshkit::ProductDescriptor;
    ///
    /// let d = ProductDescriptor::builder("sales", "orders").version("1.0.0").owner("team-sales")
    ///     .input("in", "raw.orders").output("out", "sales.orders").store("totals").build()?;
    /// let input = DescriptorInput::from(&d);
    /// assert_eq!(input.outputs[0].topic, "sales.orders");
    /// assert_eq!(input.stores[0].name, "totals");
    /// # Ok::<(), meshkit::DescriptorError>(())
    /// ```
    fn from(d: &ProductDescriptor) -> Self {
        // Contracts are written from Avro schemas; a plain part (JSON, a
        // string) has none to publish.
        let schema = |codec: &crate::schema::Codec| {
            (codec.avro()).map(|avro| SchemaInput::new(avro.schema_json(), avro.type_name()))
        };
        let port = |name: &str, topic: &str, ports: Option<&crate::schema::PortSchema>| PortInput {
            name: name.to_string(),
            topic: topic.to_string(),
            key: ports.and_then(|p| p.key_codec()).and_then(schema),
            value: ports.and_then(|p| schema(p.value_codec())),
        };
        let id = &d.identity;
        Self {
            domain: id.domain.clone(),
            name: id.name.clone(),
            version: id.version.to_string(),
            owner: id.owner.clone(),
            description: id.description.clone(),
            tags: id.tags.clone(),
            freshness_slo: id.slo.freshness,
            latency_slo: id.slo.latency,
            inputs: d
                .inputs
                .iter()
                .map(|p| port(&p.name, &p.topic, p.schema.as_ref()))
                .collect(),
            outputs: d
                .outputs
                .iter()
                .map(|p| port(&p.name, &p.topic, p.schema.as_ref()))
                .collect(),
            stores: d
                .stores
                .iter()
                .map(|s| StoreInput {
                    name: s.name.clone(),
                    windowed: s.window.is_some(),
                })
                .collect(),
        }
    }
}

/// One port: `InputPort` / `OutputPort` with its schemas resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortInput {
    /// The port's name within the product.
    pub name: String,
    /// The Kafka topic it reads or writes.
    pub topic: String,
    /// The keys' Avro schema, on a keyed port.
    pub key: Option<SchemaInput>,
    /// The values' Avro schema; `None` for a port of raw bytes.
    pub value: Option<SchemaInput>,
}

impl PortInput {
    /// A port of raw bytes.
    pub fn new(name: impl Into<String>, topic: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            topic: topic.into(),
            key: None,
            value: None,
        }
    }

    /// Sets the values' schema.
    #[must_use]
    pub fn with_value(mut self, schema: SchemaInput) -> Self {
        self.value = Some(schema);
        self
    }

    /// Sets the keys' schema.
    #[must_use]
    pub fn with_key(mut self, schema: SchemaInput) -> Self {
        self.key = Some(schema);
        self
    }
}

/// One Avro schema of a port: `ErasedCodec::schema_json` and `type_name`,
/// and where the gate found or registered it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchemaInput {
    /// The schema's JSON text, as registered.
    pub schema_json: String,
    /// The Rust type carried, for people reading the catalog.
    pub type_name: String,
    /// The registry subject (from the subject name strategy).
    pub subject: Option<String>,
    /// The registry's schema id.
    pub id: Option<u32>,
    /// The subject version.
    pub version: Option<u32>,
}

impl SchemaInput {
    /// A schema not (yet) known to a registry.
    pub fn new(schema_json: impl Into<String>, type_name: impl Into<String>) -> Self {
        Self {
            schema_json: schema_json.into(),
            type_name: type_name.into(),
            subject: None,
            id: None,
            version: None,
        }
    }

    /// Records where the registry holds it.
    #[must_use]
    pub fn registered(mut self, subject: impl Into<String>, id: u32, version: u32) -> Self {
        self.subject = Some(subject.into());
        self.id = Some(id);
        self.version = Some(version);
        self
    }
}

/// A state store (`StoreDescriptor`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreInput {
    /// The store's name.
    pub name: String,
    /// Whether it is a windowed store.
    pub windowed: bool,
}
