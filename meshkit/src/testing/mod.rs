//! A test driver: runs a product's whole logic in process, without Kafka,
//! through the same decode and encode path as production (schemas through
//! an in-memory registry, the compatibility gate at start), with its stores
//! in memory. What Kafka Streams' `TopologyTestDriver` is to a topology.
//!
//! Each piped record is one transaction: its outputs, store writes and
//! dead letter are kept if the transform returns `Ok`, dropped if it fails
//! (then the record is dead-lettered, or the product stops, as the
//! [`ErrorPolicy`] says). The driver has one input partition (0).
//!
//! [`TopicWriter`] and [`read_topic`] write and read typed records on real
//! topics in any port's format: for demos on the embedded cluster and tests
//! against a broker.

#[cfg(feature = "state")]
mod driver;
#[cfg(all(test, feature = "state"))]
mod hook_tests;
#[cfg(all(test, feature = "state", feature = "protobuf"))]
mod proto_tests;
mod records;
#[cfg(all(test, feature = "state", feature = "json-schema"))]
mod tests;
#[cfg(all(test, feature = "state"))]
mod timer_tests;
mod topics;

use std::any::Any;

#[cfg(feature = "state")]
#[cfg_attr(docsrs, doc(cfg(feature = "state")))]
pub use driver::TestDriver;
pub use records::{DeadLetter, RawRecord, TestError, TestRecord};
pub use topics::{read_topic, TopicWriter};

use crate::schema::Codec;

/// `()` as a `T`, when `T` is `()`: the key of a port without keys.
fn unit<T: Any>() -> Option<T> {
    (Box::new(()) as Box<dyn Any>).downcast::<T>().ok().map(|b| *b)
}

fn is_unit<T: Any>() -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<()>()
}

fn wrong_type<T>(kind: &'static str, port: &str, part: &'static str, expected: &str) -> TestError {
    TestError::WrongType {
        kind,
        port: port.to_string(),
        part,
        expected: expected.to_string(),
        got: std::any::type_name::<T>(),
    }
}

fn check_type<T: Any>(
    kind: &'static str,
    port: &str,
    part: &'static str,
    codec: &Codec,
) -> Result<(), TestError> {
    if codec.type_id() == std::any::TypeId::of::<T>() {
        Ok(())
    } else {
        Err(wrong_type::<T>(kind, port, part, codec.type_name()))
    }
}
