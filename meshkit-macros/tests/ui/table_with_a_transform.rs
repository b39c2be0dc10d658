use meshkit::ops::Topology;

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
    #[topology]
    fn flow(t: &mut Topology) {
        t.stream(Self::IN.orders).map_values(|o| o.amount.to_string()).to(Self::OUT.enriched);
    }

    #[transform(customers)]
    fn on_customer(key: &String, customer: &Customer, ctx: &mut meshkit::Context) -> Result<(), meshkit::TransformError> {
        let _ = (key, customer, ctx);
        Ok(())
    }
}

fn main() {}
