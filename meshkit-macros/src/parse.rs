//! The DSL's syntax tree, as written (every value keeps its tokens and span),
//! and its parser.
//!
//! Parsing has two steps. [`entries`] splits a comma-separated list into
//! `key`, `key = value` and `key(...)` entries without knowing any key; then
//! each place (product, port, store, window, slo, transform) interprets its
//! entries. A mistake in one entry is recorded and parsing goes on, so every
//! mistake of the item is reported at once. Whether a value *means* anything
//! (a semver version, a topic name, a port that exists) is `check.rs`'s job.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::{Parse, Parser};
use syn::punctuated::Punctuated;
use syn::{Ident, LitStr, Token, Type};

use crate::errors::Errors;
use crate::keys::{self, Place};

/// `#[meshkit::product(...)]`'s arguments.
#[derive(Default)]
pub(crate) struct ProductArgs {
    pub(crate) krate: Option<LitStr>,
    pub(crate) domain: Option<LitStr>,
    pub(crate) name: Option<LitStr>,
    pub(crate) version: Option<LitStr>,
    pub(crate) owner: Option<LitStr>,
    pub(crate) description: Option<LitStr>,
    pub(crate) tags: Vec<LitStr>,
    pub(crate) slo: Option<SloArgs>,
    pub(crate) inputs: Vec<PortArgs>,
    pub(crate) outputs: Vec<PortArgs>,
    pub(crate) stores: Vec<StoreArgs>,
    /// `lifecycle`: the product implements `meshkit::Lifecycle`, which the
    /// generated `DataProduct` calls.
    pub(crate) lifecycle: Option<Ident>,
    /// Keys that unknown keys were reported as likely typos of, so that they
    /// are not also reported missing.
    pub(crate) typos: Vec<&'static str>,
}

/// `input(name, topic = "...", value = T, key = K)` or `output(...)`.
pub(crate) struct PortArgs {
    /// `input(...)` as written, to point at the whole declaration.
    pub(crate) tokens: TokenStream,
    pub(crate) name: Option<Ident>,
    pub(crate) topic: Option<LitStr>,
    pub(crate) value: Option<Type>,
    pub(crate) key: Option<Type>,
    /// `format = json`: the values' format.
    pub(crate) format: Option<Ident>,
    /// `key_format = string`: the keys' format.
    pub(crate) key_format: Option<Ident>,
    /// `event_time = field`: the value's field that holds its event time
    /// (input ports).
    pub(crate) event_time: Option<Ident>,
    /// Declared with `table(...)` or `global_table(...)`: an input port
    /// read as a table.
    pub(crate) table: bool,
    /// Declared with `global_table(...)`.
    pub(crate) global: bool,
    /// Keys that unknown keys were reported as likely typos of.
    pub(crate) typos: Vec<&'static str>,
}

/// `store(name, key = K, value = V, window(...))`.
pub(crate) struct StoreArgs {
    pub(crate) tokens: TokenStream,
    pub(crate) name: Option<Ident>,
    pub(crate) key: Option<Type>,
    pub(crate) value: Option<Type>,
    pub(crate) window: Option<WindowArgs>,
    pub(crate) ttl: Option<TtlArgs>,
    pub(crate) format: Option<Ident>,
    /// Keys that unknown keys were reported as likely typos of.
    pub(crate) typos: Vec<&'static str>,
}

/// `ttl(after = "30m", clock = stream)`.
pub(crate) struct TtlArgs {
    pub(crate) tokens: TokenStream,
    pub(crate) after: Option<LitStr>,
    pub(crate) clock: Option<Ident>,
    /// Keys that unknown keys were reported as likely typos of.
    pub(crate) typos: Vec<&'static str>,
}

/// `window(size = "1m", advance = "20s", grace = "10s", emit = on_close)`.
pub(crate) struct WindowArgs {
    pub(crate) tokens: TokenStream,
    pub(crate) size: Option<LitStr>,
    pub(crate) advance: Option<LitStr>,
    pub(crate) grace: Option<LitStr>,
    pub(crate) emit: Option<Ident>,
    pub(crate) kind: Option<Ident>,
    pub(crate) gap: Option<LitStr>,
    pub(crate) retention: Option<LitStr>,
    /// Keys that unknown keys were reported as likely typos of.
    pub(crate) typos: Vec<&'static str>,
}

/// `slo(freshness = "5m", latency = "250ms")`.
pub(crate) struct SloArgs {
    pub(crate) freshness: Option<LitStr>,
    pub(crate) latency: Option<LitStr>,
}

/// `#[transform(port, stores = [a, b], record)]` on a method.
pub(crate) struct TransformArgs {
    /// The attribute as written.
    pub(crate) tokens: TokenStream,
    pub(crate) port: Option<Ident>,
    pub(crate) stores: Vec<Ident>,
    pub(crate) record: bool,
}

/// A method of the product's `impl` block bound by `#[transform(...)]`.
pub(crate) struct TransformFn {
    pub(crate) args: TransformArgs,
    pub(crate) sig: syn::Signature,
}

/// `#[timer(every = "30s", clock = wall, stores = [a])]` on a method.
pub(crate) struct TimerArgs {
    /// The attribute as written.
    pub(crate) tokens: TokenStream,
    pub(crate) every: Option<LitStr>,
    pub(crate) clock: Option<Ident>,
    pub(crate) stores: Vec<Ident>,
    /// The keys that unknown keys were taken for (reported there, so not
    /// also missing).
    pub(crate) typos: Vec<&'static str>,
}

/// A method of the product's `impl` block made a timer by `#[timer(...)]`.
pub(crate) struct TimerFn {
    pub(crate) args: TimerArgs,
    pub(crate) sig: syn::Signature,
}

/// A method marked `#[topology]`: where the product's stream operators are
/// built.
pub(crate) struct TopologyFn {
    /// The attribute, for errors about it.
    pub(crate) attr: syn::Attribute,
    pub(crate) sig: syn::Signature,
}

/// The methods the product's attributes bind: transforms, timers and the
/// topology.
#[derive(Default)]
pub(crate) struct Bound {
    pub(crate) transforms: Vec<TransformFn>,
    pub(crate) timers: Vec<TimerFn>,
    pub(crate) topologies: Vec<TopologyFn>,
}

/// One entry of a comma-separated list.
pub(crate) struct Entry {
    pub(crate) key: Ident,
    pub(crate) form: Form,
}

/// How an entry is written.
pub(crate) enum Form {
    /// `key`
    Flag,
    /// `key = tokens`
    Value { eq: Span, tokens: TokenStream },
    /// `key(tokens)`
    Group { group: proc_macro2::Group },
}

impl Entry {
    /// The entry as written, to point at all of it.
    fn tokens(&self) -> TokenStream {
        let mut tokens = self.key.to_token_stream();
        match &self.form {
            Form::Flag => {}
            Form::Value { tokens: value, .. } => tokens.extend(value.clone()),
            Form::Group { group } => tokens.extend(group.to_token_stream()),
        }
        tokens
    }

    fn name(&self) -> String {
        syn::ext::IdentExt::unraw(&self.key).to_string()
    }
}

/// Consumes tokens up to (and including) the next top-level `,`, and
/// returns those before it. `<...>` counts as a level, so that a type such
/// as `HashMap<String, u64>` stays in one piece.
fn take_until_comma(iter: &mut std::iter::Peekable<proc_macro2::token_stream::IntoIter>) -> TokenStream {
    let mut taken = TokenStream::new();
    let mut angles = 0usize;
    let mut after_dash = false;
    for tree in iter.by_ref() {
        if let TokenTree::Punct(p) = &tree {
            match p.as_char() {
                ',' if angles == 0 => break,
                '<' => angles += 1,
                '>' if !after_dash => angles = angles.saturating_sub(1),
                _ => {}
            }
            after_dash = p.as_char() == '-' && p.spacing() == proc_macro2::Spacing::Joint;
        } else {
            after_dash = false;
        }
        taken.extend([tree]);
    }
    taken
}

/// Splits a comma-separated list into entries. Never fails: what cannot be
/// read is recorded in `errors` and skipped up to the next comma.
pub(crate) fn entries(tokens: TokenStream, place: &Place, errors: &mut Errors) -> Vec<Entry> {
    let mut iter = tokens.into_iter().peekable();
    let mut out = Vec::new();
    while let Some(tree) = iter.next() {
        let key = match tree {
            TokenTree::Ident(key) => key,
            TokenTree::Punct(p) if p.as_char() == ',' => {
                errors.at(
                    p.span(),
                    format!("unexpected `,` in {}: expected a key", place.shown),
                );
                continue;
            }
            other => {
                errors.over(
                    &other,
                    format!(
                        "expected a key in {}, such as `{}`",
                        place.shown,
                        place.keys.first().map_or("", |k| k.example)
                    ),
                );
                take_until_comma(&mut iter);
                continue;
            }
        };
        let form = match iter.peek() {
            None => Form::Flag,
            Some(TokenTree::Punct(p)) if p.as_char() == ',' => {
                iter.next();
                out.push(Entry {
                    key,
                    form: Form::Flag,
                });
                continue;
            }
            Some(TokenTree::Punct(p)) if p.as_char() == '=' => {
                let eq = p.span();
                iter.next();
                let tokens = take_until_comma(&mut iter);
                out.push(Entry {
                    key,
                    form: Form::Value { eq, tokens },
                });
                continue;
            }
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => {
                let group = g.clone();
                iter.next();
                Form::Group { group }
            }
            Some(other) => {
                errors.over(
                    other,
                    format!("expected `=`, `(` or `,` after `{key}` in {}", place.shown),
                );
                take_until_comma(&mut iter);
                continue;
            }
        };
        out.push(Entry { key, form });
        // After `key` at the end, or `key(...)`: a comma or the end.
        match iter.next() {
            None => {}
            Some(TokenTree::Punct(p)) if p.as_char() == ',' => {}
            Some(other) => {
                errors.over(&other, format!("expected `,` in {}", place.shown));
                take_until_comma(&mut iter);
            }
        }
    }
    out
}

/// Reports a key that does not belong to `place`, listing the valid keys and
/// suggesting the nearest (which it returns).
pub(crate) fn unknown_key(entry: &Entry, place: &Place, errors: &mut Errors) -> Option<&'static str> {
    let given = entry.name();
    let names = place.keys.iter().map(|k| k.name);
    errors.at(
        entry.key.span(),
        format!(
            "unknown key `{given}` in {}{}",
            place.shown,
            keys::suggest_then(
                &given,
                names.clone(),
                &format!("the valid keys are {}", keys::list(names.clone()))
            )
        ),
    );
    keys::nearest(&given, names)
}

/// Which keys of one place were already given, to report repeats.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    /// Whether `entry` is the first with its key; reports it otherwise.
    fn first(&mut self, entry: &Entry, place: &Place, errors: &mut Errors) -> bool {
        let name = entry.name();
        if self.0.contains(&name) {
            errors.at(
                entry.key.span(),
                format!("duplicate key `{name}` in {}; give it once", place.shown),
            );
            return false;
        }
        self.0.push(name);
        true
    }
}

/// The tokens of `key = value`, or an error showing how `key` is written.
fn value_tokens<'e>(entry: &'e Entry, place: &Place, errors: &mut Errors) -> Option<&'e TokenStream> {
    let example = place.example(&entry.name());
    match &entry.form {
        Form::Value { eq, tokens } => {
            if tokens.is_empty() {
                errors.at(
                    *eq,
                    format!("`{}` needs a value after `=`: `{example}`", entry.name()),
                );
                return None;
            }
            Some(tokens)
        }
        Form::Flag | Form::Group { .. } => {
            errors.over(
                entry.tokens(),
                format!("`{}` takes a value: `{example}`", entry.name()),
            );
            None
        }
    }
}

/// The tokens inside `key(...)`, or an error showing how `key` is written.
fn group_tokens(entry: &Entry, place: &Place, errors: &mut Errors) -> Option<TokenStream> {
    if let Form::Group { group } = &entry.form {
        return Some(group.stream());
    }
    let example = place.example(&entry.name());
    errors.over(
        entry.tokens(),
        format!("`{}` takes a list in parentheses: `{example}`", entry.name()),
    );
    None
}

/// `key = <T>`, parsed with `T`'s parser; `what` completes "expected …".
fn parse_value<T: Parse>(entry: &Entry, place: &Place, what: &str, errors: &mut Errors) -> Option<T> {
    let tokens = value_tokens(entry, place, errors)?;
    match syn::parse2::<T>(tokens.clone()) {
        Ok(value) => Some(value),
        Err(err) => {
            let example = place.example(&entry.name());
            errors.over(
                tokens,
                format!("expected {what} for `{}`: `{example}` ({err})", entry.name()),
            );
            None
        }
    }
}

/// `key = [a, b, c]`.
fn parse_list<T: Parse>(entry: &Entry, place: &Place, what: &str, errors: &mut Errors) -> Option<Vec<T>> {
    let tokens = value_tokens(entry, place, errors)?;
    let parser = |input: syn::parse::ParseStream<'_>| {
        let content;
        syn::bracketed!(content in input);
        Punctuated::<T, Token![,]>::parse_terminated(&content)
    };
    match parser.parse2(tokens.clone()) {
        Ok(items) => Some(items.into_iter().collect()),
        Err(err) => {
            let example = place.example(&entry.name());
            errors.over(
                tokens,
                format!(
                    "expected a list of {what} for `{}`: `{example}` ({err})",
                    entry.name()
                ),
            );
            None
        }
    }
}

/// Stores `value` in `slot` if this is the first time `entry`'s key is seen.
fn set<T>(
    slot: &mut Option<T>,
    value: Option<T>,
    entry: &Entry,
    seen: &mut Seen,
    place: &Place,
    errors: &mut Errors,
) {
    if seen.first(entry, place, errors) {
        *slot = value;
    }
}

/// The leading `name` of `input(name, ...)`, `store(name, ...)` or
/// `#[transform(port, ...)]`, if the first entry is a bare identifier.
fn leading_name(entries: &mut Vec<Entry>) -> Option<Ident> {
    match entries.first() {
        Some(Entry { form: Form::Flag, .. }) => Some(entries.remove(0).key),
        _ => None,
    }
}

/// Parses `#[meshkit::product(...)]`'s arguments.
pub(crate) fn product_args(tokens: TokenStream, errors: &mut Errors) -> ProductArgs {
    let place = &keys::PRODUCT;
    let mut args = ProductArgs::default();
    let mut seen = Seen::default();
    for entry in entries(tokens, place, errors) {
        let lit = |errors: &mut Errors| parse_value::<LitStr>(&entry, place, "a string literal", errors);
        match entry.name().as_str() {
            keys::CRATE => {
                let value = lit(errors);
                set(&mut args.krate, value, &entry, &mut seen, place, errors);
            }
            keys::DOMAIN => {
                let value = lit(errors);
                set(&mut args.domain, value, &entry, &mut seen, place, errors);
            }
            keys::NAME => {
                let value = lit(errors);
                set(&mut args.name, value, &entry, &mut seen, place, errors);
            }
            keys::VERSION => {
                let value = lit(errors);
                set(&mut args.version, value, &entry, &mut seen, place, errors);
            }
            keys::OWNER => {
                let value = lit(errors);
                set(&mut args.owner, value, &entry, &mut seen, place, errors);
            }
            keys::DESCRIPTION => {
                let value = lit(errors);
                set(&mut args.description, value, &entry, &mut seen, place, errors);
            }
            keys::TAGS => {
                let value = parse_list::<LitStr>(&entry, place, "string literals", errors);
                if seen.first(&entry, place, errors) {
                    args.tags = value.unwrap_or_default();
                }
            }
            keys::SLO => {
                let value = group_tokens(&entry, place, errors).map(|t| slo_args(t, errors));
                set(&mut args.slo, value, &entry, &mut seen, place, errors);
            }
            keys::INPUT => {
                if let Some(t) = group_tokens(&entry, place, errors) {
                    args.inputs
                        .push(port_args(entry.tokens(), t, &keys::INPUT_PORT, errors));
                }
            }
            keys::TABLE => {
                if let Some(t) = group_tokens(&entry, place, errors) {
                    let mut port = port_args(entry.tokens(), t, &keys::TABLE_PORT, errors);
                    port.table = true;
                    args.inputs.push(port);
                }
            }
            keys::GLOBAL_TABLE => {
                if let Some(t) = group_tokens(&entry, place, errors) {
                    let mut port = port_args(entry.tokens(), t, &keys::GLOBAL_TABLE_PORT, errors);
                    port.table = true;
                    port.global = true;
                    args.inputs.push(port);
                }
            }
            keys::OUTPUT => {
                if let Some(t) = group_tokens(&entry, place, errors) {
                    args.outputs
                        .push(port_args(entry.tokens(), t, &keys::OUTPUT_PORT, errors));
                }
            }
            keys::STORE => {
                if let Some(t) = group_tokens(&entry, place, errors) {
                    args.stores.push(store_args(entry.tokens(), t, errors));
                }
            }
            keys::LIFECYCLE => {
                if !matches!(entry.form, Form::Flag) {
                    errors.over(
                        entry.tokens(),
                        "`lifecycle` is a flag: write `lifecycle` alone, and implement `meshkit::Lifecycle` \
                         for the product",
                    );
                } else if seen.first(&entry, place, errors) {
                    args.lifecycle = Some(entry.key.clone());
                }
            }
            _ => args.typos.extend(unknown_key(&entry, place, errors)),
        }
    }
    args
}

fn port_args(whole: TokenStream, tokens: TokenStream, place: &Place, errors: &mut Errors) -> PortArgs {
    let (written_name, tokens) = written_port_name(tokens, errors);
    let mut entries = entries(tokens, place, errors);
    let mut port = PortArgs {
        tokens: whole,
        name: written_name.or_else(|| leading_name(&mut entries)),
        topic: None,
        value: None,
        key: None,
        format: None,
        key_format: None,
        event_time: None,
        table: false,
        global: false,
        typos: Vec::new(),
    };
    let takes_event_time = place.keys.iter().any(|k| k.name == keys::EVENT_TIME);
    let mut seen = Seen::default();
    for entry in entries {
        match entry.name().as_str() {
            keys::TOPIC => {
                let value = parse_value::<LitStr>(&entry, place, "a string literal", errors);
                set(&mut port.topic, value, &entry, &mut seen, place, errors);
            }
            keys::VALUE => {
                let value = parse_value::<Type>(&entry, place, "a type", errors);
                set(&mut port.value, value, &entry, &mut seen, place, errors);
            }
            keys::KEY => {
                let value = parse_value::<Type>(&entry, place, "a type", errors);
                set(&mut port.key, value, &entry, &mut seen, place, errors);
            }
            keys::FORMAT => {
                let value = parse_value::<Ident>(&entry, place, "`avro` or `json`", errors);
                set(&mut port.format, value, &entry, &mut seen, place, errors);
            }
            keys::KEY_FORMAT => {
                let value = parse_value::<Ident>(&entry, place, "`string`, `avro` or `json`", errors);
                set(&mut port.key_format, value, &entry, &mut seen, place, errors);
            }
            keys::EVENT_TIME if takes_event_time => {
                let value = parse_value::<Ident>(&entry, place, "a field of the value type", errors);
                set(&mut port.event_time, value, &entry, &mut seen, place, errors);
            }
            _ => port.typos.extend(unknown_key(&entry, place, errors)),
        }
    }
    port
}

/// A port name written as the user thinks it (`user-events`, `"user-events"`,
/// `2fa`) rather than as an identifier: one error that says what a port name
/// may be and suggests one, and the suggestion stands in for the name so
/// that nothing else is reported about it. `None` (tokens untouched) when
/// the name is an identifier or absent.
fn written_port_name(tokens: TokenStream, errors: &mut Errors) -> (Option<Ident>, TokenStream) {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let end = (trees.iter())
        .position(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
        .unwrap_or(trees.len());
    let head = trees.get(..end).unwrap_or_default();
    let plain_ident = matches!(head, [TokenTree::Ident(_)]);
    let is_entry = head
        .iter()
        .any(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == '=') || matches!(t, TokenTree::Group(_)));
    if head.is_empty() || plain_ident || is_entry {
        return (None, tokens);
    }
    let written: String =
        head.iter()
            .map(|t| match t {
                TokenTree::Literal(lit) => syn::parse2::<LitStr>(lit.to_token_stream())
                    .map_or_else(|_| lit.to_string(), |s| s.value()),
                other => other.to_string(),
            })
            .collect();
    let mut suggestion: String = (written.chars())
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    suggestion = suggestion.trim_matches('_').to_string();
    if suggestion.is_empty() {
        suggestion = "events".to_string();
    }
    if suggestion.starts_with(|c: char| c.is_ascii_digit()) {
        suggestion.insert_str(0, "port_");
    }
    let mut spans = head.iter().map(TokenTree::span);
    let first = spans.next().unwrap_or_else(Span::call_site);
    let span = spans
        .next_back()
        .and_then(|last| first.join(last))
        .unwrap_or(first);
    errors.at(
        span,
        format!(
            "`{written}` is not a port name: a port name is a Rust identifier (letters, digits and `_`, \
             not starting with a digit), as the transform and the outputs struct use it; write `{suggestion}` \
             (the topic keeps its own name: `topic = \"...\"`)"
        ),
    );
    let rest: TokenStream = trees.into_iter().skip(end + 1).collect();
    (Some(Ident::new(&suggestion, first)), rest)
}

fn store_args(whole: TokenStream, tokens: TokenStream, errors: &mut Errors) -> StoreArgs {
    let place = &keys::STORE_DECL;
    let mut entries = entries(tokens, place, errors);
    let mut store = StoreArgs {
        tokens: whole,
        name: leading_name(&mut entries),
        key: None,
        value: None,
        window: None,
        ttl: None,
        format: None,
        typos: Vec::new(),
    };
    let mut seen = Seen::default();
    for entry in entries {
        match entry.name().as_str() {
            keys::KEY => {
                let value = parse_value::<Type>(&entry, place, "a type", errors);
                set(&mut store.key, value, &entry, &mut seen, place, errors);
            }
            keys::VALUE => {
                let value = parse_value::<Type>(&entry, place, "a type", errors);
                set(&mut store.value, value, &entry, &mut seen, place, errors);
            }
            keys::WINDOW => {
                let value =
                    group_tokens(&entry, place, errors).map(|t| window_args(entry.tokens(), t, errors));
                set(&mut store.window, value, &entry, &mut seen, place, errors);
            }
            keys::TTL => {
                let value = group_tokens(&entry, place, errors).map(|t| ttl_args(entry.tokens(), t, errors));
                set(&mut store.ttl, value, &entry, &mut seen, place, errors);
            }
            keys::FORMAT => {
                let value = parse_value::<Ident>(&entry, place, "`avro`", errors);
                set(&mut store.format, value, &entry, &mut seen, place, errors);
            }
            _ => store.typos.extend(unknown_key(&entry, place, errors)),
        }
    }
    store
}

fn ttl_args(whole: TokenStream, tokens: TokenStream, errors: &mut Errors) -> TtlArgs {
    let place = &keys::TTL_DECL;
    let mut ttl = TtlArgs {
        tokens: whole,
        after: None,
        clock: None,
        typos: Vec::new(),
    };
    let mut seen = Seen::default();
    for entry in entries(tokens, place, errors) {
        match entry.name().as_str() {
            keys::AFTER => {
                let value = parse_value::<LitStr>(&entry, place, "a duration in a string literal", errors);
                set(&mut ttl.after, value, &entry, &mut seen, place, errors);
            }
            keys::CLOCK => {
                let value = parse_value::<Ident>(&entry, place, "`wall` or `stream`", errors);
                set(&mut ttl.clock, value, &entry, &mut seen, place, errors);
            }
            _ => ttl.typos.extend(unknown_key(&entry, place, errors)),
        }
    }
    ttl
}

fn window_args(whole: TokenStream, tokens: TokenStream, errors: &mut Errors) -> WindowArgs {
    let place = &keys::WINDOW_DECL;
    let mut window = WindowArgs {
        tokens: whole,
        size: None,
        advance: None,
        grace: None,
        emit: None,
        kind: None,
        gap: None,
        retention: None,
        typos: Vec::new(),
    };
    let mut seen = Seen::default();
    for entry in entries(tokens, place, errors) {
        let duration = |errors: &mut Errors| {
            parse_value::<LitStr>(&entry, place, "a duration in a string literal", errors)
        };
        match entry.name().as_str() {
            keys::SIZE => {
                let value = duration(errors);
                set(&mut window.size, value, &entry, &mut seen, place, errors);
            }
            keys::ADVANCE => {
                let value = duration(errors);
                set(&mut window.advance, value, &entry, &mut seen, place, errors);
            }
            keys::GRACE => {
                let value = duration(errors);
                set(&mut window.grace, value, &entry, &mut seen, place, errors);
            }
            keys::EMIT => {
                let value = parse_value::<Ident>(&entry, place, "`on_close` or `every_update`", errors);
                set(&mut window.emit, value, &entry, &mut seen, place, errors);
            }
            keys::KIND => {
                let value = parse_value::<Ident>(
                    &entry,
                    place,
                    "`tumbling`, `hopping`, `sliding` or `session`",
                    errors,
                );
                set(&mut window.kind, value, &entry, &mut seen, place, errors);
            }
            keys::GAP => {
                let value = duration(errors);
                set(&mut window.gap, value, &entry, &mut seen, place, errors);
            }
            keys::RETENTION => {
                let value = duration(errors);
                set(&mut window.retention, value, &entry, &mut seen, place, errors);
            }
            _ => window.typos.extend(unknown_key(&entry, place, errors)),
        }
    }
    window
}

fn slo_args(tokens: TokenStream, errors: &mut Errors) -> SloArgs {
    let place = &keys::SLO_DECL;
    let mut slo = SloArgs {
        freshness: None,
        latency: None,
    };
    let mut seen = Seen::default();
    for entry in entries(tokens, place, errors) {
        let duration = |errors: &mut Errors| {
            parse_value::<LitStr>(&entry, place, "a duration in a string literal", errors)
        };
        match entry.name().as_str() {
            keys::FRESHNESS => {
                let value = duration(errors);
                set(&mut slo.freshness, value, &entry, &mut seen, place, errors);
            }
            keys::LATENCY => {
                let value = duration(errors);
                set(&mut slo.latency, value, &entry, &mut seen, place, errors);
            }
            _ => {
                unknown_key(&entry, place, errors);
            }
        }
    }
    slo
}

/// Parses `#[transform(...)]`'s arguments.
pub(crate) fn transform_args(whole: TokenStream, tokens: TokenStream, errors: &mut Errors) -> TransformArgs {
    let place = &keys::TRANSFORM_ATTR;
    let mut entries = entries(tokens, place, errors);
    let mut args = TransformArgs {
        tokens: whole,
        port: leading_name(&mut entries),
        stores: Vec::new(),
        record: false,
    };
    let mut seen = Seen::default();
    for entry in entries {
        match entry.name().as_str() {
            keys::STORES => {
                let value = parse_list::<Ident>(&entry, place, "store names", errors);
                if seen.first(&entry, place, errors) {
                    args.stores = value.unwrap_or_default();
                }
            }
            keys::RECORD => {
                if !matches!(entry.form, Form::Flag) {
                    errors.over(
                        entry.tokens(),
                        "`record` is a flag: write `record` alone to receive the `&Record<'_>` first",
                    );
                } else if seen.first(&entry, place, errors) {
                    args.record = true;
                }
            }
            _ => {
                unknown_key(&entry, place, errors);
            }
        }
    }
    args
}

/// Parses `#[timer(...)]`'s arguments.
pub(crate) fn timer_args(whole: TokenStream, tokens: TokenStream, errors: &mut Errors) -> TimerArgs {
    let place = &keys::TIMER_ATTR;
    let mut args = TimerArgs {
        tokens: whole,
        every: None,
        clock: None,
        stores: Vec::new(),
        typos: Vec::new(),
    };
    let mut seen = Seen::default();
    for entry in entries(tokens, place, errors) {
        match entry.name().as_str() {
            keys::EVERY => {
                let value = parse_value::<LitStr>(&entry, place, "a duration", errors);
                if seen.first(&entry, place, errors) {
                    args.every = value;
                }
            }
            keys::CLOCK => {
                let value = parse_value::<Ident>(&entry, place, "`wall` or `stream`", errors);
                if seen.first(&entry, place, errors) {
                    args.clock = value;
                }
            }
            keys::STORES => {
                let value = parse_list::<Ident>(&entry, place, "store names", errors);
                if seen.first(&entry, place, errors) {
                    args.stores = value.unwrap_or_default();
                }
            }
            _ => {
                args.typos.extend(unknown_key(&entry, place, errors));
            }
        }
    }
    args
}

/// Whether `attr` is `#[<name>(...)]` (or `#[some::path::<name>(...)]`).
fn is_attr(attr: &syn::Attribute, name: &str) -> bool {
    attr.path().segments.last().is_some_and(|s| s.ident == name)
}

/// The arguments of an attribute of ours, `#[name(...)]`.
fn attr_tokens(attr: &syn::Attribute, example: &str, errors: &mut Errors) -> TokenStream {
    match &attr.meta {
        syn::Meta::Path(_) => TokenStream::new(),
        syn::Meta::List(list) => list.tokens.clone(),
        syn::Meta::NameValue(nv) => {
            errors.over(nv, format!("write `{example}`"));
            TokenStream::new()
        }
    }
}

/// Takes the `#[transform(...)]` and `#[timer(...)]` attributes out of the
/// `impl` block's methods (they are the macro's, not the compiler's) and
/// parses them.
pub(crate) fn take_transforms(item: &mut syn::ItemImpl, errors: &mut Errors) -> Bound {
    let mut bound = Bound::default();
    for impl_item in &mut item.items {
        let (attrs, sig) = match impl_item {
            syn::ImplItem::Fn(f) => (&mut f.attrs, Some(&f.sig)),
            syn::ImplItem::Const(c) => (&mut c.attrs, None),
            syn::ImplItem::Type(t) => (&mut t.attrs, None),
            syn::ImplItem::Macro(m) => (&mut m.attrs, None),
            _ => continue,
        };
        let (transforms, theirs): (Vec<_>, Vec<_>) = std::mem::take(attrs)
            .into_iter()
            .partition(|a| is_attr(a, keys::TRANSFORM));
        let (timers, theirs): (Vec<_>, Vec<_>) = theirs.into_iter().partition(|a| is_attr(a, keys::TIMER));
        let (topologies, theirs): (Vec<_>, Vec<_>) =
            theirs.into_iter().partition(|a| is_attr(a, keys::TOPOLOGY));
        *attrs = theirs;
        if let Some(topology) = topologies.first() {
            let Some(sig) = sig else {
                errors.over(
                    topology,
                    "`#[topology]` goes on a method (`fn flow(t: &mut Topology)` of the product's `impl` block)",
                );
                continue;
            };
            if let Some(other) = transforms.first().or(timers.first()) {
                errors.over(
                    other,
                    "a `#[topology]` method only builds the topology: put the transform or timer in a method of its own",
                );
                continue;
            }
            for extra in topologies.iter().skip(1) {
                errors.over(extra, "`#[topology]` is written once on a method");
            }
            if !matches!(topology.meta, syn::Meta::Path(_)) {
                errors.over(topology, "`#[topology]` takes no arguments: write `#[topology]`");
            }
            bound.topologies.push(TopologyFn {
                attr: topology.clone(),
                sig: sig.clone(),
            });
            continue;
        }
        let Some(sig) = sig else {
            for attr in &transforms {
                errors.over(
                    attr,
                    "`#[transform]` goes on a method (a `fn` of the product's `impl` block)",
                );
            }
            for attr in &timers {
                errors.over(
                    attr,
                    "`#[timer]` goes on a method (a `fn` of the product's `impl` block)",
                );
            }
            continue;
        };
        if let (Some(_), Some(timer)) = (transforms.first(), timers.first()) {
            errors.over(
                timer,
                "a method is a transform or a timer, not both: move the timer's work to a method of its own",
            );
            continue;
        }
        let mut transforms = transforms.into_iter();
        if let Some(first) = transforms.next() {
            for extra in transforms {
                errors.over(
                    &extra,
                    "a method takes one `#[transform(...)]`; to handle another input port, write another method",
                );
            }
            let tokens = attr_tokens(
                &first,
                "#[transform(port)]`, e.g. `#[transform(orders, stores = [totals])]",
                errors,
            );
            let args = transform_args(first.to_token_stream(), tokens, errors);
            bound.transforms.push(TransformFn {
                args,
                sig: sig.clone(),
            });
        }
        let mut timers = timers.into_iter();
        if let Some(first) = timers.next() {
            for extra in timers {
                errors.over(
                    &extra,
                    "a method takes one `#[timer(...)]`; for another schedule, write another method",
                );
            }
            let tokens = attr_tokens(&first, r#"#[timer(every = "30s")]"#, errors);
            let args = timer_args(first.to_token_stream(), tokens, errors);
            bound.timers.push(TimerFn {
                args,
                sig: sig.clone(),
            });
        }
    }
    bound
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    #[test]
    fn a_port_name_written_as_a_topic_gets_one_error_with_a_suggestion() {
        for (written, suggested) in [
            (quote::quote!(user - events, topic = "x"), "user_events"),
            (quote::quote!("user-events", topic = "x"), "user_events"),
            (quote::quote!(2fa, topic = "x"), "port_2fa"),
        ] {
            let mut errors = Errors::new();
            let (name, rest) = written_port_name(written, &mut errors);
            assert_eq!(name.map(|n| n.to_string()).as_deref(), Some(suggested));
            assert_eq!(rest.to_string(), quote::quote!(topic = "x").to_string());
            let message = errors.finish().expect_err("an error").to_string();
            assert!(message.contains(&format!("write `{suggested}`")), "{message}");
        }
        let mut errors = Errors::new();
        let (name, _) = written_port_name(quote::quote!(orders, topic = "x"), &mut errors);
        assert!(
            name.is_none() && errors.finish().is_ok(),
            "an identifier is left to the parser"
        );
    }

    fn messages(errors: Errors) -> Vec<String> {
        match errors.finish() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    fn ty(t: &Option<Type>) -> String {
        t.as_ref()
            .map(|t| t.to_token_stream().to_string())
            .unwrap_or_default()
    }

    #[test]
    fn a_full_product_parses_into_its_parts() -> Result<(), Box<dyn std::error::Error>> {
        let mut errors = Errors::new();
        let args = product_args(
            quote! {
                domain = "sales",
                name = "customer-spend",
                version = "1.0.0",
                owner = "team-sales@example.com",
                description = "Spend per customer",
                tags = ["sales", "tier-1"],
                slo(freshness = "5m", latency = "250ms"),
                input(orders, topic = "sales.orders", value = Order, key = OrderId),
                output(spend, topic = "sales.customer-spend", value = std::collections::HashMap<String, u64>),
                store(totals, key = String, value = Spend),
                store(per_minute, key = String, value = u64, window(size = "1m", advance = "20s", grace = "10s", emit = on_close)),
                crate = "my_reexport::meshkit",
            },
            &mut errors,
        );
        assert!(messages(errors).is_empty());
        assert_eq!(args.domain.ok_or("missing")?.value(), "sales");
        assert_eq!(args.name.ok_or("missing")?.value(), "customer-spend");
        assert_eq!(args.version.ok_or("missing")?.value(), "1.0.0");
        assert_eq!(args.owner.ok_or("missing")?.value(), "team-sales@example.com");
        assert_eq!(args.description.ok_or("missing")?.value(), "Spend per customer");
        assert_eq!(args.krate.ok_or("missing")?.value(), "my_reexport::meshkit");
        let tags: Vec<String> = args.tags.iter().map(LitStr::value).collect();
        assert_eq!(tags, ["sales", "tier-1"]);
        let slo = args.slo.ok_or("missing")?;
        assert_eq!(slo.freshness.ok_or("missing")?.value(), "5m");
        assert_eq!(slo.latency.ok_or("missing")?.value(), "250ms");

        assert_eq!(args.inputs.len(), 1);
        let input = &args.inputs[0];
        assert_eq!(input.name.as_ref().ok_or("missing")?.to_string(), "orders");
        assert_eq!(input.topic.as_ref().ok_or("missing")?.value(), "sales.orders");
        assert_eq!(ty(&input.value), "Order");
        assert_eq!(ty(&input.key), "OrderId");

        assert_eq!(args.outputs.len(), 1);
        let output = &args.outputs[0];
        assert_eq!(
            ty(&output.value),
            "std :: collections :: HashMap < String , u64 >"
        );
        assert!(output.key.is_none());

        assert_eq!(args.stores.len(), 2);
        let (plain, windowed) = (&args.stores[0], &args.stores[1]);
        assert_eq!(plain.name.as_ref().ok_or("missing")?.to_string(), "totals");
        assert_eq!(
            (ty(&plain.key), ty(&plain.value)),
            ("String".into(), "Spend".into())
        );
        assert!(plain.window.is_none());
        let window = windowed.window.as_ref().ok_or("missing")?;
        assert_eq!(window.size.as_ref().ok_or("missing")?.value(), "1m");
        assert_eq!(window.advance.as_ref().ok_or("missing")?.value(), "20s");
        assert_eq!(window.grace.as_ref().ok_or("missing")?.value(), "10s");
        assert_eq!(window.emit.as_ref().ok_or("missing")?.to_string(), "on_close");
        Ok(())
    }

    #[test]
    fn an_unknown_key_lists_the_valid_ones_and_suggests_the_nearest() {
        let mut errors = Errors::new();
        product_args(quote!(ownr = "team"), &mut errors);
        let messages = messages(errors);
        assert_eq!(messages.len(), 1);
        assert!(messages[0]
            .starts_with("unknown key `ownr` in `#[meshkit::product(...)]`; did you mean `owner`?"));
        assert!(messages[0].contains("? The valid keys are `domain`, `name`, `version`, `owner`"));
        assert!(messages[0].ends_with("`store`, `lifecycle` and `crate`"));
    }

    #[test]
    fn an_unknown_key_far_from_any_gets_no_suggestion() {
        let mut errors = Errors::new();
        port_args(
            TokenStream::new(),
            quote!(orders, zzzzzz = 1),
            &keys::INPUT_PORT,
            &mut errors,
        );
        let messages = messages(errors);
        assert_eq!(
            messages,
            ["unknown key `zzzzzz` in `input(...)`; the valid keys are `topic`, `value`, `key`, `format`, `key_format` and `event_time`"]
        );
    }

    #[test]
    fn every_mistake_is_reported_and_parsing_goes_on() -> Result<(), Box<dyn std::error::Error>> {
        let mut errors = Errors::new();
        let args = product_args(
            quote! {
                domian = "sales",
                owner = "a",
                owner = "b",
                version = 1.0,
                tags = "sales",
                slo = "5m",
                input(orders, tpoic = "x", value = Order),
                store(totals, key = String, value = Spend, window(sise = "1m")),
                name = "n",
            },
            &mut errors,
        );
        let messages = messages(errors);
        assert_eq!(messages.len(), 7, "{messages:#?}");
        assert!(
            messages[0].contains("unknown key `domian`") && messages[0].contains("did you mean `domain`?")
        );
        assert!(messages[1].contains("duplicate key `owner`"));
        assert!(messages[2].contains("expected a string literal for `version`: `version = \"1.0.0\"`"));
        assert!(messages[3].contains("expected a list of string literals for `tags`"));
        assert!(messages[4].contains("`slo` takes a list in parentheses"));
        assert!(messages[5].contains("unknown key `tpoic` in `input(...)`; did you mean `topic`?"));
        assert!(messages[6].contains("unknown key `sise` in `window(...)`; did you mean `size`?"));
        // What was right is still there.
        assert_eq!(args.owner.ok_or("missing")?.value(), "a");
        assert_eq!(args.name.ok_or("missing")?.value(), "n");
        assert_eq!(args.inputs.len(), 1);
        assert_eq!(args.stores.len(), 1);
        Ok(())
    }

    #[test]
    fn malformed_lists_are_reported_and_skipped() -> Result<(), Box<dyn std::error::Error>> {
        let mut errors = Errors::new();
        let args = product_args(
            quote!("sales", domain "x", owner =, name = "n", , input),
            &mut errors,
        );
        let messages = messages(errors);
        assert_eq!(messages.len(), 5, "{messages:#?}");
        assert!(messages[0].starts_with("expected a key in `#[meshkit::product(...)]`"));
        assert!(messages[1].starts_with("expected `=`, `(` or `,` after `domain`"));
        // Splitting mistakes come first, then those of each value.
        assert!(messages[2].starts_with("unexpected `,`"));
        assert!(messages[3].starts_with("`owner` needs a value after `=`"));
        assert!(messages[4].starts_with("`input` takes a list in parentheses"));
        assert_eq!(args.name.ok_or("missing")?.value(), "n");
        Ok(())
    }

    #[test]
    fn generic_types_with_commas_stay_whole() {
        let mut errors = Errors::new();
        let store = store_args(
            TokenStream::new(),
            quote!(s, key = (u8, u16), value = HashMap<String, Vec<Box<dyn Fn(u8) -> u8>>>),
            &mut errors,
        );
        assert!(messages(errors).is_empty());
        assert_eq!(ty(&store.key), "(u8 , u16)");
        assert_eq!(
            ty(&store.value),
            "HashMap < String , Vec < Box < dyn Fn (u8) -> u8 > > >"
        );
    }

    #[test]
    fn transforms_are_taken_out_of_the_impl_block() -> Result<(), Box<dyn std::error::Error>> {
        let mut item: syn::ItemImpl = syn::parse_quote! {
            impl Spend {
                #[transform(orders, stores = [totals, per_minute], record)]
                #[inline]
                async fn on_order(&mut self) -> Result<(), TransformError> { Ok(()) }

                fn helper(&self) {}

                #[meshkit::transform(refunds)]
                fn on_refund(&self) {}
            }
        };
        let mut errors = Errors::new();
        let transforms = take_transforms(&mut item, &mut errors).transforms;
        assert!(messages(errors).is_empty());
        assert_eq!(transforms.len(), 2);
        let first = &transforms[0];
        assert_eq!(first.sig.ident.to_string(), "on_order");
        assert_eq!(first.args.port.as_ref().ok_or("missing")?.to_string(), "orders");
        let stores: Vec<String> = first.args.stores.iter().map(ToString::to_string).collect();
        assert_eq!(stores, ["totals", "per_minute"]);
        assert!(first.args.record);
        assert_eq!(
            transforms[1].args.port.as_ref().ok_or("missing")?.to_string(),
            "refunds"
        );
        assert!(!transforms[1].args.record);
        // Only `#[transform]` is removed.
        let left = item.to_token_stream().to_string();
        assert!(!left.contains("transform ("), "{left}");
        assert!(left.contains("# [inline]"), "{left}");
        Ok(())
    }

    #[test]
    fn transform_mistakes() {
        let mut item: syn::ItemImpl = syn::parse_quote! {
            impl P {
                #[transform(orders, store = [totals], record = true)]
                #[transform(refunds)]
                fn a(&self) {}
                #[transform]
                const X: u8 = 1;
                #[transform = "orders"]
                fn b(&self) {}
            }
        };
        let mut errors = Errors::new();
        let transforms = take_transforms(&mut item, &mut errors).transforms;
        let messages = messages(errors);
        assert_eq!(messages.len(), 5, "{messages:#?}");
        assert!(messages[0].contains("a method takes one `#[transform(...)]`"));
        assert!(messages[1].contains("unknown key `store` in `#[transform(...)]`; did you mean `stores`?"));
        assert!(messages[2].contains("`record` is a flag"));
        assert!(messages[3].contains("`#[transform]` goes on a method"));
        assert!(messages[4].contains("write `#[transform(port)]`"));
        assert_eq!(transforms.len(), 2);
        assert!(transforms[1].args.port.is_none());
    }
}
