//! `[dashboard]`: the ops dashboard's settings. Off unless a token is set, so a gateway never
//! shows its payments to anyone by accident.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Shortest token accepted: a bearer token is the only thing between the page and the data.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The dashboard's settings (`dashboard.*`; e.g. `GATEWAY__DASHBOARD__TOKEN`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardSettings {
    /// The bearer token the dashboard's API asks for; `None` (the default) turns `/ops` off.
    /// A secret: set it from the environment, never in a committed file.
    pub token: Option<SecretString>,
    /// How often the page asks for fresh figures.
    pub refresh_ms: u64,
    /// Payments in `needs_review` listed at most (oldest first; the total counts them all).
    pub needs_review_limit: i64,
    /// Dead letters read at most per look to count them by reason (`0`: depth only). Reading
    /// is a `basic_get` without ack, which returns them to the queue but counts as a delivery.
    pub dlq_peek_max: u32,
    /// How long one look at the DLQ (depth and reasons) is reused before the next.
    pub dlq_refresh_ms: u64,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        Self {
            token: None,
            refresh_ms: 5_000,
            needs_review_limit: 100,
            dlq_peek_max: 200,
            dlq_refresh_ms: 15_000,
        }
    }
}

impl DashboardSettings {
    /// Whether `/ops` is served at all.
    pub fn enabled(&self) -> bool {
        self.token.is_some()
    }

    /// Every problem with the values, as sentences naming the key.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(token) = &self.token {
            let token = token.expose_secret();
            if token.chars().count() < MIN_TOKEN_CHARS || token.trim() != token {
                problems.push(format!(
                    "dashboard.token must be at least {MIN_TOKEN_CHARS} characters without spaces around it; \
                     make one with `openssl rand -hex 32`"
                ));
            }
            if !token.bytes().all(|byte| byte.is_ascii_graphic()) {
                problems.push("dashboard.token must be printable ASCII (it travels in an HTTP header)".to_string());
            }
        }
        if !(1_000..=3_600_000).contains(&self.refresh_ms) {
            problems.push("dashboard.refresh_ms must be from 1000 to 3600000".to_string());
        }
        if !(1..=10_000).contains(&self.needs_review_limit) {
            problems.push("dashboard.needs_review_limit must be from 1 to 10000".to_string());
        }
        if self.dlq_peek_max > 10_000 {
            problems.push("dashboard.dlq_peek_max must be at most 10000".to_string());
        }
        if self.dlq_refresh_ms < 1_000 {
            problems.push("dashboard.dlq_refresh_ms must be at least 1000".to_string());
        }
        problems
    }

    /// Fails with every problem listed, for start-up.
    pub fn validate(&self) -> anyhow::Result<()> {
        let problems = self.problems();
        anyhow::ensure!(
            problems.is_empty(),
            "invalid [dashboard] settings: {}",
            problems.join("; ")
        );
        Ok(())
    }

    pub fn dlq_refresh(&self) -> Duration {
        Duration::from_millis(self.dlq_refresh_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_off_and_valid() {
        let settings = DashboardSettings::default();
        assert!(!settings.enabled());
        assert!(settings.problems().is_empty());
    }

    #[test]
    fn short_or_odd_tokens_and_bad_numbers_are_refused() {
        let settings = DashboardSettings {
            token: Some(SecretString::from("short")),
            refresh_ms: 10,
            ..Default::default()
        };
        let problems = settings.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("dashboard.token"));
        let spaced = DashboardSettings {
            token: Some(SecretString::from("a token with spaces inside")),
            ..Default::default()
        };
        assert_eq!(spaced.problems().len(), 1);
        let good = DashboardSettings {
            token: Some(SecretString::from("0123456789abcdef0123")),
            ..Default::default()
        };
        assert!(good.enabled());
        assert!(good.validate().is_ok());
    }

    #[test]
    fn unknown_keys_are_refused_and_missing_ones_default() {
        let parsed: Result<DashboardSettings, _> = serde_json::from_str(r#"{"tokn": "x"}"#);
        assert!(parsed.is_err());
        let parsed: Result<DashboardSettings, _> = serde_json::from_str(r#"{"refresh_ms": 2000}"#);
        assert_eq!(parsed.map(|s| (s.refresh_ms, s.enabled())).ok(), Some((2_000, false)));
    }
}
