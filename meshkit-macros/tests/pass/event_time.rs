//! Event time from a field of the value: windows, stream time and the
//! outputs' timestamps follow the time the reading was measured, not the
//! time it reached Kafka.

use meshkit::state::WindowStoreRef;
use meshkit::testing::{TestDriver, TestRecord};
use meshkit::{Context, Record, TransformError};

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Reading {
    pub sensor: String,
    pub measured_at: Option<i64>,
}

pub struct Readings;

#[meshkit::product(
    domain = "plant",
    name = "readings",
    version = "1.0.0",
    owner = "team-plant@example.com",
    input(readings, topic = "plant.readings", value = Reading, format = json, event_time = measured_at),
    output(counts, topic = "plant.counts", key = String, value = u64, format = json),
    store(per_minute, key = String, value = u64, window(size = "1m", emit = on_close)),
)]
impl Readings {
    #[transform(readings, stores = [per_minute], record)]
    fn on_reading(
        record: &Record<'_>,
        reading: &Reading,
        per_minute: WindowStoreRef<String, u64>,
        ctx: &mut Context,
    ) -> Result<(), TransformError> {
        assert_eq!(record.timestamp(), ctx.timestamp());
        let update = per_minute.update(ctx, &reading.sensor, |n| n.unwrap_or(0) + 1)?;
        for (window, sensor, count) in update.into_results() {
            Self::OUT.counts.send_at(ctx, &sensor, &count, window.end)?;
        }
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut driver = TestDriver::start(Readings).await?;
    let reading = |at: Option<i64>| Reading { sensor: "s-1".into(), measured_at: at };
    // All reach Kafka at the same time (the driver's clock); they were
    // measured across two minutes, the last one carrying no time.
    for at in [Some(10_000), Some(50_000), Some(70_000), Some(130_000)] {
        driver.pipe_record("readings", TestRecord::new(&(), &reading(at)).at(1_000)).await?;
    }
    let counts: Vec<(u64, Option<i64>)> =
        driver.read(Readings::OUT.counts)?.into_iter().map(|r| (r.value, r.timestamp)).collect();
    assert_eq!(counts, vec![(2, Some(60_000)), (1, Some(120_000))]);
    // Without a time in the value, the Kafka timestamp is the event time.
    driver.pipe_record("readings", TestRecord::new(&(), &reading(None)).at(1_000)).await?;
    assert!(driver.read(Readings::OUT.counts)?.is_empty());
    Ok(())
}
