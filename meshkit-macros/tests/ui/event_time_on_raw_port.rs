//! An event time on a port of raw bytes: there is no value to read it from.

use meshkit::{Context, TransformError};

pub struct Relay;

#[meshkit::product(
    domain = "plant",
    name = "relay",
    version = "1.0.0",
    owner = "team-plant@example.com",
    input(readings, topic = "plant.readings", event_time = measured_at),
    output(copies, topic = "plant.copies"),
)]
impl Relay {
    #[transform(readings)]
    fn on_reading(value: Option<&[u8]>, ctx: &mut Context) -> Result<(), TransformError> {
        let _ = (value, ctx);
        Ok(())
    }
}

fn main() {}
