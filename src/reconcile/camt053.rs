//! Reads a bank's ISO 20022 camt.053.001.08 end-of-day statement of the disbursement account.
//!
//! Booked entries only (`Sts/Cd` = `BOOK`). A debit (`DBIT`) is a payout; a credit (`CRDT`)
//! that carries return information (`TxDtls/RtrInf`) is a payout that came back (a return); an
//! entry with a reversal indicator (`RvslInd`) and no return information is a reversal — of a
//! payout entry (a credit; often of a duplicate booking) or of a credit (a debit: a return
//! taken back) — which is not a return of the payment; any other credit is kept as a
//! [`LineKind::Credit`]: the account being funded, unless its reference names a payment.
//!
//! The client reference is `TxDtls/Refs/InstrId`, which the gateway's bank adapter sends as the
//! `client_reference` (the payment id); without it, `EndToEndId`, which the adapter sends as the
//! upstream order id and which ISO 20022 carries unchanged to the statement (matching accepts
//! either a payment id or an order id, and tries the `EndToEndId` when the `InstrId` names no
//! payment). The line's own reference is `AcctSvcrRef`. An entry booking several transactions
//! yields one line per `TxDtls`, each with the transaction's `AcctSvcrRef`; where a transaction
//! has none, or the entry gives several the same one (banks copy the entry's reference into
//! each), each line is the entry's reference and the transaction's position, `FT123/2`, so
//! that a return is remembered as its own line and a repeated reading of the file finds the
//! same references.
//!
//! A statement says the Vietnam days it covers (`FrToDt`; a period ending at midnight, written
//! `00:00:00` of the next day or `24:00:00`, does not cover the day it ends on). One that covers
//! several — a weekend's, a bank day cut at another hour, statements of different days in one
//! file — has no day of its own: it is reconciled a day at a time (`--date`), since only the
//! payments sent on the day reconciled are expected on it.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use roxmltree::{Document, Node};

use super::statement::{parse_dong, vietnam, LineKind, ParsedStatement, StatementError, StatementLine};

/// The camt.053.001.08 namespace.
pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08";

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(NAMESPACE))
}

fn children<'a, 'i: 'a>(node: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(NAMESPACE))
}

/// The trimmed text at a path of child elements.
fn text_at(node: Node, path: &[&str]) -> Option<String> {
    let mut current = node;
    for name in path {
        current = child(current, name)?;
    }
    current.text().map(|text| text.trim().to_string())
}

/// A `DateAndDateTime2Choice` (`Dt` or `DtTm`) as a Vietnam day.
fn day_of(node: Node) -> Result<Option<NaiveDate>, String> {
    if let Some(day) = text_at(node, &["Dt"]) {
        return NaiveDate::parse_from_str(&day, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| format!("date `{day}` is not YYYY-MM-DD"));
    }
    match text_at(node, &["DtTm"]) {
        Some(moment) => date_time_day(&moment).map(Some),
        None => Ok(None),
    }
}

/// An ISO date-time as a Vietnam day; one without an offset is taken as Vietnam time.
fn date_time_day(moment: &str) -> Result<NaiveDate, String> {
    date_time_local(moment).map(|local| local.date())
}

/// An ISO date-time as Vietnam wall-clock time; one without an offset is taken as Vietnam time.
/// `24:00:00` (which `xs:dateTime` allows for the end of a day) is midnight of the next day.
fn date_time_local(moment: &str) -> Result<NaiveDateTime, String> {
    if let Some((day, rest)) = moment.split_once("T24:00:00") {
        let next_midnight = date_time_local(&format!("{day}T00:00:00{rest}"))?;
        return next_midnight
            .checked_add_signed(chrono::TimeDelta::days(1))
            .ok_or_else(|| format!("date-time `{moment}` is past the calendar's end"));
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(moment) {
        // RFC 3339 years have four digits: far from the calendar's ends, where the shift could fail.
        return Ok(at.with_timezone(&vietnam()).naive_local());
    }
    NaiveDateTime::parse_from_str(moment, "%Y-%m-%dT%H:%M:%S%.f")
        .map_err(|_| format!("date-time `{moment}` is not ISO 8601"))
}

/// An `Amt` element in đồng; its currency must be VND.
fn amount_of(node: Node) -> Result<u64, String> {
    match node.attribute("Ccy") {
        Some("VND") => {}
        Some(other) => return Err(format!("amount in {other}, not VND")),
        None => return Err("amount without a currency (Ccy)".to_string()),
    }
    parse_dong(node.text().unwrap_or_default())
}

/// Parses a camt.053.001.08 statement.
pub fn parse(bytes: &[u8]) -> Result<ParsedStatement, StatementError> {
    let text = std::str::from_utf8(bytes).map_err(|_| StatementError::NotUtf8)?;
    let document = Document::parse(text).map_err(|error| StatementError::Xml(error.to_string()))?;
    let root = document.root_element();
    if root.tag_name().name() != "Document" || root.tag_name().namespace() != Some(NAMESPACE) {
        return Err(StatementError::NotCamt053(format!(
            "the root element is {} in namespace {}, not Document in {NAMESPACE}",
            root.tag_name().name(),
            root.tag_name().namespace().unwrap_or("(none)")
        )));
    }
    let report = child(root, "BkToCstmrStmt")
        .ok_or_else(|| StatementError::NotCamt053("no BkToCstmrStmt element".to_string()))?;
    let mut statement = ParsedStatement::default();
    let mut number = 0;
    let mut found_statement = false;
    // The first and last day the `Stmt` elements cover.
    let mut covered: Option<(NaiveDate, NaiveDate)> = None;
    // The lines of the `Stmt` elements before the one being read.
    let mut booked_before = std::collections::HashSet::new();
    let mut in_earlier_statements = 0;
    for stmt in children(report, "Stmt") {
        found_statement = true;
        if let Some((from, to)) = days_covered(stmt).map_err(StatementError::NotCamt053)? {
            covered = Some(match covered {
                Some((first, last)) => (first.min(from), last.max(to)),
                None => (from, to),
            });
        }
        // A line an earlier `Stmt` of the file booked word for word is that booking again
        // (statements whose periods overlap), read once; a line repeated within one `Stmt`
        // stays, for matching to call a second booking.
        booked_before.extend(statement.lines[in_earlier_statements..].iter().cloned());
        in_earlier_statements = statement.lines.len();
        for entry in children(stmt, "Ntry") {
            number += 1;
            let located = |problem: String| StatementError::Entry { entry: number, problem };
            for line in entry_lines(entry).map_err(located)? {
                if !booked_before.contains(&line) {
                    statement.lines.push(line);
                }
            }
        }
    }
    if !found_statement {
        return Err(StatementError::NotCamt053("no Stmt element".to_string()));
    }
    match covered {
        Some((from, to)) if from == to => statement.date = Some(from),
        Some(span) => statement.several_days = Some(span),
        None => {}
    }
    Ok(statement)
}

/// The first and last Vietnam day a `Stmt` covers (`FrToDt`), if it says. A period that ends
/// at midnight (`ToDtTm` 00:00:00, or 24:00:00 of the day before) does not cover the day it
/// ends on.
fn days_covered(stmt: Node) -> Result<Option<(NaiveDate, NaiveDate)>, String> {
    let Some(from) = text_at(stmt, &["FrToDt", "FrDtTm"]) else {
        return Ok(None);
    };
    let from = date_time_local(&from)?;
    let Some(to) = text_at(stmt, &["FrToDt", "ToDtTm"]) else {
        return Ok(Some((from.date(), from.date())));
    };
    let to = date_time_local(&to)?;
    let last_day = if to.time() == chrono::NaiveTime::MIN && to.date() > from.date() {
        to.date().pred_opt().unwrap_or(to.date())
    } else {
        to.date()
    };
    Ok(Some((from.date(), last_day.max(from.date()))))
}

/// The lines one `Ntry` books (none for an entry that is not booked, or a credit without a
/// reference).
fn entry_lines(entry: Node) -> Result<Vec<StatementLine>, String> {
    let status = text_at(entry, &["Sts", "Cd"]).or_else(|| text_at(entry, &["Sts", "Prtry"]));
    if status.as_deref() != Some("BOOK") {
        return Ok(Vec::new());
    }
    let direction = text_at(entry, &["CdtDbtInd"]).unwrap_or_default();
    let reversal = text_at(entry, &["RvslInd"]).is_some_and(|value| value == "true" || value == "1");
    let booked_on = match child(entry, "BookgDt") {
        Some(node) => day_of(node)?,
        None => None,
    }
    .ok_or("no booking date (BookgDt)")?;
    let entry_amount = amount_of(child(entry, "Amt").ok_or("no amount (Amt)")?)?;
    let entry_ref = text_at(entry, &["AcctSvcrRef"]).filter(|reference| !reference.is_empty());
    let mut transactions: Vec<Option<Node>> = children(entry, "NtryDtls")
        .flat_map(|details| children(details, "TxDtls"))
        .map(Some)
        .collect();
    if transactions.is_empty() {
        transactions.push(None);
    }
    let batch = transactions.len() > 1;
    if batch {
        // Each line takes its transaction's amount: they must add up to what the entry booked,
        // or a file booked more (or less) than it lists and would still balance.
        let mut listed: u64 = 0;
        for transaction in transactions.iter().flatten() {
            let amount = amount_of(child(*transaction, "Amt").ok_or("a transaction of a batch entry has no amount")?)?;
            listed = listed
                .checked_add(amount)
                .ok_or("the transactions of a batch entry add up to more than an amount can hold")?;
        }
        if listed != entry_amount {
            return Err(format!(
                "the transactions of a batch entry add up to {listed} đồng, not the entry's amount {entry_amount}"
            ));
        }
    }
    let mut lines = Vec::new();
    for (position, transaction) in transactions.into_iter().enumerate() {
        let refs = transaction.and_then(|tx| child(tx, "Refs"));
        let present = |name: &str| {
            refs.and_then(|refs| text_at(refs, &[name]))
                .filter(|text| !text.is_empty())
        };
        let instruction = present("InstrId");
        let end_to_end = present("EndToEndId");
        let (reference, other_reference) = match instruction {
            Some(instruction) => (instruction, end_to_end),
            None => (end_to_end.unwrap_or_default(), None),
        };
        let return_reason = transaction
            .and_then(|tx| text_at(tx, &["RtrInf", "Rsn", "Cd"]).or_else(|| text_at(tx, &["RtrInf", "Rsn", "Prtry"])));
        let has_return_info = transaction.is_some_and(|tx| child(tx, "RtrInf").is_some());
        let kind = match direction.as_str() {
            "CRDT" if has_return_info => LineKind::Return {
                reason_code: return_reason.unwrap_or_else(|| "RVSL".to_string()),
            },
            // A reversal without return information: an entry booked in error taken back, or
            // (a debit) a return taken back. Neither is a payout.
            "DBIT" | "CRDT" if reversal => LineKind::Reversal,
            "DBIT" => LineKind::Payout,
            // Money into the disbursement account that is not a return: funding, unless its
            // reference names a payment. One without a reference names none.
            "CRDT" if reference.is_empty() => continue,
            "CRDT" => LineKind::Credit,
            other => return Err(format!("credit/debit indicator `{other}` is neither CRDT nor DBIT")),
        };
        let amount = if !batch {
            entry_amount
        } else {
            let node = transaction.and_then(|tx| child(tx, "Amt"));
            amount_of(node.ok_or("a transaction of a batch entry has no amount")?)?
        };
        let own_ref = refs
            .and_then(|refs| text_at(refs, &["AcctSvcrRef"]))
            .filter(|r| !r.is_empty());
        let entry_ref = if batch {
            own_ref.or_else(|| entry_ref.clone())
        } else {
            entry_ref.clone().or(own_ref)
        }
        .ok_or("no account servicer reference (AcctSvcrRef)")?;
        lines.push((
            position + 1,
            StatementLine {
                entry_ref,
                booked_as: None,
                reference,
                other_reference,
                amount,
                booked_on,
                kind,
            },
        ));
    }
    // The lines of a batch must be told apart by their references: where two share one, every
    // line is named by its reference and its position in the entry.
    let mut seen = std::collections::HashSet::new();
    let distinct = lines.iter().all(|(_, line)| seen.insert(line.entry_ref.clone()));
    let lines = lines
        .into_iter()
        .map(|(position, mut line)| {
            if !distinct {
                let named = format!("{}/{position}", line.entry_ref);
                line.booked_as = Some(std::mem::replace(&mut line.entry_ref, named));
            }
            line
        })
        .collect::<Vec<_>>();
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(entries: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{NAMESPACE}"><BkToCstmrStmt><GrpHdr><MsgId>M</MsgId><CreDtTm>2026-12-03T23:00:00+07:00</CreDtTm></GrpHdr>
<Stmt><Id>S</Id><FrToDt><FrDtTm>2026-12-03T00:00:00+07:00</FrDtTm><ToDtTm>2026-12-03T23:59:59+07:00</ToDtTm></FrToDt>
<Acct><Id><Othr><Id>1</Id></Othr></Id></Acct>{entries}</Stmt></BkToCstmrStmt></Document>"#
        )
    }

    fn entry(direction: &str, amount: &str, reference: &str, extra: &str) -> String {
        format!(
            r#"<Ntry><Amt Ccy="VND">{amount}</Amt><CdtDbtInd>{direction}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
<BookgDt><DtTm>2026-12-03T17:30:00Z</DtTm></BookgDt><AcctSvcrRef>FT-{reference}</AcctSvcrRef>
<BkTxCd/><NtryDtls><TxDtls><Refs><InstrId>{reference}</InstrId><EndToEndId>TB-2026-12-000001</EndToEndId></Refs>{extra}</TxDtls></NtryDtls></Ntry>"#
        )
    }

    #[test]
    fn debits_are_payouts_and_credits_with_return_information_are_returns() {
        let xml = document(&format!(
            "{}{}{}",
            entry("DBIT", "2789000", "pay_a", ""),
            entry(
                "CRDT",
                "2789000.00",
                "pay_a",
                "<RtrInf><Rsn><Cd>AC04</Cd></Rsn></RtrInf>"
            ),
            entry("CRDT", "50000000", "funding", ""),
        ));
        let statement = parse(xml.as_bytes()).unwrap_or_else(|error| panic!("{error}"));
        let day = NaiveDate::from_ymd_opt(2026, 12, 3);
        assert_eq!(statement.date, day);
        assert_eq!(statement.lines.len(), 3);
        assert_eq!(
            statement.lines[2].kind,
            LineKind::Credit,
            "the funding credit is not a payout"
        );
        assert_eq!(statement.lines[0].kind, LineKind::Payout);
        assert_eq!(statement.lines[0].reference, "pay_a");
        assert_eq!(statement.lines[0].entry_ref, "FT-pay_a");
        assert_eq!(statement.lines[0].amount, 2_789_000);
        // 17:30 UTC is 00:30 the next day in Vietnam.
        assert_eq!(
            statement.lines[0].booked_on,
            NaiveDate::from_ymd_opt(2026, 12, 4).unwrap_or_default()
        );
        assert_eq!(
            statement.lines[1].kind,
            LineKind::Return {
                reason_code: "AC04".into()
            }
        );
    }

    #[test]
    fn the_reference_is_the_instruction_id_and_else_the_end_to_end_id() {
        // As the gateway's bank adapter sends them: `client_reference` (the payment id) as
        // InstrId, `end_to_end_id` (the upstream order id) as EndToEndId.
        let both = entry("DBIT", "1000", "pay_a", "");
        assert!(both.contains("<InstrId>pay_a</InstrId><EndToEndId>TB-2026-12-000001</EndToEndId>"));
        let only_end_to_end = entry("DBIT", "2000", "pay_b", "").replace("<InstrId>pay_b</InstrId>", "");
        let empty_instruction = entry("DBIT", "3000", "pay_c", "")
            .replace("<InstrId>pay_c</InstrId>", "<InstrId> </InstrId>")
            .replace("TB-2026-12-000001", "TB-2026-12-000003");
        let xml = document(&format!("{both}{only_end_to_end}{empty_instruction}"));
        let statement = parse(xml.as_bytes()).unwrap_or_else(|error| panic!("{error}"));
        let references: Vec<&str> = statement.lines.iter().map(|l| l.reference.as_str()).collect();
        assert_eq!(references, ["pay_a", "TB-2026-12-000001", "TB-2026-12-000003"]);
    }

    #[test]
    fn a_bare_reversal_is_not_a_return() {
        let reversal = entry("CRDT", "1000", "pay_a", "").replace(
            "<CdtDbtInd>CRDT</CdtDbtInd>",
            "<CdtDbtInd>CRDT</CdtDbtInd><RvslInd>true</RvslInd>",
        );
        let returned_and_reversed = entry("CRDT", "1000", "pay_b", "<RtrInf><Rsn><Cd>AC04</Cd></Rsn></RtrInf>")
            .replace(
                "<CdtDbtInd>CRDT</CdtDbtInd>",
                "<CdtDbtInd>CRDT</CdtDbtInd><RvslInd>true</RvslInd>",
            );
        let xml = document(&format!("{reversal}{returned_and_reversed}"));
        let statement = parse(xml.as_bytes()).unwrap_or_else(|error| panic!("{error}"));
        let kinds: Vec<&LineKind> = statement.lines.iter().map(|l| &l.kind).collect();
        assert_eq!(
            kinds,
            [
                &LineKind::Reversal,
                &LineKind::Return {
                    reason_code: "AC04".into()
                }
            ]
        );
    }

    /// A debit with `RvslInd` takes back a credit (a return booked in error): it was read as a
    /// payout, and beside the return of the same payment it made the return look genuine.
    #[test]
    fn a_debit_with_a_reversal_indicator_is_a_reversal_not_a_payout() {
        let taken_back = entry("DBIT", "1000", "pay_a", "").replace(
            "<CdtDbtInd>DBIT</CdtDbtInd>",
            "<CdtDbtInd>DBIT</CdtDbtInd><RvslInd>true</RvslInd>",
        );
        let statement = parse(document(&taken_back).as_bytes()).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(statement.lines.len(), 1);
        assert_eq!(statement.lines[0].kind, LineKind::Reversal);
    }

    /// A bank may book a return as a plain credit (`BkTxCd` RRTN, no `RtrInf`): it was left out
    /// as funding, and the money back in the account went unnoticed.
    #[test]
    fn a_credit_without_return_information_is_kept_and_one_without_a_reference_left_out() {
        let plain_credit = entry("CRDT", "1000", "pay_a", "");
        let no_reference = entry("CRDT", "50000000", "x", "")
            .replace("<InstrId>x</InstrId>", "")
            .replace("<EndToEndId>TB-2026-12-000001</EndToEndId>", "");
        let xml = document(&format!("{plain_credit}{no_reference}"));
        let statement = parse(xml.as_bytes()).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(statement.lines.len(), 1, "{statement:?}");
        assert_eq!(statement.lines[0].kind, LineKind::Credit);
        assert_eq!(statement.lines[0].reference, "pay_a");
    }

    /// The end-to-end id beside an instruction id is kept: a bank's return may carry its own id
    /// as `InstrId` while `EndToEndId` still names the order.
    #[test]
    fn the_end_to_end_id_beside_an_instruction_id_is_kept_as_the_other_reference() {
        let statement =
            parse(document(&entry("DBIT", "1000", "RTN-77", "")).as_bytes()).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(statement.lines[0].reference, "RTN-77");
        assert_eq!(statement.lines[0].other_reference.as_deref(), Some("TB-2026-12-000001"));
    }

    fn batch_entry(transactions: &[(&str, Option<&str>)]) -> String {
        let details: String = transactions
            .iter()
            .map(|(reference, own)| {
                let own = own.map(|r| format!("<AcctSvcrRef>{r}</AcctSvcrRef>")).unwrap_or_default();
                format!(
                    r#"<TxDtls><Refs>{own}<InstrId>{reference}</InstrId></Refs><Amt Ccy="VND">1000</Amt><RtrInf><Rsn><Cd>AC04</Cd></Rsn></RtrInf></TxDtls>"#
                )
            })
            .collect();
        format!(
            r#"<Ntry><Amt Ccy="VND">{}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
<BookgDt><Dt>2026-12-03</Dt></BookgDt><AcctSvcrRef>FT-BATCH</AcctSvcrRef><NtryDtls>{details}</NtryDtls></Ntry>"#,
            1000 * transactions.len()
        )
    }

    /// A batch entry that booked 9,000 đồng and lists two transactions of 1,000: both lines
    /// matched and the books balanced, though the account was debited 7,000 more than listed.
    #[test]
    fn a_batch_entry_whose_transactions_do_not_add_up_to_it_is_refused() {
        let xml = batch_entry(&[("pay_a", Some("TX-1")), ("pay_b", Some("TX-2"))]);
        assert!(parse(document(&xml).as_bytes()).is_ok(), "2,000 in two of 1,000");
        let off = xml.replacen(r#"<Amt Ccy="VND">2000</Amt>"#, r#"<Amt Ccy="VND">9000</Amt>"#, 1);
        match parse(document(&off).as_bytes()) {
            Err(StatementError::Entry { problem, .. }) => {
                assert!(
                    problem.contains("add up to 2000 đồng, not the entry's amount 9000"),
                    "{problem}"
                )
            }
            other => panic!("refused, not {other:?}"),
        }
    }

    /// Two returns in one batch entry under one reference (a bank copying the entry's reference
    /// into each transaction): a return is remembered by its line's reference, so the second
    /// was taken as already applied and upstream never heard of it.
    #[test]
    fn the_lines_of_a_batch_entry_get_references_of_their_own() {
        let refs = |xml: String| -> Vec<String> {
            parse(document(&xml).as_bytes())
                .unwrap_or_else(|error| panic!("{error}"))
                .lines
                .into_iter()
                .map(|line| line.entry_ref)
                .collect()
        };
        let shared = batch_entry(&[("pay_a", Some("FT-BATCH")), ("pay_b", Some("FT-BATCH"))]);
        assert_eq!(refs(shared), ["FT-BATCH/1", "FT-BATCH/2"]);
        let without = batch_entry(&[("pay_a", None), ("pay_b", None)]);
        assert_eq!(refs(without), ["FT-BATCH/1", "FT-BATCH/2"]);
        let own = batch_entry(&[("pay_a", Some("TX-1")), ("pay_b", Some("TX-2"))]);
        assert_eq!(refs(own), ["TX-1", "TX-2"]);
    }

    /// Only the first `FrDtTm` was read: a statement from Friday to Sunday was Friday's, and a
    /// payment sent on Saturday that the provider never booked was never missed. A statement
    /// of several days says so, and is reconciled a day at a time (`--date`).
    #[test]
    fn a_statement_of_several_days_says_so_and_one_ending_at_midnight_is_one_day() {
        let on = |day: u32| NaiveDate::from_ymd_opt(2026, 12, day).unwrap_or_default();
        let over_a_weekend = document("").replace(
            "<ToDtTm>2026-12-03T23:59:59+07:00</ToDtTm>",
            "<ToDtTm>2026-12-05T23:59:59+07:00</ToDtTm>",
        );
        let statement = parse(over_a_weekend.as_bytes()).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!((statement.date, statement.several_days), (None, Some((on(3), on(5)))));
        assert_eq!(statement.day(), None, "no one day of its own");
        for midnight in ["2026-12-04T00:00:00+07:00", "2026-12-03T24:00:00+07:00"] {
            let to_midnight = document("").replace(
                "<ToDtTm>2026-12-03T23:59:59+07:00</ToDtTm>",
                &format!("<ToDtTm>{midnight}</ToDtTm>"),
            );
            let statement = parse(to_midnight.as_bytes()).unwrap_or_else(|error| panic!("{midnight}: {error}"));
            assert_eq!(
                (statement.date, statement.several_days),
                (Some(on(3)), None),
                "{midnight}"
            );
        }
        let two_days = document("").replace(
            "</Stmt>",
            "</Stmt><Stmt><Id>S2</Id><FrToDt><FrDtTm>2026-12-04T00:00:00+07:00</FrDtTm></FrToDt></Stmt>",
        );
        let statement = parse(two_days.as_bytes()).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(statement.several_days, Some((on(3), on(4))));
    }

    /// Two statements in one file whose periods overlap repeat their common lines: a repeated
    /// payout was "paid twice" for good, a repeated return counted twice. Within one `Stmt` a
    /// repeated line stays: a provider booking one payout twice is for a person to see.
    #[test]
    fn a_line_an_earlier_statement_of_the_file_booked_is_read_once() {
        let payout = entry("DBIT", "1000", "pay_a", "");
        let second = format!("<Stmt><Id>S2</Id>{payout}</Stmt>");
        let overlapping = document(&payout).replace("</BkToCstmrStmt>", &format!("{second}</BkToCstmrStmt>"));
        let statement = parse(overlapping.as_bytes()).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(statement.lines.len(), 1, "{statement:?}");
        let within_one = document(&format!("{payout}{payout}"));
        let statement = parse(within_one.as_bytes()).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(statement.lines.len(), 2);
    }

    #[test]
    fn entries_that_are_not_booked_are_left_out() {
        let pending = entry("DBIT", "1000", "pay_b", "").replace("BOOK", "PDNG");
        let statement = parse(document(&pending).as_bytes()).unwrap_or_else(|error| panic!("{error}"));
        assert!(statement.lines.is_empty());
    }

    #[test]
    fn bad_statements_are_refused_with_the_place_and_the_problem() {
        let cases = [
            ("not xml <".to_string(), "not well-formed XML"),
            (
                document("").replace(NAMESPACE, "urn:iso:std:iso:20022:tech:xsd:camt.052.001.08"),
                "not a camt.053.001.08",
            ),
            (
                document(&entry("DBIT", "12.5", "pay_c", "")),
                "entry 1: amount `12.5` has a fraction",
            ),
            (
                document(&entry("DBIT", "1000", "pay_c", "").replace("VND", "USD")),
                "entry 1: amount in USD",
            ),
            (
                document(&entry("DBIT", "1000", "pay_c", "").replace("<AcctSvcrRef>FT-pay_c</AcctSvcrRef>", "")),
                "entry 1: no account servicer reference",
            ),
        ];
        for (xml, expected) in cases {
            let error = parse(xml.as_bytes()).expect_err(expected).to_string();
            assert!(error.contains(expected), "{error} should say {expected}");
        }
        assert_eq!(parse(&[0xff, 0xfe]), Err(StatementError::NotUtf8));
    }
}
