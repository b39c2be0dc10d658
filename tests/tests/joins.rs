//! Every join kind through the test driver, on interleaved, out-of-order
//! input with table updates and tombstones, against the independent
//! computations of `meshkit_tests::joins`; and the joins a topology
//! refuses.

use std::time::Duration;

use meshkit::ops::JoinWindows;
use meshkit::testing::{TestDriver, TestRecord};
use meshkit::DataProduct;
use meshkit_tests::joins::{
    events, stream_stream, stream_table, table_table, Event, Joins, Kind, GTABLE, LEFT, LTABLE, OUT, RIGHT,
    RTABLE,
};

async fn run(product: Joins, events: &[Event]) -> Vec<(String, String)> {
    let mut driver = TestDriver::start(product).await.expect("starts");
    for e in events {
        match e.value {
            Some(v) => {
                let record = TestRecord::new(&e.key, &v).at(e.at);
                driver.pipe_record(e.port, record).await.expect("piped");
            }
            None => {
                driver
                    .pipe_tombstone(e.port, &e.key)
                    .await
                    .expect("tombstone piped");
            }
        }
    }
    assert!(driver.dead_letters().is_empty(), "{:?}", driver.dead_letters());
    let out = driver.read(OUT).expect("out");
    out.into_iter().map(|r| (r.key, r.value)).collect()
}

#[tokio::test]
async fn stream_table_inner_join_follows_the_tables_updates_and_tombstones() {
    let input = events(1, 2_000, &["left", "ltable"], 12, 0);
    assert!(
        input.iter().any(|e| e.value.is_none()),
        "the input holds tombstones"
    );
    let product = Joins::new("t", |t| {
        let table = t.table(LTABLE);
        t.stream(LEFT).join(&table, |v, tv| format!("{v}*{tv}")).to(OUT);
    });
    let want = stream_table(&input, "ltable", true);
    assert!(want.len() > 100);
    assert_eq!(run(product, &input).await, want);
}

#[tokio::test]
async fn stream_table_left_join_gives_every_record_with_the_tables_value_if_any() {
    let input = events(2, 2_000, &["left", "ltable"], 12, 0);
    let product = Joins::new("t", |t| {
        let table = t.table(LTABLE);
        t.stream(LEFT)
            .left_join(&table, |v, tv| match tv {
                Some(tv) => format!("{v}*{tv}"),
                None => format!("{v}*none"),
            })
            .to(OUT);
    });
    let want = stream_table(&input, "ltable", false);
    assert!(want.iter().any(|(_, v)| v.ends_with("*none")));
    assert_eq!(run(product, &input).await, want);
}

#[tokio::test]
async fn stream_global_table_joins_look_up_the_key_the_record_gives() {
    let input = events(5, 2_000, &["left", "gtable"], 12, 0);
    let inner = Joins::new("t", |t| {
        let table = t.global_table(GTABLE);
        t.stream(LEFT)
            .join_global(&table, |k, _| k.clone(), |v, gv| format!("{v}*{gv}"))
            .to(OUT);
    });
    assert_eq!(run(inner, &input).await, stream_table(&input, "gtable", true));
    let left = Joins::new("t", |t| {
        let table = t.global_table(GTABLE);
        t.stream(LEFT)
            .left_join_global(
                &table,
                |k, _| k.clone(),
                |v, gv| match gv {
                    Some(gv) => format!("{v}*{gv}"),
                    None => format!("{v}*none"),
                },
            )
            .to(OUT);
    });
    let want = stream_table(&input, "gtable", false);
    assert!(want.iter().any(|(_, v)| v.ends_with("*none")));
    assert_eq!(run(left, &input).await, want);
}

fn show(x: Option<&i64>) -> String {
    x.map_or("none".to_string(), ToString::to_string)
}

/// The table-table join of `kind`, its changes published as
/// `"<left>+<right>"` or `deleted`.
fn table_join(kind: Kind) -> Joins {
    Joins::new("t", move |t| {
        let (left, right) = (t.table(LTABLE), t.table(RTABLE));
        let joined = match kind {
            Kind::Inner => left.join(&right, |l, r| format!("{l}+{r}")),
            Kind::Left => left.left_join(&right, |l, r| format!("{l}+{}", show(r))),
            Kind::Outer => left.outer_join(&right, |l, r| format!("{}+{}", show(l), show(r))),
        };
        joined
            .to_stream()
            .map_values(|v| v.clone().unwrap_or_else(|| "deleted".to_string()))
            .to(OUT);
    })
}

#[tokio::test]
async fn table_table_joins_are_recomputed_on_either_sides_change() {
    let input = events(3, 2_000, &["ltable", "rtable"], 8, 0);
    for kind in [Kind::Inner, Kind::Left, Kind::Outer] {
        let want = table_table(&input, kind);
        assert!(
            want.iter().any(|(_, v)| v == "deleted"),
            "{kind:?}: deletions happen"
        );
        assert_eq!(run(table_join(kind), &input).await, want, "{kind:?}");
    }
}

#[tokio::test]
async fn a_joined_table_sent_to_a_port_deletes_with_tombstones() {
    let product = Joins::new("t", |t| {
        let (left, right) = (t.table(LTABLE), t.table(RTABLE));
        left.join(&right, |l, r| format!("{l}+{r}")).to(OUT);
    });
    let mut driver = TestDriver::start(product).await.expect("starts");
    let k = "k".to_string();
    driver.pipe("ltable", &k, &1i64).await.expect("piped");
    driver.pipe("rtable", &k, &2i64).await.expect("piped");
    driver.pipe_tombstone("rtable", &k).await.expect("piped");
    let raw = driver.read_raw("out").expect("out");
    assert_eq!(raw.len(), 2);
    assert_eq!(raw[0].value.as_deref(), Some(&br#""1+2""#[..]));
    assert_eq!(raw[1].key.as_deref(), Some(&b"k"[..]));
    assert_eq!(raw[1].value, None, "the deletion is a tombstone");
}

#[tokio::test]
async fn stream_stream_inner_join_pairs_records_within_the_window_once() {
    // Out of order by up to 300 ms; pairs within 100 ms; records kept for
    // 400 ms of stream time past their buffering, so some partners are gone.
    let input = events(4, 3_000, &["left", "right"], 6, 300);
    let windows = JoinWindows::within(Duration::from_millis(100)).grace(Duration::from_millis(300));
    let product = Joins::new("t", move |t| {
        let right = t.stream(RIGHT);
        t.stream(LEFT)
            .join_within(&right, windows, "pairs", |l, r| format!("{l}&{r}"))
            .to(OUT);
    });
    let want = stream_stream(&input, 100, 400);
    assert!(want.len() > 100);
    assert_eq!(run(product, &input).await, want);
}

#[tokio::test]
async fn a_join_of_a_re_keyed_stream_is_refused_until_it_is_repartitioned() {
    let refused = Joins::new("t", |t| {
        let table = t.table(LTABLE);
        t.stream(LEFT)
            .select_key(|k, _| format!("{k}!"))
            .join(&table, |v, tv| format!("{v}*{tv}"))
            .to(OUT);
    });
    let err = refused.descriptor().expect_err("refused").to_string();
    assert!(
        err.contains("`join` of a stream whose keys a step changed"),
        "{err}"
    );
    assert!(err.contains("repartition"), "{err}");

    let repartitioned = Joins::new("t", |t| {
        let table = t.table(LTABLE);
        t.stream(LEFT)
            .select_key(|k, _| k.trim_end_matches('x').to_string())
            .repartition("by-key")
            .join(&table, |v, tv| format!("{v}*{tv}"))
            .to(OUT);
    });
    assert_eq!(
        repartitioned.descriptor().expect("descriptor").repartitions,
        ["by-key"]
    );
    let input = [
        Event {
            port: "ltable",
            key: "k1".into(),
            value: Some(7),
            at: 0,
        },
        Event {
            port: "left",
            key: "k1x".into(),
            value: Some(3),
            at: 0,
        },
    ];
    assert_eq!(
        run(repartitioned, &input).await,
        [("k1".to_string(), "3*7".to_string())]
    );
}

#[tokio::test]
async fn a_join_reads_a_table_from_a_port_not_a_joins_result() {
    let product = Joins::new("t", |t| {
        let (left, right) = (t.table(LTABLE), t.table(RTABLE));
        let joined = left.join(&right, |l, r| l + r);
        t.stream(LEFT).join(&joined, |v, j| format!("{v}{j}")).to(OUT);
    });
    let err = product.descriptor().expect_err("refused").to_string();
    assert!(err.contains("the result of a join has no store"), "{err}");
}

#[tokio::test]
async fn a_table_port_must_be_keyed() {
    let product = meshkit::ProductDescriptor::builder("tests", "unkeyed")
        .version("0.1.0")
        .owner("meshkit-tests")
        .input("left", "t.left")
        .table_with("ltable", "t.ltable", meshkit::schema::PortSchema::json::<i64>())
        .output("out", "t.out")
        .build();
    let err = product.expect_err("refused").to_string();
    assert!(err.contains("table port `ltable` has no typed key"), "{err}");
}
