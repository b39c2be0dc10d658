//! A build without the `embedded-kafka` feature has no embedded cluster:
//! the same calls as `embedded.rs` on a type that cannot exist. The runtime
//! refused a configuration that asks for the cluster when it was built.

use super::ClusterError;

/// No embedded cluster in this build.
#[derive(Debug)]
pub(crate) enum EmbeddedCluster {}

impl EmbeddedCluster {
    pub(crate) fn start() -> Result<Self, ClusterError> {
        Err(ClusterError::Embedded(
            "this build of meshkit leaves it out (Cargo feature `embedded-kafka`)".into(),
        ))
    }

    pub(crate) fn bootstrap_servers(&self) -> &str {
        match *self {}
    }

    pub(crate) fn create_topic(&self, _name: &str, _partitions: i32) -> Result<(), ClusterError> {
        match *self {}
    }
}
