//! `[batches]` settings: when a batch that never completes is closed anyway, and how often
//! open batches are checked.

use serde::Deserialize;

/// Seven days: longer than a payment may stay pending (`dispatcher.pending_max_age_ms`,
/// three days) plus a weekend for people to resolve what went to review.
pub const DEFAULT_CLOSE_AFTER_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// Two seconds: a batch result follows the last final result of its orders within about
/// that, and one check costs a `GROUP BY` over each open batch's payments and a pass over its
/// lines in SQL (rows come back only for the orders a difference names).
pub const DEFAULT_CHECK_INTERVAL_MS: u64 = 2_000;

/// Batch manifests and their control totals (config section `[batches]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchSettings {
    /// A batch whose manifest has no `deadline` of its own is closed this long after its
    /// manifest arrived, complete or not: upstream must hear about a list that stalls.
    pub close_after_ms: u64,
    /// How often open batches are checked against their orders (differences found while
    /// orders arrive are logged; a batch whose declared orders are all final is closed).
    pub check_interval_ms: u64,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            close_after_ms: DEFAULT_CLOSE_AFTER_MS,
            check_interval_ms: DEFAULT_CHECK_INTERVAL_MS,
        }
    }
}

impl BatchSettings {
    /// What is wrong with these settings, as `(key, sentence)` pairs; empty when nothing is.
    /// For `Settings::validate` to add to its list once the section is wired in.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if self.close_after_ms == 0 {
            problems.push((
                "batches.close_after_ms",
                "is 0, but a batch would close the moment its manifest arrives; set the longest a payout list may take, in milliseconds".to_string(),
            ));
        }
        if self.check_interval_ms < 10 {
            problems.push((
                "batches.check_interval_ms",
                format!(
                    "is {}, but open batches are checked at most every 10 ms; set 10 or more",
                    self.check_interval_ms
                ),
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_zeros_are_refused_with_their_keys() {
        assert!(BatchSettings::default().problems().is_empty());
        let zero = BatchSettings {
            close_after_ms: 0,
            check_interval_ms: 0,
        };
        let keys: Vec<&str> = zero.problems().iter().map(|(key, _)| *key).collect();
        assert_eq!(keys, ["batches.close_after_ms", "batches.check_interval_ms"]);
    }

    #[test]
    fn a_missing_key_takes_its_default_and_an_unknown_key_is_refused() {
        let read: Result<BatchSettings, _> = serde_json::from_str(r#"{"close_after_ms": 5000}"#);
        assert_eq!(
            read.ok(),
            Some(BatchSettings {
                close_after_ms: 5000,
                check_interval_ms: DEFAULT_CHECK_INTERVAL_MS,
            })
        );
        assert!(serde_json::from_str::<BatchSettings>(r#"{"close_after": 5}"#).is_err());
    }
}
