//! Example meshkit data products, each ready to copy as a template for a new
//! product. Run one with `cargo run -p meshkit-examples --bin orders-enrich`.

pub mod demo;
pub mod orders;
pub mod spend;
