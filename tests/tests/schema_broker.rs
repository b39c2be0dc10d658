//! Schema enforcement on the real broker: Confluent's own Python client
//! writes a product's input and reads its output through meshkit's registry
//! served over HTTP, and poison records are dead-lettered exactly once.
//! Judged on the committed view (the oracle), independent of the broker's
//! own read_committed filtering.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use meshkit::schema::registry::{EmbeddedRegistry, RegistryServer};
use meshkit::schema::SchemaRegistry;
use meshkit::{dlq_headers, Config};
use meshkit_tests::broker::{test_brokers, unique_name};
use meshkit_tests::oracle::committed_view;
use meshkit_tests::python::{run_script, venv_python};
use meshkit_tests::run;
use meshkit_tests::typed::{
    band, framed, poison_records, produce_raw, register, unframe, EnrichedOrder, Order, OrderV1,
    OrderWithStringId, OrdersEnricher, Payment, PoisonIds, Raw,
};

fn config(brokers: &str, state: &std::path::Path, app: &str) -> meshkit::ConfigBuilder {
    Config::builder()
        .brokers(brokers)
        .application_id(app)
        .state_dir(state)
        .topic_partitions(2)
        .max_record_bytes(4096)
        .kafka_property("session.timeout.ms", "6000")
}

async fn run_python(python: &std::path::Path, args: Vec<String>) -> String {
    run_script(python, "data_interop.py", args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluents_python_client_writes_a_products_input_and_reads_its_output() {
    let test = "confluents_python_client_writes_a_products_input_and_reads_its_output";
    let Some(brokers) = test_brokers(test) else { return };
    let Some(python) = venv_python(test) else { return };

    // meshkit's registry on its topic, served over HTTP; the product reaches
    // it through the HTTP client, as it would reach Confluent's.
    let registry = EmbeddedRegistry::connect(&brokers, &unique_name("_schemas"), [("", ""); 0])
        .await
        .expect("registry");
    let server =
        RegistryServer::bind("127.0.0.1:0".parse().expect("addr"), Arc::new(registry)).expect("serve");
    let url = format!("http://{}", server.local_addr());

    let prefix = unique_name("interop");
    let product = OrdersEnricher::new(&prefix);
    let state = tempfile::tempdir().expect("state");
    let config = config(&brokers, state.path(), &unique_name("interop-app"))
        .schema_registry_url(&url)
        .build()
        .expect("config");
    let mut running = run::spawn(product.clone(), config).expect("runtime");
    running
        .until_running(Duration::from_secs(60))
        .await
        .expect("running");

    let common = |mode: &str, topic: &str| {
        vec![
            mode.to_string(),
            "--brokers".into(),
            brokers.clone(),
            "--registry".into(),
            url.clone(),
            "--topic".into(),
            topic.to_string(),
        ]
    };
    // Old writers first (v1, no `channel`), then new ones (v2): the product's
    // reader type reads both.
    let mut v1 = common("produce", &product.orders);
    v1.extend(["--count".into(), "100".into(), "--v1".into()]);
    run_python(&python, v1).await;
    let mut v2 = common("produce", &product.orders);
    v2.extend(["--count".into(), "100".into(), "--start".into(), "101".into()]);
    run_python(&python, v2).await;
    running
        .until_committed(200, Duration::from_secs(120))
        .await
        .expect("all committed");

    let mut consume = common("consume", &product.enriched);
    consume.extend(["--count".into(), "200".into()]);
    let lines = run_python(&python, consume).await;
    let mut seen = BTreeMap::new();
    for line in lines.lines() {
        let record: serde_json::Value = serde_json::from_str(line).expect("json line");
        let value = &record["value"];
        let id = value["id"].as_i64().expect("id");
        assert_eq!(value["band"], band(id * 97), "{line}");
        assert_eq!(
            value["channel"],
            if id <= 100 { "unknown" } else { "python" },
            "{line}"
        );
        assert_eq!(record["key"], value["customer"], "{line}");
        assert!(
            seen.insert(id, line.to_string()).is_none(),
            "id {id} twice in what Python read"
        );
    }
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (1..=200).collect::<Vec<_>>()
    );

    // And exactly once in the committed view.
    let view = committed_view(&brokers, &product.enriched).await.expect("oracle");
    let ids: Vec<i64> = view
        .committed
        .iter()
        .map(|r| {
            unframe::<EnrichedOrder>(r.value.as_deref().expect("value"))
                .expect("decodes")
                .1
                .id
        })
        .collect();
    assert_eq!(ids.len(), 200, "{} committed", ids.len());
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 200);

    running.stop().await.expect("join").expect("clean stop");
    server.shutdown().await.expect("registry server stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_on_the_broker_is_dead_lettered_exactly_once_and_the_rest_flows() {
    let test = "poison_on_the_broker_is_dead_lettered_exactly_once_and_the_rest_flows";
    let Some(brokers) = test_brokers(test) else { return };
    let schemas = unique_name("_schemas");
    let prefix = unique_name("poison");
    let app = unique_name("poison-app");
    let product = OrdersEnricher::new(&prefix);
    let state = tempfile::tempdir().expect("state");
    // The product opens the embedded registry on `schemas` itself; the test
    // registers writers through a second instance on the same topic.
    let config = config(&brokers, state.path(), &app)
        .schema_topic(&schemas)
        .build()
        .expect("config");
    let mut running = run::spawn(product.clone(), config).expect("runtime");
    running
        .until_running(Duration::from_secs(60))
        .await
        .expect("running");
    let registry = EmbeddedRegistry::connect(&brokers, &schemas, [("", ""); 0])
        .await
        .expect("registry");
    let registry: &dyn SchemaRegistry = &registry;

    let subject = format!("{}-value", product.orders);
    let v1 = register::<OrderV1>(registry, &subject).await.expect("v1");
    let v2 = register::<Order>(registry, &subject).await.expect("v2");
    let bad = register::<OrderWithStringId>(registry, &unique_name("elsewhere"))
        .await
        .expect("bad");
    let key_id = register::<String>(registry, &format!("{}-key", product.payments))
        .await
        .expect("key");
    let pay_id = register::<Payment>(registry, &format!("{}-value", product.payments))
        .await
        .expect("pay");

    let order = |id: i64| Order {
        id,
        customer: format!("c{}", id % 7),
        amount_cents: id * 97,
        channel: "web".into(),
    };
    let raw = |topic: &str, key: Option<Vec<u8>>, value: Option<Vec<u8>>| Raw {
        topic: topic.to_string(),
        key,
        value,
    };
    let poison = poison_records(
        &product,
        PoisonIds {
            order: v2,
            incompatible: bad,
            payment: pay_id,
        },
    );
    let expected: BTreeSet<&str> = poison.iter().map(|(r, _)| *r).collect();
    let mut records = Vec::new();
    let mut poison = poison.into_iter().map(|(_, r)| r);
    for id in 1..=600_i64 {
        if id % 50 == 0 {
            records.extend(poison.next());
        }
        if id <= 300 {
            records.push(raw(&product.orders, None, Some(framed(v2, &order(id)))));
        } else if id <= 500 {
            let o = order(id);
            let old = OrderV1 {
                id,
                customer: o.customer,
                amount_cents: o.amount_cents,
            };
            records.push(raw(&product.orders, None, Some(framed(v1, &old))));
        } else {
            let payment = Payment {
                order_id: id,
                cents: id,
            };
            records.push(raw(
                &product.payments,
                Some(framed(key_id, &format!("c{id}"))),
                Some(framed(pay_id, &payment)),
            ));
        }
    }
    records.extend(poison);
    let total = records.len() as u64;
    let b = brokers.clone();
    tokio::task::spawn_blocking(move || produce_raw(&b, &records))
        .await
        .expect("join")
        .expect("produce");
    running
        .until_committed(total, Duration::from_secs(120))
        .await
        .expect("all committed");
    running.stop().await.expect("join").expect("clean stop");

    let dlq = committed_view(&brokers, &format!("{app}.dlq"))
        .await
        .expect("oracle");
    let reasons: Vec<String> = (dlq.committed.iter())
        .map(|r| r.header(dlq_headers::REASON).unwrap_or_default())
        .collect();
    assert_eq!(reasons.len(), 11, "each poison record once: {reasons:?}");
    assert_eq!(
        reasons.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        expected
    );

    let out = committed_view(&brokers, &product.enriched).await.expect("oracle");
    let mut ids = BTreeMap::new();
    for r in &out.committed {
        let (_, e) = unframe::<EnrichedOrder>(r.value.as_deref().expect("value")).expect("decodes");
        assert_eq!(e.channel, if e.id <= 300 { "web" } else { "unknown" });
        *ids.entry(e.id).or_insert(0) += 1;
    }
    assert_eq!(ids.len(), 500, "every good order");
    assert!(ids.values().all(|n| *n == 1), "none twice");
    let paid = committed_view(&brokers, &product.paid).await.expect("oracle");
    assert_eq!(paid.committed.len(), 100);
}
