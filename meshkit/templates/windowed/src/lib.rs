//! `{{domain}}/{{name}}`: a windowed data product. It reads Avro page views
//! keyed by page, counts each page's views per one-minute tumbling window of
//! event time, publishes each window's final count when it closes (10 s of
//! grace for late views), and dead-letters views that come after their
//! window closed.

use apache_avro::AvroSchema;
use meshkit::state::WindowStoreRef;
use meshkit::{Context, TransformError};
use serde::{Deserialize, Serialize};

/// A page view, as Avro on the input topic (schema in the registry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
pub struct PageView {
    /// Who viewed the page.
    pub user: String,
}

/// A page's views in one minute, as this product publishes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
pub struct ViewsPerMinute {
    /// The page (the input's key).
    pub page: String,
    /// Start of the minute, ms since the Unix epoch.
    pub minute_start: i64,
    /// Views in it.
    pub views: i64,
}

/// The data product.
#[derive(Debug, Clone, Default)]
pub struct {{Type}};

#[meshkit::product(
    domain = "{{domain}}", name = "{{name}}", version = "0.1.0", owner = "{{owner}}",
    description = "Views per page per minute, published when the minute closes",
    input(views, topic = "{{domain}}.page-views", key = String, value = PageView),
    output(per_minute, topic = "{{domain}}.{{name}}", key = String, value = ViewsPerMinute),
    store(per_minute, key = String, value = i64, window(size = "1m", grace = "10s", emit = on_close)),
)]
impl {{Type}} {
    #[transform(views, stores = [per_minute])]
    fn on_view(
        page: &String,
        _view: &PageView,
        per_minute: WindowStoreRef<String, i64>,
        ctx: &mut Context,
    ) -> Result<(), TransformError> {
        let counted = per_minute.update(ctx, page, |views| views.unwrap_or(0) + 1)?;
        if counted.late {
            ctx.dead_letter("late-record", "the view came after its minute closed");
        }
        for (minute, page, views) in counted.into_results() {
            let count = ViewsPerMinute { page: page.clone(), minute_start: minute.start, views };
            Self::OUT.per_minute.send_at(ctx, &page, &count, minute.end)?;
        }
        Ok(())
    }
}

/// Sample input for the demo: `(page, view, timestamp)`, 25 s apart, so
/// that minutes close as it runs.
pub fn samples() -> Vec<(String, PageView, i64)> {
    let start = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    (0..8)
        .map(|i| (format!("/page-{}", i % 2), PageView { user: format!("u-{i}") }, start + 25_000 * i as i64))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use meshkit::testing::{TestDriver, TestRecord};

    use super::*;

    /// 2026-01-01T00:00:00Z, a minute's start.
    const MINUTE: i64 = 1_767_225_600_000;

    async fn view(driver: &mut TestDriver<{{Type}}>, page: &str, at: i64) {
        let (page, view) = (page.to_string(), PageView { user: "u".into() });
        driver.pipe_record("views", TestRecord::new(&page, &view).at(at)).await.expect("piped");
    }

    #[tokio::test]
    async fn a_minute_is_published_once_when_it_closes() -> Result<(), Box<dyn std::error::Error>> {
        let mut driver = TestDriver::start({{Type}}).await?;
        view(&mut driver, "/a", MINUTE + 1_000).await;
        view(&mut driver, "/a", MINUTE + 59_000).await;
        view(&mut driver, "/b", MINUTE + 30_000).await;
        assert!(driver.read({{Type}}::OUT.per_minute)?.is_empty(), "the minute is still open");
        view(&mut driver, "/a", MINUTE + 70_000).await; // past the end plus the grace
        let closed = driver.read({{Type}}::OUT.per_minute)?;
        let counts: Vec<(String, i64)> = closed.iter().map(|r| (r.key.clone(), r.value.views)).collect();
        assert_eq!(counts, [("/a".to_string(), 2), ("/b".to_string(), 1)]);
        assert!(closed.iter().all(|r| r.timestamp == Some(MINUTE + 60_000)), "stamped with the window's end");
        Ok(())
    }

    #[tokio::test]
    async fn late_views_are_dead_letters() -> Result<(), Box<dyn std::error::Error>> {
        let mut driver = TestDriver::start({{Type}}).await?;
        view(&mut driver, "/a", MINUTE + 75_000).await;
        view(&mut driver, "/a", MINUTE + 5_000).await;
        let dead = driver.dead_letters();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].reason, "late-record");
        Ok(())
    }

    #[tokio::test]
    async fn open_windows_survive_a_restart() -> Result<(), Box<dyn std::error::Error>> {
        let mut driver = TestDriver::start({{Type}}).await?;
        view(&mut driver, "/a", MINUTE + 1_000).await;
        driver.restart({{Type}});
        driver.advance_time(Duration::from_secs(1));
        view(&mut driver, "/a", MINUTE + 2_000).await;
        view(&mut driver, "/b", MINUTE + 80_000).await;
        let closed = driver.read({{Type}}::OUT.per_minute)?;
        assert_eq!(closed.iter().map(|r| r.value.views).collect::<Vec<_>>(), [2]);
        Ok(())
    }
}
