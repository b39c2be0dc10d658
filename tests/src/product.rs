//! `tests/relay`: the data product the end-to-end tests run. It relays each
//! input id to its output as `out:<id>`, and fails on chosen ids.

use meshkit::{Context, DataProduct, DescriptorError, ProductDescriptor, Record, TransformError};

/// Relays input ids; fails (non-retriably) on every id whose number is a
/// multiple of `fail_every`, when set.
#[derive(Debug, Clone)]
pub struct Relay {
    /// The input topic.
    pub input: String,
    /// The output topic.
    pub output: String,
    /// Fail on ids that are multiples of this.
    pub fail_every: Option<usize>,
    /// Emit this many outputs per input (each `out:<id>#<n>` when more than one).
    pub fan_out: usize,
    /// `(every, times)`: ids that are multiples of `every` fail with a
    /// retriable error on their first `times` attempts, then pass.
    pub flaky: Option<(usize, u32)>,
    /// Pauses the instance that first meets the chosen id (once, for
    /// every `Relay` sharing it): a transform stuck past the consumer's
    /// `max.poll.interval.ms`.
    pub pause: Option<Pause>,
    attempts: std::collections::HashMap<String, u32>,
}

/// A one-time pause, shared by the relays of several instances.
#[derive(Debug, Clone)]
pub struct Pause {
    /// The id number to pause on.
    pub at: usize,
    /// How long.
    pub duration: std::time::Duration,
    /// Set by the instance that paused, when the pause begins.
    pub taken: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Pause {
    /// A pause of `duration` on id number `at`, not yet taken.
    pub fn new(at: usize, duration: std::time::Duration) -> Self {
        Self {
            at,
            duration,
            taken: Default::default(),
        }
    }

    /// Whether an instance has begun the pause.
    pub fn is_taken(&self) -> bool {
        self.taken.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Relay {
    /// A relay from `input` to `output` that never fails.
    pub fn new(input: impl Into<String>, output: impl Into<String>) -> Self {
        Self {
            input: input.into(),
            output: output.into(),
            fail_every: None,
            fan_out: 1,
            flaky: None,
            pause: None,
            attempts: std::collections::HashMap::new(),
        }
    }

    /// The output value for input `id` (the first one when fanning out).
    pub fn output_value(id: &str) -> String {
        format!("out:{id}")
    }
}

/// The number in an id made by [`crate::broker::input_id`].
pub fn id_number(id: &str) -> Option<usize> {
    id.strip_prefix("id-")?.parse().ok()
}

impl DataProduct for Relay {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        let builder = ProductDescriptor::builder("tests", "relay")
            .version("0.1.0")
            .owner("meshkit-tests")
            .description("Relays ids; fails on chosen ones")
            .output("out", &self.output);
        // The input topic comes from configuration: none configured, no input port.
        if self.input.is_empty() {
            builder.build()
        } else {
            builder.input("in", &self.input).build()
        }
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        let id = std::str::from_utf8(record.value().unwrap_or_default())
            .map_err(|e| TransformError::new("input is not UTF-8").with_source(e))?;
        // Emit first, then fail: the outputs of a failing record must never
        // become visible.
        for n in 0..self.fan_out {
            let value = if n == 0 {
                Relay::output_value(id)
            } else {
                format!("{}#{n}", Relay::output_value(id))
            };
            ctx.emit("out", record.key().map(<[u8]>::to_vec), value)?;
        }
        if let (Some(pause), Some(n)) = (&self.pause, id_number(id)) {
            if n == pause.at && !pause.taken.swap(true, std::sync::atomic::Ordering::SeqCst) {
                // Blocks the processing loop, as a stuck transform would:
                // the consumer is not polled meanwhile.
                std::thread::sleep(pause.duration);
            }
        }
        if let (Some((every, times)), Some(n)) = (self.flaky, id_number(id)) {
            let attempts = self.attempts.entry(id.to_string()).or_insert(0);
            *attempts += 1;
            if n % every == 0 && *attempts <= times {
                return Err(TransformError::retriable(format!(
                    "{id} is flaky (attempt {attempts})"
                )));
            }
        }
        if let (Some(every), Some(n)) = (self.fail_every, id_number(id)) {
            if n % every == 0 {
                return Err(TransformError::new(format!("{id} is a chosen failure")));
            }
        }
        Ok(())
    }
}

/// `tests/totals`: a stateful product. For each input id (keyed `k-<n>`), it
/// adds one to the key's count and the id's number to its sum, in store
/// `totals`, and emits `<id>|<count>|<sum>` keyed by the key. Exact state
/// shows in the outputs: each key's counts run 1, 2, 3… with no gap or repeat.
#[derive(Debug, Clone)]
pub struct Totals {
    /// The input topic.
    pub input: String,
    /// The output topic.
    pub output: String,
}

impl Totals {
    /// The output value for input `id` at running `count` and `sum`.
    pub fn output_value(id: &str, count: u64, sum: u64) -> String {
        format!("{id}|{count}|{sum}")
    }
}

impl DataProduct for Totals {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        ProductDescriptor::builder("tests", "totals")
            .version("0.1.0")
            .owner("meshkit-tests")
            .description("Running count and sum of ids per key")
            .input("in", &self.input)
            .output("out", &self.output)
            .store("totals")
            .build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        add_to_totals(record, ctx)
    }
}

/// What [`Totals`] does with a record, in store `totals` and port `out`
/// (shared by the products built on it).
fn add_to_totals(record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
    let id = std::str::from_utf8(record.value().unwrap_or_default())
        .map_err(|e| TransformError::new("input is not UTF-8").with_source(e))?
        .to_string();
    let key = String::from_utf8_lossy(record.key().unwrap_or_default()).into_owned();
    let n = id_number(&id).ok_or_else(|| TransformError::new(format!("`{id}` is not an id")))? as u64;
    let mut totals = ctx.store::<String, (u64, u64)>("totals")?;
    let (count, sum) = totals.get(&key)?.unwrap_or((0, 0));
    let (count, sum) = (count + 1, sum + n);
    totals.put(&key, &(count, sum))?;
    ctx.emit(
        "out",
        Some(key.into_bytes()),
        Totals::output_value(&id, count, sum),
    )?;
    Ok(())
}

/// `tests/batcher`: emits nothing per record. Each record's id waits in
/// store `pending` under its key; wall-clock timer `flush` (every
/// `flush_every`) publishes, for each key of the task, the ids waiting
/// (`<n>,<n>,…`, keyed by the key) and deletes them. Exactly once shows in
/// the outputs: every input id in exactly one committed batch.
#[derive(Debug, Clone)]
pub struct Batcher {
    /// The input topic.
    pub input: String,
    /// The output topic.
    pub output: String,
    /// The timer's period.
    pub flush_every: std::time::Duration,
}

impl DataProduct for Batcher {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        ProductDescriptor::builder("tests", "batcher")
            .version("0.1.0")
            .owner("meshkit-tests")
            .description("Ids batched per key, published by a wall-clock timer")
            .input("in", &self.input)
            .output("out", &self.output)
            .store("pending")
            .timer("flush", meshkit::Clock::Wall, self.flush_every)
            .build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        let id = std::str::from_utf8(record.value().unwrap_or_default())
            .map_err(|e| TransformError::new("input is not UTF-8").with_source(e))?;
        let n = id_number(id).ok_or_else(|| TransformError::new(format!("`{id}` is not an id")))? as u64;
        let key = String::from_utf8_lossy(record.key().unwrap_or_default()).into_owned();
        let mut pending = ctx.store::<String, Vec<u64>>("pending")?;
        let mut ids = pending.get(&key)?.unwrap_or_default();
        ids.push(n);
        pending.put(&key, &ids)?;
        Ok(())
    }

    async fn on_timer(&mut self, _timer: &str, ctx: &mut Context) -> Result<(), TransformError> {
        let waiting = ctx.store::<String, Vec<u64>>("pending")?.range(..)?;
        for (key, ids) in waiting {
            ctx.store::<String, Vec<u64>>("pending")?.delete(&key)?;
            let text: Vec<String> = ids.iter().map(u64::to_string).collect();
            ctx.emit("out", Some(key.into_bytes()), text.join(","))?;
        }
        Ok(())
    }
}

/// `tests/co-totals`: [`Totals`] over two inputs co-partitioned into one
/// store: a key's records, from either input, add to one running count and
/// sum. Ids must be unique across both inputs; the output is
/// [`Totals::output_value`].
#[derive(Debug, Clone)]
pub struct CoTotals {
    /// The two input topics (equal partition counts, keyed alike).
    pub inputs: [String; 2],
    /// The output topic.
    pub output: String,
}

impl DataProduct for CoTotals {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        ProductDescriptor::builder("tests", "co-totals")
            .version("0.1.0")
            .owner("meshkit-tests")
            .description("Running count and sum of ids per key over two inputs")
            .input("left", &self.inputs[0])
            .input("right", &self.inputs[1])
            .output("out", &self.output)
            .store("totals")
            .build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        add_to_totals(record, ctx)
    }
}

/// `tests/soak`: the exactly-once soak's product. Two inputs co-partitioned
/// into one store: each record adds to its key's running totals ([`Totals`],
/// port `out`) and to its key's count in the 1-second event-time window of
/// its timestamp (window store, port `windows`: `<key>|<window start>|<count>`
/// on every update; the grace outlasts any run, so no record is late).
///
/// When `stall_file` exists, the instance that sees it removes it and stalls
/// its transform for `stall`: a member stuck past `max.poll.interval.ms`.
#[derive(Debug, Clone)]
pub struct Soak {
    /// The two input topics (equal partition counts, keyed alike).
    pub inputs: [String; 2],
    /// The totals output topic.
    pub output: String,
    /// The window counts output topic.
    pub windows: String,
    /// A file whose appearance stalls the transform once.
    pub stall_file: Option<std::path::PathBuf>,
    /// How long a stall lasts.
    pub stall: std::time::Duration,
    seen: u64,
}

impl Soak {
    /// The soak product over `inputs`, writing `output` and `windows`.
    pub fn new(inputs: [String; 2], output: String, windows: String) -> Self {
        Self {
            inputs,
            output,
            windows,
            stall_file: None,
            stall: std::time::Duration::ZERO,
            seen: 0,
        }
    }

    /// The window size.
    pub const WINDOW: std::time::Duration = std::time::Duration::from_secs(1);
}

impl DataProduct for Soak {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        ProductDescriptor::builder("tests", "soak")
            .version("0.1.0")
            .owner("meshkit-tests")
            .description("Running totals and windowed counts per key over two inputs")
            .input("left", &self.inputs[0])
            .input("right", &self.inputs[1])
            .output("out", &self.output)
            .output("windows", &self.windows)
            .store("totals")
            .window_store(
                "per_window",
                meshkit::state::Windows::tumbling(Self::WINDOW).grace(std::time::Duration::from_secs(86_400)),
            )
            .build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        self.seen += 1;
        if self.seen.is_multiple_of(500) {
            if let Some(file) = &self.stall_file {
                if std::fs::remove_file(file).is_ok() {
                    eprintln!("soak: stalling the transform for {:?}", self.stall);
                    tokio::time::sleep(self.stall).await;
                }
            }
        }
        add_to_totals(record, ctx)?;
        let key = String::from_utf8_lossy(record.key().unwrap_or_default()).into_owned();
        let ts = record
            .timestamp()
            .ok_or_else(|| TransformError::new("no timestamp"))?;
        let mut store = ctx.window_store::<String, u64>("per_window")?;
        let update = store.update(&key, ts, |n| n.unwrap_or(0) + 1)?;
        if update.late {
            return Err(TransformError::new(format!("late record at {ts}")));
        }
        for (window, count) in update.updated {
            ctx.emit(
                "windows",
                Some(key.clone().into_bytes()),
                format!("{key}|{}|{count}", window.start),
            )?;
        }
        Ok(())
    }
}

/// `tests/window-counts`: counts records per key and event-time window (the
/// record's timestamp), emitting `<key>|<window start>|<count>` on every
/// update, and dead-letters records too late for every window.
#[derive(Debug, Clone)]
pub struct WindowCounts {
    /// The input topic.
    pub input: String,
    /// The output topic.
    pub output: String,
    /// The windows.
    pub windows: meshkit::state::Windows,
}

impl DataProduct for WindowCounts {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        ProductDescriptor::builder("tests", "window-counts")
            .version("0.1.0")
            .owner("meshkit-tests")
            .input("in", &self.input)
            .output("out", &self.output)
            .window_store("per_window", self.windows)
            .build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        let key = String::from_utf8_lossy(record.key().unwrap_or_default()).into_owned();
        let ts = record
            .timestamp()
            .ok_or_else(|| TransformError::new("no timestamp"))?;
        let mut store = ctx.window_store::<String, u64>("per_window")?;
        let update = store.update(&key, ts, |n| n.unwrap_or(0) + 1)?;
        if update.late {
            ctx.dead_letter(
                "late-record",
                format!(
                    "event time {ts} is past every window's grace period (stream time {})",
                    update.stream_time
                ),
            );
        }
        for (window, count) in update.updated {
            ctx.emit(
                "out",
                Some(key.clone().into_bytes()),
                format!("{key}|{}|{count}", window.start),
            )?;
        }
        Ok(())
    }
}

/// Wraps a product whose output port is `out`: for every id that is a
/// multiple of `every`, after the inner product processed it, emits one more
/// output of `size` bytes. Above the Kafka client's `message.max.bytes`
/// (1,000,000 by default) the client rejects it when it is sent; above only
/// the topic's `max.message.bytes`, the broker refuses it in its delivery
/// report: a record whose output is refused after its transform succeeded
/// and wrote to its stores.
#[derive(Debug, Clone)]
pub struct RejectedOutputs<P> {
    /// The wrapped product.
    pub inner: P,
    /// Ids that are multiples of this get the oversized output.
    pub every: usize,
    /// The oversized output's size in bytes.
    pub size: usize,
}

impl<P: DataProduct + Sync> DataProduct for RejectedOutputs<P> {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        self.inner.descriptor()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        self.inner.process(record, ctx).await?;
        let id = std::str::from_utf8(record.value().unwrap_or_default()).unwrap_or_default();
        if id_number(id).is_some_and(|n| n % self.every == 0) {
            ctx.emit("out", None, vec![b'x'; self.size])?;
        }
        Ok(())
    }
}

/// The topics and group of one broker test of [`Totals`]: an input topic
/// (created), and names for the output topic and the application.
#[derive(Debug, Clone)]
pub struct TotalsTopics {
    /// The test broker.
    pub brokers: String,
    /// The input topic, created.
    pub input: String,
    /// The output topic's name (the product creates it).
    pub output: String,
    /// The application id.
    pub app: String,
    /// Keys the inputs are spread over.
    pub keys: usize,
}

impl TotalsTopics {
    /// Creates the input topic of `partitions` partitions, its name and the
    /// others starting with `prefix`; `None` (skipped) without a broker.
    ///
    /// # Panics
    /// When the topic cannot be created.
    pub async fn create(test: &str, prefix: &str, partitions: i32, keys: usize) -> Option<Self> {
        let brokers = crate::broker::test_brokers(test)?;
        let input = crate::broker::unique_name(&format!("{prefix}-in"));
        crate::broker::create_topic(&brokers, &input, partitions)
            .await
            .expect("input topic");
        Some(Self {
            brokers,
            input,
            output: crate::broker::unique_name(&format!("{prefix}-out")),
            app: crate::broker::unique_name(&format!("{prefix}-app")),
            keys,
        })
    }

    /// Produces inputs `ids`, keyed over [`keys`](Self::keys).
    ///
    /// # Panics
    /// When they cannot be produced.
    pub async fn produce(&self, ids: std::ops::Range<usize>) {
        let (brokers, input, keys) = (self.brokers.clone(), self.input.clone(), self.keys);
        tokio::task::spawn_blocking(move || crate::broker::produce_keyed(&brokers, &input, ids, keys))
            .await
            .expect("join")
            .expect("inputs");
    }

    /// The product, reading and writing these topics.
    pub fn totals(&self) -> Totals {
        Totals {
            input: self.input.clone(),
            output: self.output.clone(),
        }
    }
}
