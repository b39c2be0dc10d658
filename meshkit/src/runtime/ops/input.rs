//! The typed handle of an input port, where a stream starts.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;

use crate::error::TransformError;
use crate::record::Record;

/// A typed port handle: the struct, with its docs, and what every kind
/// shares (copying, `Debug`, `new` and `name`).
macro_rules! port_handle {
    ($(#[$doc:meta])* $handle:ident) => {
        $(#[$doc])*
        pub struct $handle<K, V> {
            name: &'static str,
            _types: PhantomData<fn() -> (K, V)>,
        }

        impl<K, V> Clone for $handle<K, V> {
            fn clone(&self) -> Self {
                *self
            }
        }

        impl<K, V> Copy for $handle<K, V> {}

        impl<K, V> fmt::Debug for $handle<K, V> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($handle)).field(&self.name).finish()
            }
        }

        impl<K, V> $handle<K, V> {
            /// The handle of the port named `name`. That the product declares
            /// it, with these types, is checked on its first record.
            pub const fn new(name: &'static str) -> Self {
                Self {
                    name,
                    _types: PhantomData,
                }
            }

            /// The port's name (a table's is also its store's).
            pub const fn name(&self) -> &'static str {
                self.name
            }
        }
    };
}

port_handle!(
    /// The typed handle of input port `name`, whose keys are `K` (`()` on a
    /// port without keys) and values `V`: [`Topology::stream`](super::Topology::stream)
    /// starts a stream from it. The DSL generates one per `input(...)` with a
    /// value type, as a field of `Self::IN`. That the port carries these types
    /// is checked on the first record (the runtime decodes it with the port's
    /// schema).
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::ops::Input;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Order {
    ///     cents: i64,
    /// }
    ///
    /// const ORDERS: Input<String, Order> = Input::new("orders");
    /// assert_eq!(ORDERS.name(), "orders");
    /// ```
    Input
);

/// The key of a port without keys.
static NO_KEY: () = ();

impl<K: Any, V: Any> Input<K, V> {
    /// The record's decoded key and value.
    pub(super) fn decode<'r>(&self, record: &Record<'r>) -> Result<(&'r K, &'r V), TransformError> {
        let key = match (&NO_KEY as &dyn Any).downcast_ref::<K>() {
            Some(none) => none,
            None => record.key_as::<K>()?,
        };
        Ok((key, record.value_as::<V>()?))
    }
}

port_handle!(
    /// The typed handle of table port `name` (declared with
    /// [`DescriptorBuilder::table_with`](crate::DescriptorBuilder::table_with)),
    /// keyed by `K` with values `V`: [`Topology::table`](super::Topology::table)
    /// materializes it. The DSL generates one per `table(...)`, as a field of
    /// `Self::IN`; a table handle cannot start a stream, nor a stream's a table.
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::ops::TableInput;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Customer {
    ///     name: String,
    /// }
    ///
    /// const CUSTOMERS: TableInput<String, Customer> = TableInput::new("customers");
    /// assert_eq!(CUSTOMERS.name(), "customers");
    /// ```
    TableInput
);

impl<K: Any, V: Any> TableInput<K, V> {
    /// The record's decoded key, and its value (`None` for a tombstone).
    pub(super) fn decode<'r>(&self, record: &Record<'r>) -> Result<(&'r K, Option<&'r V>), TransformError> {
        let key = record.key_as::<K>()?;
        match record.value() {
            None => Ok((key, None)),
            Some(_) => Ok((key, Some(record.value_as::<V>()?))),
        }
    }
}

port_handle!(
    /// The typed handle of global table port `name` (declared with
    /// [`DescriptorBuilder::global_table_with`](crate::DescriptorBuilder::global_table_with)),
    /// keyed by `K` with values `V`: [`Topology::global_table`](super::Topology::global_table)
    /// keeps it. The DSL generates one per `global_table(...)`, as a field of
    /// `Self::IN`.
    ///
    /// # Examples
    ///
    /// ```
    /// use meshkit::ops::GlobalTableInput;
    ///
    /// const COUNTRIES: GlobalTableInput<String, String> = GlobalTableInput::new("countries");
    /// assert_eq!(COUNTRIES.name(), "countries");
    /// ```
    GlobalTableInput
);

impl<K, V> GlobalTableInput<K, V> {
    /// As a table port's handle, to decode with.
    pub(super) const fn as_table(&self) -> TableInput<K, V> {
        TableInput::new(self.name)
    }
}
