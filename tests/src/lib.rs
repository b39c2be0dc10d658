//! End-to-end test support for meshkit: the broker under test and the committed-view oracle.

pub mod oracle;
