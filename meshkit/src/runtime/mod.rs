//! The runtime: a value a service builds and awaits, with a handle to stop it
//! and read its health.
//!
//! The library installs no signal handler and no global subscriber; a binary
//! wires Ctrl-C / SIGTERM to [`RuntimeHandle::stop`] itself.

mod contract;
#[cfg(feature = "metrics")]
mod endpoint;
mod error;
mod features;
#[cfg(feature = "ops")]
#[cfg_attr(docsrs, doc(cfg(feature = "ops")))]
pub mod ops;
mod poison;
mod processor;
#[cfg(feature = "catalog")]
mod registration;
#[cfg(feature = "state")]
mod tasks;
mod txn;

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

#[cfg(all(feature = "state", feature = "testing"))]
pub(crate) use contract::memory_state;
#[cfg(feature = "avro")]
pub use contract::Output;
pub use contract::{Context, DataProduct, DeadLetterReason, EmitError, Lifecycle, RawOutput};
#[cfg(feature = "state")]
pub use contract::{LocalState, SessionStoreRef, SlidingStoreRef, StoreRef, WindowStoreRef};
pub use error::Error;
pub use processor::dlq_headers;
#[cfg(all(feature = "testing", feature = "state"))]
pub(crate) use processor::schemas::with_decoded;
#[cfg(all(feature = "state", feature = "testing"))]
pub(crate) use processor::settle_stores;

#[cfg(feature = "catalog")]
use crate::catalog::CatalogRecord;
use crate::config::Config;

use crate::metrics::Metrics;
use crate::product::ProductDescriptor;

/// Where a runtime is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Status {
    /// Checking the configuration, the brokers and the topics.
    Starting,
    /// In the consumer group, processing.
    Running,
    /// Committing what is in flight and leaving the group.
    Stopping,
    /// Stopped cleanly.
    Stopped,
    /// Stopped on an error.
    Failed,
}

/// A snapshot of a runtime's health, from [`RuntimeHandle::health`].
///
/// It grows as the runtime learns to say more: read its fields, start
/// from [`Health::default`] to make one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Health {
    /// Where the runtime is in its life.
    pub status: Status,
    /// The bootstrap brokers in use, once started (the embedded local
    /// cluster's address when no brokers are configured).
    pub brokers: Option<String>,
    /// Input partitions assigned to this instance.
    pub assigned_partitions: usize,
    /// Input partitions assigned to each processing thread, by thread index
    /// (see [`ConfigBuilder::processing_threads`](crate::ConfigBuilder::processing_threads)):
    /// they add up to `assigned_partitions`.
    pub thread_partitions: Vec<usize>,
    /// Times this instance lost its partitions without handing them over:
    /// it did not poll within `max.poll.interval.ms`, or its session timed
    /// out. Its open transaction was aborted, and whoever got them next
    /// went on from the group's committed offsets.
    pub assignments_lost: u64,
    /// Whether the consumer group was joined: an assignment (perhaps of no
    /// partition) was received.
    pub joined: bool,
    /// Whether stores of assigned partitions are being or waiting to be
    /// restored from their changelogs (the runtime is not ready meanwhile).
    pub restoring: bool,
    /// Changelog records applied by restores since start.
    pub records_restored: u64,
    /// Input records processed and committed.
    pub records_committed: u64,
    /// Transactions committed.
    pub transactions_committed: u64,
    /// Transactions aborted.
    pub transactions_aborted: u64,
    /// The error the runtime stopped on, if it failed.
    pub last_error: Option<String>,
    /// Errors librdkafka reported on the connections to the brokers since
    /// start: a broker that went away or cannot be reached, all brokers
    /// down. The runtime rides through them (librdkafka reconnects); they
    /// say why progress paused.
    pub broker_errors: u64,
    /// The latest of those errors.
    pub last_broker_error: Option<String>,
    /// Whether every broker was reported down and no transaction has
    /// committed since: the product is waiting for the brokers to return.
    pub brokers_down: bool,
    /// The processing guarantee the runtime runs with (`/healthz` says
    /// `exactly_once` or `at_least_once`). At least once, the transaction
    /// counts above count batches: each flushed and its offsets committed,
    /// or given up and processed again.
    pub guarantee: crate::Guarantee,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            status: Status::Starting,
            brokers: None,
            assigned_partitions: 0,
            thread_partitions: Vec::new(),
            assignments_lost: 0,
            joined: false,
            restoring: false,
            records_restored: 0,
            records_committed: 0,
            transactions_committed: 0,
            transactions_aborted: 0,
            last_error: None,
            broker_errors: 0,
            last_broker_error: None,
            brokers_down: false,
            guarantee: crate::Guarantee::default(),
        }
    }
}

impl Health {
    /// Whether the runtime is ready (what `/readyz` answers): running, in
    /// the consumer group (an assignment was received), and with no assigned
    /// partition's state being or waiting to be restored.
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::{Health, Status};
    ///
    /// let mut health = Health::default();
    /// assert!(!health.is_ready(), "starting");
    /// health.status = Status::Running;
    /// health.joined = true;
    /// assert!(health.is_ready());
    /// health.restoring = true;
    /// assert!(!health.is_ready(), "restoring");
    /// ```
    pub fn is_ready(&self) -> bool {
        self.status == Status::Running && self.joined && !self.restoring
    }

    /// The runtime's health from its own (`self`: its status once it has
    /// ended, its brokers, its error) and each processing thread's: counts
    /// add up, the assignment is the union, the status is the least healthy
    /// thread's, the instance has joined once every thread has and restores
    /// while any thread does.
    fn with_threads(mut self, threads: &[Health]) -> Health {
        if threads.is_empty() {
            self.thread_partitions = vec![self.assigned_partitions];
            return self;
        }
        // The runtime's own status says only that it started or ended.
        let ended = matches!(self.status, Status::Stopped | Status::Failed);
        if !ended {
            self.status = threads
                .iter()
                .map(|t| t.status)
                .max_by_key(|status| match status {
                    Status::Running => 0,
                    Status::Starting => 1,
                    // A thread that stopped while another runs is the
                    // runtime stopping.
                    Status::Stopping | Status::Stopped => 2,
                    Status::Failed => 3,
                })
                .unwrap_or(self.status);
        }
        self.brokers = self
            .brokers
            .or_else(|| threads.iter().find_map(|t| t.brokers.clone()));
        self.thread_partitions = threads.iter().map(|t| t.assigned_partitions).collect();
        self.assigned_partitions = self.thread_partitions.iter().sum();
        self.joined = threads.iter().all(|t| t.joined);
        self.restoring = threads.iter().any(|t| t.restoring);
        self.brokers_down = threads.iter().any(|t| t.brokers_down);
        self.last_error = self
            .last_error
            .or_else(|| threads.iter().find_map(|t| t.last_error.clone()));
        self.last_broker_error = threads.iter().rev().find_map(|t| t.last_broker_error.clone());
        for thread in threads {
            self.assignments_lost += thread.assignments_lost;
            self.records_restored += thread.records_restored;
            self.records_committed += thread.records_committed;
            self.transactions_committed += thread.transactions_committed;
            self.transactions_aborted += thread.transactions_aborted;
            self.broker_errors += thread.broker_errors;
        }
        self
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) health: Mutex<Health>,
    pub(crate) stop: tokio::sync::watch::Sender<bool>,
    /// The product's catalog record as this instance last saw or wrote it.
    #[cfg(feature = "catalog")]
    pub(crate) product: Mutex<CatalogRecord>,
    /// Each processing thread's own, when the runtime runs several: the
    /// runtime's health is theirs added up (see [`Health::with_threads`]).
    pub(crate) threads: Mutex<Vec<Arc<Shared>>>,
}

impl Shared {
    /// The runtime's health now, its threads' added up.
    pub(crate) fn health(&self) -> Health {
        let own = lock(&self.health).clone();
        let threads: Vec<Health> = lock(&self.threads)
            .iter()
            .map(|thread| lock(&thread.health).clone())
            .collect();
        own.with_threads(&threads)
    }

    /// A processing thread's own health and stop signal (the runtime's), whose
    /// health counts in the runtime's from now on.
    pub(crate) fn for_thread(&self) -> Arc<Shared> {
        let thread = Arc::new(Shared {
            health: Mutex::new(Health::default()),
            stop: self.stop.clone(),
            #[cfg(feature = "catalog")]
            product: Mutex::new(self.product()),
            threads: Mutex::default(),
        });
        lock(&self.threads).push(thread.clone());
        thread
    }

    /// Notes a connection error librdkafka reported (it retries them
    /// itself): they reach the health as well as the log, the only sign an
    /// embedding service gets of why progress paused.
    pub(crate) fn broker_error(&self, error: &rdkafka::error::KafkaError, reason: &str) {
        use rdkafka::types::RDKafkaErrorCode;
        let code = error.rdkafka_error_code();
        // Only the connections' own errors count: the client's fatal error
        // arrives here too, with its underlying code (fenced, an invalid
        // transaction state, …), and is the call's to report, not an outage.
        if !matches!(
            code,
            Some(
                RDKafkaErrorCode::BrokerTransportFailure
                    | RDKafkaErrorCode::AllBrokersDown
                    | RDKafkaErrorCode::Resolve
                    | RDKafkaErrorCode::Authentication
            )
        ) {
            tracing::error!(error = %error, reason, "the Kafka client reported an error");
            return;
        }
        let all_down = code == Some(RDKafkaErrorCode::AllBrokersDown);
        tracing::warn!(error = %error, reason, "broker connection error");
        self.update_health(|h| {
            h.broker_errors += 1;
            h.last_broker_error = Some(reason.to_string());
            h.brokers_down |= all_down;
        });
    }

    #[cfg(feature = "catalog")]
    pub(crate) fn set_product(&self, record: CatalogRecord) {
        *self
            .product
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = record;
    }

    #[cfg(feature = "catalog")]
    pub(crate) fn product(&self) -> CatalogRecord {
        self.product
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn update_health(&self, f: impl FnOnce(&mut Health)) {
        f(&mut lock(&self.health));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Stops a runtime and reads its health, from any task or thread.
///
/// # Examples
///
/// ```no_run
/// # async fn example(runtime: meshkit::Runtime<impl meshkit::DataProduct>) -> Result<(), meshkit::Error> {
/// let handle = runtime.handle();
/// tokio::spawn(async move {
///     tokio::signal::ctrl_c().await.ok();
///     handle.stop();
/// });
/// runtime.await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RuntimeHandle {
    shared: Arc<Shared>,
    #[cfg(feature = "metrics")]
    metrics: Metrics,
}

impl RuntimeHandle {
    /// Asks the runtime to commit what is in flight, leave the group and
    /// return. Returns at once; await the runtime to know it has stopped.
    pub fn stop(&self) {
        self.shared.stop.send_replace(true);
    }

    /// The runtime's health now (with several processing threads, theirs
    /// added up: see [`Health`]'s fields).
    pub fn health(&self) -> Health {
        self.shared.health()
    }

    /// The product's catalog record: its descriptor as published to the
    /// catalog topic (an Open Data Product Standard document, see
    /// [`CatalogRecord`]), with this instance's view of its instances and
    /// status. Also served as JSON on the endpoint's `/product`.
    #[cfg(feature = "catalog")]
    #[cfg_attr(docsrs, doc(cfg(feature = "catalog")))]
    pub fn product(&self) -> CatalogRecord {
        self.shared.product()
    }

    /// The runtime's metrics.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// A data product ready to run: build it with [`Runtime::new`], then await it
/// (or call [`run`](Runtime::run)).
///
/// # Examples
///
/// ```no_run
/// use meshkit::{Config, Runtime};
/// # async fn example(product: impl meshkit::DataProduct) -> Result<(), meshkit::Error> {
/// let runtime = Runtime::new(product, Config::from_env()?)?;
/// let handle = runtime.handle();
/// let task = tokio::spawn(runtime.run());
/// // … later, from anywhere:
/// println!("{:?}", handle.health().status);
/// handle.stop();
/// task.await.expect("runtime task")?;
/// # Ok(()) }
/// ```
pub struct Runtime<P: DataProduct> {
    product: P,
    descriptor: ProductDescriptor,
    config: Config,
    shared: Arc<Shared>,
    metrics: Metrics,
    registry: Option<processor::Registry>,
    /// Makes each processing thread's own product, when the product may be
    /// cloned ([`Runtime::product_per_thread`]); the threads share one
    /// otherwise.
    fork: Option<fn(&P) -> P>,
}

impl<P: DataProduct> std::fmt::Debug for Runtime<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("descriptor", &self.descriptor)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<P: DataProduct> Runtime<P> {
    /// Checks `product`'s descriptor and prepares to run it with `config`.
    /// Nothing connects to Kafka until the runtime is awaited.
    ///
    /// # Errors
    ///
    /// [`Error::Descriptor`] if the product's declaration breaks a rule.
    pub fn new(product: P, config: Config) -> Result<Self, Error> {
        let descriptor = product.descriptor()?;
        descriptor.validate()?;
        features::check(&descriptor, &config)?;
        #[cfg(feature = "catalog")]
        let product_record = registration::initial_record(&descriptor);
        let metrics = if config.metrics {
            Metrics::new(&descriptor.identity)
        } else {
            Metrics::disabled(&descriptor.identity)
        };
        let (stop, _) = tokio::sync::watch::channel(false);
        let health = Health {
            guarantee: config.guarantee,
            ..Health::default()
        };
        Ok(Self {
            product,
            descriptor,
            config,
            shared: Arc::new(Shared {
                health: Mutex::new(health),
                stop,
                #[cfg(feature = "catalog")]
                product: Mutex::new(product_record),
                threads: Mutex::default(),
            }),
            metrics,
            registry: None,
            fork: None,
        })
    }

    /// Checks and resolves the product's schemas against `registry` instead
    /// of the one the configuration names: a registry the service already
    /// holds, or one of its own implementation.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use meshkit::schema::registry::EmbeddedRegistry;
    /// # use meshkit::{Config, Context, DataProduct, DescriptorError, ProductDescriptor, Record, Runtime, TransformError};
    /// # struct Product;
    /// # impl DataProduct for Product {
    /// #     fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
    /// #         ProductDescriptor::builder("d", "p").version("1.0.0").owner("o").input("i", "t.i").output("o", "t.o").build()
    /// #     }
    /// #     async fn process(&mut self, _: &Record<'_>, _: &mut Context) -> Result<(), TransformError> { Ok(()) }
    /// # }
    /// let registry = Arc::new(EmbeddedRegistry::in_memory());
    /// let runtime = Runtime::new(Product, Config::default())?.with_registry(registry);
    /// # Ok::<(), meshkit::Error>(())
    /// ```
    #[must_use]
    #[cfg(feature = "avro")]
    #[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
    pub fn with_registry(mut self, registry: Arc<dyn crate::schema::SchemaRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// A handle to stop the runtime and read its health.
    pub fn handle(&self) -> RuntimeHandle {
        RuntimeHandle {
            shared: self.shared.clone(),
            #[cfg(feature = "metrics")]
            metrics: self.metrics.clone(),
        }
    }

    /// The product's descriptor.
    pub fn descriptor(&self) -> &ProductDescriptor {
        &self.descriptor
    }

    /// Runs the product until it is stopped through its handle or fails.
    ///
    /// # Errors
    ///
    /// Why it stopped: a broker it cannot reach, a missing topic, being
    /// fenced by another instance, a transform error under
    /// [`ErrorPolicy::Stop`], or a Kafka error that retries did not fix.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the Kafka clients without committing: the
    /// open transaction is aborted by the broker and its records are processed
    /// again, once, after a restart. Use [`RuntimeHandle::stop`] to stop cleanly.
    pub async fn run(self) -> Result<(), Error> {
        let shared = self.shared.clone();
        let services = tokio::runtime::Handle::current();
        if self.config.processing_threads > 1 {
            // Each loop is on a thread of its own already; this part only
            // starts them, waits, and serves the endpoint and the catalog.
            let products = processor::ThreadProducts::new(self.product, self.fork);
            let result = processor::run_threads(
                products,
                self.descriptor,
                self.config,
                self.shared,
                self.metrics,
                self.registry,
                services,
            )
            .await;
            return ended(&shared, result);
        }
        let thread_name = format!("meshkit-{}", self.descriptor.identity.name);
        let work = processor::run(
            self.product,
            self.descriptor,
            self.config,
            self.shared,
            self.metrics,
            self.registry,
            services.clone(),
        );
        let result = match services.runtime_flavor() {
            tokio::runtime::RuntimeFlavor::CurrentThread => on_own_thread(work, thread_name).await,
            _ => work.await,
        };
        ended(&shared, result)
    }
}

/// Notes in the runtime's health how it ended.
fn ended(shared: &Shared, result: Result<(), Error>) -> Result<(), Error> {
    shared.update_health(|h| match &result {
        Ok(()) => h.status = Status::Stopped,
        Err(err) => {
            h.status = Status::Failed;
            h.last_error = Some(crate::ErrorChain(&err).to_string());
        }
    });
    result
}

impl<P: DataProduct + Clone> Runtime<P> {
    /// Gives each processing thread ([`ConfigBuilder::processing_threads`](crate::ConfigBuilder::processing_threads))
    /// a clone of the product, so that their transforms run in parallel;
    /// without it the threads share the product, and its transform runs on
    /// one thread at a time. No effect with one thread.
    ///
    /// For products whose state is in their stores, or that keep none: a
    /// clone's own fields are seen by its thread alone, and a task may move
    /// to another thread (another clone) at a rebalance.
    ///
    /// # Examples
    ///
    /// ```
    /// # use meshkit::{Config, Context, DataProduct, DescriptorError, ProductDescriptor, Record, Runtime, TransformError};
    /// #[derive(Clone)]
    /// struct Product;
    /// # impl DataProduct for Product {
    /// #     fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
    /// #         ProductDescriptor::builder("d", "p").version("1.0.0").owner("o").input("i", "t.i").output("o", "t.o").build()
    /// #     }
    /// #     async fn process(&mut self, _: &Record<'_>, _: &mut Context) -> Result<(), TransformError> { Ok(()) }
    /// # }
    /// let config = Config::builder().processing_threads(4).build()?;
    /// let runtime = Runtime::new(Product, config)?.product_per_thread();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn product_per_thread(mut self) -> Self {
        self.fork = Some(P::clone);
        self
    }
}

impl<P: DataProduct> IntoFuture for Runtime<P> {
    type Output = Result<(), Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Runs the processing loop on a thread of its own, with a current-thread
/// runtime of its own, for a caller on a current-thread runtime.
///
/// The loop makes blocking librdkafka calls (transaction commits, the commit
/// inside a rebalance, restores). A multi-threaded runtime moves its other
/// tasks off the worker that blocks (`block_in_place`); a current-thread
/// runtime cannot, so the loop leaves it instead, and the caller's runtime
/// keeps serving the endpoint, the catalog heartbeat and the service's own
/// tasks. Dropping the returned future drops the loop (on its thread), as on
/// any other runtime; a panic in the loop is resumed in the caller.
async fn on_own_thread(
    work: impl Future<Output = Result<(), Error>> + Send + 'static,
    name: String,
) -> Result<(), Error> {
    type Ended = std::thread::Result<Option<Result<(), Error>>>;
    let (done, ended) = tokio::sync::oneshot::channel::<Ended>();
    // Never sent: dropped with this future, which tells the loop to stop.
    let (_abandon, abandoned) = tokio::sync::oneshot::channel::<()>();
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    let loop_thread = move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let runtime = runtime.map_err(|source| Error::Io {
                operation: "building the processing thread's runtime".to_string(),
                source,
            })?;
            Ok(tracing::dispatcher::with_default(&dispatch, || {
                runtime.block_on(async move {
                    tokio::select! {
                        result = work => Some(result),
                        _ = abandoned => None,
                    }
                })
            }))
        }));
        let _ = done.send(ended.map(|r| r.unwrap_or_else(|err| Some(Err(err)))));
    };
    std::thread::Builder::new()
        .name(name)
        .spawn(loop_thread)
        .map_err(|source| Error::Io {
            operation: "starting the processing thread".to_string(),
            source,
        })?;
    match ended.await {
        Ok(Ok(Some(result))) => result,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        // Abandoned, or the thread ended without a word: neither happens
        // while this future is awaited.
        Ok(Ok(None)) | Err(_) => Err(Error::Io {
            operation: "running the processing thread".to_string(),
            source: std::io::Error::other("it ended without a result"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaErrorCode;

    pub(super) fn shared() -> Shared {
        #[cfg_attr(not(feature = "catalog"), allow(unused_variables))]
        let descriptor = ProductDescriptor::builder("tests", "health")
            .version("0.1.0")
            .owner("tests")
            .description("health")
            .input("in", "in")
            .output("out", "out")
            .build()
            .expect("descriptor");
        Shared {
            health: Mutex::new(Health::default()),
            stop: tokio::sync::watch::channel(false).0,
            #[cfg(feature = "catalog")]
            product: Mutex::new(registration::initial_record(&descriptor)),
            threads: Mutex::default(),
        }
    }

    #[test]
    fn connection_errors_count_as_broker_errors_and_all_down_marks_the_outage() {
        let shared = shared();
        shared.broker_error(
            &KafkaError::Global(RDKafkaErrorCode::BrokerTransportFailure),
            "127.0.0.1:9092/1: Connection refused",
        );
        shared.broker_error(
            &KafkaError::Global(RDKafkaErrorCode::AllBrokersDown),
            "1/1 brokers are down",
        );
        let health = shared.health.lock().unwrap().clone();
        assert_eq!(health.broker_errors, 2);
        assert!(health.brokers_down);
        assert_eq!(health.last_broker_error.as_deref(), Some("1/1 brokers are down"));
    }

    #[test]
    fn the_clients_own_fatal_errors_are_not_broker_errors() {
        let shared = shared();
        for code in [
            RDKafkaErrorCode::InvalidTransactionalState,
            RDKafkaErrorCode::ProducerFenced,
            RDKafkaErrorCode::Fatal,
        ] {
            shared.broker_error(&KafkaError::Global(code), "Fatal error");
        }
        let health = shared.health.lock().unwrap().clone();
        assert_eq!(health.broker_errors, 0, "{health:?}");
        assert!(!health.brokers_down);
    }

    #[test]
    fn a_runtimes_health_adds_up_its_threads() {
        let shared = shared();
        shared.update_health(|h| h.brokers = Some("b:9092".to_string()));
        assert_eq!(
            shared.health().thread_partitions,
            [0],
            "one thread: the runtime's own"
        );
        let (one, two) = (shared.for_thread(), shared.for_thread());
        one.update_health(|h| {
            h.status = Status::Running;
            h.joined = true;
            h.assigned_partitions = 3;
            h.records_committed = 10;
            h.transactions_committed = 2;
        });
        two.update_health(|h| {
            h.status = Status::Starting;
            h.assigned_partitions = 1;
            h.records_committed = 5;
            h.restoring = true;
            h.broker_errors = 1;
        });
        let health = shared.health();
        assert_eq!(health.status, Status::Starting, "the least healthy thread's");
        assert_eq!(
            (health.assigned_partitions, health.thread_partitions.as_slice()),
            (4, &[3, 1][..])
        );
        assert_eq!((health.records_committed, health.transactions_committed), (15, 2));
        assert!(!health.joined && health.restoring && !health.is_ready());
        assert_eq!(
            (health.broker_errors, health.brokers.as_deref()),
            (1, Some("b:9092"))
        );

        two.update_health(|h| {
            h.status = Status::Running;
            h.joined = true;
            h.restoring = false;
        });
        assert!(shared.health().is_ready());
        one.update_health(|h| h.status = Status::Failed);
        assert_eq!(shared.health().status, Status::Failed);
        shared.update_health(|h| h.status = Status::Stopped);
        assert_eq!(
            shared.health().status,
            Status::Stopped,
            "the runtime's end is final"
        );
        shared.stop.send_replace(true);
        assert!(*two.stop.borrow(), "one stop signal for every thread");
    }

    #[test]
    fn ready_only_when_running_joined_and_not_restoring() {
        for status in [
            Status::Starting,
            Status::Running,
            Status::Stopping,
            Status::Stopped,
            Status::Failed,
        ] {
            for joined in [false, true] {
                for restoring in [false, true] {
                    let health = Health {
                        status,
                        joined,
                        restoring,
                        ..Health::default()
                    };
                    assert_eq!(
                        health.is_ready(),
                        status == Status::Running && joined && !restoring,
                        "{health:?}"
                    );
                }
            }
        }
    }
}
