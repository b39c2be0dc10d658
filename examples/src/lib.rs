//! Example meshkit data products, each ready to copy as a template for a new
//! product. Run one with `cargo run -p meshkit-examples --bin orders-enrich`
//! (the stateful one with `--features state --bin customer-spend`).

pub mod demo;
#[cfg(feature = "state")]
pub mod enrich;
pub mod orders;
#[cfg(feature = "state")]
pub mod spend;
#[cfg(feature = "state")]
pub mod stats;
