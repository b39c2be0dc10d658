//! Checks of the values written in string literals, done at compile time:
//! semantic versions, durations and Kafka topic names. Each returns a reason
//! that completes a sentence such as "`1.0` is not a semantic version: …".

/// A semantic version (<https://semver.org>), as far as the macro needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version {
    pub(crate) major: u64,
    pub(crate) minor: u64,
    pub(crate) patch: u64,
    pub(crate) pre: Vec<String>,
    pub(crate) build: Vec<String>,
}

fn numeric(part: &str, what: &str) -> Result<u64, String> {
    if part.is_empty() {
        return Err(format!("the {what} number is empty"));
    }
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("the {what} number `{part}` is not made of digits"));
    }
    if part.len() > 1 && part.starts_with('0') {
        return Err(format!("the {what} number `{part}` has a leading zero"));
    }
    part.parse()
        .map_err(|_| format!("the {what} number `{part}` is too large"))
}

fn identifiers(text: &str, what: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for id in text.split('.') {
        if id.is_empty() {
            return Err(format!("the {what} has an empty identifier"));
        }
        if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(format!(
                "the {what} identifier `{id}` may only hold ASCII letters, digits and `-`"
            ));
        }
        if what == "pre-release"
            && id.len() > 1
            && id.starts_with('0')
            && id.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(format!("the pre-release identifier `{id}` has a leading zero"));
        }
        out.push(id.to_string());
    }
    Ok(out)
}

/// Parses `MAJOR.MINOR.PATCH[-PRE][+BUILD]`.
pub(crate) fn parse_version(text: &str) -> Result<Version, String> {
    if text.trim() != text {
        return Err("it has spaces around it".to_string());
    }
    if text.starts_with(['v', 'V']) {
        return Err("drop the leading `v`: write e.g. `1.2.0`".to_string());
    }
    let (rest, build) = match text.split_once('+') {
        Some((rest, build)) => (rest, identifiers(build, "build metadata")?),
        None => (text, Vec::new()),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, identifiers(pre, "pre-release")?),
        None => (rest, Vec::new()),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let [major, minor, patch] = parts.as_slice() else {
        return Err(format!(
            "expected three numbers MAJOR.MINOR.PATCH (e.g. `1.2.0`), found {}",
            parts.len()
        ));
    };
    Ok(Version {
        major: numeric(major, "major")?,
        minor: numeric(minor, "minor")?,
        patch: numeric(patch, "patch")?,
        pre,
        build,
    })
}

/// Parses a duration such as `250ms`, `10s`, `5m`, `1h30m` or `1d` into
/// milliseconds. Units: `ms`, `s`, `m`, `h`, `d`.
pub(crate) fn parse_duration(text: &str) -> Result<u64, String> {
    const UNITS: &str = "`ms`, `s`, `m`, `h` or `d`";
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!(
            "it is empty; write a number and a unit ({UNITS}), e.g. `10s`"
        ));
    }
    let mut total: u64 = 0;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, after) = rest.split_at(digits);
        if number.is_empty() {
            return Err(format!("expected a number at `{rest}`, e.g. `10s`"));
        }
        if after.starts_with(['.', ',']) {
            return Err(
                "fractions are not supported; use a smaller unit, e.g. `1500ms` for `1.5s`".to_string(),
            );
        }
        let after = after.trim_start();
        let letters = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(letters);
        let per_unit: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(format!("`{number}` has no unit; add one of {UNITS}")),
            other => return Err(format!("unknown unit `{other}`; use {UNITS}")),
        };
        let value: u64 = number.parse().map_err(|_| format!("`{number}` is too large"))?;
        total = value
            .checked_mul(per_unit)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| "it is too long".to_string())?;
        rest = after.trim_start();
    }
    Ok(total)
}

/// Kafka's rule for topic names (the runtime checks the same at start).
pub(crate) fn check_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err("it is empty".to_string());
    }
    if topic.len() > 249 {
        return Err(format!(
            "it is {} characters long; Kafka allows at most 249",
            topic.len()
        ));
    }
    if topic == "." || topic == ".." {
        return Err("`.` and `..` are not allowed".to_string());
    }
    if let Some(bad) = topic
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "`{}` is not allowed; only ASCII letters, digits, `.`, `_` and `-` are",
            bad.escape_default()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() -> Result<(), Box<dyn std::error::Error>> {
        let v = parse_version("1.2.3-rc.1+build.5")?;
        assert_eq!((v.major, v.minor, v.patch), (1, 2, 3));
        assert_eq!(v.pre, ["rc", "1"]);
        assert_eq!(v.build, ["build", "5"]);
        assert_eq!(parse_version("0.0.0")?.pre, Vec::<String>::new());
        for (bad, reason) in [
            ("1.0", "found 2"),
            ("1.0.0.0", "found 4"),
            ("v1.0.0", "leading `v`"),
            ("01.0.0", "leading zero"),
            ("1.x.0", "not made of digits"),
            ("1.0.0-", "empty identifier"),
            ("1.0.0-01", "leading zero"),
            ("1.0.0+b!", "ASCII letters"),
            ("", "found 1"),
            (" 1.0.0", "spaces"),
            ("99999999999999999999.0.0", "too large"),
        ] {
            let err = parse_version(bad).err().ok_or("expected an error")?;
            assert!(err.contains(reason), "{bad}: {err}");
        }
        Ok(())
    }

    #[test]
    fn durations() -> Result<(), Box<dyn std::error::Error>> {
        assert_eq!(parse_duration("250ms")?, 250);
        assert_eq!(parse_duration("10s")?, 10_000);
        assert_eq!(parse_duration("1h30m")?, 5_400_000);
        assert_eq!(parse_duration("1h 30m")?, 5_400_000);
        assert_eq!(parse_duration("2d")?, 172_800_000);
        assert_eq!(parse_duration("0s")?, 0);
        for (bad, reason) in [
            ("", "empty"),
            ("10", "no unit"),
            ("10 sec", "unknown unit `sec`"),
            ("ms", "expected a number"),
            ("1.5s", "fractions"),
            ("99999999999999999999d", "too large"),
            ("9999999999999999d", "too long"),
        ] {
            let err = parse_duration(bad).err().ok_or("expected an error")?;
            assert!(err.contains(reason), "{bad}: {err}");
        }
        Ok(())
    }

    #[test]
    fn topics() -> Result<(), Box<dyn std::error::Error>> {
        assert!(check_topic("sales.orders_v2-x").is_ok());
        assert!(check_topic(&"a".repeat(249)).is_ok());
        assert!(check_topic(&"a".repeat(250))
            .err()
            .ok_or("expected an error")?
            .contains("249"));
        assert!(check_topic("")
            .err()
            .ok_or("expected an error")?
            .contains("empty"));
        assert!(check_topic("..").is_err());
        assert!(check_topic("sales orders")
            .err()
            .ok_or("expected an error")?
            .contains("` `"));
        assert!(check_topic("sales/orders")
            .err()
            .ok_or("expected an error")?
            .contains("`/`"));
        assert!(check_topic("ventes.commandé").is_err());
        Ok(())
    }
}
