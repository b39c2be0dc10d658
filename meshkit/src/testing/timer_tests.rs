//! Timers in the test driver: wall-clock timers fire as the clock moves,
//! stream-time timers in order with the records that move stream time, each
//! with the task's stores; a failing timer under the stop policy stops the
//! product.

use std::time::Duration;

use super::{TestDriver, TestError};
use crate::{
    Clock, Context, DataProduct, DescriptorError, ErrorPolicy, ProductDescriptor, Record, TransformError,
};

/// Counts records per key; wall timer `flush` publishes the counts and
/// clears them; stream timer `mark` publishes its tick.
struct Counter {
    fail_flush: bool,
}

impl DataProduct for Counter {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        ProductDescriptor::builder("t", "counter")
            .version("1.0.0")
            .owner("o")
            .input("in", "t.in")
            .output("counts", "t.counts")
            .output("marks", "t.marks")
            .store("pending")
            .timer("flush", Clock::Wall, Duration::from_secs(10))
            .timer("mark", Clock::Stream, Duration::from_secs(5))
            .build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        let key = String::from_utf8_lossy(record.key().unwrap_or_default()).into_owned();
        let mut pending = ctx.store::<String, u64>("pending")?;
        let n = pending.get(&key)?.unwrap_or(0);
        pending.put(&key, &(n + 1))?;
        ctx.emit(
            "marks",
            None,
            format!("record@{}", ctx.timestamp().unwrap_or_default()).into_bytes(),
        )?;
        Ok(())
    }

    async fn on_timer(&mut self, timer: &str, ctx: &mut Context) -> Result<(), TransformError> {
        let tick = ctx.timestamp().unwrap_or_default();
        match timer {
            "flush" if self.fail_flush => Err(TransformError::new("the flush target is down")),
            "flush" => {
                for (key, n) in ctx.store::<String, u64>("pending")?.range(..)? {
                    ctx.store::<String, u64>("pending")?.delete(&key)?;
                    ctx.emit("counts", Some(key.into_bytes()), n.to_string().into_bytes())?;
                }
                Ok(())
            }
            _ => {
                ctx.emit("marks", None, format!("tick@{tick}").into_bytes())?;
                Ok(())
            }
        }
    }
}

fn values(records: Vec<crate::testing::RawRecord>) -> Vec<String> {
    (records.into_iter())
        .map(|r| String::from_utf8_lossy(&r.value.unwrap_or_default()).into_owned())
        .collect()
}

#[tokio::test]
async fn a_wall_clock_timer_flushes_the_store_as_the_clock_moves() -> Result<(), Box<dyn std::error::Error>> {
    let mut driver = TestDriver::start(Counter { fail_flush: false }).await?;
    for key in ["a", "a", "b"] {
        driver.pipe_raw("in", Some(key.as_bytes()), Some(b"x")).await?;
    }
    // Not yet a tick: the driver starts on one, the next is 10 s on.
    driver.advance_wall_clock(Duration::from_secs(9)).await?;
    assert!(driver.read_raw("counts")?.is_empty());
    driver.advance_wall_clock(Duration::from_secs(1)).await?;
    let counts = driver.read_raw("counts")?;
    let mut by_key: Vec<(String, String)> = (counts.iter())
        .map(|r| {
            let text =
                |b: &Option<Vec<u8>>| String::from_utf8_lossy(b.as_deref().unwrap_or_default()).into_owned();
            (text(&r.key), text(&r.value))
        })
        .collect();
    by_key.sort();
    assert_eq!(by_key, [("a".into(), "2".into()), ("b".into(), "1".into())]);
    // Stamped with the tick; the store is empty after it.
    assert_eq!(counts[0].timestamp, Some(driver.now()));
    driver.advance_wall_clock(Duration::from_secs(30)).await?;
    assert!(
        driver.read_raw("counts")?.is_empty(),
        "cleared, nothing to publish"
    );
    // The store survives a restart; the flush after it publishes what waited.
    driver.pipe_raw("in", Some(b"c"), Some(b"x")).await?;
    driver.restart(Counter { fail_flush: false });
    driver.advance_wall_clock(Duration::from_secs(10)).await?;
    assert_eq!(values(driver.read_raw("counts")?), ["1"]);
    Ok(())
}

#[tokio::test]
async fn a_stream_time_timer_fires_in_order_with_the_records() -> Result<(), Box<dyn std::error::Error>> {
    let mut driver = TestDriver::start(Counter { fail_flush: false }).await?;
    let start = driver.now();
    let value = b"x".to_vec();
    for at in [1_000, 4_000, 6_000, 3_000, 12_000] {
        let record = crate::testing::TestRecord::new(&(), &value).at(start + at);
        driver.pipe_record("in", record).await?;
    }
    let marks = values(driver.read_raw("marks")?);
    let expected: Vec<String> = [
        format!("record@{}", start + 1_000),
        format!("record@{}", start + 4_000),
        format!("record@{}", start + 6_000),
        format!("tick@{}", start + 5_000),
        // An older record does not move stream time back, nor fire.
        format!("record@{}", start + 3_000),
        format!("record@{}", start + 12_000),
        // Two periods passed at once: one firing, at the latest tick.
        format!("tick@{}", start + 10_000),
    ]
    .into();
    assert_eq!(marks, expected);
    Ok(())
}

#[tokio::test]
async fn a_failing_timer_is_an_error_and_stops_under_the_stop_policy() {
    let mut driver = TestDriver::start(Counter { fail_flush: true })
        .await
        .expect("starts")
        .with_error_policy(ErrorPolicy::Stop);
    driver
        .pipe_raw("in", Some(b"a"), Some(b"x"))
        .await
        .expect("piped");
    let err = driver
        .advance_wall_clock(Duration::from_secs(10))
        .await
        .expect_err("the flush fails");
    assert!(
        matches!(&err, TestError::TimerFailed { timer, .. } if timer == "flush"),
        "{err:?}"
    );
    assert!(driver.read_raw("counts").expect("read").is_empty());
    assert!(matches!(
        driver.pipe_raw("in", Some(b"a"), Some(b"x")).await,
        Err(TestError::Stopped { .. })
    ));
}

/// Counts records per key per minute; a wall-clock timer closes the minutes
/// that the clock passed, so an idle partition's last minute is published.
struct PerMinute;

impl DataProduct for PerMinute {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        let minute =
            crate::state::Windows::tumbling(Duration::from_secs(60)).emit(crate::state::Emit::OnClose);
        ProductDescriptor::builder("t", "per-minute")
            .version("1.0.0")
            .owner("o")
            .input("in", "t.in")
            .output("counts", "t.counts")
            .window_store("per_minute", minute)
            .timer("close", Clock::Wall, Duration::from_secs(10))
            .build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        let key = String::from_utf8_lossy(record.key().unwrap_or_default()).into_owned();
        let at = record.timestamp().unwrap_or_default();
        let update = ctx
            .window_store::<String, u64>("per_minute")?
            .update(&key, at, |n| n.unwrap_or(0) + 1)?;
        for (window, key, n) in update.into_results() {
            ctx.emit(
                "counts",
                Some(key.into_bytes()),
                format!("{}:{n}", window.start).into_bytes(),
            )?;
        }
        Ok(())
    }

    async fn on_timer(&mut self, _: &str, ctx: &mut Context) -> Result<(), TransformError> {
        let tick = ctx.timestamp().unwrap_or_default();
        for (window, key, n) in ctx.window_store::<String, u64>("per_minute")?.advance_to(tick)? {
            ctx.emit(
                "counts",
                Some(key.into_bytes()),
                format!("{}:{n}", window.start).into_bytes(),
            )?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_wall_clock_timer_closes_an_idle_partitions_last_window() -> Result<(), Box<dyn std::error::Error>>
{
    let mut driver = TestDriver::start(PerMinute).await?;
    let minute = driver.now() - driver.now().rem_euclid(60_000);
    for key in ["a", "a", "b"] {
        driver.pipe_raw("in", Some(key.as_bytes()), Some(b"x")).await?;
    }
    // No later record comes; the minute ends and the timer closes it.
    driver.advance_wall_clock(Duration::from_secs(50)).await?;
    assert!(driver.read_raw("counts")?.is_empty(), "the minute is still open");
    driver.advance_wall_clock(Duration::from_secs(20)).await?;
    let mut counts = values(driver.read_raw("counts")?);
    counts.sort();
    assert_eq!(counts, [format!("{minute}:1"), format!("{minute}:2")]);
    // A record for the closed minute is late.
    let value = b"x".to_vec();
    let late = crate::testing::TestRecord::new(&(), &value).at(minute + 5_000);
    driver.pipe_record("in", late).await?;
    assert!(driver.read_raw("counts")?.is_empty());
    Ok(())
}
