//! A product whose logic is a topology of stream operators, beside a
//! transform for another port: the streams start from `Self::IN`, end in
//! `Self::OUT`, and the topology's stores are declared with the product's.

use meshkit::ops::Topology;
use meshkit::testing::{TestDriver, TestRecord};
use meshkit::{Context, TransformError};

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Click {
    pub page: String,
}

pub struct Clicks;

#[meshkit::product(
    domain = "web",
    name = "clicks",
    version = "1.0.0",
    owner = "team-web@example.com",
    input(clicks, topic = "web.clicks", key = String, value = Click, format = json),
    input(pings, topic = "web.pings"),
    output(per_page, topic = "web.clicks-per-page", key = String, value = i64, format = json),
    output(pongs, topic = "web.pongs"),
)]
impl Clicks {
    #[topology]
    fn flow(t: &mut Topology) {
        t.stream(Self::IN.clicks)
            .filter(|_, click| !click.page.is_empty())
            .group_by(|_, click| click.page.clone())
            .count("per-page")
            .to(Self::OUT.per_page);
    }

    #[transform(pings)]
    fn on_ping(value: Option<&[u8]>, ctx: &mut Context) -> Result<(), TransformError> {
        Self::OUT.pongs.send(ctx, None, value.unwrap_or_default())?;
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let descriptor = meshkit::DataProduct::descriptor(&Clicks)?;
    assert_eq!(descriptor.stores[0].name, "per-page");
    assert_eq!(descriptor.repartitions, ["per-page"]);
    let mut driver = TestDriver::start(Clicks).await?;
    for (user, page) in [("u-1", "home"), ("u-2", "home"), ("u-1", ""), ("u-3", "cart")] {
        let click = Click { page: page.into() };
        driver.pipe_record("clicks", TestRecord::new(&user.to_string(), &click)).await?;
    }
    driver.pipe_raw("pings", None, Some(b"ping")).await?;
    let counts: Vec<(String, i64)> =
        driver.read(Clicks::OUT.per_page)?.into_iter().map(|r| (r.key, r.value)).collect();
    assert_eq!(counts, [("home".into(), 1), ("home".into(), 2), ("cart".into(), 1)]);
    assert_eq!(driver.read_raw("pongs")?.len(), 1);
    Ok(())
}
