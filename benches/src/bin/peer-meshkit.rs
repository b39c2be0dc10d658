//! The meshkit contender of the peer benchmark (`benches/benches/peers`):
//! workloads w1, w2 and w3 of `benches/peers/README.md`, each written with
//! the DSL as a user would. `peer-meshkit <workload>`.
//!
//! Configured from `MESHKIT_*` (the harness sets the brokers, application
//! id, state directory, commit interval, guarantee, threads and registry);
//! the topics are those of the declarations. Runs until SIGTERM or Ctrl-C.

use apache_avro::AvroSchema;
use meshkit::state::{Emit, StoreRef, WindowStoreRef};
use meshkit::{Config, Context, DataProduct, Record, Runtime, TransformError};
use serde::{Deserialize, Serialize};

/// w1's input: an order.
#[derive(Debug, Clone, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "bench")]
pub struct Order {
    /// Unique order id.
    pub order_id: String,
    /// The customer, also the record's key.
    pub customer: String,
    /// Amount in cents.
    pub amount_cents: i64,
    /// `placed`, `paid` or `cancelled`.
    pub status: String,
}

/// w1's output: an open order with its band and priority.
#[derive(Debug, Clone, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "bench")]
pub struct EnrichedOrder {
    /// Unique order id.
    pub order_id: String,
    /// The customer.
    pub customer: String,
    /// Amount in cents.
    pub amount_cents: i64,
    /// `placed` or `paid`.
    pub status: String,
    /// `small`, `medium` or `large`.
    pub amount_band: String,
    /// Large paid orders.
    pub priority: bool,
}

/// w1: drops cancelled orders, adds the band and priority to the others.
#[derive(Clone)]
pub struct FilterEnrich;

#[meshkit::product(
    domain = "bench",
    name = "filter-enrich",
    version = "1.0.0",
    owner = "bench",
    description = "Open orders with their price band and priority",
    input(orders, topic = "bench.w1.orders", value = Order),
    output(enriched, topic = "bench.w1.enriched", value = EnrichedOrder),
)]
impl FilterEnrich {
    #[transform(orders, record)]
    fn on_order(record: &Record<'_>, order: &Order, ctx: &mut Context) -> Result<(), TransformError> {
        if order.status == "cancelled" {
            return Ok(());
        }
        let amount_band = match order.amount_cents {
            ..1_000 => "small",
            1_000..10_000 => "medium",
            _ => "large",
        };
        let enriched = EnrichedOrder {
            order_id: order.order_id.clone(),
            customer: order.customer.clone(),
            amount_cents: order.amount_cents,
            status: order.status.clone(),
            amount_band: amount_band.to_string(),
            priority: amount_band == "large" && order.status == "paid",
        };
        ctx.emit_value("enriched", record.key().map(<[u8]>::to_vec), &enriched)?;
        Ok(())
    }
}

/// w2: a running sum per key in a store, every update emitted.
#[derive(Clone)]
pub struct RunningSum;

#[meshkit::product(
    domain = "bench",
    name = "running-sum",
    version = "1.0.0",
    owner = "bench",
    description = "A running sum per key, every update emitted",
    input(numbers, topic = "bench.w2.numbers"),
    store(sums, key = String, value = i64),
    output(totals, topic = "bench.w2.sums"),
)]
impl RunningSum {
    #[transform(numbers, stores = [sums], record)]
    fn on_number(
        record: &Record<'_>,
        value: Option<&[u8]>,
        sums: StoreRef<String, i64>,
        ctx: &mut Context,
    ) -> Result<(), TransformError> {
        let key = utf8_key(record)?;
        let mut store = sums.open(ctx)?;
        let total = store.get(&key)?.unwrap_or(0) + be_i64(value)?;
        store.put(&key, &total)?;
        ctx.emit("totals", Some(key.into_bytes()), total.to_be_bytes().to_vec())?;
        Ok(())
    }
}

/// w3: a count per key per one-minute tumbling window of event time, each
/// window's final count emitted when it closes.
#[derive(Clone)]
pub struct WindowCount;

#[meshkit::product(
    domain = "bench",
    name = "window-count",
    version = "1.0.0",
    owner = "bench",
    description = "Records per key per minute of event time, final counts only",
    input(events, topic = "bench.w3.events"),
    store(per_minute, key = String, value = i64, window(size = "1m", emit = on_close)),
    output(counts, topic = "bench.w3.counts"),
)]
impl WindowCount {
    #[transform(events, stores = [per_minute], record)]
    fn on_event(
        record: &Record<'_>,
        _value: Option<&[u8]>,
        per_minute: WindowStoreRef<String, i64>,
        ctx: &mut Context,
    ) -> Result<(), TransformError> {
        let Some(ts) = record.timestamp() else {
            return Err(TransformError::new("the record has no timestamp"));
        };
        let key = utf8_key(record)?;
        let update = per_minute.open(ctx)?.update(&key, ts, |n| n.unwrap_or(0) + 1)?;
        for (window, key, count) in update.results(Emit::OnClose, &key) {
            let out_key = format!("{key}@{}", window.start);
            ctx.emit("counts", Some(out_key.into_bytes()), count.to_be_bytes().to_vec())?;
        }
        Ok(())
    }
}

fn utf8_key(record: &Record<'_>) -> Result<String, TransformError> {
    std::str::from_utf8(record.key().unwrap_or_default())
        .map(str::to_string)
        .map_err(|e| TransformError::new("the key is not UTF-8").with_source(e))
}

fn be_i64(value: Option<&[u8]>) -> Result<i64, TransformError> {
    let bytes: [u8; 8] = value
        .unwrap_or_default()
        .try_into()
        .map_err(|_| TransformError::new("the value is not an 8-byte integer"))?;
    Ok(i64::from_be_bytes(bytes))
}

/// Runs `product` until SIGTERM or Ctrl-C; each processing thread has its
/// own (they keep nothing but their stores).
async fn run(product: impl DataProduct + Clone) -> anyhow::Result<()> {
    let runtime = Runtime::new(product, Config::from_env()?)?.product_per_thread();
    let handle = runtime.handle();
    let task = tokio::spawn(async move { runtime.await });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    handle.stop();
    task.await??;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    match std::env::args().nth(1).as_deref() {
        Some("w1") => run(FilterEnrich).await,
        Some("w2") => run(RunningSum).await,
        Some("w3") => run(WindowCount).await,
        other => anyhow::bail!("usage: peer-meshkit w1|w2|w3 (got {other:?})"),
    }
}
