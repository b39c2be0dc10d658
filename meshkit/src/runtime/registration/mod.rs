//! Metadata registration while a product runs: its [`CatalogRecord`] on the
//! catalog topic (published at start, refreshed on every heartbeat, marked
//! stopped or failed at the end) and, when an endpoint is configured, its
//! OpenLineage run (START, RUNNING per heartbeat, COMPLETE or FAIL).
//!
//! Registration never stops a product: a catalog write or a lineage post
//! that fails is logged and tried again at the next heartbeat, because a
//! product that processes but is briefly not listed is better than one that
//! stops processing because the catalog is slow.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use super::Error;
use super::Shared;
use crate::catalog::{CatalogReader, CatalogRecord, DescriptorInput, InstanceRecord, SchemaInput, Timestamp};
use crate::config::Config;
use crate::product::ProductDescriptor;
use crate::schema::SettledSchema;

#[cfg(feature = "lineage")]
mod lineage;
#[cfg(not(feature = "lineage"))]
#[path = "no_lineage.rs"]
mod lineage;

use lineage::Lineage;

/// The descriptor as the catalog shows it: the product's declaration with
/// each schema's subject, id and version where the gate settled them.
pub(crate) fn descriptor_input(descriptor: &ProductDescriptor, settled: &[SettledSchema]) -> DescriptorInput {
    let mut input = DescriptorInput::from(descriptor);
    let registered = |schema: Option<SchemaInput>, port: &str, output: bool, is_key: bool| {
        schema.map(|schema| {
            match settled
                .iter()
                .find(|s| s.port == port && s.output == output && s.is_key == is_key)
            {
                Some(s) => schema.registered(&s.subject, s.id, s.version),
                None => schema,
            }
        })
    };
    for (ports, output) in [(&mut input.inputs, false), (&mut input.outputs, true)] {
        for port in ports.iter_mut() {
            port.value = registered(port.value.take(), &port.name, output, false);
            port.key = registered(port.key.take(), &port.name, output, true);
        }
    }
    input
}

/// The record a runtime serves on `/product` before it has registered.
pub(crate) fn initial_record(descriptor: &ProductDescriptor) -> CatalogRecord {
    CatalogRecord::from_descriptor(&DescriptorInput::from(descriptor), Timestamp::now())
}

/// The host name, for the catalog's instance entries.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Writes one product's entry to the catalog topic.
struct Publisher {
    producer: FutureProducer,
    reader: CatalogReader,
    topic: String,
    descriptor: DescriptorInput,
    brokers: String,
    dead_letter_topic: String,
    instance: InstanceRecord,
}

impl Publisher {
    /// Reads the catalog, applies `change` to this product's current
    /// record (registered afresh with this instance), publishes the result
    /// and waits for the broker to acknowledge it.
    async fn update(
        &self,
        change: impl FnOnce(&mut CatalogRecord, Timestamp),
    ) -> Result<CatalogRecord, String> {
        let reader = self.reader.clone();
        let catalog = tokio::task::spawn_blocking(move || reader.read())
            .await
            .map_err(|e| format!("reading catalog topic `{}`: {e}", self.topic))?
            .map_err(|e| e.to_string())?
            .into_catalog();
        let now = Timestamp::now();
        let previous = catalog.get(&self.descriptor.key()).cloned();
        let mut instance = self.instance.clone();
        instance.last_seen = now;
        let mut record = CatalogRecord::register(previous, &self.descriptor, instance, now)
            .with_bootstrap_servers(self.brokers.clone())
            .with_dead_letter_topic(self.dead_letter_topic.clone());
        record.resolve_upstreams(catalog.list());
        change(&mut record, now);
        let value = record.encode().map_err(|e| e.to_string())?;
        let key = record.key().to_bytes();
        self.producer
            .send(
                FutureRecord::to(&self.topic).key(&key).payload(&value),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| format!("writing to catalog topic `{}`: {e}", self.topic))?;
        Ok(record)
    }
}

/// One product run's registration; see the module docs.
pub(crate) struct Registration {
    shared: Arc<Shared>,
    publisher: Option<Arc<Publisher>>,
    lineage: Option<Lineage>,
    heartbeat: (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>),
    instance_id: String,
}

impl Registration {
    /// Emits START (when lineage is on) and starts the heartbeat, whose
    /// first beat publishes the product's record (unless the catalog is off).
    pub(crate) fn start(
        descriptor: &ProductDescriptor,
        settled: &[SettledSchema],
        config: &Config,
        (brokers, dead_letter_topic): (&str, &str),
        instance_id: &str,
        shared: Arc<Shared>,
    ) -> Result<Self, Error> {
        let input = descriptor_input(descriptor, settled);
        let now = Timestamp::now();
        let instance =
            InstanceRecord::running(instance_id, host_name(), now).with_heartbeat(config.catalog_heartbeat);
        let local = CatalogRecord::register(None, &input, instance.clone(), now)
            .with_bootstrap_servers(brokers)
            .with_dead_letter_topic(dead_letter_topic);
        shared.set_product(local.clone());

        let publisher = if config.catalog {
            let producer: FutureProducer =
                crate::kafka::durable_producer_config(crate::kafka::base_config(brokers, &config.kafka))
                    .create()
                    .map_err(|e| Error::kafka("creating the catalog producer", e))?;
            // The reader takes its brokers from a configuration; the runtime's may
            // name none (the embedded cluster's address is known only now).
            let mut reader_config = config.clone();
            reader_config.brokers = Some(brokers.to_string());
            let reader = CatalogReader::new(&reader_config)
                .map_err(|e| Error::Io {
                    operation: "creating the catalog reader".to_string(),
                    source: std::io::Error::other(e),
                })?
                .topic(config.catalog_topic.clone())
                .timeout(config.kafka.startup_timeout);
            Some(Arc::new(Publisher {
                producer,
                reader,
                topic: config.catalog_topic.clone(),
                descriptor: input,
                brokers: brokers.to_string(),
                dead_letter_topic: dead_letter_topic.to_string(),
                instance,
            }))
        } else {
            None
        };
        let lineage = Lineage::start(config, &local, brokers)?;

        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let every = config.catalog_heartbeat;
        let task = {
            let publisher = publisher.clone();
            let shared = shared.clone();
            let running = lineage.as_ref().map(Lineage::beats);
            // The first tick is at once: the first registration runs here, off
            // the start-up path, so a slow catalog never delays processing.
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut first = true;
                let mut listed = false;
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = stopped.changed() => return,
                    }
                    if let (false, Some(beats)) = (first, &running) {
                        beats.running();
                    }
                    if let Some(publisher) = &publisher {
                        match publisher.update(|_, _| {}).await {
                            Ok(record) => {
                                if !listed {
                                    listed = true;
                                    tracing::info!(topic = %publisher.topic, key = %record.key(), "registered in the catalog");
                                }
                                shared.set_product(record);
                            }
                            Err(err) => {
                                tracing::warn!(error = %err, "catalog update failed; trying again at the next heartbeat")
                            }
                        }
                    }
                    first = false;
                }
            })
        };
        Ok(Self {
            shared,
            publisher,
            lineage,
            heartbeat: (stop, task),
            instance_id: instance_id.to_string(),
        })
    }

    /// Marks this instance stopped (or failed, with `error`) in the catalog
    /// and ends the lineage run with COMPLETE (or FAIL).
    pub(crate) async fn finish(self, error: Option<&Error>) {
        let Self {
            shared,
            publisher,
            lineage,
            heartbeat: (stop, task),
            instance_id: id,
        } = self;
        stop.send_replace(true);
        let _ = task.await;
        let reason = error.map(|e| crate::ErrorChain(e).to_string());
        if let Some(publisher) = &publisher {
            let outcome = publisher
                .update(|record, now| {
                    match &reason {
                        Some(reason) => record.mark_failed(&id, reason.clone(), now),
                        None => record.mark_stopped(&id, now),
                    };
                })
                .await;
            match outcome {
                Ok(record) => {
                    tracing::info!(status = %record.status, "catalog entry marked {}", if reason.is_some() { "failed" } else { "stopped" });
                    shared.set_product(record);
                }
                Err(err) => tracing::warn!(error = %err, "could not mark the catalog entry"),
            }
            let _ = crate::kafka::blocking(|| publisher.producer.flush(Duration::from_secs(5)));
        }
        if let Some(lineage) = lineage {
            lineage.finish(reason).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::PortSchema;

    #[derive(Debug, serde::Serialize, serde::Deserialize, apache_avro::AvroSchema)]
    struct Order {
        id: String,
        amount: f64,
    }

    #[test]
    fn settled_subjects_ids_and_versions_land_on_their_ports() {
        let descriptor = ProductDescriptor::builder("sales", "orders")
            .version("1.0.0")
            .owner("team-sales")
            .input_with(
                "in",
                "raw.orders",
                PortSchema::value::<Order>().with_key::<String>(),
            )
            .output_avro::<Order>("out", "sales.orders")
            .output("raw", "sales.raw")
            .build()
            .expect("valid descriptor");
        let settled = [
            SettledSchema {
                port: "in".into(),
                output: false,
                is_key: true,
                subject: "raw.orders-key".into(),
                id: 3,
                version: 1,
            },
            SettledSchema {
                port: "out".into(),
                output: true,
                is_key: false,
                subject: "sales.orders-value".into(),
                id: 7,
                version: 2,
            },
        ];
        let input = descriptor_input(&descriptor, &settled);
        let key = input.inputs[0].key.as_ref().expect("keyed input");
        assert_eq!(
            (key.subject.as_deref(), key.id, key.version),
            (Some("raw.orders-key"), Some(3), Some(1))
        );
        // The input's value was not settled (no writer registered yet).
        let value = input.inputs[0].value.as_ref().expect("typed input");
        assert_eq!((value.subject.as_deref(), value.id), (None, None));
        assert!(value.schema_json.contains("amount"));
        let out = input.outputs[0].value.as_ref().expect("typed output");
        assert_eq!(
            (out.subject.as_deref(), out.id, out.version),
            (Some("sales.orders-value"), Some(7), Some(2))
        );
        assert!(input.outputs[1].value.is_none(), "a raw port has no schema");
    }
}
