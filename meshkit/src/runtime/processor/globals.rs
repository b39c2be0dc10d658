//! Global tables: each processing loop reads every partition of each global
//! table's topic, in full, before its first record, then keeps up with it
//! between records. Their records go to the product like any input's (the
//! stream operators keep them in memory), outside the transactions: a
//! global table's offsets are never committed, and each start reads it again.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};

use super::schemas::with_decoded;
use super::{Loop, Transform};
use crate::config::Config;
use crate::kafka::{self, blocking};
use crate::product::{PortKind, ProductDescriptor};
use crate::record::Record;
use crate::runtime::contract::Context;
use crate::runtime::Error;
use crate::schema::DecodeFailure;

/// How often a loop reads what its global tables' topics gained.
const CATCH_UP_EVERY: Duration = Duration::from_millis(100);
/// How many records of one global table a catch-up reads at most.
const CATCH_UP_RECORDS: usize = 1_000;
/// How long a global table's record waits for the registry before the loop fails.
const REGISTRY_PATIENCE: Duration = Duration::from_secs(60);

/// One global table's reader.
struct Reader {
    port: String,
    topic: String,
    consumer: StreamConsumer,
    /// Its partitions with records at the start, still to be read to their end.
    to_load: HashSet<i32>,
}

/// A processing loop's global tables.
pub(super) struct Globals {
    readers: Vec<Reader>,
    /// Their records' context: no stores, and what the product emits for
    /// them is dropped (a global table's record is not the product's input
    /// in any transaction).
    ctx: Context,
    next_catch_up: Instant,
}

impl Globals {
    /// Readers of `descriptor`'s global tables, each assigned every
    /// partition of its topic from the beginning; `None` without any.
    pub(super) fn open(
        descriptor: &ProductDescriptor,
        config: &Config,
        (application_id, brokers): (&str, &str),
    ) -> Result<Option<Self>, Error> {
        let ports: Vec<_> = (descriptor.inputs.iter())
            .filter(|p| p.kind == PortKind::GlobalTable)
            .collect();
        if ports.is_empty() {
            return Ok(None);
        }
        let timeout = config.kafka.startup_timeout;
        let mut readers = Vec::with_capacity(ports.len());
        for port in ports {
            let mut client = kafka::base_config(brokers, &config.kafka);
            // The client needs a group to be assigned partitions; it never
            // joins it (no subscription) nor commits to it.
            client
                .set("group.id", format!("{application_id}-global-tables"))
                .set("isolation.level", "read_committed")
                .set("enable.auto.commit", "false")
                .set("enable.partition.eof", "true")
                .set("auto.offset.reset", "earliest");
            let consumer: StreamConsumer = client
                .create()
                .map_err(|e| Error::kafka("creating a global table's consumer", e))?;
            let metadata = blocking(|| consumer.fetch_metadata(Some(port.topic.as_str()), timeout))
                .map_err(|e| Error::kafka("reading a global table's partitions", e))?;
            let partitions: Vec<i32> = (metadata.topics().iter())
                .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                .collect();
            let mut assignment = TopicPartitionList::new();
            let mut to_load = HashSet::new();
            for partition in partitions {
                assignment
                    .add_partition_offset(&port.topic, partition, Offset::Beginning)
                    .map_err(|e| Error::kafka("assigning a global table's partitions", e))?;
                let (low, high) = blocking(|| consumer.fetch_watermarks(&port.topic, partition, timeout))
                    .map_err(|e| Error::kafka("reading a global table's offsets", e))?;
                if high > low {
                    to_load.insert(partition);
                }
            }
            consumer
                .assign(&assignment)
                .map_err(|e| Error::kafka("assigning a global table's partitions", e))?;
            readers.push(Reader {
                port: port.name.clone(),
                topic: port.topic.clone(),
                consumer,
                to_load,
            });
        }
        Ok(Some(Self {
            readers,
            ctx: Context::new(descriptor),
            next_catch_up: Instant::now() + CATCH_UP_EVERY,
        }))
    }
}

impl Loop<'_> {
    /// Reads every global table to the end its topic had at the start
    /// (the last committed record, under read_committed): done before the
    /// loop's first record, so that no record is joined with half a table.
    pub(super) async fn load_globals<P: Transform>(&mut self, product: &mut P) -> Result<(), Error> {
        let Some(mut globals) = self.globals.take() else {
            return Ok(());
        };
        let started = Instant::now();
        let mut records = 0u64;
        for reader in &mut globals.readers {
            while !reader.to_load.is_empty() {
                match reader.consumer.recv().await {
                    Ok(message) => {
                        self.apply_global(product, &mut globals.ctx, &reader.port, &message)
                            .await?;
                        records += 1;
                    }
                    Err(KafkaError::PartitionEOF(partition)) => {
                        reader.to_load.remove(&partition);
                    }
                    Err(err) => global_read_failed(&reader.consumer, &reader.topic, err).await?,
                }
            }
        }
        tracing::info!(records, elapsed = ?started.elapsed(), "global tables loaded");
        self.globals = Some(globals);
        Ok(())
    }

    /// Reads what the global tables' topics gained since the last time, at
    /// most every [`CATCH_UP_EVERY`], without waiting for more.
    pub(super) async fn catch_up_globals<P: Transform>(&mut self, product: &mut P) -> Result<(), Error> {
        let Some(mut globals) = self.globals.take() else {
            return Ok(());
        };
        if Instant::now() >= globals.next_catch_up {
            globals.next_catch_up = Instant::now() + CATCH_UP_EVERY;
            for reader in &mut globals.readers {
                for _ in 0..CATCH_UP_RECORDS {
                    // A zero timeout polls once: a record already fetched, or nothing.
                    match tokio::time::timeout(Duration::ZERO, reader.consumer.recv()).await {
                        Ok(Ok(message)) => {
                            self.apply_global(product, &mut globals.ctx, &reader.port, &message)
                                .await?;
                        }
                        Ok(Err(KafkaError::PartitionEOF(_))) => {}
                        Ok(Err(err)) => global_read_failed(&reader.consumer, &reader.topic, err).await?,
                        Err(_) => break,
                    }
                }
            }
        }
        self.globals = Some(globals);
        Ok(())
    }

    /// Decodes one global table's record and hands it to the product.
    async fn apply_global<P: Transform>(
        &mut self,
        product: &mut P,
        ctx: &mut Context,
        port: &str,
        message: &BorrowedMessage<'_>,
    ) -> Result<(), Error> {
        let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
        let mut record = Record::new(port, topic, partition, offset);
        if let Some(key) = message.key() {
            record = record.with_key(key);
        }
        if let Some(value) = message.payload() {
            record = record.with_value(value);
        }
        let timestamp = message.timestamp().to_millis();
        if let Some(at) = timestamp {
            record = record.with_timestamp(at);
        }
        let Some(decoder) = self.schemas.decoder_mut() else {
            return Ok(());
        };
        let waiting = Instant::now();
        let decoded = loop {
            match decoder.decode(topic, message.key(), message.payload()).await {
                Ok(decoded) => break Some(decoded),
                Err(DecodeFailure::Poison { error, key, .. }) => {
                    // No transaction to dead-letter it in: it is left out, loudly.
                    let (reason, text) = error.dead_letter(key);
                    tracing::warn!(%topic, partition, offset, %reason, error = %text, "a global table's record does not decode; left out of the table");
                    return Ok(());
                }
                Err(DecodeFailure::Registry(err)) if waiting.elapsed() < REGISTRY_PATIENCE => {
                    tracing::warn!(error = %crate::ErrorChain(&err), %topic, "schema registry unavailable for a global table's record; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(DecodeFailure::Registry(err)) => return Err(Error::Registry(err)),
            }
        };
        let record = with_decoded(record, &decoded);
        ctx.bind(partition, timestamp);
        if let Err(err) = product.transform(&record, ctx).await {
            tracing::warn!(%topic, partition, offset, error = %crate::ErrorChain(&err), "the product failed on a global table's record");
        }
        ctx.discard();
        Ok(())
    }
}

/// A read error of a global table's consumer: fatal if the client says so,
/// otherwise logged and waited out.
async fn global_read_failed(consumer: &StreamConsumer, topic: &str, err: KafkaError) -> Result<(), Error> {
    if consumer.client().fatal_error().is_some() {
        return Err(Error::kafka("reading a global table", err));
    }
    tracing::warn!(%topic, error = %crate::ErrorChain(&err), "reading a global table failed; retrying");
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}
