//! Table and global table ports, read by the topology: orders enriched
//! with their customer (a co-partitioned table) and their country (a global
//! table, looked up by a field of the order).

use meshkit::ops::Topology;
use meshkit::testing::TestDriver;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Order {
    pub country: String,
    pub cents: i64,
}

pub struct Enrich;

#[meshkit::product(
    domain = "sales",
    name = "enrich",
    version = "1.0.0",
    owner = "team-sales@example.com",
    input(orders, topic = "sales.orders", key = String, value = Order, format = json),
    table(customers, topic = "crm.customers", key = String, value = String, format = json),
    global_table(countries, topic = "ref.countries", key = String, value = String, format = json),
    output(enriched, topic = "sales.enriched", key = String, value = String, format = json),
)]
impl Enrich {
    #[topology]
    fn flow(t: &mut Topology) {
        let customers = t.table(Self::IN.customers);
        let countries = t.global_table(Self::IN.countries);
        t.stream(Self::IN.orders)
            .join(&customers, |order, name| (order.clone(), name.clone()))
            .left_join_global(&countries, |_, (order, _)| order.country.clone(), |(order, name), country| {
                format!("{name} {} {}", order.cents, country.map_or("?", String::as_str))
            })
            .to(Self::OUT.enriched);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let descriptor = meshkit::DataProduct::descriptor(&Enrich)?;
    assert_eq!(descriptor.inputs[1].kind, meshkit::PortKind::Table);
    assert_eq!(descriptor.inputs[2].kind, meshkit::PortKind::GlobalTable);
    let mut driver = TestDriver::start(Enrich).await?;
    let c1 = "c-1".to_string();
    driver.pipe("countries", &"fr".to_string(), &"France".to_string()).await?;
    driver.pipe("customers", &c1, &"Ada".to_string()).await?;
    let order = |country: &str| Order { country: country.into(), cents: 5 };
    driver.pipe("orders", &c1, &order("fr")).await?;
    driver.pipe("orders", &c1, &order("xx")).await?;
    driver.pipe("orders", &"c-2".to_string(), &order("fr")).await?;
    driver.pipe_tombstone("customers", &c1).await?;
    driver.pipe("orders", &c1, &order("fr")).await?;
    let out: Vec<String> = driver.read(Enrich::OUT.enriched)?.into_iter().map(|r| r.value).collect();
    assert_eq!(out, ["Ada 5 France", "Ada 5 ?"]);
    Ok(())
}
