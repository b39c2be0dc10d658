//! Serves meshkit's schema registry with the Confluent Schema Registry REST
//! API, for the producers and consumers of a mesh written in other languages
//! (any stock Confluent client: Java, Python, Go, .NET…).
//!
//! Its schemas live in a compacted Kafka topic, so it survives restarts and
//! several instances on one topic agree.
//!
//! ```sh
//! MESHKIT_BROKERS=127.0.0.1:9092 cargo run -p meshkit-examples --bin schema-registry -- 127.0.0.1:8081
//! ```
//!
//! Settings: `MESHKIT_BROKERS` (required), `MESHKIT_SCHEMA_TOPIC` (default
//! `_schemas`), `MESHKIT_KAFKA_<NAME>` for client properties (SASL, TLS); the
//! first argument is the address to listen on (default `127.0.0.1:8081`).

use std::sync::Arc;

use anyhow::Context as _;
use meshkit::schema::registry::{EmbeddedRegistry, RegistryServer};
use meshkit::Config;
use meshkit_examples::demo::{init_tracing, shutdown_signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();
    let config = Config::from_env().context("reading MESHKIT_* settings")?;
    let brokers = config
        .brokers()
        .context("MESHKIT_BROKERS must name the Kafka cluster that keeps the schemas")?;
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".to_string())
        .parse()
        .context("the first argument must be host:port")?;
    let registry = EmbeddedRegistry::connect(brokers, config.schema_topic(), config.kafka_properties())
        .await
        .with_context(|| format!("opening the registry in topic {}", config.schema_topic()))?;
    let server = RegistryServer::bind(addr, Arc::new(registry)).context("binding the REST API")?;
    tracing::info!(addr = %server.local_addr(), topic = config.schema_topic(), "schema registry serving");
    shutdown_signal().await;
    server.shutdown().await.context("stopping")?;
    Ok(())
}
