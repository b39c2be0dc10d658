//! `#[transform]` on a method of an `impl` block without `#[meshkit::product]`.

use meshkit::{Context, TransformError};

pub struct CustomerSpend;

impl CustomerSpend {
    #[meshkit::transform(orders)]
    fn on_order(&mut self, ctx: &mut Context) -> Result<(), TransformError> {
        let _ = ctx;
        Ok(())
    }
}

fn main() {}
