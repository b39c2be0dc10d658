//! `{{domain}}/{{name}}`: a stateful data product. It reads Avro payments
//! keyed by account, keeps each account's balance in a store (RocksDB, with
//! a changelog, exactly as consistent as the output), publishes the new
//! balance on every payment, and dead-letters payments of zero.

use apache_avro::AvroSchema;
use meshkit::state::StoreRef;
use meshkit::{Context, TransformError};
use serde::{Deserialize, Serialize};

/// A payment, as Avro on the input topic (schema in the registry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
pub struct Payment {
    /// Unique payment id.
    pub payment_id: String,
    /// Amount in cents: credits are positive, debits negative.
    pub amount_cents: i64,
}

/// An account's balance, as this product keeps and publishes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, AvroSchema)]
pub struct Balance {
    /// The account (the input's key).
    pub account: String,
    /// Payments so far.
    pub payments: i64,
    /// Balance in cents.
    pub balance_cents: i64,
}

/// The data product.
#[derive(Debug, Clone, Default)]
pub struct {{Type}};

#[meshkit::product(
    domain = "{{domain}}", name = "{{name}}", version = "0.1.0", owner = "{{owner}}",
    description = "Each account's balance, updated on every payment",
    input(payments, topic = "{{domain}}.payments", key = String, value = Payment),
    output(balances, topic = "{{domain}}.{{name}}", key = String, value = Balance),
    store(balances, key = String, value = Balance),
)]
impl {{Type}} {
    #[transform(payments, stores = [balances])]
    fn on_payment(
        account: &String,
        payment: &Payment,
        balances: StoreRef<String, Balance>,
        ctx: &mut Context,
    ) -> Result<(), TransformError> {
        if payment.amount_cents == 0 {
            ctx.dead_letter("zero-amount", format!("payment {} moves nothing", payment.payment_id));
            return Ok(());
        }
        let balance = balances.update(ctx, account, |balance| {
            let balance = balance.unwrap_or_default();
            Balance {
                account: account.clone(),
                payments: balance.payments + 1,
                balance_cents: balance.balance_cents + payment.amount_cents,
            }
        })?;
        Self::OUT.balances.send(ctx, account, &balance)?;
        Ok(())
    }
}

/// Sample input for the demo: `(account, payment, timestamp)`.
pub fn samples() -> Vec<(String, Payment, i64)> {
    let start = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    (0..6)
        .map(|i| {
            let payment = Payment { payment_id: format!("p-{i}"), amount_cents: [1_000, 250, -400, 0, 75, 5_000][i] };
            (format!("a-{}", i % 2), payment, start + 1_000 * i as i64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use meshkit::testing::TestDriver;

    use super::*;

    const BALANCES: StoreRef<String, Balance> = StoreRef::new("balances");

    fn payment(id: &str, amount_cents: i64) -> Payment {
        Payment { payment_id: id.into(), amount_cents }
    }

    #[tokio::test]
    async fn each_payment_publishes_the_new_balance() -> Result<(), Box<dyn std::error::Error>> {
        let mut driver = TestDriver::start({{Type}}).await?;
        driver.pipe("payments", &"a-1".to_string(), &payment("p-1", 1_000)).await?;
        driver.pipe("payments", &"a-2".to_string(), &payment("p-2", 50)).await?;
        driver.pipe("payments", &"a-1".to_string(), &payment("p-3", -300)).await?;
        let balances = driver.read({{Type}}::OUT.balances)?;
        let a1: Vec<i64> = balances.iter().filter(|b| b.key == "a-1").map(|b| b.value.balance_cents).collect();
        assert_eq!(a1, [1_000, 700]);
        assert_eq!(driver.store(BALANCES)?.get(&"a-2".to_string())?.map(|b| b.payments), Some(1));
        Ok(())
    }

    #[tokio::test]
    async fn zero_payments_and_records_that_are_not_avro_are_dead_letters() -> Result<(), Box<dyn std::error::Error>> {
        let mut driver = TestDriver::start({{Type}}).await?;
        driver.pipe("payments", &"a-1".to_string(), &payment("p-1", 0)).await?;
        driver.pipe_raw("payments", Some(b"a-1"), Some(b"{\"amount_cents\": 5}")).await?;
        let reasons: Vec<String> = driver.dead_letters().into_iter().map(|d| d.reason).collect();
        assert_eq!(reasons, ["zero-amount", "bad-magic"]);
        assert_eq!(driver.store(BALANCES)?.get(&"a-1".to_string())?, None);
        Ok(())
    }

    #[tokio::test]
    async fn balances_survive_a_restart() -> Result<(), Box<dyn std::error::Error>> {
        let mut driver = TestDriver::start({{Type}}).await?;
        driver.pipe("payments", &"a-1".to_string(), &payment("p-1", 1_000)).await?;
        driver.restart({{Type}});
        driver.pipe("payments", &"a-1".to_string(), &payment("p-2", 1)).await?;
        let last = driver.read({{Type}}::OUT.balances)?.pop().map(|b| b.value);
        assert_eq!(last, Some(Balance { account: "a-1".into(), payments: 2, balance_cents: 1_001 }));
        Ok(())
    }
}
