//! Session and sliding windows in the DSL: clicks per visit (sessions that
//! end after 30 s without a click, published when they close) and clicks
//! in the last 10 s (sliding, every update), run in the test driver with
//! out-of-order and late records.

use meshkit::state::{SessionStoreRef, SlidingStoreRef};
use meshkit::testing::{TestDriver, TestRecord};
use meshkit::{Context, TransformError};

pub struct Visits;

#[meshkit::product(
    domain = "web",
    name = "visits",
    version = "1.0.0",
    owner = "team-web@example.com",
    input(clicks, topic = "web.clicks", key = String, value = i64, format = json),
    output(visits, topic = "web.visits", key = String, value = (i64, i64, u64), format = json),
    output(bursts, topic = "web.bursts", key = String, value = u64, format = json),
    store(sessions, key = String, value = u64, window(kind = session, gap = "30s", grace = "5s", emit = on_close)),
    store(recent, key = String, value = u64, window(kind = sliding, size = "10s")),
)]
impl Visits {
    #[transform(clicks, stores = [sessions, recent])]
    fn on_click(
        user: &String,
        _page: &i64,
        sessions: SessionStoreRef<String, u64>,
        recent: SlidingStoreRef<String, u64>,
        ctx: &mut Context,
    ) -> Result<(), TransformError> {
        let visit = sessions.update(ctx, user, |n| n.unwrap_or(0) + 1, |a, b| a + b)?;
        if visit.late {
            ctx.dead_letter("late", "the click's session has closed");
            return Ok(());
        }
        for (window, user, clicks) in visit.into_results() {
            Self::OUT.visits.send(ctx, &user, &(window.start, window.end, clicks))?;
        }
        let burst = recent.update(ctx, user, 1, |a, b| a + b)?;
        let most = burst.updated.iter().map(|(_, n)| *n).max().unwrap_or(0);
        Self::OUT.bursts.send(ctx, user, &most)?;
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut driver = TestDriver::start(Visits).await?;
    let (a, b) = ("a".to_string(), "b".to_string());
    for (user, at) in [(&a, 1_000), (&a, 9_000), (&b, 2_000), (&a, 5_000), (&a, 50_000), (&b, 90_000)] {
        driver.pipe_record("clicks", TestRecord::new(user, &1_i64).at(at)).await?;
    }
    // Stream time reached 50 s, closing b's visit (2 s, closed at 37 s) and
    // a's first (1 s to 9 s, 3 clicks, at 44 s), then 90 s: a's second (50 s).
    let visits: Vec<(String, (i64, i64, u64))> =
        driver.read(Visits::OUT.visits)?.into_iter().map(|r| (r.key, r.value)).collect();
    let want = vec![
        (b.clone(), (2_000, 2_001, 1)),
        (a.clone(), (1_000, 9_001, 3)),
        (a.clone(), (50_000, 50_001, 1)),
    ];
    assert_eq!(visits, want);
    // The out-of-order click at 5 s made three in the 10 s up to a's click
    // at 9 s. b's click at 2 s came when stream time was 9 s: the window
    // ending at it had closed (no grace), so it updated none.
    let bursts: Vec<u64> = driver.read(Visits::OUT.bursts)?.into_iter().map(|r| r.value).collect();
    assert_eq!(bursts, vec![1, 2, 0, 3, 1, 1]);
    // A click for a closed session is late: dead-lettered, counted nowhere.
    driver.pipe_record("clicks", TestRecord::new(&a, &1_i64).at(3_000)).await?;
    assert_eq!(driver.dead_letters().len(), 1);
    assert!(driver.read(Visits::OUT.bursts)?.is_empty());
    Ok(())
}
