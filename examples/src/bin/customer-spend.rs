//! Runs the stateful `sales/customer-spend` data product.
//!
//! With no `MESHKIT_BROKERS`, it runs end to end on the embedded local Kafka
//! cluster and the embedded schema registry: it starts the product, writes
//! sample Avro orders as an upstream producer would, prints each customer's
//! totals and per-minute counts as the product publishes them (decoded),
//! and the dead letters, and stops. With `MESHKIT_BROKERS` set, it runs until
//! Ctrl-C / SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use meshkit::schema::registry::EmbeddedRegistry;
use meshkit::schema::PortSchema;
use meshkit::Runtime;
use meshkit_examples::demo::{
    config_from_env, init_tracing, print_topic, print_typed, produce_typed, spawn_until_signal,
    wait_until_running,
};
use meshkit_examples::orders::Order;
use meshkit_examples::spend::{CustomerSpend, CustomerSpendProduct, OrdersPerMinute};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();

    let config = config_from_env().context("reading MESHKIT_* settings")?;
    let demo = config.embedded_cluster();
    let mut runtime = Runtime::new(CustomerSpendProduct, config)?;
    // The demo plays the upstream producer and the downstream reader too, so
    // it holds the registry (otherwise the runtime opens the configured one).
    let registry = Arc::new(EmbeddedRegistry::in_memory());
    if demo {
        runtime = runtime.with_registry(registry.clone());
    }
    let (handle, task) = spawn_until_signal(runtime);
    if !demo {
        return Ok(task.await.context("the runtime task")??);
    }

    let brokers = wait_until_running(&handle, &task).await?;
    // Orders 20 s apart in event time, so minutes close as the demo runs.
    let start = 1_767_225_600_000i64; // 2026-01-01T00:00:00Z
    let orders: Vec<(String, Order, i64)> = (0..12i64)
        .map(|i| {
            let order = Order {
                order_id: format!("o-{i}"),
                customer: format!("c-{}", i % 3),
                amount_cents: 100 * (i + 1),
                status: if i % 4 == 3 { "placed" } else { "paid" }.to_string(),
            };
            // Keyed by customer: a store is per input partition, so all of a
            // customer's orders must arrive on one partition.
            (order.customer.clone(), order, start + 20_000 * i)
        })
        .collect();
    let keyed = |schema: PortSchema| schema.with_string_key();
    produce_typed(
        &brokers,
        registry.clone(),
        "sales.orders",
        &keyed(PortSchema::value::<Order>()),
        &orders,
    )
    .await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while handle.health().records_committed < orders.len() as u64 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    print_typed::<String, CustomerSpend>(
        &brokers,
        registry.as_ref(),
        "sales.customer-spend",
        &keyed(PortSchema::value::<CustomerSpend>()),
        "each customer's totals, as published",
    )
    .await?;
    print_typed::<String, OrdersPerMinute>(
        &brokers,
        registry.as_ref(),
        "sales.customer-orders-per-minute",
        &keyed(PortSchema::value::<OrdersPerMinute>()),
        "orders per customer per closed minute",
    )
    .await?;
    print_topic(
        &brokers,
        "sales.customer-spend.dlq",
        "dead letters, with their reason",
    )?;
    handle.stop();
    task.await.context("the runtime task")??;
    let health = handle.health();
    if health.records_committed != orders.len() as u64 {
        bail!(
            "only {} of {} orders were processed",
            health.records_committed,
            orders.len()
        );
    }
    Ok(())
}
