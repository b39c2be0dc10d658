//! Schema enforcement on the embedded local cluster: poison records are
//! dead-lettered by reason, evolved writers are read, the compatibility gate
//! refuses what it must, and a registry that goes away loses nothing.
//!
//! The mock cluster shows aborted records to read_committed readers, so
//! exact counts come from the metrics (counted at commit); exactly-once on
//! the real broker is in `schema_broker.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use meshkit::schema::registry::EmbeddedRegistry;
use meshkit::schema::{SchemaGateError, SchemaRegistry};
use meshkit::{dlq_headers, Config, Error};
use meshkit_tests::broker::read_topic;
use meshkit_tests::run::spawn_with_registry;
use meshkit_tests::scrape::free_addr;
use meshkit_tests::typed::{
    band, framed, poison_records, produce_raw, register, unframe, EnrichedOrder, Order, OrderV1,
    OrderWithStringId, OrdersEnricher, Payment, PoisonIds, Raw, Switchable,
};

fn config(state: &tempfile::TempDir) -> meshkit::ConfigBuilder {
    Config::builder()
        .embedded_cluster()
        .state_dir(state.path())
        .commit_interval(Duration::from_millis(50))
        .topic_partitions(2)
        .max_record_bytes(4096)
}

fn order(id: i64, channel: &str) -> Order {
    Order {
        id,
        customer: format!("c{}", id % 7),
        amount_cents: id * 97,
        channel: channel.to_string(),
    }
}

fn raw(topic: &str, key: Option<Vec<u8>>, value: Option<Vec<u8>>) -> Raw {
    Raw {
        topic: topic.to_string(),
        key,
        value,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eleven_kinds_of_poison_are_dead_lettered_by_reason_and_the_rest_flows() {
    let state = tempfile::tempdir().expect("temp dir");
    let registry = Arc::new(EmbeddedRegistry::in_memory());
    let product = OrdersEnricher::new("poison");
    let mut running = spawn_with_registry(
        product.clone(),
        config(&state).build().expect("config"),
        registry.clone(),
    )
    .expect("runtime");
    let brokers = running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");

    let orders_subject = format!("{}-value", product.orders);
    let v1 = register::<OrderV1>(registry.as_ref(), &orders_subject)
        .await
        .expect("v1");
    let v2 = register::<Order>(registry.as_ref(), &orders_subject)
        .await
        .expect("v2 adds a field with a default");
    let bad = register::<OrderWithStringId>(registry.as_ref(), "elsewhere-value")
        .await
        .expect("other subject");
    let key_id = register::<String>(registry.as_ref(), &format!("{}-key", product.payments))
        .await
        .expect("key");
    let pay_id = register::<Payment>(registry.as_ref(), &format!("{}-value", product.payments))
        .await
        .expect("pay");
    assert_ne!(v1, v2);

    let mut records = Vec::new();
    for id in 1..=200 {
        records.push(raw(&product.orders, None, Some(framed(v2, &order(id, "web")))));
    }
    for id in 201..=300 {
        let o = order(id, "");
        let old = OrderV1 {
            id: o.id,
            customer: o.customer,
            amount_cents: o.amount_cents,
        };
        records.push(raw(&product.orders, None, Some(framed(v1, &old))));
    }
    for n in 0..50_i64 {
        let payment = Payment {
            order_id: n,
            cents: n * 10,
        };
        records.push(raw(
            &product.payments,
            Some(framed(key_id, &format!("c{n}"))),
            Some(framed(pay_id, &payment)),
        ));
    }
    let ids = PoisonIds {
        order: v2,
        incompatible: bad,
        payment: pay_id,
    };
    let poison = poison_records(&product, ids);
    let expected_reasons: BTreeSet<&str> = poison.iter().map(|(r, _)| *r).collect();
    assert_eq!(expected_reasons.len(), 11);
    // Interleave the poison among the good records.
    let mut all = Vec::new();
    let mut poison_iter = poison.into_iter().map(|(_, r)| r);
    for (i, r) in records.into_iter().enumerate() {
        if i % 30 == 0 {
            if let Some(p) = poison_iter.next() {
                all.push(p);
            }
        }
        all.push(r);
    }
    all.extend(poison_iter);
    let total = all.len() as u64;
    produce_raw(&brokers, &all).expect("produce");
    running
        .until_committed(total, Duration::from_secs(60))
        .await
        .expect("all committed");

    // Every kind dead-lettered, once each (metrics count what committed).
    let metrics = running.handle.metrics().clone();
    for reason in &expected_reasons {
        assert_eq!(
            metrics
                .value("meshkit_dead_letters_total", &[("reason", reason)])
                .unwrap_or_default() as u64,
            1,
            "reason {reason}"
        );
    }
    let dlq = read_topic(
        &brokers,
        "tests.orders-enricher.dlq",
        "read_committed",
        11,
        Duration::from_secs(30),
    )
    .expect("dlq");
    let seen: BTreeMap<String, _> = dlq
        .iter()
        .map(|r| (r.header(dlq_headers::REASON).unwrap_or_default(), r))
        .collect();
    assert_eq!(
        seen.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        expected_reasons
    );
    assert_eq!(
        seen["unknown-schema-id"].header(dlq_headers::ERROR).as_deref(),
        Some("schema id 99999 is not in the registry")
    );
    assert_eq!(
        seen["trailing-bytes"].header(dlq_headers::SCHEMA_ID),
        Some(v2.to_string())
    );
    assert_eq!(
        seen["incompatible-writer-schema"].header(dlq_headers::SCHEMA_ID),
        Some(bad.to_string())
    );
    assert!(seen["incompatible-writer-schema"]
        .header(dlq_headers::ERROR)
        .unwrap_or_default()
        .contains("id"));
    assert_eq!(
        seen["missing-value"].value, None,
        "the record is dead-lettered as it came"
    );
    assert_eq!(seen["bad-magic"].value.as_deref(), Some(&b"{\"id\": 1}"[..]));
    for r in seen.values() {
        assert!(r
            .header(dlq_headers::SOURCE_OFFSET)
            .is_some_and(|o| o.parse::<i64>().is_ok()));
    }

    // The rest flowed: v2 orders through the direct path, v1 through resolution.
    assert_eq!(
        metrics
            .value("meshkit_records_produced_total", &[("port", "enriched")])
            .unwrap_or_default() as u64,
        300
    );
    assert_eq!(
        metrics
            .value("meshkit_records_produced_total", &[("port", "paid")])
            .unwrap_or_default() as u64,
        50
    );
    let out = read_topic(
        &brokers,
        &product.enriched,
        "read_committed",
        300,
        Duration::from_secs(30),
    )
    .expect("out");
    let mut by_id = BTreeMap::new();
    for r in &out {
        let (id, e) = unframe::<EnrichedOrder>(r.value.as_deref().expect("value")).expect("decodes");
        assert_eq!(r.key.as_deref(), Some(e.customer.as_bytes()));
        by_id.insert(e.id, (id, e));
    }
    assert_eq!(by_id.len(), 300);
    let output_id = registry
        .lookup(
            &format!("{}-value", product.enriched),
            &framed_schema::<EnrichedOrder>(),
        )
        .await
        .expect("output registered at start")
        .id;
    for (id, (schema_id, e)) in &by_id {
        assert_eq!(*schema_id, output_id);
        assert_eq!(e.band, band(id * 97));
        assert_eq!(
            e.channel,
            if *id <= 200 { "web" } else { "unknown" },
            "v1 orders get the default"
        );
    }
    let paid = read_topic(
        &brokers,
        &product.paid,
        "read_committed",
        50,
        Duration::from_secs(30),
    )
    .expect("paid");
    let paid: BTreeSet<String> = paid
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    assert!(paid.contains("c7:7:70"), "{paid:?}");
    assert_eq!(paid.len(), 50);

    running.stop().await.expect("join").expect("clean stop");
}

fn framed_schema<T: meshkit::AvroType>() -> String {
    meshkit::schema::codec_for::<T>().schema_json().to_string()
}

/// Earlier versions of the output, as the subject may already hold them.
mod evolved {
    use apache_avro::AvroSchema;
    use serde::{Deserialize, Serialize};

    /// `amount_cents` was a string: the product's type changes its type.
    #[derive(Debug, Clone, AvroSchema, Serialize, Deserialize)]
    #[serde(rename = "EnrichedOrder")]
    #[avro(namespace = "com.example.sales")]
    pub(crate) struct TypeChanged {
        pub(crate) id: i64,
        pub(crate) customer: String,
        pub(crate) amount_cents: String,
        pub(crate) band: String,
        pub(crate) channel: String,
    }

    /// No `band`: the product's type adds it without a default.
    #[derive(Debug, Clone, AvroSchema, Serialize, Deserialize)]
    #[serde(rename = "EnrichedOrder")]
    #[avro(namespace = "com.example.sales")]
    pub(crate) struct NoBand {
        pub(crate) id: i64,
        pub(crate) customer: String,
        pub(crate) amount_cents: i64,
        pub(crate) channel: String,
    }

    /// No `channel`: the product's type adds it with a default.
    #[derive(Debug, Clone, AvroSchema, Serialize, Deserialize)]
    #[serde(rename = "EnrichedOrder")]
    #[avro(namespace = "com.example.sales")]
    pub(crate) struct NoChannel {
        pub(crate) id: i64,
        pub(crate) customer: String,
        pub(crate) amount_cents: i64,
        pub(crate) band: String,
    }
}

async fn start_with(registry: Arc<dyn SchemaRegistry>, prefix: &str) -> Result<(), Error> {
    let state = tempfile::tempdir().expect("temp dir");
    let running = spawn_with_registry(
        OrdersEnricher::new(prefix),
        config(&state).build().expect("config"),
        registry,
    )?;
    let mut running = running;
    if running.until_running(Duration::from_secs(30)).await.is_ok() {
        return running.stop().await.expect("join");
    }
    running.task.await.expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_refuses_an_incompatible_output_and_passes_a_compatible_one() {
    for (name, schema, ok) in [
        ("type changed", framed_schema::<evolved::TypeChanged>(), false),
        (
            "field added without default",
            framed_schema::<evolved::NoBand>(),
            false,
        ),
        (
            "field added with default",
            framed_schema::<evolved::NoChannel>(),
            true,
        ),
    ] {
        let registry = Arc::new(EmbeddedRegistry::in_memory());
        let subject = "gate.enriched-value";
        // The subject's latest is `schema`; the product then registers its own EnrichedOrder.
        registry.register(subject, &schema).await.expect("first version");
        let result = start_with(registry.clone(), "gate").await;
        if ok {
            result.unwrap_or_else(|e| panic!("{name}: {e}"));
            continue;
        }
        let err = result.expect_err(name);
        let text = meshkit::ErrorChain(&err).to_string();
        eprintln!("{name}: {text}");
        assert!(
            matches!(err, Error::Schema(SchemaGateError::OutputIncompatible { .. })),
            "{name}: {err:?}"
        );
        assert!(text.contains(subject), "{name}: names the subject: {text}");
        let field = if name == "type changed" {
            "amount_cents"
        } else {
            "band"
        };
        assert!(text.contains(field), "{name}: names the field: {text}");
        assert!(!err.is_retriable());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_refuses_an_input_type_that_cannot_read_its_writers() {
    let registry = Arc::new(EmbeddedRegistry::in_memory());
    // Writers write orders whose id is a string: `Order` cannot read them.
    register::<OrderWithStringId>(registry.as_ref(), "gate-in.orders-value")
        .await
        .expect("writer");
    let err = start_with(registry, "gate-in").await.expect_err("refused");
    let text = meshkit::ErrorChain(&err).to_string();
    assert!(
        matches!(err, Error::Schema(SchemaGateError::InputIncompatible { .. })),
        "{err:?}"
    );
    assert!(text.contains("gate-in.orders-value"), "{text}");
    assert!(text.contains("input port `orders`"), "{text}");
    assert!(text.contains("id"), "names the field: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_down_at_start_is_a_clear_retriable_error() {
    let state = tempfile::tempdir().expect("temp dir");
    // A port nothing listens on.
    let port = free_addr().expect("free port").port();
    let config = config(&state)
        .schema_registry_url(format!("http://127.0.0.1:{port}"))
        .build()
        .expect("config");
    let running = meshkit_tests::run::spawn(OrdersEnricher::new("down"), config).expect("runtime");
    let err = running.task.await.expect("join").expect_err("cannot start");
    let text = meshkit::ErrorChain(&err).to_string();
    assert!(
        matches!(err, Error::Schema(SchemaGateError::Registry { .. })),
        "{err:?}"
    );
    assert!(err.is_retriable(), "{text}");
    assert!(text.contains("schema registry"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_goes_away_mid_run_loses_nothing() {
    let state = tempfile::tempdir().expect("temp dir");
    let inner: Arc<dyn SchemaRegistry> = Arc::new(EmbeddedRegistry::in_memory());
    let switchable = Arc::new(Switchable::new(inner.clone()));
    let product = OrdersEnricher::new("away");
    let mut running = spawn_with_registry(
        product.clone(),
        config(&state).build().expect("config"),
        switchable.clone(),
    )
    .expect("runtime");
    let brokers = running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");
    let subject = format!("{}-value", product.orders);
    let v1 = register::<OrderV1>(inner.as_ref(), &subject).await.expect("v1");
    let v2 = register::<Order>(inner.as_ref(), &subject).await.expect("v2");

    // Ids seen while the registry is up are cached: one request per id.
    let calls_at_start = switchable.calls.load(Ordering::SeqCst);
    let first: Vec<Raw> = (1..=100)
        .map(|id| raw(&product.orders, None, Some(framed(v2, &order(id, "web")))))
        .collect();
    produce_raw(&brokers, &first).expect("produce");
    running
        .until_committed(100, Duration::from_secs(60))
        .await
        .expect("first batch");
    assert_eq!(
        switchable.calls.load(Ordering::SeqCst),
        calls_at_start + 1,
        "100 records of one schema id cost one registry request"
    );

    // …so they keep flowing when it goes away; records with a new id wait.
    switchable.down.store(true, Ordering::SeqCst);
    let mut second: Vec<Raw> = (101..=200)
        .map(|id| raw(&product.orders, None, Some(framed(v2, &order(id, "web")))))
        .collect();
    let old = OrderV1 {
        id: 201,
        customer: "c5".into(),
        amount_cents: 5,
    };
    second.push(raw(&product.orders, None, Some(framed(v1, &old))));
    produce_raw(&brokers, &second).expect("produce");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let metrics = running.handle.metrics().clone();
    let produced = metrics
        .value("meshkit_records_produced_total", &[("port", "enriched")])
        .unwrap_or_default() as u64;
    assert!(
        produced < 201,
        "the record with the new id waits while the registry is down: {produced}"
    );
    assert!(produced >= 100, "cached ids kept working: {produced}");
    let calls_while_down = switchable.calls.load(Ordering::SeqCst);

    switchable.down.store(false, Ordering::SeqCst);
    running
        .until_committed(201, Duration::from_secs(60))
        .await
        .expect("all after it is back");
    assert_eq!(
        metrics
            .value("meshkit_records_produced_total", &[("port", "enriched")])
            .unwrap_or_default() as u64,
        201
    );
    for reason in [
        "unknown-schema-id",
        "incompatible-writer-schema",
        "malformed-avro",
    ] {
        assert_eq!(
            metrics
                .value("meshkit_dead_letters_total", &[("reason", reason)])
                .unwrap_or_default() as u64,
            0,
            "{reason}"
        );
    }
    assert!(calls_while_down > 0, "the new id was asked for while down");
    let out = read_topic(
        &brokers,
        &product.enriched,
        "read_committed",
        201,
        Duration::from_secs(30),
    )
    .expect("out");
    let ids: BTreeSet<i64> = out
        .iter()
        .map(|r| {
            unframe::<EnrichedOrder>(r.value.as_deref().expect("value"))
                .expect("decodes")
                .1
                .id
        })
        .collect();
    assert_eq!(ids, (1..=201).collect());
    running.stop().await.expect("join").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auto_registration_off_an_unregistered_output_refuses_to_start() {
    let state = tempfile::tempdir().expect("temp dir");
    let registry = Arc::new(EmbeddedRegistry::in_memory());
    let manual = || {
        config(&state)
            .auto_register_schemas(false)
            .build()
            .expect("config")
    };
    let running =
        spawn_with_registry(OrdersEnricher::new("manual"), manual(), registry.clone()).expect("runtime");
    let err = running.task.await.expect("join").expect_err("refused");
    assert!(
        matches!(err, Error::Schema(SchemaGateError::OutputNotRegistered { .. })),
        "{err:?}"
    );
    let text = meshkit::ErrorChain(&err).to_string();
    assert!(text.contains("manual.enriched-value"), "{text}");

    // Registered beforehand, it starts.
    registry
        .register("manual.enriched-value", &framed_schema::<EnrichedOrder>())
        .await
        .expect("registered");
    let mut running =
        spawn_with_registry(OrdersEnricher::new("manual"), manual(), registry).expect("runtime");
    running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");
    running.stop().await.expect("join").expect("clean stop");
}
