//! An event time on an output port: outputs carry the time they are given.

use meshkit::{Context, TransformError};

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Reading {
    pub sensor: String,
    pub measured_at: i64,
    pub label: String,
}

pub struct Readings;

#[meshkit::product(
    domain = "plant",
    name = "readings",
    version = "1.0.0",
    owner = "team-plant@example.com",
    input(readings, topic = "plant.readings", value = Reading, format = json),
    output(copies, topic = "plant.copies", value = Reading, format = json, event_time = measured_at),
)]
impl Readings {
    #[transform(readings)]
    fn on_reading(value: &Reading, ctx: &mut Context) -> Result<(), TransformError> {
        let _ = (value, ctx);
        Ok(())
    }
}

fn main() {}
