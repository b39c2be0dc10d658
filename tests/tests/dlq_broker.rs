//! The dead-letter tools on the test broker: `meshkit::dlq` inspects the
//! schema tests' eleven kinds of poison by reason, decoding what the catalog
//! knows the schema of; a replay after a fix has each dead letter processed
//! exactly once (judged on the committed view), whatever the filters and
//! however often it runs; and the `meshkit dlq` commands do the same from
//! the command line.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use meshkit::catalog::{CatalogReader, ProductKey};
use meshkit::dlq::{
    dead_letter_topic, DeadLetterReader, Inspection, Payload, ReplayFilter, ReplayReport, Replayer,
    REPLAYED_HEADER,
};
use meshkit::schema::registry::EmbeddedRegistry;
use meshkit::schema::SchemaRegistry;
use meshkit::{
    dlq_headers, Config, Context, DataProduct, DescriptorError, OutputRecord, ProductDescriptor, Record,
    TransformError,
};
use meshkit_tests::broker::{create_topic, input_id, produce_keyed, test_brokers, unique_name};
use meshkit_tests::oracle::{committed_view, CommittedView};
use meshkit_tests::process::workspace_binary;
use meshkit_tests::product::id_number;
use meshkit_tests::run;
use meshkit_tests::typed::{
    framed, poison_records, produce_raw, register, Order, OrderV1, OrderWithStringId, OrdersEnricher,
    Payment, PoisonIds, Raw, UNKNOWN_SCHEMA_ID,
};

/// A payments product with a rule that turns out wrong: version 1 (`strict`)
/// dead-letters ids that are multiples of 5 (`negative-amount`) and of 7
/// (`zero-amount`); the fixed version 2 accepts every id. Each output is
/// `paid:<id>`, with the input's `meshkit.dlq.replayed` header copied, so a
/// replayed record's output says so.
#[derive(Debug, Clone)]
struct Payments {
    input: String,
    output: String,
    strict: bool,
}

impl DataProduct for Payments {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        ProductDescriptor::builder("tests", "dlq-payments")
            .version(if self.strict { "1.0.0" } else { "1.0.1" })
            .owner("meshkit-tests")
            .input("in", &self.input)
            .output("out", &self.output)
            .build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        let id = std::str::from_utf8(record.value().unwrap_or_default())
            .map_err(|e| TransformError::new("input is not UTF-8").with_source(e))?;
        let n = id_number(id).ok_or_else(|| TransformError::new(format!("`{id}` is not an id")))?;
        if self.strict && n % 5 == 0 {
            ctx.dead_letter("negative-amount", format!("{id}: amount below zero"));
            return Ok(());
        }
        if self.strict && n % 7 == 0 {
            ctx.dead_letter("zero-amount", format!("{id}: amount is zero"));
            return Ok(());
        }
        let mut out = OutputRecord::new(format!("paid:{id}"));
        out.key = record.key().map(<[u8]>::to_vec);
        if let Some(replayed) = record.header(REPLAYED_HEADER) {
            out = out.with_header(REPLAYED_HEADER, replayed.to_vec());
        }
        ctx.emit_record("out", out)?;
        Ok(())
    }
}

/// The ids version 1 dead-letters, by reason.
fn rejected(ids: std::ops::Range<usize>) -> (BTreeSet<usize>, BTreeSet<usize>) {
    let negative = ids.clone().filter(|n| n % 5 == 0).collect();
    let zero = ids.filter(|n| n % 5 != 0 && n % 7 == 0).collect();
    (negative, zero)
}

struct Scenario {
    brokers: String,
    input: String,
    output: String,
    app: String,
    catalog: String,
    state: tempfile::TempDir,
}

impl Scenario {
    async fn new(test: &str) -> Option<Self> {
        let brokers = test_brokers(test)?;
        let input = unique_name("dlq-in");
        create_topic(&brokers, &input, 2).await.expect("input topic");
        Some(Self {
            brokers,
            input,
            output: unique_name("dlq-out"),
            app: unique_name("dlq-app"),
            catalog: unique_name("dlq-catalog"),
            state: tempfile::tempdir().expect("state"),
        })
    }

    fn product(&self, strict: bool) -> Payments {
        Payments {
            input: self.input.clone(),
            output: self.output.clone(),
            strict,
        }
    }

    fn config(&self) -> Config {
        Config::builder()
            .brokers(&self.brokers)
            .application_id(&self.app)
            .state_dir(self.state.path())
            .topic_partitions(2)
            .catalog_topic(&self.catalog)
            .kafka_property("session.timeout.ms", "6000")
            .build()
            .expect("config")
    }

    /// Produces ids `range` (keyed `k-<i % 4>`) and runs version 1 over
    /// them to the end.
    async fn run_strict(&self, range: std::ops::Range<usize>) {
        let (b, topic, r) = (self.brokers.clone(), self.input.clone(), range.clone());
        tokio::task::spawn_blocking(move || produce_keyed(&b, &topic, r, 4))
            .await
            .expect("join")
            .expect("produce");
        run::run_until_committed(
            self.product(true),
            self.config(),
            range.len(),
            Duration::from_secs(120),
        )
        .await;
    }

    fn dlq(&self) -> String {
        format!("{}.dlq", self.app)
    }

    fn tools(&self) -> Config {
        Config::builder()
            .brokers(&self.brokers)
            .build()
            .expect("tools config")
    }
}

async fn replay(replayer: &Replayer, filter: ReplayFilter) -> ReplayReport {
    let replayer = replayer.clone();
    tokio::task::spawn_blocking(move || replayer.replay(&filter))
        .await
        .expect("join")
        .expect("replay")
}

/// Each id's committed outputs, with the replay header of each.
fn outputs(view: &CommittedView) -> BTreeMap<String, Vec<Option<String>>> {
    let mut by_id: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    for r in &view.committed {
        let value = r.value_str().expect("value");
        let id = value.strip_prefix("paid:").expect("paid:<id>").to_string();
        by_id.entry(id).or_default().push(r.header(REPLAYED_HEADER));
    }
    by_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eleven_poison_kinds_are_grouped_by_reason_and_known_schemas_decoded() {
    let test = "the_eleven_poison_kinds_are_grouped_by_reason_and_known_schemas_decoded";
    let Some(brokers) = test_brokers(test) else { return };
    let schemas = unique_name("_schemas");
    let catalog = unique_name("dlq-catalog");
    let app = unique_name("dlq-poison-app");
    let product = OrdersEnricher::new(&unique_name("dlq-poison"));
    let state = tempfile::tempdir().expect("state");

    // The writers are registered before the product starts, so that its
    // catalog record carries the ids its inputs are written with.
    let registry = EmbeddedRegistry::connect(&brokers, &schemas, [("", ""); 0])
        .await
        .expect("registry");
    let registry: &dyn SchemaRegistry = &registry;
    let subject = format!("{}-value", product.orders);
    let _v1 = register::<OrderV1>(registry, &subject).await.expect("v1");
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

    let config = Config::builder()
        .brokers(&brokers)
        .application_id(&app)
        .state_dir(state.path())
        .topic_partitions(2)
        .max_record_bytes(4096)
        .schema_topic(&schemas)
        .catalog_topic(&catalog)
        .kafka_property("session.timeout.ms", "6000")
        .build()
        .expect("config");
    let mut running = run::spawn(product.clone(), config).expect("runtime");
    running
        .until_running(Duration::from_secs(60))
        .await
        .expect("running");

    let poison = poison_records(
        &product,
        PoisonIds {
            order: v2,
            incompatible: bad,
            payment: pay_id,
        },
    );
    let expected: BTreeSet<&str> = poison.iter().map(|(r, _)| *r).collect();
    assert_eq!(expected.len(), 11);
    let mut records: Vec<Raw> = poison.into_iter().map(|(_, r)| r).collect();
    for id in 1..=20_i64 {
        let order = Order {
            id,
            customer: format!("c{id}"),
            amount_cents: id,
            channel: "web".into(),
        };
        records.push(Raw {
            topic: product.orders.clone(),
            key: None,
            value: Some(framed(v2, &order)),
        });
        records.push(Raw {
            topic: product.payments.clone(),
            key: Some(framed(key_id, &format!("c{id}"))),
            value: Some(framed(
                pay_id,
                &Payment {
                    order_id: id,
                    cents: id,
                },
            )),
        });
    }
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

    // The catalog names the product's dead-letter topic (its application
    // id's, not the default) and knows its input schemas.
    let tools = Config::builder().brokers(&brokers).build().expect("tools");
    let reader = CatalogReader::new(&tools).expect("reader").topic(&catalog);
    let snapshot = tokio::task::spawn_blocking(move || reader.read())
        .await
        .expect("join")
        .expect("catalog");
    let key = ProductKey::new("tests", "orders-enricher");
    let record = snapshot.catalog().get(&key).expect("registered").clone();
    let topic = dead_letter_topic(&key, Some(&record));
    assert_eq!(topic, format!("{app}.dlq"));

    let reader = DeadLetterReader::new(&tools, &topic).expect("dlq reader");
    let inspection = tokio::task::spawn_blocking(move || {
        let mut inspection = Inspection::new(reader.topic(), Some(&record), 2);
        reader
            .read_each(|letter| inspection.add(&letter))
            .map(|()| inspection)
    })
    .await
    .expect("join")
    .expect("inspect");

    assert_eq!(inspection.total, 11, "{inspection:#?}");
    let reasons: BTreeSet<&str> = inspection.reasons.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(reasons, expected);
    for r in &inspection.reasons {
        assert_eq!(r.count, 1, "{}", r.reason);
        assert_eq!(r.samples.len(), 1, "{}", r.reason);
        assert!(r.first_seen.is_some() && r.first_seen == r.last_seen, "{r:#?}");
        let sample = &r.samples[0];
        let header = |name: &str| {
            sample
                .headers
                .iter()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.clone())
        };
        assert_eq!(header(dlq_headers::REASON).as_deref(), Some(r.reason.as_str()));
        assert!(header(dlq_headers::SOURCE_TOPIC).is_some(), "{sample:#?}");
    }
    // A valid order the transform refused: its schema is the one the
    // catalog knows, so it is decoded.
    let refused = &inspection
        .reason("transform-error")
        .expect("transform-error")
        .samples[0];
    match &refused.value {
        Payload::Decoded { schema_id, json } => {
            assert_eq!(*schema_id, v2);
            assert_eq!(json["id"], 9_004);
            assert_eq!(json["amount_cents"], -5);
        }
        other => panic!("transform-error not decoded: {other:?}"),
    }
    // What cannot be decoded says why.
    let why = |reason: &str| match &inspection.reason(reason).expect(reason).samples[0].value {
        Payload::Text { not_decoded, .. } | Payload::Bytes { not_decoded, .. } => not_decoded.clone(),
        other => panic!("{reason}: {other:?}"),
    };
    assert!(why("bad-magic").contains("wire format"), "{}", why("bad-magic"));
    assert!(
        why("unknown-schema-id").contains(&UNKNOWN_SCHEMA_ID.to_string()),
        "{}",
        why("unknown-schema-id")
    );
    assert!(why("incompatible-writer-schema").contains(&bad.to_string()));
    assert!(
        why("malformed-avro").contains("does not decode"),
        "{}",
        why("malformed-avro")
    );
    assert_eq!(
        inspection.reason("missing-value").expect("missing-value").samples[0].value,
        Payload::Absent
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_after_a_fix_has_each_dead_letter_processed_exactly_once() {
    let test = "a_replay_after_a_fix_has_each_dead_letter_processed_exactly_once";
    let Some(s) = Scenario::new(test).await else {
        return;
    };
    let ids = 0..40;
    let (negative, zero) = rejected(ids.clone());
    s.run_strict(ids.clone()).await;

    // The fix runs, from where version 1 stopped.
    let mut fixed = run::spawn(s.product(false), s.config()).expect("runtime");
    fixed
        .until_running(Duration::from_secs(60))
        .await
        .expect("running");

    let replayer = Replayer::new(&s.tools(), s.dlq()).expect("replayer");
    let zeros = ReplayFilter::all().reason("zero-amount");
    let r = replayer.clone();
    let f = zeros.clone();
    let dry = tokio::task::spawn_blocking(move || r.dry_run(&f))
        .await
        .expect("join")
        .expect("dry run");
    assert_eq!((dry.selected, dry.replayed), (zero.len() as u64, 0), "{dry:?}");

    let first = replay(&replayer, zeros.clone()).await;
    assert_eq!(first.replayed, zero.len() as u64, "{first:?}");
    assert_eq!(first.filtered_out, negative.len() as u64, "{first:?}");
    assert_eq!(first.already_replayed, 0, "{first:?}");
    // The same filter again: nothing left for it.
    let again = replay(&replayer, zeros).await;
    assert_eq!((again.selected, again.replayed), (0, 0), "{again:?}");

    // Unfiltered: only what the first run left out.
    let all = replay(&replayer, ReplayFilter::all()).await;
    assert_eq!(all.replayed, negative.len() as u64, "{all:?}");
    assert!(all.already_replayed <= zero.len() as u64, "{all:?}");
    assert_eq!(all.filtered_out, 0, "{all:?}");
    let none = replay(&replayer, ReplayFilter::all()).await;
    assert_eq!((none.selected, none.replayed), (0, 0), "{none:?}");

    let replayed_total = (negative.len() + zero.len()) as u64;
    fixed
        .until_committed(replayed_total, Duration::from_secs(120))
        .await
        .expect("the fix processed the replayed records");
    fixed.stop().await.expect("join").expect("clean stop");

    // Each id's output exactly once, in the committed view; the
    // dead-lettered ones through their replay, which says so.
    let out = committed_view(&s.brokers, &s.output).await.expect("oracle");
    let by_id = outputs(&out);
    let expected: BTreeSet<String> = ids.clone().map(input_id).collect();
    assert_eq!(by_id.keys().cloned().collect::<BTreeSet<_>>(), expected);
    for (id, replays) in &by_id {
        assert_eq!(replays.len(), 1, "{id} processed {} times", replays.len());
        let n = id_number(id).expect("id");
        let was_dead = negative.contains(&n) || zero.contains(&n);
        assert_eq!(
            replays[0].is_some(),
            was_dead,
            "{id}: replay header {:?}",
            replays[0]
        );
        if let Some(at) = &replays[0] {
            assert!(at.starts_with(&format!("{}/", s.dlq())), "{at}");
        }
    }

    // The input holds each dead letter once more, with its original key
    // and timestamp and without the dead-letter headers.
    let input = committed_view(&s.brokers, &s.input).await.expect("oracle");
    let originals: BTreeMap<String, (Option<String>, i64)> = (input.committed.iter())
        .filter(|r| r.header(REPLAYED_HEADER).is_none())
        .map(|r| (r.value_str().expect("value"), (r.key_str(), r.timestamp)))
        .collect();
    let replays: Vec<_> = (input.committed.iter())
        .filter(|r| r.header(REPLAYED_HEADER).is_some())
        .collect();
    assert_eq!(replays.len() as u64, replayed_total);
    for r in &replays {
        let value = r.value_str().expect("value");
        assert_eq!(
            originals.get(&value),
            Some(&(r.key_str(), r.timestamp)),
            "{value}"
        );
        assert!(
            r.headers
                .iter()
                .all(|(k, _)| !k.starts_with("meshkit.dlq.") || k == REPLAYED_HEADER),
            "{:?}",
            r.headers
        );
    }
    // The fix dead-lettered nothing; the ledger holds each replay once.
    let dlq = committed_view(&s.brokers, &s.dlq()).await.expect("oracle");
    assert_eq!(dlq.committed.len() as u64, replayed_total);
    let ledger = committed_view(&s.brokers, &replayer.ledger_topic())
        .await
        .expect("oracle");
    assert_eq!(ledger.committed.len() as u64, replayed_total);

    // Once more after everything: nothing, and the output is unchanged.
    let last = replay(&replayer, ReplayFilter::all()).await;
    assert_eq!(last.replayed, 0, "{last:?}");
    let after = committed_view(&s.brokers, &s.output).await.expect("oracle");
    assert_eq!(after.committed.len(), out.committed.len());
}

/// Runs `meshkit <args>` against the scenario's brokers and catalog, with
/// no terminal on standard input.
fn meshkit(s: &Scenario, args: &[&str]) -> Output {
    Command::new(workspace_binary("meshkit").expect("the meshkit binary"))
        .args([
            "--brokers",
            &s.brokers,
            "--catalog-topic",
            &s.catalog,
            "--timeout",
            "30s",
        ])
        .args(args)
        .env_remove("MESHKIT_BROKERS")
        .stdin(Stdio::null())
        .output()
        .expect("meshkit runs")
}

fn json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "exited {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dlq_commands_inspect_and_replay_from_the_command_line() {
    let test = "the_dlq_commands_inspect_and_replay_from_the_command_line";
    let Some(s) = Scenario::new(test).await else {
        return;
    };
    let ids = 0..20;
    let (negative, zero) = rejected(ids.clone());
    s.run_strict(ids).await;
    let product = "tests/dlq-payments";

    // The topic comes from the catalog.
    let inspected = json(&meshkit(
        &s,
        &["dlq", "inspect", product, "--json", "--samples", "1"],
    ));
    assert_eq!(inspected["topic"], s.dlq());
    assert_eq!(inspected["total"], negative.len() + zero.len());
    let counts: BTreeMap<String, u64> = (inspected["reasons"].as_array().expect("reasons").iter())
        .map(|r| {
            (
                r["reason"].as_str().unwrap_or_default().to_string(),
                r["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        counts,
        BTreeMap::from([
            ("negative-amount".to_string(), negative.len() as u64),
            ("zero-amount".to_string(), zero.len() as u64)
        ])
    );

    let text = meshkit(&s, &["dlq", "inspect", product]);
    assert!(text.status.success(), "{}", String::from_utf8_lossy(&text.stderr));
    let text = String::from_utf8_lossy(&text.stdout);
    let row = |reason: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{reason} ")))
            .map(|l| {
                l.split_whitespace()
                    .take(2)
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
    };
    assert_eq!(
        row("negative-amount"),
        Some(vec!["negative-amount".into(), negative.len().to_string()]),
        "{text}"
    );
    assert_eq!(
        row("zero-amount"),
        Some(vec!["zero-amount".into(), zero.len().to_string()]),
        "{text}"
    );
    assert!(
        text.contains(&format!("  {}: {}", dlq_headers::SOURCE_TOPIC, s.input)),
        "{text}"
    );

    let dry = json(&meshkit(&s, &["dlq", "replay", product, "--dry-run", "--json"]));
    assert_eq!(
        (dry["dry_run"].as_bool(), dry["selected"].as_u64()),
        (Some(true), Some((negative.len() + zero.len()) as u64))
    );
    assert_eq!(dry["replayed"], 0);

    // Not on a terminal, a replay without --yes refuses (a usage error).
    let refused = meshkit(&s, &["dlq", "replay", product]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));

    let zeros = json(&meshkit(
        &s,
        &[
            "dlq",
            "replay",
            product,
            "--reason",
            "zero-amount",
            "--yes",
            "--json",
        ],
    ));
    assert_eq!(zeros["replayed"], zero.len());
    let rest = json(&meshkit(&s, &["dlq", "replay", product, "--yes", "--json"]));
    assert_eq!(rest["replayed"], negative.len());
    let none = json(&meshkit(
        &s,
        &["dlq", "replay", product, "--yes", "--json", "--since", "0"],
    ));
    assert_eq!(none["replayed"], 0);

    let input = committed_view(&s.brokers, &s.input).await.expect("oracle");
    let replayed: Vec<String> = (input.committed.iter())
        .filter(|r| r.header(REPLAYED_HEADER).is_some())
        .map(|r| r.value_str().expect("value"))
        .collect();
    let expected: BTreeSet<String> = negative.iter().chain(&zero).map(|n| input_id(*n)).collect();
    assert_eq!(replayed.len(), expected.len(), "{replayed:?}");
    assert_eq!(replayed.into_iter().collect::<BTreeSet<_>>(), expected);

    // An unknown topic is "not found".
    let missing = meshkit(
        &s,
        &["dlq", "inspect", product, "--topic", &unique_name("no-such-dlq")],
    );
    assert_eq!(
        missing.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
}
