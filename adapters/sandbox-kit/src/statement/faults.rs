//! Faults a provider's end-of-day statement can carry on request: the discrepancies a
//! reconciliation must find (a credit missing, one the gateway never sent, another amount,
//! and a return days after success).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The ISO 20022 return reason "ClosedAccountNumber", the commonest reason a credit comes back.
pub const DEFAULT_RETURN_REASON: &str = "AC04";

/// What `PUT /sandbox/statement-faults/{provider}` sets. Every field may be left out.
/// The faults stay until they are replaced or the sandbox is reset, so the same statement
/// can be fetched twice and comes out the same.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatementFaults {
    /// Client references (the gateway's payment ids) of credits left off the statement,
    /// though the ledger booked and completed them: "missing at the provider".
    pub omit: Vec<String>,
    /// Credits shown with another amount than the one booked: client reference → đồng.
    pub amounts: BTreeMap<String, u64>,
    /// Credits on the statement that the gateway never sent.
    pub extra: Vec<ExtraCredit>,
    /// Credits the provider sent back after they succeeded.
    pub returns: Vec<ReturnedCredit>,
}

/// A credit the gateway never asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraCredit {
    /// Whole đồng.
    pub amount: u64,
    /// The client reference the line carries; by default `UNKNOWN-<yyyymmdd>-<n>`.
    #[serde(default)]
    pub reference: Option<String>,
    /// The Vietnam date whose statement shows it; by default the day the fault was set.
    #[serde(default)]
    pub date: Option<NaiveDate>,
}

/// A credit sent back (the account was closed, say), booked as its own line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnedCredit {
    /// The client reference (payment id) of the completed credit that came back.
    pub reference: String,
    /// An ISO 20022 external return reason code (`AC04` account closed, `AC01` wrong account
    /// number, `MD07` beneficiary deceased, …).
    #[serde(default = "default_return_reason")]
    pub reason_code: String,
    /// The Vietnam date the return is booked on; by default the credit's own day, so one
    /// statement shows the credit and its return.
    #[serde(default)]
    pub returned_on: Option<NaiveDate>,
}

fn default_return_reason() -> String {
    DEFAULT_RETURN_REASON.to_string()
}

impl StatementFaults {
    /// Gives extra credits without a date the day `today`, so they show on one statement only.
    pub fn dated(mut self, today: NaiveDate) -> Self {
        for extra in &mut self.extra {
            extra.date.get_or_insert(today);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_with_only_a_return_reads_with_its_defaults() {
        let faults: StatementFaults =
            serde_json::from_str(r#"{"returns":[{"reference":"pay_1"}]}"#).expect("valid faults");
        assert_eq!(faults.returns[0].reason_code, "AC04");
        assert_eq!(faults.returns[0].returned_on, None);
        assert!(faults.omit.is_empty() && faults.extra.is_empty());
        assert!(serde_json::from_str::<StatementFaults>(r#"{"omitt":[]}"#).is_err());
    }

    #[test]
    fn undated_extra_credits_get_the_day_they_were_set() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).expect("a date");
        let earlier = NaiveDate::from_ymd_opt(2026, 12, 1).expect("a date");
        let faults = StatementFaults {
            extra: vec![
                ExtraCredit {
                    amount: 1,
                    reference: None,
                    date: None,
                },
                ExtraCredit {
                    amount: 2,
                    reference: None,
                    date: Some(earlier),
                },
            ],
            ..StatementFaults::default()
        }
        .dated(today);
        assert_eq!(faults.extra[0].date, Some(today));
        assert_eq!(faults.extra[1].date, Some(earlier));
    }
}
