//! The DSL's key names, one constant each, and the tables of valid keys per
//! place (so that an unknown key lists the valid ones and suggests the nearest).

pub(crate) const CRATE: &str = "crate";
pub(crate) const DOMAIN: &str = "domain";
pub(crate) const NAME: &str = "name";
pub(crate) const VERSION: &str = "version";
pub(crate) const OWNER: &str = "owner";
pub(crate) const DESCRIPTION: &str = "description";
pub(crate) const TAGS: &str = "tags";
pub(crate) const SLO: &str = "slo";
pub(crate) const INPUT: &str = "input";
pub(crate) const TABLE: &str = "table";
pub(crate) const GLOBAL_TABLE: &str = "global_table";
pub(crate) const OUTPUT: &str = "output";
pub(crate) const STORE: &str = "store";
pub(crate) const LIFECYCLE: &str = "lifecycle";

pub(crate) const TOPIC: &str = "topic";
pub(crate) const VALUE: &str = "value";
pub(crate) const KEY: &str = "key";
pub(crate) const FORMAT: &str = "format";
pub(crate) const KEY_FORMAT: &str = "key_format";
pub(crate) const EVENT_TIME: &str = "event_time";
pub(crate) const WINDOW: &str = "window";
pub(crate) const TTL: &str = "ttl";
pub(crate) const AFTER: &str = "after";

pub(crate) const SIZE: &str = "size";
pub(crate) const ADVANCE: &str = "advance";
pub(crate) const GRACE: &str = "grace";
pub(crate) const EMIT: &str = "emit";
pub(crate) const KIND: &str = "kind";
pub(crate) const GAP: &str = "gap";
pub(crate) const RETENTION: &str = "retention";

pub(crate) const FRESHNESS: &str = "freshness";
pub(crate) const LATENCY: &str = "latency";

pub(crate) const STORES: &str = "stores";
pub(crate) const RECORD: &str = "record";

pub(crate) const EVERY: &str = "every";
pub(crate) const CLOCK: &str = "clock";

/// The helper attribute that binds a method to an input port.
pub(crate) const TRANSFORM: &str = "transform";
/// The helper attribute that makes a method a timer.
pub(crate) const TIMER: &str = "timer";
/// The helper attribute of the method that builds the stream operators.
pub(crate) const TOPOLOGY: &str = "topology";

/// A key and how it is written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key {
    pub(crate) name: &'static str,
    pub(crate) example: &'static str,
}

/// A place where keys are written: `#[meshkit::product(...)]`, `input(...)`, ...
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place {
    /// How the place is shown in messages, e.g. "`input(...)`".
    pub(crate) shown: &'static str,
    pub(crate) keys: &'static [Key],
}

impl Place {
    /// How `key` is written, for messages.
    pub(crate) fn example(&self, key: &str) -> &'static str {
        self.keys.iter().find(|k| k.name == key).map_or("", |k| k.example)
    }
}

pub(crate) const PRODUCT: Place = Place {
    shown: "`#[meshkit::product(...)]`",
    keys: &[
        Key {
            name: DOMAIN,
            example: r#"domain = "sales""#,
        },
        Key {
            name: NAME,
            example: r#"name = "customer-spend""#,
        },
        Key {
            name: VERSION,
            example: r#"version = "1.0.0""#,
        },
        Key {
            name: OWNER,
            example: r#"owner = "team-sales@example.com""#,
        },
        Key {
            name: DESCRIPTION,
            example: r#"description = "Each customer's total spend""#,
        },
        Key {
            name: TAGS,
            example: r#"tags = ["sales", "tier-1"]"#,
        },
        Key {
            name: SLO,
            example: r#"slo(freshness = "5m", latency = "250ms")"#,
        },
        Key {
            name: INPUT,
            example: r#"input(orders, topic = "sales.orders", value = Order)"#,
        },
        Key {
            name: TABLE,
            example: r#"table(customers, topic = "crm.customers", key = String, value = Customer)"#,
        },
        Key {
            name: GLOBAL_TABLE,
            example: r#"global_table(countries, topic = "ref.countries", key = String, value = Country)"#,
        },
        Key {
            name: OUTPUT,
            example: r#"output(spend, topic = "sales.customer-spend", value = Spend)"#,
        },
        Key {
            name: STORE,
            example: "store(totals, key = String, value = Spend)",
        },
        Key {
            name: LIFECYCLE,
            example: "lifecycle",
        },
        Key {
            name: CRATE,
            example: r#"crate = "my_reexport::meshkit""#,
        },
    ],
};

pub(crate) const INPUT_PORT: Place = Place {
    shown: "`input(...)`",
    keys: &[
        Key {
            name: TOPIC,
            example: r#"topic = "sales.orders""#,
        },
        Key {
            name: VALUE,
            example: "value = Order",
        },
        Key {
            name: KEY,
            example: "key = String",
        },
        Key {
            name: FORMAT,
            example: "format = json",
        },
        Key {
            name: KEY_FORMAT,
            example: "key_format = string",
        },
        Key {
            name: EVENT_TIME,
            example: "event_time = placed_at",
        },
    ],
};

pub(crate) const OUTPUT_PORT: Place = Place {
    shown: "`output(...)`",
    keys: INPUT_PORT.keys.split_at(INPUT_PORT.keys.len() - 1).0,
};

pub(crate) const TABLE_PORT: Place = Place {
    shown: "`table(...)`",
    keys: OUTPUT_PORT.keys,
};

pub(crate) const GLOBAL_TABLE_PORT: Place = Place {
    shown: "`global_table(...)`",
    keys: OUTPUT_PORT.keys,
};

pub(crate) const STORE_DECL: Place = Place {
    shown: "`store(...)`",
    keys: &[
        Key {
            name: KEY,
            example: "key = String",
        },
        Key {
            name: VALUE,
            example: "value = Spend",
        },
        Key {
            name: WINDOW,
            example: r#"window(size = "1m", grace = "10s")"#,
        },
        Key {
            name: TTL,
            example: r#"ttl(after = "30m", clock = stream)"#,
        },
        Key {
            name: FORMAT,
            example: "format = avro",
        },
    ],
};

pub(crate) const TTL_DECL: Place = Place {
    shown: "`ttl(...)`",
    keys: &[
        Key {
            name: AFTER,
            example: r#"after = "30m""#,
        },
        Key {
            name: CLOCK,
            example: "clock = wall",
        },
    ],
};

pub(crate) const WINDOW_DECL: Place = Place {
    shown: "`window(...)`",
    keys: &[
        Key {
            name: KIND,
            example: "kind = session",
        },
        Key {
            name: SIZE,
            example: r#"size = "1m""#,
        },
        Key {
            name: ADVANCE,
            example: r#"advance = "20s""#,
        },
        Key {
            name: GAP,
            example: r#"gap = "30m""#,
        },
        Key {
            name: GRACE,
            example: r#"grace = "10s""#,
        },
        Key {
            name: EMIT,
            example: "emit = on_close",
        },
        Key {
            name: RETENTION,
            example: r#"retention = "1h""#,
        },
    ],
};

pub(crate) const SLO_DECL: Place = Place {
    shown: "`slo(...)`",
    keys: &[
        Key {
            name: FRESHNESS,
            example: r#"freshness = "5m""#,
        },
        Key {
            name: LATENCY,
            example: r#"latency = "250ms""#,
        },
    ],
};

pub(crate) const TRANSFORM_ATTR: Place = Place {
    shown: "`#[transform(...)]`",
    keys: &[
        Key {
            name: STORES,
            example: "stores = [totals]",
        },
        Key {
            name: RECORD,
            example: "record",
        },
    ],
};

pub(crate) const TIMER_ATTR: Place = Place {
    shown: "`#[timer(...)]`",
    keys: &[
        Key {
            name: EVERY,
            example: r#"every = "30s""#,
        },
        Key {
            name: CLOCK,
            example: "clock = wall",
        },
        Key {
            name: STORES,
            example: "stores = [totals]",
        },
    ],
};

/// The clocks a timer may follow.
pub(crate) const CLOCKS: [&str; 2] = ["wall", "stream"];

/// Edit distance between `a` and `b`, by characters: insertions, deletions,
/// substitutions and transpositions of neighbours each count one (so
/// `tpoic` is one edit from `topic`).
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let at = |rows: &Vec<Vec<usize>>, i: usize, j: usize| {
        rows.get(i).and_then(|r| r.get(j)).copied().unwrap_or(usize::MAX)
    };
    let mut rows: Vec<Vec<usize>> = Vec::with_capacity(a.len() + 1);
    rows.push((0..=b.len()).collect());
    for (i, ca) in a.iter().enumerate() {
        let mut row = Vec::with_capacity(b.len() + 1);
        row.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute = at(&rows, i, j).saturating_add(usize::from(ca != cb));
            let delete = at(&rows, i, j + 1).saturating_add(1);
            let insert = row.last().copied().unwrap_or(usize::MAX).saturating_add(1);
            let mut best = substitute.min(delete).min(insert);
            let swapped = i > 0 && j > 0 && a.get(i - 1) == Some(cb) && b.get(j - 1) == Some(ca);
            if swapped {
                best = best.min(at(&rows, i - 1, j - 1).saturating_add(1));
            }
            row.push(best);
        }
        rows.push(row);
    }
    at(&rows, a.len(), b.len())
}

/// The candidate nearest to `given`, if it is near enough to be a typo.
pub(crate) fn nearest<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let given = given.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (distance(&given, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// "`a`, `b` and `c`".
pub(crate) fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| format!("`{i}`")).collect();
    match items.split_last() {
        None => "none".to_string(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// Continues a message about `given` with a suggestion, if a candidate is
/// near, then with `rest`: "; did you mean `x`? The valid keys are …" or
/// "; the valid keys are …".
pub(crate) fn suggest_then<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    rest: &str,
) -> String {
    match nearest(given, candidates) {
        Some(near) => {
            let mut chars = rest.chars();
            let capitalized: String = chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default();
            format!("; did you mean `{near}`? {capitalized}")
        }
        None => format!("; {rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("owner", "owner"), 0);
        assert_eq!(distance("ownr", "owner"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("tpoic", "topic"), 1);
        assert_eq!(distance("ab", "ba"), 1);
    }

    #[test]
    fn nearest_suggests_typos_only() {
        let keys = PRODUCT.keys.iter().map(|k| k.name);
        assert_eq!(nearest("ownr", keys.clone()), Some("owner"));
        assert_eq!(nearest("Version", keys.clone()), Some("version"));
        assert_eq!(nearest("descripton", keys.clone()), Some("description"));
        assert_eq!(nearest("zzzzzz", keys), None);
    }

    #[test]
    fn lists_read_as_prose() {
        assert_eq!(list(["a"]), "`a`");
        assert_eq!(list(["a", "b", "c"]), "`a`, `b` and `c`");
        assert_eq!(list([]), "none");
    }

    #[test]
    fn suggestions_come_before_the_list() {
        assert_eq!(
            suggest_then("ownr", ["owner"], "the keys are `owner`"),
            "; did you mean `owner`? The keys are `owner`"
        );
        assert_eq!(
            suggest_then("zzz", ["owner"], "the keys are `owner`"),
            "; the keys are `owner`"
        );
    }
}
