//! meshkit's modules form layers, each importing only the layers below it
//! (the order `src/lib.rs` lists and explains). This test reads the sources
//! and fails on any `crate::` path that reaches up, or sideways to a module
//! that is not below, which is also what rules out import cycles.
//!
//! Paths through the crate root's re-exports (`crate::Context`) count as
//! imports of the module the root re-exports them from, so the root cannot
//! hide a cycle. Doc comments and `#[cfg(test)] mod tests` are not imports.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// meshkit's modules, lowest first: each may import only those before it.
const LAYERS: &[&str] = &[
    // core types
    "error", "policy", "record", "window", "timer", //
    // Kafka I/O
    "kafka", //
    // codecs and state
    "schema", "stores", //
    // the descriptor
    "product", //
    // the runtime's settings and metrics
    "config", "metrics", //
    // the catalog
    "catalog", //
    // the runtime and the user contract
    "runtime", //
    // the dead-letter tools, which read what the runtime writes (its
    // dead-letter header names)
    "dlq", //
    // the test driver, which runs the runtime's contract in process
    "testing",
];

/// Top-level files that are not layers: the facade, the CLI binary and test
/// helpers.
const OUTSIDE: &[&str] = &["lib", "bin", "test_support"];

/// One import that breaks the order.
#[derive(Debug, PartialEq)]
struct Violation {
    file: String,
    from: String,
    to: String,
}

/// The crate root's re-exports: the name users and modules write after
/// `crate::` (or `crate::<facade>::`), and the module it comes from.
fn root_exports(lib: &str) -> HashMap<String, String> {
    let code: Vec<&str> = code_lines(lib).collect();
    let code = code.join("\n");
    // Facade modules: `pub mod name {` up to the next line that is `}`.
    let mut facades = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("pub mod ").map(|i| i + from) {
        let line_end = code[at..].find('\n').map_or(code.len(), |i| i + at);
        let head = &code[at + "pub mod ".len()..line_end];
        from = line_end;
        if let Some(name) = head.strip_suffix(" {") {
            let end = code[line_end..].find("\n}").map_or(code.len(), |i| i + line_end);
            facades.push((at..end, name.trim().to_string()));
        }
    }
    let mut names = HashMap::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("pub use ").map(|i| i + from) {
        let end = code[at..].find(';').map_or(code.len(), |i| i + at);
        from = end;
        let path = code[at + "pub use ".len()..end]
            .trim()
            .trim_start_matches("crate::");
        let Some((module, items)) = path.split_once("::") else {
            continue;
        };
        let items = items.trim().trim_start_matches('{').trim_end_matches('}');
        let facade = facades
            .iter()
            .find(|(range, _)| range.contains(&at))
            .map(|(_, name)| name);
        for item in items.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let item = item.rsplit("::").next().unwrap_or(item);
            let key = match facade {
                Some(facade) => format!("{facade}::{item}"),
                None => item.to_string(),
            };
            names.insert(key, module.to_string());
        }
    }
    names
}

/// The lines that are code: no comments, and nothing from a file's
/// `#[cfg(test)] mod tests` on.
fn code_lines(source: &str) -> impl Iterator<Item = &str> {
    let lines: Vec<&str> = source.lines().collect();
    let end = lines
        .windows(2)
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_start().starts_with("mod tests"))
        .unwrap_or(lines.len());
    lines
        .into_iter()
        .take(end)
        .filter(|l| !l.trim_start().starts_with("//"))
}

/// The first segments of every `crate::` path in `source`, with the second
/// segment where the first is a facade module of the root (`state::Store`).
fn crate_paths(source: &str, facades: &[String]) -> Vec<String> {
    let code: Vec<&str> = code_lines(source).collect();
    let code = code.join("\n");
    let mut found = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            found.push(first_segments(rest, facades));
            continue;
        };
        // `use crate::{a::{b, c}, d};`, over any number of lines: the
        // top-level items of the group, each from its first segment.
        let mut depth = 0;
        let mut item_start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    found.push(first_segments(group[item_start..i].trim(), facades));
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    found.push(first_segments(group[item_start..i].trim(), facades));
                    item_start = i + 1;
                }
                _ => {}
            }
        }
    }
    found.retain(|name| !name.is_empty());
    found
}

fn first_segments(path: &str, facades: &[String]) -> String {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let first = ident(path);
    match path[first.len()..].strip_prefix("::") {
        Some(rest) if facades.contains(&first) => format!("{first}::{}", ident(rest.trim_start_matches('{'))),
        _ => first,
    }
}

/// Checks `files` (path relative to `src`, contents) against [`LAYERS`].
fn check(files: &[(String, String)]) -> Result<Vec<Violation>, String> {
    let lib = files
        .iter()
        .find(|(path, _)| path == "lib.rs")
        .ok_or("no lib.rs")?;
    let exports = root_exports(&lib.1);
    let facades: Vec<String> = exports
        .keys()
        .filter_map(|k| k.split_once("::").map(|(f, _)| f.to_string()))
        .collect();
    let rank = |module: &str| LAYERS.iter().position(|l| *l == module);
    let mut violations = Vec::new();
    for (path, source) in files {
        let top = path.split('/').next().unwrap_or_default().trim_end_matches(".rs");
        if OUTSIDE.contains(&top) {
            continue;
        }
        let from =
            rank(top).ok_or_else(|| format!("{path}: module `{top}` is in no layer; add it to LAYERS"))?;
        for name in crate_paths(source, &facades) {
            let module = if rank(&name).is_some() {
                name.clone()
            } else if let Some(module) = exports.get(&name) {
                module.clone()
            } else if name == "__private" || name.is_empty() {
                continue;
            } else {
                return Err(format!(
                    "{path}: `crate::{name}` resolves to no module this test knows"
                ));
            };
            if module == top {
                continue;
            }
            let to = rank(&module).ok_or_else(|| format!("{path}: `{module}` is in no layer"))?;
            if to > from {
                violations.push(Violation {
                    file: path.clone(),
                    from: top.to_string(),
                    to: module,
                });
            }
        }
    }
    Ok(violations)
}

fn sources(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).expect("read src") {
        let path: PathBuf = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, fs::read_to_string(&path).expect("read source")));
        }
    }
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    assert!(files.len() > 40, "read only {} files", files.len());
    let violations = check(&files).expect("every path resolves");
    assert!(
        violations.is_empty(),
        "imports against the layer order: {violations:#?}"
    );
}

#[test]
fn an_upward_import_is_found_directly_and_through_the_root() {
    let lib = "pub use runtime::{Context, Runtime};\npub mod state {\n    pub use crate::runtime::StoreRef;\n    pub use crate::stores::Store;\n}\n";
    let files = |store_rs: &str| {
        vec![
            ("lib.rs".to_string(), lib.to_string()),
            ("stores/mod.rs".to_string(), store_rs.to_string()),
            (
                "runtime/mod.rs".to_string(),
                "use crate::stores::Store;\n".to_string(),
            ),
        ]
    };
    let upward = |file: &str| Violation {
        file: file.to_string(),
        from: "stores".to_string(),
        to: "runtime".to_string(),
    };
    // Downward only: fine.
    assert_eq!(check(&files("use crate::error::TransformError;\n")), Ok(vec![]));
    // Straight up, through a root re-export, through a facade, in a group.
    for source in [
        "use crate::runtime::Context;\n",
        "fn f(ctx: &crate::Context) {}\n",
        "use crate::state::StoreRef;\n",
        "use crate::{error::TransformError, Runtime};\n",
        "use crate::{\n    error::{ConfigError, TransformError},\n    runtime::Context,\n};\n",
    ] {
        assert_eq!(
            check(&files(source)),
            Ok(vec![upward("stores/mod.rs")]),
            "{source}"
        );
    }
    // Comments and unit tests are not imports.
    assert_eq!(
        check(&files(
            "/// See [`crate::Context`].\n#[cfg(test)]\nmod tests {\n    use crate::Context;\n}\n"
        )),
        Ok(vec![])
    );
    // A module missing from the table is an error, not a pass.
    let mut unknown = files("");
    unknown.push(("observers.rs".to_string(), String::new()));
    assert!(check(&unknown).is_err());
}
