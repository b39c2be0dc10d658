#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Order {
    pub amount: i64,
}

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Customer {
    pub name: String,
}

pub struct Enrich;

#[meshkit::product(
    domain = "sales",
    name = "enrich",
    version = "1.0.0",
    owner = "team-sales@example.com",
    input(orders, topic = "sales.orders", key = String, value = Order, format = json),
    table(customers, topic = "crm.customers", key = String, value = Customer, format = json),
    output(enriched, topic = "sales.enriched", key = String, value = String, format = json),
)]
impl Enrich {
    #[transform(orders)]
    fn on_order(key: &String, order: &Order, ctx: &mut meshkit::Context) -> Result<(), meshkit::TransformError> {
        Self::OUT.enriched.send(ctx, key, &order.amount.to_string())?;
        Ok(())
    }
}

fn main() {}
