//! Reads the CSV statements of VNPost and of the wallet providers, each in its own layout.
//!
//! - VNPost ("file đối soát"): `;`-separated, Vietnamese columns `MA_GIAO_DICH` (its
//!   reference), `MA_YEU_CAU` (the request id the gateway sent: its payment id),
//!   `LOAI_GIAO_DICH` (`CHI_TRA` payout, `HOAN_TRA` return), `SO_TIEN`, `NGAY_GIAO_DICH`
//!   (`dd/MM/yyyy HH:mm:ss`, Vietnam time) and `MA_LY_DO` (return reason).
//! - Wallets (MoMo style): `,`-separated, `transId`, `requestId` (the payment id), `transType`
//!   (`disburse` payout, `refund` return), `amount`, `resultCode` (only `0` lines moved money),
//!   `responseTime` (Unix epoch milliseconds) and `refundReason`.
//!
//! Columns are found by name, so their order and any further columns do not matter.

use chrono::{DateTime, NaiveDateTime, TimeZone};

use super::statement::{
    parse_csv_dong, vietnam, vietnam_date, LineKind, ParsedStatement, StatementError, StatementLine,
};

/// The columns one layout needs, and how to read one record.
struct Layout {
    name: &'static str,
    delimiter: u8,
    columns: &'static [&'static str],
    read: fn(&[&str]) -> Result<Option<StatementLine>, String>,
}

const VNPOST: Layout = Layout {
    name: "VNPost",
    delimiter: b';',
    columns: &[
        "MA_GIAO_DICH",
        "MA_YEU_CAU",
        "LOAI_GIAO_DICH",
        "SO_TIEN",
        "NGAY_GIAO_DICH",
        "MA_LY_DO",
    ],
    read: read_vnpost,
};

const WALLET: Layout = Layout {
    name: "wallet",
    delimiter: b',',
    columns: &[
        "transId",
        "requestId",
        "transType",
        "amount",
        "resultCode",
        "responseTime",
        "refundReason",
    ],
    read: read_wallet,
};

/// Parses a VNPost CSV statement.
pub fn parse_vnpost(bytes: &[u8]) -> Result<ParsedStatement, StatementError> {
    parse(&VNPOST, bytes)
}

/// Parses a wallet provider's CSV statement.
pub fn parse_wallet(bytes: &[u8]) -> Result<ParsedStatement, StatementError> {
    parse(&WALLET, bytes)
}

fn parse(layout: &Layout, bytes: &[u8]) -> Result<ParsedStatement, StatementError> {
    let text = std::str::from_utf8(bytes).map_err(|_| StatementError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(layout.delimiter)
        .flexible(false)
        .from_reader(text.as_bytes());
    let wrong_layout = |problem: String| StatementError::Layout {
        layout: layout.name,
        problem,
    };
    let header = reader
        .headers()
        .map_err(|error| wrong_layout(error.to_string()))?
        .clone();
    let positions = layout
        .columns
        .iter()
        .map(|column| {
            header
                .iter()
                .position(|name| name.trim() == *column)
                .ok_or_else(|| wrong_layout(format!("no column {column} in the header")))
        })
        .collect::<Result<Vec<usize>, _>>()?;
    let mut statement = ParsedStatement::default();
    for record in reader.records() {
        let record = record.map_err(|error| StatementError::Line {
            line: error.position().map_or(0, |at| line_at(text, at.byte())),
            problem: error.to_string(),
        })?;
        // The file's own line where the record starts: blank lines and quoted fields that span
        // lines are counted, so the message points where the operator's editor does.
        let line = record.position().map_or(0, |at| line_at(text, at.byte()));
        if record.iter().all(|field| field.trim().is_empty()) {
            continue;
        }
        let fields: Vec<&str> = positions
            .iter()
            .map(|&at| record.get(at).unwrap_or_default().trim())
            .collect();
        if let Some(parsed) = (layout.read)(&fields).map_err(|problem| StatementError::Line { line, problem })? {
            statement.lines.push(parsed);
        }
    }
    Ok(statement)
}

/// The line (counted from 1) of the first field of a record the `csv` reader says starts at
/// byte `at`: its position may be the start of blank lines it skipped before the record.
pub(crate) fn line_at(text: &str, at: u64) -> usize {
    let at = usize::try_from(at).unwrap_or(usize::MAX).min(text.len());
    let (before, after) = text.as_bytes().split_at(at);
    let newlines_before = before.iter().filter(|&&b| b == b'\n').count();
    let skipped = after
        .iter()
        .take_while(|b| matches!(b, b'\n' | b'\r'))
        .filter(|&&b| b == b'\n')
        .count();
    1 + newlines_before + skipped
}

fn required(value: &str, column: &str) -> Result<String, String> {
    if value.is_empty() {
        Err(format!("{column} is empty"))
    } else {
        Ok(value.to_string())
    }
}

fn read_vnpost(fields: &[&str]) -> Result<Option<StatementLine>, String> {
    let [entry_ref, reference, kind, amount, booked, reason] = fields else {
        return Err("the record does not have the VNPost columns".to_string());
    };
    let kind = match *kind {
        "CHI_TRA" => LineKind::Payout,
        "HOAN_TRA" => LineKind::Return {
            reason_code: required(reason, "MA_LY_DO")?,
        },
        other => return Err(format!("LOAI_GIAO_DICH `{other}` is neither CHI_TRA nor HOAN_TRA")),
    };
    let local = NaiveDateTime::parse_from_str(booked, "%d/%m/%Y %H:%M:%S")
        .map_err(|_| format!("NGAY_GIAO_DICH `{booked}` is not dd/MM/yyyy HH:mm:ss"))?;
    let booked_on = vietnam()
        .from_local_datetime(&local)
        .single()
        .map(|at| at.date_naive())
        .unwrap_or(local.date());
    Ok(Some(StatementLine {
        entry_ref: required(entry_ref, "MA_GIAO_DICH")?,
        booked_as: None,
        reference: reference.to_string(),
        other_reference: None,
        amount: parse_csv_dong(amount)?,
        booked_on,
        kind,
    }))
}

fn read_wallet(fields: &[&str]) -> Result<Option<StatementLine>, String> {
    let [entry_ref, reference, kind, amount, result_code, time, reason] = fields else {
        return Err("the record does not have the wallet columns".to_string());
    };
    // A line whose result code is not 0 moved no money; one without a result code says
    // nothing of whether it did, and is not taken as a refusal.
    if required(result_code, "resultCode")? != "0" {
        return Ok(None);
    }
    let kind = match *kind {
        "disburse" => LineKind::Payout,
        "refund" => LineKind::Return {
            reason_code: required(reason, "refundReason")?,
        },
        other => return Err(format!("transType `{other}` is neither disburse nor refund")),
    };
    let millis: i64 = time
        .parse()
        .map_err(|_| format!("responseTime `{time}` is not epoch milliseconds"))?;
    let at = DateTime::from_timestamp_millis(millis).ok_or_else(|| format!("responseTime `{time}` is out of range"))?;
    Ok(Some(StatementLine {
        entry_ref: required(entry_ref, "transId")?,
        booked_as: None,
        reference: reference.to_string(),
        other_reference: None,
        amount: parse_csv_dong(amount)?,
        booked_on: vietnam_date(at),
        kind,
    }))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap_or_default()
    }

    #[test]
    fn a_vnpost_statement_reads_payouts_and_returns() {
        let text = "STT;MA_GIAO_DICH;MA_YEU_CAU;MA_DON_HANG;LOAI_GIAO_DICH;SO_TIEN;NGAY_GIAO_DICH;MA_LY_DO;GHI_CHU\r\n\
                    1;VNP-1;pay_1;TB-1;CHI_TRA;2789000;03/12/2026 23:30:00;;\r\n\
                    2;RTN-VNP-1;pay_1;TB-1;HOAN_TRA;2789000;05/12/2026 10:00:00;AC04;Hoan tra\r\n";
        let statement = parse_vnpost(text.as_bytes()).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(statement.lines.len(), 2);
        assert_eq!(statement.lines[0].entry_ref, "VNP-1");
        assert_eq!(statement.lines[0].reference, "pay_1");
        assert_eq!(statement.lines[0].booked_on, day(3), "Vietnam time, not UTC");
        assert_eq!(
            statement.lines[1].kind,
            LineKind::Return {
                reason_code: "AC04".into()
            }
        );
        assert_eq!(statement.day(), None, "two days, no date of its own");
    }

    #[test]
    fn a_wallet_statement_reads_money_moving_lines_only() {
        // 2026-12-03 17:30 UTC is 2026-12-04 00:30 in Vietnam.
        let millis = chrono::Utc
            .with_ymd_and_hms(2026, 12, 3, 17, 30, 0)
            .single()
            .map(|at| at.timestamp_millis())
            .unwrap_or_default();
        let text = format!(
            "transId,partnerCode,requestId,orderId,transType,amount,resultCode,responseTime,refundReason,originalTransId\n\
             T1,GW,pay_1,TB-1,disburse,500000,0,{millis},,\n\
             T2,GW,pay_2,TB-2,disburse,500000,1006,{millis},,\n\
             RTN-T1,GW,pay_1,TB-1,refund,500000,0,{millis},AC04,T1\n"
        );
        let statement = parse_wallet(text.as_bytes()).unwrap_or_else(|error| panic!("{error}"));
        let refs: Vec<&str> = statement.lines.iter().map(|l| l.entry_ref.as_str()).collect();
        assert_eq!(refs, ["T1", "RTN-T1"]);
        assert_eq!(statement.day(), Some(day(4)));
    }

    #[test]
    fn the_wrong_layout_or_a_bad_line_is_refused_with_its_place() {
        let wallet =
            "transId,requestId,transType,amount,resultCode,responseTime,refundReason\nT1,pay_1,disburse,5,0,1,\n";
        let error = parse_vnpost(wallet.as_bytes()).expect_err("not VNPost").to_string();
        assert!(error.contains("no column MA_GIAO_DICH"), "{error}");
        let bad = "transId,requestId,transType,amount,resultCode,responseTime,refundReason\n\
                   T1,pay_1,disburse,5,0,1,\nT2,pay_2,payout,5,0,1,\n";
        let error = parse_wallet(bad.as_bytes()).expect_err("bad type").to_string();
        assert!(error.starts_with("line 3: transType `payout`"), "{error}");
        let fraction =
            "transId,requestId,transType,amount,resultCode,responseTime,refundReason\nT1,pay_1,disburse,5.5,0,1,\n";
        assert!(parse_wallet(fraction.as_bytes()).is_err());
    }

    /// The line number counted records, not the file's lines: after a blank line (which the
    /// reader skips) it pointed one line above the bad record.
    #[test]
    fn a_bad_line_is_named_by_its_line_in_the_file_after_blank_lines() {
        let text = "transId,requestId,transType,amount,resultCode,responseTime,refundReason\n\
                    T1,pay_1,disburse,5,0,1,\n\nT2,pay_2,payout,5,0,1,\n";
        let error = parse_wallet(text.as_bytes()).expect_err("bad type").to_string();
        assert!(error.starts_with("line 4: transType `payout`"), "{error}");
    }

    /// A line without a result code was left out as if the wallet had refused it: a payout
    /// that moved money could vanish from the statement without a word.
    #[test]
    fn a_wallet_line_without_a_result_code_is_refused_not_left_out() {
        let text = "transId,requestId,transType,amount,resultCode,responseTime,refundReason\n\
                    T1,pay_1,disburse,500000,,1,\n";
        let error = parse_wallet(text.as_bytes()).expect_err("no result code").to_string();
        assert!(error.contains("line 2: resultCode is empty"), "{error}");
    }

    /// The last instant chrono knows panicked (Vietnam's offset added past it); a statement must
    /// never take the process down.
    #[test]
    fn a_wallet_time_at_the_calendars_end_is_read_without_a_panic() {
        let last = DateTime::<chrono::Utc>::MAX_UTC.timestamp_millis();
        let text = format!(
            "transId,requestId,transType,amount,resultCode,responseTime,refundReason\nT1,pay_1,disburse,500000,0,{last},\n"
        );
        let statement = parse_wallet(text.as_bytes());
        assert!(statement.is_ok(), "{statement:?}");
    }
}
