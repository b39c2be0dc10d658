//! `sales/order-stats`: a product written with the stream operators. It
//! keeps each customer's running spend (per input key) and counts the
//! orders of each status per minute of event time (by another key than the
//! input's: through a repartition topic, so that each status is counted
//! whole however the orders are partitioned), publishing each minute's
//! count when it closes. Orders with a negative amount are dead-lettered.
//!
//! Input `orders` (topic `sales.orders`): Avro [`Order`]s keyed by customer.
//! Outputs `spend` (topic `sales.order-stats.spend`): Avro [`CustomerSpend`]s
//! keyed by customer; `per_status` (topic `sales.order-stats.per-status`):
//! Avro [`StatusCount`]s keyed by status.
//!
//! The product is the declaration and the topology below: 24 lines as
//! rustfmt lays them out (`bash scripts/count-lines.sh examples/src/stats.rs`
//! counts them), against the 40 of its imperative sibling
//! [`spend`](crate::spend), which does less and counts per customer only
//! because customers are the input's key.

use std::time::Duration;

use meshkit::ops::{Topology, Windowed};
use meshkit::state::{Emit, Windows};

use crate::orders::Order;

/// The data product: its declaration, and its logic as a topology.
#[derive(Debug, Clone, Default)]
pub struct OrderStats;

// product: begin
const MINUTE: Duration = Duration::from_secs(60);
#[meshkit::product(
    domain = "sales", name = "order-stats", version = "1.0.0", owner = "team-sales@example.com",
    input(orders, topic = "sales.orders", key = String, value = Order),
    output(spend, topic = "sales.order-stats.spend", key = String, value = i64),
    output(per_status, topic = "sales.order-stats.per-status", key = Windowed<String>, value = i64),
)]
impl OrderStats {
    #[topology]
    fn flow(t: &mut Topology) {
        let orders = t
            .stream(Self::IN.orders)
            .dead_letter_if("negative-amount", |_, o| o.amount_cents < 0);
        orders
            .group_by_key()
            .aggregate("spend", || 0, |total, _, o| total + o.amount_cents)
            .to(Self::OUT.spend);
        orders
            .group_by(|_, o| o.status.clone())
            .window(Windows::tumbling(MINUTE).grace(5 * MINUTE).emit(Emit::OnClose))
            .count("per-status")
            .to(Self::OUT.per_status);
    }
}
// product: end

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use meshkit::testing::{TestDriver, TestRecord};

    use super::*;

    /// 2026-01-01T00:00:00Z, a minute's start.
    const MINUTE: i64 = 1_767_225_600_000;

    fn order(i: i64, customer: &str, amount_cents: i64, status: &str) -> Order {
        Order {
            order_id: format!("o-{i}"),
            customer: customer.into(),
            amount_cents,
            status: status.into(),
        }
    }

    #[tokio::test]
    async fn totals_per_customer_counts_per_status_minute_and_negative_amounts_dead_lettered(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let mut driver = TestDriver::start(OrderStats).await?;
        let statuses = ["paid", "placed", "paid", "cancelled"];
        let mut orders = Vec::new();
        for i in 0..40i64 {
            let amount = if i % 13 == 5 { -100 } else { 100 + i };
            let o = order(i, &format!("c-{}", i % 3), amount, statuses[(i % 4) as usize]);
            orders.push((o, MINUTE + 20_000 * i));
        }
        for (o, at) in &orders {
            let record = TestRecord::new(&o.customer, o).at(*at);
            driver.pipe_record("orders", record).await?;
        }
        // The independent computation: the same sums and counts by hand.
        let kept: Vec<&(Order, i64)> = orders.iter().filter(|(o, _)| o.amount_cents >= 0).collect();
        let mut totals: BTreeMap<String, i64> = BTreeMap::new();
        for (o, _) in &kept {
            *totals.entry(o.customer.clone()).or_default() += o.amount_cents;
        }
        let last = orders.last().map_or(0, |(_, at)| *at);
        let mut minutes: BTreeMap<(String, i64), i64> = BTreeMap::new();
        for (o, at) in &kept {
            let start = at - (at - MINUTE).rem_euclid(60_000);
            // Only minutes whose end and 5 minutes of grace passed before
            // the last order's time are closed.
            if start + 60_000 + 300_000 <= last {
                *minutes.entry((o.status.clone(), start)).or_default() += 1;
            }
        }

        assert!(!minutes.is_empty());
        let spend = driver.read(OrderStats::OUT.spend)?;
        assert_eq!(spend.len(), kept.len(), "one update per kept order");
        let mut latest: BTreeMap<String, i64> = BTreeMap::new();
        for r in &spend {
            latest.insert(r.key.clone(), r.value);
        }
        assert_eq!(latest, totals);

        let counts = driver.read(OrderStats::OUT.per_status)?;
        let got: BTreeMap<(String, i64), i64> = counts
            .iter()
            .map(|r| ((r.key.key.clone(), r.key.window.start), r.value))
            .collect();
        assert_eq!(got.len(), counts.len(), "each minute's count is published once");
        assert_eq!(got, minutes);
        assert!(counts
            .iter()
            .all(|r| r.key.window.end - r.key.window.start == 60_000));

        let dead = driver.dead_letters();
        assert_eq!(dead.len(), orders.len() - kept.len());
        assert!(dead.iter().all(|d| d.reason == "negative-amount"), "{dead:?}");
        Ok(())
    }
}
