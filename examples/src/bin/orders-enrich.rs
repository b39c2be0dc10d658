//! Runs the `sales/orders-enriched` data product.
//!
//! With no `MESHKIT_BROKERS`, it runs end to end on the embedded local Kafka
//! cluster: it starts the product, writes a few sample orders (one of them
//! malformed) to its input topic, prints what the product consumed and
//! produced and what went to the dead-letter topic, and stops.
//!
//! With `MESHKIT_BROKERS` set, it runs until Ctrl-C / SIGTERM, like a service.

use std::time::Duration;

use anyhow::{bail, Context as _};
use meshkit::{Config, Runtime, Status};
use meshkit_examples::orders::{Order, OrdersEnriched};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The binary, not the library, installs the subscriber.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rdkafka=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let config = Config::from_env().context("reading MESHKIT_* settings")?;
    let demo = config.brokers().is_none();
    let runtime = Runtime::new(OrdersEnriched { verbose: demo }, config)?;
    let handle = runtime.handle();
    let task = tokio::spawn(runtime.run());

    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stopper.stop();
    });

    if demo {
        let brokers = wait_until_running(&handle, &task).await?;
        let orders = sample_orders();
        produce_inputs(&brokers, &orders)?;
        // Every input is accounted for once its offset is committed.
        let expected = orders.len() as u64;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while handle.health().records_committed < expected {
            if task.is_finished() || tokio::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Read the dead letters while the embedded cluster still runs (it
        // stops with the runtime).
        print_topic(&brokers, "sales.orders-enriched.dlq")?;
        handle.stop();
        task.await.context("the runtime task")??;
        let health = handle.health();
        println!(
            "== summary: {} inputs committed in {} transactions ({} aborted)",
            health.records_committed, health.transactions_committed, health.transactions_aborted
        );
        if health.records_committed != expected {
            bail!(
                "only {} of {expected} inputs were processed",
                health.records_committed
            );
        }
    } else {
        task.await.context("the runtime task")??;
    }
    Ok(())
}

async fn wait_until_running(
    handle: &meshkit::RuntimeHandle,
    task: &tokio::task::JoinHandle<Result<(), meshkit::Error>>,
) -> anyhow::Result<String> {
    loop {
        let health = handle.health();
        if health.status == Status::Running {
            if let Some(brokers) = health.brokers {
                return Ok(brokers);
            }
        }
        if task.is_finished() {
            bail!(
                "the product stopped at start: {}",
                health.last_error.unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sample_orders() -> Vec<(String, Vec<u8>)> {
    let statuses = ["placed", "paid", "cancelled", "paid"];
    let mut orders: Vec<(String, Vec<u8>)> = (0..8u64)
        .map(|i| {
            let order = Order {
                order_id: format!("o-{i}"),
                customer: format!("c-{}", i % 3),
                amount_cents: 250 * (i + 1) * (i + 1),
                status: statuses[i as usize % statuses.len()].to_string(),
            };
            (
                order.order_id.clone(),
                serde_json::to_vec(&order).expect("an order encodes"),
            )
        })
        .collect();
    orders.push(("o-bad".into(), b"{\"order_id\": \"o-bad\", \"amount\": ".to_vec()));
    orders
}

fn produce_inputs(brokers: &str, orders: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    for (key, value) in orders {
        producer
            .send(BaseRecord::to("sales.orders").key(key).payload(value))
            .map_err(|(e, _)| e)?;
    }
    producer.flush(Duration::from_secs(10))?;
    Ok(())
}

fn print_topic(brokers: &str, topic: &str) -> anyhow::Result<()> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "orders-enrich-demo-reader")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create()?;
    // Assigned, not subscribed: no group join to wait for.
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(5))?;
    let mut partitions = rdkafka::TopicPartitionList::new();
    for t in metadata.topics() {
        for p in t.partitions() {
            partitions.add_partition_offset(topic, p.id(), rdkafka::Offset::Beginning)?;
        }
    }
    consumer.assign(&partitions)?;
    println!("== {topic} (dead letters, with their reason):");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut idle = 0;
    while std::time::Instant::now() < deadline && idle < 10 {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                idle = 0;
                let reason = m
                    .headers()
                    .and_then(|h| {
                        use rdkafka::message::Headers;
                        h.iter()
                            .find(|h| h.key == meshkit::dlq_headers::ERROR)
                            .and_then(|h| h.value)
                    })
                    .map(|v| format!("  (reason: {})", String::from_utf8_lossy(v)))
                    .unwrap_or_default();
                println!(
                    "   {}{reason}",
                    String::from_utf8_lossy(m.payload().unwrap_or_default())
                );
            }
            Some(Err(e)) => println!("   error: {e}"),
            None => idle += 1,
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
