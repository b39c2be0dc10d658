//! Metadata registration on the test broker: two products in two processes
//! register in one catalog; the `meshkit` command-line tool lists, shows and
//! exports them; a clean stop is marked.

use std::process::Command;
use std::time::Duration;

use meshkit::catalog::{CatalogRecord, InstanceStatus, ProductStatus};
use meshkit_tests::broker::{test_brokers, unique_name};
use meshkit_tests::process::{self, workspace_binary};

/// Runs `meshkit <args>` against `brokers` and `topic`; returns stdout, or
/// the failure with stderr.
fn meshkit(brokers: &str, topic: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new(workspace_binary("meshkit")?)
        .args(["--brokers", brokers, "--catalog-topic", topic])
        .args(args)
        .env_remove("MESHKIT_BROKERS")
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "meshkit {args:?} exited {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

/// `meshkit catalog list --json`, decoded.
fn listed(brokers: &str, topic: &str) -> anyhow::Result<Vec<CatalogRecord>> {
    let json = meshkit(brokers, topic, &["catalog", "list", "--json"])?;
    Ok(serde_json::from_str(&json)?)
}

/// Polls the catalog until `done` holds.
fn until(
    brokers: &str,
    topic: &str,
    what: &str,
    done: impl Fn(&[CatalogRecord]) -> bool,
) -> anyhow::Result<Vec<CatalogRecord>> {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let records = listed(brokers, topic)?;
        if done(&records) {
            return Ok(records);
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "{what}: not seen within 90 s; the catalog had {:?}",
            records
                .iter()
                .map(|r| (r.key().to_string(), r.status))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn status(records: &[CatalogRecord], key: &str) -> Option<ProductStatus> {
    records
        .iter()
        .find(|r| r.key().to_string() == key)
        .map(|r| r.status)
}

#[test]
fn two_products_in_two_processes_are_listed_and_a_clean_stop_is_marked() {
    let Some(brokers) = test_brokers("two_products_in_two_processes_are_listed_and_a_clean_stop_is_marked")
    else {
        return;
    };
    let topic = unique_name("catalog");
    let prefix = unique_name("catalog-products");
    let binary = std::path::PathBuf::from(env!("CARGO_BIN_EXE_relay-product"));
    let dirs = tempfile::tempdir().expect("temp dir");
    let common = |product: &str, state: &str| {
        vec![
            ("MESHKIT_BROKERS", brokers.clone()),
            ("MESHKIT_APPLICATION_ID", format!("{prefix}-{product}")),
            ("MESHKIT_STATE_DIR", dirs.path().join(state).display().to_string()),
            ("MESHKIT_CATALOG_TOPIC", topic.clone()),
            ("MESHKIT_CATALOG_HEARTBEAT_MS", "500".to_string()),
            ("MESHKIT_TOPIC_PARTITIONS", "2".to_string()),
            ("RELAY_PRODUCT", product.to_string()),
        ]
    };
    let mut relay_env = common("relay", "relay");
    relay_env.push(("RELAY_INPUT", format!("{prefix}.ids")));
    relay_env.push(("RELAY_OUTPUT", format!("{prefix}.orders")));
    let mut orders_env = common("orders", "orders");
    // The relay writes the topic the enricher reads: lineage links them.
    orders_env.push(("RELAY_INPUT", prefix.clone()));
    let mut relay = process::spawn(&binary, &relay_env, &dirs.path().join("relay.log")).expect("relay");
    let mut orders = process::spawn(&binary, &orders_env, &dirs.path().join("orders.log")).expect("orders");

    let records = until(&brokers, &topic, "both running", |r| {
        status(r, "tests/relay") == Some(ProductStatus::Running)
            && r.iter().any(|p| {
                p.key().to_string() == "tests/orders-enricher"
                    && p.status == ProductStatus::Running
                    // Its next heartbeat after the relay registered links them.
                    && p.lineage().iter().any(|u| u.product.is_some())
            })
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}\nrelay log:\n{}\norders log:\n{}",
            relay.log_text(),
            orders.log_text()
        )
    });
    let enricher = records
        .iter()
        .find(|r| r.key().to_string() == "tests/orders-enricher")
        .expect("listed");
    let enriched = enricher.output("enriched").expect("port");
    let value = enriched.value.as_ref().expect("Avro port");
    let subject = format!("{prefix}.enriched-value");
    assert_eq!(value.subject.as_deref(), Some(subject.as_str()));
    assert!(value.id.is_some() && value.version == Some(1), "{value:?}");
    assert_eq!(enricher.bootstrap_servers.as_deref(), Some(brokers.as_str()));

    // The table a person reads: both products, their owners, ports and schemas.
    let table = meshkit(&brokers, &topic, &["catalog", "list"]).expect("list");
    for expected in [
        "tests/relay",
        "tests/orders-enricher",
        "meshkit-tests",
        &format!("{prefix}.ids"),
        &format!("{prefix}.enriched"),
        &subject,
    ] {
        assert!(table.contains(expected), "`{expected}` missing from:\n{table}");
    }
    assert_eq!(
        table.matches("running").count(),
        4,
        "two products, one instance each:\n{table}"
    );

    let shown = meshkit(&brokers, &topic, &["catalog", "show", "tests/orders-enricher"]).expect("show");
    assert!(shown.contains(&subject), "{shown}");
    assert!(
        shown.contains("tests/relay"),
        "lineage names the upstream product:\n{shown}"
    );

    let found = meshkit(&brokers, &topic, &["catalog", "search", "enriched"]).expect("search");
    assert!(
        found.contains("tests/orders-enricher") && !found.contains("tests/relay"),
        "{found}"
    );

    // The output port's contract, as a person or tool would fetch it.
    let yaml = meshkit(
        &brokers,
        &topic,
        &["contract", "export", "tests/orders-enricher", "enriched"],
    )
    .expect("contract");
    let contract: serde_norway::Value = serde_norway::from_str(&yaml).expect("YAML");
    assert_eq!(contract["kind"].as_str(), Some("DataContract"));
    assert_eq!(contract["apiVersion"].as_str(), Some("v3.0.2"));
    let owners: Vec<&str> = contract["team"]
        .as_sequence()
        .expect("team")
        .iter()
        .filter_map(|m| m["username"].as_str())
        .collect();
    assert_eq!(owners, ["meshkit-tests"]);
    let schema = &contract["schema"][0];
    assert_eq!(
        schema["physicalName"].as_str(),
        Some(format!("{prefix}.enriched").as_str())
    );
    let properties: Vec<(&str, &str)> = schema["properties"]
        .as_sequence()
        .expect("properties")
        .iter()
        .filter_map(|p| Some((p["name"].as_str()?, p["logicalType"].as_str()?)))
        .collect();
    for field in [
        ("id", "integer"),
        ("customer", "string"),
        ("amount_cents", "integer"),
        ("band", "string"),
    ] {
        assert!(properties.contains(&field), "{field:?} not in {properties:?}");
    }

    // A clean stop of one: it is marked stopped, the other still runs.
    let exit = relay.terminate(Duration::from_secs(60)).expect("relay stops");
    assert!(exit.success(), "relay exit {exit}: {}", relay.log_text());
    let records = until(&brokers, &topic, "relay stopped", |r| {
        status(r, "tests/relay") == Some(ProductStatus::Stopped)
    })
    .expect("marked stopped");
    let stopped = records
        .iter()
        .find(|r| r.key().to_string() == "tests/relay")
        .expect("still listed");
    assert_eq!(stopped.instances[0].status, InstanceStatus::Stopped);
    assert_eq!(
        status(&records, "tests/orders-enricher"),
        Some(ProductStatus::Running)
    );
    let table = meshkit(&brokers, &topic, &["catalog", "list"]).expect("list");
    let relay_line = table
        .lines()
        .find(|l| l.starts_with("tests/relay"))
        .expect("relay row");
    assert!(relay_line.contains("stopped"), "{table}");

    let exit = orders.terminate(Duration::from_secs(60)).expect("orders stops");
    assert!(exit.success(), "orders exit {exit}: {}", orders.log_text());
}
