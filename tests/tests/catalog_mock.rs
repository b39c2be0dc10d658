//! Metadata registration and OpenLineage on the embedded local cluster: the
//! product's record on the catalog topic and on `/product`, and its run's
//! events at a stand-in OpenLineage endpoint.

use std::sync::Arc;
use std::time::Duration;

use meshkit::catalog::lineage::kafka_namespace;
use meshkit::catalog::{CatalogRecord, InstanceStatus, ProductStatus};
use meshkit::schema::registry::EmbeddedRegistry;
use meshkit::{Config, EmbeddedCluster, Error, ErrorPolicy};
use meshkit_tests::broker::{produce_ids, read_topic, unique_name};
use meshkit_tests::lineage::LineageSink;
use meshkit_tests::product::Relay;
use meshkit_tests::run::{spawn, spawn_with_registry};
use meshkit_tests::scrape::{free_addr, http_get};
use meshkit_tests::typed::OrdersEnricher;
use serde_json::Value;

/// The newest record for `key` on the catalog topic.
fn latest_record(brokers: &str, topic: &str, key: &str) -> anyhow::Result<CatalogRecord> {
    let records = read_topic(brokers, topic, "read_uncommitted", 1, Duration::from_secs(10))?;
    let last = records
        .iter()
        .rev()
        .find(|r| r.key.as_deref() == Some(key.as_bytes()))
        .ok_or_else(|| anyhow::anyhow!("no record for {key} among {} on {topic}", records.len()))?;
    Ok(CatalogRecord::decode(
        key.as_bytes(),
        last.value.as_deref().unwrap_or_default(),
    )?)
}

fn names(datasets: &Value) -> Vec<(String, String)> {
    datasets
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| {
                    (
                        d["namespace"].as_str().unwrap_or_default().to_string(),
                        d["name"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_registers_reports_start_running_complete_and_is_marked_stopped() {
    let state = tempfile::tempdir().expect("temp dir");
    // A cluster of the test's own, so that the catalog can be read after the
    // runtime stopped (a runtime's own embedded cluster stops with it).
    let cluster = EmbeddedCluster::start().expect("embedded cluster");
    let sink = LineageSink::start().await.expect("lineage endpoint");
    let endpoint = free_addr().expect("free port");
    let catalog_topic = unique_name("catalog");
    let product = OrdersEnricher::new(&unique_name("lineage"));
    // The mock cluster cannot create topics through the admin API.
    for topic in [
        &product.orders,
        &product.payments,
        &product.enriched,
        &product.paid,
        "tests.orders-enricher.dlq",
        &catalog_topic,
    ] {
        cluster.create_topic(topic, 1).expect("topic");
    }
    let config = Config::builder()
        .brokers(cluster.bootstrap_servers())
        .state_dir(state.path())
        .commit_interval(Duration::from_millis(50))
        .catalog_topic(&catalog_topic)
        .catalog_heartbeat(Duration::from_millis(200))
        .openlineage_url(sink.url())
        .openlineage_namespace("tests")
        .metrics_addr(endpoint)
        .build()
        .expect("config");
    let mut running = spawn_with_registry(product.clone(), config, Arc::new(EmbeddedRegistry::in_memory()))
        .expect("runtime");
    let brokers = running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");

    // Two heartbeats: RUNNING events, and the catalog entry refreshed.
    let events = sink
        .until(Duration::from_secs(30), |types| {
            types.iter().filter(|t| *t == "RUNNING").count() >= 2
        })
        .await
        .expect("START and two RUNNING");
    assert_eq!(events[0]["eventType"], "START", "{:?}", sink.event_types());

    let record = latest_record(&brokers, &catalog_topic, "tests/orders-enricher").expect("registered");
    assert_eq!(record.status, ProductStatus::Running);
    assert_eq!(record.owner, "meshkit-tests");
    assert_eq!(record.instances.len(), 1);
    assert_eq!(record.instances[0].status, InstanceStatus::Running);
    assert!(
        record.instances[0].last_seen > record.instances[0].started_at,
        "the heartbeat refreshes the entry: {:?}",
        record.instances[0]
    );
    let enriched = record.output("enriched").expect("output port enriched");
    assert_eq!(enriched.topic, product.enriched);
    let schema = enriched.value.as_ref().expect("an Avro port");
    assert_eq!(
        schema.subject.as_deref(),
        Some(format!("{}-value", product.enriched).as_str())
    );
    assert!(schema.id.is_some() && schema.version == Some(1), "{schema:?}");
    assert!(record.output("paid").expect("raw port").value.is_none());
    let inputs: Vec<String> = record.lineage().into_iter().map(|u| u.topic).collect();
    assert_eq!(inputs, [product.orders.clone(), product.payments.clone()]);

    // `/product` serves the same document.
    let (status, body) = tokio::task::spawn_blocking(move || http_get(endpoint, "/product"))
        .await
        .expect("join")
        .expect("GET /product");
    assert_eq!(status, 200, "{body}");
    let served = CatalogRecord::decode(b"tests/orders-enricher", body.as_bytes()).expect("an ODPS document");
    assert_eq!(served.outputs, record.outputs);
    let json: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["kind"], "DataProduct");
    assert_eq!(json["id"], "tests/orders-enricher");

    running.stop().await.expect("join").expect("clean stop");

    let events = sink
        .until(Duration::from_secs(10), |types| {
            types.last().is_some_and(|t| t == "COMPLETE")
        })
        .await
        .expect("COMPLETE");
    let types = sink.event_types();
    assert_eq!(types.first().map(String::as_str), Some("START"));
    assert!(
        types[1..types.len() - 1].iter().all(|t| t == "RUNNING"),
        "START, RUNNING…, COMPLETE: {types:?}"
    );
    let run_ids: std::collections::BTreeSet<&str> =
        events.iter().filter_map(|e| e["run"]["runId"].as_str()).collect();
    assert_eq!(run_ids.len(), 1, "one run: {run_ids:?}");
    let namespace = kafka_namespace(&brokers);
    assert!(
        namespace.starts_with("kafka://127.0.0.1:") || namespace.starts_with("kafka://localhost:"),
        "{namespace}"
    );
    for event in &events {
        assert_eq!(event["job"]["namespace"], "tests");
        assert_eq!(event["job"]["name"], "tests.orders-enricher");
        assert_eq!(
            names(&event["inputs"]),
            [
                (namespace.clone(), product.orders.clone()),
                (namespace.clone(), product.payments.clone())
            ]
        );
        assert_eq!(
            names(&event["outputs"]),
            [
                (namespace.clone(), product.enriched.clone()),
                (namespace.clone(), product.paid.clone())
            ]
        );
        assert_eq!(
            event["job"]["facets"]["ownership"]["owners"][0]["name"],
            "meshkit-tests"
        );
    }
    let fields: Vec<&str> = events[0]["outputs"][0]["facets"]["schema"]["fields"]
        .as_array()
        .expect("the enriched port's schema facet")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(fields.contains(&"band") && fields.contains(&"id"), "{fields:?}");

    let stopped = latest_record(&brokers, &catalog_topic, "tests/orders-enricher").expect("still listed");
    assert_eq!(stopped.status, ProductStatus::Stopped);
    assert_eq!(stopped.instances[0].status, InstanceStatus::Stopped);
    assert!(stopped.instances[0].ended_at.is_some());
    assert_eq!(stopped.status.to_string(), "stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fatal_error_ends_the_run_with_fail_and_marks_the_product_failed() {
    let state = tempfile::tempdir().expect("temp dir");
    // A cluster of the test's own, so that the catalog can be read after the
    // runtime stopped (a runtime's own embedded cluster stops with it).
    let cluster = EmbeddedCluster::start().expect("embedded cluster");
    let sink = LineageSink::start().await.expect("lineage endpoint");
    let catalog_topic = unique_name("catalog");
    let prefix = unique_name("fatal");
    let (input, output) = (format!("{prefix}.in"), format!("{prefix}.out"));
    for topic in [&input, &output, "tests.relay.dlq", &catalog_topic] {
        cluster.create_topic(topic, 1).expect("topic");
    }
    let mut relay = Relay::new(&input, &output);
    relay.fail_every = Some(5);
    let config = Config::builder()
        .brokers(cluster.bootstrap_servers())
        .state_dir(state.path())
        .commit_interval(Duration::from_millis(50))
        .catalog_topic(&catalog_topic)
        .openlineage_url(sink.url())
        .error_policy(ErrorPolicy::Stop)
        .build()
        .expect("config");
    let mut running = spawn(relay, config).expect("runtime");
    let brokers = running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");
    sink.until(Duration::from_secs(10), |t| {
        t.first().is_some_and(|t| t == "START")
    })
    .await
    .expect("START");
    produce_ids(&brokers, &input, 1..10).expect("inputs");

    let outcome = tokio::time::timeout(Duration::from_secs(30), running.task)
        .await
        .expect("stops on its own")
        .expect("join");
    let err = outcome.expect_err("a chosen failure under ErrorPolicy::Stop is fatal");
    assert!(matches!(err, Error::Transform { .. }), "{err:?}");

    let events = sink
        .until(Duration::from_secs(10), |types| {
            types.last().is_some_and(|t| t == "FAIL")
        })
        .await
        .expect("FAIL");
    let fail = events.last().expect("an event");
    let message = fail["run"]["facets"]["errorMessage"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("is a chosen failure"), "{fail}");
    assert_eq!(names(&fail["inputs"])[0].1, input);
    assert_eq!(names(&fail["outputs"])[0].1, output);
    assert!(!sink.event_types().iter().any(|t| t == "COMPLETE"));

    let record = latest_record(&brokers, &catalog_topic, "tests/relay").expect("registered");
    assert_eq!(record.status, ProductStatus::Failed);
    let instance = &record.instances[0];
    assert_eq!(instance.status, InstanceStatus::Failed);
    assert!(
        instance
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("is a chosen failure"),
        "{instance:?}"
    );
}
