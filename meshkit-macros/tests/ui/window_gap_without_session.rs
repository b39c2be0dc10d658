//! A gap on time windows: only sessions have one.

use meshkit::{Context, TransformError};

pub struct Visits;

#[meshkit::product(
    domain = "web",
    name = "visits",
    version = "1.0.0",
    owner = "team-web@example.com",
    input(clicks, topic = "web.clicks"),
    output(visits, topic = "web.visits"),
    store(sessions, key = String, value = u64, window(size = "1h", gap = "30m")),
)]
impl Visits {
    #[transform(clicks)]
    fn on_click(value: Option<&[u8]>, ctx: &mut Context) -> Result<(), TransformError> {
        let _ = (value, ctx);
        Ok(())
    }
}

fn main() {}
