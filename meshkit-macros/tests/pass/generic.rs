//! A generic product type: the generated `impl` carries its generics.

use std::marker::PhantomData;

use meshkit::{Context, DataProduct, TransformError};

#[derive(apache_avro::AvroSchema, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub id: i64,
}

pub struct Forward<T> {
    _marker: PhantomData<fn() -> T>,
}

#[meshkit::product(
    domain = "demo",
    name = "forward",
    version = "1.0.0",
    owner = "team-demo",
    input(events, topic = "demo.events", value = Event),
    output(forwarded, topic = "demo.events.forwarded", value = Event),
)]
impl<T: Send + 'static> Forward<T>
where
    T: Default,
{
    #[transform(events)]
    fn on_event(&mut self, event: &Event, ctx: &mut Context) -> Result<(), TransformError> {
        ctx.emit_value("forwarded", None, &Event { id: event.id })?;
        Ok(())
    }
}

fn main() {
    let product = Forward::<u8> { _marker: PhantomData };
    assert_eq!(product.descriptor().expect("valid").inputs.len(), 1);
}
