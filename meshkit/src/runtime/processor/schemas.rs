//! Typed ports at start and per record: the registry, the compatibility
//! gate, and decoding each input record of a typed port (undecodable ones
//! are dead-lettered with their reason; while the registry is away, the
//! transaction rewinds and waits).

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::StreamConsumer;
use rdkafka::message::BorrowedMessage;
use rdkafka::Message;

use super::super::contract::Context;
use super::super::txn::{RebalanceContext, Tp};
use super::Loop;
use crate::config::Config;
use crate::product::ProductDescriptor;
use crate::record::Record;
use crate::runtime::Error;
#[cfg(feature = "registry-server")]
use crate::schema::registry::RegistryServer;
#[cfg(feature = "state")]
use crate::schema::StoreValues;
use crate::schema::{
    self, DecodeFailure, DecodedRecord, Decoder, RegisteredPort, SchemaRegistry, SettledSchema,
};

/// A registry a service hands the runtime (`Runtime::with_registry`).
pub(crate) type Registry = Arc<dyn SchemaRegistry>;

/// What a processing loop decodes typed inputs with.
pub(super) type LoopDecoder = Decoder;

/// What the start-up settled about the product's typed ports.
pub(super) struct Schemas {
    /// The embedded registry's REST server, when one is configured.
    #[cfg(feature = "registry-server")]
    registry_server: Option<RegistryServer>,
    pub(super) decoder: Option<Decoder>,
    encoders: Option<Vec<Option<RegisteredPort>>>,
    /// Every subject, id and version the gate found or registered.
    pub(super) settled: Vec<SettledSchema>,
    /// By store: the schemas of its values, for a store whose values
    /// declare an Avro type.
    #[cfg(feature = "state")]
    pub(super) stores: Vec<Option<Arc<StoreValues>>>,
}

impl Schemas {
    /// Stops the registry's REST server, if one was started.
    pub(super) async fn stop_server(&mut self) {
        #[cfg(feature = "registry-server")]
        if let Some(server) = self.registry_server.take() {
            if let Err(err) = server.shutdown().await {
                tracing::warn!(error = %crate::ErrorChain(&err), "the schema registry's REST server did not stop cleanly");
            }
        }
    }

    /// Has `ctx` encode outputs with the ids the gate registered.
    pub(super) fn set_encoders(&self, ctx: &mut Context) {
        if let Some(encoders) = &self.encoders {
            ctx.set_encoders(encoders.clone());
        }
    }

    /// A decoder for another processing loop, with caches of its own.
    pub(super) fn decoder_for_thread(&self) -> Option<Decoder> {
        self.decoder.as_ref().map(Decoder::for_thread)
    }
}

/// Opens the registry (only products with typed ports need one), serves it
/// when configured, and runs the compatibility gate.
pub(super) async fn settle_schemas(
    descriptor: &ProductDescriptor,
    config: &Config,
    (application_id, brokers): (&str, &str),
    embedded: bool,
    registry: Option<Registry>,
) -> Result<Schemas, Error> {
    let store_values = descriptor.stores.iter().any(|s| s.values.is_some());
    let typed = descriptor.inputs.iter().any(|p| p.schema.is_some())
        || descriptor.outputs.iter().any(|p| p.schema.is_some())
        || store_values;
    let mut schemas = Schemas {
        #[cfg(feature = "registry-server")]
        registry_server: None,
        decoder: None,
        encoders: None,
        settled: Vec::new(),
        #[cfg(feature = "state")]
        stores: vec![None; descriptor.stores.len()],
    };
    if !typed {
        return Ok(schemas);
    }
    // Plain ports (JSON, strings) need no registry: none is opened for a
    // product that has only those.
    let avro = (descriptor.inputs.iter().filter_map(|p| p.schema.as_ref()))
        .chain(descriptor.outputs.iter().filter_map(|p| p.schema.as_ref()))
        .any(crate::schema::PortSchema::uses_registry)
        || store_values;
    let registry = match (registry, avro) {
        (_, false) => None,
        (Some(registry), true) => Some(registry),
        (None, true) => Some(open_registry(config, brokers, embedded).await?),
    };
    #[cfg(feature = "registry-server")]
    if let (Some(addr), Some(registry)) = (config.schema_registry_listen, &registry) {
        let server = RegistryServer::bind(addr, registry.clone()).map_err(|source| Error::Io {
            operation: format!("serving the schema registry on {addr}"),
            source,
        })?;
        tracing::info!(addr = %server.local_addr(), "serving the schema registry's REST API");
        schemas.registry_server = Some(server);
    }
    let port = |name, topic, schema| schema::GatePort { name, topic, schema };
    let inputs: Vec<_> = (descriptor.inputs.iter())
        .map(|p| port(&p.name, &p.topic, p.schema.as_ref()))
        .collect();
    let outputs: Vec<_> = (descriptor.outputs.iter())
        .map(|p| port(&p.name, &p.topic, p.schema.as_ref()))
        .collect();
    let plan = schema::check_gate(
        registry.as_deref(),
        &inputs,
        &outputs,
        config.subject_name_strategy,
        config.auto_register_schemas,
    )
    .await?;
    schemas.encoders = Some(plan.outputs);
    schemas.settled = plan.settled;
    #[cfg(feature = "state")]
    if let Some(registry) = registry.as_deref().filter(|_| store_values) {
        let registering = (config.subject_name_strategy, config.auto_register_schemas);
        schemas.stores = settle_stores(descriptor, registering, application_id, registry).await?;
    }
    #[cfg(not(feature = "state"))]
    let _ = application_id;
    schemas.decoder = Some(
        Decoder::new(registry, plan.inputs, config.max_record_bytes)
            .with_tombstones(descriptor.table_topics()),
    );
    Ok(schemas)
}

/// Checks and registers the value schemas of `descriptor`'s stores that
/// declare one: by store index.
#[cfg(feature = "state")]
pub(crate) async fn settle_stores(
    descriptor: &ProductDescriptor,
    (strategy, auto_register): (crate::schema::SubjectNameStrategy, bool),
    application_id: &str,
    registry: &dyn crate::schema::SchemaRegistry,
) -> Result<Vec<Option<Arc<StoreValues>>>, crate::schema::SchemaGateError> {
    let mut settled = Vec::with_capacity(descriptor.stores.len());
    for store in &descriptor.stores {
        let Some(values) = &store.values else {
            settled.push(None);
            continue;
        };
        let changelog = crate::stores::changelog_topic(application_id, &store.name);
        let gate = schema::GateStore {
            name: &store.name,
            changelog: &changelog,
            values,
        };
        settled.push(Some(
            schema::check_store(registry, gate, strategy, auto_register).await?,
        ));
    }
    Ok(settled)
}

/// The loop's decoding state.
pub(super) struct LoopSchemas {
    decoder: Option<Decoder>,
    /// How long to wait before retrying after the registry failed; zero
    /// while it answers.
    backoff: Duration,
}

impl LoopSchemas {
    /// The loop's decoder, if a port is typed.
    pub(super) fn decoder_mut(&mut self) -> Option<&mut Decoder> {
        self.decoder.as_mut()
    }

    pub(super) fn new(decoder: Option<Decoder>) -> Self {
        Self {
            decoder,
            backoff: Duration::ZERO,
        }
    }
}

/// `record` with what was decoded of it.
pub(crate) fn with_decoded<'a>(mut record: Record<'a>, decoded: &'a Option<DecodedRecord>) -> Record<'a> {
    if let Some(decoded) = &decoded {
        if let Some(value) = &decoded.value {
            record = record.with_decoded_value_dyn(value.as_ref());
        }
        if let Some(key) = &decoded.key {
            record = record.with_decoded_key_dyn(key.as_ref());
        }
        if let Some(id) = decoded.schema_id {
            record = record.with_schema_id(id);
        }
    }
    record
}

impl Loop<'_> {
    /// Decodes `message` if its port is typed: `Some` of what it decoded
    /// (`None` for an untyped port), or `None` when the record was handled
    /// here: dead-lettered, or the transaction rewound to wait for the
    /// registry.
    pub(super) async fn decode(
        &mut self,
        consumer: &StreamConsumer<RebalanceContext>,
        message: &BorrowedMessage<'_>,
        tp: &Tp,
    ) -> Result<Option<Option<DecodedRecord>>, Error> {
        let offset = message.offset();
        let decoded = match self
            .schemas
            .decoder
            .as_mut()
            .filter(|d| d.decodes(message.topic()))
        {
            None => None,
            Some(decoder) => match decoder
                .decode(message.topic(), message.key(), message.payload())
                .await
            {
                Ok(decoded) => {
                    self.schemas.backoff = Duration::ZERO;
                    Some(decoded)
                }
                Err(DecodeFailure::Poison {
                    error,
                    key,
                    schema_id,
                }) => {
                    let (reason, text) = error.dead_letter(key);
                    if let Err(err) = self.dead_letter_with(message, &reason, &text, 0, schema_id).await {
                        return self.dead_letter_failed(consumer, err).await.map(|()| None);
                    }
                    self.txn.done(tp, offset);
                    return Ok(None);
                }
                Err(DecodeFailure::Registry(err)) => {
                    // Nothing is lost: the record is read again after the
                    // rewind, once the registry answers.
                    self.schemas.backoff =
                        (self.schemas.backoff * 2).clamp(Duration::from_millis(200), Duration::from_secs(10));
                    tracing::warn!(
                        error = %crate::ErrorChain(&err), retry_in = ?self.schemas.backoff, topic = %tp.0, partition = tp.1, offset,
                        "schema registry unavailable for a new schema id; rewinding and retrying"
                    );
                    self.abort(consumer)?;
                    tokio::time::sleep(self.schemas.backoff).await;
                    return Ok(None);
                }
            },
        };
        Ok(Some(decoded))
    }
}

/// The registry the product's schemas are checked against: the configured
/// URL, or the embedded registry (in memory on the embedded cluster, which
/// keeps nothing across restarts anyway; in its Kafka topic otherwise).
async fn open_registry(config: &Config, brokers: &str, embedded: bool) -> Result<Registry, Error> {
    if let Some(url) = &config.schema_registry_url {
        #[cfg(feature = "registry-client")]
        {
            let mut builder = crate::schema::HttpRegistry::builder(url.clone());
            if let Some((user, password)) = &config.schema_registry_auth {
                builder = builder.basic_auth(user.clone(), password.0.clone());
            }
            if let Some(path) = &config.schema_registry_ca_file {
                let pem = std::fs::read(path).map_err(|source| Error::Io {
                    operation: format!("reading the schema registry's CA file {}", path.display()),
                    source,
                })?;
                builder = builder.ca_pem(pem);
            }
            return Ok(Arc::new(builder.build()?));
        }
        #[cfg(not(feature = "registry-client"))]
        return Err(Error::MissingFeature {
            feature: "registry-client",
            needed_by: format!("the schema registry at {url}"),
        });
    }
    #[cfg(feature = "registry-server")]
    {
        use crate::schema::registry::EmbeddedRegistry;
        if embedded {
            return Ok(Arc::new(EmbeddedRegistry::in_memory()));
        }
        let properties: Vec<(String, String)> = (config.kafka.properties.iter())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let registry = EmbeddedRegistry::connect(brokers, &config.schema_topic, properties).await?;
        Ok(Arc::new(registry))
    }
    #[cfg(not(feature = "registry-server"))]
    {
        let _ = (brokers, embedded);
        Err(Error::MissingFeature {
            feature: "registry-server",
            needed_by: "a typed port with no schema registry URL (it uses the embedded registry)".into(),
        })
    }
}
