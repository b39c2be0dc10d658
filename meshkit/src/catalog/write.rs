//! Writing to the catalog topic by hand: publishing an existing stream as a
//! data product, and removing a product (a tombstone). What `meshkit catalog
//! publish` and `meshkit catalog remove` run; a product's own record is
//! written by its runtime.

use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;

use super::record::{CatalogError, CatalogRecord, ProductKey};
use crate::config::Config;
use crate::kafka::{self, ClusterError, TopicRole};

/// Why a catalog write failed.
///
/// # Examples
///
/// ```
/// use meshkit::catalog::{CatalogWriteError, CatalogWriter};
/// use meshkit::Config;
///
/// let err = CatalogWriter::new(&Config::builder().build()?).unwrap_err();
/// assert!(matches!(err, CatalogWriteError::NoBrokers));
/// assert!(!err.is_retriable());
/// # Ok::<(), meshkit::ConfigError>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogWriteError {
    /// The configuration names no brokers.
    #[error("no Kafka brokers configured (setting `brokers`, env MESHKIT_BROKERS)")]
    NoBrokers,
    /// The catalog topic could not be found or created.
    #[error("cannot make sure catalog topic `{topic}` exists")]
    Topic {
        /// The catalog topic.
        topic: String,
        /// What the cluster said (boxed: it is large).
        #[source]
        source: Box<ClusterError>,
    },
    /// The record could not be encoded.
    #[error("cannot encode the catalog record")]
    Encode(#[source] CatalogError),
    /// The producer could not be created or the write was not acknowledged.
    #[error("cannot write to catalog topic `{topic}` on `{brokers}`: {operation} failed")]
    Kafka {
        /// The catalog topic.
        topic: String,
        /// The bootstrap list.
        brokers: String,
        /// What the writer was doing.
        operation: &'static str,
        /// The client's error (boxed: it is large).
        #[source]
        source: Box<rdkafka::error::KafkaError>,
    },
}

impl CatalogWriteError {
    /// Whether writing again (unchanged) may succeed: brokers that did not
    /// answer or did not acknowledge in time.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Topic { source, .. } => source.is_retriable(),
            Self::Kafka { source, .. } => kafka::kafka_retriable(source),
            _ => false,
        }
    }
}

/// Writes records and tombstones to the catalog topic (creating it,
/// compacted, if no product has registered yet), waiting for the brokers'
/// acknowledgement.
///
/// # Examples
///
/// ```no_run
/// use meshkit::catalog::{CatalogRecord, CatalogWriter, DescriptorInput, PortInput, Timestamp};
/// use meshkit::Config;
///
/// # async fn publish() -> Result<(), Box<dyn std::error::Error>> {
/// let config = Config::builder().brokers("127.0.0.1:9092").build()?;
/// let d = DescriptorInput::new("crm", "customers", "1.0.0", "team-crm@example.com")
///     .output(PortInput::new("customers", "crm.customers"));
/// let writer = CatalogWriter::new(&config)?;
/// writer.publish(&CatalogRecord::published(None, &d, Timestamp::now())).await?;
/// writer.remove(&"crm/customers".parse()?).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct CatalogWriter {
    config: Config,
    brokers: String,
    topic: String,
    timeout: Duration,
}

impl std::fmt::Debug for CatalogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogWriter")
            .field("brokers", &self.brokers)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl CatalogWriter {
    /// A writer to `config`'s catalog topic on its brokers, with its Kafka
    /// properties.
    ///
    /// # Errors
    ///
    /// [`CatalogWriteError::NoBrokers`] if `config` names no brokers.
    pub fn new(config: &Config) -> Result<Self, CatalogWriteError> {
        let brokers = config.brokers().ok_or(CatalogWriteError::NoBrokers)?;
        Ok(Self {
            brokers: brokers.to_string(),
            topic: config.catalog_topic().to_string(),
            timeout: config.kafka.startup_timeout,
            config: config.clone(),
        })
    }

    /// Writes to `topic` instead of the configuration's catalog topic.
    #[must_use]
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = topic.into();
        self
    }

    /// Writes `record` under its key.
    ///
    /// # Errors
    ///
    /// A [`CatalogWriteError`]: the topic cannot be created, the record
    /// cannot be encoded, or the brokers do not acknowledge it.
    pub async fn publish(&self, record: &CatalogRecord) -> Result<(), CatalogWriteError> {
        let value = record.encode().map_err(CatalogWriteError::Encode)?;
        self.write(&record.key(), Some(&value)).await
    }

    /// Writes a tombstone for `key`: readers drop the product, and
    /// compaction deletes it.
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish).
    pub async fn remove(&self, key: &ProductKey) -> Result<(), CatalogWriteError> {
        self.write(key, None).await
    }

    async fn write(&self, key: &ProductKey, value: Option<&[u8]>) -> Result<(), CatalogWriteError> {
        let settings = &self.config.kafka;
        let topics = [(self.topic.clone(), TopicRole::Catalog)];
        kafka::ensure_topics(&self.brokers, None, settings, &topics)
            .await
            .map_err(|source| CatalogWriteError::Topic {
                topic: self.topic.clone(),
                source: Box::new(source),
            })?;
        let failed = |operation, source| CatalogWriteError::Kafka {
            topic: self.topic.clone(),
            brokers: self.brokers.clone(),
            operation,
            source: Box::new(source),
        };
        let producer: FutureProducer =
            kafka::durable_producer_config(kafka::base_config(&self.brokers, settings))
                .create()
                .map_err(|source| failed("creating the producer", source))?;
        let key = key.to_bytes();
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic).key(&key);
        if let Some(value) = value {
            record = record.payload(value);
        }
        producer
            .send(record, Timeout::After(self.timeout))
            .await
            .map_err(|(source, _)| failed("sending the record", source))?;
        Ok(())
    }
}
