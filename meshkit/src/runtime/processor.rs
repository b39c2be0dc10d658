//! The processing loop: consume, transform, produce, commit, in the Kafka
//! Streams "exactly-once v2" style (one transactional producer per instance,
//! input offsets committed inside each transaction with the group's metadata).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::BaseRecord;
use rdkafka::{Offset, TopicPartitionList};
use tracing::Instrument;

#[cfg(feature = "avro")]
mod globals;
mod hooks;
#[cfg(not(feature = "avro"))]
#[path = "processor/no_schemas.rs"]
mod schemas;
#[cfg(feature = "avro")]
pub(super) mod schemas;
#[cfg(not(feature = "state"))]
#[path = "processor/no_stores.rs"]
mod stores;
#[cfg(feature = "state")]
mod stores;
mod timers;

use super::contract::{Context, DataProduct};
use super::poison::{PoisonBook, Verdict};
#[cfg(feature = "catalog")]
use super::registration::Registration;
use super::txn::{
    refuses_the_record, Delivered, DeliveryContext, Outcome, ProducerFactory, RebalanceContext, Tp, Txn,
};
use super::Error;
use super::{Shared, Status};
use crate::config::Config;
use crate::error::ErrorChain;
use crate::kafka::{self, blocking, kafka_retriable, EmbeddedCluster, TopicRole};
use crate::metrics::{Metrics, PortMetrics};
use crate::policy::{ErrorPolicy, Guarantee};
use crate::product::ProductDescriptor;
use crate::record::{OutputRecord, Record};
#[cfg(all(feature = "state", feature = "testing"))]
pub(crate) use schemas::settle_stores;
pub(crate) use schemas::Registry;
use schemas::{settle_schemas, with_decoded, LoopDecoder, LoopSchemas, Schemas};
use stores::{
    assign_whole_tasks, attach_stores, changelog_topics, context_with_stores, open_stores, stores_for_thread,
    LoopStores, Stores,
};

/// How often an idle loop looks for a changed assignment (to restore newly
/// assigned partitions' stores before any of their records arrives).
const IDLE_TICK: Duration = Duration::from_millis(100);

/// Headers a dead-lettered record carries, beside its own.
pub mod dlq_headers {
    /// Why it was dead-lettered: `transform-error`, `output-rejected`, a
    /// reason the transform gave, or a decoding failure such as `bad-magic`
    /// or `unknown-schema-id` (see [`DecodeError::reason`](crate::schema::DecodeError::reason);
    /// prefixed `key-` when the key failed).
    pub const REASON: &str = "meshkit.dlq.reason";
    /// The error message.
    pub const ERROR: &str = "meshkit.dlq.error";
    /// The topic it was read from.
    pub const SOURCE_TOPIC: &str = "meshkit.dlq.source.topic";
    /// The partition it was read from.
    pub const SOURCE_PARTITION: &str = "meshkit.dlq.source.partition";
    /// Its offset there.
    pub const SOURCE_OFFSET: &str = "meshkit.dlq.source.offset";
    /// The product that rejected it, `domain/name@version`.
    pub const PRODUCT: &str = "meshkit.dlq.product";
    /// How many times the transform was tried.
    pub const ATTEMPTS: &str = "meshkit.dlq.attempts";
    /// The writer schema id in the record's header, when it could be read.
    pub const SCHEMA_ID: &str = "meshkit.dlq.schema.id";
}

/// The pause before processing again the records of a transaction aborted
/// for the transaction's own fault, so that a fault that lasts is no hot loop.
const TRANSACTION_RETRY: Duration = Duration::from_millis(100);

/// Keeps one instance's id across restarts, so a restarted instance reuses
/// its transactional id and the coordinator aborts what it left open.
///
/// An id kept in the state directory belongs to one running instance at a
/// time: the returned lock on that directory is held while the instance runs
/// (the OS drops it when the process dies, so a crash never leaves it held).
/// A second instance started on the same directory would share the id and
/// the stores, and fence the first: it is refused instead.
fn claim_instance(config: &Config, application_id: &str) -> Result<(String, Option<std::fs::File>), Error> {
    if let Some(id) = &config.instance_id {
        return Ok((id.clone(), None));
    }
    let dir = config.state_dir.join(application_id);
    let io = |operation: String| move |source| Error::Io { operation, source };
    std::fs::create_dir_all(&dir).map_err(io(format!("creating state directory {}", dir.display())))?;
    let lock_path = dir.join("instance.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(format!("opening {}", lock_path.display())))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(Error::StateDirInUse { dir }),
        Err(std::fs::TryLockError::Error(err)) => {
            return Err(io(format!("locking {}", lock_path.display()))(err))
        }
    }
    let file = dir.join("instance.id");
    match std::fs::read_to_string(&file) {
        Ok(id) if !id.trim().is_empty() => return Ok((id.trim().to_string(), Some(lock))),
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(io(format!("reading {}", file.display()))(err)),
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    write_atomically(&file, id.as_bytes()).map_err(io(format!("writing {}", file.display())))?;
    Ok((id, Some(lock)))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Serves the HTTP endpoint on `services` when the configuration asks for
/// one (a build without the `metrics` feature has none: the runtime refused
/// such a configuration at build).
fn serve_endpoint(
    config: &Config,
    services: &tokio::runtime::Handle,
    shared: &Arc<Shared>,
    metrics: &Metrics,
) -> Result<Option<AbortOnDrop>, Error> {
    #[cfg(feature = "metrics")]
    if let Some(addr) = config.metrics_addr {
        let _services = services.enter();
        return Ok(Some(AbortOnDrop(super::endpoint::serve(
            addr,
            shared.clone(),
            metrics.clone(),
        )?)));
    }
    let _ = (config, services, shared, metrics);
    Ok(None)
}

/// Stops the endpoint task with the runtime.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What one start-up settles for every processing loop of the runtime.
struct Prepared {
    application_id: String,
    dead_letter_topic: String,
    brokers: String,
    schemas: Schemas,
    /// The first loop's stores; the others get siblings (`stores_for_thread`).
    state: Option<Stores>,
    /// Kept for the life of the runtime.
    _endpoint: Option<AbortOnDrop>,
    _embedded: Option<EmbeddedCluster>,
}

/// Serves the endpoint, finds the brokers (or starts the embedded cluster),
/// checks or creates the topics, settles the schemas and opens the stores.
async fn prepare(
    descriptor: &ProductDescriptor,
    config: &Config,
    application_id: String,
    shared: &Arc<Shared>,
    metrics: &Metrics,
    registry: Option<Registry>,
    services: &tokio::runtime::Handle,
) -> Result<Prepared, Error> {
    let dead_letter_topic = config
        .dead_letter_topic
        .clone()
        .unwrap_or_else(|| format!("{application_id}.dlq"));
    // Serving starts first so that /healthz answers during start-up.
    // The endpoint and the catalog heartbeat run on `services`, the
    // caller's runtime, so they answer while this loop is in a blocking
    // librdkafka call or a restore (see `Runtime::run`).
    let endpoint = serve_endpoint(config, services, shared, metrics)?;
    let embedded = match &config.brokers {
        Some(_) => None,
        None if !config.embedded_cluster => return Err(Error::NoBrokers),
        None => {
            let cluster = EmbeddedCluster::start()?;
            tracing::warn!(
                brokers = cluster.bootstrap_servers(),
                "running on the embedded local Kafka cluster (MESHKIT_BROKERS=embedded). \
                 It does not implement transactions faithfully (it does not hide aborted records from \
                 read_committed readers, does not store offsets sent in a transaction, and does not fence \
                 a zombie producer), so exactly-once holds only on a real broker"
            );
            Some(cluster)
        }
    };
    let brokers = match (&config.brokers, &embedded) {
        (Some(brokers), _) => brokers.clone(),
        (None, Some(cluster)) => cluster.bootstrap_servers().to_string(),
        (None, None) => unreachable!("an embedded cluster is started when no brokers are set"),
    };

    let mut topics: Vec<(String, TopicRole)> = Vec::new();
    let declared = |name: &String| !descriptor.is_internal_port(name);
    for port in descriptor.inputs.iter().filter(|p| declared(&p.name)) {
        topics.push((port.topic.clone(), TopicRole::Input(port.name.clone())));
    }
    for port in descriptor.outputs.iter().filter(|p| declared(&p.name)) {
        topics.push((port.topic.clone(), TopicRole::Output(port.name.clone())));
    }
    topics.push((dead_letter_topic.clone(), TopicRole::DeadLetter));
    if config.catalog {
        topics.push((config.catalog_topic.clone(), TopicRole::Catalog));
    }
    let mut partitions = kafka::ensure_topics(&brokers, embedded.as_ref(), &config.kafka, &topics).await?;
    let repartitions = repartition_topics(descriptor, &partitions)?;
    if !repartitions.is_empty() {
        partitions = kafka::ensure_topics(&brokers, embedded.as_ref(), &config.kafka, &repartitions).await?;
    }

    let schemas = settle_schemas(
        descriptor,
        config,
        (&application_id, &brokers),
        embedded.is_some(),
        registry,
    )
    .await?;
    let state = open_stores(
        descriptor,
        config,
        (&application_id, &brokers),
        embedded.as_ref(),
        &partitions,
        &schemas,
    )
    .await?;
    Ok(Prepared {
        application_id,
        dead_letter_topic,
        brokers,
        schemas,
        state,
        _endpoint: endpoint,
        _embedded: embedded,
    })
}

/// The repartition topics `descriptor`'s internal ports name, each as wide
/// as the declared inputs, so that its partition `n` belongs to task `n`.
///
/// # Errors
///
/// [`Error::InputsNotCoPartitioned`] when the declared inputs differ in width.
#[cfg(feature = "state")]
fn repartition_topics(
    descriptor: &ProductDescriptor,
    partitions: &HashMap<String, usize>,
) -> Result<Vec<(String, TopicRole)>, Error> {
    if descriptor.repartitions.is_empty() {
        return Ok(Vec::new());
    }
    let (internal, declared): (Vec<_>, Vec<_>) =
        (descriptor.task_inputs()).partition(|p| descriptor.is_internal_port(&p.name));
    let width = super::tasks::width(declared, partitions)?;
    Ok(internal
        .into_iter()
        .map(|p| {
            let role = TopicRole::Repartition {
                name: p.name.clone(),
                partitions: width,
            };
            (p.topic.clone(), role)
        })
        .collect())
}

/// Without stores there is nothing to repartition into (the features check
/// refuses a product with stores).
#[cfg(not(feature = "state"))]
fn repartition_topics(
    _: &ProductDescriptor,
    _: &HashMap<String, usize>,
) -> Result<Vec<(String, TopicRole)>, Error> {
    Ok(Vec::new())
}

/// The names one processing loop's clients go by.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LoopIds {
    /// Its producer's: stable across restarts of the instance, so that the
    /// coordinator fences what the loop's previous incarnation left open.
    transactional_id: String,
    /// Its consumer's `group.instance.id`, under static membership.
    member_id: String,
    /// Both clients' `client.id`, when the runtime runs several loops.
    client_id: Option<String>,
}

impl LoopIds {
    /// The ids of processing thread `thread`. Thread 0 keeps the ids of a
    /// runtime with one thread, so that changing the thread count still
    /// fences it; the others add their index.
    fn new(config: &Config, application_id: &str, instance_id: &str, thread: usize) -> Self {
        let of_thread = |id: String| {
            if thread == 0 {
                id
            } else {
                format!("{id}-thread-{thread}")
            }
        };
        let client_id = (config.processing_threads > 1).then(|| {
            let base = (config.kafka.properties.get("client.id")).map_or(application_id, String::as_str);
            format!("{base}-thread-{thread}")
        });
        Self {
            transactional_id: of_thread(format!("{application_id}-{instance_id}")),
            member_id: of_thread(instance_id.to_string()),
            client_id,
        }
    }
}

/// Creates one processing loop's transactional producer (initialised: the
/// coordinator fences its previous incarnation) and its consumer, subscribed
/// to the inputs.
#[allow(clippy::too_many_arguments)] // the loop's parts, each used once
fn start_clients(
    descriptor: &ProductDescriptor,
    config: &Config,
    brokers: &str,
    application_id: &str,
    ids: &LoopIds,
    state: Option<&Stores>,
    shared: &Arc<Shared>,
    metrics: &Metrics,
) -> Result<(Arc<Txn>, StreamConsumer<RebalanceContext>), Error> {
    let delivered: Delivered = Arc::default();
    // At least once, the producer has no transactional id: nothing is fenced or recovered by it.
    let transactional = (config.guarantee == Guarantee::ExactlyOnce).then_some(ids.transactional_id.as_str());
    let mut producer_config = kafka::producer_config(brokers, &config.kafka, transactional);
    if let Some(client_id) = &ids.client_id {
        producer_config.set("client.id", client_id);
    }
    let changelogs = changelog_topics(state);
    let make_producer: ProducerFactory = {
        let (delivered, shared) = (delivered.clone(), shared.clone());
        Box::new(move || {
            producer_config.create_with_context(DeliveryContext {
                changelogs: changelogs.clone(),
                delivered: delivered.clone(),
                shared: shared.clone(),
            })
        })
    };
    let inputs: Vec<&str> = descriptor.inputs.iter().map(|p| p.name.as_str()).collect();
    let outputs: Vec<&str> = descriptor.outputs.iter().map(|p| p.name.as_str()).collect();
    let ports = PortMetrics::new(metrics, &inputs, &outputs);
    let mut txn = Txn::new(
        config.guarantee,
        make_producer,
        ids.transactional_id.clone(),
        config.kafka.transaction_timeout.max(Duration::from_secs(5)),
        metrics.clone(),
        ports,
        shared.clone(),
        delivered,
    )?;
    attach_stores(&mut txn, state);
    let txn = Arc::new(txn);
    blocking(|| txn.init())?;
    let mut consumer_config = kafka::consumer_config(
        brokers,
        &config.kafka,
        application_id,
        &ids.member_id,
        config.metrics,
    );
    if let Some(client_id) = &ids.client_id {
        consumer_config.set("client.id", client_id);
    }
    assign_whole_tasks(&mut consumer_config, state, config)?;
    let consumer: StreamConsumer<RebalanceContext> = consumer_config
        .create_with_context(RebalanceContext { txn: txn.clone() })
        .map_err(|e| Error::kafka("creating the consumer", e))?;
    let inputs: Vec<&str> = descriptor.task_inputs().map(|p| p.topic.as_str()).collect();
    consumer
        .subscribe(&inputs)
        .map_err(|e| Error::kafka("subscribing to the input ports", e))?;
    Ok((txn, consumer))
}

/// Ends a processing loop that returned `result`: commits what is in flight
/// and leaves the group after a clean stop, aborts after an error.
fn finish(
    result: Result<(), Error>,
    txn: &Txn,
    consumer: &StreamConsumer<RebalanceContext>,
) -> Result<(), Error> {
    match result {
        Ok(()) => blocking(|| txn.commit(consumer)).map(|outcome| {
            match outcome {
                Outcome::Aborted(_) => {
                    tracing::warn!("the last transaction aborted at stop; its records are processed again at the next start")
                }
                Outcome::Committed(records) => tracing::info!(records, "committed the last transaction"),
                Outcome::Nothing => {}
            }
            consumer.unsubscribe();
            tracing::info!("stopped");
        }),
        Err(err) => {
            if !matches!(err, Error::Fenced { .. }) {
                // Best effort: the broker aborts it after the transaction timeout anyway.
                let _ = blocking(|| txn.abort());
            }
            tracing::error!(error = %crate::ErrorChain(&err), "stopping on an error");
            Err(err)
        }
    }
}

/// The product's application id (the configured one, or its identity's
/// default) and the span every log line of the run is in.
fn identity_of(descriptor: &ProductDescriptor, config: &Config) -> (String, tracing::Span) {
    let identity = &descriptor.identity;
    let application_id = config
        .application_id
        .clone()
        .unwrap_or_else(|| identity.default_application_id());
    let span = tracing::info_span!("meshkit", product = %identity.name, domain = %identity.domain, version = %identity.version);
    (application_id, span)
}

pub(crate) async fn run<P: DataProduct>(
    mut product: P,
    descriptor: ProductDescriptor,
    config: Config,
    shared: Arc<Shared>,
    metrics: Metrics,
    registry: Option<Registry>,
    services: tokio::runtime::Handle,
) -> Result<(), Error> {
    let (application_id, span) = identity_of(&descriptor, &config);
    // The catalog publishes the declared ports; the loops also run the
    // repartitions' internal ones.
    let declared = descriptor;
    let descriptor = declared.with_internal_ports(&application_id);
    async move {
        let mut prepared = prepare(
            &descriptor,
            &config,
            application_id,
            &shared,
            &metrics,
            registry,
            &services,
        )
        .await?;
        let decoder = prepared.schemas.decoder.take();
        let Prepared {
            application_id,
            brokers,
            dead_letter_topic,
            ..
        } = &prepared;
        let (instance_id, _state_dir_lock) = claim_instance(&config, application_id)?;
        let ids = LoopIds::new(&config, application_id, &instance_id, 0);
        let guarantee = config.guarantee;
        tracing::info!(%application_id, transactional_id = %ids.transactional_id, %brokers, %guarantee, "starting");
        let state = prepared.state.as_ref();
        let (txn, consumer) = start_clients(
            &descriptor,
            &config,
            brokers,
            application_id,
            &ids,
            state,
            &shared,
            &metrics,
        )?;
        shared.update_health(|h| {
            h.status = Status::Running;
            h.brokers = Some(brokers.clone());
        });
        #[cfg(feature = "catalog")]
        let registration = {
            let _services = services.enter();
            let settled = &prepared.schemas.settled;
            Registration::start(
                &declared,
                settled,
                &config,
                (brokers, &*prepared.dead_letter_topic),
                &instance_id,
                shared.clone(),
            )?
        };

        let ctx = {
            let mut ctx = context_with_stores(&descriptor, state);
            prepared.schemas.set_encoders(&mut ctx);
            ctx
        };
        let restore_client = kafka::base_config(brokers, &config.kafka);
        let stores = LoopStores::new(state.cloned(), restore_client);
        let mut loop_state = Loop::new(
            &descriptor,
            &config,
            &txn,
            dead_letter_topic,
            ctx,
            decoder,
            stores,
        );
        #[cfg(feature = "avro")]
        {
            loop_state.globals = globals::Globals::open(&descriptor, &config, (application_id, brokers))?;
        }
        let result = loop_state.run(&mut product, &consumer, &shared).await;
        shared.update_health(|h| h.status = Status::Stopping);
        let result = finish(result, &txn, &consumer);
        if result.is_ok() {
            loop_state.stop_hooks(&mut product).await;
        }
        drop(loop_state);
        prepared.schemas.stop_server().await;
        #[cfg(feature = "catalog")]
        registration.finish(result.as_ref().err()).await;
        result
    }
    .instrument(span)
    .await
}

/// Runs the product on [`Config::processing_threads`] processing loops, each
/// on an OS thread of its own with its own consumer in the group, its own
/// transactional producer and the tasks the group assigns to that consumer
/// (its stores under the same state directory: a task moving between
/// threads is closed by the one before the other opens it). Each thread
/// gets a clone of the product, or they share it and its transform runs on
/// one thread at a time (see `ThreadProducts`). The first loop
/// to fail stops the others, and its error is the runtime's.
pub(crate) async fn run_threads<P: DataProduct>(
    products: ThreadProducts<P>,
    descriptor: ProductDescriptor,
    config: Config,
    shared: Arc<Shared>,
    metrics: Metrics,
    registry: Option<Registry>,
    services: tokio::runtime::Handle,
) -> Result<(), Error> {
    let (application_id, span) = identity_of(&descriptor, &config);
    let declared = descriptor;
    let descriptor = declared.with_internal_ports(&application_id);
    async move {
        let mut prepared =
            prepare(&descriptor, &config, application_id, &shared, &metrics, registry, &services).await?;
        let (instance_id, _state_dir_lock) = claim_instance(&config, &prepared.application_id)?;
        shared.update_health(|h| h.brokers = Some(prepared.brokers.clone()));
        let mut threads = tokio::task::JoinSet::new();
        for thread in 0..config.processing_threads {
            let plan = ThreadPlan::new(&prepared, &descriptor, &config, &instance_id, thread, &shared, &metrics);
            tracing::info!(
                application_id = %prepared.application_id, thread, transactional_id = %plan.ids.transactional_id,
                brokers = %prepared.brokers, "starting a processing thread"
            );
            let work = plan.run(products.for_thread()).instrument(tracing::info_span!("thread", index = thread));
            let name = format!("meshkit-{}-{thread}", descriptor.identity.name);
            threads.spawn(super::on_own_thread(work.in_current_span(), name));
        }
        #[cfg(feature = "catalog")]
        let registration = {
            let settled = &prepared.schemas.settled;
            let topics = (&*prepared.brokers, &*prepared.dead_letter_topic);
            Registration::start(&declared, settled, &config, topics, &instance_id, shared.clone())
        };
        #[cfg(feature = "catalog")]
        let registration = match registration {
            Ok(registration) => registration,
            Err(err) => {
                shared.stop.send_replace(true);
                while threads.join_next().await.is_some() {}
                return Err(err);
            }
        };
        let mut first_error = None;
        while let Some(ended) = threads.join_next().await {
            let result = match ended {
                Ok(result) => result,
                Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
                Err(_) => Err(Error::Io {
                    operation: "running a processing thread".to_string(),
                    source: std::io::Error::other("it was cancelled"),
                }),
            };
            if let Err(err) = result {
                // The others commit what they have in flight and leave.
                shared.stop.send_replace(true);
                first_error.get_or_insert(err);
            }
        }
        prepared.schemas.stop_server().await;
        let result = first_error.map_or(Ok(()), Err);
        #[cfg(feature = "catalog")]
        registration.finish(result.as_ref().err()).await;
        result
    }
    .instrument(span)
    .await
}

/// What the loop calls per record: the product itself, or the product the
/// processing threads share.
pub(super) trait Transform: Send + 'static {
    fn transform(
        &mut self,
        record: &Record<'_>,
        ctx: &mut Context,
    ) -> impl std::future::Future<Output = Result<(), crate::TransformError>> + Send;

    fn timer(
        &mut self,
        timer: &str,
        ctx: &mut Context,
    ) -> impl std::future::Future<Output = Result<(), crate::TransformError>> + Send;

    fn hook(
        &mut self,
        hook: Hook,
        ctx: &mut Context,
    ) -> impl std::future::Future<Output = Result<(), crate::TransformError>> + Send;

    fn event_time(&mut self, record: &Record<'_>) -> impl std::future::Future<Output = Option<i64>> + Send;
}

/// A lifecycle hook of [`DataProduct`], for a task or the thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hook {
    Assigned(i32),
    Revoked(i32),
    Stop,
}

impl Hook {
    /// The hook's name, for logs and errors.
    pub(super) fn name(self) -> &'static str {
        match self {
            Hook::Assigned(_) => "on_assigned",
            Hook::Revoked(_) => "on_revoked",
            Hook::Stop => "on_stop",
        }
    }
}

async fn call_hook<P: DataProduct>(
    product: &mut P,
    hook: Hook,
    ctx: &mut Context,
) -> Result<(), crate::TransformError> {
    match hook {
        Hook::Assigned(partition) => product.on_assigned(partition, ctx).await,
        Hook::Revoked(partition) => product.on_revoked(partition).await,
        Hook::Stop => product.on_stop().await,
    }
}

impl<P: DataProduct> Transform for P {
    fn transform(
        &mut self,
        record: &Record<'_>,
        ctx: &mut Context,
    ) -> impl std::future::Future<Output = Result<(), crate::TransformError>> + Send {
        self.process(record, ctx)
    }

    fn timer(
        &mut self,
        timer: &str,
        ctx: &mut Context,
    ) -> impl std::future::Future<Output = Result<(), crate::TransformError>> + Send {
        self.on_timer(timer, ctx)
    }

    fn hook(
        &mut self,
        hook: Hook,
        ctx: &mut Context,
    ) -> impl std::future::Future<Output = Result<(), crate::TransformError>> + Send {
        call_hook(self, hook, ctx)
    }

    fn event_time(&mut self, record: &Record<'_>) -> impl std::future::Future<Output = Option<i64>> + Send {
        std::future::ready(DataProduct::event_time(self, record))
    }
}

/// Where the processing threads' products come from: clones of the
/// product, one per thread (`Runtime::product_per_thread`), or the product
/// itself, shared.
pub(crate) enum ThreadProducts<P> {
    Cloned(P, fn(&P) -> P),
    Shared(Arc<tokio::sync::Mutex<P>>),
}

impl<P: DataProduct> ThreadProducts<P> {
    pub(crate) fn new(product: P, fork: Option<fn(&P) -> P>) -> Self {
        match fork {
            Some(fork) => Self::Cloned(product, fork),
            None => Self::Shared(Arc::new(tokio::sync::Mutex::new(product))),
        }
    }

    fn for_thread(&self) -> ThreadProduct<P> {
        match self {
            Self::Cloned(product, fork) => ThreadProduct::Own(fork(product)),
            Self::Shared(product) => ThreadProduct::Shared(product.clone()),
        }
    }
}

/// One processing thread's product: its own, or the one the threads share.
/// `process` takes the product by `&mut`, so a shared one is called by one
/// thread at a time (the rest of each loop, the Kafka clients, the stores
/// and the commits, runs in parallel).
enum ThreadProduct<P> {
    Own(P),
    Shared(Arc<tokio::sync::Mutex<P>>),
}

impl<P: DataProduct> Transform for ThreadProduct<P> {
    async fn transform(
        &mut self,
        record: &Record<'_>,
        ctx: &mut Context,
    ) -> Result<(), crate::TransformError> {
        match self {
            Self::Own(product) => product.process(record, ctx).await,
            Self::Shared(product) => product.lock().await.process(record, ctx).await,
        }
    }

    async fn timer(&mut self, timer: &str, ctx: &mut Context) -> Result<(), crate::TransformError> {
        match self {
            Self::Own(product) => product.on_timer(timer, ctx).await,
            Self::Shared(product) => product.lock().await.on_timer(timer, ctx).await,
        }
    }

    async fn hook(&mut self, hook: Hook, ctx: &mut Context) -> Result<(), crate::TransformError> {
        match self {
            Self::Own(product) => call_hook(product, hook, ctx).await,
            Self::Shared(product) => call_hook(&mut *product.lock().await, hook, ctx).await,
        }
    }

    async fn event_time(&mut self, record: &Record<'_>) -> Option<i64> {
        match self {
            Self::Own(product) => DataProduct::event_time(product, record),
            Self::Shared(product) => DataProduct::event_time(&*product.lock().await, record),
        }
    }
}

/// One processing thread's part of the runtime, made on the runtime's
/// thread and moved to its own.
struct ThreadPlan {
    ids: LoopIds,
    descriptor: ProductDescriptor,
    config: Config,
    application_id: String,
    brokers: String,
    dead_letter_topic: String,
    state: Option<Stores>,
    ctx: Context,
    decoder: Option<LoopDecoder>,
    shared: Arc<Shared>,
    metrics: Metrics,
}

impl ThreadPlan {
    fn new(
        prepared: &Prepared,
        descriptor: &ProductDescriptor,
        config: &Config,
        instance_id: &str,
        thread: usize,
        shared: &Shared,
        metrics: &Metrics,
    ) -> Self {
        let state = stores_for_thread(prepared.state.as_ref(), thread);
        let mut ctx = context_with_stores(descriptor, state.as_ref());
        prepared.schemas.set_encoders(&mut ctx);
        Self {
            ids: LoopIds::new(config, &prepared.application_id, instance_id, thread),
            descriptor: descriptor.clone(),
            config: config.clone(),
            application_id: prepared.application_id.clone(),
            brokers: prepared.brokers.clone(),
            dead_letter_topic: prepared.dead_letter_topic.clone(),
            state,
            ctx,
            decoder: prepared.schemas.decoder_for_thread(),
            shared: shared.for_thread(),
            metrics: metrics.for_thread(),
        }
    }

    /// Runs the thread's loop to its end; its health says how it ended.
    async fn run(self, mut product: impl Transform) -> Result<(), Error> {
        let Self {
            ids,
            descriptor,
            config,
            application_id,
            brokers,
            dead_letter_topic,
            state,
            ctx,
            decoder,
            shared,
            metrics,
        } = self;
        let result = async {
            let (txn, consumer) = start_clients(
                &descriptor,
                &config,
                &brokers,
                &application_id,
                &ids,
                state.as_ref(),
                &shared,
                &metrics,
            )?;
            shared.update_health(|h| {
                h.status = Status::Running;
                h.brokers = Some(brokers.clone());
            });
            let restore_client = kafka::base_config(&brokers, &config.kafka);
            let stores = LoopStores::new(state, restore_client);
            let mut loop_state = Loop::new(
                &descriptor,
                &config,
                &txn,
                &dead_letter_topic,
                ctx,
                decoder,
                stores,
            );
            #[cfg(feature = "avro")]
            {
                loop_state.globals =
                    globals::Globals::open(&descriptor, &config, (&application_id, &brokers))?;
            }
            let result = loop_state.run(&mut product, &consumer, &shared).await;
            shared.update_health(|h| h.status = Status::Stopping);
            let finished = finish(result, &txn, &consumer);
            if finished.is_ok() {
                loop_state.stop_hooks(&mut product).await;
            }
            finished
        }
        .await;
        shared.update_health(|h| match &result {
            Ok(()) => h.status = Status::Stopped,
            Err(err) => {
                h.status = Status::Failed;
                h.last_error = Some(crate::ErrorChain(err).to_string());
            }
        });
        result
    }
}

struct Loop<'a> {
    descriptor: &'a ProductDescriptor,
    config: &'a Config,
    txn: &'a Arc<Txn>,
    dead_letter_topic: &'a str,
    ctx: Context,
    /// The tasks' stores, their restores and size sampling.
    #[cfg_attr(not(feature = "state"), allow(dead_code))]
    stores: LoopStores,
    poison: PoisonBook,
    /// The newest input record timestamp seen, by input port index.
    newest: Vec<i64>,
    /// The event time of the record just processed (its Kafka timestamp or
    /// what the product took from its value), `None` if it was not
    /// processed (dead-lettered before decoding, say): stream-time timers
    /// follow it.
    event_time: Option<i64>,
    /// Input records seen, for sampling their spans.
    seen: u64,
    product_label: String,
    /// The stores must be brought back to the group's committed offsets
    /// (a committed transaction was lost): done at the next turn.
    resync_stores: bool,
    /// Decoding typed inputs, and backing off while the registry is away.
    #[cfg_attr(not(feature = "avro"), allow(dead_code))]
    schemas: LoopSchemas,
    /// When the product's timers are next due.
    timers: timers::LoopTimers,
    /// The tasks whose `on_assigned` ran, not yet revoked.
    started: std::collections::BTreeSet<i32>,
    /// The product's global tables, read whole before the first record.
    #[cfg(feature = "avro")]
    globals: Option<globals::Globals>,
}

impl<'a> Loop<'a> {
    fn new(
        descriptor: &'a ProductDescriptor,
        config: &'a Config,
        txn: &'a Arc<Txn>,
        dead_letter_topic: &'a str,
        ctx: Context,
        decoder: Option<LoopDecoder>,
        stores: LoopStores,
    ) -> Self {
        let identity = &descriptor.identity;
        Self {
            descriptor,
            config,
            txn,
            dead_letter_topic,
            ctx,
            schemas: LoopSchemas::new(decoder),
            stores,
            poison: PoisonBook::default(),
            newest: vec![i64::MIN; descriptor.inputs.len()],
            event_time: None,
            seen: 0,
            product_label: format!("{}/{}@{}", identity.domain, identity.name, identity.version),
            resync_stores: false,
            timers: timers::LoopTimers::new(descriptor, timers::now_ms()),
            started: std::collections::BTreeSet::new(),
            #[cfg(feature = "avro")]
            globals: None,
        }
    }
}

impl Loop<'_> {
    async fn run<P: Transform>(
        &mut self,
        product: &mut P,
        consumer: &StreamConsumer<RebalanceContext>,
        shared: &Shared,
    ) -> Result<(), Error> {
        let mut stop = shared.stop.subscribe();
        let interval = self.config.commit_interval;
        // Two timers for the loop's life, reset when their time changes:
        // the commit's once per transaction, the idle tick once per tick. A
        // new timer per record (two, registered and cancelled around every
        // `recv`) cost clock reads and the timer driver's lock per record.
        let commit_timer = tokio::time::sleep_until(far_future());
        tokio::pin!(commit_timer);
        let mut armed: Option<tokio::time::Instant> = None;
        let idle = tokio::time::sleep(IDLE_TICK);
        tokio::pin!(idle);
        // The next wall-clock timer's tick, reset when it moves.
        let wall_timer = tokio::time::sleep_until(far_future());
        tokio::pin!(wall_timer);
        let mut wall_armed: Option<i64> = None;
        let port_of: HashMap<&str, (usize, &str)> = self
            .descriptor
            .inputs
            .iter()
            .enumerate()
            .map(|(i, p)| (p.topic.as_str(), (i, p.name.as_str())))
            .collect();
        #[cfg(feature = "avro")]
        self.load_globals(product).await?;
        loop {
            if let Some(err) = self.txn.take_fatal() {
                return Err(err);
            }
            if *stop.borrow_and_update() {
                return Ok(());
            }
            #[cfg(feature = "avro")]
            self.catch_up_globals(product).await?;
            if std::mem::take(&mut self.resync_stores) {
                self.sync_state(consumer, shared)?;
            }
            // A restore runs a slice per turn, between polls: the member
            // keeps polling (max.poll.interval.ms) and restored tasks flow.
            self.restore_step(consumer, shared)?;
            if self.restoring_any() {
                idle.as_mut().reset(tokio::time::Instant::now());
            }
            let deadline = self.txn.deadline(interval).map(tokio::time::Instant::from_std);
            if deadline != armed {
                armed = deadline;
                commit_timer.as_mut().reset(deadline.unwrap_or_else(far_future));
            }
            let wall_due = self.timers.next_wall();
            if wall_due != wall_armed {
                wall_armed = wall_due;
                wall_timer
                    .as_mut()
                    .reset(wall_due.map_or_else(far_future, timers::instant_at));
            }
            let message = tokio::select! {
                biased;
                _ = stop.changed() => continue,
                () = &mut commit_timer, if armed.is_some() => {
                    self.commit(consumer)?;
                    continue;
                }
                // Before the records: under load `recv` is always ready.
                () = &mut wall_timer, if wall_armed.is_some() => {
                    self.fire_wall(product, consumer).await?;
                    continue;
                }
                message = consumer.recv() => message,
                // Rebalances are served while `recv` waits; without this, a
                // partition assigned while no record arrives would only be
                // restored when its first record comes.
                () = &mut idle => {
                    idle.as_mut().reset(tokio::time::Instant::now() + IDLE_TICK);
                    if self.txn.take_assignment_changed() {
                        self.poison.clear();
                        self.sync_state(consumer, shared)?;
                    }
                    // Idle tasks, restored since or just assigned, get their
                    // hooks without waiting for a record.
                    self.sync_hooks(product, consumer).await?;
                    self.sample_state(false);
                    continue;
                }
            };
            let message = match message {
                Ok(message) => message,
                Err(KafkaError::MessageConsumptionFatal(code)) => {
                    return Err(Error::kafka(
                        "consuming",
                        KafkaError::MessageConsumptionFatal(code),
                    ))
                }
                Err(err) => match consumer.client().fatal_error() {
                    // A static member replaced by another process with the same
                    // instance id: that process also shares the transactional id.
                    Some((RDKafkaErrorCode::FencedInstanceId, _)) => {
                        return Err(Error::Fenced {
                            transactional_id: self.txn.transactional_id.clone(),
                        })
                    }
                    Some(_) => return Err(Error::kafka("consuming", err)),
                    None => {
                        tracing::warn!(error = %crate::ErrorChain(&err), "consumer error; retrying");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            if let Some(err) = self.txn.take_fatal() {
                return Err(err);
            }
            if self.txn.take_assignment_changed() {
                self.poison.clear();
                self.sync_state(consumer, shared)?;
                self.sync_hooks(product, consumer).await?;
            }
            let tp: Tp = (message.topic().to_string(), message.partition());
            if self.is_restoring(tp.1) {
                self.hold_back(tp, message.offset());
                continue;
            }
            if !self.started(tp.1) {
                self.assign(product, consumer, tp.1).await?;
                if !self.started(tp.1) {
                    // It failed, and the abort rewound the record.
                    continue;
                }
            }
            let port = port_of.get(message.topic()).copied().unwrap_or_default();
            self.event_time = None;
            self.handle(product, consumer, &message, port, tp).await?;
            if let (true, Some(timestamp)) = (self.timers.has_stream(), self.event_time) {
                self.fire_stream(product, consumer, message.partition(), timestamp)
                    .await?;
            }
            if self.txn.due(interval, self.config.commit_records) {
                self.commit(consumer)?;
            }
        }
    }

    fn commit(&mut self, consumer: &StreamConsumer<RebalanceContext>) -> Result<(), Error> {
        let outcome = blocking(|| self.txn.commit(consumer))?;
        self.after(consumer, &outcome)?;
        self.sample_state(false);
        Ok(())
    }

    fn abort(&mut self, consumer: &StreamConsumer<RebalanceContext>) -> Result<(), Error> {
        let outcome = blocking(|| self.txn.abort())?;
        self.after(consumer, &outcome)
    }

    /// Keeps the failed-record book in step with the transaction's outcome,
    /// and rewinds the inputs of an aborted one.
    fn after(&mut self, consumer: &StreamConsumer<RebalanceContext>, outcome: &Outcome) -> Result<(), Error> {
        match outcome {
            Outcome::Committed(_) => self.poison.committed(),
            Outcome::Aborted(rewind) => {
                self.poison.aborted();
                if let Some((tp, offset, refusal)) = self.txn.take_culprit() {
                    let message = format!("an output was refused by the brokers: {refusal}");
                    self.poison.failed(&tp, offset, "output-rejected", message, false);
                }
                if !self.resume_from_group(consumer)? {
                    seek(consumer, rewind);
                }
            }
            Outcome::Nothing => {}
        }
        Ok(())
    }

    /// When the brokers lost the last committed transaction with the one
    /// that just aborted (see [`Txn::lost_commit`]), resumes every assigned
    /// partition from the group's committed offsets, and the stores from
    /// their changelogs at those offsets, as a restarted instance would;
    /// says whether it did.
    fn resume_from_group(&mut self, consumer: &StreamConsumer<RebalanceContext>) -> Result<bool, Error> {
        if !self.txn.checks_last_commit() {
            return Ok(false);
        }
        let timeout = self.config.kafka.startup_timeout;
        let committed = self.group_offsets(consumer, timeout)?;
        let group: HashMap<Tp, Option<i64>> = committed
            .elements()
            .iter()
            .map(|e| {
                let offset = match e.offset() {
                    Offset::Offset(next) => Some(next),
                    _ => None,
                };
                ((e.topic().to_string(), e.partition()), offset)
            })
            .collect();
        if !self.txn.lost_commit(&group) {
            return Ok(false);
        }
        for ((topic, partition), offset) in &group {
            // No committed offset: where `auto.offset.reset` says, as at a start.
            let offset = offset.map_or(Offset::Invalid, Offset::Offset);
            blocking(|| consumer.seek(topic, *partition, offset, timeout))
                .map_err(|e| Error::kafka("resuming a partition from the group's committed offset", e))?;
        }
        self.poison.clear();
        self.resync_stores = true;
        Ok(true)
    }

    /// The group's committed offsets, read stable (read_committed: the read
    /// waits until the abort's offsets settle). The abort that asks for them
    /// often ends as the brokers come back, before the group coordinator
    /// answers: a read that times out or finds the brokers away is tried
    /// again, as the transaction's own steps are, rather than stopping the
    /// product.
    fn group_offsets(
        &self,
        consumer: &StreamConsumer<RebalanceContext>,
        timeout: Duration,
    ) -> Result<TopicPartitionList, Error> {
        let mut attempts = 0u32;
        loop {
            match blocking(|| consumer.committed(timeout)) {
                Ok(committed) => return Ok(committed),
                Err(err) if kafka_retriable(&err) => {
                    attempts += 1;
                    self.txn
                        .wait_to_retry("reading the group's committed offsets", err, attempts)?;
                }
                Err(err) => return Err(Error::kafka("reading the group's committed offsets", err)),
            }
        }
    }

    /// Processes one input record in the open transaction (opening one if
    /// none is), in a `record` span for one record in `trace_sample_every`.
    async fn handle<P: Transform>(
        &mut self,
        product: &mut P,
        consumer: &StreamConsumer<RebalanceContext>,
        message: &BorrowedMessage<'_>,
        (index, port): (usize, &str),
        tp: Tp,
    ) -> Result<(), Error> {
        let offset = message.offset();
        self.txn.begin_for(&tp, offset)?;
        self.seen = self.seen.wrapping_add(1);
        let every = u64::from(self.config.trace_sample_every);
        let span = if every != 0 && self.seen.is_multiple_of(every) {
            tracing::debug_span!(parent: &self.txn.span(), "record", port, partition = tp.1, offset)
        } else {
            // A disabled span: instrumenting with it costs a branch.
            tracing::Span::none()
        };
        self.handle_record(product, consumer, message, (index, port), tp)
            .instrument(span)
            .await
    }

    async fn handle_record<P: Transform>(
        &mut self,
        product: &mut P,
        consumer: &StreamConsumer<RebalanceContext>,
        message: &BorrowedMessage<'_>,
        (index, port): (usize, &str),
        tp: Tp,
    ) -> Result<(), Error> {
        let offset = message.offset();
        self.ctx.bind(tp.1, message.timestamp().to_millis());
        match self.poison.verdict(&self.config.error_policy, &tp, offset) {
            Verdict::DeadLetter => {
                if let Some(p) = self.poison.get(&tp, offset) {
                    let (reason, error, attempts) = (p.reason, p.message.clone(), p.attempts);
                    if let Err(err) = self.dead_letter(message, reason, &error, attempts).await {
                        return self.dead_letter_failed(consumer, err).await;
                    }
                }
                self.poison.dead_lettered(&tp, offset);
                self.txn.done(&tp, offset);
                return Ok(());
            }
            Verdict::Retry(backoff) => tokio::time::sleep(backoff).await,
            Verdict::Process => {}
        }

        let headers: Vec<(&str, Option<&[u8]>)> = message
            .headers()
            .map(|h| h.iter().map(|Header { key, value }| (key, value)).collect())
            .unwrap_or_default();
        let mut record = Record::new(port, message.topic(), tp.1, offset);
        if let Some(key) = message.key() {
            record = record.with_key(key);
        }
        if let Some(value) = message.payload() {
            record = record.with_value(value);
        }
        if let Some(ts) = message.timestamp().to_millis() {
            record = record.with_timestamp(ts);
            // Freshness: a max, since timestamps may come out of order.
            if let Some(newest) = self.newest.get_mut(index).filter(|n| ts > **n) {
                *newest = ts;
                let seconds = ts as f64 / 1000.0;
                // The newest of all processing threads: another may have
                // set a newer one (a race between two rises can keep the
                // lower until the next).
                if let Some(gauge) = self
                    .txn
                    .ports()
                    .last_timestamp
                    .get(index)
                    .filter(|g| g.get() < seconds)
                {
                    gauge.set(seconds);
                }
            }
        }
        for (name, value) in headers {
            record = record.with_header(name, value);
        }
        let Some(decoded) = self.decode(consumer, message, &tp).await? else {
            // Dead-lettered, or rewound until the registry answers.
            return Ok(());
        };
        let mut record = with_decoded(record, &decoded);
        // Stream time follows event time, which the product may take from
        // the decoded value.
        let event_time = product.event_time(&record).await;
        if let Some(time) = event_time.filter(|t| Some(*t) != record.timestamp()) {
            record = record.with_timestamp(time);
            self.ctx.bind(tp.1, Some(time));
        }
        self.event_time = record.timestamp();
        self.observe(record.timestamp());

        let ports = self.txn.ports();
        let started = ports.enabled.then(Instant::now);
        let mut processed = product.transform(&record, &mut self.ctx).await;
        if processed.is_ok() {
            // Expired entries go in the record's transaction.
            processed = self.expire_due().map(drop);
        }
        if let (Some(started), Some(histogram)) = (started, ports.transform.get(index)) {
            histogram.observe(started.elapsed().as_secs_f64());
        }
        let failure = match processed {
            Ok(()) => match self.produce_outputs(record.timestamp(), &tp, offset).await {
                Ok(()) => None,
                Err(err) if err.rdkafka_error_code().is_some_and(refuses_the_record) => Some((
                    "output-rejected",
                    format!("an output was rejected by the Kafka client: {err}"),
                    false,
                )),
                Err(err) => return self.replay_transaction(consumer, "an output", &err).await,
            },
            Err(err) => {
                self.ctx.discard();
                if self.config.error_policy == ErrorPolicy::Stop {
                    self.abort(consumer)?;
                    return Err(Error::Transform {
                        topic: tp.0,
                        partition: tp.1,
                        offset,
                        source: err,
                    });
                }
                let retriable = err.is_retriable();
                Some(("transform-error", ErrorChain(&err).to_string(), retriable))
            }
        };
        match failure {
            None => {
                self.poison.passed(&tp, offset);
                if let Some((reason, text)) = self.ctx.take_dead_letter() {
                    if let Err(err) = self.dead_letter(message, &reason, &text, 1).await {
                        return self.dead_letter_failed(consumer, err).await;
                    }
                }
                self.txn.count_consumed(index);
                self.txn.done(&tp, offset);
            }
            Some((reason, message_text, retriable)) => {
                // What the transform emitted and wrote for the record goes
                // with it: a refused output leaves the rest of its outputs,
                // its changelog writes and its dead-letter request behind,
                // which the next record would otherwise send as its own.
                self.ctx.discard();
                let attempts = self.poison.failed(&tp, offset, reason, message_text, retriable);
                tracing::warn!(
                    topic = %tp.0, partition = tp.1, offset, attempts,
                    error = self.poison.get(&tp, offset).map_or("", |p| p.message.as_str()),
                    "record failed; aborting its transaction and rewinding"
                );
                self.abort(consumer)?;
            }
        }
        Ok(())
    }

    /// A dead letter could not be sent. Refused for what it is (too large
    /// for the dead-letter topic), nothing sending it again can change:
    /// the runtime stops rather than lose the record. Otherwise the fault
    /// is the transaction's: it aborts, and its records, this one included,
    /// are processed again.
    async fn dead_letter_failed(
        &mut self,
        consumer: &StreamConsumer<RebalanceContext>,
        err: KafkaError,
    ) -> Result<(), Error> {
        if err.rdkafka_error_code().is_some_and(refuses_the_record) {
            return Err(Error::kafka("producing to the dead-letter topic", err));
        }
        self.replay_transaction(consumer, "a dead letter", &err).await
    }

    /// `what` could not be sent for the transaction's fault, not the
    /// record's (it needs an abort, the producer is in a bad state): the
    /// record's pending writes are dropped, the transaction aborts, and its
    /// records, this one included, are processed again after a pause.
    async fn replay_transaction(
        &mut self,
        consumer: &StreamConsumer<RebalanceContext>,
        what: &str,
        err: &KafkaError,
    ) -> Result<(), Error> {
        self.ctx.discard();
        tracing::warn!(
            error = %crate::ErrorChain(&err),
            "{what} could not be sent in the open transaction; aborting it and processing its records again"
        );
        self.abort(consumer)?;
        tokio::time::sleep(TRANSACTION_RETRY).await;
        Ok(())
    }

    async fn produce_outputs(
        &mut self,
        input_timestamp: Option<i64>,
        source: &Tp,
        offset: i64,
    ) -> Result<(), KafkaError> {
        let txn = self.txn;
        let ports = txn.ports();
        // End-to-end latency: from the input's timestamp (the output's may be
        // set by the transform) to now, read once per input record.
        let mut since_input = None;
        for (index, topic, record) in self.ctx.drain_to_topics() {
            let timestamp = record.timestamp.or(input_timestamp);
            send(&txn.producer(), topic, None, &record, timestamp).await?;
            txn.count_produced(index);
            if let (true, Some(input), Some(histogram)) =
                (ports.enabled, input_timestamp, ports.end_to_end.get(index))
            {
                let latency = *since_input.get_or_insert_with(|| seconds_since(input));
                histogram.observe(latency);
            }
        }
        self.write_changelog(input_timestamp, source, offset).await?;
        Ok(())
    }

    async fn dead_letter(
        &self,
        message: &BorrowedMessage<'_>,
        reason: &str,
        error: &str,
        attempts: u32,
    ) -> Result<(), KafkaError> {
        self.dead_letter_with(message, reason, error, attempts, None)
            .await
    }

    async fn dead_letter_with(
        &self,
        message: &BorrowedMessage<'_>,
        reason: &str,
        error: &str,
        attempts: u32,
        schema_id: Option<u32>,
    ) -> Result<(), KafkaError> {
        let mut headers: Vec<(String, Vec<u8>)> = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|Header { key, value }| (key.to_string(), value.unwrap_or_default().to_vec()))
                    .collect()
            })
            .unwrap_or_default();
        headers.extend([
            (dlq_headers::REASON.to_string(), reason.as_bytes().to_vec()),
            (dlq_headers::ERROR.to_string(), error.as_bytes().to_vec()),
            (
                dlq_headers::SOURCE_TOPIC.to_string(),
                message.topic().as_bytes().to_vec(),
            ),
            (
                dlq_headers::SOURCE_PARTITION.to_string(),
                message.partition().to_string().into_bytes(),
            ),
            (
                dlq_headers::SOURCE_OFFSET.to_string(),
                message.offset().to_string().into_bytes(),
            ),
            (
                dlq_headers::PRODUCT.to_string(),
                self.product_label.as_bytes().to_vec(),
            ),
            (
                dlq_headers::ATTEMPTS.to_string(),
                attempts.to_string().into_bytes(),
            ),
        ]);
        if let Some(id) = schema_id {
            headers.push((dlq_headers::SCHEMA_ID.to_string(), id.to_string().into_bytes()));
        }
        let record = OutputRecord {
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            headers,
            timestamp: message.timestamp().to_millis(),
        };
        tracing::warn!(
            topic = message.topic(),
            partition = message.partition(),
            offset = message.offset(),
            reason,
            error,
            "dead-lettering record"
        );
        send(
            &self.txn.producer(),
            self.dead_letter_topic,
            None,
            &record,
            record.timestamp,
        )
        .await?;
        self.txn.count_dead_letter(reason);
        Ok(())
    }
}

/// Seconds from `millis` since the epoch to now; 0 for a timestamp in the future.
fn seconds_since(millis: i64) -> f64 {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    (now - millis as f64 / 1000.0).max(0.0)
}

/// A time no timer of the loop reaches: where the commit timer rests while
/// no transaction is open.
fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(86_400 * 365)
}

/// Produces one record into the open transaction, waiting while the client's
/// queue is full.
async fn send(
    producer: &super::txn::TxnProducer,
    topic: &str,
    partition: Option<i32>,
    record: &OutputRecord,
    timestamp: Option<i64>,
) -> Result<(), KafkaError> {
    let headers = (!record.headers.is_empty()).then(|| {
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
        for (key, value) in &record.headers {
            headers = headers.insert(Header {
                key,
                value: Some(value.as_slice()),
            });
        }
        headers
    });
    let out = Outgoing {
        topic,
        partition,
        key: record.key.as_deref(),
        value: record.value.as_deref(),
        headers,
        timestamp,
    };
    send_parts(producer, out).await
}

/// One record to produce, borrowed from wherever it is.
pub(super) struct Outgoing<'a> {
    pub(super) topic: &'a str,
    pub(super) partition: Option<i32>,
    pub(super) key: Option<&'a [u8]>,
    pub(super) value: Option<&'a [u8]>,
    pub(super) headers: Option<OwnedHeaders>,
    pub(super) timestamp: Option<i64>,
}

/// Produces `out`, waiting while the client's queue is full.
pub(super) async fn send_parts(
    producer: &super::txn::TxnProducer,
    out: Outgoing<'_>,
) -> Result<(), KafkaError> {
    let mut base = BaseRecord::<[u8], [u8]>::to(out.topic);
    if let Some(partition) = out.partition {
        base = base.partition(partition);
    }
    if let Some(key) = out.key {
        base = base.key(key);
    }
    if let Some(value) = out.value {
        base = base.payload(value);
    }
    if let Some(ts) = out.timestamp {
        base = base.timestamp(ts);
    }
    if let Some(headers) = out.headers {
        base = base.headers(headers);
    }
    loop {
        match producer.send(base) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                base = back;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err((err, _)) => return Err(err),
        }
    }
}

fn seek(consumer: &StreamConsumer<RebalanceContext>, rewind: &HashMap<Tp, i64>) {
    for ((topic, partition), offset) in rewind {
        if let Err(err) = consumer.seek(
            topic,
            *partition,
            Offset::Offset(*offset),
            Duration::from_secs(10),
        ) {
            // A partition revoked meanwhile: its next owner starts from the last commit.
            tracing::debug!(%topic, partition, offset, error = %crate::ErrorChain(&err), "cannot rewind partition");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn an_error_chain_says_each_message_once() {
        let io = || std::io::Error::other("disk full");
        let errors: Vec<Box<dyn std::error::Error>> = vec![
            Box::new(crate::TransformError::new("cannot save").with_source(io())),
            Box::new(Error::Io {
                operation: "writing".to_string(),
                source: io(),
            }),
            Box::new(Error::Transform {
                topic: "in".to_string(),
                partition: 0,
                offset: 7,
                source: crate::TransformError::new("cannot price").with_source(io()),
            }),
            Box::new(Error::from(crate::DescriptorError::NoInputPorts)),
            Box::new(Error::kafka(
                "committing",
                KafkaError::AdminOp(RDKafkaErrorCode::InvalidTransactionTimeout),
            )),
            // A store or emit error made a transform error: the dead-letter
            // header said its message twice before.
            Box::new(crate::TransformError::from(crate::EmitError::UnknownPort {
                port: "nope".to_string(),
                known: vec!["out".to_string()],
            })),
        ];
        for err in &errors {
            let chain = ErrorChain(err.as_ref()).to_string();
            let mut cause: Option<&dyn std::error::Error> = Some(err.as_ref());
            while let Some(e) = cause {
                let said = e.to_string();
                assert_eq!(chain.matches(&said).count(), 1, "`{said}` in `{chain}`");
                if let Some(source) = e.source() {
                    assert!(!said.contains(&source.to_string()), "`{said}` repeats its source");
                }
                cause = e.source();
            }
        }
        assert_eq!(
            ErrorChain(errors[0].as_ref()).to_string(),
            "cannot save: disk full"
        );
    }

    fn config(dir: &Path) -> Config {
        Config::builder().state_dir(dir).build().expect("config")
    }

    #[test]
    fn a_second_instance_on_the_same_state_directory_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (id, lock) = claim_instance(&config(dir.path()), "app").expect("first");
        assert!(lock.is_some());
        let err = claim_instance(&config(dir.path()), "app").expect_err("second");
        assert!(matches!(err, Error::StateDirInUse { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains(&dir.path().join("app").display().to_string()),
            "{err}"
        );
        assert!(!err.is_retriable());
        // Another application on the same directory has its own.
        claim_instance(&config(dir.path()), "other").expect("another application");
        // Once the first is gone, a restart takes its id back.
        drop(lock);
        let (again, _lock) = claim_instance(&config(dir.path()), "app").expect("restart");
        assert_eq!(again, id);
    }

    #[test]
    fn each_thread_has_ids_of_its_own_and_thread_0_keeps_the_single_threads() {
        let one = Config::builder().build().expect("config");
        let single = LoopIds::new(&one, "app", "inst", 0);
        assert_eq!(
            single,
            LoopIds {
                transactional_id: "app-inst".to_string(),
                member_id: "inst".to_string(),
                client_id: None,
            },
            "one thread: the ids of before"
        );
        let three = Config::builder().processing_threads(3).build().expect("config");
        let ids: Vec<LoopIds> = (0..3).map(|t| LoopIds::new(&three, "app", "inst", t)).collect();
        assert_eq!(ids[0].transactional_id, single.transactional_id);
        assert_eq!(ids[0].member_id, single.member_id);
        assert_eq!(ids[2].transactional_id, "app-inst-thread-2");
        assert_eq!(ids[2].member_id, "inst-thread-2");
        assert_eq!(ids[1].client_id.as_deref(), Some("app-thread-1"));
        let distinct = |f: fn(&LoopIds) -> String| ids.iter().map(f).collect::<HashSet<_>>().len();
        assert_eq!(distinct(|i| i.transactional_id.clone()), 3);
        assert_eq!(distinct(|i| i.member_id.clone()), 3);
        assert_eq!(distinct(|i| i.client_id.clone().unwrap_or_default()), 3);
        assert_eq!(
            ids,
            (0..3)
                .map(|t| LoopIds::new(&three, "app", "inst", t))
                .collect::<Vec<_>>(),
            "stable"
        );
        let named = Config::builder()
            .processing_threads(2)
            .kafka_property("client.id", "orders")
            .build()
            .expect("config");
        assert_eq!(
            LoopIds::new(&named, "app", "inst", 1).client_id.as_deref(),
            Some("orders-thread-1")
        );
    }

    #[test]
    fn an_explicit_instance_id_takes_no_lock() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = || {
            Config::builder()
                .state_dir(dir.path())
                .instance_id("a")
                .build()
                .expect("config")
        };
        let (id, lock) = claim_instance(&config(), "app").expect("first");
        assert_eq!((id.as_str(), lock.is_none()), ("a", true));
        claim_instance(&config(), "app").expect("an explicit id is the operator's to keep unique");
    }
}
