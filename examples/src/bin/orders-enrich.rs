//! Runs the `sales/orders-enriched` data product.
//!
//! With no `MESHKIT_BROKERS`, it runs end to end on the embedded local Kafka
//! cluster and the embedded schema registry: it starts the product (which
//! registers its output schema), registers the input schema as an upstream
//! producer would, writes a few sample Avro orders (and two malformed
//! records) to its input topic, prints what the product consumed and
//! produced and what went to the dead-letter topic, and stops.
//!
//! With `MESHKIT_BROKERS` set, it runs until Ctrl-C / SIGTERM, like a service.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use meshkit::schema::registry::EmbeddedRegistry;
use meshkit::schema::{codec_for, wire, SchemaRegistry};
use meshkit::Runtime;
use meshkit_examples::demo::{
    config_from_env, init_tracing, print_topic, produce_inputs, spawn_until_signal, wait_until_running,
};
use meshkit_examples::orders::{Order, OrdersEnriched};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();

    let config = config_from_env().context("reading MESHKIT_* settings")?;
    let demo = config.embedded_cluster();
    let mut runtime = Runtime::new(OrdersEnriched { verbose: demo }, config)?;
    // The demo plays the upstream producer too, so it holds the registry
    // (otherwise the runtime opens the one its configuration names).
    let registry = Arc::new(EmbeddedRegistry::in_memory());
    if demo {
        runtime = runtime.with_registry(registry.clone());
    }
    let (handle, task) = spawn_until_signal(runtime);

    if demo {
        let brokers = wait_until_running(&handle, &task).await?;
        let order_schema = codec_for::<Order>();
        let id = registry
            .register("sales.orders-value", order_schema.schema_json())
            .await
            .context("registering the input schema")?
            .id;
        let orders = sample_orders(id)?;
        produce_inputs(&brokers, "sales.orders", &orders)?;
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
        print_topic(
            &brokers,
            "sales.orders-enriched.dlq",
            "dead letters, with their reason",
        )?;
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

fn sample_orders(schema_id: u32) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let statuses = ["placed", "paid", "cancelled", "paid"];
    let codec = codec_for::<Order>();
    let mut orders = Vec::new();
    for i in 0..8_i64 {
        let order = Order {
            order_id: format!("o-{i}"),
            customer: format!("c-{}", i % 3),
            amount_cents: 250 * (i + 1) * (i + 1),
            status: statuses[i as usize % statuses.len()].to_string(),
        };
        let mut framed = Vec::new();
        wire::write_header(&mut framed, schema_id);
        codec.encode(&order, &mut framed)?;
        orders.push((order.order_id.clone(), framed));
    }
    // JSON where Avro is expected, and a schema id nobody registered.
    orders.push(("o-json".into(), b"{\"order_id\": \"o-json\"}".to_vec()));
    let mut unknown = Vec::new();
    wire::write_header(&mut unknown, 4242);
    orders.push(("o-unknown".into(), unknown));
    Ok(orders)
}
