//! Stores whose entries expire, declared in the DSL: a first-seen filter
//! (an id passes once per half hour of stream time) and a wall-clock cache,
//! run in the test driver; the first keeps its values with their Avro
//! schema.

use meshkit::state::StoreRef;
use meshkit::testing::TestDriver;
use meshkit::{Context, TransformError};

pub struct FirstSeen;

const RECENT: StoreRef<String, i64> = StoreRef::new("recent");

#[meshkit::product(
    domain = "web",
    name = "first-seen",
    version = "1.0.0",
    owner = "team-web@example.com",
    input(clicks, topic = "web.clicks", key = String, value = i64, format = json),
    output(firsts, topic = "web.firsts", key = String, value = i64, format = json),
    store(seen, key = String, value = i64, ttl(after = "30m", clock = stream), format = avro),
    store(recent, key = String, value = i64, ttl(after = "1m")),
)]
impl FirstSeen {
    #[transform(clicks, stores = [seen, recent])]
    fn on_click(
        user: &String,
        at: &i64,
        seen: StoreRef<String, i64>,
        recent: StoreRef<String, i64>,
        ctx: &mut Context,
    ) -> Result<(), TransformError> {
        recent.put(ctx, user, at)?;
        if seen.get(ctx, user)?.is_none() {
            Self::OUT.firsts.send(ctx, user, at)?;
        }
        seen.put(ctx, user, at)?;
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut driver = TestDriver::start(FirstSeen).await?;
    let u = "u-1".to_string();
    driver.pipe("clicks", &u, &1_i64).await?;
    driver.advance_time(std::time::Duration::from_secs(20 * 60));
    driver.pipe("clicks", &u, &2_i64).await?;
    // 31 minutes after the last click: stream time passed its expiry.
    driver.advance_time(std::time::Duration::from_secs(31 * 60));
    driver.pipe("clicks", &u, &3_i64).await?;
    let firsts: Vec<i64> = driver.read(FirstSeen::OUT.firsts)?.into_iter().map(|r| r.value).collect();
    assert_eq!(firsts, [1, 3]);
    assert_eq!(driver.store(RECENT)?.get(&u)?, Some(3));
    driver.advance_wall_clock(std::time::Duration::from_secs(61)).await?;
    assert_eq!(driver.store(RECENT)?.get(&u)?, None, "expired on the wall clock");
    Ok(())
}
