//! A product written with the stream operators, for the operator tests, and
//! the independent computation of what it must publish.
//!
//! Input: page views keyed by user (JSON). The topology dead-letters views
//! without a page, drops views of no duration, and from the rest publishes:
//! the count of views per page (re-keyed by page: a repartition), each
//! user's total view time (by the input's key: no repartition), the count
//! per tag (tags flat-mapped into records keyed by tag, then grouped by that
//! key: a repartition), and per page and 10-second window of event time the
//! final count when the window closes (a third repartition). Event time is
//! the view's `at`.

use std::collections::BTreeMap;
use std::time::Duration;

use meshkit::ops::{Dataflow, Input};
use meshkit::schema::PortSchema;
use meshkit::state::{Emit, Windows};
use meshkit::{Context, DataProduct, DescriptorError, Output, ProductDescriptor, Record, TransformError};
use serde::{Deserialize, Serialize};

/// One page view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    /// Unique per view.
    pub id: u64,
    /// The page; empty for a broken view (dead-lettered).
    pub page: String,
    /// Event time, ms.
    pub at: i64,
    /// How long the page was viewed; 0 for a bounce (dropped).
    pub ms: i64,
    /// Tags of the page.
    pub tags: Vec<String>,
}

/// The input port.
pub const VIEWS: Input<String, View> = Input::new("views");
/// Views per page, on every update.
pub const PER_PAGE: Output<String, i64> = Output::new("per-page");
/// View time per user, on every update.
pub const PER_USER: Output<String, i64> = Output::new("per-user");
/// Views per tag, on every update.
pub const PER_TAG: Output<String, i64> = Output::new("per-tag");
/// Final views per page and window, keyed `<page>@<window start>`.
pub const PAGE_WINDOWS: Output<String, i64> = Output::new("page-windows");

/// The dead-letter reason of a view without a page.
pub const NO_PAGE: &str = "no-page";
/// Window size, ms.
pub const WINDOW_MS: i64 = 10_000;
/// Grace, ms: beyond any disorder the tests produce, so that no view is
/// late however the partitions interleave, and only a far later view closes
/// windows.
pub const GRACE_MS: i64 = 3_600_000;

/// The stores (and repartitions) the topology keeps.
pub const STORES: [&str; 4] = ["per-page", "per-user", "per-tag", "page-windows"];
/// Those of them fed through a repartition topic.
pub const REPARTITIONED: [&str; 3] = ["per-page", "per-tag", "page-windows"];

/// The product: its topics, and its topology.
#[derive(Debug)]
pub struct PageViews {
    /// Input topic.
    pub input: String,
    /// Output topics are `<output>.<port>`.
    pub output: String,
    flow: Dataflow,
}

impl PageViews {
    /// The product reading `input` and writing `<output>.<port>`.
    pub fn new(input: &str, output: &str) -> Self {
        Self {
            input: input.to_string(),
            output: output.to_string(),
            flow: Dataflow::new(|t| {
                let views = t
                    .stream(VIEWS)
                    .dead_letter_if(NO_PAGE, |_, v| v.page.is_empty())
                    .filter(|_, v| v.ms > 0);
                views
                    .group_by(|_, v| v.page.clone())
                    .count("per-page")
                    .to(PER_PAGE);
                views
                    .group_by_key()
                    .aggregate("per-user", || 0, |total, _, v| total + v.ms)
                    .to(PER_USER);
                views
                    .flat_map(|_, v| v.tags.iter().map(|tag| (tag.clone(), 1i64)).collect::<Vec<_>>())
                    .group_by_key()
                    .reduce("per-tag", |a, b| a + b)
                    .to(PER_TAG);
                let windows = Windows::tumbling(Duration::from_millis(WINDOW_MS as u64))
                    .grace(Duration::from_millis(GRACE_MS as u64))
                    .emit(Emit::OnClose);
                views
                    .map_values(|v| v.page.clone())
                    .select_key(|_, page| page.clone())
                    .group_by_key()
                    .window(windows)
                    .count("page-windows")
                    .map(|w, n| (format!("{}@{}", w.key, w.window.start), *n))
                    .to(PAGE_WINDOWS);
            }),
        }
    }

    /// The topic of output port `port`.
    pub fn topic(&self, port: &str) -> String {
        format!("{}.{port}", self.output)
    }
}

impl DataProduct for PageViews {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        let counts = || PortSchema::json::<i64>().with_string_key();
        let ports = ProductDescriptor::builder("tests", "page-views")
            .version("0.1.0")
            .owner("meshkit-tests")
            .input_with("views", &self.input, PortSchema::json::<View>().with_string_key())
            .output_with("per-page", self.topic("per-page"), counts())
            .output_with("per-user", self.topic("per-user"), counts())
            .output_with("per-tag", self.topic("per-tag"), counts())
            .output_with("page-windows", self.topic("page-windows"), counts());
        self.flow.declare(ports)?.build()
    }

    fn event_time(&self, record: &Record<'_>) -> Option<i64> {
        record.value_as::<View>().ok().map(|v| v.at)
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        self.flow.process(record, ctx)
    }
}

/// Pages views go to.
pub const PAGES: [&str; 7] = ["home", "cart", "search", "item", "help", "about", "blog"];

/// View `id` of `users` users, at `t0 + 10 ms × id`: its user (the key) and
/// the view. A few have no page, a few no duration, some one or two tags.
pub fn view(id: u64, users: u64, t0: i64) -> (String, View) {
    let user = format!("u-{}", id % users);
    let page = if id % 97 == 13 {
        String::new()
    } else {
        PAGES[((id * 7 + id / 5) % PAGES.len() as u64) as usize].to_string()
    };
    let mut tags = Vec::new();
    if id.is_multiple_of(3) {
        tags.push("promo".to_string());
    }
    if id % 5 == 1 {
        tags.push(format!("t-{}", id % 4));
    }
    let view = View {
        id,
        page,
        at: t0 + 10 * id as i64,
        ms: if id % 31 == 7 { 0 } else { (id % 900) as i64 + 1 },
        tags,
    };
    (user, view)
}

/// A view of `page` far after `after`, by user `u-0`, that closes every
/// window of its page's task.
pub fn flush_view(id: u64, page: &str, after: i64) -> (String, View) {
    let view = View {
        id,
        page: page.to_string(),
        at: after + 2 * GRACE_MS,
        ms: 1,
        tags: Vec::new(),
    };
    ("u-0".to_string(), view)
}

/// What the product must publish for `views` (in the order each user's
/// views are read), computed without meshkit.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expected {
    /// Per page: the counts published, in order (1, 2, … n).
    pub per_page: BTreeMap<String, Vec<i64>>,
    /// Per user: the running totals published, in order.
    pub per_user: BTreeMap<String, Vec<i64>>,
    /// Per tag: the counts published, in order.
    pub per_tag: BTreeMap<String, Vec<i64>>,
    /// Per `<page>@<window start>`: the final count, for the windows closed
    /// by the latest view.
    pub page_windows: BTreeMap<String, i64>,
    /// The ids of the views dead-lettered.
    pub dead: Vec<u64>,
    /// Records written to each repartition topic.
    pub repartitioned: BTreeMap<&'static str, usize>,
}

/// The independent computation.
pub fn expected(views: &[(String, View)]) -> Expected {
    let mut out = Expected::default();
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    let mut windows: BTreeMap<(String, i64), i64> = BTreeMap::new();
    let latest = views.iter().map(|(_, v)| v.at).max().unwrap_or(0);
    for (user, v) in views {
        if v.page.is_empty() {
            out.dead.push(v.id);
            continue;
        }
        if v.ms <= 0 {
            continue;
        }
        let page = out.per_page.entry(v.page.clone()).or_default();
        page.push(page.len() as i64 + 1);
        let total = totals.entry(user.clone()).or_default();
        *total += v.ms;
        out.per_user.entry(user.clone()).or_default().push(*total);
        for tag in &v.tags {
            let counts = out.per_tag.entry(tag.clone()).or_default();
            counts.push(counts.len() as i64 + 1);
        }
        let start = v.at - v.at.rem_euclid(WINDOW_MS);
        *windows.entry((v.page.clone(), start)).or_default() += 1;
        *out.repartitioned.entry("per-page").or_default() += 1;
        *out.repartitioned.entry("page-windows").or_default() += 1;
        *out.repartitioned.entry("per-tag").or_default() += v.tags.len();
    }
    out.page_windows = (windows.into_iter())
        .filter(|((_, start), _)| start + WINDOW_MS + GRACE_MS <= latest)
        .map(|((page, start), n)| (format!("{page}@{start}"), n))
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_computation_of_a_hand_worked_case() {
        let t0 = 0;
        let view = |id: u64, user: &str, page: &str, at: i64, ms: i64, tags: &[&str]| {
            let tags = tags.iter().map(|t| t.to_string()).collect();
            (
                user.to_string(),
                View {
                    id,
                    page: page.to_string(),
                    at: t0 + at,
                    ms,
                    tags,
                },
            )
        };
        let views = vec![
            view(1, "a", "home", 1_000, 5, &["x"]),
            view(2, "b", "home", 2_000, 7, &[]),
            view(3, "a", "", 3_000, 9, &["x"]),
            view(4, "a", "cart", 12_000, 0, &["x"]),
            view(5, "a", "cart", 13_000, 2, &["x", "y"]),
            view(6, "b", "home", 20_000 + GRACE_MS, 1, &[]),
        ];
        let e = expected(&views);
        assert_eq!(e.dead, [3]);
        assert_eq!(e.per_page["home"], [1, 2, 3]);
        assert_eq!(e.per_page["cart"], [1]);
        assert_eq!(e.per_user["a"], [5, 7]);
        assert_eq!(e.per_user["b"], [7, 8]);
        assert_eq!(e.per_tag["x"], [1, 2]);
        assert_eq!(e.per_tag["y"], [1]);
        // Closed by view 6: [0, 10 s) and [10 s, 20 s); its own window is open.
        let closed: Vec<(&str, i64)> = e.page_windows.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        assert_eq!(closed, [("cart@10000", 1), ("home@0", 2)]);
        assert_eq!(e.repartitioned["per-page"], 4);
        assert_eq!(e.repartitioned["per-tag"], 3);
    }
}
