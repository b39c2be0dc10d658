//! Runs the `sales/order-stats` data product, written with the stream
//! operators.
//!
//! With no `MESHKIT_BROKERS`, it runs end to end on the embedded local Kafka
//! cluster and the embedded schema registry: it starts the product, writes
//! sample Avro orders over two minutes of event time as an upstream
//! producer would, prints each customer's running spend and each status's
//! orders per closed minute as the product publishes them (decoded), and
//! the dead letters, and stops. With `MESHKIT_BROKERS` set, it runs until
//! Ctrl-C / SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use meshkit::ops::Windowed;
use meshkit::schema::registry::EmbeddedRegistry;
use meshkit::schema::PortSchema;
use meshkit::Runtime;
use meshkit_examples::demo::{
    config_from_env, init_tracing, print_topic, print_typed, produce_typed, spawn_until_signal,
    wait_until_running,
};
use meshkit_examples::orders::Order;
use meshkit_examples::stats::OrderStats;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();

    let config = config_from_env().context("reading MESHKIT_* settings")?;
    let demo = config.embedded_cluster();
    let mut runtime = Runtime::new(OrderStats, config)?;
    let registry = Arc::new(EmbeddedRegistry::in_memory());
    if demo {
        runtime = runtime.with_registry(registry.clone());
    }
    let (handle, task) = spawn_until_signal(runtime);
    if !demo {
        return Ok(task.await.context("the runtime task")??);
    }

    let brokers = wait_until_running(&handle, &task).await?;
    // Orders 15 s apart in event time. Order 5 has a negative amount: a dead
    // letter. Records re-keyed by status reach their task from every input
    // partition, so in a looser order than any one partition's: hence the
    // windows' grace, and last orders beyond it, sent once the others are
    // in, to close the minutes before them.
    let start = 1_767_225_600_000i64; // 2026-01-01T00:00:00Z
    let statuses = ["paid", "placed", "paid", "cancelled"];
    let orders: Vec<(String, Order, i64)> = (0..10i64)
        .map(|i| {
            let order = Order {
                order_id: format!("o-{i}"),
                customer: format!("c-{}", i % 3),
                amount_cents: if i == 5 { -100 } else { 100 * (i + 1) },
                status: statuses[(i % 4) as usize].to_string(),
            };
            (order.customer.clone(), order, start + 15_000 * i)
        })
        .collect();
    let keyed = PortSchema::value::<Order>().with_string_key();
    produce_typed(&brokers, registry.clone(), "sales.orders", &keyed, &orders).await?;
    // Each order is read twice: from the input, and per status from the
    // repartition topic (but the dead letter).
    let read = |orders: usize| 2 * orders as u64 - 1;
    wait_for(&handle, read(orders.len())).await;
    // The last orders, one per status (stream time is per task, and each
    // status is counted in one), come once the others are in.
    let last: Vec<(String, Order, i64)> = ["paid", "placed", "cancelled"]
        .iter()
        .map(|status| {
            let order = Order {
                order_id: format!("o-last-{status}"),
                customer: "c-0".into(),
                amount_cents: 100,
                status: status.to_string(),
            };
            (order.customer.clone(), order, start + 600_000)
        })
        .collect();
    produce_typed(&brokers, registry.clone(), "sales.orders", &keyed, &last).await?;
    let expected = read(orders.len() + last.len());
    wait_for(&handle, expected).await;
    print_typed::<String, i64>(
        &brokers,
        registry.as_ref(),
        "sales.order-stats.spend",
        &PortSchema::value::<i64>().with_string_key(),
        "each customer's spend so far, in cents, as published",
    )
    .await?;
    print_typed::<Windowed<String>, i64>(
        &brokers,
        registry.as_ref(),
        "sales.order-stats.per-status",
        &PortSchema::value::<i64>().with_key::<Windowed<String>>(),
        "orders per status per closed minute",
    )
    .await?;
    print_topic(
        &brokers,
        "sales.order-stats.dlq",
        "dead letters, with their reason",
    )?;
    handle.stop();
    task.await.context("the runtime task")??;
    let health = handle.health();
    if health.records_committed != expected {
        bail!(
            "only {} of {expected} records were processed",
            health.records_committed
        );
    }
    Ok(())
}

/// Waits (up to a minute) until the product has committed `records`.
async fn wait_for(handle: &meshkit::RuntimeHandle, records: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while handle.health().records_committed < records && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
