//! The stream operators through the test driver: the page-views topology
//! against its independent computation (`meshkit_tests::ops::expected`),
//! and each operator the topology does not use, against a computation by
//! hand.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meshkit::ops::{Dataflow, Input};
use meshkit::schema::PortSchema;
use meshkit::state::{WindowKind, Windows};
use meshkit::testing::{TestDriver, TestRecord};
use meshkit::{
    Context, DataProduct, DeadLetterReason, DescriptorError, Output, ProductDescriptor, Record,
    TransformError,
};
use meshkit_tests::ops::{expected, flush_view, view, PageViews, View, NO_PAGE, PAGES};

async fn pipe_views(driver: &mut TestDriver<PageViews>, views: &[(String, View)]) {
    for (user, v) in views {
        let record = TestRecord::new(user, v).at(v.at);
        driver.pipe_record("views", record).await.expect("piped");
    }
}

/// Each key's values, in the order published.
fn by_key(records: &[meshkit::testing::TestRecord<String, i64>]) -> BTreeMap<String, Vec<i64>> {
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in records {
        out.entry(r.key.clone()).or_default().push(r.value);
    }
    out
}

#[tokio::test]
async fn the_page_views_topology_publishes_what_the_independent_computation_does() {
    let mut driver = TestDriver::start(PageViews::new("web.views", "web.stats"))
        .await
        .expect("starts");
    let t0 = 1_767_225_600_000;
    let mut views: Vec<(String, View)> = (0..3_000).map(|id| view(id, 23, t0)).collect();
    let last = views.iter().map(|(_, v)| v.at).max().unwrap_or(t0);
    views.extend((PAGES.iter().enumerate()).map(|(i, page)| flush_view(1_000_000 + i as u64, page, last)));
    pipe_views(&mut driver, &views).await;
    let want = expected(&views);
    assert!(!want.dead.is_empty() && !want.page_windows.is_empty());

    assert_eq!(
        by_key(&driver.read(meshkit_tests::ops::PER_PAGE).expect("per page")),
        want.per_page
    );
    assert_eq!(
        by_key(&driver.read(meshkit_tests::ops::PER_USER).expect("per user")),
        want.per_user
    );
    assert_eq!(
        by_key(&driver.read(meshkit_tests::ops::PER_TAG).expect("per tag")),
        want.per_tag
    );
    let windows = driver.read(meshkit_tests::ops::PAGE_WINDOWS).expect("windows");
    let published: BTreeMap<String, i64> = windows.iter().map(|r| (r.key.clone(), r.value)).collect();
    assert_eq!(published.len(), windows.len(), "each window published once");
    assert_eq!(published, want.page_windows);
    let dead = driver.dead_letters();
    assert!(dead.iter().all(|d| d.reason == NO_PAGE), "{dead:?}");
    assert_eq!(dead.len(), want.dead.len());
    // What went through the repartition topics was read back and nothing is left.
    for name in meshkit_tests::ops::REPARTITIONED {
        let port = meshkit::repartition_port(name);
        assert!(
            driver.read_raw(&port).expect("internal port").is_empty(),
            "{port}"
        );
    }
}

#[tokio::test]
async fn the_topology_declares_its_stores_and_repartitions() {
    let descriptor = PageViews::new("web.views", "web.stats")
        .descriptor()
        .expect("descriptor");
    let stores: Vec<&str> = descriptor.stores.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(stores, ["per-page", "per-user", "per-tag", "page-windows"]);
    assert_eq!(descriptor.repartitions, ["per-page", "per-tag", "page-windows"]);
    assert_eq!(
        descriptor.stores[3].window.map(|w| w.kind),
        Some(WindowKind::Time)
    );
    let running = descriptor.with_internal_ports("tests.app");
    assert_eq!(running.inputs.len(), 4);
    assert!(running.is_internal_port("per-tag-repartition"));
    assert!(!running.is_internal_port("views"));
    assert_eq!(
        running.input("per-tag-repartition").map(|p| p.topic.as_str()),
        Some("tests.app-per-tag-repartition")
    );
}

/// A product around any topology over one JSON input of `i64`s keyed by
/// `String` and one output of `String` → `i64`.
struct Numbers {
    flow: Dataflow,
}

const NUMBERS: Input<String, i64> = Input::new("numbers");
const OUT: Output<String, i64> = Output::new("out");

impl Numbers {
    fn new(build: impl FnOnce(&mut meshkit::ops::Topology)) -> Self {
        Self {
            flow: Dataflow::new(build),
        }
    }
}

impl DataProduct for Numbers {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        let keyed = || PortSchema::json::<i64>().with_string_key();
        let ports = ProductDescriptor::builder("tests", "numbers")
            .version("0.1.0")
            .owner("meshkit-tests")
            .input_with("numbers", "t.numbers", keyed())
            .output_with("out", "t.out", keyed());
        self.flow.declare(ports)?.build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        self.flow.process(record, ctx)
    }
}

async fn run(product: Numbers, input: &[(&str, i64, i64)]) -> (Vec<(String, i64)>, Vec<String>) {
    let mut driver = TestDriver::start(product).await.expect("starts");
    for (key, value, at) in input {
        let key = key.to_string();
        let record = TestRecord::new(&key, value).at(*at);
        driver.pipe_record("numbers", record).await.expect("piped");
    }
    let out = driver.read(OUT).expect("out");
    let dead = driver.dead_letters().into_iter().map(|d| d.reason).collect();
    (out.into_iter().map(|r| (r.key, r.value)).collect(), dead)
}

#[tokio::test]
async fn map_re_keys_and_a_group_of_the_new_keys_is_counted_through_a_repartition() {
    let product = Numbers::new(|t| {
        t.stream(NUMBERS)
            .map(|_, n| (format!("{}", n % 2 == 0), *n))
            .group_by_key()
            .count("parity")
            .to(OUT);
    });
    assert_eq!(product.descriptor().expect("descriptor").repartitions, ["parity"]);
    let input = [("a", 1, 0), ("b", 2, 0), ("a", 4, 0), ("c", 7, 0)];
    let (out, _) = run(product, &input).await;
    let want = [("false", 1), ("true", 1), ("true", 2), ("false", 2)];
    assert_eq!(out, want.map(|(k, n)| (k.to_string(), n)));
}

#[tokio::test]
async fn grouping_by_the_input_key_needs_no_repartition() {
    let product = Numbers::new(|t| {
        t.stream(NUMBERS)
            .map_values(|n| n * 10)
            .group_by_key()
            .reduce("sums", |a, b| a + b)
            .to(OUT);
    });
    assert!(product.descriptor().expect("descriptor").repartitions.is_empty());
    let (out, _) = run(product, &[("a", 1, 0), ("b", 2, 0), ("a", 3, 0)]).await;
    assert_eq!(
        out,
        [
            ("a".to_string(), 10),
            ("b".to_string(), 20),
            ("a".to_string(), 40)
        ]
    );
}

#[tokio::test]
async fn flat_map_values_and_inspect_pass_every_value_on() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let product = Numbers::new(move |t| {
        t.stream(NUMBERS)
            .flat_map_values(|n| (0..*n).collect::<Vec<i64>>())
            .inspect(move |k, n| log.lock().expect("log").push(format!("{k}:{n}")))
            .to(OUT);
    });
    let (out, _) = run(product, &[("a", 2, 0), ("b", 0, 0), ("c", 3, 0)]).await;
    let want = [("a", 0), ("a", 1), ("c", 0), ("c", 1), ("c", 2)];
    assert_eq!(out, want.map(|(k, n)| (k.to_string(), n)));
    assert_eq!(*seen.lock().expect("log"), ["a:0", "a:1", "c:0", "c:1", "c:2"]);
}

#[derive(Debug)]
struct Negative(i64);

impl std::fmt::Display for Negative {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is negative", self.0)
    }
}

impl DeadLetterReason for Negative {
    fn code(&self) -> &'static str {
        "negative"
    }
}

#[tokio::test]
async fn dead_letter_for_sends_a_typed_reason_and_drops_the_record() {
    let product = Numbers::new(|t| {
        t.stream(NUMBERS)
            .dead_letter_for(|_, n| (*n < 0).then_some(Negative(*n)))
            .to(OUT);
    });
    let (out, dead) = run(product, &[("a", 1, 0), ("b", -2, 0), ("c", 3, 0)]).await;
    assert_eq!(out, [("a".to_string(), 1), ("c".to_string(), 3)]);
    assert_eq!(dead, ["negative"]);
}

/// Windowed sums by key under `windows`, as `(key@start-end, sum)`.
fn windowed_sums(windows: Windows) -> Numbers {
    Numbers::new(move |t| {
        t.stream(NUMBERS)
            .group_by_key()
            .window(windows)
            .reduce("sums", |a, b| a + b)
            .map(|w, n| (format!("{}@{}-{}", w.key, w.window.start, w.window.end), *n))
            .to(OUT);
    })
}

#[tokio::test]
async fn windowed_reduce_over_sessions_merges_and_publishes_on_close() {
    let sessions = Windows::session(Duration::from_millis(100)).emit(meshkit::state::Emit::OnClose);
    // a: 0, 50 (one session), 300 (another); b: 120; a record at 1000 closes
    // every session before it.
    let input = [
        ("a", 1, 0),
        ("a", 2, 50),
        ("b", 4, 120),
        ("a", 8, 300),
        ("z", 0, 1_000),
    ];
    let (out, dead) = run(windowed_sums(sessions), &input).await;
    let want = [("a@0-51", 3), ("b@120-121", 4), ("a@300-301", 8)];
    let mut got = out.clone();
    got.sort();
    let mut want: Vec<(String, i64)> = want.iter().map(|(k, n)| (k.to_string(), *n)).collect();
    want.sort();
    assert_eq!(got, want);
    assert!(dead.is_empty());
}

#[tokio::test]
async fn windowed_count_over_sliding_windows_counts_each_distinct_window() {
    let sliding = Numbers::new(|t| {
        t.stream(NUMBERS)
            .group_by_key()
            .window(Windows::sliding(Duration::from_millis(100)))
            .count("counts")
            .map(|w, n| (format!("{}-{}", w.window.start, w.window.end), *n))
            .to(OUT);
    });
    // Every update: the record at 0 is one window [-99, 1); the one at 50 adds
    // [-49, 51) holding both, and updates nothing else (the window after 0,
    // [1, 101), holds 50 only and is new too).
    let (out, _) = run(sliding, &[("a", 1, 0), ("a", 1, 50)]).await;
    let got: BTreeMap<String, i64> = out.into_iter().collect();
    assert_eq!(got.get("-99-1"), Some(&1));
    assert_eq!(got.get("-49-51"), Some(&2));
    assert_eq!(got.get("1-101"), Some(&1));
}

#[tokio::test]
async fn a_late_record_of_a_windowed_aggregation_is_dead_lettered() {
    let tumbling = Windows::tumbling(Duration::from_millis(100)).emit(meshkit::state::Emit::OnClose);
    let input = [("a", 1, 0), ("a", 1, 250), ("a", 5, 10)];
    let (out, dead) = run(windowed_sums(tumbling), &input).await;
    assert_eq!(
        out,
        [("a@0-100".to_string(), 1)],
        "the late record changed nothing"
    );
    assert_eq!(dead, ["late-record"]);
}

#[tokio::test]
async fn aggregate_over_session_windows_is_refused_at_start_naming_the_way() {
    let product = Numbers::new(|t| {
        t.stream(NUMBERS)
            .group_by_key()
            .window(Windows::session(Duration::from_secs(1)))
            .aggregate("sessions", || 0, |a, _, n| a + n)
            .map(|w, n| (w.key.clone(), *n))
            .to(OUT);
    });
    let err = product.descriptor().expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("`aggregate` of store `sessions` does not work on session windows"),
        "{text}"
    );
    let merging = Numbers::new(|t| {
        t.stream(NUMBERS)
            .group_by_key()
            .window(Windows::session(Duration::from_secs(1)))
            .aggregate_merging("sessions", || 0, |a, _, n| a + n, |a, b| a + b)
            .map(|w, n| (w.key.clone(), *n))
            .to(OUT);
    });
    assert!(merging.descriptor().is_ok());
}

#[tokio::test]
async fn a_record_of_a_port_no_step_reads_is_an_error() {
    let flow = Dataflow::new(|t| {
        t.stream(NUMBERS).to(OUT);
    });
    let descriptor = ProductDescriptor::builder("tests", "numbers")
        .version("0.1.0")
        .owner("meshkit-tests")
        .input("numbers", "t.numbers")
        .input("other", "t.other")
        .output("out", "t.out")
        .build()
        .expect("descriptor");
    let mut ctx = Context::new(&descriptor);
    let record = Record::new("other", "t.other", 0, 0);
    let err = flow
        .process(&record, &mut ctx)
        .expect_err("no step reads `other`");
    assert!(err.to_string().contains("input port `other`"), "{err}");
    assert_eq!(flow.inputs().collect::<Vec<_>>(), ["numbers"]);
}

/// A hand-written transform that counts per parity through a repartition
/// it declares itself: what the operators do, without them.
struct HandRepartition;

impl DataProduct for HandRepartition {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        ProductDescriptor::builder("tests", "hand-repartition")
            .version("0.1.0")
            .owner("meshkit-tests")
            .input_with(
                "numbers",
                "t.numbers",
                PortSchema::json::<i64>().with_string_key(),
            )
            .output_with("out", "t.out", PortSchema::json::<i64>().with_string_key())
            .store("parity")
            .repartition("parity")
            .build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        if record.port() == "numbers" {
            let parity = if record.value_as::<i64>()? % 2 == 0 {
                "even"
            } else {
                "odd"
            };
            ctx.emit(
                &meshkit::repartition_port("parity"),
                Some(parity.into()),
                Vec::new(),
            )?;
            return Ok(());
        }
        // Read back, in the task that owns the parity.
        let parity = String::from_utf8_lossy(record.key().unwrap_or_default()).into_owned();
        let count = meshkit::state::StoreRef::<String, i64>::new("parity")
            .update(ctx, &parity, |n| n.unwrap_or(0) + 1)?;
        OUT.send(ctx, &parity, &count)?;
        Ok(())
    }
}

#[tokio::test]
async fn a_hand_written_transform_repartitions_through_its_internal_port() {
    let mut driver = TestDriver::start(HandRepartition).await.expect("starts");
    for (key, n) in [("a", 1i64), ("b", 2), ("c", 4), ("a", 5)] {
        driver.pipe("numbers", &key.to_string(), &n).await.expect("piped");
    }
    let out: Vec<(String, i64)> = driver
        .read(OUT)
        .expect("out")
        .into_iter()
        .map(|r| (r.key, r.value))
        .collect();
    let want = [("odd", 1), ("even", 1), ("even", 2), ("odd", 2)];
    assert_eq!(out, want.map(|(k, n)| (k.to_string(), n)));
}
