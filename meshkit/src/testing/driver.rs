//! The test driver itself.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{check_type, is_unit, wrong_type, DeadLetter, RawRecord, TestError, TestRecord};
use crate::error::ErrorChain;
use crate::policy::ErrorPolicy;
use crate::product::ProductDescriptor;
use crate::record::{OutputRecord, Record};
use crate::runtime::{with_decoded, Context, DataProduct, Output, StoreRef, WindowStoreRef};
use crate::schema::registry::EmbeddedRegistry;
use crate::schema::{
    self, Codec, DecodeFailure, Decoder, GatePort, PortSchema, SchemaRegistry, SubjectNameStrategy,
};
use crate::stores::{StateManager, Store, WindowStore};

/// Runs a product in process: pipe records in, read outputs, dead letters
/// and stores, restart it on the same state.
///
/// # Examples
///
/// ```
/// use meshkit::testing::TestDriver;
/// use meshkit::{Context, Output, TransformError};
///
/// #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
/// struct Order {
///     customer: String,
///     cents: i64,
/// }
///
/// struct Big;
///
/// #[meshkit::product(
///     domain = "sales", name = "big-orders", version = "1.0.0", owner = "team-sales",
///     input(orders, topic = "sales.orders", key = String, value = Order, format = json),
///     output(big, topic = "sales.big-orders", key = String, value = Order, format = json),
/// )]
/// impl Big {
///     #[transform(orders)]
///     fn on_order(key: &String, order: &Order, ctx: &mut Context) -> Result<(), TransformError> {
///         if order.cents >= 100 {
///             Self::OUT.big.send(ctx, key, order)?;
///         }
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let mut driver = TestDriver::new(Big)?;
/// let order = |cents| Order { customer: "c-1".into(), cents };
/// driver.pipe("orders", &"c-1".to_string(), &order(500)).await?;
/// driver.pipe("orders", &"c-1".to_string(), &order(5)).await?;
/// driver.pipe_raw("orders", Some(b"c-1"), Some(b"{not json")).await?;
///
/// let big = driver.read(Output::<String, Order>::new("big"))?;
/// assert_eq!(big.len(), 1);
/// assert_eq!(big[0].value, order(500));
/// assert_eq!(driver.dead_letters()[0].reason, "malformed-json");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TestDriver<P: DataProduct> {
    product: P,
    descriptor: ProductDescriptor,
    registry: Arc<dyn SchemaRegistry>,
    decoder: Decoder,
    /// Decodes what the product sent, as a downstream reader would.
    reader: Decoder,
    ctx: Context,
    state: Arc<StateManager>,
    policy: ErrorPolicy,
    /// By output port index: records sent and not yet read.
    sent: Vec<Vec<OutputRecord>>,
    dead_letters: Vec<DeadLetter>,
    /// By input port: the next offset.
    offsets: HashMap<String, i64>,
    /// Input schemas registered as their upstream writers would: by (port, is key), the id.
    writer_ids: HashMap<(String, bool), u32>,
    clock: i64,
    stopped: bool,
    /// Whether the product's `on_assigned` ran for the driver's task.
    assigned: bool,
    /// Wall-clock timers: (index in the descriptor, next tick).
    wall_timers: Vec<(usize, i64)>,
    /// Stream-time timers: (index in the descriptor, next tick once known).
    stream_timers: Vec<(usize, Option<i64>)>,
    /// The largest timestamp of the records piped in.
    stream_time: Option<i64>,
}

impl<P: DataProduct> std::fmt::Debug for TestDriver<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDriver")
            .field("product", &self.descriptor.identity.name)
            .field("clock", &self.clock)
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}

/// Where the driver's clock starts: 2026-01-01T00:00:00Z, so that tests
/// read the same every run.
const START: i64 = 1_767_225_600_000;

impl<P: DataProduct> TestDriver<P> {
    /// Starts `product`: checks its declaration, runs the compatibility gate
    /// against an empty in-memory registry (registering its output schemas)
    /// and opens its stores in memory. Failed transforms are dead-lettered
    /// (the runtime's default policy).
    ///
    /// # Errors
    ///
    /// [`TestError::Descriptor`] or [`TestError::Gate`], as the runtime
    /// would refuse to start.
    pub async fn start(product: P) -> Result<Self, TestError> {
        Self::start_with_registry(product, Arc::new(EmbeddedRegistry::in_memory())).await
    }

    /// [`start`](Self::start) against `registry`, which may already hold
    /// what upstream writers registered: to test the compatibility gate, or
    /// records framed with ids a test registered itself.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub async fn start_with_registry(
        product: P,
        registry: Arc<dyn SchemaRegistry>,
    ) -> Result<Self, TestError> {
        let declared = product.descriptor().map_err(TestError::Descriptor)?;
        let application_id = declared.identity.default_application_id();
        let descriptor = declared.with_internal_ports(&application_id);
        let inputs: Vec<GatePort<'_>> = (descriptor.inputs.iter())
            .map(|p| GatePort {
                name: &p.name,
                topic: &p.topic,
                schema: p.schema.as_ref(),
            })
            .collect();
        let outputs: Vec<GatePort<'_>> = (descriptor.outputs.iter())
            .map(|p| GatePort {
                name: &p.name,
                topic: &p.topic,
                schema: p.schema.as_ref(),
            })
            .collect();
        let plan = schema::check_gate(
            Some(registry.as_ref()),
            &inputs,
            &outputs,
            SubjectNameStrategy::default(),
            true,
        )
        .await
        .map_err(TestError::Gate)?;
        let read_ports = (descriptor.outputs.iter())
            .filter_map(|p| Some((p.topic.clone(), p.schema.clone()?)))
            .collect();
        let reader = Decoder::new(Some(registry.clone()), read_ports, usize::MAX);
        let decoder = Decoder::new(Some(registry.clone()), plan.inputs, usize::MAX)
            .with_tombstones(descriptor.table_topics());
        let values = crate::runtime::settle_stores(
            &descriptor,
            (SubjectNameStrategy::default(), true),
            &application_id,
            registry.as_ref(),
        )
        .await
        .map_err(TestError::Gate)?;
        let state = Arc::new(crate::runtime::memory_state(&descriptor).with_values(values));
        state.pin_wall_clock(Some(START));
        let mut ctx = Context::with_state(&descriptor, Some(state.clone()));
        ctx.set_encoders(plan.outputs);
        let wall_timers = (descriptor.timers.iter().enumerate())
            .filter(|(_, t)| t.clock == crate::Clock::Wall)
            .map(|(i, t)| (i, t.next_tick(START + 1)))
            .collect();
        let stream_timers = (descriptor.timers.iter().enumerate())
            .filter(|(_, t)| t.clock == crate::Clock::Stream)
            .map(|(i, _)| (i, None))
            .collect();
        Ok(Self {
            product,
            sent: vec![Vec::new(); descriptor.outputs.len()],
            descriptor,
            registry,
            decoder,
            reader,
            ctx,
            state,
            policy: ErrorPolicy::default(),
            dead_letters: Vec::new(),
            offsets: HashMap::new(),
            writer_ids: HashMap::new(),
            clock: START,
            stopped: false,
            assigned: false,
            wall_timers,
            stream_timers,
            stream_time: None,
        })
    }

    /// [`start`](Self::start), for a test that needs no `await` before its
    /// first pipe: the same, run on the spot (it never waits on anything).
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub fn new(product: P) -> Result<Self, TestError> {
        // Every call the start makes is on in-memory structures: the future
        // is ready on its first poll.
        at_once(Self::start(product), "starting the test driver")?
    }

    /// What to do with a record whose transform fails (the runtime's
    /// `MESHKIT_ERROR_POLICY`); dead-letter by default.
    #[must_use]
    pub fn with_error_policy(mut self, policy: ErrorPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The driver's schema registry: what the gate registered, and what
    /// piped records were framed with.
    pub fn registry(&self) -> &Arc<dyn SchemaRegistry> {
        &self.registry
    }

    /// The product's descriptor.
    pub fn descriptor(&self) -> &ProductDescriptor {
        &self.descriptor
    }

    /// The product, to look at what it holds.
    pub fn product(&self) -> &P {
        &self.product
    }

    /// The driver's clock, in milliseconds since the Unix epoch: the
    /// timestamp of records piped in without one. Starts at
    /// 2026-01-01T00:00:00Z.
    pub fn now(&self) -> i64 {
        self.clock
    }

    /// Moves the clock on by `by`: records piped in after it are that much
    /// later. Fires no timer: see [`advance_wall_clock`](Self::advance_wall_clock).
    pub fn advance_time(&mut self, by: Duration) {
        self.clock = self
            .clock
            .saturating_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX));
        self.state.pin_wall_clock(Some(self.clock));
    }

    /// Moves the clock on by `by` and fires the wall-clock timers whose
    /// ticks it passes, each tick in order, as the runtime would on an idle
    /// partition (the driver's one task).
    ///
    /// # Errors
    ///
    /// [`TestError::TimerFailed`] if an `on_timer` failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use meshkit::testing::TestDriver;
    /// use meshkit::{Clock, Context, DataProduct, DescriptorError, ProductDescriptor, Record, TransformError};
    ///
    /// struct Beat;
    ///
    /// impl DataProduct for Beat {
    ///     fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
    ///         ProductDescriptor::builder("ops", "beat")
    ///             .version("1.0.0")
    ///             .owner("team-ops")
    ///             .input("events", "ops.events")
    ///             .output("beats", "ops.beats")
    ///             .timer("beat", Clock::Wall, Duration::from_secs(10))
    ///             .build()
    ///     }
    ///
    ///     async fn process(&mut self, _: &Record<'_>, _: &mut Context) -> Result<(), TransformError> {
    ///         Ok(())
    ///     }
    ///
    ///     async fn on_timer(&mut self, _: &str, ctx: &mut Context) -> Result<(), TransformError> {
    ///         let tick = ctx.timestamp().unwrap_or_default();
    ///         ctx.emit("beats", None, tick.to_string().into_bytes())?;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let mut driver = TestDriver::start(Beat).await?;
    /// driver.advance_wall_clock(Duration::from_secs(25)).await?;
    /// assert_eq!(driver.read_raw("beats")?.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn advance_wall_clock(&mut self, by: Duration) -> Result<(), TestError> {
        let until = self
            .clock
            .saturating_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX));
        loop {
            let earliest = (self.wall_timers.iter().enumerate())
                .filter(|(_, (_, next))| *next <= until)
                .min_by_key(|(_, (_, next))| *next)
                .map(|(slot, &(timer, tick))| (slot, timer, tick));
            let Some((slot, timer, tick)) = earliest else {
                break;
            };
            self.wall_timers[slot].1 = tick.saturating_add(self.descriptor.timers[timer].every_ms());
            self.clock = self.clock.max(tick);
            self.state.pin_wall_clock(Some(self.clock));
            self.fire(timer, tick).await?;
        }
        self.clock = until;
        self.state.pin_wall_clock(Some(self.clock));
        // As the runtime does on an idle task: entries expiring on the wall
        // clock are removed.
        self.ctx.bind(0, None);
        self.settle(until)?;
        Ok(())
    }

    /// Runs the product's `on_assigned` for the driver's task (partition
    /// 0) if it has not run since the start or the last restart: before
    /// the first record or timer, as the runtime does once a task is
    /// restored.
    async fn ensure_assigned(&mut self) -> Result<(), TestError> {
        if self.assigned {
            return Ok(());
        }
        self.ctx.bind(0, None);
        if let Err(source) = self.product.on_assigned(0, &mut self.ctx).await {
            self.ctx.discard();
            self.state.discard();
            self.stopped |= self.policy == ErrorPolicy::Stop;
            return Err(TestError::HookFailed {
                hook: "on_assigned",
                source,
            });
        }
        drop(self.ctx.take_dead_letter());
        self.assigned = true;
        self.settle(self.clock)
    }

    /// Stops the product as the runtime does at a clean stop: its
    /// `on_revoked` for the driver's task (if it was assigned), then its
    /// `on_stop`. Piped records fail afterwards, until a
    /// [`restart`](Self::restart).
    ///
    /// # Errors
    ///
    /// [`TestError::HookFailed`] with the first hook that failed (both run).
    pub async fn stop(&mut self) -> Result<(), TestError> {
        let revoked = if std::mem::take(&mut self.assigned) {
            self.product
                .on_revoked(0)
                .await
                .err()
                .map(|source| TestError::HookFailed {
                    hook: "on_revoked",
                    source,
                })
        } else {
            None
        };
        let stopped = self
            .product
            .on_stop()
            .await
            .err()
            .map(|source| TestError::HookFailed {
                hook: "on_stop",
                source,
            });
        self.stopped = true;
        match revoked.or(stopped) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// Runs timer `timer` at `tick` for the driver's task.
    async fn fire(&mut self, timer: usize, tick: i64) -> Result<(), TestError> {
        self.ensure_assigned().await?;
        let name = self.descriptor.timers[timer].name.clone();
        self.ctx.bind(0, Some(tick));
        if let Err(source) = self.product.on_timer(&name, &mut self.ctx).await {
            self.ctx.discard();
            self.state.discard();
            self.stopped |= self.policy == ErrorPolicy::Stop;
            return Err(TestError::TimerFailed {
                timer: name,
                tick,
                source,
            });
        }
        // A timer has no record to dead-letter.
        drop(self.ctx.take_dead_letter());
        self.settle(tick)
    }

    /// Fires the stream-time timers a record at `timestamp` made due.
    async fn fire_stream(&mut self, timestamp: i64) -> Result<(), TestError> {
        let stream_time = self.stream_time.map_or(timestamp, |t| t.max(timestamp));
        self.stream_time = Some(stream_time);
        for slot in 0..self.stream_timers.len() {
            let (timer, next) = self.stream_timers[slot];
            let every = self.descriptor.timers[timer].every_ms();
            let next = next
                .unwrap_or_else(|| self.descriptor.timers[timer].next_tick(stream_time.saturating_add(1)));
            self.stream_timers[slot].1 = Some(next);
            if next <= stream_time {
                let tick = stream_time - stream_time.rem_euclid(every);
                self.stream_timers[slot].1 = Some(tick.saturating_add(every));
                self.fire(timer, tick).await?;
            }
        }
        Ok(())
    }

    /// Keeps what the transform or a timer sent and wrote, stamped `timestamp`.
    fn settle(&mut self, timestamp: i64) -> Result<(), TestError> {
        self.ctx.expire_due()?;
        for (index, _, mut sent) in self.ctx.drain_to_topics().collect::<Vec<_>>() {
            sent.timestamp = sent.timestamp.or(Some(timestamp));
            self.sent[index].push(sent);
        }
        drop(self.ctx.take_changelog());
        self.state.persist(&HashMap::new(), &HashMap::new())?;
        Ok(())
    }

    /// Pipes `value` with `key` (`&()` on a port without keys) into input
    /// port `port`, stamped with the driver's clock, and processes it.
    ///
    /// # Errors
    ///
    /// A [`TestError`] if the port does not exist or carries other types,
    /// or, under `ErrorPolicy::Stop`, the transform failed.
    pub async fn pipe<K: Any, V: Any>(&mut self, port: &str, key: &K, value: &V) -> Result<(), TestError> {
        self.pipe_record(port, TestRecord::new(key, value)).await
    }

    /// Pipes a whole record (key, value, timestamp, headers).
    ///
    /// # Errors
    ///
    /// As [`pipe`](Self::pipe).
    pub async fn pipe_record<K: Any, V: Any>(
        &mut self,
        port: &str,
        record: TestRecord<&K, &V>,
    ) -> Result<(), TestError> {
        let schema = self.input_schema(port)?;
        let key = match schema.as_ref().and_then(PortSchema::key_codec) {
            Some(codec) => Some(self.encode_input(port, codec, true, record.key).await?),
            None if is_unit::<K>() => None,
            None => return Err(wrong_type::<K>("input", port, "key", "no key (pipe `&()`)")),
        };
        let value = match &schema {
            Some(schema) => {
                self.encode_input(port, schema.value_codec(), false, record.value)
                    .await?
            }
            None => match (record.value as &dyn Any).downcast_ref::<Vec<u8>>() {
                Some(bytes) => bytes.clone(),
                None => return Err(wrong_type::<V>("input", port, "value", "raw bytes (`Vec<u8>`)")),
            },
        };
        let headers: Vec<(&str, Option<&[u8]>)> = record
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), Some(v.as_slice())))
            .collect();
        let timestamp = record.timestamp.unwrap_or(self.clock);
        self.process(port, key.as_deref(), Some(&value), timestamp, &headers)
            .await
    }

    /// Pipes a tombstone for `key` into table port `port` (a record with
    /// the key and no value: the key's deletion), stamped with the driver's
    /// clock.
    ///
    /// # Errors
    ///
    /// As [`pipe`](Self::pipe); a port without typed keys cannot take one.
    pub async fn pipe_tombstone<K: Any>(&mut self, port: &str, key: &K) -> Result<(), TestError> {
        let schema = self.input_schema(port)?;
        let Some(codec) = schema.as_ref().and_then(PortSchema::key_codec) else {
            return Err(wrong_type::<K>(
                "input",
                port,
                "key",
                "a typed key (a table port)",
            ));
        };
        let key = self.encode_input(port, codec, true, key).await?;
        let timestamp = self.clock;
        self.process(port, Some(&key), None, timestamp, &[]).await
    }

    /// Pipes a record of raw bytes, as any client could write it: to test
    /// what the product does with malformed input.
    ///
    /// # Errors
    ///
    /// As [`pipe`](Self::pipe).
    pub async fn pipe_raw(
        &mut self,
        port: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<(), TestError> {
        self.input_schema(port)?;
        let timestamp = self.clock;
        self.process(port, key, value, timestamp, &[]).await
    }

    /// Takes the records sent to `output` since the last read, decoded as a
    /// downstream reader would (Avro through the registry).
    ///
    /// # Errors
    ///
    /// [`TestError::UnknownPort`], [`TestError::WrongType`] if the handle's
    /// types are not the port's, [`TestError::Decode`] if a record does not
    /// decode.
    pub fn read<K: Any, V: Any>(&mut self, output: Output<K, V>) -> Result<Vec<TestRecord<K, V>>, TestError> {
        let index = self.output_index(output.name())?;
        self.read_at(index)
    }

    /// [`read`](Self::read) by the port's name.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    pub fn read_port<K: Any, V: Any>(&mut self, port: &str) -> Result<Vec<TestRecord<K, V>>, TestError> {
        let index = self.output_index(port)?;
        self.read_at(index)
    }

    fn read_at<K: Any, V: Any>(&mut self, index: usize) -> Result<Vec<TestRecord<K, V>>, TestError> {
        let port = &self.descriptor.outputs[index];
        let Some(schema) = port.schema.clone() else {
            return Err(wrong_type::<V>(
                "output",
                &port.name,
                "value",
                "raw bytes: read it with `read_raw`",
            ));
        };
        check_type::<V>("output", &port.name, "value", schema.value_codec())?;
        match schema.key_codec() {
            Some(codec) => check_type::<K>("output", &port.name, "key", codec)?,
            None if is_unit::<K>() => {}
            None => {
                return Err(wrong_type::<K>(
                    "output",
                    &port.name,
                    "key",
                    "no key (read with `()`)",
                ))
            }
        }
        let topic = port.topic.clone();
        let name = port.name.clone();
        let records = std::mem::take(&mut self.sent[index]);
        records
            .into_iter()
            .map(|record| self.decode_output(&name, &topic, record))
            .collect()
    }

    /// Takes the records sent to `port` since the last read, as bytes.
    ///
    /// # Errors
    ///
    /// [`TestError::UnknownPort`].
    pub fn read_raw(&mut self, port: &str) -> Result<Vec<RawRecord>, TestError> {
        let index = self.output_index(port)?;
        Ok(std::mem::take(&mut self.sent[index]))
    }

    /// Takes the dead letters since the last call.
    pub fn dead_letters(&mut self) -> Vec<DeadLetter> {
        std::mem::take(&mut self.dead_letters)
    }

    /// Store `store`, as the transform sees it (what committed records wrote).
    ///
    /// # Errors
    ///
    /// A [`StateError`](crate::StateError) if the product has no such store.
    pub fn store<K, V>(&mut self, store: StoreRef<K, V>) -> Result<Store<'_, K, V>, TestError>
    where
        K: serde::Serialize + serde::de::DeserializeOwned,
        V: serde::Serialize + serde::de::DeserializeOwned,
    {
        Ok(store.open(&mut self.ctx)?)
    }

    /// Windowed store `store`, as the transform sees it.
    ///
    /// # Errors
    ///
    /// A [`StateError`](crate::StateError) if the product has no such
    /// windowed store.
    pub fn window_store<K, V>(
        &mut self,
        store: WindowStoreRef<K, V>,
    ) -> Result<WindowStore<'_, K, V>, TestError>
    where
        K: serde::Serialize + serde::de::DeserializeOwned + Clone,
        V: serde::Serialize + serde::de::DeserializeOwned + Clone,
    {
        Ok(store.open(&mut self.ctx)?)
    }

    /// Session-window store `store`, as the transform sees it.
    ///
    /// # Errors
    ///
    /// A [`StateError`](crate::StateError) if the product has no such
    /// session store.
    pub fn session_store<K, V>(
        &mut self,
        store: crate::state::SessionStoreRef<K, V>,
    ) -> Result<crate::state::SessionStore<'_, K, V>, TestError>
    where
        K: serde::Serialize + serde::de::DeserializeOwned + Clone,
        V: serde::Serialize + serde::de::DeserializeOwned + Clone,
    {
        Ok(store.open(&mut self.ctx)?)
    }

    /// Sliding-window store `store`, as the transform sees it.
    ///
    /// # Errors
    ///
    /// A [`StateError`](crate::StateError) if the product has no such
    /// sliding store.
    pub fn sliding_store<K, V>(
        &mut self,
        store: crate::state::SlidingStoreRef<K, V>,
    ) -> Result<crate::state::SlidingStore<'_, K, V>, TestError>
    where
        K: serde::Serialize + serde::de::DeserializeOwned + Clone,
        V: serde::Serialize + serde::de::DeserializeOwned + Clone,
    {
        Ok(store.open(&mut self.ctx)?)
    }

    /// Restarts the product as a new instance, `product`, on the same state:
    /// what committed stays (stores, outputs not yet read, offsets), what a
    /// test wrote through [`store`](Self::store) and did not pipe a record
    /// after is dropped, as a crash would drop an open transaction.
    pub fn restart(&mut self, product: P) {
        self.state.discard();
        let encoders = self.ctx_encoders();
        self.ctx = Context::with_state(&self.descriptor, Some(self.state.clone()));
        self.ctx.set_encoders(encoders);
        self.product = product;
        self.stopped = false;
        self.assigned = false;
        // Stream time lives in the loop, not in the stores: a restarted
        // instance learns it again from its records.
        self.stream_time = None;
        for (_, next) in &mut self.stream_timers {
            *next = None;
        }
    }

    fn ctx_encoders(&self) -> Vec<Option<schema::RegisteredPort>> {
        self.ctx.encoders().to_vec()
    }

    fn input_schema(&self, port: &str) -> Result<Option<PortSchema>, TestError> {
        (self.descriptor.inputs.iter())
            .find(|p| p.name == port)
            .map(|p| p.schema.clone())
            .ok_or_else(|| TestError::UnknownPort {
                kind: "input",
                port: port.to_string(),
                known: self.descriptor.inputs.iter().map(|p| p.name.clone()).collect(),
            })
    }

    fn output_index(&self, port: &str) -> Result<usize, TestError> {
        (self.descriptor.outputs.iter())
            .position(|p| p.name == port)
            .ok_or_else(|| TestError::UnknownPort {
                kind: "output",
                port: port.to_string(),
                known: self.descriptor.outputs.iter().map(|p| p.name.clone()).collect(),
            })
    }

    /// Encodes a piped key or value as its upstream writer would: Avro and
    /// JSON Schema framed with the id of their schema, registered under the
    /// port's subject.
    async fn encode_input<T: Any>(
        &mut self,
        port: &str,
        codec: &Codec,
        is_key: bool,
        value: &T,
    ) -> Result<Vec<u8>, TestError> {
        let part = if is_key { "key" } else { "value" };
        check_type::<T>("input", port, part, codec)?;
        let id = self.writer_id(port, is_key, codec).await?;
        codec
            .encode_payload(id, value)
            .map_err(|source| TestError::Encode {
                port: port.to_string(),
                part,
                source,
            })
    }

    /// The id of a piped part's schema, registered once per port and part
    /// (0 for a plain part, which has none).
    async fn writer_id(&mut self, port: &str, is_key: bool, codec: &Codec) -> Result<u32, TestError> {
        if let Some(id) = self.writer_ids.get(&(port.to_string(), is_key)) {
            return Ok(*id);
        }
        let topic = (self.descriptor.inputs.iter())
            .find(|p| p.name == port)
            .map(|p| p.topic.clone())
            .unwrap_or_default();
        let Some(subject) = schema::part_subject(SubjectNameStrategy::default(), &topic, codec, is_key)
        else {
            return Ok(0);
        };
        let (id, _) = schema::register_output(self.registry.as_ref(), &subject, codec, true)
            .await
            .map_err(TestError::Registry)?;
        self.writer_ids.insert((port.to_string(), is_key), id);
        Ok(id)
    }

    fn decode_output<K: Any, V: Any>(
        &mut self,
        port: &str,
        topic: &str,
        record: OutputRecord,
    ) -> Result<TestRecord<K, V>, TestError> {
        let decode_error = |source| TestError::Decode {
            port: port.to_string(),
            source,
        };
        // The reader's registry is in memory: decoding never waits.
        let decoding = self
            .reader
            .decode(topic, record.key.as_deref(), record.value.as_deref());
        let decoded = match at_once(decoding, "decoding an output")? {
            Ok(decoded) => decoded,
            Err(DecodeFailure::Poison { error, .. }) => return Err(decode_error(error)),
            Err(DecodeFailure::Registry(err)) => return Err(TestError::Registry(err)),
        };
        let value = decoded
            .value
            .and_then(|v| v.downcast::<V>().ok())
            .ok_or_else(|| decode_error(crate::schema::DecodeError::MissingValue))?;
        let key = match decoded.key {
            Some(key) => key.downcast::<K>().ok().map(|key| *key),
            None => super::unit::<K>(),
        }
        .ok_or_else(|| decode_error(crate::schema::DecodeError::MissingKey))?;
        Ok(TestRecord {
            key,
            value: *value,
            timestamp: record.timestamp,
            headers: record.headers,
        })
    }

    /// One record through decode, the transform and the outputs, as the
    /// processing loop handles it; then what it wrote to repartition topics,
    /// read back in the order it was written (the driver's one task owns
    /// every key).
    async fn process(
        &mut self,
        port: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp: i64,
        headers: &[(&str, Option<&[u8]>)],
    ) -> Result<(), TestError> {
        self.process_one(port, key, value, timestamp, headers).await?;
        while let Some((port, record)) = self.next_repartitioned() {
            let at = record.timestamp.unwrap_or(timestamp);
            (self.process_one(&port, record.key.as_deref(), record.value.as_deref(), at, &[])).await?;
        }
        Ok(())
    }

    /// The first record written to a repartition topic and not yet read back.
    fn next_repartitioned(&mut self) -> Option<(String, crate::OutputRecord)> {
        let descriptor = &self.descriptor;
        let (index, port) = (descriptor.outputs.iter().enumerate())
            .find(|(i, p)| !self.sent[*i].is_empty() && descriptor.is_internal_port(&p.name))?;
        Some((port.name.clone(), self.sent[index].remove(0)))
    }

    async fn process_one(
        &mut self,
        port: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp: i64,
        headers: &[(&str, Option<&[u8]>)],
    ) -> Result<(), TestError> {
        if self.stopped {
            return Err(TestError::Stopped {
                port: port.to_string(),
                offset: self.offsets.get(port).copied().unwrap_or_default(),
                source: crate::TransformError::new(
                    "the product stopped (on an earlier record, or by `stop`); restart it",
                ),
            });
        }
        self.ensure_assigned().await?;
        let topic = (self.descriptor.inputs.iter())
            .find(|p| p.name == port)
            .map(|p| p.topic.clone())
            .unwrap_or_default();
        let offset = {
            let next = self.offsets.entry(port.to_string()).or_insert(0);
            *next += 1;
            *next - 1
        };
        let dead_letter = |reason: String, message: String| DeadLetter {
            port: port.to_string(),
            offset,
            reason,
            message,
            key: key.map(<[u8]>::to_vec),
            value: value.map(<[u8]>::to_vec),
        };
        let decoded = if self.decoder.decodes(&topic) {
            match self.decoder.decode(&topic, key, value).await {
                Ok(decoded) => Some(decoded),
                Err(DecodeFailure::Poison {
                    error, key: is_key, ..
                }) => {
                    let (reason, message) = error.dead_letter(is_key);
                    self.dead_letters.push(dead_letter(reason, message));
                    return Ok(());
                }
                Err(DecodeFailure::Registry(err)) => return Err(TestError::Registry(err)),
            }
        } else {
            None
        };
        let mut record = Record::new(port, &topic, 0, offset).with_timestamp(timestamp);
        if let Some(key) = key {
            record = record.with_key(key);
        }
        if let Some(value) = value {
            record = record.with_value(value);
        }
        for (name, value) in headers {
            record = record.with_header(name, *value);
        }
        let mut record = with_decoded(record, &decoded);
        // As the runtime: the product may take event time from the value.
        let timestamp = DataProduct::event_time(&self.product, &record).unwrap_or(timestamp);
        record = record.with_timestamp(timestamp);
        let attempts = match self.policy {
            ErrorPolicy::Retry { attempts } => attempts.max(1),
            _ => 1,
        };
        let mut failure = None;
        for _ in 0..attempts {
            self.ctx.bind(0, Some(timestamp));
            self.ctx.observe(Some(timestamp));
            match self.product.process(&record, &mut self.ctx).await {
                Ok(()) => {
                    failure = None;
                    break;
                }
                Err(err) => {
                    self.ctx.discard();
                    self.state.discard();
                    let retriable = err.is_retriable();
                    failure = Some(err);
                    if !retriable {
                        break;
                    }
                }
            }
        }
        if let Some(err) = failure {
            if self.policy == ErrorPolicy::Stop {
                self.stopped = true;
                return Err(TestError::Stopped {
                    port: port.to_string(),
                    offset,
                    source: err,
                });
            }
            self.dead_letters.push(dead_letter(
                "transform-error".to_string(),
                ErrorChain(&err).to_string(),
            ));
            return Ok(());
        }
        if let Some((reason, message)) = self.ctx.take_dead_letter() {
            self.dead_letters.push(dead_letter(reason, message));
        }
        self.settle(timestamp)?;
        if !self.stream_timers.is_empty() {
            self.fire_stream(timestamp).await?;
        }
        Ok(())
    }
}

/// The output of `future`, which the driver knows is ready on its first poll
/// (every call it makes is on in-memory structures); `doing` names the step
/// if it is not.
fn at_once<F: Future>(future: F, doing: &str) -> Result<F::Output, TestError> {
    let mut future = std::pin::pin!(future);
    let waker = std::task::Waker::noop();
    match future.as_mut().poll(&mut std::task::Context::from_waker(waker)) {
        std::task::Poll::Ready(output) => Ok(output),
        std::task::Poll::Pending => Err(TestError::Registry(crate::schema::RegistryError::Unavailable {
            reason: format!("the in-memory registry did not answer at once, {doing}"),
            source: None,
        })),
    }
}
