//! The user contract: what a product implements ([`DataProduct`]) and what
//! the runtime hands its transform ([`Context`], and the typed store handles
//! it opens on it).
//!
//! Everything the `meshkit-macros` DSL generates is written against these
//! items; a product can implement them by hand.

mod context;
mod emit;
#[cfg(feature = "state")]
mod handles;
mod outputs;

use std::future::Future;

pub use context::{Context, DeadLetterReason};
pub use emit::EmitError;
#[cfg(feature = "state")]
pub use handles::{LocalState, StoreRef, WindowStoreRef};
#[cfg(feature = "avro")]
pub use outputs::Output;
pub use outputs::RawOutput;

use crate::error::{DescriptorError, TransformError};
use crate::product::ProductDescriptor;
use crate::record::Record;

/// A data product: its declaration and its transform.
///
/// The runtime calls [`process`](DataProduct::process) once per input record,
/// in offset order within each input partition. Outputs go through the
/// [`Context`]; they become visible to read_committed readers only when the
/// transaction that carries the input's offset commits, so a record is
/// processed exactly once however the product crashes.
///
/// # Examples
///
/// A stateless product that upper-cases every value:
///
/// ```
/// use meshkit::{Context, DataProduct, DescriptorError, ProductDescriptor, Record, TransformError};
///
/// struct Shout {
///     descriptor: ProductDescriptor,
/// }
///
/// impl DataProduct for Shout {
///     fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
///         Ok(self.descriptor.clone())
///     }
///
///     async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
///         let value = record.value().unwrap_or_default().to_ascii_uppercase();
///         ctx.emit("loud", record.key().map(<[u8]>::to_vec), value)?;
///         Ok(())
///     }
/// }
/// ```
pub trait DataProduct: Send + 'static {
    /// The product's identity and ports. Called once, by
    /// [`Runtime::new`](crate::Runtime::new), which checks it again.
    ///
    /// # Errors
    ///
    /// A [`DescriptorError`] if the declaration breaks a rule (typically the
    /// one [`DescriptorBuilder::build`] returns).
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError>;

    /// Processes one input record, emitting outputs through `ctx`.
    ///
    /// # Errors
    ///
    /// A [`TransformError`] makes the runtime abort the open transaction,
    /// rewind, and apply the [`ErrorPolicy`](crate::ErrorPolicy) to this record.
    fn process(
        &mut self,
        record: &Record<'_>,
        ctx: &mut Context,
    ) -> impl Future<Output = Result<(), TransformError>> + Send;
}
