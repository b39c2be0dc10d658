//! Procedural macros for meshkit data products.
//!
//! The DSL is being built on top of meshkit's public traits; until it lands,
//! every data product is written by hand against those traits (see the
//! `meshkit` crate). This crate is re-exported by `meshkit` and pinned to it
//! with an exact version so that the two never drift.
