//! The emulated bank's end-of-day statement: ISO 20022 camt.053.001.08 (`BkToCstmrStmt`),
//! valid against the official schema shipped in `schemas/camt.053.001.08.xsd`.
//!
//! The statement is of the province's disbursement account at the sponsor bank, so each
//! payout is a **debit** entry (`DBIT`, bank transaction code `PMNT/ICDT/DMCT`) and a payout
//! the beneficiary's bank sent back is a **credit** entry (`CRDT`, `PMNT/ICDT/RRTN`) whose
//! transaction details carry the return reason (`RtrInf/Rsn/Cd`, e.g. `AC04`). Every entry's
//! `NtryDtls/TxDtls/Refs` carries the bank's reference (`AcctSvcrRef`) and the references the
//! gateway sent with the transfer, as ISO 20022 carries them to the statement: `InstrId` the
//! `client_reference` (the gateway's payment id, also its idempotency key) and `EndToEndId` the
//! `end_to_end_id` (the upstream order id), left out for a credit the gateway never sent.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use sandbox_kit::statement::{vietnam, EntryKind, Statement, StatementEntry, StatementWriter};

/// The camt.053.001.08 namespace.
pub const CAMT053_NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08";
/// The disbursement account the statement is of (the sandbox's; a real one comes from the bank).
const DISBURSEMENT_ACCOUNT: &str = "0011000999999";
/// A notional opening balance, so balances stay positive whatever the day paid out.
const OPENING_BALANCE_VND: u64 = 100_000_000_000;

/// Writes camt.053.001.08 statements.
#[derive(Clone, Copy, Debug, Default)]
pub struct Camt053Writer;

impl StatementWriter for Camt053Writer {
    fn media_type(&self) -> &'static str {
        "application/xml"
    }

    fn file_name(&self, statement: &Statement) -> String {
        format!("{}-camt053-{}.xml", statement.provider, statement.date)
    }

    fn write(&self, statement: &Statement) -> Vec<u8> {
        camt053(statement).into_bytes()
    }
}

/// Escapes text for XML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// At most 35 characters (ISO `Max35Text`), on a character boundary.
fn max35(text: &str) -> String {
    escape(&text.chars().take(35).collect::<String>())
}

fn date_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&vietnam()).format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

fn day(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

fn is_return(entry: &StatementEntry) -> bool {
    matches!(entry.kind, EntryKind::Return { .. })
}

/// The whole document.
pub fn camt053(statement: &Statement) -> String {
    let ymd = statement.date.format("%Y%m%d");
    let debits: u64 = statement
        .entries
        .iter()
        .filter(|e| !is_return(e))
        .map(|e| e.amount)
        .sum();
    let credits: u64 = statement
        .entries
        .iter()
        .filter(|e| is_return(e))
        .map(|e| e.amount)
        .sum();
    let closing = (OPENING_BALANCE_VND + credits).saturating_sub(debits);
    let debit_count = statement.entries.iter().filter(|e| !is_return(e)).count();
    let credit_count = statement.entries.len() - debit_count;
    let net = i128::from(credits) - i128::from(debits);
    let (net_amount, net_direction) = (net.unsigned_abs(), if net < 0 { "DBIT" } else { "CRDT" });

    let mut xml = String::new();
    let _ = writeln!(xml, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(xml, r#"<Document xmlns="{CAMT053_NAMESPACE}">"#);
    let _ = writeln!(xml, "  <BkToCstmrStmt>");
    let _ = writeln!(
        xml,
        "    <GrpHdr><MsgId>CAMT053-{ymd}-{}</MsgId><CreDtTm>{}</CreDtTm></GrpHdr>",
        statement.created_at.timestamp(),
        date_time(statement.created_at)
    );
    let _ = writeln!(xml, "    <Stmt>");
    let _ = writeln!(xml, "      <Id>STMT-{DISBURSEMENT_ACCOUNT}-{ymd}</Id>");
    let _ = writeln!(xml, "      <CreDtTm>{}</CreDtTm>", date_time(statement.created_at));
    let _ = writeln!(
        xml,
        "      <FrToDt><FrDtTm>{0}T00:00:00+07:00</FrDtTm><ToDtTm>{0}T23:59:59+07:00</ToDtTm></FrToDt>",
        day(statement.date)
    );
    let _ = writeln!(
        xml,
        "      <Acct><Id><Othr><Id>{DISBURSEMENT_ACCOUNT}</Id></Othr></Id><Ccy>VND</Ccy></Acct>"
    );
    for (code, amount) in [("OPBD", OPENING_BALANCE_VND), ("CLBD", closing)] {
        let _ = writeln!(
            xml,
            "      <Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"VND\">{amount}</Amt>\
             <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{}</Dt></Dt></Bal>",
            day(statement.date)
        );
    }
    let _ = writeln!(
        xml,
        "      <TxsSummry><TtlNtries><NbOfNtries>{}</NbOfNtries><Sum>{}</Sum><TtlNetNtry><Amt>{net_amount}</Amt>\
         <CdtDbtInd>{net_direction}</CdtDbtInd></TtlNetNtry></TtlNtries>\
         <TtlCdtNtries><NbOfNtries>{credit_count}</NbOfNtries><Sum>{credits}</Sum></TtlCdtNtries>\
         <TtlDbtNtries><NbOfNtries>{debit_count}</NbOfNtries><Sum>{debits}</Sum></TtlDbtNtries></TxsSummry>",
        statement.entries.len(),
        credits + debits
    );
    for (index, entry) in statement.entries.iter().enumerate() {
        write_entry(&mut xml, index + 1, entry);
    }
    let _ = writeln!(xml, "    </Stmt>");
    let _ = writeln!(xml, "  </BkToCstmrStmt>");
    let _ = writeln!(xml, "</Document>");
    xml
}

fn write_entry(xml: &mut String, number: usize, entry: &StatementEntry) {
    let (direction, sub_family, return_info, info) = match &entry.kind {
        EntryKind::Payout => ("DBIT", "DMCT", String::new(), "NAPAS 24/7 payout".to_string()),
        EntryKind::Return {
            reason_code,
            original_ref,
            original_booked_at,
        } => (
            "CRDT",
            "RRTN",
            format!(
                "<RtrInf><Rsn><Cd>{}</Cd></Rsn><AddtlInf>Return of {} booked {}</AddtlInf></RtrInf>",
                escape(&reason_code.chars().take(4).collect::<String>()),
                max35(original_ref),
                date_time(*original_booked_at)
            ),
            format!("Payout returned ({})", escape(reason_code)),
        ),
    };
    let amount = entry.amount;
    let instruction = max35(&entry.client_reference);
    let (end_to_end, order) = if entry.order_ref.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!("<EndToEndId>{}</EndToEndId>", max35(&entry.order_ref)),
            format!("<AddtlTxInf>Order {}</AddtlTxInf>", escape(&entry.order_ref)),
        )
    };
    let _ = writeln!(xml, "      <Ntry>");
    let _ = writeln!(xml, "        <NtryRef>{number}</NtryRef>");
    let _ = writeln!(xml, "        <Amt Ccy=\"VND\">{amount}</Amt>");
    let _ = writeln!(xml, "        <CdtDbtInd>{direction}</CdtDbtInd>");
    let _ = writeln!(xml, "        <Sts><Cd>BOOK</Cd></Sts>");
    let _ = writeln!(
        xml,
        "        <BookgDt><DtTm>{}</DtTm></BookgDt>",
        date_time(entry.booked_at)
    );
    let _ = writeln!(
        xml,
        "        <ValDt><Dt>{}</Dt></ValDt>",
        day(sandbox_kit::statement::vietnam_date(entry.booked_at))
    );
    let _ = writeln!(xml, "        <AcctSvcrRef>{}</AcctSvcrRef>", max35(&entry.entry_ref));
    let _ = writeln!(
        xml,
        "        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>{sub_family}</SubFmlyCd></Fmly></Domn></BkTxCd>"
    );
    let _ = writeln!(
        xml,
        "        <NtryDtls><TxDtls><Refs><AcctSvcrRef>{}</AcctSvcrRef><InstrId>{instruction}</InstrId>\
         {end_to_end}</Refs><Amt Ccy=\"VND\">{amount}</Amt><CdtDbtInd>{direction}</CdtDbtInd>\
         {return_info}{order}</TxDtls></NtryDtls>",
        max35(&entry.entry_ref)
    );
    let _ = writeln!(xml, "        <AddtlNtryInf>{info}</AddtlNtryInf>");
    let _ = writeln!(xml, "      </Ntry>");
}

#[cfg(test)]
mod tests {
    use chrono::NaiveTime;
    use sandbox_kit::statement::vietnam_instant;

    use super::*;

    fn statement() -> Statement {
        let date = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap_or_default();
        let at = vietnam_instant(date, NaiveTime::from_hms_opt(9, 30, 0).unwrap_or_default());
        let payout = StatementEntry {
            entry_ref: "FT26337A1".into(),
            client_reference: "pay_1f0c4d0b6c1e2b4a9d8e7f6a5b4c".into(),
            order_ref: "TB-2026-12-000001".into(),
            amount: 2_789_000,
            booked_at: at,
            kind: EntryKind::Payout,
        };
        let returned = StatementEntry {
            entry_ref: "RTN-FT26337A1".into(),
            kind: EntryKind::Return {
                reason_code: "AC04".into(),
                original_ref: "FT26337A1".into(),
                original_booked_at: at,
            },
            booked_at: at + chrono::Duration::seconds(1),
            ..payout.clone()
        };
        Statement {
            provider: "bank_transfer".into(),
            date,
            created_at: at,
            entries: vec![payout, returned],
        }
    }

    #[test]
    fn payouts_are_debits_and_returns_are_credits_with_a_reason() {
        let xml = camt053(&statement());
        assert!(xml.contains(r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">"#));
        assert_eq!(xml.matches("<Ntry>").count(), 2);
        assert!(xml.contains("<CdtDbtInd>DBIT</CdtDbtInd>"));
        assert!(xml.contains("<RtrInf><Rsn><Cd>AC04</Cd></Rsn>"));
        assert!(xml.contains(
            "<InstrId>pay_1f0c4d0b6c1e2b4a9d8e7f6a5b4c</InstrId><EndToEndId>TB-2026-12-000001</EndToEndId></Refs>"
        ));
        assert!(xml.contains("<BookgDt><DtTm>2026-12-03T09:30:00+07:00</DtTm></BookgDt>"));
        // Opening 100 bn, one payout out, the same amount back: closing equals opening.
        assert!(xml.contains("<Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"VND\">100000000000</Amt>"));
    }

    #[test]
    fn the_references_are_the_client_reference_and_the_order_as_the_gateway_sent_them() {
        let mut statement = statement();
        // A credit the gateway never sent has no order: no EndToEndId (Max35Text is never empty).
        statement.entries[1].order_ref = String::new();
        let xml = camt053(&statement);
        assert_eq!(
            xml.matches("<InstrId>pay_1f0c4d0b6c1e2b4a9d8e7f6a5b4c</InstrId>")
                .count(),
            2
        );
        assert_eq!(xml.matches("<EndToEndId>TB-2026-12-000001</EndToEndId>").count(), 1);
        assert!(
            !xml.contains("<EndToEndId>pay_"),
            "the payment id is not the end-to-end id"
        );
        assert!(!xml.contains("<EndToEndId></EndToEndId>"));
    }

    #[test]
    fn the_statement_validates_against_the_official_schema() {
        use std::io::Write as _;
        let mut statement = statement();
        statement.entries[1].order_ref = String::new();
        let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/camt.053.001.08.xsd");
        let mut child = std::process::Command::new("xmllint")
            .args(["--noout", "--schema", schema, "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("xmllint is needed to validate camt.053 (Debian package libxml2-utils): {error}")
            });
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(camt053(&statement).as_bytes())
                .unwrap_or_else(|error| panic!("{error}"));
        }
        let output = child.wait_with_output().unwrap_or_else(|error| panic!("{error}"));
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }

    #[test]
    fn text_is_escaped_and_references_are_cut_to_35_characters() {
        let mut statement = statement();
        statement.entries[0].client_reference = format!("a<b&{}", "x".repeat(40));
        let xml = camt053(&statement);
        assert!(xml.contains(&format!("<InstrId>a&lt;b&amp;{}</InstrId>", "x".repeat(31))));
    }
}
