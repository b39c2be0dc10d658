//! Store values that evolve, on the real broker with the embedded registry
//! (its schemas in a Kafka topic): a product whose store type gains a
//! defaulted field reads the state its earlier version left, locally and
//! restored from scratch from a changelog holding both versions' values;
//! a type that cannot read them is refused at start, naming the store and
//! the field. Judged on the committed view of the output: each key's counts
//! run 1, 2, 3… across the versions with no gap or repeat.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::time::Duration;

use meshkit::{
    Config, Context, DataProduct, DescriptorError, ProductDescriptor, Record, StoreDescriptor, TransformError,
};
use meshkit_tests::broker::{create_topic, input_key, produce_keyed, test_brokers, unique_name};
use meshkit_tests::oracle::committed_view;
use meshkit_tests::run;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

const PARTITIONS: i32 = 2;
const KEYS: usize = 10;
/// Inputs per run.
const RUN: usize = 300;

/// A key's running count, as each version of the product keeps it.
trait Count: meshkit::AvroType + Serialize + DeserializeOwned + Send + 'static {
    fn first(id: i64) -> Self;
    fn next(self, id: i64) -> Self;
    fn count(&self) -> i64;
}

/// Version 1: the count only.
#[derive(Debug, Serialize, Deserialize, apache_avro::AvroSchema)]
#[serde(rename = "Total")]
struct V1 {
    count: i64,
}

impl Count for V1 {
    fn first(_: i64) -> Self {
        Self { count: 1 }
    }
    fn next(self, _: i64) -> Self {
        Self {
            count: self.count + 1,
        }
    }
    fn count(&self) -> i64 {
        self.count
    }
}

/// Version 2: a field added, with a default (values of version 1 read
/// with it).
#[derive(Debug, Serialize, Deserialize, apache_avro::AvroSchema)]
#[serde(rename = "Total")]
struct V2 {
    count: i64,
    #[avro(default = "-1")]
    #[serde(default)]
    last_id: i64,
}

impl Count for V2 {
    fn first(id: i64) -> Self {
        Self {
            count: 1,
            last_id: id,
        }
    }
    fn next(self, id: i64) -> Self {
        Self {
            count: self.count + 1,
            last_id: id,
        }
    }
    fn count(&self) -> i64 {
        self.count
    }
}

/// A breaking version: the count's type changed.
#[derive(Debug, Serialize, Deserialize, apache_avro::AvroSchema)]
#[serde(rename = "Total")]
struct Broken {
    count: String,
}

impl Count for Broken {
    fn first(_: i64) -> Self {
        Self { count: "1".into() }
    }
    fn next(self, _: i64) -> Self {
        self
    }
    fn count(&self) -> i64 {
        self.count.parse().unwrap_or_default()
    }
}

/// Counts each key's inputs in store `totals` (values of type `V`, kept
/// with their Avro schema) and emits the new count.
struct Counter<V> {
    input: String,
    output: String,
    _value: PhantomData<fn() -> V>,
}

impl<V: Count> DataProduct for Counter<V> {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        ProductDescriptor::builder("tests", "counter")
            .version("0.1.0")
            .owner("meshkit-tests")
            .input("in", &self.input)
            .output("out", &self.output)
            .store_with(StoreDescriptor::new("totals").avro_values::<V>())
            .build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        let key = String::from_utf8_lossy(record.key().unwrap_or_default()).into_owned();
        let id = record.offset();
        let mut totals = ctx.store::<String, V>("totals")?;
        let total = match totals.get(&key)? {
            Some(total) => total.next(id),
            None => V::first(id),
        };
        totals.put(&key, &total)?;
        let count = total.count();
        ctx.emit("out", Some(key.into_bytes()), count.to_string().into_bytes())?;
        Ok(())
    }
}

struct Setup {
    brokers: String,
    input: String,
    output: String,
    app: String,
}

impl Setup {
    fn counter<V>(&self) -> Counter<V> {
        Counter {
            input: self.input.clone(),
            output: self.output.clone(),
            _value: PhantomData,
        }
    }

    fn config(&self, state: &std::path::Path) -> Config {
        Config::builder()
            .brokers(&self.brokers)
            .application_id(&self.app)
            .state_dir(state)
            .topic_partitions(PARTITIONS)
            .kafka_property("session.timeout.ms", "6000")
            .build()
            .expect("config")
    }

    /// Runs `product` over inputs `ids`, then stops it cleanly.
    async fn run<V: Count>(&self, state: &std::path::Path, ids: std::ops::Range<usize>) {
        let mut running = run::spawn(self.counter::<V>(), self.config(state)).expect("runtime");
        running
            .until_running(Duration::from_secs(60))
            .await
            .expect("running");
        let n = ids.len() as u64;
        let (brokers, input) = (self.brokers.clone(), self.input.clone());
        tokio::task::spawn_blocking(move || produce_keyed(&brokers, &input, ids, KEYS))
            .await
            .expect("join")
            .expect("inputs");
        running
            .until_committed(n, Duration::from_secs(120))
            .await
            .expect("committed");
        running.stop().await.expect("join").expect("clean stop");
    }

    /// Each key's emitted counts, in order, from the committed view.
    async fn counts(&self) -> BTreeMap<String, Vec<i64>> {
        let view = committed_view(&self.brokers, &self.output).await.expect("oracle");
        let mut counts: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for record in &view.committed {
            let count = record.value_str().and_then(|v| v.parse().ok()).expect("a count");
            counts
                .entry(record.key_str().expect("keyed"))
                .or_default()
                .push(count);
        }
        counts
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_type_that_gained_a_defaulted_field_reads_its_old_state_and_a_breaking_one_is_refused() {
    let test = "a_store_type_that_gained_a_defaulted_field_reads_its_old_state_and_a_breaking_one_is_refused";
    let Some(brokers) = test_brokers(test) else {
        return;
    };
    let s = Setup {
        input: unique_name("evolve-in"),
        output: unique_name("evolve-out"),
        app: unique_name("evolve-app"),
        brokers,
    };
    create_topic(&s.brokers, &s.input, PARTITIONS)
        .await
        .expect("input topic");
    let state = tempfile::tempdir().expect("state");

    // Version 1, then version 2 on the same local state.
    s.run::<V1>(state.path(), 0..RUN).await;
    s.run::<V2>(state.path(), RUN..2 * RUN).await;
    // Local state lost: version 2 restores both versions' values from the
    // changelog.
    std::fs::remove_dir_all(state.path().join(&s.app)).expect("delete the state");
    s.run::<V2>(state.path(), 2 * RUN..3 * RUN).await;

    let counts = s.counts().await;
    assert_eq!(counts.len(), KEYS);
    let per_key = (3 * RUN / KEYS) as i64;
    for (key, seen) in &counts {
        let expected: Vec<i64> = (1..=per_key).collect();
        assert_eq!(seen, &expected, "key {key}: counts across versions and a restore");
    }
    assert!(counts.contains_key(&input_key(0, KEYS)));

    // A type that cannot read what the store holds: refused at start.
    let mut refused = run::spawn(s.counter::<Broken>(), s.config(state.path())).expect("runtime");
    assert!(
        refused.until_running(Duration::from_secs(60)).await.is_err(),
        "a breaking store type must not start"
    );
    let err = tokio::time::timeout(Duration::from_secs(30), refused.task)
        .await
        .expect("stops")
        .expect("join")
        .expect_err("refused");
    let text = meshkit::ErrorChain(&err).to_string();
    assert!(text.contains("store `totals`"), "names the store: {text}");
    assert!(text.contains("count"), "names the field: {text}");
    assert!(text.contains("Rule:"), "states the rule: {text}");
    eprintln!("refused as: {text}");
    assert_eq!(
        s.counts().await,
        counts,
        "nothing was written by the refused version"
    );
}
