//! `#[meshkit::product]` on a struct instead of its `impl` block.

#[meshkit::product(domain = "sales", name = "n", version = "1.0.0", owner = "o")]
pub struct CustomerSpend;

fn main() {}
