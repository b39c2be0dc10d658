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
    table(customers, topic = "crm.customers", value = Customer, format = json),
    output(enriched, topic = "sales.enriched", key = String, value = String, format = json),
)]
impl Enrich {
    #[topology]
    fn flow(t: &mut Topology) {
        let customers = t.table(Self::IN.customers);
        t.stream(Self::IN.orders).join(&customers, |o, c| format!("{} {}", o.amount, c.name)).to(Self::OUT.enriched);
    }
}

fn main() {}
