//! Code generation: the user's `impl` block (minus the `#[transform]`
//! attributes), and an `impl DataProduct` of static metadata and dispatch,
//! reaching the runtime only through `<crate>::__private`.
//!
//! Where the compiler checks a rule (an Avro type, a serde type, a parameter
//! or return type), the generated tokens carry the span of the user's tokens,
//! so the compiler's error lands on them.
//!
//! On any mistake, [`fallback`] still emits the user's `impl` block and a stub
//! `impl DataProduct` beside the errors, so that one mistake does not cascade
//! into "method not found" or "trait not implemented" errors elsewhere.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::LitStr;

use crate::check;
use crate::errors::Errors;
use crate::model::{
    Clock, Emit, Format, Millis, Port, Product, Receiver, Store, Timer, TopologyMethod, Transform, WindowKind,
};
use crate::parse;

/// `#[meshkit::product(args)] item`: the full expansion, or the fallback
/// beside the errors. Never fails and never panics.
pub(crate) fn product(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut item_impl = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Impl(item_impl)) if item_impl.trait_.is_none() => item_impl,
        Ok(syn::Item::Impl(item_impl)) => {
            let error = syn::Error::new_spanned(
                item_impl.trait_.as_ref().map(|(_, path, _)| path),
                "`#[meshkit::product(...)]` goes on the product type's own `impl` block \
                 (`impl MyProduct { ... }`), not on a trait `impl`: it writes `impl DataProduct` itself",
            );
            return with_errors(item, error);
        }
        Ok(_) | Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                "`#[meshkit::product(...)]` goes on the `impl` block of the product type, whose methods \
                 marked `#[transform(port)]` handle the input ports: `struct MyProduct; \
                 #[meshkit::product(...)] impl MyProduct { #[transform(orders)] fn on_order(...) ... }`",
            );
            return with_errors(item, error);
        }
    };
    let topology_methods: Vec<syn::Ident> = (item_impl.items.iter())
        .filter_map(|item| match item {
            syn::ImplItem::Fn(f)
                if f.attrs.iter().any(|a| {
                    a.path()
                        .segments
                        .last()
                        .is_some_and(|s| s.ident == crate::keys::TOPOLOGY)
                }) =>
            {
                Some(f.sig.ident.clone())
            }
            _ => None,
        })
        .collect();
    let has_topology = !topology_methods.is_empty();
    match analyze(args.clone(), &mut item_impl) {
        Ok(product) => full(&product, &item_impl),
        Err((error, krate)) => {
            // The output ports that parsed, so that `Self::OUT` still
            // resolves and the mistake is reported once, not at every send.
            let parsed = parse::product_args(args, &mut Errors::new());
            let decls: Vec<OutputDecl<'_>> = (parsed.outputs.iter())
                .filter_map(|p| {
                    Some(OutputDecl {
                        name: p.name.as_ref()?,
                        topic: p.topic.as_ref().map(LitStr::value),
                        value: p.value.as_ref(),
                        key: p.key.as_ref(),
                    })
                })
                .collect();
            let mut handles = outputs(&decls, &item_impl);
            if has_topology {
                // `Self::IN` still resolves in the topology method, so that
                // the mistake is reported once.
                let inputs: Vec<InputDecl<'_>> = (parsed.inputs.iter())
                    .filter_map(|p| {
                        Some(InputDecl {
                            name: p.name.as_ref()?,
                            topic: p.topic.as_ref().map(LitStr::value),
                            value: p.value.as_ref()?,
                            key: p.key.as_ref(),
                            table: p.table,
                            global: p.global,
                        })
                    })
                    .collect();
                handles.extend(inputs_struct(&inputs, &item_impl));
            }
            // The topology is not built from a declaration that does not
            // compile: its body would only add errors that follow from the
            // declaration's.
            for item in &mut item_impl.items {
                if let syn::ImplItem::Fn(f) = item {
                    if topology_methods.contains(&f.sig.ident) {
                        f.attrs
                            .push(syn::parse_quote!(#[allow(unused_variables, unreachable_code)]));
                        f.block = syn::parse_quote!({
                            ::core::unreachable!("this product's declaration does not compile")
                        });
                    }
                }
            }
            fallback(&krate, &item_impl, &error, &handles)
        }
    }
}

/// `#[timer(...)]` outside a product: explains where it belongs.
pub(crate) fn stray_timer(item: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        Span::call_site(),
        "`#[timer(...)]` only works on a method of an `impl` block marked `#[meshkit::product(...)]`, \
         which reads it",
    );
    with_errors(item, error)
}

/// `#[topology]` outside a product: explains where it belongs.
pub(crate) fn stray_topology(item: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        Span::call_site(),
        "`#[topology]` only works on a method of an `impl` block marked `#[meshkit::product(...)]`, \
         which reads it",
    );
    with_errors(item, error)
}

/// `#[transform(...)]` outside a product: explains where it belongs.
pub(crate) fn stray_transform(item: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        Span::call_site(),
        "`#[transform(...)]` only works on a method of an `impl` block marked `#[meshkit::product(...)]`, \
         which reads it",
    );
    with_errors(item, error)
}

fn with_errors(item: TokenStream, error: syn::Error) -> TokenStream {
    let mut out = item;
    out.extend(error.to_compile_error());
    out
}

/// Parses and checks; strips the `#[transform]` attributes from `item`. On
/// error, also returns the runtime path for the fallback.
pub(crate) fn analyze(
    args: TokenStream,
    item: &mut syn::ItemImpl,
) -> Result<Product, (syn::Error, syn::Path)> {
    let mut errors = Errors::new();
    let args = parse::product_args(args, &mut errors);
    let krate = check::crate_path(&args);
    let transforms = parse::take_transforms(item, &mut errors);
    let product = check::product(args, transforms, &mut errors);
    match (errors.finish(), product) {
        (Ok(()), Some(product)) => Ok(product),
        (Err(error), _) => Err((error, krate)),
        (Ok(()), None) => Err((
            syn::Error::new(
                Span::call_site(),
                "meshkit-macros found no mistake but could not check this product; please report it",
            ),
            krate,
        )),
    }
}

/// `use <crate>::__private as __meshkit;`, spanned on the `crate = "..."`
/// literal if given, so that a path that does not resolve is one error there.
fn runtime_import(krate: &syn::Path) -> TokenStream {
    quote_spanned!(krate.span()=> use #krate::__private as __meshkit;)
}

fn string(ident: &syn::Ident) -> LitStr {
    LitStr::new(&syn::ext::IdentExt::unraw(ident).to_string(), ident.span())
}

/// A `Duration` the macro checked itself, so it keeps the macro's span: on
/// the user's literal, lints such as clippy's `duration_suboptimal_units`
/// would take it for the user's code.
fn duration(millis: Millis) -> TokenStream {
    let ms = Literal::u64_suffixed(millis.ms);
    quote!(::core::time::Duration::from_millis(#ms))
}

/// `.input_avro::<V>("name", "topic")` and its kin, spanned on the types.
fn port_call(port: &Port, input: bool) -> TokenStream {
    let name = string(&port.name);
    let topic = &port.topic;
    let (plain, avro, with) = if input {
        (quote!(input), quote!(input_avro), quote!(input_with))
    } else {
        (quote!(output), quote!(output_avro), quote!(output_with))
    };
    if port.table {
        let schema = port.value.as_ref().map(|value| port_schema(port, value));
        let declare = if port.global {
            quote!(global_table_with)
        } else {
            quote!(table_with)
        };
        return quote!(.#declare(#name, #topic, #schema));
    }
    match (&port.value, &port.key, port.format) {
        (None, _, _) => quote!(.#plain(#name, #topic)),
        (Some(value), None, Format::Avro) => quote_spanned!(value.span()=> .#avro::<#value>(#name, #topic)),
        (Some(value), _, _) => {
            let schema = port_schema(port, value);
            quote!(.#with(#name, #topic, #schema))
        }
    }
}

/// `__meshkit::PortSchema::json::<V>().with_string_key()` and its kin.
fn port_schema(port: &Port, value: &syn::Type) -> TokenStream {
    let mut schema = match port.format {
        Format::Json => quote_spanned!(value.span()=> __meshkit::PortSchema::json::<#value>()),
        Format::JsonSchema => quote_spanned!(value.span()=> __meshkit::PortSchema::json_schema::<#value>()),
        Format::Protobuf => quote_spanned!(value.span()=> __meshkit::PortSchema::protobuf::<#value>()),
        Format::Avro | Format::String => {
            quote_spanned!(value.span()=> __meshkit::PortSchema::value::<#value>())
        }
    };
    if let Some(key) = &port.key {
        schema = match port.key_format {
            Format::Avro => quote_spanned!(key.span()=> #schema.with_key::<#key>()),
            Format::Json => quote_spanned!(key.span()=> #schema.with_json_key::<#key>()),
            Format::JsonSchema => quote_spanned!(key.span()=> #schema.with_json_schema_key::<#key>()),
            Format::Protobuf => quote_spanned!(key.span()=> #schema.with_protobuf_key::<#key>()),
            Format::String => quote_spanned!(key.span()=> #schema.with_string_key()),
        };
    }
    schema
}

/// `key_format = string` only for `key = String`: a compile error on the key
/// type otherwise (`String` written through an alias passes too).
fn string_key_checks(product: &Product) -> TokenStream {
    let checks = (product.inputs.iter().chain(&product.outputs))
        .filter(|p| p.key_format == Format::String)
        .filter_map(|p| p.key.as_ref())
        .map(|key| quote_spanned!(key.span()=> __meshkit::string_key::<#key>();));
    quote!(#(#checks)*)
}

fn store_call(store: &Store) -> TokenStream {
    let name = string(&store.name);
    if store.ttl.is_some() || store.avro_values {
        let mut spec = quote!(__meshkit::StoreDescriptor::new(#name));
        if let Some((after, clock)) = store.ttl {
            let after = duration(after);
            let clock = clock_path(clock);
            spec.extend(quote!(.ttl(__meshkit::Ttl::new(#clock, #after))));
        }
        if store.avro_values {
            let value = &store.value;
            spec.extend(quote_spanned!(value.span()=> .avro_values::<#value>()));
        }
        return quote!(.store_with(#spec));
    }
    let Some(window) = &store.window else {
        return quote!(.store(#name));
    };
    let size = duration(window.size);
    let mut windows = match (window.kind, window.advance) {
        (WindowKind::Session, _) => quote!(__meshkit::Windows::session(#size)),
        (WindowKind::Sliding, _) => quote!(__meshkit::Windows::sliding(#size)),
        (WindowKind::Time, None) => quote!(__meshkit::Windows::tumbling(#size)),
        (WindowKind::Time, Some(advance)) => {
            let advance = duration(advance);
            quote!(__meshkit::Windows::hopping(#size, #advance))
        }
    };
    if let Some(grace) = window.grace {
        let grace = duration(grace);
        windows.extend(quote!(.grace(#grace)));
    }
    if let Some(retention) = window.retention {
        let retention = duration(retention);
        windows.extend(quote!(.retention(#retention)));
    }
    if let Some((emit, span)) = window.emit {
        let variant = match emit {
            Emit::OnClose => quote_spanned!(span=> OnClose),
            Emit::EveryUpdate => quote_spanned!(span=> EveryUpdate),
        };
        windows.extend(quote_spanned!(span=> .emit(__meshkit::Emit::#variant)));
    }
    quote!(.window_store(#name, #windows))
}

fn clock_path(clock: Clock) -> TokenStream {
    match clock {
        Clock::Wall => quote!(__meshkit::Clock::Wall),
        Clock::Stream => quote!(__meshkit::Clock::Stream),
    }
}

/// Checks that each store's types can be kept in a store, on the user's types.
fn store_type_checks(stores: &[Store]) -> TokenStream {
    if stores.is_empty() {
        return TokenStream::new();
    }
    let checks = stores.iter().flat_map(|store| {
        let check = if store.window.is_some() {
            quote!(window_store_type)
        } else {
            quote!(store_type)
        };
        [&store.key, &store.value]
            .into_iter()
            .map(move |ty| quote_spanned!(ty.span()=> #check::<#ty>();))
    });
    // One trait per kind of store, with the bounds on its blanket impl only
    // (not as supertraits), so that a type missing several bounds gets one
    // error, with the trait's message.
    quote! {
        #[diagnostic::on_unimplemented(
            message = "`{Self}` cannot be kept in a store: a store's key and value types implement serde's `Serialize` and `Deserialize`",
            label = "not serializable",
            note = "derive them: `#[derive(serde::Serialize, serde::Deserialize)]`"
        )]
        trait StoreType {}
        impl<T: __meshkit::serde::Serialize + __meshkit::serde::de::DeserializeOwned> StoreType for T {}
        #[diagnostic::on_unimplemented(
            message = "`{Self}` cannot be kept in a windowed store: its key and value types implement serde's `Serialize` and `Deserialize`, and `Clone`",
            label = "not serializable or not `Clone`",
            note = "derive them: `#[derive(Clone, serde::Serialize, serde::Deserialize)]`"
        )]
        trait WindowStoreType {}
        impl<T: StoreType + ::core::clone::Clone> WindowStoreType for T {}
        fn store_type<T: StoreType>() {}
        fn window_store_type<T: WindowStoreType>() {}
        #(#checks)*
    }
}

/// A check per feature the declaration needs, spanned on the first item
/// that needs it: a compile error there when meshkit was built without it.
fn feature_checks(product: &Product) -> TokenStream {
    let typed = (product.inputs.iter().chain(&product.outputs))
        .find_map(|p| p.value.as_ref())
        .or_else(|| (product.stores.iter()).find(|s| s.avro_values).map(|s| &s.value));
    let avro = typed.map(|value| quote_spanned!(value.span()=> __meshkit::requires_avro!();));
    let first_in = |format: Format| {
        (product.inputs.iter().chain(&product.outputs))
            .find(|p| p.format == format || (p.key.is_some() && p.key_format == format))
            .and_then(|p| p.value.as_ref())
    };
    let json_schema = first_in(Format::JsonSchema)
        .map(|value| quote_spanned!(value.span()=> __meshkit::requires_json_schema!();));
    let protobuf = first_in(Format::Protobuf)
        .map(|value| quote_spanned!(value.span()=> __meshkit::requires_protobuf!();));
    let state = (product.stores.first())
        .map(|store| quote_spanned!(store.name.span()=> __meshkit::requires_state!();));
    let ops =
        (product.topology.as_ref()).map(|t| quote_spanned!(t.method.span()=> __meshkit::requires_ops!();));
    quote!(#avro #json_schema #protobuf #state #ops)
}

fn descriptor_body(product: &Product) -> TokenStream {
    let checks = store_type_checks(&product.stores);
    let needs = feature_checks(product);
    let string_keys = string_key_checks(product);
    let body = descriptor_chain(product);
    quote! {
        #needs
        #checks
        #string_keys
        #body
    }
}

/// The descriptor's builder chain, and the topology's stores added to it.
fn descriptor_chain(product: &Product) -> TokenStream {
    let Product {
        domain,
        name,
        version,
        owner,
        ..
    } = product;
    let description = product.description.iter().map(|d| quote!(.description(#d)));
    let tags = product.tags.iter().map(|t| quote!(.tag(#t)));
    let freshness = product.freshness.map(|d| {
        let d = duration(d);
        quote!(.freshness_slo(#d))
    });
    let latency = product.latency.map(|d| {
        let d = duration(d);
        quote!(.latency_slo(#d))
    });
    let inputs = product.inputs.iter().map(|p| port_call(p, true));
    let outputs = product.outputs.iter().map(|p| port_call(p, false));
    let stores = product.stores.iter().map(store_call);
    let timers = product.timers.iter().map(|t| {
        let name = string(&t.method);
        let every = duration(t.every);
        let clock = clock_path(t.clock);
        quote!(.timer(#name, #clock, #every))
    });
    let ports = quote! {
        __meshkit::ProductDescriptor::builder(#domain, #name)
            .version(#version)
            .owner(#owner)
            #(#description)*
            #(#tags)*
            #freshness
            #latency
            #(#inputs)*
            #(#outputs)*
            #(#stores)*
            #(#timers)*
    };
    match &product.topology {
        None => quote!(#ports.build()),
        Some(_) => quote! {
            let __ports = #ports;
            Self::__meshkit_dataflow().declare(__ports)?.build()
        },
    }
}

/// One `match` arm of `process`: decode, then call the user's method with
/// each argument spanned on the parameter that receives it.
fn arm(product: &Product, transform: &Transform) -> TokenStream {
    let Some(port) = product.inputs.get(transform.input) else {
        return TokenStream::new();
    };
    let port_name = string(&port.name);
    let mut bindings = TokenStream::new();
    let mut args: Vec<TokenStream> = Vec::new();
    if transform.record {
        args.push(quote!(record));
    }
    if let (Some(key), Some(_)) = (&port.key, &port.value) {
        bindings.extend(quote!(let __key = record.key_as::<#key>()?;));
        args.push(quote!(__key));
    }
    match &port.value {
        Some(value) => bindings.extend(quote!(let __value = record.value_as::<#value>()?;)),
        None => bindings.extend(quote!(let __value = record.value();)),
    }
    args.push(quote!(__value));
    args.extend(store_args(product, &transform.stores));
    args.push(quote!(ctx));
    let call = call(
        &transform.method,
        transform.receiver,
        transform.is_async,
        &args,
        &transform.param_spans,
        transform.output_span,
    );
    quote! {
        #port_name => {
            #bindings
            #call
        }
    }
}

/// The store handles a method takes, in its order.
fn store_args(product: &Product, stores: &[usize]) -> Vec<TokenStream> {
    (stores.iter().filter_map(|i| product.stores.get(*i)))
        .map(|store| {
            let (key, value, name) = (&store.key, &store.value, string(&store.name));
            let handle = match store.window.as_ref().map(|w| w.kind) {
                None => quote!(StoreRef),
                Some(WindowKind::Time) => quote!(WindowStoreRef),
                Some(WindowKind::Sliding) => quote!(SlidingStoreRef),
                Some(WindowKind::Session) => quote!(SessionStoreRef),
            };
            quote!(__meshkit::#handle::<#key, #value>::new(#name))
        })
        .collect()
}

/// The call of a user's method with `args`, each spanned on the parameter
/// that receives it.
fn call(
    method: &syn::Ident,
    receiver: Receiver,
    is_async: bool,
    args: &[TokenStream],
    spans: &[Span],
    span: Span,
) -> TokenStream {
    let args = args.iter().zip(spans).map(|(arg, span)| {
        let mut arg = arg.clone();
        respan(&mut arg, *span);
        arg
    });
    let callee = match receiver {
        Receiver::Ref => quote_spanned!(span=> self.#method),
        Receiver::None => quote_spanned!(span=> Self::#method),
    };
    if is_async {
        quote_spanned!(span=> #callee(#(#args),*).await)
    } else {
        quote_spanned!(span=> #callee(#(#args),*))
    }
}

/// One `match` arm of `on_timer`: the user's timer method with its stores.
fn timer_arm(product: &Product, timer: &Timer) -> TokenStream {
    let name = string(&timer.method);
    let mut args = store_args(product, &timer.stores);
    args.push(quote!(ctx));
    let call = call(
        &timer.method,
        timer.receiver,
        timer.is_async,
        &args,
        &timer.param_spans,
        timer.output_span,
    );
    quote!(#name => #call,)
}

/// Gives every token of `tokens` the span `span`.
fn respan(tokens: &mut TokenStream, span: Span) {
    *tokens = tokens
        .clone()
        .into_iter()
        .map(|mut tree| {
            if let proc_macro2::TokenTree::Group(group) = &tree {
                let mut inner = group.stream();
                respan(&mut inner, span);
                let mut new = proc_macro2::Group::new(group.delimiter(), inner);
                new.set_span(span);
                tree = proc_macro2::TokenTree::Group(new);
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect();
}

/// An output port as the outputs struct needs it.
struct OutputDecl<'a> {
    name: &'a syn::Ident,
    topic: Option<String>,
    value: Option<&'a syn::Type>,
    key: Option<&'a syn::Type>,
}

/// The product's outputs struct, one typed handle per output port, and
/// `Self::OUT`, its value: what a transform sends through. Generated inside
/// the expansion's `const _` block, where the runtime is imported once: the
/// struct cannot be named outside, but `Self::OUT.<port>` can be used
/// wherever the product's private items can.
fn outputs(outputs: &[OutputDecl<'_>], item: &syn::ItemImpl) -> TokenStream {
    let mut fields = Vec::new();
    let mut values = Vec::new();
    for (index, port) in outputs.iter().enumerate() {
        let field = port.name;
        let port_name = string(field);
        let (ty, ctor) = match port.value {
            None => (quote!(__meshkit::RawOutput), quote!(__meshkit::RawOutput)),
            Some(value) => {
                let key = port.key.map_or_else(|| quote!(()), ToTokens::to_token_stream);
                let ty = quote_spanned!(value.span()=> __meshkit::Output<#key, #value>);
                (ty, quote!(__meshkit::Output))
            }
        };
        let doc = match &port.topic {
            Some(topic) => format!("Output port `{}` (topic `{topic}`).", port_name.value()),
            None => format!("Output port `{}`.", port_name.value()),
        };
        fields.push(quote!(#[doc = #doc] pub #field: #ty));
        values.push(quote!(#field: #ctor::at(#index, #port_name)));
    }
    let handles = Handles {
        suffix: "Outputs",
        konst: quote!(OUT),
        doc: "The output ports of `{}`, typed: a transform sends through `Self::OUT.<port>`.",
        konst_doc: "The product's output ports, one typed handle each.",
    };
    handles.expand(item, &fields, &values)
}

/// A struct of typed port handles, `<Product><suffix>`, and the associated
/// constant `konst` that holds its value (`Self::OUT`, `Self::IN`).
struct Handles {
    suffix: &'static str,
    konst: TokenStream,
    /// The struct's doc, `{}` standing for the product's name.
    doc: &'static str,
    konst_doc: &'static str,
}

impl Handles {
    /// The struct of `fields` and the constant of `values`, for `item`'s
    /// product; nothing for a product type that is not a plain path.
    fn expand(&self, item: &syn::ItemImpl, fields: &[TokenStream], values: &[TokenStream]) -> TokenStream {
        let syn::Type::Path(path) = item.self_ty.as_ref() else {
            return TokenStream::new();
        };
        let Some(last) = path.path.segments.last() else {
            return TokenStream::new();
        };
        let name = quote::format_ident!("{}{}", last.ident, self.suffix);
        let (impl_generics, _, where_clause) = item.generics.split_for_impl();
        let self_ty = &item.self_ty;
        let doc = self.doc.replace("{}", &last.ident.to_string());
        let (konst, konst_doc) = (&self.konst, self.konst_doc);
        quote! {
            #[doc = #doc]
            #[allow(dead_code)]
            #[derive(Debug, Clone, Copy)]
            pub struct #name {
                #(#fields,)*
            }

            #[allow(dead_code)]
            impl #impl_generics #self_ty #where_clause {
                #[doc = #konst_doc]
                const #konst: #name = #name { #(#values,)* };
            }
        }
    }
}

/// An input port with a value type, as the inputs struct needs it.
struct InputDecl<'a> {
    name: &'a syn::Ident,
    topic: Option<String>,
    value: &'a syn::Type,
    key: Option<&'a syn::Type>,
    /// A table port, whose handle is a `TableInput`.
    table: bool,
    /// A global table port, whose handle is a `GlobalTableInput`.
    global: bool,
}

/// The product's inputs struct, one typed handle per input port with a
/// value type, and `Self::IN`, its value: where the topology starts its
/// streams. Generated beside the outputs struct, for a product with a
/// `#[topology]` method.
fn inputs_struct(inputs: &[InputDecl<'_>], item: &syn::ItemImpl) -> TokenStream {
    let mut fields = Vec::new();
    let mut values = Vec::new();
    for port in inputs {
        let (field, value) = (port.name, port.value);
        let port_name = string(field);
        let key = port.key.map_or_else(|| quote!(()), ToTokens::to_token_stream);
        let doc = match &port.topic {
            Some(topic) => format!("Input port `{}` (topic `{topic}`).", port_name.value()),
            None => format!("Input port `{}`.", port_name.value()),
        };
        let handle = match (port.table, port.global) {
            (_, true) => quote!(GlobalTableInput),
            (true, false) => quote!(TableInput),
            (false, false) => quote!(Input),
        };
        fields
            .push(quote_spanned!(value.span()=> #[doc = #doc] pub #field: __meshkit::#handle<#key, #value>));
        values.push(quote!(#field: __meshkit::#handle::new(#port_name)));
    }
    let handles = Handles {
        suffix: "Inputs",
        konst: quote!(IN),
        doc: "The input ports of `{}`, typed: the topology starts a stream with `t.stream(Self::IN.<port>)`.",
        konst_doc: "The product's input ports, one typed handle each.",
    };
    handles.expand(item, &fields, &values)
}

/// For a product with a `#[topology]` method: `Self::IN`, and the built
/// topology, once per product type.
fn topology(product: &Product, topology: &TopologyMethod, item: &syn::ItemImpl) -> TokenStream {
    let inputs: Vec<InputDecl<'_>> = (product.inputs.iter())
        .filter_map(|p| {
            Some(InputDecl {
                name: &p.name,
                topic: Some(p.topic.value()),
                value: p.value.as_ref()?,
                key: p.key.as_ref(),
                table: p.table,
                global: p.global,
            })
        })
        .collect();
    let handles = inputs_struct(&inputs, item);
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    let method = &topology.method;
    let build = quote_spanned!(topology.param_span=> Self::#method(__topology));
    quote! {
        #handles

        #[allow(dead_code)]
        impl #impl_generics #self_ty #where_clause {
            /// The product's topology, built on first use.
            fn __meshkit_dataflow() -> &'static __meshkit::Dataflow {
                static FLOW: ::std::sync::OnceLock<__meshkit::Dataflow> = ::std::sync::OnceLock::new();
                FLOW.get_or_init(|| __meshkit::Dataflow::new(|__topology| #build))
            }
        }
    }
}

fn checked_outputs(product: &Product) -> Vec<OutputDecl<'_>> {
    (product.outputs.iter())
        .map(|p| OutputDecl {
            name: &p.name,
            topic: Some(p.topic.value()),
            value: p.value.as_ref(),
            key: p.key.as_ref(),
        })
        .collect()
}

/// The full expansion of a checked product.
fn full(product: &Product, item: &syn::ItemImpl) -> TokenStream {
    let import = runtime_import(&product.krate);
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    let descriptor = descriptor_body(product);
    let arms = product.transforms.iter().map(|t| arm(product, t));
    let on_timer = (!product.timers.is_empty()).then(|| {
        let timer_arms = product.timers.iter().map(|t| timer_arm(product, t));
        quote! {
            async fn on_timer(
                &mut self,
                timer: &str,
                ctx: &mut __meshkit::Context,
            ) -> ::core::result::Result<(), __meshkit::TransformError> {
                match timer {
                    #(#timer_arms)*
                    __timer => ::core::result::Result::Err(__meshkit::TransformError::new(
                        ::std::format!("no method for timer `{}`", __timer),
                    )),
                }
            }
        }
    });
    let lifecycle = product.lifecycle.map(|span| {
        quote_spanned! {span=>
            async fn on_assigned(
                &mut self,
                partition: i32,
                ctx: &mut __meshkit::Context,
            ) -> ::core::result::Result<(), __meshkit::TransformError> {
                <Self as __meshkit::Lifecycle>::on_assigned(self, partition, ctx).await
            }

            async fn on_revoked(&mut self, partition: i32) -> ::core::result::Result<(), __meshkit::TransformError> {
                <Self as __meshkit::Lifecycle>::on_revoked(self, partition).await
            }

            async fn on_stop(&mut self) -> ::core::result::Result<(), __meshkit::TransformError> {
                <Self as __meshkit::Lifecycle>::on_stop(self).await
            }
        }
    });
    let event_time = event_time(product);
    let outputs = outputs(&checked_outputs(product), item);
    let unbound = match &product.topology {
        None => quote! {
            __port => ::core::result::Result::Err(__meshkit::TransformError::new(
                ::std::format!("no transform for input port `{}`", __port),
            )),
        },
        Some(_) => quote!(_ => Self::__meshkit_dataflow().process(record, ctx),),
    };
    let topology = product.topology.as_ref().map(|t| topology(product, t, item));
    quote! {
        #item

        const _: () = {
            #import

            #outputs

            #topology

            #[automatically_derived]
            impl #impl_generics __meshkit::DataProduct for #self_ty #where_clause {
                fn descriptor(
                    &self,
                ) -> ::core::result::Result<__meshkit::ProductDescriptor, __meshkit::DescriptorError> {
                    #descriptor
                }

                async fn process(
                    &mut self,
                    record: &__meshkit::Record<'_>,
                    ctx: &mut __meshkit::Context,
                ) -> ::core::result::Result<(), __meshkit::TransformError> {
                    match record.port() {
                        #(#arms)*
                        #unbound
                    }
                }

                #on_timer

                #lifecycle

                #event_time
            }
        };
    }
}

/// `DataProduct::event_time`, for a product with an input port that takes
/// its event time from a field of its value; nothing otherwise.
fn event_time(product: &Product) -> Option<TokenStream> {
    let arms: Vec<TokenStream> = (product.inputs.iter())
        .filter_map(|port| {
            let (field, value) = (port.event_time.as_ref()?, port.value.as_ref()?);
            let name = string(&port.name);
            // The field access and the trait call are spanned on the user's
            // field name: a missing field or a type that holds no time is
            // reported there.
            let read =
                quote_spanned!(field.span()=> __meshkit::EventTime::event_time_millis(&__value.#field));
            Some(quote! {
                #name => record
                    .value_as::<#value>()
                    .ok()
                    .and_then(|__value| #read)
                    .or_else(|| record.timestamp()),
            })
        })
        .collect();
    if arms.is_empty() {
        return None;
    }
    Some(quote! {
        fn event_time(&self, record: &__meshkit::Record<'_>) -> ::core::option::Option<i64> {
            match record.port() {
                #(#arms)*
                _ => record.timestamp(),
            }
        }
    })
}

/// The user's `impl` block, a stub `impl DataProduct` (never run: the crate
/// does not compile) and the errors.
fn fallback(
    krate: &syn::Path,
    item: &syn::ItemImpl,
    errors: &syn::Error,
    outputs: &TokenStream,
) -> TokenStream {
    let import = runtime_import(krate);
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    let errors = errors.to_compile_error();
    quote! {
        #item

        const _: () = {
            #import

            #outputs

            #[automatically_derived]
            impl #impl_generics __meshkit::DataProduct for #self_ty #where_clause {
                fn descriptor(
                    &self,
                ) -> ::core::result::Result<__meshkit::ProductDescriptor, __meshkit::DescriptorError> {
                    ::core::result::Result::Err(__meshkit::DescriptorError::NoInputPorts)
                }

                async fn process(
                    &mut self,
                    _: &__meshkit::Record<'_>,
                    _: &mut __meshkit::Context,
                ) -> ::core::result::Result<(), __meshkit::TransformError> {
                    ::core::result::Result::Err(__meshkit::TransformError::new(
                        "this data product's declaration does not compile",
                    ))
                }
            }
        };

        #errors
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    /// The expansion with all whitespace removed, to look for calls in it.
    fn expand(args: TokenStream, item: TokenStream) -> String {
        product(args, item).to_string().split_whitespace().collect()
    }

    fn has(haystack: &str, needle: &str) -> bool {
        let needle: String = needle.split_whitespace().collect();
        haystack.contains(&needle)
    }

    fn spend() -> (TokenStream, TokenStream) {
        (
            quote! {
                domain = "sales",
                name = "customer-spend",
                version = "1.0.0",
                owner = "team-sales@example.com",
                description = "Spend per customer",
                tags = ["sales", "tier-1"],
                slo(freshness = "5m", latency = "250ms"),
                input(orders, topic = "sales.orders", value = Order),
                store(totals, key = String, value = Spend),
                output(spend, topic = "sales.customer-spend", value = Spend),
            },
            quote! {
                impl CustomerSpend {
                    #[transform(orders, stores = [totals])]
                    fn on_order(&mut self, order: &Order, totals: StoreRef<String, Spend>, ctx: &mut Context)
                        -> Result<(), TransformError> { Ok(()) }
                }
            },
        )
    }

    #[test]
    fn the_descriptor_is_a_builder_chain() {
        let (args, item) = spend();
        let out = expand(args, item);
        for call in [
            "use ::meshkit::__private as __meshkit;",
            "impl __meshkit::DataProduct for CustomerSpend",
            r#"__meshkit::ProductDescriptor::builder("sales", "customer-spend")"#,
            r#".version("1.0.0").owner("team-sales@example.com").description("Spend per customer")"#,
            r#".tag("sales").tag("tier-1")"#,
            ".freshness_slo(::core::time::Duration::from_millis(300000u64))",
            ".latency_slo(::core::time::Duration::from_millis(250u64))",
            r#".input_avro::<Order>("orders", "sales.orders")"#,
            r#".output_avro::<Spend>("spend", "sales.customer-spend")"#,
            r#".store("totals") .build()"#,
            "store_type::<String>(); store_type::<Spend>();",
        ] {
            assert!(has(&out, call), "missing `{call}` in {out}");
        }
        assert!(!has(&out, "compile_error"), "{out}");
    }

    #[test]
    fn process_dispatches_on_the_port_to_the_method_unchanged() {
        let (args, item) = spend();
        let out = expand(args, item);
        for part in [
            "async fn process(&mut self, record: &__meshkit::Record<'_>, ctx: &mut __meshkit::Context,",
            r#"match record.port() { "orders" => {"#,
            "let __value = record.value_as::<Order>()?;",
            r#"self.on_order(__value, __meshkit::StoreRef::<String, Spend>::new("totals"), ctx)"#,
            "__port => ::core::result::Result::Err(__meshkit::TransformError::new(",
            // The user's method is emitted as written, minus `#[transform]`.
            "impl CustomerSpend { fn on_order(&mut self, order: &Order, totals: StoreRef<String, Spend>",
        ] {
            assert!(has(&out, part), "missing `{part}` in {out}");
        }
        assert!(!out.contains("transform("), "{out}");
    }

    #[test]
    fn keyed_windowed_async_and_raw_ports() {
        let out = expand(
            quote! {
                domain = "sales", name = "n", version = "1.0.0", owner = "o",
                input(orders, topic = "sales.orders", value = Order, key = OrderId),
                input(raw, topic = "sales.raw"),
                output(counts, topic = "sales.counts", value = Count, key = String),
                output(audit, topic = "sales.audit"),
                store(per_minute, key = String, value = u64,
                      window(size = "1m", advance = "20s", grace = "10s", emit = on_close)),
                store(tumbling, key = String, value = u64, window(size = "1h")),
            },
            quote! {
                impl<T: Send + 'static> P<T> {
                    #[transform(orders, stores = [per_minute], record)]
                    async fn on_order(&self, r: &Record<'_>, k: &OrderId, v: &Order,
                        w: WindowStoreRef<String, u64>, ctx: &mut Context) -> Result<(), TransformError> { Ok(()) }
                    #[transform(raw, stores = [tumbling])]
                    fn on_raw(v: Option<&[u8]>, t: WindowStoreRef<String, u64>, ctx: &mut Context)
                        -> Result<(), TransformError> { Ok(()) }
                }
            },
        );
        for part in [
            "impl<T: Send + 'static> __meshkit::DataProduct for P<T>",
            r#".input_with("orders", "sales.orders", __meshkit::PortSchema::value::<Order>().with_key::<OrderId>())"#,
            r#".input("raw", "sales.raw")"#,
            // A `String` key travels as plain UTF-8 unless `key_format` says otherwise.
            r#".output_with("counts", "sales.counts", __meshkit::PortSchema::value::<Count>().with_string_key())"#,
            "__meshkit::string_key::<String>();",
            // One typed handle per output port, at its index.
            "pub struct POutputs { #[doc = \"Output port `counts` (topic `sales.counts`).\"] pub counts: __meshkit::Output<String, Count>,",
            "pub audit: __meshkit::RawOutput,",
            "impl<T: Send + 'static> P<T> { #[doc = \"The product's output ports, one typed handle each.\"] const OUT: POutputs = POutputs {",
            r#"counts: __meshkit::Output::at(0usize, "counts"), audit: __meshkit::RawOutput::at(1usize, "audit"),"#,
            r#".output("audit", "sales.audit")"#,
            r#".window_store("per_minute", __meshkit::Windows::hopping(::core::time::Duration::from_millis(60000u64),
                ::core::time::Duration::from_millis(20000u64)).grace(::core::time::Duration::from_millis(10000u64))
                .emit(__meshkit::Emit::OnClose))"#,
            r#".window_store("tumbling", __meshkit::Windows::tumbling(::core::time::Duration::from_millis(3600000u64)))"#,
            "window_store_type::<String>(); window_store_type::<u64>();",
            "let __key = record.key_as::<OrderId>()?; let __value = record.value_as::<Order>()?;",
            r#"self.on_order(record, __key, __value, __meshkit::WindowStoreRef::<String, u64>::new("per_minute"), ctx).await"#,
            r#""raw" => { let __value = record.value();"#,
            r#"Self::on_raw(__value, __meshkit::WindowStoreRef::<String, u64>::new("tumbling"), ctx)"#,
        ] {
            assert!(has(&out, part), "missing `{part}` in {out}");
        }
        assert!(!has(
            &out,
            "on_raw(__value, __meshkit::WindowStoreRef::<String, u64>::new(\"tumbling\"), ctx).await"
        ));
    }

    #[test]
    fn the_crate_override_is_used_for_every_runtime_path() {
        let (args, item) = spend();
        let out = expand(quote!(#args crate = "my_reexport::meshkit"), item);
        assert!(
            has(&out, "use my_reexport::meshkit::__private as __meshkit;"),
            "{out}"
        );
        assert!(
            !has(&out, "::meshkit::__private") || !has(&out, "use ::meshkit"),
            "{out}"
        );
        assert_eq!(out.matches("__private").count(), 1, "one import: {out}");
        assert!(has(&out, "pub spend: __meshkit::Output<(), Spend>"), "{out}");
    }

    #[test]
    fn a_mistake_gives_the_fallback_and_every_error() {
        let (_, item) = spend();
        let out = expand(
            quote! {
                domain = "sales", name = "n", version = "1.0", ownr = "o",
                input(orders, topic = "sales.orders", value = Order),
                store(totals, key = String, value = Spend),
                output(spend, topic = "sales.spend", value = Spend),
            },
            item,
        );
        // The user's methods are kept, so calls to them still resolve.
        assert!(has(&out, "impl CustomerSpend { fn on_order(&mut self"), "{out}");
        // A stub impl, so that uses of the product as a `DataProduct` still compile.
        assert!(
            has(&out, "impl __meshkit::DataProduct for CustomerSpend"),
            "{out}"
        );
        assert!(
            has(
                &out,
                "::core::result::Result::Err(__meshkit::DescriptorError::NoInputPorts)"
            ),
            "{out}"
        );
        assert!(!has(&out, "unimplemented") && !has(&out, "panic"), "{out}");
        // The outputs that parsed still get their handles: no cascade at every send.
        assert!(has(&out, "const OUT: CustomerSpendOutputs"), "{out}");
        // Both mistakes.
        assert_eq!(out.matches("compile_error").count(), 2, "{out}");
        assert!(out.contains("unknownkey`ownr`"), "{out}");
        assert!(out.contains("`1.0`isnotasemanticversion"), "{out}");
    }

    #[test]
    fn not_on_an_impl_block() {
        let out = expand(
            quote!(domain = "x"),
            quote!(
                struct P;
            ),
        );
        assert!(has(&out, "struct P;"), "the item is kept: {out}");
        assert!(out.contains("goesonthe`impl`blockoftheproducttype"), "{out}");
        let out = expand(quote!(domain = "x"), quote!(impl DataProduct for P {}));
        assert!(
            out.contains("nottoatrait`impl`") || out.contains("notonatrait`impl`"),
            "{out}"
        );
        let out = stray_transform(quote!(
            fn f() {}
        ))
        .to_string();
        assert!(out.contains("only works on a method"), "{out}");
    }

    #[test]
    fn every_parameter_gets_a_span_and_respanning_keeps_tokens() -> Result<(), Box<dyn std::error::Error>> {
        let (args, item) = spend();
        let mut item: syn::ItemImpl = syn::parse2(item)?;
        let product = analyze(args, &mut item).map_err(|(e, _)| e)?;
        let transform = &product.transforms[0];
        assert_eq!(transform.param_spans.len(), 3);
        // Each argument is respanned to its parameter, keeping its tokens.
        let mut tokens = quote!(a::b<c>(d));
        let span = Span::call_site().resolved_at(Span::mixed_site());
        respan(&mut tokens, span);
        assert_eq!(tokens.to_string(), quote!(a::b<c>(d)).to_string());
        Ok(())
    }
}
