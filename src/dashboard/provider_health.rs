//! Provider health for the dashboard, read from the gateway's own Prometheus metrics (the
//! provider runner's call histogram and error counter, the guard's breaker gauge) — so the
//! dashboard shows exactly what `/metrics` exports: figures since the gateway started.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

/// One provider's figures since the gateway started.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ProviderHealth {
    pub provider: String,
    /// Requests sent (every operation: submit, status, name inquiry).
    pub calls: u64,
    /// Mean time of a call, in milliseconds.
    pub mean_ms: Option<f64>,
    /// Upper bound of the histogram bucket holding the 95th percentile, in milliseconds;
    /// `None` with calls means above the largest bucket (30 s).
    pub p95_ms_at_most: Option<f64>,
    /// Calls that failed in transport or got 401/403/408/429/5xx.
    pub errors: u64,
    /// `errors / calls`, from 0 to 1.
    pub error_rate: Option<f64>,
    /// Errors by kind (`timeout`, `server_error`, …), without `circuit_open`.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Calls the breaker refused without sending.
    pub circuit_open_refusals: u64,
    /// `closed`, `half_open` or `open`; `None` when the provider has no breaker (no
    /// `protection` table) or it has not reported yet (read it as closed).
    pub breaker: Option<String>,
    /// How long the breaker stays open, in milliseconds, while it is open.
    pub unavailable_for_ms: Option<u64>,
}

/// One sample line of the Prometheus text format.
struct Sample<'a> {
    name: &'a str,
    labels: HashMap<&'a str, &'a str>,
    value: f64,
}

fn parse_line(line: &str) -> Option<Sample<'_>> {
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        other => other.parse().ok()?,
    };
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => (name, rest.strip_suffix('}')?),
        None => (series, ""),
    };
    let labels = labels
        .split(',')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((key.trim(), value.trim().trim_matches('"')))
        })
        .collect();
    Some(Sample { name, labels, value })
}

/// Everything about one provider collected from the text before the figures are worked out.
#[derive(Default)]
struct Collected {
    count: f64,
    sum_seconds: f64,
    /// Cumulative count at each bucket bound (seconds), summed over operations.
    buckets: BTreeMap<u64, f64>,
    errors: BTreeMap<String, u64>,
    breaker_gauge: Option<f64>,
}

/// The health of each provider in `providers` (key and how long its breaker stays open), from
/// the Prometheus text `metrics`. Providers the text names but the list does not are ignored.
pub fn from_metrics(metrics: &str, providers: &[(String, Option<std::time::Duration>)]) -> Vec<ProviderHealth> {
    let mut collected: HashMap<&str, Collected> = HashMap::new();
    for sample in metrics.lines().filter_map(parse_line) {
        let Some(provider) = sample.labels.get("provider").copied() else {
            continue;
        };
        let entry = collected.entry(provider).or_default();
        match sample.name {
            "gateway_provider_request_seconds_count" => entry.count += sample.value,
            "gateway_provider_request_seconds_sum" => entry.sum_seconds += sample.value,
            "gateway_provider_request_seconds_bucket" => {
                if let Some(bound) = sample.labels.get("le").and_then(|le| le.parse::<f64>().ok()) {
                    if bound.is_finite() {
                        // Microseconds as the key keeps the bounds ordered without floats as keys.
                        *entry.buckets.entry((bound * 1_000_000.0).round() as u64).or_default() += sample.value;
                    }
                }
            }
            "gateway_provider_errors_total" => {
                let kind = sample.labels.get("kind").copied().unwrap_or("unknown").to_string();
                *entry.errors.entry(kind).or_default() += sample.value.max(0.0) as u64;
            }
            "gateway_provider_breaker_state" => entry.breaker_gauge = Some(sample.value),
            _ => {}
        }
    }
    providers
        .iter()
        .map(|(provider, unavailable_for)| {
            let found = collected.remove(provider.as_str()).unwrap_or_default();
            let calls = found.count.max(0.0) as u64;
            let mut errors_by_kind = found.errors;
            let circuit_open_refusals = errors_by_kind.remove("circuit_open").unwrap_or(0);
            let errors: u64 = errors_by_kind.values().sum();
            let p95_ms_at_most = (calls > 0)
                .then(|| {
                    let wanted = found.count * 0.95;
                    found
                        .buckets
                        .iter()
                        .find(|(_, cumulative)| **cumulative >= wanted)
                        .map(|(bound_us, _)| *bound_us as f64 / 1_000.0)
                })
                .flatten();
            ProviderHealth {
                provider: provider.clone(),
                calls,
                mean_ms: (calls > 0).then(|| found.sum_seconds * 1_000.0 / found.count),
                p95_ms_at_most,
                errors,
                error_rate: (calls > 0).then(|| (errors as f64 / calls as f64).min(1.0)),
                errors_by_kind,
                circuit_open_refusals,
                breaker: found.breaker_gauge.map(|gauge| {
                    match gauge.round() as i64 {
                        0 => "closed",
                        1 => "half_open",
                        _ => "open",
                    }
                    .to_string()
                }),
                unavailable_for_ms: unavailable_for.map(|d| d.as_millis().min(u64::MAX as u128) as u64),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# TYPE gateway_provider_request_seconds histogram
gateway_provider_request_seconds_bucket{provider="bank_transfer",operation="submit",le="0.01"} 2
gateway_provider_request_seconds_bucket{provider="bank_transfer",operation="submit",le="0.1"} 8
gateway_provider_request_seconds_bucket{provider="bank_transfer",operation="submit",le="1"} 10
gateway_provider_request_seconds_bucket{provider="bank_transfer",operation="submit",le="+Inf"} 10
gateway_provider_request_seconds_sum{provider="bank_transfer",operation="submit"} 0.5
gateway_provider_request_seconds_count{provider="bank_transfer",operation="submit"} 10
gateway_provider_request_seconds_bucket{provider="bank_transfer",operation="status",le="0.01"} 10
gateway_provider_request_seconds_bucket{provider="bank_transfer",operation="status",le="0.1"} 10
gateway_provider_request_seconds_bucket{provider="bank_transfer",operation="status",le="1"} 10
gateway_provider_request_seconds_bucket{provider="bank_transfer",operation="status",le="+Inf"} 10
gateway_provider_request_seconds_sum{provider="bank_transfer",operation="status"} 0.1
gateway_provider_request_seconds_count{provider="bank_transfer",operation="status"} 10
# TYPE gateway_provider_errors_total counter
gateway_provider_errors_total{provider="bank_transfer",kind="server_error"} 3
gateway_provider_errors_total{provider="bank_transfer",kind="timeout"} 1
gateway_provider_errors_total{provider="bank_transfer",kind="circuit_open"} 7
gateway_provider_breaker_state{provider="bank_transfer"} 2
gateway_orders_total{outcome="claimed"} 5
"#;

    #[test]
    fn figures_are_summed_over_operations() {
        let providers = vec![
            (
                "bank_transfer".to_string(),
                Some(std::time::Duration::from_millis(1_500)),
            ),
            ("viettel_money".to_string(), None),
        ];
        let health = from_metrics(TEXT, &providers);
        let bank = &health[0];
        assert_eq!(bank.calls, 20);
        assert_eq!(bank.mean_ms, Some(30.0));
        // 18 of 20 calls are at or below 0.1 s, all 20 at or below 1 s: p95 is in the 1 s bucket.
        assert_eq!(bank.p95_ms_at_most, Some(1_000.0));
        assert_eq!(bank.errors, 4);
        assert_eq!(bank.error_rate, Some(0.2));
        assert_eq!(bank.circuit_open_refusals, 7);
        assert_eq!(bank.breaker.as_deref(), Some("open"));
        assert_eq!(bank.unavailable_for_ms, Some(1_500));

        let wallet = &health[1];
        assert_eq!(wallet.provider, "viettel_money");
        assert_eq!(wallet.calls, 0);
        assert_eq!(wallet.mean_ms, None);
        assert_eq!(wallet.error_rate, None);
        assert_eq!(wallet.breaker, None);
    }

    #[test]
    fn garbage_lines_are_skipped() {
        let health = from_metrics(
            "nonsense\n{}{}\n gateway 1 2 3\n",
            &[("bank_transfer".to_string(), None)],
        );
        assert_eq!(health[0].calls, 0);
    }
}
