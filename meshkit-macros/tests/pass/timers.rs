//! Timers in the DSL: a wall-clock timer that flushes a store, and a
//! stream-time one, run in the test driver.

use meshkit::state::StoreRef;
use meshkit::testing::TestDriver;
use meshkit::{Context, TransformError};

pub struct Batches;

#[meshkit::product(
    domain = "sales",
    name = "batches",
    version = "1.0.0",
    owner = "team-sales@example.com",
    input(orders, topic = "sales.orders", key = String, value = i64, format = json),
    output(totals, topic = "sales.totals", key = String, value = i64, format = json),
    output(marks, topic = "sales.marks", value = i64, format = json),
    store(pending, key = String, value = i64),
)]
impl Batches {
    #[transform(orders, stores = [pending])]
    fn on_order(customer: &String, cents: &i64, pending: StoreRef<String, i64>, ctx: &mut Context) -> Result<(), TransformError> {
        pending.update(ctx, customer, |total| total.unwrap_or(0) + cents)?;
        Ok(())
    }

    #[timer(every = "1m", stores = [pending])]
    async fn flush(&mut self, pending: StoreRef<String, i64>, ctx: &mut Context) -> Result<(), TransformError> {
        let waiting = pending.open(ctx)?.range(..)?;
        for (customer, total) in waiting {
            pending.delete(ctx, &customer)?;
            Self::OUT.totals.send(ctx, &customer, &total)?;
        }
        Ok(())
    }

    #[timer(every = "10s", clock = stream)]
    fn mark(ctx: &mut Context) -> Result<(), TransformError> {
        let tick = ctx.timestamp().unwrap_or_default();
        Self::OUT.marks.send_value(ctx, &tick)?;
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut driver = TestDriver::start(Batches).await?;
    driver.pipe("orders", &"c-1".to_string(), &250_i64).await?;
    driver.pipe("orders", &"c-1".to_string(), &100_i64).await?;
    assert!(driver.read(Batches::OUT.totals)?.is_empty());
    driver.advance_wall_clock(std::time::Duration::from_secs(60)).await?;
    let totals = driver.read(Batches::OUT.totals)?;
    assert_eq!((totals[0].key.as_str(), totals[0].value), ("c-1", 350));
    // Records 15 s later move stream time past a 10 s tick.
    driver.advance_time(std::time::Duration::from_secs(15));
    driver.pipe("orders", &"c-2".to_string(), &1_i64).await?;
    assert_eq!(driver.read(Batches::OUT.marks)?.len(), 1);
    Ok(())
}
