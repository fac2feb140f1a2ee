//! What the gateway processes did per order, read from their own `/metrics`: group commits,
//! write units, the store writer's time, leases and provider calls. Throughput follows from
//! these counts, so a change that claims to save commits shows it here, not only in orders/s.
//! On SQLite, whose one writer runs every batch in turn, `writer_ms_per_order` is a ceiling:
//! the writer allows at most 1,000 ÷ that many orders per second.

use std::ops::Sub;

/// Counters summed over the gateway processes at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StoreWork {
    /// Group commits of the store writer (`gateway_store_batch_units_count`).
    pub group_commits: f64,
    /// Write units those commits carried (`gateway_store_batch_units_sum`).
    pub units: f64,
    /// Seconds the writers spent on those commits, from `BEGIN` to telling the callers
    /// (`gateway_store_batch_seconds_sum`).
    pub writer_seconds: f64,
    /// Dispatcher leases, empty ones included (`gateway_dispatcher_lease_rows_count`).
    pub leases: f64,
    /// Calls to providers of any operation (`gateway_provider_request_seconds_count`).
    pub provider_calls: f64,
}

impl StoreWork {
    /// The counters in a Prometheus text exposition, each summed over its label sets; a
    /// counter not shown yet counts 0.
    pub fn parse(text: &str) -> Self {
        let mut work = Self::default();
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let name = series.split('{').next().unwrap_or_default();
            let slot = match name {
                "gateway_store_batch_units_count" => &mut work.group_commits,
                "gateway_store_batch_units_sum" => &mut work.units,
                "gateway_store_batch_seconds_sum" => &mut work.writer_seconds,
                "gateway_dispatcher_lease_rows_count" => &mut work.leases,
                "gateway_provider_request_seconds_count" => &mut work.provider_calls,
                _ => continue,
            };
            *slot += value;
        }
        work
    }

    /// Fetches and parses `http://{listen}/metrics`; `None` when it does not answer.
    pub async fn fetch(client: &reqwest::Client, listen: &str) -> Option<Self> {
        let response = client.get(format!("http://{listen}/metrics")).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        Some(Self::parse(&response.text().await.ok()?))
    }

    /// Each counter divided by `orders`, as the report prints it.
    pub fn per_order(&self, orders: usize) -> [(&'static str, String); 5] {
        let per = |count: f64| {
            if orders == 0 {
                "n/a".to_string()
            } else {
                format!("{:.3}", count / orders as f64)
            }
        };
        [
            ("group_commits_per_order", per(self.group_commits)),
            ("store_units_per_order", per(self.units)),
            ("writer_ms_per_order", per(self.writer_seconds * 1000.0)),
            ("leases_per_order", per(self.leases)),
            ("provider_calls_per_order", per(self.provider_calls)),
        ]
    }
}

impl std::iter::Sum for StoreWork {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), |total, work| Self {
            group_commits: total.group_commits + work.group_commits,
            units: total.units + work.units,
            writer_seconds: total.writer_seconds + work.writer_seconds,
            leases: total.leases + work.leases,
            provider_calls: total.provider_calls + work.provider_calls,
        })
    }
}

impl Sub for StoreWork {
    type Output = Self;

    fn sub(self, before: Self) -> Self {
        Self {
            group_commits: self.group_commits - before.group_commits,
            units: self.units - before.units,
            writer_seconds: self.writer_seconds - before.writer_seconds,
            leases: self.leases - before.leases,
            provider_calls: self.provider_calls - before.provider_calls,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPOSITION: &str = "\
# TYPE gateway_store_batch_units histogram
gateway_store_batch_units_bucket{le=\"1\"} 3
gateway_store_batch_units_sum 93582
gateway_store_batch_units_count 1252
# TYPE gateway_store_batch_seconds histogram
gateway_store_batch_seconds_bucket{le=\"0.005\"} 700
gateway_store_batch_seconds_sum 9.5
gateway_store_batch_seconds_count 1252
# TYPE gateway_dispatcher_lease_rows summary
gateway_dispatcher_lease_rows{quantile=\"0.5\"} 64
gateway_dispatcher_lease_rows_sum 19221
gateway_dispatcher_lease_rows_count 2451
gateway_provider_request_seconds_count{provider=\"bank_transfer\",operation=\"submit\"} 3570
gateway_provider_request_seconds_count{provider=\"vnpt_money\",operation=\"name_inquiry\"} 3066
gateway_provider_request_seconds_sum{provider=\"vnpt_money\",operation=\"name_inquiry\"} 175.9
gateway_store_batch_units_alone_sum 2336
";

    #[test]
    fn the_counters_are_read_and_summed_over_their_labels() {
        let work = StoreWork::parse(EXPOSITION);
        assert_eq!(
            work,
            StoreWork {
                group_commits: 1252.0,
                units: 93582.0,
                writer_seconds: 9.5,
                leases: 2451.0,
                provider_calls: 6636.0,
            }
        );
    }

    #[test]
    fn a_run_is_what_the_counters_grew_by_and_reads_per_order() {
        let before = StoreWork::parse(
            "gateway_store_batch_units_count 2\ngateway_store_batch_units_sum 10\ngateway_store_batch_seconds_sum 0.5\n",
        );
        let after = [
            StoreWork::parse(EXPOSITION),
            StoreWork::parse("gateway_store_batch_units_count 8\n"),
        ]
        .into_iter()
        .sum::<StoreWork>();
        let run = after - before;
        assert_eq!(run.group_commits, 1258.0);
        assert_eq!(run.units, 93572.0);
        let figures = run.per_order(1000);
        assert_eq!(figures[0], ("group_commits_per_order", "1.258".to_string()));
        assert_eq!(figures[1], ("store_units_per_order", "93.572".to_string()));
        assert_eq!(figures[2], ("writer_ms_per_order", "9.000".to_string()));
        assert_eq!(figures[3], ("leases_per_order", "2.451".to_string()));
        assert_eq!(figures[4], ("provider_calls_per_order", "6.636".to_string()));
        assert_eq!(run.per_order(0)[0].1, "n/a");
    }

    #[test]
    fn a_page_without_the_counters_counts_nothing() {
        assert_eq!(
            StoreWork::parse("garbage\nno_value_here\n# HELP x\n"),
            StoreWork::default()
        );
    }
}
