//! The user contract: what a product implements ([`DataProduct`]) and what
//! the runtime hands its transform ([`Context`], and the typed store handles
//! it opens on it).
//!
//! Everything the `meshkit-macros` DSL generates is written against these
//! items; a product can implement them by hand.

mod context;
mod emit;
#[cfg(feature = "state")]
mod handles;
mod outputs;

use std::future::Future;

#[cfg(all(feature = "state", feature = "testing"))]
pub(crate) use context::memory_state;
#[cfg(feature = "state")]
pub(crate) use context::ttls;
pub use context::{Context, DeadLetterReason};
pub use emit::EmitError;
#[cfg(feature = "ops")]
pub(crate) use handles::record_time;
#[cfg(feature = "state")]
pub use handles::{LocalState, SessionStoreRef, SlidingStoreRef, StoreRef, WindowStoreRef};
#[cfg(feature = "avro")]
pub use outputs::Output;
pub use outputs::RawOutput;

use crate::error::{DescriptorError, TransformError};
use crate::product::ProductDescriptor;
use crate::record::Record;

/// A data product: its declaration and its transform.
///
/// The runtime calls [`process`](DataProduct::process) once per input record,
/// in offset order within each input partition. Outputs go through the
/// [`Context`]; they become visible to read_committed readers only when the
/// transaction that carries the input's offset commits, so a record is
/// processed exactly once however the product crashes.
///
/// # Examples
///
/// A stateless product that upper-cases every value:
///
/// ```
/// use meshkit::{Context, DataProduct, DescriptorError, ProductDescriptor, Record, TransformError};
///
/// struct Shout {
///     descriptor: ProductDescriptor,
/// }
///
/// impl DataProduct for Shout {
///     fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
///         Ok(self.descriptor.clone())
///     }
///
///     async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
///         let value = record.value().unwrap_or_default().to_ascii_uppercase();
///         ctx.emit("loud", record.key().map(<[u8]>::to_vec), value)?;
///         Ok(())
///     }
/// }
/// ```
pub trait DataProduct: Send + 'static {
    /// The product's identity and ports. Called once, by
    /// [`Runtime::new`](crate::Runtime::new), which checks it again.
    ///
    /// # Errors
    ///
    /// A [`DescriptorError`] if the declaration breaks a rule (typically the
    /// one [`DescriptorBuilder::build`] returns).
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError>;

    /// Processes one input record, emitting outputs through `ctx`.
    ///
    /// # Errors
    ///
    /// A [`TransformError`] makes the runtime abort the open transaction,
    /// rewind, and apply the [`ErrorPolicy`](crate::ErrorPolicy) to this record.
    fn process(
        &mut self,
        record: &Record<'_>,
        ctx: &mut Context,
    ) -> impl Future<Output = Result<(), TransformError>> + Send;

    /// Does the work of timer `timer` (declared with
    /// [`DescriptorBuilder::timer`](crate::DescriptorBuilder::timer)) for
    /// one task: `ctx` is bound to the task's partition and stores, and
    /// [`Context::timestamp`] is the tick. Called once per tick for each
    /// task the instance owns; what it emits and writes commits in the same
    /// transaction as the records around it. Does nothing by default.
    ///
    /// # Errors
    ///
    /// A [`TransformError`] under [`ErrorPolicy::Stop`](crate::ErrorPolicy::Stop)
    /// stops the runtime; under the other policies the open transaction
    /// aborts (its records are processed again) and the timer fires again
    /// at its next tick.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use meshkit::{Clock, Context, DataProduct, DescriptorError, ProductDescriptor, Record, TransformError};
    ///
    /// /// Counts records per task and publishes the count every ten seconds.
    /// struct Heartbeat {
    ///     seen: u64,
    /// }
    ///
    /// impl DataProduct for Heartbeat {
    ///     fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
    ///         ProductDescriptor::builder("ops", "heartbeat")
    ///             .version("1.0.0")
    ///             .owner("team-ops")
    ///             .input("events", "ops.events")
    ///             .output("beats", "ops.beats")
    ///             .timer("beat", Clock::Wall, Duration::from_secs(10))
    ///             .build()
    ///     }
    ///
    ///     async fn process(&mut self, _: &Record<'_>, _: &mut Context) -> Result<(), TransformError> {
    ///         self.seen += 1;
    ///         Ok(())
    ///     }
    ///
    ///     async fn on_timer(&mut self, _timer: &str, ctx: &mut Context) -> Result<(), TransformError> {
    ///         ctx.emit("beats", None, self.seen.to_string().into_bytes())?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    fn on_timer(
        &mut self,
        timer: &str,
        ctx: &mut Context,
    ) -> impl Future<Output = Result<(), TransformError>> + Send {
        let _ = (timer, ctx);
        std::future::ready(Ok(()))
    }

    /// Called when a task (input partition) is assigned to this processing
    /// thread, once its stores are restored and before its first record,
    /// with `ctx` bound to the task's partition and stores. What it emits
    /// and writes commits in the open transaction; an error is handled as
    /// a timer's is (under `ErrorPolicy::Stop` the product stops; otherwise
    /// the transaction aborts and the hook runs again at the next turn).
    /// By default it does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::{Context, DataProduct, DescriptorError, ProductDescriptor, Record, TransformError};
    ///
    /// /// Announces each task it takes, then relays records.
    /// struct Announcer;
    ///
    /// impl DataProduct for Announcer {
    ///     fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
    ///         ProductDescriptor::builder("ops", "announcer")
    ///             .version("1.0.0")
    ///             .owner("team-ops")
    ///             .input("events", "ops.events")
    ///             .output("tasks", "ops.tasks")
    ///             .build()
    ///     }
    ///
    ///     async fn process(&mut self, _: &Record<'_>, _: &mut Context) -> Result<(), TransformError> {
    ///         Ok(())
    ///     }
    ///
    ///     async fn on_assigned(&mut self, partition: i32, ctx: &mut Context) -> Result<(), TransformError> {
    ///         ctx.emit("tasks", None, format!("took {partition}").into_bytes())?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    fn on_assigned(
        &mut self,
        partition: i32,
        ctx: &mut Context,
    ) -> impl Future<Output = Result<(), TransformError>> + Send {
        let _ = (partition, ctx);
        std::future::ready(Ok(()))
    }

    /// Called when a task this thread processed is taken away (a rebalance)
    /// or the runtime stops cleanly, after the task's last commit: its
    /// stores are no longer reachable. For what the product keeps in memory
    /// per task. An error is logged. By default it does nothing.
    fn on_revoked(&mut self, partition: i32) -> impl Future<Output = Result<(), TransformError>> + Send {
        let _ = partition;
        std::future::ready(Ok(()))
    }

    /// Called once per processing thread when the runtime stops cleanly,
    /// after its last commit and its tasks' [`on_revoked`](Self::on_revoked):
    /// to flush or close what the product holds. An error is logged. By
    /// default it does nothing.
    fn on_stop(&mut self) -> impl Future<Output = Result<(), TransformError>> + Send {
        std::future::ready(Ok(()))
    }

    /// The event time of `record`, decoded, in milliseconds since the
    /// epoch: what stream time, windows, stream-time timers and stores
    /// expiring on stream time follow, what [`Context::timestamp`] returns
    /// while the record is processed, and what its outputs carry unless
    /// they set their own. By default the record's Kafka timestamp; a
    /// product whose records say when they happened returns that (the
    /// DSL's `event_time = field` on an input port generates this method).
    /// `None` keeps the Kafka timestamp.
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::{Context, DataProduct, DescriptorError, PortSchema, ProductDescriptor, Record, TransformError};
    ///
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Reading {
    ///     sensor: String,
    ///     measured_at_ms: i64,
    /// }
    ///
    /// struct Readings;
    ///
    /// impl DataProduct for Readings {
    ///     fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
    ///         ProductDescriptor::builder("plant", "readings")
    ///             .version("1.0.0")
    ///             .owner("team-plant")
    ///             .input_with("readings", "plant.readings", PortSchema::json::<Reading>())
    ///             .output("copies", "plant.copies")
    ///             .build()
    ///     }
    ///
    ///     fn event_time(&self, record: &Record<'_>) -> Option<i64> {
    ///         let reading = record.value_as::<Reading>().ok()?;
    ///         Some(reading.measured_at_ms)
    ///     }
    ///
    ///     async fn process(&mut self, _: &Record<'_>, _: &mut Context) -> Result<(), TransformError> {
    ///         Ok(())
    ///     }
    /// }
    /// ```
    fn event_time(&self, record: &Record<'_>) -> Option<i64> {
        record.timestamp()
    }
}

/// The lifecycle hooks of a product declared with the DSL: with `lifecycle`
/// in `#[meshkit::product(...)]`, the generated [`DataProduct`] calls these
/// (their meaning is [`DataProduct::on_assigned`]'s, [`on_revoked`](DataProduct::on_revoked)'s
/// and [`on_stop`](DataProduct::on_stop)'s). Each has a default body: implement
/// the ones the product needs. A product written by hand overrides the
/// `DataProduct` methods instead.
///
/// # Examples
///
/// ```
/// use meshkit::{Context, Lifecycle, TransformError};
///
/// pub struct Relay;
///
/// #[meshkit::product(
///     domain = "ops",
///     name = "relay",
///     version = "1.0.0",
///     owner = "team-ops",
///     input(events, topic = "ops.events"),
///     output(copies, topic = "ops.copies"),
///     lifecycle,
/// )]
/// impl Relay {
///     #[transform(events)]
///     fn on_event(value: Option<&[u8]>, ctx: &mut Context) -> Result<(), TransformError> {
///         let _ = (value, ctx);
///         Ok(())
///     }
/// }
///
/// impl Lifecycle for Relay {
///     async fn on_assigned(&mut self, partition: i32, ctx: &mut Context) -> Result<(), TransformError> {
///         ctx.emit("copies", None, format!("took {partition}").into_bytes())?;
///         Ok(())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` declares `lifecycle` but does not implement `meshkit::Lifecycle`",
    note = "write `impl meshkit::Lifecycle for {Self} {{}}` with the hooks the product needs (each has a default)"
)]
pub trait Lifecycle: Send {
    /// See [`DataProduct::on_assigned`].
    fn on_assigned(
        &mut self,
        partition: i32,
        ctx: &mut Context,
    ) -> impl Future<Output = Result<(), TransformError>> + Send {
        let _ = (partition, ctx);
        std::future::ready(Ok(()))
    }

    /// See [`DataProduct::on_revoked`].
    fn on_revoked(&mut self, partition: i32) -> impl Future<Output = Result<(), TransformError>> + Send {
        let _ = partition;
        std::future::ready(Ok(()))
    }

    /// See [`DataProduct::on_stop`].
    fn on_stop(&mut self) -> impl Future<Output = Result<(), TransformError>> + Send {
        std::future::ready(Ok(()))
    }
}
