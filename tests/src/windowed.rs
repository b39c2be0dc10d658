//! A windowed product for the window tests, written against the traits:
//! one store of the windows it is given, sums per key and window of the
//! values it reads, its closed windows published, late records
//! dead-lettered. Event time comes from the value (`"<ms>:<value>"`), not
//! from the Kafka timestamp. Optionally a wall-clock timer closes the
//! windows that the clock (less a lag) has passed, on every task, idle ones
//! included: how a product asks for its last windows without a later record.

use meshkit::state::Window;
use meshkit::state::{WindowKind, WindowUpdate, Windows};
use meshkit::{Clock, Context, DataProduct, DescriptorError, ProductDescriptor, Record, TransformError};

/// The product: windows and topics.
#[derive(Debug, Clone)]
pub struct Windowed {
    /// The store's windows (grace and kind included; emission is on close).
    pub windows: Windows,
    /// Input topic: key = key, value = `"<event time ms>:<value>"`.
    pub input: String,
    /// Output topic: key = key, value = `"<start>:<end>:<sum>"`.
    pub output: String,
    /// With a lag (ms): a wall-clock timer, every second, moves each task's
    /// stream time on to the clock less the lag, closing what it passes.
    pub close_on_wall_clock: Option<i64>,
}

/// Store name.
pub const STORE: &str = "windows";

/// Reason given to late records.
pub const LATE: &str = "late-record";

/// `(event time, value)` of an input value.
pub fn parse_event(value: &[u8]) -> Option<(i64, u64)> {
    let text = std::str::from_utf8(value).ok()?;
    let (at, v) = text.split_once(':')?;
    Some((at.parse().ok()?, v.parse().ok()?))
}

/// An input value.
pub fn event_value(at: i64, value: u64) -> String {
    format!("{at}:{value}")
}

/// `(start, end, sum)` of an output value.
pub fn parse_result(value: &[u8]) -> Option<(i64, i64, u64)> {
    let text = std::str::from_utf8(value).ok()?;
    let mut parts = text.split(':');
    let start = parts.next()?.parse().ok()?;
    let end = parts.next()?.parse().ok()?;
    let sum = parts.next()?.parse().ok()?;
    Some((start, end, sum))
}

impl DataProduct for Windowed {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        let builder = ProductDescriptor::builder("tests", "windowed")
            .version("0.1.0")
            .owner("meshkit-tests")
            .input("events", &self.input)
            .output("closed", &self.output)
            .window_store(STORE, self.windows);
        match self.close_on_wall_clock {
            Some(_) => builder.timer("close", Clock::Wall, std::time::Duration::from_secs(1)),
            None => builder,
        }
        .build()
    }

    async fn on_timer(&mut self, _: &str, ctx: &mut Context) -> Result<(), TransformError> {
        let (Some(lag), Some(tick)) = (self.close_on_wall_clock, ctx.timestamp()) else {
            return Ok(());
        };
        let until = tick - lag;
        let closed = match self.windows.kind {
            WindowKind::Session => ctx.session_store(STORE)?.advance_to(until)?,
            WindowKind::Sliding => ctx.sliding_store(STORE)?.advance_to(until, |a, b| a + b)?,
            _ => ctx.window_store(STORE)?.advance_to(until)?,
        };
        publish(ctx, closed)
    }

    fn event_time(&self, record: &Record<'_>) -> Option<i64> {
        parse_event(record.value()?).map(|(at, _)| at)
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        let key = String::from_utf8_lossy(record.key().unwrap_or_default()).into_owned();
        let (_, value) = record
            .value()
            .and_then(parse_event)
            .ok_or_else(|| TransformError::new("not `<ms>:<value>`"))?;
        // The runtime took event time from the value.
        let at = record
            .timestamp()
            .ok_or_else(|| TransformError::new("no event time"))?;
        let update: WindowUpdate<String, u64> = match self.windows.kind {
            WindowKind::Session => {
                ctx.session_store(STORE)?
                    .update(&key, at, |s| s.unwrap_or(0) + value, |a, b| a + b)?
            }
            WindowKind::Sliding => ctx.sliding_store(STORE)?.update(&key, at, value, |a, b| a + b)?,
            _ => ctx
                .window_store(STORE)?
                .update(&key, at, |s| s.unwrap_or(0) + value)?,
        };
        if update.late {
            ctx.dead_letter(
                LATE,
                format!("event time {at} is past every window that could hold it"),
            );
        }
        publish(ctx, update.closed)
    }
}

/// Publishes closed windows.
fn publish(ctx: &mut Context, closed: Vec<(Window, String, u64)>) -> Result<(), TransformError> {
    for (w, k, sum) in closed {
        let value = format!("{}:{}:{sum}", w.start, w.end);
        ctx.emit("closed", Some(k.into_bytes()), value.into_bytes())?;
    }
    Ok(())
}
