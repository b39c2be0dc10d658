//! The DSL adds no logic of its own: the `customer-spend` example, declared
//! with `#[meshkit::product]`, and its hand-written twin (the same product
//! written against the public traits and handles) give identical
//! descriptors, and identical outputs, dead letters and store contents on
//! the same input, run through the test driver.

use std::time::Duration;

use meshkit::schema::PortSchema;
use meshkit::state::{Emit, StoreRef, WindowStoreRef, Windows};
use meshkit::testing::{TestDriver, TestRecord};
use meshkit::{Context, DataProduct, DescriptorError, Output, ProductDescriptor, Record, TransformError};
use meshkit_examples::orders::Order;
use meshkit_examples::spend::{CustomerSpend, CustomerSpendProduct, OrdersPerMinute};

const SPEND_OUT: Output<String, CustomerSpend> = Output::new("spend");
const PER_MINUTE_OUT: Output<String, OrdersPerMinute> = Output::new("per_minute");
const SPEND: StoreRef<String, CustomerSpend> = StoreRef::new("spend");
const PER_MINUTE: WindowStoreRef<String, i64> = WindowStoreRef::new("per_minute");

/// The hand-written twin.
struct HandWritten;

impl DataProduct for HandWritten {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        let minute = Windows::tumbling(Duration::from_secs(60))
            .grace(Duration::from_secs(10))
            .emit(Emit::OnClose);
        let keyed = |schema: PortSchema| schema.with_string_key();
        ProductDescriptor::builder("sales", "customer-spend")
            .version("2.0.0")
            .owner("team-sales@example.com")
            .description("Each customer's paid orders and total spend, and their orders per minute")
            .input_with("orders", "sales.orders", keyed(PortSchema::value::<Order>()))
            .output_with(
                "spend",
                "sales.customer-spend",
                keyed(PortSchema::value::<CustomerSpend>()),
            )
            .output_with(
                "per_minute",
                "sales.customer-orders-per-minute",
                keyed(PortSchema::value::<OrdersPerMinute>()),
            )
            .store("spend")
            .window_store("per_minute", minute)
            .build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        let customer = record.key_as::<String>()?;
        let order = record.value_as::<Order>()?;
        let at = record.timestamp().unwrap_or_default();
        let mut windows = PER_MINUTE.open(ctx)?;
        let update = windows.update(customer, at, |n| n.unwrap_or(0) + 1)?;
        let late = update.late;
        for (window, customer, orders) in update.results(Emit::OnClose, customer) {
            let count = OrdersPerMinute {
                customer: customer.clone(),
                minute_start: window.start,
                orders,
            };
            PER_MINUTE_OUT.send(ctx, &customer, &count)?;
        }
        if late {
            ctx.dead_letter("late-record", "the order came after its minute closed");
        }
        if order.status != "paid" {
            return Ok(());
        }
        let mut spend = SPEND.open(ctx)?;
        let mut totals = spend.get(customer)?.unwrap_or_default();
        totals.orders += 1;
        totals.total_cents += order.amount_cents;
        spend.put(customer, &totals)?;
        SPEND_OUT.send(ctx, customer, &totals)?;
        Ok(())
    }
}

fn input() -> Vec<(Order, i64)> {
    let start = 1_767_225_600_000_i64;
    (0..200_i64)
        .map(|i| {
            let order = Order {
                order_id: format!("o-{i}"),
                customer: format!("c-{}", i % 7),
                amount_cents: 100 + i * 13,
                status: ["paid", "placed", "paid", "cancelled"][i as usize % 4].to_string(),
            };
            // Mostly in order, some late beyond the grace period.
            let at = if i % 29 == 0 {
                start + i * 1_000 - 120_000
            } else {
                start + i * 1_000
            };
            (order, at)
        })
        .collect()
}

type Run = (
    Vec<TestRecord<String, CustomerSpend>>,
    Vec<TestRecord<String, OrdersPerMinute>>,
    Vec<(String, String)>,
    Vec<Option<CustomerSpend>>,
);

async fn run<P: DataProduct>(product: P) -> Result<Run, Box<dyn std::error::Error>> {
    let mut driver = TestDriver::start(product).await?;
    for (order, at) in input() {
        let record = TestRecord::new(&order.customer, &order).at(at);
        driver.pipe_record("orders", record).await?;
    }
    driver
        .pipe_raw("orders", Some(b"c-1"), Some(b"{not an order"))
        .await?;
    let spend = driver.read(SPEND_OUT)?;
    let per_minute = driver.read(PER_MINUTE_OUT)?;
    let dead = (driver.dead_letters().into_iter())
        .map(|d| (d.reason, d.message))
        .collect();
    let mut totals = Vec::new();
    for c in 0..7 {
        totals.push(driver.store(SPEND)?.get(&format!("c-{c}"))?);
    }
    Ok((spend, per_minute, dead, totals))
}

#[tokio::test]
async fn the_dsl_product_and_its_hand_written_twin_behave_identically(
) -> Result<(), Box<dyn std::error::Error>> {
    assert_eq!(
        CustomerSpendProduct.descriptor()?,
        HandWritten.descriptor()?,
        "identical descriptors"
    );
    let dsl = run(CustomerSpendProduct).await?;
    let hand = run(HandWritten).await?;
    assert!(
        dsl.0.len() > 50,
        "the input exercises the product: {} totals",
        dsl.0.len()
    );
    assert!(!dsl.1.is_empty(), "windows closed");
    assert!(
        dsl.2.iter().any(|(reason, _)| reason == "late-record"),
        "late orders: {:?}",
        dsl.2
    );
    assert!(
        dsl.2.iter().any(|(reason, _)| reason == "bad-magic"),
        "the malformed record: {:?}",
        dsl.2
    );
    assert_eq!(dsl.0, hand.0, "identical totals published");
    assert_eq!(dsl.1, hand.1, "identical windows published");
    assert_eq!(dsl.2, hand.2, "identical dead letters");
    assert_eq!(dsl.3, hand.3, "identical store contents");
    assert!(dsl.1.iter().all(|w| w.value.orders > 0));
    Ok(())
}
