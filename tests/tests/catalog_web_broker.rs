//! The web catalog in a real browser: two products running (in processes of
//! their own) and one stream published with `meshkit catalog publish`, all on
//! the test broker, served by `meshkit catalog serve` and driven by headless
//! Chromium (`tests/browser/catalog.mjs`, Playwright's `playwright-core`
//! steering Debian's `chromium`). Screenshots are kept in
//! `test-artifacts/catalog-web/` at the workspace root.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use meshkit::catalog::{CatalogRecord, ProductStatus};
use meshkit::schema::registry::{EmbeddedRegistry, SchemaRegistry};
use meshkit_tests::broker::{test_brokers, unique_name};
use meshkit_tests::process::{self, workspace_binary};

/// The screenshots the browser script takes.
const SHOTS: [&str; 4] = ["list.png", "search.png", "product.png", "stopped.png"];

/// The catalog heartbeat of the products: a stop must show within one.
const HEARTBEAT: Duration = Duration::from_secs(2);

const CUSTOMER: &str = r#"{"type":"record","name":"Customer","namespace":"crm","fields":[
    {"name":"customer_id","type":"string","doc":"The customer's id in the CRM"},
    {"name":"loyalty_tier","type":["null","string"],"default":null,"doc":"bronze, silver or gold"}]}"#;

/// Where Playwright's package was installed (`scripts/install-browser.sh`),
/// or `None` (the test then does not run, unless a browser is required).
fn playwright() -> Option<PathBuf> {
    let dir = std::env::var_os("MESHKIT_PLAYWRIGHT_MODULES")
        .map(PathBuf::from)
        .or_else(|| {
            let cache = std::env::var_os("MESHKIT_CACHE")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/meshkit")))?;
            Some(cache.join("browser/node_modules"))
        })?;
    let present = dir.join("playwright-core/package.json").is_file() && Path::new(&chromium()).is_file();
    if !present && std::env::var("MESHKIT_TEST_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!(
            "MESHKIT_TEST_REQUIRE_BROWSER=1 but playwright-core is not in {} or {} is missing: \
             run scripts/install-browser.sh",
            dir.display(),
            chromium()
        );
    }
    if !present {
        eprintln!("catalog_web_broker: skipped, no browser: run scripts/install-browser.sh");
    }
    present.then_some(dir)
}

fn chromium() -> String {
    std::env::var("MESHKIT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string())
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-artifacts/catalog-web");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

/// Runs one phase of the browser script; returns its stdout, or panics with
/// what it said.
fn browse(modules: &Path, base: &str, phase: &str, spec: &serde_json::Value) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/catalog.mjs");
    let output = Command::new("node")
        .arg(&script)
        .args([base, phase])
        .arg(artifacts())
        .arg(spec.to_string())
        .env("MESHKIT_PLAYWRIGHT_MODULES", modules)
        .env("MESHKIT_CHROMIUM", chromium())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "browser phase {phase} failed ({}):\n{}\n{stdout}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Runs `meshkit --brokers B --catalog-topic T <args>`; returns stdout.
fn meshkit(brokers: &str, topic: &str, args: &[&str]) -> String {
    let output = Command::new(workspace_binary("meshkit").expect("meshkit binary"))
        .args(["--brokers", brokers, "--catalog-topic", topic])
        .args(args)
        .env_remove("MESHKIT_BROKERS")
        .output()
        .expect("meshkit runs");
    assert!(
        output.status.success(),
        "meshkit {args:?} exited {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

fn listed(brokers: &str, topic: &str) -> Vec<CatalogRecord> {
    serde_json::from_str(&meshkit(brokers, topic, &["catalog", "list", "--json"])).expect("JSON")
}

fn until(
    brokers: &str,
    topic: &str,
    what: &str,
    done: impl Fn(&[CatalogRecord]) -> bool,
) -> Vec<CatalogRecord> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let records = listed(brokers, topic);
        if done(&records) {
            return records;
        }
        let seen: Vec<_> = records.iter().map(|r| (r.key().to_string(), r.status)).collect();
        assert!(
            Instant::now() < deadline,
            "{what}: not seen within 90 s; the catalog had {seen:?}"
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

/// `meshkit catalog serve` on a free port; returns the process and its URL.
fn serve(brokers: &str, topic: &str) -> (Child, String) {
    let mut child = Command::new(workspace_binary("meshkit").expect("meshkit binary"))
        .args(["--brokers", brokers, "--catalog-topic", topic])
        .args(["catalog", "serve", "--listen", "127.0.0.1:0"])
        .env_remove("MESHKIT_BROKERS")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("serve prints its address");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in `{line}`"))
        .to_string();
    (child, url)
}

fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.len() > 1_000 && b.starts_with(b"\x89PNG\r\n\x1a\n"))
}

#[test]
fn the_web_catalog_shows_running_and_published_products_in_a_browser() {
    let test = "the_web_catalog_shows_running_and_published_products_in_a_browser";
    let Some(brokers) = test_brokers(test) else { return };
    let Some(modules) = playwright() else { return };
    for shot in SHOTS {
        // A screenshot left by an earlier run must not pass for this one's.
        let _ = std::fs::remove_file(artifacts().join(shot));
    }
    let topic = unique_name("catalog-web");
    let prefix = unique_name("web-products");
    let schemas = unique_name("_schemas-web");
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_relay-product"));
    let dirs = tempfile::tempdir().expect("temp dir");
    let env = |product: &str| {
        vec![
            ("MESHKIT_BROKERS", brokers.clone()),
            ("MESHKIT_APPLICATION_ID", format!("{prefix}-{product}")),
            (
                "MESHKIT_STATE_DIR",
                dirs.path().join(product).display().to_string(),
            ),
            ("MESHKIT_CATALOG_TOPIC", topic.clone()),
            ("MESHKIT_CATALOG_HEARTBEAT_MS", HEARTBEAT.as_millis().to_string()),
            ("MESHKIT_TOPIC_PARTITIONS", "2".to_string()),
            ("RELAY_PRODUCT", product.to_string()),
        ]
    };
    let mut relay_env = env("relay");
    relay_env.push(("RELAY_INPUT", format!("{prefix}.ids")));
    relay_env.push(("RELAY_OUTPUT", format!("{prefix}.orders")));
    let mut orders_env = env("orders");
    orders_env.push(("RELAY_INPUT", prefix.clone()));
    let mut relay = process::spawn(&binary, &relay_env, &dirs.path().join("relay.log")).expect("relay");
    let mut orders = process::spawn(&binary, &orders_env, &dirs.path().join("orders.log")).expect("orders");

    // An existing stream, its schema in a registry, published as a product.
    let customers = format!("{prefix}.customers");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let registry = EmbeddedRegistry::connect(&brokers, &schemas, [("", ""); 0])
            .await
            .expect("registry");
        registry
            .register(&format!("{customers}-value"), CUSTOMER)
            .await
            .expect("registered");
    });
    let published = meshkit(
        &brokers,
        &topic,
        &[
            "catalog",
            "publish",
            "--topic",
            &customers,
            "--domain",
            "crm",
            "--name",
            "customers",
            "--owner",
            "team-crm@example.com",
            "--description",
            "Every customer of the CRM, as changes",
            "--tag",
            "reference",
            "--slo",
            "freshness=5m",
            "--schema-topic",
            &schemas,
        ],
    );
    assert!(published.contains("published crm/customers 1.0.0"), "{published}");

    until(&brokers, &topic, "both running and linked", |r| {
        status(r, "tests/relay") == Some(ProductStatus::Running)
            && status(r, "crm/customers") == Some(ProductStatus::Published)
            && r.iter().any(|p| {
                p.key().to_string() == "tests/orders-enricher"
                    && p.status == ProductStatus::Running
                    && p.lineage().iter().any(|u| u.product.is_some())
            })
    });

    let (mut server, url) = serve(&brokers, &topic);
    let explore = serde_json::json!({
        "statuses": {
            "tests/relay": "running",
            "tests/orders-enricher": "running",
            "crm/customers": "published",
        },
        "searchLabel": "Search",
        "field": "loyalty_tier",
        "fieldProduct": "crm/customers",
        "product": "tests/orders-enricher",
        "owner": "meshkit-tests",
        "productField": "band",
        "upstreamName": "relay",
    });
    let seen = browse(&modules, &url, "explore", &explore);
    eprintln!("explore: {seen}");

    // A clean stop: the next reload within one heartbeat shows it stopped.
    let exit = relay.terminate(Duration::from_secs(60)).expect("relay stops");
    assert!(exit.success(), "relay exit {exit}: {}", relay.log_text());
    let stop = serde_json::json!({
        "product": "tests/relay",
        "withinMs": u64::try_from(HEARTBEAT.as_millis()).expect("small"),
    });
    let seen = browse(&modules, &url, "stopped", &stop);
    eprintln!("stopped: {seen}");

    // With nothing running (no heartbeat changes a record any more), the
    // pages' JSON forms equal the catalog's records as the CLI reads them.
    let exit = orders.terminate(Duration::from_secs(60)).expect("orders stops");
    assert!(exit.success(), "orders exit {exit}: {}", orders.log_text());
    let records = until(&brokers, &topic, "all stopped", |r| {
        status(r, "tests/orders-enricher") == Some(ProductStatus::Stopped)
    });
    let keys: Vec<String> = records.iter().map(|r| r.key().to_string()).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    let pages = loop {
        let shown: serde_json::Value = serde_json::from_str(&browse(
            &modules,
            &url,
            "json",
            &serde_json::json!({ "products": keys }),
        ))
        .expect("JSON");
        // The server follows the topic: it may be a moment behind the CLI.
        if shown["list"] == serde_json::to_value(&records).expect("JSON") || Instant::now() > deadline {
            break shown;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(pages["list"], serde_json::to_value(&records).expect("JSON"));
    for record in &records {
        assert_eq!(
            pages["products"][record.key().to_string()],
            serde_json::to_value(record).expect("JSON"),
            "{}",
            record.key()
        );
    }

    let _ = server.kill();
    let _ = server.wait();
    for shot in SHOTS {
        let path = artifacts().join(shot);
        assert!(is_png(&path), "{} is not a PNG screenshot", path.display());
    }
}
