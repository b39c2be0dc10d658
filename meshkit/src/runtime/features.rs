//! What a product or its configuration asks of this build: a part that a
//! Cargo feature left out is refused when the runtime is built, naming the
//! feature, rather than failing later or being silently skipped.

use super::Error;
use crate::config::Config;
use crate::product::ProductDescriptor;

/// The first thing `descriptor` or `config` needs that this build lacks.
pub(super) fn check(descriptor: &ProductDescriptor, config: &Config) -> Result<(), Error> {
    let missing =
        |feature: &'static str, needed_by: String| Err(Error::MissingFeature { feature, needed_by });
    if !cfg!(feature = "embedded-kafka") && config.embedded_cluster {
        return missing(
            "embedded-kafka",
            "the embedded local cluster (MESHKIT_BROKERS=embedded, `ConfigBuilder::embedded_cluster`)".into(),
        );
    }
    if !cfg!(feature = "catalog") && config.catalog {
        return missing(
            "catalog",
            "publishing to the catalog (`catalog`, MESHKIT_CATALOG)".into(),
        );
    }
    if !cfg!(feature = "lineage") && config.openlineage_url.is_some() {
        return missing(
            "lineage",
            "OpenLineage events (`openlineage_url`, MESHKIT_OPENLINEAGE_URL)".into(),
        );
    }
    if !cfg!(feature = "metrics") {
        if let Some(addr) = config.metrics_addr {
            return missing(
                "metrics",
                format!("the HTTP endpoint on {addr} (`metrics_addr`, MESHKIT_METRICS_ADDR)"),
            );
        }
    }
    if !cfg!(feature = "state") {
        if let Some(store) = descriptor.stores.first() {
            return missing("state", format!("store `{}`", store.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_needs_the_state_feature_exactly_when_it_is_left_out() {
        let descriptor = crate::product::tests::one_store();
        let result = check(&descriptor, &Config::default());
        if cfg!(feature = "state") {
            assert!(result.is_ok(), "{result:?}");
        } else {
            let err = result.expect_err("refused");
            assert!(
                matches!(err, Error::MissingFeature { feature: "state", .. }),
                "{err:?}"
            );
            assert!(err.to_string().contains("store `totals`"), "{err}");
        }
    }
}
