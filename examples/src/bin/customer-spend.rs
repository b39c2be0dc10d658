//! Runs the stateful `sales/customer-spend` data product.
//!
//! With no `MESHKIT_BROKERS`, it runs end to end on the embedded local Kafka
//! cluster: it starts the product, writes sample orders, prints each
//! customer's totals as the product publishes them, and stops. With
//! `MESHKIT_BROKERS` set, it runs until Ctrl-C / SIGTERM.

use std::time::Duration;

use anyhow::{bail, Context as _};
use meshkit::Runtime;
use meshkit_examples::demo::{
    config_from_env, init_tracing, print_topic, produce_timed, spawn_until_signal, wait_until_running,
};
use meshkit_examples::orders::Order;
use meshkit_examples::spend::CustomerSpendProduct;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();

    let config = config_from_env().context("reading MESHKIT_* settings")?;
    let demo = config.embedded_cluster();
    let runtime = Runtime::new(CustomerSpendProduct, config)?;
    let (handle, task) = spawn_until_signal(runtime);
    if !demo {
        return Ok(task.await.context("the runtime task")??);
    }

    let brokers = wait_until_running(&handle, &task).await?;
    // Orders 20 s apart in event time, so minutes close as the demo runs.
    let start = 1_767_225_600_000i64; // 2026-01-01T00:00:00Z
    let orders: Vec<(String, Vec<u8>, i64)> = (0..12i64)
        .map(|i| {
            let order = Order {
                order_id: format!("o-{i}"),
                customer: format!("c-{}", i % 3),
                amount_cents: 100 * (i + 1),
                status: if i % 4 == 3 { "placed" } else { "paid" }.to_string(),
            };
            let at = start + 20_000 * i;
            // Keyed by customer: a store is per input partition, so all of a
            // customer's orders must arrive on one partition.
            (
                order.customer.clone(),
                serde_json::to_vec(&order).expect("an order encodes"),
                at,
            )
        })
        .collect();
    produce_timed(&brokers, "sales.orders", &orders)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while handle.health().records_committed < orders.len() as u64 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    print_topic(
        &brokers,
        "sales.customer-spend",
        "each customer's totals, as published",
    )?;
    print_topic(
        &brokers,
        "sales.customer-orders-per-minute",
        "orders per customer per closed minute",
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
