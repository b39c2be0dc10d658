//! A checked data product: what `check.rs` makes of the syntax tree once every
//! rule holds, and all that `expand.rs` needs. Every required part is present
//! here, so code generation has no case left to fail on.

use proc_macro2::Span;
use syn::{Ident, LitStr, Type};

/// A checked product declaration.
pub(crate) struct Product {
    /// Where the runtime is: `::meshkit` or the `crate = "..."` override.
    pub(crate) krate: syn::Path,
    pub(crate) domain: LitStr,
    pub(crate) name: LitStr,
    pub(crate) version: LitStr,
    pub(crate) owner: LitStr,
    pub(crate) description: Option<LitStr>,
    pub(crate) tags: Vec<LitStr>,
    pub(crate) freshness: Option<Millis>,
    pub(crate) latency: Option<Millis>,
    pub(crate) inputs: Vec<Port>,
    pub(crate) outputs: Vec<Port>,
    pub(crate) stores: Vec<Store>,
    pub(crate) transforms: Vec<Transform>,
    pub(crate) timers: Vec<Timer>,
    /// The method marked `#[topology]`, which builds the stream operators.
    pub(crate) topology: Option<TopologyMethod>,
    /// `lifecycle`, where it is written: the generated `DataProduct` calls
    /// the product's `Lifecycle` hooks.
    pub(crate) lifecycle: Option<proc_macro2::Span>,
}

/// A duration checked at compile time, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Millis {
    pub(crate) ms: u64,
}

/// An input or output port.
pub(crate) struct Port {
    pub(crate) name: Ident,
    pub(crate) topic: LitStr,
    /// The type of its values; `None` for a port of raw bytes.
    pub(crate) value: Option<Type>,
    /// The type of its keys, on a keyed port (only with `value`).
    pub(crate) key: Option<Type>,
    /// The values' format (Avro unless `format = ...` says otherwise).
    pub(crate) format: Format,
    /// The keys' format, on a keyed port.
    pub(crate) key_format: Format,
    /// The value's field that holds the record's event time (input ports).
    pub(crate) event_time: Option<Ident>,
    /// An input port read as a table (`table(...)` or `global_table(...)`).
    pub(crate) table: bool,
    /// A table every instance reads whole (`global_table(...)`).
    pub(crate) global: bool,
}

/// How a part of a port's records travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Avro,
    Json,
    String,
    JsonSchema,
    Protobuf,
}

impl Format {
    pub(crate) const VALUE_NAMES: [&'static str; 4] = ["avro", "json", "json_schema", "protobuf"];
    pub(crate) const KEY_NAMES: [&'static str; 5] = ["string", "avro", "json", "json_schema", "protobuf"];

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "avro" => Some(Self::Avro),
            "json" => Some(Self::Json),
            "string" => Some(Self::String),
            "json_schema" => Some(Self::JsonSchema),
            "protobuf" => Some(Self::Protobuf),
            _ => None,
        }
    }
}

/// A state store.
pub(crate) struct Store {
    pub(crate) name: Ident,
    pub(crate) key: Type,
    pub(crate) value: Type,
    pub(crate) window: Option<Window>,
    /// For a key-value store whose entries expire: after how long, on
    /// which clock.
    pub(crate) ttl: Option<(Millis, Clock)>,
    /// Whether its values are kept with their Avro schema (`format = avro`),
    /// so that their type can evolve.
    pub(crate) avro_values: bool,
}

/// A windowed store's windows.
pub(crate) struct Window {
    pub(crate) kind: WindowKind,
    /// The window size; for sessions, the inactivity gap.
    pub(crate) size: Millis,
    /// `None` for tumbling windows (advance = size).
    pub(crate) advance: Option<Millis>,
    pub(crate) grace: Option<Millis>,
    pub(crate) emit: Option<(Emit, Span)>,
    /// How long closed time windows stay readable.
    pub(crate) retention: Option<Millis>,
}

/// The shape of a store's windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WindowKind {
    /// Tumbling or hopping (by `advance`).
    Time,
    Sliding,
    Session,
}

/// When a windowed store's results are published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Emit {
    EveryUpdate,
    OnClose,
}

/// How a transform method takes the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Receiver {
    /// An associated function: called as `Self::f(...)`.
    None,
    /// `&self` or `&mut self`: called as `self.f(...)`.
    Ref,
}

/// A method bound to an input port.
pub(crate) struct Transform {
    pub(crate) method: Ident,
    pub(crate) receiver: Receiver,
    pub(crate) is_async: bool,
    /// Index into [`Product::inputs`].
    pub(crate) input: usize,
    /// Indexes into [`Product::stores`], in the order the method takes them.
    pub(crate) stores: Vec<usize>,
    /// Whether the method takes the `&Record<'_>` first.
    pub(crate) record: bool,
    /// The span of each parameter's type (receiver excluded), so that a type
    /// mismatch is reported on the user's parameter.
    pub(crate) param_spans: Vec<Span>,
    /// The span of the return type (or of the name, if there is none).
    pub(crate) output_span: Span,
}

/// Which clock a timer follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clock {
    Wall,
    Stream,
}

/// A method run on a schedule: `#[timer(every = "30s", clock = wall)]`.
pub(crate) struct Timer {
    /// The method, whose name is the timer's.
    pub(crate) method: Ident,
    pub(crate) receiver: Receiver,
    pub(crate) is_async: bool,
    pub(crate) every: Millis,
    pub(crate) clock: Clock,
    /// Indexes into [`Product::stores`], in the order the method takes them.
    pub(crate) stores: Vec<usize>,
    /// The span of each parameter's type (receiver excluded).
    pub(crate) param_spans: Vec<Span>,
    /// The span of the return type (or of the name, if there is none).
    pub(crate) output_span: Span,
}

/// The method that builds the product's stream operators:
/// `#[topology] fn flow(t: &mut Topology)`.
pub(crate) struct TopologyMethod {
    pub(crate) method: Ident,
    /// The span of its parameter's type, where a wrong type is reported.
    pub(crate) param_span: Span,
}
