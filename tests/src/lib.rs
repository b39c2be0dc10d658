//! End-to-end test support for meshkit: the broker under test, the
//! committed-view oracle, and the product the tests run.

pub mod broker;
pub mod cluster;
pub mod crash;
pub mod joins;
pub mod lineage;
pub mod ops;
pub mod oracle;
pub mod process;
pub mod product;
pub mod python;
pub mod run;
pub mod scrape;
pub mod typed;
pub mod verify;
pub mod windowed;
pub mod windows;
