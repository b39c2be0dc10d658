//! `sales/orders-with-customers`: an enrichment product, written with the
//! stream operators. Each order is published with what the `crm` domain's
//! customers product says of its customer at that moment: the orders
//! stream is joined with the customers table (a compacted topic of another
//! domain, kept per task in a store, updates and deletions included).
//!
//! Input `orders` (topic `sales.orders`): Avro [`Order`]s keyed by customer.
//! Table `customers` (topic `crm.customers`): Avro [`Customer`]s keyed by
//! customer id; a tombstone deletes one. Both topics have the same partition
//! count and are partitioned by customer (checked at start). Output
//! `enriched` (topic `sales.orders-with-customers`): Avro
//! [`OrderWithCustomer`]s keyed by customer; an order whose customer is
//! unknown is published with no name and tier `unknown`.

use apache_avro::AvroSchema;
use meshkit::ops::Topology;
use serde::{Deserialize, Serialize};

use crate::orders::Order;

/// A customer, as the `crm.customers` product publishes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, AvroSchema)]
#[avro(namespace = "com.example.crm")]
pub struct Customer {
    /// The customer's name.
    pub name: String,
    /// `gold`, `silver` or `bronze`.
    pub tier: String,
}

/// An order with its customer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, AvroSchema)]
#[avro(namespace = "com.example.sales")]
pub struct OrderWithCustomer {
    /// The order.
    pub order_id: String,
    /// Its amount, in cents.
    pub amount_cents: i64,
    /// The customer's name, if the customer is known.
    pub customer_name: Option<String>,
    /// The customer's tier, `unknown` if the customer is not known.
    pub tier: String,
}

/// The data product.
#[derive(Debug, Clone, Default)]
pub struct OrdersWithCustomers;

#[meshkit::product(
    domain = "sales", name = "orders-with-customers", version = "1.0.0", owner = "team-sales@example.com",
    description = "Orders with their customer's name and tier",
    input(orders, topic = "sales.orders", key = String, value = Order),
    table(customers, topic = "crm.customers", key = String, value = Customer),
    output(enriched, topic = "sales.orders-with-customers", key = String, value = OrderWithCustomer),
)]
impl OrdersWithCustomers {
    #[topology]
    fn flow(t: &mut Topology) {
        let customers = t.table(Self::IN.customers);
        t.stream(Self::IN.orders)
            .left_join(&customers, |order, customer| OrderWithCustomer {
                order_id: order.order_id.clone(),
                amount_cents: order.amount_cents,
                customer_name: customer.map(|c| c.name.clone()),
                tier: customer.map_or_else(|| "unknown".to_string(), |c| c.tier.clone()),
            })
            .to(Self::OUT.enriched);
    }
}

#[cfg(test)]
mod tests {
    use meshkit::testing::TestDriver;

    use super::*;

    fn order(id: &str, customer: &str) -> Order {
        Order {
            order_id: id.into(),
            customer: customer.into(),
            amount_cents: 500,
            status: "paid".into(),
        }
    }

    #[tokio::test]
    async fn orders_carry_their_customer_as_the_table_holds_it_then() -> Result<(), Box<dyn std::error::Error>>
    {
        let mut driver = TestDriver::start(OrdersWithCustomers).await?;
        let (ada, bob) = ("c-ada".to_string(), "c-bob".to_string());
        let customer = |name: &str, tier: &str| Customer {
            name: name.into(),
            tier: tier.into(),
        };
        driver.pipe("customers", &ada, &customer("Ada", "silver")).await?;
        driver.pipe("orders", &ada, &order("o-1", "c-ada")).await?;
        driver.pipe("orders", &bob, &order("o-2", "c-bob")).await?;
        driver.pipe("customers", &ada, &customer("Ada", "gold")).await?;
        driver.pipe("orders", &ada, &order("o-3", "c-ada")).await?;
        driver.pipe_tombstone("customers", &ada).await?;
        driver.pipe("orders", &ada, &order("o-4", "c-ada")).await?;

        let enriched: Vec<(String, String)> = driver
            .read(OrdersWithCustomers::OUT.enriched)?
            .into_iter()
            .map(|r| (r.value.order_id, r.value.tier))
            .collect();
        let want = [
            ("o-1", "silver"),
            ("o-2", "unknown"),
            ("o-3", "gold"),
            ("o-4", "unknown"),
        ];
        assert_eq!(enriched, want.map(|(o, t)| (o.to_string(), t.to_string())));
        assert!(
            driver.dead_letters().is_empty(),
            "tombstones are deletions, not dead letters"
        );
        Ok(())
    }
}
