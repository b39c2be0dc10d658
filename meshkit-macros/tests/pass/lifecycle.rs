//! Lifecycle hooks in the DSL: `lifecycle` makes the generated product call
//! the product's `Lifecycle` hooks, run in the test driver.

use meshkit::testing::TestDriver;
use meshkit::{Context, Lifecycle, TransformError};

#[derive(Default)]
pub struct Announcer {
    stopped: bool,
}

#[meshkit::product(
    domain = "ops",
    name = "announcer",
    version = "1.0.0",
    owner = "team-ops@example.com",
    input(events, topic = "ops.events", value = String, format = json),
    output(tasks, topic = "ops.tasks", value = String, format = json),
    lifecycle,
)]
impl Announcer {
    #[transform(events)]
    fn on_event(event: &String, ctx: &mut Context) -> Result<(), TransformError> {
        Self::OUT.tasks.send_value(ctx, event)?;
        Ok(())
    }
}

impl Lifecycle for Announcer {
    async fn on_assigned(&mut self, partition: i32, ctx: &mut Context) -> Result<(), TransformError> {
        Self::OUT.tasks.send_value(ctx, &format!("took {partition}"))?;
        Ok(())
    }

    async fn on_stop(&mut self) -> Result<(), TransformError> {
        self.stopped = true;
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut driver = TestDriver::start(Announcer::default()).await?;
    driver.pipe("events", &(), &"e-1".to_string()).await?;
    let sent: Vec<String> = driver.read(Announcer::OUT.tasks)?.into_iter().map(|r| r.value).collect();
    assert_eq!(sent, ["took 0", "e-1"]);
    driver.stop().await?;
    assert!(driver.product().stopped);
    Ok(())
}
