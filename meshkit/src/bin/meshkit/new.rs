//! `meshkit new`: a new data product crate from one of the templates kept
//! in `meshkit/templates/`, its names checked before anything is written.

use std::path::{Path, PathBuf};

/// One template: its name, what it makes, and its files.
pub(crate) struct Template {
    pub(crate) name: &'static str,
    pub(crate) summary: &'static str,
    /// The type `main.rs` reads from the output port.
    output_type: &'static str,
    lib: &'static str,
}

/// The templates, in the order `--help` lists them.
pub(crate) const TEMPLATES: &[Template] = &[
    Template {
        name: "stateless",
        summary: "JSON orders in, the large ones out, negative amounts dead-lettered; no registry, no state",
        output_type: "LargeOrder",
        lib: include_str!("../../../templates/stateless/src/lib.rs"),
    },
    Template {
        name: "stateful",
        summary: "Avro payments in, each account's balance kept in a store and published",
        output_type: "Balance",
        lib: include_str!("../../../templates/stateful/src/lib.rs"),
    },
    Template {
        name: "windowed",
        summary: "Avro page views in, views per page per minute published when the minute closes",
        output_type: "ViewsPerMinute",
        lib: include_str!("../../../templates/windowed/src/lib.rs"),
    },
];

const CARGO_TOML: &str = include_str!("../../../templates/common/Cargo.toml.tmpl");
const MAIN_RS: &str = include_str!("../../../templates/common/main.rs.tmpl");
const README_MD: &str = include_str!("../../../templates/common/README.md.tmpl");
const GITIGNORE: &str = include_str!("../../../templates/common/gitignore.tmpl");

/// What `meshkit new` was asked for.
#[derive(Debug, Clone)]
pub(crate) struct NewProduct {
    pub(crate) name: String,
    pub(crate) template: String,
    pub(crate) domain: String,
    pub(crate) owner: String,
    pub(crate) dir: Option<PathBuf>,
    /// Depend on meshkit at this path (a checkout) instead of by version.
    pub(crate) meshkit_path: Option<PathBuf>,
}

/// Why nothing was written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum NewError {
    #[error("{0}")]
    Name(String),
    #[error("unknown template `{given}`{hint}; the templates are: {}", names().join(", "))]
    Template { given: String, hint: String },
    #[error("{} already exists and is not empty: choose another NAME or --dir", .0.display())]
    Exists(PathBuf),
    #[error("--meshkit-path {}: no meshkit crate there (expected its Cargo.toml)", .0.display())]
    NoMeshkit(PathBuf),
    #[error("cannot write {}: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
}

fn names() -> Vec<&'static str> {
    TEMPLATES.iter().map(|t| t.name).collect()
}

/// Words a crate cannot be named (they are Rust keywords), and names that
/// would shadow a crate the product uses.
const RESERVED: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "test",
    "core",
    "std",
    "alloc",
    "meshkit",
    "serde",
    "tokio",
    "anyhow",
    "apache-avro",
];

/// A product or domain name: lowercase words of letters and digits joined
/// by single hyphens, starting with a letter (`customer-spend`).
fn check_name(what: &str, name: &str) -> Result<(), NewError> {
    let suggestion: String = {
        let lowered: String = (name.chars())
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let words: Vec<&str> = lowered.split('-').filter(|w| !w.is_empty()).collect();
        words.join("-")
    };
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .split('-')
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    if !valid {
        let hint = match suggestion.starts_with(|c: char| c.is_ascii_lowercase()) && suggestion.len() <= 64 {
            true if suggestion != name => format!("; try `{suggestion}`"),
            _ => String::new(),
        };
        return Err(NewError::Name(format!(
            "`{name}` is not a valid {what}: use lowercase letters and digits in words joined by single \
             hyphens, starting with a letter, at most 64 characters (e.g. `customer-spend`){hint}"
        )));
    }
    if RESERVED.contains(&name) {
        return Err(NewError::Name(format!(
            "`{name}` cannot name a {what}: it is a Rust keyword or a crate the product depends on; \
             try `{name}-product`"
        )));
    }
    Ok(())
}

/// `customer-spend` → `CustomerSpend`.
fn type_name(name: &str) -> String {
    (name.split('-'))
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn find_template(name: &str) -> Result<&'static Template, NewError> {
    TEMPLATES.iter().find(|t| t.name == name).ok_or_else(|| {
        let near = TEMPLATES.iter().map(|t| t.name).min_by_key(|t| distance(t, name));
        let hint = near
            .filter(|t| distance(t, name) <= 3)
            .map(|t| format!("; did you mean `{t}`?"))
            .unwrap_or_default();
        NewError::Template {
            given: name.to_string(),
            hint,
        }
    })
}

/// Levenshtein distance, for suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(previous + usize::from(ca != *cb));
            previous = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The files of the new crate, as (relative path, contents), every
/// placeholder filled.
pub(crate) fn render(request: &NewProduct) -> Result<Vec<(PathBuf, String)>, NewError> {
    check_name("product name", &request.name)?;
    check_name("domain", &request.domain)?;
    let template = find_template(&request.template)?;
    if request.owner.trim().is_empty() || request.owner.contains(['"', '\\', '\n']) {
        return Err(NewError::Name(format!(
            "`{}` is not a valid owner: give a team or an address, e.g. `team-sales@example.com`",
            request.owner
        )));
    }
    let dependency = match &request.meshkit_path {
        Some(path) => {
            if !path.join("Cargo.toml").is_file() {
                return Err(NewError::NoMeshkit(path.clone()));
            }
            let path = path.canonicalize().unwrap_or_else(|_| path.clone());
            format!("meshkit = {{ path = {:?} }}", path.display().to_string())
        }
        None => format!("meshkit = \"{}\"", env!("CARGO_PKG_VERSION")),
    };
    let crate_name = request.name.replace('-', "_");
    let ty = type_name(&request.name);
    let fill = |text: &str| {
        text.replace("{{meshkit_dependency}}", &dependency)
            .replace("{{name}}", &request.name)
            .replace("{{crate}}", &crate_name)
            .replace("{{Type}}", &ty)
            .replace("{{Output}}", template.output_type)
            .replace("{{domain}}", &request.domain)
            .replace("{{owner}}", &request.owner)
            .replace("{{template}}", template.name)
            .replace("{{summary}}", template.summary)
    };
    Ok(vec![
        (PathBuf::from("Cargo.toml"), fill(CARGO_TOML)),
        (PathBuf::from("README.md"), fill(README_MD)),
        (PathBuf::from(".gitignore"), fill(GITIGNORE)),
        (PathBuf::from("src/lib.rs"), fill(template.lib)),
        (PathBuf::from("src/main.rs"), fill(MAIN_RS)),
    ])
}

/// Writes the new crate; returns its directory.
pub(crate) fn create(request: &NewProduct) -> Result<PathBuf, NewError> {
    let files = render(request)?;
    let dir = request
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&request.name));
    let occupied = std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some());
    if occupied || dir.is_file() {
        return Err(NewError::Exists(dir));
    }
    for (path, contents) in files {
        let path = dir.join(path);
        write(&path, &contents)?;
    }
    Ok(dir)
}

fn write(path: &Path, contents: &str) -> Result<(), NewError> {
    let error = |e: std::io::Error| NewError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(error)?;
    }
    std::fs::write(path, contents).map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(name: &str, template: &str) -> NewProduct {
        NewProduct {
            name: name.into(),
            template: template.into(),
            domain: "sales".into(),
            owner: "team-sales@example.com".into(),
            dir: None,
            meshkit_path: None,
        }
    }

    #[test]
    fn every_template_fills_every_placeholder() {
        for template in TEMPLATES {
            let files = render(&request("order-totals", template.name)).expect("renders");
            for (path, contents) in &files {
                assert!(
                    !contents.contains("{{"),
                    "{} of {} keeps a placeholder",
                    path.display(),
                    template.name
                );
            }
            let lib = &files.iter().find(|(p, _)| p.ends_with("lib.rs")).expect("lib").1;
            assert!(lib.contains("pub struct OrderTotals;"), "{lib}");
            assert!(
                lib.contains("domain = \"sales\", name = \"order-totals\""),
                "{lib}"
            );
            let cargo = &files[0].1;
            assert!(
                cargo.contains("name = \"order-totals\"") && cargo.contains("meshkit = \""),
                "{cargo}"
            );
        }
    }

    #[test]
    fn names_are_checked_with_a_suggestion() {
        let err = render(&request("Order_Totals", "stateless")).expect_err("invalid");
        assert!(err.to_string().contains("try `order-totals`"), "{err}");
        let err = render(&request("2fa", "stateless")).expect_err("invalid");
        assert!(err.to_string().contains("starting with a letter"), "{err}");
        let err = render(&request("type", "stateless")).expect_err("keyword");
        assert!(err.to_string().contains("Rust keyword"), "{err}");
        let err = render(&request("a--b", "stateless")).expect_err("double hyphen");
        assert!(err.to_string().contains("single hyphens"), "{err}");
        let mut bad_domain = request("totals", "stateless");
        bad_domain.domain = "Sales Team".into();
        assert!(render(&bad_domain)
            .expect_err("domain")
            .to_string()
            .contains("valid domain"));
    }

    #[test]
    fn an_unknown_template_lists_them_and_suggests_the_nearest() {
        let err = render(&request("totals", "statefull")).expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "unknown template `statefull`; did you mean `stateful`?; the templates are: stateless, stateful, windowed"
        );
        let err = render(&request("totals", "graph")).expect_err("unknown");
        assert!(!err.to_string().contains("did you mean"), "{err}");
    }

    #[test]
    fn an_occupied_directory_is_left_alone() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("keep.txt"), "mine")?;
        let mut req = request("totals", "stateless");
        req.dir = Some(dir.path().to_path_buf());
        assert_eq!(create(&req), Err(NewError::Exists(dir.path().to_path_buf())));
        assert_eq!(std::fs::read_to_string(dir.path().join("keep.txt"))?, "mine");
        // An empty one is used.
        let empty = tempfile::tempdir()?;
        req.dir = Some(empty.path().to_path_buf());
        let made = create(&req)?;
        assert!(made.join("src/main.rs").is_file() && made.join("Cargo.toml").is_file());
        Ok(())
    }

    #[test]
    fn a_path_dependency_must_point_at_a_crate() {
        let mut req = request("totals", "stateless");
        req.meshkit_path = Some(PathBuf::from("/nowhere/meshkit"));
        assert_eq!(
            render(&req),
            Err(NewError::NoMeshkit(PathBuf::from("/nowhere/meshkit")))
        );
        req.meshkit_path = Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let cargo = &render(&req).expect("renders")[0].1;
        assert!(cargo.contains("meshkit = { path = "), "{cargo}");
    }
}
