//! How one provider is protected, as a config section: its rate limit and its circuit breaker.

use std::time::Duration;

use serde::Deserialize;

/// The protection settings of one provider. Every key has a default, so a provider section that
/// says nothing about protection still loads (unlimited rate, default breaker).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProtectionConfig {
    /// The most requests per second the provider accepts from us, as its contract states.
    /// `None` (the default) sends without a limit: sandboxes and providers that publish none.
    pub rate_limit_per_second: Option<u32>,
    /// How many requests may leave back to back before the limit paces them. `None` means 1:
    /// evenly spaced requests, so no one-second window ever holds more than
    /// `rate_limit_per_second`, which is how providers count. A burst of B lets up to
    /// `rate_limit_per_second + B - 1` through in the worst one-second window.
    pub burst: Option<u32>,
    /// Failures in a row that open the breaker: a provider that is down fails every call, and
    /// this notices it before the ratio's window has filled.
    pub breaker_consecutive_failures: u32,
    /// Share of failed calls among the last `breaker_window` calls that opens the breaker
    /// (0.5 = half): a provider failing every other call is unhealthy even though it never
    /// fails `breaker_consecutive_failures` times in a row.
    pub breaker_failure_ratio: f64,
    /// How many of the most recent calls the ratio is taken over. The ratio applies only once
    /// the window is full, so two failures out of the first three calls open nothing.
    pub breaker_window: u32,
    /// How long an open breaker refuses calls before it lets a probe through (half-open):
    /// long enough for a provider to recover without our traffic piling onto it.
    pub breaker_open_ms: u64,
    /// How many calls may probe a half-open provider at once; the others are refused until a
    /// probe answers. One is enough to learn whether the provider is back.
    pub breaker_half_open_probes: u32,
}

impl Default for ProtectionConfig {
    fn default() -> Self {
        Self {
            rate_limit_per_second: None,
            burst: None,
            breaker_consecutive_failures: 5,
            breaker_failure_ratio: 0.5,
            breaker_window: 20,
            breaker_open_ms: 30_000,
            breaker_half_open_probes: 1,
        }
    }
}

/// A protection setting that makes no sense, named by its config key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` {problem}")]
pub struct InvalidProtectionConfig {
    /// The config key at fault, e.g. `breaker_window`.
    pub key: &'static str,
    /// What is wrong with it and what to write instead, as a sentence fragment.
    pub problem: &'static str,
}

impl ProtectionConfig {
    /// Refuses values that would silently disable or break protection, for the gateway's
    /// start-up validation. [`super::ProviderGuard::new`] does not fail: given a zero anyway,
    /// it takes 1 and keeps a ratio within (0, 1].
    pub fn validate(&self) -> Result<(), InvalidProtectionConfig> {
        let invalid = |key, problem| Err(InvalidProtectionConfig { key, problem });
        if self.rate_limit_per_second == Some(0) {
            return invalid(
                "rate_limit_per_second",
                "must be at least 1; leave it out to send without a limit",
            );
        }
        if self.burst == Some(0) {
            return invalid("burst", "must be at least 1; leave it out for evenly spaced requests");
        }
        if self.burst.is_some() && self.rate_limit_per_second.is_none() {
            return invalid(
                "burst",
                "is set but `rate_limit_per_second` is not, so nothing is limited",
            );
        }
        if self.breaker_consecutive_failures == 0 {
            return invalid("breaker_consecutive_failures", "must be at least 1");
        }
        if !(self.breaker_failure_ratio > 0.0 && self.breaker_failure_ratio <= 1.0) {
            return invalid(
                "breaker_failure_ratio",
                "must be above 0 and at most 1 (1 opens only when every call in the window failed)",
            );
        }
        if self.breaker_window == 0 {
            return invalid("breaker_window", "must be at least 1 call");
        }
        if self.breaker_open_ms == 0 {
            return invalid("breaker_open_ms", "must be at least 1 millisecond");
        }
        if self.breaker_half_open_probes == 0 {
            return invalid(
                "breaker_half_open_probes",
                "must be at least 1, or a half-open breaker would never close",
            );
        }
        Ok(())
    }

    /// How long an open breaker stays open.
    pub fn breaker_open(&self) -> Duration {
        Duration::from_millis(self.breaker_open_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_without_protection_keys_loads_the_defaults() {
        let config: ProtectionConfig = serde_json::from_str("{}").expect("an empty section loads");
        assert_eq!(config, ProtectionConfig::default());
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn a_section_sets_only_the_keys_it_names() {
        let config: ProtectionConfig =
            serde_json::from_str(r#"{"rate_limit_per_second": 20, "breaker_open_ms": 5000}"#).expect("loads");
        assert_eq!(config.rate_limit_per_second, Some(20));
        assert_eq!(config.breaker_open(), Duration::from_secs(5));
        assert_eq!(config.breaker_consecutive_failures, 5);
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let error = serde_json::from_str::<ProtectionConfig>(r#"{"rate_limit": 20}"#).expect_err("refused");
        assert!(error.to_string().contains("unknown field `rate_limit`"), "{error}");
    }

    #[test]
    fn values_that_would_disable_protection_are_refused_by_name() {
        let cases = [
            (
                "rate_limit_per_second",
                ProtectionConfig {
                    rate_limit_per_second: Some(0),
                    ..Default::default()
                },
            ),
            (
                "burst",
                ProtectionConfig {
                    rate_limit_per_second: Some(5),
                    burst: Some(0),
                    ..Default::default()
                },
            ),
            (
                "burst",
                ProtectionConfig {
                    burst: Some(3),
                    ..Default::default()
                },
            ),
            (
                "breaker_consecutive_failures",
                ProtectionConfig {
                    breaker_consecutive_failures: 0,
                    ..Default::default()
                },
            ),
            (
                "breaker_failure_ratio",
                ProtectionConfig {
                    breaker_failure_ratio: 0.0,
                    ..Default::default()
                },
            ),
            (
                "breaker_failure_ratio",
                ProtectionConfig {
                    breaker_failure_ratio: 1.5,
                    ..Default::default()
                },
            ),
            (
                "breaker_failure_ratio",
                ProtectionConfig {
                    breaker_failure_ratio: f64::NAN,
                    ..Default::default()
                },
            ),
            (
                "breaker_window",
                ProtectionConfig {
                    breaker_window: 0,
                    ..Default::default()
                },
            ),
            (
                "breaker_open_ms",
                ProtectionConfig {
                    breaker_open_ms: 0,
                    ..Default::default()
                },
            ),
            (
                "breaker_half_open_probes",
                ProtectionConfig {
                    breaker_half_open_probes: 0,
                    ..Default::default()
                },
            ),
        ];
        for (key, config) in cases {
            assert_eq!(config.validate().map_err(|error| error.key), Err(key), "{config:?}");
        }
    }
}
