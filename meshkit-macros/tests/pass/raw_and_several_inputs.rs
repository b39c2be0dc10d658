//! Two input ports, one of raw bytes; transforms without receiver, with
//! `&self`, sync and async.

use meshkit::{Context, DataProduct, Record, TransformError};

#[derive(apache_avro::AvroSchema, serde::Serialize, serde::Deserialize)]
pub struct Refund {
    pub amount_cents: i64,
}

pub struct Ledger {
    pub prefix: String,
}

#[meshkit::product(
    domain = "finance",
    name = "ledger",
    version = "0.1.0",
    owner = "team-finance",
    input(raw, topic = "finance.raw"),
    input(refunds, topic = "finance.refunds", value = Refund),
    output(entries, topic = "finance.ledger"),
)]
impl Ledger {
    #[transform(raw)]
    fn on_raw(value: Option<&[u8]>, ctx: &mut Context) -> Result<(), TransformError> {
        ctx.emit("entries", None, value.unwrap_or_default().to_vec())?;
        Ok(())
    }

    #[transform(refunds)]
    async fn on_refund(&self, refund: &Refund, ctx: &mut Context) -> Result<(), TransformError> {
        ctx.emit("entries", None, format!("{}-{}", self.prefix, refund.amount_cents))?;
        Ok(())
    }

    /// Not a transform: left alone.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn main() {
    let mut product = Ledger { prefix: "r".into() };
    let descriptor = product.descriptor().expect("valid");
    let mut ctx = Context::new(&descriptor);
    let record = Record::new("raw", "finance.raw", 0, 0).with_value(b"x");
    block_on(product.process(&record, &mut ctx)).expect("raw");
    let refund = Refund { amount_cents: 3 };
    let record = Record::new("refunds", "finance.refunds", 0, 0).with_decoded_value(&refund);
    block_on(product.process(&record, &mut ctx)).expect("refund");
    let record = Record::new("nope", "finance.nope", 0, 0);
    assert!(block_on(product.process(&record, &mut ctx)).is_err(), "an unknown port is an error");
    assert_eq!(ctx.take_emitted().len(), 2);
    assert_eq!(product.prefix(), "r");
}
