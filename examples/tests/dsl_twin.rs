//! The DSL adds no logic of its own: the `customer-spend` example, declared
//! with `#[meshkit::product]`, and its hand-written twin (the same product
//! written against the traits, as it was before the DSL) give identical
//! descriptors and identical outputs, dead letters and store contents on the
//! same input. (Dead letters requested by the transform are the runtime's to
//! collect and are compared by the runtime tests.)

use meshkit::state::{Emit, StoreRef};
use meshkit::{
    Context, DataProduct, DescriptorError, OutputRecord, ProductDescriptor, Record, TransformError,
};
use meshkit_examples::orders::Order;
use meshkit_examples::spend::{per_minute, CustomerSpend, CustomerSpendProduct, OrdersPerMinute};

/// The hand-written twin.
struct HandWritten;

impl DataProduct for HandWritten {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        ProductDescriptor::builder("sales", "customer-spend")
            .version("1.0.0")
            .owner("team-sales@example.com")
            .description("Each customer's paid orders and total spend, updated on every paid order")
            .tag("sales")
            .input("orders", "sales.orders")
            .output("spend", "sales.customer-spend")
            .output("per_minute", "sales.customer-orders-per-minute")
            .store("spend")
            .window_store("per_minute", per_minute())
            .build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        let order: Order = serde_json::from_slice(record.value().unwrap_or_default())
            .map_err(|e| TransformError::new("not a valid order").with_source(e))?;
        if let Some(ts) = record.timestamp() {
            let mut windows = ctx.window_store::<String, u64>("per_minute")?;
            let update = windows.update(&order.customer, ts, |n| n.unwrap_or(0) + 1)?;
            let late = update.late;
            for (window, customer, orders) in update.results(Emit::OnClose, &order.customer) {
                let out = OrdersPerMinute {
                    customer: customer.clone(),
                    minute_start: window.start,
                    orders,
                };
                let json = serde_json::to_vec(&out)
                    .map_err(|e| TransformError::new("cannot encode").with_source(e))?;
                ctx.emit("per_minute", Some(customer.into_bytes()), json)?;
            }
            if late {
                ctx.dead_letter(
                    "late-record",
                    format!("order at {ts} arrived after its minute closed"),
                );
            }
        }
        if order.status != "paid" {
            return Ok(());
        }
        let mut spend = ctx.store::<String, CustomerSpend>("spend")?;
        let mut totals = spend.get(&order.customer)?.unwrap_or_else(|| CustomerSpend {
            customer: order.customer.clone(),
            ..CustomerSpend::default()
        });
        totals.orders += 1;
        totals.total_cents += order.amount_cents;
        spend.put(&order.customer, &totals)?;
        let json =
            serde_json::to_vec(&totals).map_err(|e| TransformError::new("cannot encode").with_source(e))?;
        ctx.emit("spend", Some(order.customer.into_bytes()), json)?;
        Ok(())
    }
}

fn input() -> Vec<(Vec<u8>, i64)> {
    let start = 1_767_225_600_000_i64;
    let mut records = Vec::new();
    for i in 0..200_i64 {
        let order = Order {
            order_id: format!("o-{i}"),
            customer: format!("c-{}", i % 7),
            amount_cents: 100 + i * 13,
            status: ["paid", "placed", "paid", "cancelled"][i as usize % 4].to_string(),
        };
        // Mostly in order, some late beyond the grace period, one malformed.
        let at = if i % 29 == 0 {
            start + i * 1_000 - 120_000
        } else {
            start + i * 1_000
        };
        records.push((serde_json::to_vec(&order).expect("json"), at));
    }
    records.push((b"{not an order".to_vec(), start + 500_000));
    records
}

type Run = (
    Vec<(String, OutputRecord)>,
    Vec<Option<String>>,
    Vec<Option<CustomerSpend>>,
);

async fn run<P: DataProduct>(mut product: P) -> Run {
    let descriptor = product.descriptor().expect("valid");
    let mut ctx = Context::with_memory_state(&descriptor);
    let mut results = Vec::new();
    for (offset, (value, at)) in input().iter().enumerate() {
        let record = Record::new("orders", "sales.orders", 0, offset as i64)
            .with_value(value)
            .with_timestamp(*at);
        let outcome = product.process(&record, &mut ctx).await;
        results.push(outcome.err().map(|e| e.to_string()));
    }
    let emitted = ctx.take_emitted();
    let totals = (0..7)
        .map(|c| {
            StoreRef::<String, CustomerSpend>::new("spend")
                .open(&mut ctx)
                .expect("store")
                .get(&format!("c-{c}"))
                .expect("get")
        })
        .collect();
    (emitted, results, totals)
}

#[tokio::test]
async fn the_dsl_product_and_its_hand_written_twin_behave_identically() {
    assert_eq!(
        CustomerSpendProduct.descriptor().expect("dsl"),
        HandWritten.descriptor().expect("hand-written"),
        "identical descriptors"
    );
    let (dsl_out, dsl_results, dsl_totals) = run(CustomerSpendProduct).await;
    let (hand_out, hand_results, hand_totals) = run(HandWritten).await;
    assert!(
        dsl_out.len() > 100,
        "the input exercises the product: {} outputs",
        dsl_out.len()
    );
    assert!(
        dsl_out.iter().any(|(port, _)| port == "per_minute"),
        "windows closed"
    );
    assert!(
        dsl_results.iter().any(Option::is_some),
        "the malformed record fails"
    );
    assert_eq!(dsl_out, hand_out, "identical outputs");
    assert_eq!(dsl_results, hand_results, "identical failures");
    assert_eq!(dsl_totals, hand_totals, "identical store contents");
    let windows: Vec<OrdersPerMinute> = dsl_out
        .iter()
        .filter(|(port, _)| port == "per_minute")
        .map(|(_, r)| serde_json::from_slice(r.value.as_deref().expect("value")).expect("json"))
        .collect();
    assert!(windows.iter().all(|w| w.orders > 0));
}
