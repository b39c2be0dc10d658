//! The rules a declaration must keep, each with one targeted message on the
//! user's tokens: required identity, semver, topic names, unique names,
//! outputs that are not inputs, windows with a size, transforms bound to real
//! ports and stores with the parameters those imply.
//!
//! Rules the compiler checks better (a type without an Avro schema, a store
//! type that serde cannot encode, a parameter of the wrong type) are left to
//! it: `expand.rs` generates code whose type errors land on the user's tokens.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Ident, LitStr, Type};

use crate::errors::Errors;
use crate::keys;
use crate::lit;
use crate::model::{
    Clock, Emit, Format, Millis, Port, Product, Receiver, Store, Timer, TopologyMethod, Transform, Window,
    WindowKind,
};
use crate::parse::{
    Bound, PortArgs, ProductArgs, StoreArgs, TimerFn, TopologyFn, TransformFn, TtlArgs, WindowArgs,
};

/// The runtime's path when no `crate = "..."` is given.
pub(crate) fn default_crate() -> syn::Path {
    syn::parse_quote!(::meshkit)
}

/// The runtime's path as given, or the default if it is missing or cannot be
/// parsed (the mistake is reported by [`product`]).
pub(crate) fn crate_path(args: &ProductArgs) -> syn::Path {
    args.krate
        .as_ref()
        .and_then(|k| k.parse::<syn::Path>().ok())
        .unwrap_or_else(default_crate)
}

/// `tokens` as a person would write them, for messages.
pub(crate) fn show(tokens: &impl ToTokens) -> String {
    let text = tokens.to_token_stream().to_string();
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut previous = ' ';
    while let Some(c) = chars.next() {
        let next = chars.peek().copied().unwrap_or(' ');
        let drop_space = c == ' '
            && (matches!(previous, '<' | '&' | ':' | '(' | '[')
                || matches!(next, '<' | '>' | ',' | ':' | ')' | ']')
                || next == '(' && previous.is_alphanumeric());
        if !drop_space {
            out.push(c);
        }
        previous = c;
    }
    out
}

/// A required value, or a "missing" error at the attribute, unless an
/// unknown key was already reported as a likely typo of it (one mistake,
/// one message).
fn required<T>(value: Option<T>, key: &str, typos: &[&str], errors: &mut Errors, message: &str) -> Option<T> {
    if value.is_none() && !typos.contains(&key) {
        errors.at(Span::call_site(), message);
    }
    value
}

/// A required part of a declaration, or a "missing" error over it (unless
/// an unknown key was reported as a likely typo of `key`).
fn required_in<T>(
    value: Option<T>,
    key: &str,
    typos: &[&str],
    whole: &TokenStream,
    errors: &mut Errors,
    message: String,
) -> Option<T> {
    if value.is_none() && !typos.contains(&key) {
        errors.over(whole, message);
    }
    value
}

/// A name that becomes part of a topic (the application id, changelog topics).
fn check_name_part(lit: &LitStr, what: &str, errors: &mut Errors) {
    let value = lit.value();
    if value.trim().is_empty() {
        errors.over(
            lit,
            format!(
                "the product's `{what}` is empty; give one, e.g. `{}`",
                keys::PRODUCT.example(what)
            ),
        );
    } else if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        errors.over(
            lit,
            format!(
                "the product's `{what}` contains `{}`: it names the consumer group and the stores' changelog \
                 topics, so only ASCII letters, digits, `.`, `_` and `-` are allowed",
                bad.escape_default()
            ),
        );
    }
}

fn duration(lit: &LitStr, what: &str, positive: bool, errors: &mut Errors) -> Option<Millis> {
    match lit::parse_duration(&lit.value()) {
        Ok(0) if positive => {
            errors.over(lit, format!("`{what}` must be longer than zero"));
            None
        }
        Ok(ms) => Some(Millis { ms }),
        Err(reason) => {
            errors.over(
                lit,
                format!("`{}` is not a duration for `{what}`: {reason}", lit.value()),
            );
            None
        }
    }
}

/// Checks everything and returns the checked product, or `None` if any rule
/// is broken (every broken rule is then in `errors`).
pub(crate) fn product(args: ProductArgs, bound: Bound, errors: &mut Errors) -> Option<Product> {
    let krate = match &args.krate {
        None => Some(default_crate()),
        Some(lit) => match lit.parse::<syn::Path>() {
            Ok(path) => Some(path),
            Err(err) => {
                errors.over(
                    lit,
                    format!(
                        "`crate` must be the path meshkit is reachable at, e.g. `crate = \"my_reexport::meshkit\"`; \
                         `{}` is not a path ({err})",
                        lit.value()
                    ),
                );
                None
            }
        },
    };
    let typos = args.typos.as_slice();
    let domain = required(
        args.domain,
        keys::DOMAIN,
        typos,
        errors,
        "missing `domain`: every data product belongs to a business domain, e.g. `domain = \"sales\"`",
    );
    let name = required(
        args.name,
        keys::NAME,
        typos,
        errors,
        "missing `name`: the product's name within its domain, e.g. `name = \"customer-spend\"`",
    );
    let version = required(
        args.version,
        keys::VERSION,
        typos,
        errors,
        "missing `version`: every data product has a semantic version, e.g. `version = \"1.0.0\"`",
    );
    let owner = required(
        args.owner,
        keys::OWNER,
        typos,
        errors,
        "missing `owner`: every data product names its accountable owner (a team or a person), \
         e.g. `owner = \"team-sales@example.com\"`",
    );
    if let Some(domain) = &domain {
        check_name_part(domain, keys::DOMAIN, errors);
    }
    if let Some(name) = &name {
        check_name_part(name, keys::NAME, errors);
    }
    if let Some(owner) = &owner {
        if owner.value().trim().is_empty() {
            errors.over(
                owner,
                "the product's `owner` is empty; name a team or a person who answers for it",
            );
        }
    }
    if let Some(version) = &version {
        if let Err(reason) = lit::parse_version(&version.value()) {
            errors.over(
                version,
                format!("`{}` is not a semantic version: {reason}", version.value()),
            );
        }
    }
    check_tags(&args.tags, errors);
    let (freshness, latency) = match &args.slo {
        None => (None, None),
        Some(slo) => (
            slo.freshness
                .as_ref()
                .and_then(|l| duration(l, keys::FRESHNESS, true, errors)),
            slo.latency
                .as_ref()
                .and_then(|l| duration(l, keys::LATENCY, true, errors)),
        ),
    };

    let (declared_inputs, declared_outputs) = (args.inputs.len(), args.outputs.len());
    // Names of declarations with a mistake still count as declared, so that a
    // transform naming them gets no second message.
    let declared = Declared {
        inputs: args
            .inputs
            .iter()
            .filter_map(|p| p.name.as_ref())
            .map(ToString::to_string)
            .collect(),
        stores: args
            .stores
            .iter()
            .filter_map(|s| s.name.as_ref())
            .map(ToString::to_string)
            .collect(),
    };
    let inputs = ports(args.inputs, "input", errors);
    let outputs = ports(args.outputs, "output", errors);
    if declared_inputs == 0 {
        errors.at(
            Span::call_site(),
            format!(
                "the product declares no input port: add one, e.g. `{}`",
                keys::PRODUCT.example(keys::INPUT)
            ),
        );
    }
    if declared_outputs == 0 {
        errors.at(
            Span::call_site(),
            format!(
                "the product declares no output port: add one, e.g. `{}`",
                keys::PRODUCT.example(keys::OUTPUT)
            ),
        );
    }
    check_port_names(&inputs, &outputs, errors);
    check_topics(&inputs, &outputs, errors);
    let stores = stores(args.stores, errors);
    let topology = bind_topology(bound.topologies, errors);
    let transforms = bind_transforms(
        bound.transforms,
        (&inputs, &outputs),
        &stores,
        &declared,
        topology.is_some(),
        errors,
    );
    if topology.is_some() {
        check_topology_inputs(&inputs, &transforms, errors);
    } else if let Some(table) = inputs.iter().find(|p| p.table) {
        let read = if table.global { "global_table" } else { "table" };
        errors.at(
            table.name.span(),
            format!(
                "table `{0}` is read by the product's topology: add a `#[topology]` method that reads it with \
                 `t.{read}(Self::IN.{0})`",
                table.name
            ),
        );
    }
    let timers = bind_timers(bound.timers, &stores, &declared, errors);

    if !errors.is_empty() {
        return None;
    }
    Some(Product {
        krate: krate?,
        domain: domain?,
        name: name?,
        version: version?,
        owner: owner?,
        description: args.description,
        tags: args.tags,
        freshness,
        latency,
        inputs,
        outputs,
        stores,
        transforms,
        timers,
        topology,
        lifecycle: args.lifecycle.map(|flag| flag.span()),
    })
}

/// The topology reads the input ports no transform is bound to, as typed
/// streams: each needs a value type.
fn check_topology_inputs(inputs: &[Port], transforms: &[Transform], errors: &mut Errors) {
    for (i, port) in inputs.iter().enumerate() {
        if port.value.is_none() && !transforms.iter().any(|t| t.input == i) {
            errors.at(
                port.name.span(),
                format!(
                    "input port `{}` has no transform, so the topology reads it, and a topology reads typed \
                     streams: give the port a value type (e.g. `value = Order`) or bind a `#[transform({})]` to it",
                    port.name, port.name
                ),
            );
        }
    }
}

/// The method marked `#[topology]`, if any: one, an associated function
/// (the topology is built once per product type), not `async`.
fn bind_topology(topologies: Vec<TopologyFn>, errors: &mut Errors) -> Option<TopologyMethod> {
    let mut topologies = topologies.into_iter();
    let TopologyFn { sig, .. } = topologies.next()?;
    for extra in topologies {
        errors.over(
            &extra.attr,
            format!(
                "a product has one `#[topology]` method, and `{}` is already it: build every stream there",
                sig.ident
            ),
        );
    }
    let method = &sig.ident;
    if let Some(receiver) = sig.receiver() {
        errors.over(
            receiver,
            format!(
                "`{method}` builds the topology once for the product type, so it takes no `self`: \
                 `fn {method}(t: &mut Topology)`"
            ),
        );
    }
    if let Some(asyncness) = &sig.asyncness {
        errors.over(
            asyncness,
            format!("`{method}` only builds the topology: it cannot be `async`"),
        );
    }
    if let Some(generic) = (sig.generics.params.iter()).find(|p| !matches!(p, syn::GenericParam::Lifetime(_)))
    {
        errors.over(
            generic,
            format!("`{method}` cannot be generic: it is called with the topology"),
        );
    }
    let params: Vec<&syn::PatType> = (sig.inputs.iter())
        .filter_map(|arg| match arg {
            syn::FnArg::Typed(t) => Some(t),
            syn::FnArg::Receiver(_) => None,
        })
        .collect();
    if params.len() != 1 {
        errors.over(
            &sig.inputs,
            format!("`{method}` takes the topology and nothing else: `fn {method}(t: &mut Topology)`"),
        );
    }
    Some(TopologyMethod {
        method: method.clone(),
        param_span: params.first().map_or_else(|| method.span(), |p| p.ty.span()),
    })
}

fn check_tags(tags: &[LitStr], errors: &mut Errors) {
    let mut seen = Vec::new();
    for tag in tags {
        let value = tag.value();
        if value.trim().is_empty() {
            errors.over(tag, "a tag cannot be empty");
        } else if seen.contains(&value) {
            errors.over(tag, format!("duplicate tag `{value}`"));
        } else {
            seen.push(value);
        }
    }
}

/// The ports whose name and topic are present and valid, in order.
fn ports(args: Vec<PortArgs>, kind: &str, errors: &mut Errors) -> Vec<Port> {
    let place = if kind == "input" {
        &keys::INPUT_PORT
    } else {
        &keys::OUTPUT_PORT
    };
    let mut out = Vec::new();
    for port in args {
        let example = if kind == "input" {
            keys::PRODUCT.example(keys::INPUT)
        } else {
            keys::PRODUCT.example(keys::OUTPUT)
        };
        let format = value_format(&port, place, errors);
        let key_format = key_format(&port, format, place, errors);
        let name = required_in(
            port.name,
            "",
            &[],
            &port.tokens,
            errors,
            format!("missing port name: the name comes first, e.g. `{example}`"),
        );
        let topic = required_in(
            port.topic,
            keys::TOPIC,
            &port.typos,
            &port.tokens,
            errors,
            format!(
                "missing `topic` in {}: e.g. `{}`",
                place.shown,
                place.example(keys::TOPIC)
            ),
        );
        if let Some(topic) = &topic {
            if let Err(reason) = lit::check_topic(&topic.value()) {
                errors.over(
                    topic,
                    format!("`{}` is not a valid Kafka topic name: {reason}", topic.value()),
                );
            }
        }
        if let (Some(key), None) = (&port.key, &port.value) {
            errors.over(
                key,
                format!(
                    "a keyed port needs a `value` type too, e.g. `value = Order, key = {}`",
                    show(key)
                ),
            );
        }
        if let (Some(field), None) = (&port.event_time, &port.value) {
            errors.over(
                field,
                format!(
                    "`event_time = {field}` names a field of the port's value, and this port has no value \
                     type: give one, e.g. `value = Order, event_time = {field}`"
                ),
            );
        }
        if port.table && (port.key.is_none() || port.value.is_none()) {
            errors.over(
                &port.tokens,
                "a table holds the latest value of each key: declare both types, e.g. \
                 `table(customers, topic = \"crm.customers\", key = String, value = Customer)`",
            );
        }
        if let (Some(name), Some(topic), Some(format), Some(key_format)) = (name, topic, format, key_format) {
            out.push(Port {
                name,
                topic,
                value: port.value,
                key: port.key,
                format,
                key_format,
                event_time: port.event_time,
                table: port.table,
                global: port.global,
            });
        }
    }
    out
}

/// The values' format: `format = ...`, Avro by default.
fn value_format(port: &PortArgs, place: &keys::Place, errors: &mut Errors) -> Option<Format> {
    let Some(ident) = &port.format else {
        return Some(Format::Avro);
    };
    let name = ident.to_string();
    match Format::from_name(&name) {
        Some(format @ (Format::Avro | Format::Json | Format::JsonSchema | Format::Protobuf)) => {
            if port.value.is_none() {
                errors.at(
                    ident.span(),
                    format!(
                        "`format = {name}` without a `value` type: the port carries raw bytes; declare what it \
                         carries, e.g. `value = Order, format = {name}`"
                    ),
                );
                return None;
            }
            Some(format)
        }
        _ => {
            let valid = Format::VALUE_NAMES;
            let hint = if name == "string" {
                "; `string` is a key format (`key_format = string`)".to_string()
            } else {
                String::new()
            };
            errors.at(
                ident.span(),
                format!(
                    "unknown value format `{name}` in {}{}{hint}",
                    place.shown,
                    keys::suggest_then(&name, valid, &format!("the formats are {}", keys::list(valid)))
                ),
            );
            None
        }
    }
}

/// The keys' format: `key_format = ...`; by default `string` for a key
/// written `String` (Kafka's usual string keys), else the values' format.
fn key_format(
    port: &PortArgs,
    value: Option<Format>,
    place: &keys::Place,
    errors: &mut Errors,
) -> Option<Format> {
    let Some(ident) = &port.key_format else {
        let is_string = port.key.as_ref().is_some_and(|k| show(k) == "String");
        return Some(if is_string {
            Format::String
        } else {
            value.unwrap_or(Format::Avro)
        });
    };
    let name = ident.to_string();
    let Some(format) = Format::from_name(&name) else {
        let valid = Format::KEY_NAMES;
        errors.at(
            ident.span(),
            format!(
                "unknown key format `{name}` in {}{}",
                place.shown,
                keys::suggest_then(&name, valid, &format!("the formats are {}", keys::list(valid)))
            ),
        );
        return None;
    };
    if port.key.is_none() {
        errors.at(
            ident.span(),
            format!("`key_format = {name}` without a `key` type: declare the key, e.g. `key = String, key_format = {name}`"),
        );
        return None;
    }
    Some(format)
}

fn check_port_names(inputs: &[Port], outputs: &[Port], errors: &mut Errors) {
    let mut seen: Vec<(String, &str)> = Vec::new();
    let all = inputs
        .iter()
        .map(|p| (p, "input"))
        .chain(outputs.iter().map(|p| (p, "output")));
    for (port, kind) in all {
        let name = port.name.to_string();
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            errors.at(
                port.name.span(),
                format!(
                    "duplicate port name `{name}`: an {first} port already has it; port names are unique \
                     across a product's inputs and outputs"
                ),
            );
        } else {
            seen.push((name, kind));
        }
    }
}

fn check_topics(inputs: &[Port], outputs: &[Port], errors: &mut Errors) {
    for (i, input) in inputs.iter().enumerate() {
        if let Some(first) = inputs
            .iter()
            .take(i)
            .find(|p| p.topic.value() == input.topic.value())
        {
            errors.over(
                &input.topic,
                format!(
                    "input port `{}` reads topic `{}`, which input port `{}` already reads; a topic feeds one input port",
                    input.name,
                    input.topic.value(),
                    first.name
                ),
            );
        }
    }
    for output in outputs {
        if let Some(input) = inputs.iter().find(|p| p.topic.value() == output.topic.value()) {
            errors.over(
                &output.topic,
                format!(
                    "output port `{}` writes topic `{}`, which input port `{}` reads; a product must not consume \
                     its own output",
                    output.name,
                    output.topic.value(),
                    input.name
                ),
            );
        }
    }
}

fn stores(args: Vec<StoreArgs>, errors: &mut Errors) -> Vec<Store> {
    let place = &keys::STORE_DECL;
    let mut out: Vec<Store> = Vec::new();
    for store in args {
        let name = required_in(
            store.name,
            "",
            &[],
            &store.tokens,
            errors,
            format!(
                "missing store name: the name comes first, e.g. `{}`",
                keys::PRODUCT.example(keys::STORE)
            ),
        );
        let key = required_in(
            store.key,
            keys::KEY,
            &store.typos,
            &store.tokens,
            errors,
            format!(
                "missing `key` in {}: the type of the store's keys, e.g. `{}`",
                place.shown,
                place.example(keys::KEY)
            ),
        );
        let value = required_in(
            store.value,
            keys::VALUE,
            &store.typos,
            &store.tokens,
            errors,
            format!(
                "missing `value` in {}: the type of the store's values, e.g. `{}`",
                place.shown,
                place.example(keys::VALUE)
            ),
        );
        let shown = name.as_ref().map(ToString::to_string).unwrap_or_default();
        let expiry = match &store.ttl {
            None => Some(None),
            Some(_) if store.window.is_some() => {
                errors.over(
                    &store.tokens,
                    format!(
                        "store `{shown}` has both `window(...)` and `ttl(...)`: a windowed store's entries \
                         go with their windows (its `grace` says how long they are kept); `ttl` is for \
                         key-value stores"
                    ),
                );
                None
            }
            Some(args) => ttl(args, &shown, errors).map(Some),
        };
        let avro_values = match &store.format {
            None => Some(false),
            Some(ident) if ident == "avro" && store.window.is_some() => {
                errors.at(
                    ident.span(),
                    format!(
                        "store `{shown}`: a windowed store's values cannot declare `format = avro` yet; \
                         only key-value stores keep their values with a schema that can evolve"
                    ),
                );
                None
            }
            Some(ident) if ident == "avro" => Some(true),
            Some(ident) => {
                errors.at(
                    ident.span(),
                    format!(
                        "unknown store format `{ident}` in store `{shown}`{}",
                        keys::suggest_then(
                            &ident.to_string(),
                            ["avro"],
                            "a store's values are kept either compactly (no `format`: fast, but a changed \
                             type cannot read old values) or as Avro with their schema (`format = avro`: \
                             the type can evolve)"
                        )
                    ),
                );
                None
            }
        };
        let window = match store.window {
            None => Some(None),
            Some(w) => window(w, errors).map(Some),
        };
        if let Some(name) = &name {
            let text = name.to_string();
            if !text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                errors.at(
                    name.span(),
                    format!("store name `{text}` must be ASCII: it names the store's changelog topic"),
                );
            }
            if out.iter().any(|s| s.name == *name) {
                errors.at(
                    name.span(),
                    format!("duplicate store `{text}`: store names are unique within a product"),
                );
                continue;
            }
        }
        if let (Some(name), Some(key), Some(value), Some(window), Some(ttl), Some(avro_values)) =
            (name, key, value, window, expiry, avro_values)
        {
            out.push(Store {
                name,
                key,
                value,
                window,
                ttl,
                avro_values,
            });
        }
    }
    out
}

/// The clock `ident` names (the wall clock if none), or `None` if it names
/// none (reported, listing the clocks, as a mistake in `whose`).
fn clock(ident: Option<&Ident>, whose: &str, errors: &mut Errors) -> Option<Clock> {
    let Some(ident) = ident else {
        return Some(Clock::Wall);
    };
    match ident.to_string().as_str() {
        "wall" => Some(Clock::Wall),
        "stream" => Some(Clock::Stream),
        name => {
            errors.at(
                ident.span(),
                format!(
                    "unknown clock `{name}` in {whose}{}",
                    keys::suggest_then(
                        name,
                        keys::CLOCKS,
                        &format!(
                            "the clocks are {} (`wall`: the machine's clock, runs on idle partitions too; \
                             `stream`: the records' timestamps)",
                            keys::list(keys::CLOCKS)
                        )
                    )
                ),
            );
            None
        }
    }
}

/// Store `store`'s time to live, or `None` if a mistake was reported.
fn ttl(args: &TtlArgs, store: &str, errors: &mut Errors) -> Option<(Millis, Clock)> {
    let after = match &args.after {
        None if args.typos.contains(&keys::AFTER) => None,
        None => {
            errors.over(
                &args.tokens,
                format!(
                    "`ttl` of store `{store}` without `after`: how long an entry lives after its last write, \
                     e.g. `{}`",
                    keys::STORE_DECL.example(keys::TTL)
                ),
            );
            None
        }
        Some(lit) => duration(lit, keys::AFTER, true, errors),
    };
    let clock = clock(
        args.clock.as_ref(),
        &format!("the `ttl` of store `{store}`"),
        errors,
    );
    Some((after?, clock?))
}

/// The window, or `None` if a mistake was reported.
fn window(args: WindowArgs, errors: &mut Errors) -> Option<Window> {
    let mut valid = true;
    let kind = match (window_kind(&args, errors), &args.kind) {
        (Some(kind), _) => kind,
        (None, None) => WindowKind::Time,
        // An unknown kind was reported: which keys it needs is unknown.
        (None, Some(_)) => return None,
    };
    let length = window_length(&args, kind, errors);
    let advance = args
        .advance
        .as_ref()
        .and_then(|l| duration(l, keys::ADVANCE, true, errors));
    let grace = args
        .grace
        .as_ref()
        .and_then(|l| duration(l, keys::GRACE, false, errors));
    let retention = args
        .retention
        .as_ref()
        .and_then(|l| duration(l, keys::RETENTION, false, errors));
    valid &= args.advance.is_none() || advance.is_some();
    valid &= args.grace.is_none() || grace.is_some();
    valid &= args.retention.is_none() || retention.is_some();
    let emit = match &args.emit {
        None => None,
        Some(ident) => match ident.to_string().as_str() {
            "on_close" => Some((Emit::OnClose, ident.span())),
            "every_update" => Some((Emit::EveryUpdate, ident.span())),
            other => {
                let modes = ["on_close", "every_update"];
                errors.at(
                    ident.span(),
                    format!(
                        "unknown emit mode `{other}`{}",
                        keys::suggest_then(other, modes, &format!("the modes are {}", keys::list(modes)))
                    ),
                );
                valid = false;
                None
            }
        },
    };
    valid &= window_shape(&args, kind, errors);
    if let (Some(size), Some(advance), Some(lit)) = (length, advance, &args.advance) {
        if kind == WindowKind::Time && advance.ms > size.ms {
            errors.over(
                lit,
                format!(
                    "a window's `advance` ({}) must not exceed its `size` ({}): records would fall between windows",
                    lit.value(),
                    args.size.as_ref().map(LitStr::value).unwrap_or_default()
                ),
            );
            valid = false;
        }
    }
    let size = length?;
    valid.then_some(Window {
        kind,
        size,
        advance,
        grace,
        emit,
        retention,
    })
}

/// The kinds `kind = ...` names, and what each is.
const WINDOW_KINDS: [&str; 4] = ["tumbling", "hopping", "sliding", "session"];

/// The declared kind of windows (tumbling and hopping are both time
/// windows), or `None` if none was named or the name is unknown (reported).
fn window_kind(args: &WindowArgs, errors: &mut Errors) -> Option<WindowKind> {
    let ident = args.kind.as_ref()?;
    match ident.to_string().as_str() {
        "tumbling" | "hopping" => Some(WindowKind::Time),
        "sliding" => Some(WindowKind::Sliding),
        "session" => Some(WindowKind::Session),
        other => {
            errors.at(
                ident.span(),
                format!(
                    "unknown window kind `{other}`{}",
                    keys::suggest_then(
                        other,
                        WINDOW_KINDS,
                        &format!("the kinds are {}", keys::list(WINDOW_KINDS))
                    )
                ),
            );
            None
        }
    }
}

/// The window's length: `size`, or for sessions the inactivity `gap`;
/// `None` if it is missing or malformed (reported, unless it was a typo
/// reported already).
fn window_length(args: &WindowArgs, kind: WindowKind, errors: &mut Errors) -> Option<Millis> {
    let place = &keys::WINDOW_DECL;
    let (key, given) = match kind {
        WindowKind::Session => (keys::GAP, &args.gap),
        _ => (keys::SIZE, &args.size),
    };
    match given {
        Some(lit) => duration(lit, key, true, errors),
        None if args.typos.contains(&key) => None,
        None if kind == WindowKind::Session => {
            errors.over(
                &args.tokens,
                format!(
                    "session windows without a gap: give how long a key may be inactive and its session \
                     still go on, e.g. `window(kind = session, {})`",
                    place.example(keys::GAP)
                ),
            );
            None
        }
        None => {
            errors.over(
                &args.tokens,
                format!(
                    "window without a size: give its length, e.g. `window({})` for tumbling windows or \
                     `window(size = \"1m\", advance = \"20s\")` for hopping ones",
                    place.example(keys::SIZE)
                ),
            );
            None
        }
    }
}

/// Reports the keys that do not go with the window's kind; `false` if any.
fn window_shape(args: &WindowArgs, kind: WindowKind, errors: &mut Errors) -> bool {
    let named = args.kind.as_ref().map(|k| k.to_string()).unwrap_or_default();
    let mut valid = true;
    let mut refuse = |lit: &Option<LitStr>, message: &str| {
        if let Some(lit) = lit {
            errors.over(lit, message.to_string());
            valid = false;
        }
    };
    match kind {
        WindowKind::Session => {
            refuse(
                &args.size,
                "session windows have no `size`: a session lasts as long as its records keep coming; \
                 `gap` is how long a key may be inactive",
            );
            refuse(
                &args.advance,
                "session windows have no `advance`: they follow their records",
            );
            refuse(
                &args.retention,
                "session windows are removed as they close: `retention` is for tumbling and hopping windows",
            );
        }
        WindowKind::Sliding => {
            refuse(
                &args.advance,
                "sliding windows have no `advance`: they move with each record (for windows every \
                 `advance`, use `kind = hopping`)",
            );
            refuse(
                &args.gap,
                "`gap` is for session windows (`kind = session`); sliding windows have a `size`",
            );
            refuse(
                &args.retention,
                "sliding windows are removed as they close: `retention` is for tumbling and hopping windows",
            );
        }
        WindowKind::Time => {
            refuse(
                &args.gap,
                "`gap` is the inactivity gap of session windows: add `kind = session` (and drop `size`), \
                 or drop `gap`",
            );
            if named == "tumbling" {
                refuse(
                    &args.advance,
                    "tumbling windows have no `advance` (it equals the size): use `kind = hopping` for \
                     overlapping windows",
                );
            }
            if named == "hopping" && args.advance.is_none() {
                errors.over(
                    &args.tokens,
                    "hopping windows need an `advance`: how far apart consecutive windows start, e.g. \
                     `advance = \"20s\"`",
                );
                valid = false;
            }
        }
    }
    valid
}

/// The parameters a transform takes after its receiver, for messages.
fn expected_params(record: bool, port: &Port, stores: &[&Store]) -> Vec<String> {
    let mut params = Vec::new();
    if record {
        params.push("record: &Record<'_>".to_string());
    }
    if let Some(key) = &port.key {
        params.push(format!("key: &{}", show(key)));
    }
    match &port.value {
        Some(value) => params.push(format!("value: &{}", show(value))),
        None => params.push("value: Option<&[u8]>".to_string()),
    }
    for store in stores {
        let kind = handle_name(store);
        params.push(format!(
            "{}: {kind}<{}, {}>",
            store.name,
            show(&store.key),
            show(&store.value)
        ));
    }
    params.push("ctx: &mut Context".to_string());
    params
}

/// The names of every port and store declared, valid or not.
struct Declared {
    inputs: Vec<String>,
    stores: Vec<String>,
}

fn bind_transforms(
    transforms: Vec<TransformFn>,
    (inputs, outputs): (&[Port], &[Port]),
    stores: &[Store],
    declared: &Declared,
    topology: bool,
    errors: &mut Errors,
) -> Vec<Transform> {
    let input_names: Vec<String> = inputs.iter().map(|p| p.name.to_string()).collect();
    let store_names: Vec<String> = stores.iter().map(|s| s.name.to_string()).collect();
    let mut bound: Vec<Option<Ident>> = vec![None; inputs.len()];
    let mut out = Vec::new();
    let mut unresolved = false;
    for TransformFn { args, sig } in transforms {
        let method = &sig.ident;
        let input = match &args.port {
            None => {
                unresolved = true;
                errors.over(
                    &args.tokens,
                    format!(
                        "missing input port: name the port `{method}` handles first, e.g. `#[transform({})]`",
                        input_names.first().map_or("orders", String::as_str)
                    ),
                );
                None
            }
            Some(port) => {
                let index = bind_port(port, method, outputs, &input_names, declared, &mut bound, errors);
                unresolved |= index.is_none();
                index
            }
        };
        let bound_stores = resolve_stores(method, &args.stores, &store_names, declared, errors);
        let (receiver, typed) = method_shape(&sig, "transform", "with its port's types", errors);
        let (Some(input), true) = (input, bound_stores.len() == args.stores.len()) else {
            continue;
        };
        let Some(port) = inputs.get(input) else { continue };
        if port.table {
            errors.over(
                &args.tokens,
                format!(
                    "`{}` is a table, which the topology reads (`t.{}(Self::IN.{})`): a transform takes \
                     stream ports",
                    port.name,
                    if port.global { "global_table" } else { "table" },
                    port.name
                ),
            );
            continue;
        }
        let its_stores: Vec<&Store> = bound_stores.iter().filter_map(|i| stores.get(*i)).collect();
        let expected = expected_params(args.record, port, &its_stores);
        let what = format!("transform `{method}` for input port `{}`", port.name);
        if !arity_matches(&sig, &what, &expected, typed.len(), errors) {
            continue;
        }
        out.push(Transform {
            method: method.clone(),
            receiver,
            is_async: sig.asyncness.is_some(),
            input,
            stores: bound_stores,
            record: args.record,
            param_spans: typed.iter().map(|t| type_span(&t.ty)).collect(),
            output_span: match &sig.output {
                syn::ReturnType::Type(_, ty) => ty.span(),
                syn::ReturnType::Default => method.span(),
            },
        });
    }
    // A transform bound to a misspelt port leaves a port without one: the
    // first message says it all.
    for (i, (port, transform)) in inputs.iter().zip(&bound).enumerate() {
        let repeated = inputs.iter().take(i).any(|p| p.name == port.name);
        // A port without a transform is the topology's to read.
        if transform.is_none() && !unresolved && !repeated && !topology && !port.table {
            errors.at(
                port.name.span(),
                format!(
                    "input port `{}` has no transform: bind a method of the `impl` block to it with `#[transform({})]`",
                    port.name, port.name
                ),
            );
        }
    }
    out
}

/// The indexes of the stores `listed` names in `method`'s attribute; those
/// unknown or listed twice are reported.
fn resolve_stores(
    method: &Ident,
    listed: &[Ident],
    store_names: &[String],
    declared: &Declared,
    errors: &mut Errors,
) -> Vec<usize> {
    let mut bound_stores = Vec::new();
    for (i, store) in listed.iter().enumerate() {
        let name = store.to_string();
        if listed.iter().take(i).any(|s| *s == *store) {
            errors.at(store.span(), format!("store `{name}` is listed twice"));
        } else if let Some(index) = store_names.iter().position(|s| *s == name) {
            bound_stores.push(index);
        } else if declared.stores.contains(&name) {
            // Declared with a mistake, reported there.
        } else {
            errors.at(
                store.span(),
                format!(
                    "unknown store `{name}` in `{method}`{}",
                    keys::suggest_then(
                        &name,
                        store_names.iter().map(String::as_str),
                        &format!(
                            "the product's stores are {} (declare one with `store({name}, key = ..., value = ...)`)",
                            keys::list(store_names.iter().map(String::as_str)),
                        )
                    ),
                ),
            );
        }
    }
    bound_stores
}

/// How a `kind` method (a transform, a timer) takes the product, and its
/// typed parameters; a receiver by value, generics and `unsafe` are
/// reported (the method is called `called`).
fn method_shape<'s>(
    sig: &'s syn::Signature,
    kind: &str,
    called: &str,
    errors: &mut Errors,
) -> (Receiver, Vec<&'s syn::PatType>) {
    let method = &sig.ident;
    let receiver = match sig.receiver() {
        None => Receiver::None,
        Some(r) if matches!(&*r.ty, Type::Reference(_)) => Receiver::Ref,
        Some(r) => {
            errors.over(
                r,
                format!("`{method}` takes `self` by value; a {kind} takes `&mut self` or `&self`"),
            );
            Receiver::Ref
        }
    };
    if let Some(generic) = sig
        .generics
        .params
        .iter()
        .find(|p| !matches!(p, syn::GenericParam::Lifetime(_)))
    {
        errors.over(
            generic,
            format!("{kind} `{method}` cannot be generic: it is called {called}"),
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.over(unsafety, format!("{kind} `{method}` cannot be `unsafe`"));
    }
    let typed = sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            syn::FnArg::Typed(t) => Some(t),
            syn::FnArg::Receiver(_) => None,
        })
        .collect();
    (receiver, typed)
}

/// Whether `sig` takes the `expected` parameters after its receiver; if not,
/// says so over its parameters (`what` names the method).
fn arity_matches(
    sig: &syn::Signature,
    what: &str,
    expected: &[String],
    has: usize,
    errors: &mut Errors,
) -> bool {
    if has == expected.len() {
        return true;
    }
    let message = format!(
        "{what} takes {} parameter{} after its receiver: ({}); it has {has}",
        expected.len(),
        if expected.len() == 1 { "" } else { "s" },
        expected.join(", "),
    );
    if sig.inputs.is_empty() {
        errors.at(sig.ident.span(), message);
    } else {
        errors.over(&sig.inputs, message);
    }
    false
}

/// Checks the `#[timer(...)]` methods: a period, a clock, its stores, and
/// parameters (its stores, then the context).
fn bind_timers(
    timers: Vec<TimerFn>,
    stores: &[Store],
    declared: &Declared,
    errors: &mut Errors,
) -> Vec<Timer> {
    let store_names: Vec<String> = stores.iter().map(|s| s.name.to_string()).collect();
    let mut out = Vec::new();
    for TimerFn { args, sig } in timers {
        let method = &sig.ident;
        let every = match &args.every {
            // A misspelt `every`, reported where it is written.
            None if args.typos.contains(&keys::EVERY) => None,
            None => {
                errors.over(
                    &args.tokens,
                    format!("missing `every` in timer `{method}`: how often it fires, e.g. `#[timer(every = \"30s\")]`"),
                );
                None
            }
            Some(lit) => duration(lit, keys::EVERY, true, errors),
        };
        let clock = clock(args.clock.as_ref(), &format!("timer `{method}`"), errors);
        let bound_stores = resolve_stores(method, &args.stores, &store_names, declared, errors);
        let (receiver, typed) = method_shape(&sig, "timer", "by the runtime on a schedule", errors);
        let (Some(every), Some(clock), true) = (every, clock, bound_stores.len() == args.stores.len()) else {
            continue;
        };
        let mut expected: Vec<String> = (bound_stores.iter().filter_map(|i| stores.get(*i)))
            .map(|store| {
                let kind = handle_name(store);
                format!(
                    "{}: {kind}<{}, {}>",
                    store.name,
                    show(&store.key),
                    show(&store.value)
                )
            })
            .collect();
        expected.push("ctx: &mut Context".to_string());
        if !arity_matches(&sig, &format!("timer `{method}`"), &expected, typed.len(), errors) {
            continue;
        }
        out.push(Timer {
            method: method.clone(),
            receiver,
            is_async: sig.asyncness.is_some(),
            every,
            clock,
            stores: bound_stores,
            param_spans: typed.iter().map(|t| type_span(&t.ty)).collect(),
            output_span: match &sig.output {
                syn::ReturnType::Type(_, ty) => ty.span(),
                syn::ReturnType::Default => method.span(),
            },
        });
    }
    out
}

/// The most telling token of a parameter type, where a type mismatch is
/// shown: `Spend` in `&Spend`, `StoreRef` in `StoreRef<u64, Spend>`.
fn type_span(ty: &Type) -> Span {
    match ty {
        Type::Reference(r) => type_span(&r.elem),
        Type::Paren(p) => type_span(&p.elem),
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map_or_else(|| ty.span(), |s| s.ident.span()),
        _ => ty.span(),
    }
}

/// The index of the input port `port` names, marking it bound to `method`.
fn bind_port(
    port: &Ident,
    method: &Ident,
    outputs: &[Port],
    input_names: &[String],
    declared: &Declared,
    bound: &mut [Option<Ident>],
    errors: &mut Errors,
) -> Option<usize> {
    let name = port.to_string();
    let Some(index) = input_names.iter().position(|n| *n == name) else {
        if declared.inputs.contains(&name) {
            // Declared with a mistake, reported there.
        } else if outputs.iter().any(|o| o.name == *port) {
            errors.at(
                port.span(),
                format!(
                    "`{name}` is an output port; a transform is bound to an input port: {}",
                    keys::list(input_names.iter().map(String::as_str))
                ),
            );
        } else {
            errors.at(
                port.span(),
                format!(
                    "no input port `{name}`{}",
                    keys::suggest_then(
                        &name,
                        input_names.iter().map(String::as_str),
                        &format!(
                            "the input ports are {}",
                            keys::list(input_names.iter().map(String::as_str))
                        )
                    )
                ),
            );
        }
        return None;
    };
    match bound.get_mut(index) {
        Some(Some(first)) => {
            errors.at(
                port.span(),
                format!("input port `{name}` already has a transform, `{first}`; a port has one transform"),
            );
            None
        }
        Some(slot) => {
            *slot = Some(method.clone());
            Some(index)
        }
        None => None,
    }
}

/// The name of the typed handle a method receives for `store`.
fn handle_name(store: &Store) -> &'static str {
    match store.window.as_ref().map(|w| w.kind) {
        None => "StoreRef",
        Some(WindowKind::Time) => "WindowStoreRef",
        Some(WindowKind::Sliding) => "SlidingStoreRef",
        Some(WindowKind::Session) => "SessionStoreRef",
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use super::*;
    use crate::parse;

    /// Parses and checks `args` on `item`; the messages if any rule is broken.
    pub(crate) fn run(args: TokenStream, mut item: syn::ItemImpl) -> Result<Product, Vec<String>> {
        let mut errors = Errors::new();
        let args = parse::product_args(args, &mut errors);
        let transforms = parse::take_transforms(&mut item, &mut errors);
        let product = product(args, transforms, &mut errors);
        match (errors.finish(), product) {
            (Ok(()), Some(product)) => Ok(product),
            (Err(e), _) => Err(e.into_iter().map(|e| e.to_string()).collect()),
            (Ok(()), None) => Err(vec!["no product and no error".into()]),
        }
    }

    fn identity() -> TokenStream {
        quote!(
            domain = "sales",
            name = "customer-spend",
            version = "1.0.0",
            owner = "team-sales"
        )
    }

    fn spend_impl() -> syn::ItemImpl {
        syn::parse_quote! {
            impl CustomerSpend {
                #[transform(orders, stores = [totals])]
                fn on_order(&mut self, order: &Order, totals: StoreRef<String, Spend>, ctx: &mut Context)
                    -> Result<(), TransformError> { Ok(()) }
            }
        }
    }

    fn errors_of(args: TokenStream, item: syn::ItemImpl) -> Vec<String> {
        match run(args, item) {
            Ok(_) => Vec::new(),
            Err(messages) => messages,
        }
    }

    fn one_error(args: TokenStream, item: syn::ItemImpl) -> String {
        let messages = errors_of(args, item);
        assert_eq!(messages.len(), 1, "{messages:#?}");
        messages.into_iter().next().unwrap_or_default()
    }

    fn with_identity(rest: TokenStream) -> TokenStream {
        let identity = identity();
        quote!(#identity, #rest)
    }

    fn io() -> TokenStream {
        quote! {
            input(orders, topic = "sales.orders", value = Order),
            output(spend, topic = "sales.customer-spend", value = Spend),
            store(totals, key = String, value = Spend),
        }
    }

    #[test]
    fn a_valid_product_checks() -> Result<(), Box<dyn std::error::Error>> {
        let product = run(
            with_identity(quote! {
                description = "d",
                tags = ["a", "b"],
                slo(freshness = "5m", latency = "250ms"),
                input(orders, topic = "sales.orders", value = Order, key = OrderId),
                input(raw, topic = "sales.raw"),
                output(spend, topic = "sales.customer-spend", value = Spend),
                output(audit, topic = "sales.audit"),
                store(totals, key = String, value = Spend),
                store(per_minute, key = String, value = u64, window(size = "1m", advance = "20s", grace = "5s", emit = on_close)),
            }),
            syn::parse_quote! {
                impl<T: Send> P<T> where T: 'static {
                    #[transform(orders, stores = [per_minute, totals], record)]
                    async fn on_order(&self, r: &Record<'_>, k: &OrderId, v: &Order,
                        m: WindowStoreRef<String, u64>, t: StoreRef<String, Spend>, ctx: &mut Context)
                        -> Result<(), TransformError> { Ok(()) }
                    #[transform(raw)]
                    fn on_raw(value: Option<&[u8]>, ctx: &mut Context) -> Result<(), TransformError> { Ok(()) }
                    fn helper(&self) {}
                }
            },
        )
        .map_err(|m| m.join("\n"))?;
        assert_eq!(product.krate.to_token_stream().to_string(), ":: meshkit");
        assert_eq!(product.freshness.ok_or("missing")?.ms, 300_000);
        assert_eq!(product.latency.ok_or("missing")?.ms, 250);
        assert_eq!(product.inputs.len(), 2);
        assert_eq!(product.outputs.len(), 2);
        let window = product.stores[1].window.as_ref().ok_or("missing")?;
        assert_eq!(
            (
                window.size.ms,
                window.advance.ok_or("missing")?.ms,
                window.grace.ok_or("missing")?.ms
            ),
            (60_000, 20_000, 5_000)
        );
        assert_eq!(window.emit.ok_or("missing")?.0, Emit::OnClose);
        let t = &product.transforms[0];
        assert_eq!(
            (t.input, t.stores.as_slice(), t.record, t.is_async),
            (0, &[1, 0][..], true, true)
        );
        assert_eq!(t.receiver, Receiver::Ref);
        assert_eq!(t.param_spans.len(), 6);
        let raw = &product.transforms[1];
        assert_eq!(
            (raw.input, raw.receiver, raw.is_async),
            (1, Receiver::None, false)
        );
        Ok(())
    }

    #[test]
    fn missing_identity_is_reported_all_at_once() {
        let messages = errors_of(io(), spend_impl());
        assert_eq!(messages.len(), 4, "{messages:#?}");
        assert!(messages[0].starts_with("missing `domain`"));
        assert!(messages[1].starts_with("missing `name`"));
        assert!(messages[2].starts_with("missing `version`"));
        assert!(messages[3].starts_with("missing `owner`"));
    }

    #[test]
    fn missing_owner() {
        let io = io();
        let message = one_error(
            quote!(domain = "sales", name = "n", version = "1.0.0", #io),
            spend_impl(),
        );
        assert!(message.contains("missing `owner`: every data product names its accountable owner"));
    }

    #[test]
    fn identity_values_are_checked() {
        let io = io();
        let messages = errors_of(
            quote!(domain = "", name = "customer spend", version = "1.0", owner = " ", tags = ["a", "a", ""], #io),
            spend_impl(),
        );
        assert_eq!(messages.len(), 6, "{messages:#?}");
        assert!(messages[0].contains("`domain` is empty"));
        assert!(messages[1].contains("`name` contains ` `"));
        assert!(messages[2].contains("`owner` is empty"));
        assert!(messages[3].contains("`1.0` is not a semantic version: expected three numbers"));
        assert!(messages[4].contains("duplicate tag `a`"));
        assert!(messages[5].contains("a tag cannot be empty"));
    }

    #[test]
    fn a_bad_crate_path() -> Result<(), Box<dyn std::error::Error>> {
        let io = io();
        let message = one_error(with_identity(quote!(crate = "not a path", #io)), spend_impl());
        assert!(message.contains("`crate` must be the path meshkit is reachable at"));
        let ok = run(
            with_identity(quote!(crate = "my_reexport::meshkit", #io)),
            spend_impl(),
        )
        .map_err(|m| m.join("\n"))?;
        assert_eq!(ok.krate.to_token_stream().to_string(), "my_reexport :: meshkit");
        Ok(())
    }

    #[test]
    fn slo_durations_are_checked() {
        let io = io();
        let messages = errors_of(
            with_identity(quote!(slo(freshness = "5 minutes", latency = "0ms"), #io)),
            spend_impl(),
        );
        assert_eq!(messages.len(), 2, "{messages:#?}");
        assert!(messages[0].contains("`5 minutes` is not a duration for `freshness`: unknown unit `minutes`"));
        assert!(messages[1].contains("`latency` must be longer than zero"));
    }

    #[test]
    fn timers_are_checked_and_bound_to_their_stores() -> Result<(), Box<dyn std::error::Error>> {
        let product = run(
            with_identity(io()),
            syn::parse_quote! {
                impl CustomerSpend {
                    #[transform(orders, stores = [totals])]
                    fn on_order(&mut self, order: &Order, totals: StoreRef<String, Spend>, ctx: &mut Context)
                        -> Result<(), TransformError> { Ok(()) }
                    #[timer(every = "30s", stores = [totals])]
                    async fn flush(&mut self, totals: StoreRef<String, Spend>, ctx: &mut Context)
                        -> Result<(), TransformError> { Ok(()) }
                    #[timer(every = "1m", clock = stream)]
                    fn mark(ctx: &mut Context) -> Result<(), TransformError> { Ok(()) }
                }
            },
        )
        .map_err(|m| m.join("\n"))?;
        assert_eq!(product.timers.len(), 2);
        let (flush, mark) = (&product.timers[0], &product.timers[1]);
        assert_eq!(
            (
                flush.every.ms,
                flush.clock,
                flush.stores.as_slice(),
                flush.is_async
            ),
            (30_000, Clock::Wall, &[0][..], true)
        );
        assert_eq!(
            (mark.every.ms, mark.clock, mark.receiver),
            (60_000, Clock::Stream, Receiver::None)
        );
        Ok(())
    }

    #[test]
    fn timer_mistakes() {
        let messages = errors_of(
            with_identity(io()),
            syn::parse_quote! {
                impl CustomerSpend {
                    #[transform(orders, stores = [totals])]
                    fn on_order(&mut self, order: &Order, totals: StoreRef<String, Spend>, ctx: &mut Context)
                        -> Result<(), TransformError> { Ok(()) }
                    #[timer(clock = wall)]
                    fn a(&mut self, ctx: &mut Context) -> Result<(), TransformError> { Ok(()) }
                    #[timer(every = "10s", clock = wal)]
                    fn b(&mut self, ctx: &mut Context) -> Result<(), TransformError> { Ok(()) }
                    #[timer(every = "10s", stores = [totls])]
                    fn c(&mut self, ctx: &mut Context) -> Result<(), TransformError> { Ok(()) }
                    #[timer(every = "10s", stores = [totals])]
                    fn d(&mut self, ctx: &mut Context) -> Result<(), TransformError> { Ok(()) }
                    #[timer(every = "soon")]
                    fn e(&mut self, ctx: &mut Context) -> Result<(), TransformError> { Ok(()) }
                    #[timer(evry = "10s")]
                    fn f(&mut self, ctx: &mut Context) -> Result<(), TransformError> { Ok(()) }
                }
            },
        );
        // The misspelt key first (found as the attributes are read), then
        // one message per timer, and no "missing `every`" for the typo.
        assert_eq!(messages.len(), 6, "{messages:#?}");
        assert!(
            messages[0].contains("unknown key `evry` in `#[timer(...)]`; did you mean `every`?"),
            "{}",
            messages[0]
        );
        assert!(
            messages[1].contains("missing `every` in timer `a`"),
            "{}",
            messages[1]
        );
        assert!(
            messages[2].contains("unknown clock `wal` in timer `b`; did you mean `wall`?"),
            "{}",
            messages[2]
        );
        assert!(
            messages[3].contains("unknown store `totls` in `c`; did you mean `totals`?"),
            "{}",
            messages[3]
        );
        assert!(messages[4].contains("timer `d` takes 2 parameters after its receiver: (totals: StoreRef<String, Spend>, ctx: &mut Context); it has 1"), "{}", messages[4]);
        assert!(
            messages[5].contains("`soon` is not a duration for `every`"),
            "{}",
            messages[5]
        );
    }

    #[test]
    fn port_mistakes() {
        let messages = errors_of(
            with_identity(quote! {
                input(orders, topic = "sales.orders", value = Order),
                input(orders, topic = "sales orders", key = K),
                input(topic = "x"),
                input(other, value = Order),
                output(spend, topic = "sales.spend.a", value = Spend),
                output(spend, topic = "sales.spend"),
                store(totals, key = String, value = Spend),
            }),
            spend_impl(),
        );
        assert_eq!(messages.len(), 6, "{messages:#?}");
        assert!(messages[0].contains("`sales orders` is not a valid Kafka topic name: ` ` is not allowed"));
        assert!(messages[1].contains("a keyed port needs a `value` type too, e.g. `value = Order, key = K`"));
        assert!(messages[2].starts_with("missing port name: the name comes first"));
        assert!(messages[3].starts_with("missing `topic` in `input(...)`"));
        assert!(messages[4].contains("duplicate port name `orders`: an input port already has it"));
        assert!(messages[5].contains("duplicate port name `spend`: an output port already has it"));
    }

    #[test]
    fn output_equal_to_input_topic() {
        let message = one_error(
            with_identity(quote! {
                input(orders, topic = "sales.orders", value = Order),
                output(spend, topic = "sales.orders", value = Spend),
                store(totals, key = String, value = Spend),
            }),
            spend_impl(),
        );
        assert_eq!(
            message,
            "output port `spend` writes topic `sales.orders`, which input port `orders` reads; \
             a product must not consume its own output"
        );
    }

    #[test]
    fn no_ports() {
        let messages = errors_of(identity(), syn::parse_quote!(impl P {}));
        assert_eq!(messages.len(), 2, "{messages:#?}");
        assert!(messages[0].starts_with("the product declares no input port"));
        assert!(messages[1].starts_with("the product declares no output port"));
        let message = one_error(
            with_identity(quote!(input(a, topic = "a", value = A))),
            syn::parse_quote!(impl P { #[transform(a)] fn f(a: &A, ctx: &mut Context) {} }),
        );
        assert!(message.starts_with("the product declares no output port"));
    }

    #[test]
    fn store_mistakes() {
        let messages = errors_of(
            with_identity(quote! {
                input(orders, topic = "sales.orders", value = Order),
                output(spend, topic = "sales.spend", value = Spend),
                store(totals, key = String, value = Spend),
                store(totals, key = String, value = u64),
                store(nokey, value = u64),
                store(w, key = String, value = u64, window(grace = "10s")),
                store(h, key = String, value = u64, window(size = "10s", advance = "1m", emit = on_clos)),
            }),
            spend_impl(),
        );
        assert_eq!(messages.len(), 5, "{messages:#?}");
        assert!(messages[0].contains("duplicate store `totals`"));
        assert!(messages[1].starts_with("missing `key` in `store(...)`"));
        assert!(messages[2].starts_with("window without a size"));
        assert!(messages[3].contains("unknown emit mode `on_clos`; did you mean `on_close`?"));
        assert!(messages[4].contains("`advance` (1m) must not exceed its `size` (10s)"));
    }

    #[test]
    fn window_kinds_and_their_mistakes() {
        let product = run(
            with_identity(quote! {
                input(orders, topic = "sales.orders", value = Order),
                output(spend, topic = "sales.spend", value = Spend),
                store(totals, key = String, value = Spend),
                store(visits, key = String, value = u64, window(kind = session, gap = "30m", grace = "1m")),
                store(recent, key = String, value = u64, window(kind = sliding, size = "5m")),
                store(hops, key = String, value = u64, window(kind = hopping, size = "1h", advance = "10m")),
            }),
            spend_impl(),
        )
        .expect("valid");
        let kinds: Vec<(WindowKind, u64)> = (product.stores[1..].iter())
            .map(|s| s.window.as_ref().map(|w| (w.kind, w.size.ms)).expect("windowed"))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (WindowKind::Session, 1_800_000),
                (WindowKind::Sliding, 300_000),
                (WindowKind::Time, 3_600_000)
            ]
        );

        let messages = errors_of(
            with_identity(quote! {
                input(orders, topic = "sales.orders", value = Order),
                output(spend, topic = "sales.spend", value = Spend),
                store(totals, key = String, value = Spend),
                store(a, key = String, value = u64, window(kind = sesion, gap = "30m")),
                store(b, key = String, value = u64, window(kind = session)),
                store(c, key = String, value = u64, window(kind = session, gap = "1m", size = "1h")),
                store(d, key = String, value = u64, window(kind = sliding, size = "5m", advance = "1m")),
                store(e, key = String, value = u64, window(size = "1h", gap = "30m")),
                store(f, key = String, value = u64, window(kind = tumbling, size = "1h", advance = "1m")),
                store(g, key = String, value = u64, window(kind = hopping, size = "1h")),
            }),
            spend_impl(),
        );
        assert_eq!(messages.len(), 7, "{messages:#?}");
        assert!(
            messages[0].contains("unknown window kind `sesion`; did you mean `session`?"),
            "{}",
            messages[0]
        );
        assert!(
            messages[1].starts_with("session windows without a gap"),
            "{}",
            messages[1]
        );
        assert!(
            messages[2].starts_with("session windows have no `size`"),
            "{}",
            messages[2]
        );
        assert!(
            messages[3].starts_with("sliding windows have no `advance`"),
            "{}",
            messages[3]
        );
        assert!(
            messages[4].starts_with("`gap` is the inactivity gap of session windows"),
            "{}",
            messages[4]
        );
        assert!(
            messages[5].starts_with("tumbling windows have no `advance`"),
            "{}",
            messages[5]
        );
        assert!(
            messages[6].starts_with("hopping windows need an `advance`"),
            "{}",
            messages[6]
        );
    }

    #[test]
    fn ttl_declarations_and_their_mistakes() {
        let product = run(
            with_identity(quote! {
                input(orders, topic = "sales.orders", value = Order),
                output(spend, topic = "sales.spend", value = Spend),
                store(totals, key = String, value = Spend),
                store(seen, key = String, value = u64, ttl(after = "30m", clock = stream)),
                store(cache, key = String, value = u64, ttl(after = "10s")),
            }),
            spend_impl(),
        )
        .expect("valid");
        assert!(product.stores[0].ttl.is_none());
        let (after, clock) = product.stores[1].ttl.expect("a ttl");
        assert_eq!((after.ms, clock), (1_800_000, Clock::Stream));
        let (after, clock) = product.stores[2].ttl.expect("a ttl");
        assert_eq!(
            (after.ms, clock),
            (10_000, Clock::Wall),
            "the wall clock by default"
        );

        let messages = errors_of(
            with_identity(quote! {
                input(orders, topic = "sales.orders", value = Order),
                output(spend, topic = "sales.spend", value = Spend),
                store(totals, key = String, value = Spend),
                store(a, key = String, value = u64, ttl(clock = wall)),
                store(b, key = String, value = u64, ttl(after = "1h", clock = steam)),
                store(c, key = String, value = u64, ttl(after = "0s")),
                store(d, key = String, value = u64, window(size = "1m"), ttl(after = "1h")),
                store(e, key = String, value = u64, ttl(aftr = "1h")),
            }),
            spend_impl(),
        );
        assert_eq!(messages.len(), 5, "{messages:#?}");
        // Parsing reports the unknown key first; the checks follow in order.
        let expected = [
            "unknown key `aftr` in `ttl(...)`; did you mean `after`?",
            "`ttl` of store `a` without `after`",
            "unknown clock `steam` in the `ttl` of store `b`; did you mean `stream`?",
            "`after` must be longer than zero",
            "store `d` has both `window(...)` and `ttl(...)`",
        ];
        for (message, expected) in messages.iter().zip(expected) {
            assert!(message.contains(expected), "{message}\nshould say: {expected}");
        }
    }

    #[test]
    fn store_formats_and_their_mistakes() {
        let product = run(
            with_identity(quote! {
                input(orders, topic = "sales.orders", value = Order),
                output(spend, topic = "sales.spend", value = Spend),
                store(totals, key = String, value = Spend, format = avro),
            }),
            spend_impl(),
        )
        .expect("valid");
        assert!(product.stores[0].avro_values);
        let messages = errors_of(
            with_identity(quote! {
                input(orders, topic = "sales.orders", value = Order),
                output(spend, topic = "sales.spend", value = Spend),
                store(totals, key = String, value = Spend, format = arvo),
                store(w, key = String, value = u64, window(size = "1m"), format = avro),
            }),
            spend_impl(),
        );
        assert_eq!(messages.len(), 2, "{messages:#?}");
        assert!(
            messages[0].contains("unknown store format `arvo` in store `totals`; did you mean `avro`?"),
            "{}",
            messages[0]
        );
        assert!(
            messages[1].contains("a windowed store's values cannot declare `format = avro`"),
            "{}",
            messages[1]
        );
    }

    #[test]
    fn a_typo_inside_a_declaration_is_not_also_reported_missing() {
        let messages = errors_of(
            with_identity(quote! {
                input(orders, tpoic = "sales.orders", value = Order),
                output(spend, topic = "sales.spend", value = Spend),
                store(totals, kye = String, value = Spend, window(sise = "1m")),
            }),
            spend_impl(),
        );
        assert_eq!(messages.len(), 3, "{messages:#?}");
        assert!(messages[0].contains("unknown key `tpoic` in `input(...)`; did you mean `topic`?"));
        assert!(messages[1].contains("unknown key `kye` in `store(...)`; did you mean `key`?"));
        assert!(messages[2].contains("unknown key `sise` in `window(...)`; did you mean `size`?"));
    }

    #[test]
    fn window_without_a_size() {
        let message = one_error(
            with_identity(quote! {
                input(orders, topic = "sales.orders", value = Order),
                output(spend, topic = "sales.spend", value = Spend),
                store(totals, key = String, value = Spend, window(grace = "5s")),
            }),
            syn::parse_quote! {
                impl P {
                    #[transform(orders, stores = [totals])]
                    fn f(o: &Order, t: WindowStoreRef<String, Spend>, ctx: &mut Context) {}
                }
            },
        );
        assert!(message.starts_with("window without a size: give its length, e.g. `window(size = \"1m\")`"));
    }

    #[test]
    fn transform_bound_to_an_unknown_port() {
        let message = one_error(
            with_identity(io()),
            syn::parse_quote! {
                impl P {
                    #[transform(ordres, stores = [totals])]
                    fn on_order(&mut self, order: &Order, totals: StoreRef<String, Spend>, ctx: &mut Context) {}
                }
            },
        );
        // `orders` is then left without a transform, but one mistake gets one message.
        assert_eq!(
            message,
            "no input port `ordres`; did you mean `orders`? The input ports are `orders`"
        );
    }

    #[test]
    fn transform_bound_to_an_output_port_or_twice() {
        let messages = errors_of(
            with_identity(io()),
            syn::parse_quote! {
                impl P {
                    #[transform(orders, stores = [totals])]
                    fn a(&mut self, order: &Order, totals: StoreRef<String, Spend>, ctx: &mut Context) {}
                    #[transform(orders)]
                    fn b(&mut self, order: &Order, ctx: &mut Context) {}
                    #[transform(spend)]
                    fn c(&mut self, order: &Order, ctx: &mut Context) {}
                    #[transform(stores = [totals])]
                    fn d(&mut self, order: &Order, ctx: &mut Context) {}
                }
            },
        );
        assert_eq!(messages.len(), 3, "{messages:#?}");
        assert!(messages[0].contains("input port `orders` already has a transform, `a`"));
        assert!(messages[1]
            .contains("`spend` is an output port; a transform is bound to an input port: `orders`"));
        assert!(messages[2]
            .contains("missing input port: name the port `d` handles first, e.g. `#[transform(orders)]`"));
    }

    #[test]
    fn unknown_store_in_a_transform() {
        let message = one_error(
            with_identity(io()),
            syn::parse_quote! {
                impl P {
                    #[transform(orders, stores = [total])]
                    fn on_order(&mut self, order: &Order, totals: StoreRef<String, Spend>, ctx: &mut Context) {}
                }
            },
        );
        assert!(message.starts_with(
            "unknown store `total` in `on_order`; did you mean `totals`? The product's stores are `totals`"
        ));
    }

    #[test]
    fn an_input_without_transform() {
        let message = one_error(with_identity(io()), syn::parse_quote!(impl P {}));
        assert!(message.starts_with("input port `orders` has no transform"));
    }

    #[test]
    fn transform_signature_mistakes() {
        let messages = errors_of(
            with_identity(quote! {
                input(orders, topic = "sales.orders", value = Order, key = OrderId),
                input(refunds, topic = "sales.refunds", value = Refund),
                input(raw, topic = "sales.raw"),
                output(spend, topic = "sales.spend", value = Spend),
                store(totals, key = String, value = Spend),
            }),
            syn::parse_quote! {
                impl P {
                    #[transform(orders, stores = [totals])]
                    fn a(&mut self, order: &Order, ctx: &mut Context) {}
                    #[transform(refunds, stores = [totals, totals])]
                    unsafe fn b<T>(self, refund: &Refund, ctx: &mut Context) {}
                    #[transform(raw)]
                    fn c() {}
                }
            },
        );
        assert_eq!(messages.len(), 6, "{messages:#?}");
        assert_eq!(
            messages[0],
            "transform `a` for input port `orders` takes 4 parameters after its receiver: \
             (key: &OrderId, value: &Order, totals: StoreRef<String, Spend>, ctx: &mut Context); it has 2"
        );
        assert!(messages[1].contains("store `totals` is listed twice"));
        assert!(messages[2].contains("`b` takes `self` by value"));
        assert!(messages[3].contains("transform `b` cannot be generic"));
        assert!(messages[4].contains("transform `b` cannot be `unsafe`"));
        assert_eq!(
            messages[5],
            "transform `c` for input port `raw` takes 2 parameters after its receiver: \
             (value: Option<&[u8]>, ctx: &mut Context); it has 0"
        );
        let message = one_error(
            with_identity(quote! {
                input(raw, topic = "sales.raw"),
                output(spend, topic = "sales.spend"),
            }),
            syn::parse_quote!(impl P { #[transform(raw, record)] fn c() {} }),
        );
        assert_eq!(
            message,
            "transform `c` for input port `raw` takes 3 parameters after its receiver: \
             (record: &Record<'_>, value: Option<&[u8]>, ctx: &mut Context); it has 0"
        );
    }

    #[test]
    fn several_mistakes_of_every_kind_in_one_compile() {
        let messages = errors_of(
            quote! {
                domain = "sales", name = "n", version = "one", ownr = "x",
                input(orders, topic = "sales.orders", value = Order),
                output(spend, topic = "sales.orders", value = Spend),
                store(totals, key = String, value = Spend),
            },
            syn::parse_quote! {
                impl P {
                    #[transform(orders, stores = [totls])]
                    fn on_order(&mut self, order: &Order, ctx: &mut Context) {}
                }
            },
        );
        // `ownr` is not also reported as a missing `owner`: one mistake, one message.
        assert_eq!(messages.len(), 4, "{messages:#?}");
        assert!(
            messages[0].contains("unknown key `ownr` in `#[meshkit::product(...)]`; did you mean `owner`?")
        );
        assert!(messages[1].contains("`one` is not a semantic version"));
        assert!(messages[2].contains("which input port `orders` reads"));
        assert!(messages[3].contains("unknown store `totls`"));
    }

    #[test]
    fn show_writes_types_as_people_do() {
        let ty: Type = syn::parse_quote!(std::collections::HashMap<String, Vec<(u8, &'static str)>>);
        assert_eq!(
            show(&ty),
            "std::collections::HashMap<String, Vec<(u8, &'static str)>>"
        );
        let ty: Type = syn::parse_quote!(Box<dyn Fn(u8) -> u8>);
        assert_eq!(show(&ty), "Box<dyn Fn(u8) -> u8>");
    }
}
