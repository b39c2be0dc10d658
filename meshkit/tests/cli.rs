//! The `meshkit` binary against a catalog on the embedded mock cluster: the
//! cluster runs in this test process and listens on loopback, the binary
//! runs as a subprocess with `--brokers <its address>`.

use std::process::Command;
use std::time::Duration;

use meshkit::catalog::{
    CatalogRecord, DescriptorInput, InstanceRecord, PortInput, SchemaInput, StoreInput, Timestamp,
    CATALOG_TOPIC,
};
use meshkit::EmbeddedCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::ClientConfig;

const SALES: &str = "sales/orders-enriched";
const LEDGER: &str = "finance/ledger";
const SALES_OWNER: &str = "team-sales@example.com";
const LEDGER_OWNER: &str = "team-finance";

/// A record with a string, a long, a double and an optional field.
const ENRICHED_ORDER: &str = r#"{
  "type": "record", "name": "EnrichedOrder", "namespace": "com.acme.sales",
  "fields": [
    {"name": "order_id", "type": "string"},
    {"name": "quantity", "type": "long"},
    {"name": "amount", "type": "double"},
    {"name": "coupon", "type": ["null", "string"], "default": null}
  ]
}"#;

const ORDER: &str = r#"{"type": "record", "name": "Order", "namespace": "com.acme.sales",
  "fields": [{"name": "order_id", "type": "string"}, {"name": "quantity", "type": "long"}]}"#;

const LEDGER_ENTRY: &str = r#"{"type": "record", "name": "LedgerEntry", "namespace": "com.acme.finance",
  "fields": [{"name": "account", "type": "string"}, {"name": "balance", "type": "double"}]}"#;

/// `ms` after a start a minute before the test: the running instance's
/// last heartbeat must be recent, or readers take it as crashed.
fn t(ms: u64) -> Timestamp {
    static BASE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970");
        // Whole seconds, so that printed times end in `.000Z`.
        (now.as_secs() - 60) * 1_000
    });
    Timestamp::from_millis(base + ms)
}

/// `sales/orders-enriched`, running, and `finance/ledger` (which reads the
/// former's output), stopped.
fn products() -> Vec<CatalogRecord> {
    let mut sales = DescriptorInput::new("sales", "orders-enriched", "1.2.0", SALES_OWNER)
        .input(
            PortInput::new("orders", "sales.orders")
                .with_value(SchemaInput::new(ORDER, "acme::Order").registered("sales.orders-value", 7, 2)),
        )
        .output(
            PortInput::new("enriched", "sales.orders.enriched")
                .with_key(SchemaInput::new(r#""string""#, "String").registered(
                    "sales.orders.enriched-key",
                    8,
                    1,
                ))
                .with_value(
                    SchemaInput::new(ENRICHED_ORDER, "acme::EnrichedOrder").registered(
                        "sales.orders.enriched-value",
                        9,
                        3,
                    ),
                ),
        );
    sales.description = "Orders with their price band".into();
    sales.tags = vec!["sales".into(), "tier-1".into()];
    sales.freshness_slo = Some(Duration::from_secs(60));
    sales.latency_slo = Some(Duration::from_millis(250));
    sales.stores.push(StoreInput {
        name: "spend".into(),
        windowed: true,
    });
    let sales = CatalogRecord::register(
        None,
        &sales,
        InstanceRecord::running("i-sales-1", "host-a", t(1_000)),
        t(1_000),
    );

    let mut ledger = DescriptorInput::new("finance", "ledger", "0.3.0", LEDGER_OWNER)
        .input(PortInput::new("entries", "sales.orders.enriched"))
        .output(PortInput::new("balances", "finance.ledger").with_value(
            SchemaInput::new(LEDGER_ENTRY, "acme::LedgerEntry").registered("finance.ledger-value", 11, 1),
        ));
    ledger.tags = vec!["finance".into()];
    let mut ledger = CatalogRecord::register(
        None,
        &ledger,
        InstanceRecord::running("i-ledger-1", "host-b", t(2_000)),
        t(2_000),
    );
    assert!(ledger.mark_stopped("i-ledger-1", t(3_000)));
    vec![sales, ledger]
}

/// An embedded cluster whose catalog topic holds `records`.
fn cluster_with(records: &[CatalogRecord]) -> EmbeddedCluster {
    cluster_with_topic(CATALOG_TOPIC, records)
}

fn cluster_with_topic(topic: &str, records: &[CatalogRecord]) -> EmbeddedCluster {
    let cluster = EmbeddedCluster::start().expect("embedded cluster");
    cluster.create_topic(topic, 3).expect("catalog topic");
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .create()
        .expect("producer");
    for record in records {
        let key = record.key().to_bytes();
        let value = record.encode().expect("encode");
        producer
            .send(BaseRecord::to(topic).key(&key).payload(&value))
            .map_err(|(e, _)| e)
            .expect("send");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
    cluster
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary with a clean MESHKIT_* environment.
fn meshkit(args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_meshkit"));
    for (name, _) in std::env::vars() {
        if name.starts_with("MESHKIT_") {
            command.env_remove(name);
        }
    }
    let output = command.args(args).output().expect("run meshkit");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn ok(args: &[&str]) -> Run {
    let run = meshkit(args);
    assert_eq!(run.code, Some(0), "meshkit {args:?} failed: {}", run.stderr);
    run
}

/// The table line of product `key`.
fn row<'a>(table: &'a str, key: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no row for {key} in\n{table}"))
}

#[test]
fn list_shows_both_products_with_owners_ports_schemas_and_status() {
    let cluster = cluster_with(&products());
    let run = ok(&["--brokers", cluster.bootstrap_servers(), "catalog", "list"]);
    let table = &run.stdout;
    assert!(table.starts_with("DOMAIN/NAME"), "{table}");
    for column in ["VERSION", "STATUS", "OWNER", "INPUTS", "OUTPUTS", "INSTANCES"] {
        assert!(
            table.lines().next().unwrap_or_default().contains(column),
            "{table}"
        );
    }
    let sales = row(table, SALES);
    assert!(sales.contains("1.2.0"), "{sales}");
    assert!(sales.contains(" running "), "{sales}");
    assert!(sales.contains(SALES_OWNER), "{sales}");
    assert!(
        sales.contains("orders→sales.orders (sales.orders-value v2)"),
        "{sales}"
    );
    assert!(
        sales.contains("enriched→sales.orders.enriched (sales.orders.enriched-value v3)"),
        "{sales}"
    );
    assert!(sales.ends_with("1 running"), "{sales}");
    let ledger = row(table, LEDGER);
    assert!(ledger.contains(" stopped "), "{ledger}");
    assert!(!ledger.contains("running"), "{ledger}");
    assert!(ledger.contains(LEDGER_OWNER), "{ledger}");
    assert!(ledger.contains("entries→sales.orders.enriched"), "{ledger}");
    assert!(
        ledger.contains("balances→finance.ledger (finance.ledger-value v1)"),
        "{ledger}"
    );
    assert!(ledger.ends_with("1 stopped"), "{ledger}");
    assert!(run.stderr.is_empty(), "no warning expected: {}", run.stderr);
}

#[test]
fn show_prints_ports_schemas_stores_lineage_and_instances() {
    let cluster = cluster_with(&products());
    let brokers = cluster.bootstrap_servers();
    let sales = ok(&["--brokers", brokers, "catalog", "show", SALES]).stdout;
    for expected in [
        "product:     sales/orders-enriched",
        "owner:       team-sales@example.com",
        "description: Orders with their price band",
        "tags:        sales, tier-1",
        "SLOs:        freshness 60 s, latency 250 ms",
        "  enriched  topic sales.orders.enriched",
        "    key:    avro String, subject sales.orders.enriched-key, id 8, version 1",
        "    value:  avro acme::EnrichedOrder, subject sales.orders.enriched-value, id 9, version 3",
        "    contract sales/orders-enriched/enriched",
        "  spend (windowed)",
        "  orders ← topic sales.orders ← no product in the catalog writes it",
        &format!(
            "  i-sales-1  host host-a  running  started {}  last heartbeat {}",
            t(1_000),
            t(1_000)
        ),
    ] {
        assert!(sales.contains(expected), "missing {expected:?} in\n{sales}");
    }
    let ledger = ok(&["--brokers", brokers, "catalog", "show", LEDGER]).stdout;
    for expected in [
        "status:      stopped",
        "    value:  avro acme::LedgerEntry, subject finance.ledger-value, id 11, version 1",
        // Resolved against the catalog as read: sales writes that topic.
        "    written by sales/orders-enriched (port enriched)",
        "  entries ← topic sales.orders.enriched ← sales/orders-enriched",
        "  i-ledger-1  host host-b  stopped",
        &format!("ended {}", t(3_000)),
    ] {
        assert!(ledger.contains(expected), "missing {expected:?} in\n{ledger}");
    }
}

#[test]
fn search_finds_by_owner_and_tag_and_nothing_else() {
    let cluster = cluster_with(&products());
    let brokers = cluster.bootstrap_servers();
    let keys = |text: &str| -> Vec<String> {
        ok(&["--brokers", brokers, "catalog", "search", text])
            .stdout
            .lines()
            .skip(1)
            .filter(|l| !l.starts_with(' '))
            .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(keys("TEAM-FINANCE"), [LEDGER], "by owner, case-insensitively");
    assert_eq!(keys("tier-1"), [SALES], "by tag");
    assert_eq!(keys("finance"), [LEDGER], "by tag and domain");
    assert_eq!(keys("sales.orders.enriched"), [LEDGER, SALES], "by topic");
    let none = ok(&["--brokers", brokers, "catalog", "search", "no-such-thing"]);
    assert!(none.stdout.is_empty(), "{}", none.stdout);
    assert!(
        none.stderr.contains("no product matches `no-such-thing`"),
        "{}",
        none.stderr
    );
}

#[test]
fn json_output_is_the_odps_documents() {
    let cluster = cluster_with(&products());
    let brokers = cluster.bootstrap_servers();
    let parse = |args: &[&str]| -> serde_json::Value {
        let run = ok(args);
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
    };
    let list = parse(&["--brokers", brokers, "catalog", "list", "--json"]);
    let ids: Vec<&str> = list
        .as_array()
        .expect("an array")
        .iter()
        .map(|d| d["id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids, [LEDGER, SALES]);
    assert!(list
        .as_array()
        .expect("an array")
        .iter()
        .all(|d| d["kind"] == "DataProduct" && d["apiVersion"] == "v1.0.0"));

    let show = parse(&["--brokers", brokers, "catalog", "show", LEDGER, "--json"]);
    assert_eq!(show["id"], LEDGER);
    assert_eq!(show["team"]["members"][0]["username"], LEDGER_OWNER);
    assert_eq!(show["customProperties"][0]["value"]["status"], "stopped");
    // The document is the catalog's own: it decodes back into the record.
    let back = CatalogRecord::decode(LEDGER.as_bytes(), show.to_string().as_bytes()).expect("decode");
    assert_eq!(back, products()[1]);

    let search = parse(&["--brokers", brokers, "catalog", "search", "tier-1", "--json"]);
    assert_eq!(search.as_array().map(Vec::len), Some(1));
    assert_eq!(search[0]["id"], SALES);
    let none = parse(&[
        "--brokers",
        brokers,
        "catalog",
        "search",
        "no-such-thing",
        "--json",
    ]);
    assert_eq!(none, serde_json::json!([]));
}

#[test]
fn contract_export_is_odcs_yaml_with_the_port_schema_and_owner() {
    let cluster = cluster_with(&products());
    let brokers = cluster.bootstrap_servers();
    let yaml = ok(&["--brokers", brokers, "contract", "export", SALES, "enriched"]).stdout;
    let doc: serde_norway::Value =
        serde_norway::from_str(&yaml).unwrap_or_else(|e| panic!("not YAML ({e}):\n{yaml}"));
    assert_eq!(doc["apiVersion"].as_str(), Some("v3.0.2"));
    assert_eq!(doc["kind"].as_str(), Some("DataContract"));
    assert_eq!(doc["id"].as_str(), Some("sales/orders-enriched/enriched"));
    assert_eq!(doc["version"].as_str(), Some("1.2.0"));
    assert_eq!(doc["dataProduct"].as_str(), Some("orders-enriched"));
    assert_eq!(doc["team"][0]["username"].as_str(), Some(SALES_OWNER));
    assert_eq!(doc["team"][0]["role"].as_str(), Some("owner"));
    // The record has no bootstrap servers: the catalog's brokers stand in.
    assert_eq!(doc["servers"][0]["type"].as_str(), Some("kafka"));
    assert_eq!(doc["servers"][0]["host"].as_str(), Some(brokers));

    let value = &doc["schema"][0];
    assert_eq!(value["name"].as_str(), Some("EnrichedOrder"));
    assert_eq!(value["physicalName"].as_str(), Some("sales.orders.enriched"));
    assert_eq!(value["logicalType"].as_str(), Some("object"));
    let fields: Vec<(&str, &str, &str, bool)> = value["properties"]
        .as_sequence()
        .expect("properties")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default(),
                p["logicalType"].as_str().unwrap_or_default(),
                p["physicalType"].as_str().unwrap_or_default(),
                p["required"].as_bool().unwrap_or(true),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("order_id", "string", "string", true),
            ("quantity", "integer", "long", true),
            ("amount", "number", "double", true),
            ("coupon", "string", "string", false),
        ]
    );
    let subject = value["customProperties"]
        .as_sequence()
        .expect("custom properties")
        .iter()
        .find(|c| c["property"].as_str() == Some("schemaRegistrySubject"))
        .and_then(|c| c["value"].as_str());
    assert_eq!(subject, Some("sales.orders.enriched-value"));
    assert_eq!(doc["schema"][1]["physicalType"].as_str(), Some("key"));
    assert_eq!(doc["slaProperties"][0]["value"].as_u64(), Some(60_000));

    // -o writes the same document to a file.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("enriched.yaml");
    let path = file.to_str().expect("utf-8 path");
    let run = ok(&[
        "--brokers",
        brokers,
        "contract",
        "export",
        SALES,
        "enriched",
        "-o",
        path,
    ]);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr
            .contains("wrote contract sales/orders-enriched/enriched"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&file).expect("contract file"), yaml);
}

#[test]
fn unknown_products_and_ports_exit_1_naming_the_known_ones() {
    let cluster = cluster_with(&products());
    let brokers = cluster.bootstrap_servers();
    let run = meshkit(&["--brokers", brokers, "catalog", "show", "sales/nope"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("no product `sales/nope`"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("known products: finance/ledger, sales/orders-enriched"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "one sentence: {}", run.stderr);

    let run = meshkit(&[
        "--brokers",
        brokers,
        "contract",
        "export",
        "sales/nope",
        "enriched",
    ]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("known products: finance/ledger"),
        "{}",
        run.stderr
    );

    let run = meshkit(&["--brokers", brokers, "contract", "export", SALES, "orders"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("no output port `orders`"), "{}", run.stderr);
    assert!(
        run.stderr.contains("its output ports: enriched"),
        "{}",
        run.stderr
    );

    // Not `domain/name` at all: a usage error.
    let run = meshkit(&["--brokers", brokers, "catalog", "show", "no-slash"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("domain/name"), "{}", run.stderr);
}

#[test]
fn without_brokers_the_error_says_where_to_find_them() {
    let run = meshkit(&["catalog", "list"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let message = &run.stderr;
    assert!(message.contains("--brokers"), "{message}");
    assert!(message.contains("MESHKIT_BROKERS"), "{message}");
    assert!(message.contains("embedded local cluster"), "{message}");
    assert!(message.contains("log"), "{message}");
    assert!(message.contains("/healthz"), "{message}");
    assert_eq!(message.lines().count(), 1, "one sentence: {message}");
}

#[test]
fn brokers_and_catalog_topic_come_from_the_environment_too() {
    let cluster = cluster_with_topic("other.catalog", &products()[..1]);
    let output = Command::new(env!("CARGO_BIN_EXE_meshkit"))
        .env("MESHKIT_BROKERS", cluster.bootstrap_servers())
        .env("MESHKIT_CATALOG_TOPIC", "other.catalog")
        .args(["catalog", "list"])
        .output()
        .expect("run meshkit");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(row(&stdout, SALES).contains(SALES_OWNER), "{stdout}");
    // The option wins over the variable.
    let output = Command::new(env!("CARGO_BIN_EXE_meshkit"))
        .env("MESHKIT_BROKERS", cluster.bootstrap_servers())
        .env("MESHKIT_CATALOG_TOPIC", "other.catalog")
        .args(["--catalog-topic", "no.such.catalog", "catalog", "list"])
        .output()
        .expect("run meshkit");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(
        stderr.contains(&format!(
            "no product has registered yet on {} (catalog topic `no.such.catalog` does not exist)",
            cluster.bootstrap_servers()
        )),
        "{stderr}"
    );
}

#[test]
fn an_empty_catalog_says_no_product_has_registered() {
    let cluster = EmbeddedCluster::start().expect("embedded cluster");
    let brokers = cluster.bootstrap_servers();
    let run = ok(&["--brokers", brokers, "catalog", "list"]);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr
            .contains(&format!("no product has registered yet on {brokers}")),
        "{}",
        run.stderr
    );
    let run = meshkit(&["--brokers", brokers, "catalog", "show", SALES]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("no product has registered yet"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unreachable_broker_exits_75_naming_it() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let brokers = format!("127.0.0.1:{port}");
    let run = meshkit(&["--brokers", &brokers, "--timeout", "2s", "catalog", "list"]);
    assert_eq!(run.code, Some(75), "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("cannot reach the Kafka brokers `{brokers}`")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("retry"), "{}", run.stderr);
}

// ---- `meshkit catalog graph` ----

/// The tokens of a DOT text: quoted strings unescaped (`\"`, `\\`, `\n`),
/// bare words, and punctuation (`->` as one token); a string is tagged
/// `true` so that a quoted `->` is not taken for an arrow.
fn graph_dot_tokens(text: &str) -> Vec<(bool, String)> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '"' => {
                let mut s = String::new();
                loop {
                    match chars.next().expect("unterminated DOT string") {
                        '"' => break,
                        '\\' => match chars.next().expect("escape") {
                            'n' => s.push('\n'),
                            c @ ('"' | '\\') => s.push(c),
                            other => panic!("unexpected DOT escape \\{other}"),
                        },
                        c => s.push(c),
                    }
                }
                tokens.push((true, s));
            }
            '-' => {
                assert_eq!(chars.next(), Some('>'), "a `-` outside `->`");
                tokens.push((false, "->".into()));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut s = c.to_string();
                while let Some(&c) = chars.peek().filter(|c| c.is_alphanumeric() || **c == '_') {
                    s.push(c);
                    chars.next();
                }
                tokens.push((false, s));
            }
            c if "{}[]=;,".contains(c) => tokens.push((false, c.to_string())),
            c => panic!("unexpected character {c:?} in DOT"),
        }
    }
    tokens
}

/// The edges of a DOT text: `(from, to, label)` for every `A -> B [label=L]`.
fn graph_dot_edges(text: &str) -> std::collections::BTreeSet<(String, String, String)> {
    let tokens = graph_dot_tokens(text);
    assert_eq!(tokens.first().map(|t| t.1.as_str()), Some("digraph"), "{text}");
    assert_eq!(tokens.last().map(|t| t.1.as_str()), Some("}"), "{text}");
    let mut edges = std::collections::BTreeSet::new();
    for (i, window) in tokens.windows(3).enumerate() {
        if window[1] == (false, "->".to_string()) {
            let attrs = &tokens[i + 3..];
            assert_eq!(attrs[0].1, "[", "{text}");
            let end = attrs.iter().position(|t| t.1 == "]").expect("]");
            let label = attrs[..end]
                .windows(3)
                .find(|w| w[0].1 == "label" && w[1].1 == "=")
                .map(|w| w[2].1.clone())
                .expect("an edge label");
            assert!(edges.insert((window[0].1.clone(), window[2].1.clone(), label)));
        }
    }
    edges
}

#[test]
fn graph_prints_the_lineage_as_dot_svg_and_mermaid() {
    let cluster = cluster_with(&products());
    let brokers = cluster.bootstrap_servers();

    let dot = ok(&["--brokers", brokers, "catalog", "graph", "--format", "dot"]).stdout;
    let expected: std::collections::BTreeSet<(String, String, String)> = [
        (
            "topic:sales.orders",
            "product:sales/orders-enriched",
            "sales.orders",
        ),
        (
            "product:sales/orders-enriched",
            "product:finance/ledger",
            "sales.orders.enriched",
        ),
    ]
    .into_iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(graph_dot_edges(&dot), expected, "{dot}");
    assert!(dot.contains("subgraph \"cluster_finance\""), "{dot}");
    // dot is the default format.
    assert_eq!(ok(&["--brokers", brokers, "catalog", "graph"]).stdout, dot);

    let svg = ok(&["--brokers", brokers, "catalog", "graph", "--format", "svg"]).stdout;
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    assert_eq!(doc.root_element().attribute("role"), Some("img"));
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    for word in ["orders-enriched", "ledger", "running", "stopped", "sales.orders"] {
        assert!(texts.contains(&word), "{word} in {texts:?}");
    }

    let mermaid = ok(&["--brokers", brokers, "catalog", "graph", "--format", "mermaid"]).stdout;
    assert!(mermaid.starts_with("flowchart LR"), "{mermaid}");
    assert!(
        mermaid.contains("p1_sales_orders_enriched -->|\"sales.orders.enriched\"| p0_finance_ledger"),
        "{mermaid}"
    );

    // One domain, to a file: the other domain's product is still there, as
    // the reader of sales's output.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("sales.dot");
    let file_arg = file.to_str().expect("UTF-8 path");
    let run = ok(&[
        "--brokers",
        brokers,
        "catalog",
        "graph",
        "--domain",
        "sales",
        "-o",
        file_arg,
    ]);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("wrote the dot graph"), "{}", run.stderr);
    let written = std::fs::read_to_string(&file).expect("graph file");
    assert_eq!(graph_dot_edges(&written), expected);
    let finance = ok(&["--brokers", brokers, "catalog", "graph", "--domain", "finance"]).stdout;
    assert_eq!(
        graph_dot_edges(&finance).into_iter().collect::<Vec<_>>(),
        [(
            "product:sales/orders-enriched".to_string(),
            "product:finance/ledger".to_string(),
            "sales.orders.enriched".to_string()
        )],
        "the external topic feeds sales, not finance"
    );
}

#[test]
fn graph_of_an_unknown_domain_or_format_fails_naming_the_choices() {
    let cluster = cluster_with(&products());
    let brokers = cluster.bootstrap_servers();
    let run = meshkit(&["--brokers", brokers, "catalog", "graph", "--domain", "nope"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("no domain `nope`"), "{}", run.stderr);
    assert!(
        run.stderr.contains("known domains: finance, sales"),
        "{}",
        run.stderr
    );

    let run = meshkit(&[
        "--brokers",
        brokers,
        "catalog",
        "graph",
        "--product",
        "sales/nope",
    ]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("known products: finance/ledger"),
        "{}",
        run.stderr
    );

    let run = meshkit(&["--brokers", brokers, "catalog", "graph", "--format", "png"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("use dot, mermaid or svg"), "{}", run.stderr);
}
