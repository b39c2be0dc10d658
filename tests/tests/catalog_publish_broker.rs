//! `meshkit catalog publish` and `meshkit catalog remove` on the test broker:
//! an existing stream published as a data product with its schema from the
//! registry, republished with a higher version, removed with confirmation.

use std::process::{Command, Output};

use meshkit::catalog::{
    CatalogRecord, CatalogWriter, DescriptorInput, InstanceRecord, PortInput, ProductStatus, Timestamp,
};
use meshkit::schema::registry::{EmbeddedRegistry, SchemaRegistry};
use meshkit_tests::broker::{test_brokers, unique_name};
use meshkit_tests::process::workspace_binary;

const PAYMENT: &str = r#"{"type":"record","name":"Payment","namespace":"billing","fields":[
    {"name":"payment_id","type":"string"},{"name":"cents","type":"long","doc":"The amount"}]}"#;

struct Cli {
    brokers: String,
    topic: String,
}

impl Cli {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(workspace_binary("meshkit").expect("meshkit binary"))
            .args(["--brokers", &self.brokers, "--catalog-topic", &self.topic])
            .args(args)
            .env_remove("MESHKIT_BROKERS")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("meshkit runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "meshkit {args:?} exited {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8")
    }

    fn fails(&self, args: &[&str], code: i32) -> String {
        let output = self.run(args);
        assert_eq!(
            output.status.code(),
            Some(code),
            "meshkit {args:?}: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8(output.stderr).expect("UTF-8")
    }

    fn records(&self) -> Vec<CatalogRecord> {
        serde_json::from_str(&self.ok(&["catalog", "list", "--json"])).expect("JSON")
    }

    fn record(&self, key: &str) -> Option<CatalogRecord> {
        self.records().into_iter().find(|r| r.key().to_string() == key)
    }
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn a_stream_is_published_republished_with_a_higher_version_and_removed() {
    let test = "a_stream_is_published_republished_with_a_higher_version_and_removed";
    let Some(brokers) = test_brokers(test) else { return };
    let cli = Cli {
        brokers: brokers.clone(),
        topic: unique_name("catalog-publish"),
    };
    let schemas = unique_name("_schemas-publish");
    let stream = unique_name("billing.payments");
    let registered = tokio::runtime::Runtime::new().expect("runtime").block_on(async {
        let registry = EmbeddedRegistry::connect(&brokers, &schemas, [("", ""); 0])
            .await
            .expect("registry");
        registry
            .register(&format!("{stream}-value"), PAYMENT)
            .await
            .expect("registered")
    });
    let publish = |description: &str, extra: &[&str]| {
        let mut args = vec![
            "catalog",
            "publish",
            "--topic",
            &stream,
            "--domain",
            "billing",
            "--name",
            "payments",
            "--owner",
            "team-billing@example.com",
            "--description",
            description,
            "--tag",
            "finance",
            "--slo",
            "freshness=10m",
            "--schema-topic",
            &schemas,
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let run_ok = |args: Vec<String>| cli.ok(&strs(&args));

    let said = run_ok(publish("Settled payments", &[]));
    assert!(said.contains("published billing/payments 1.0.0"), "{said}");
    let record = cli.record("billing/payments").expect("published");
    assert_eq!(record.status, ProductStatus::Published);
    assert!(record.instances.is_empty());
    assert_eq!(record.owner, "team-billing@example.com");
    assert_eq!(record.tags, ["finance"]);
    assert_eq!(record.slo.freshness_ms, Some(600_000));
    let port = &record.outputs[0];
    assert_eq!(
        (port.name.as_str(), port.topic.as_str()),
        ("payments", stream.as_str())
    );
    let value = port.value.as_ref().expect("the registry's schema");
    assert_eq!(value.subject.as_deref(), Some(format!("{stream}-value").as_str()));
    assert_eq!(value.id, Some(registered.id));
    assert_eq!(value.type_name, "billing.Payment");
    assert!(value.schema.contains("payment_id"), "{}", value.schema);
    let created = record.created_at;

    // Republished: the patch is bumped; a version that does not exceed the
    // published one is refused; a higher one is taken.
    let said = run_ok(publish("Settled payments, in cents", &[]));
    assert!(said.contains("1.0.1"), "{said}");
    let args = publish("Settled payments, in cents", &["--version", "1.0.0"]);
    let error = cli.fails(&strs(&args), 2);
    assert!(error.contains("does not exceed the published 1.0.1"), "{error}");
    run_ok(publish("Settled payments, in cents", &["--version", "2.0.0"]));
    let record = cli.record("billing/payments").expect("republished");
    assert_eq!(record.version, "2.0.0");
    assert_eq!(record.description, "Settled payments, in cents");
    assert_eq!(record.created_at, created, "republishing keeps the creation time");

    // No schema under the subject: a clear error, nothing written.
    let error = cli.fails(
        &[
            "catalog",
            "publish",
            "--topic",
            "no.such.stream",
            "--domain",
            "billing",
            "--name",
            "ghost",
            "--owner",
            "o",
            "--description",
            "d",
            "--schema-topic",
            &schemas,
        ],
        1,
    );
    assert!(
        error.contains("no schema under subject `no.such.stream-value`"),
        "{error}"
    );
    assert!(cli.record("billing/ghost").is_none());

    // A product meshkit runs is not overwritten by a publish, and a running
    // one is not removed without --force.
    let d = DescriptorInput::new("billing", "ledger", "1.0.0", "team-billing@example.com")
        .output(PortInput::new("entries", "billing.ledger"));
    let now = Timestamp::now();
    let running = CatalogRecord::register(None, &d, InstanceRecord::running("i-1", "host", now), now);
    let config = meshkit::Config::builder()
        .brokers(&brokers)
        .catalog_topic(&cli.topic)
        .build()
        .expect("config");
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(CatalogWriter::new(&config).expect("writer").publish(&running))
        .expect("written");
    let error = cli.fails(
        &[
            "catalog",
            "publish",
            "--topic",
            &stream,
            "--domain",
            "billing",
            "--name",
            "ledger",
            "--owner",
            "o",
            "--description",
            "d",
            "--schema-topic",
            &schemas,
        ],
        2,
    );
    assert!(error.contains("is a product meshkit runs"), "{error}");
    let error = cli.fails(&["catalog", "remove", "billing/ledger", "--yes"], 2);
    assert!(error.contains("is running"), "{error}");

    // Removal needs a confirmation: off a terminal, --yes.
    let error = cli.fails(&["catalog", "remove", "billing/payments"], 2);
    assert!(error.contains("pass --yes"), "{error}");
    assert!(
        cli.record("billing/payments").is_some(),
        "not removed unconfirmed"
    );
    let said = cli.ok(&["catalog", "remove", "billing/payments", "--yes"]);
    assert!(said.contains("removed billing/payments"), "{said}");
    let keys: Vec<String> = cli.records().iter().map(|r| r.key().to_string()).collect();
    assert_eq!(keys, ["billing/ledger"]);
    let error = cli.fails(&["catalog", "remove", "billing/payments", "--yes"], 1);
    assert!(error.contains("no product `billing/payments`"), "{error}");
    cli.ok(&["catalog", "remove", "billing/ledger", "--yes", "--force"]);
    assert!(cli.records().is_empty());
}
