//! Unit tests of manifest parsing and of the control-total check.

use serde_json::{json, Value};

use super::*;

fn manifest() -> Value {
    json!({
        "kind": "batch_manifest",
        "batch_id": "TB-2026-12-12454",
        "program": "meritorious",
        "period": "2026-12",
        "commune_code": "12454",
        "order_count": 3,
        "total_amount": "6000000",
        "deadline": "2026-12-10T17:00:00+07:00",
        "created_at": "2026-11-28T08:00:00+07:00",
        "orders": [
            { "order_id": "TB-1", "amount": "1000000" },
            { "order_id": "TB-2", "amount": 2000000 },
            { "order_id": "TB-3", "amount": "3000000" }
        ]
    })
}

fn parse(value: &Value) -> Result<BatchManifest, &'static str> {
    parse_manifest(value.to_string().as_bytes()).map_err(|invalid| invalid.code)
}

#[test]
fn a_valid_manifest_parses_with_its_lines() {
    let parsed = parse(&manifest()).expect("valid");
    assert_eq!(parsed.batch_id.as_str(), "TB-2026-12-12454");
    assert_eq!(parsed.order_count, 3);
    assert_eq!(parsed.total_amount.dong(), 6_000_000);
    let lines = parsed.lines.expect("lines");
    assert_eq!(lines[1].order_id.as_str(), "TB-2");
    assert_eq!(lines[1].amount.dong(), 2_000_000);
    assert!(parsed.deadline.is_some());
}

#[test]
fn a_manifest_without_lines_declares_totals_only() {
    let mut value = manifest();
    value.as_object_mut().map(|map| map.remove("orders"));
    assert_eq!(parse(&value).map(|m| m.lines.is_none()), Ok(true));
}

#[test]
fn invalid_manifests_are_refused_with_stable_codes() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("total fractional", json!("6000000.5"), "amount_fractional"),
        ("total zero", json!(0), "amount_not_positive"),
        ("total not digits", json!("6 triệu"), "invalid_amount"),
    ];
    for (what, total, code) in cases {
        let mut value = manifest();
        value["total_amount"] = total;
        assert_eq!(parse(&value).err(), Some(code), "{what}");
    }
    let edits: Vec<(&str, &str, Value, &str)> = vec![
        ("batch id", "batch_id", json!("TB 2026"), "invalid_batch_id"),
        ("program", "program", json!("pension"), "unknown_program"),
        ("period", "period", json!("2026-13"), "invalid_period"),
        ("commune", "commune_code", json!("1245"), "invalid_commune_code"),
        ("count zero", "order_count", json!(0), "invalid_order_count"),
        // An integer out of range is out of range, whatever its sign or size.
        ("count negative", "order_count", json!(-1), "invalid_order_count"),
        (
            "count past 64 bits",
            "order_count",
            json!(100_000_000_000_000_000_000_f64),
            "invalid_order_count",
        ),
        ("count fractional", "order_count", json!(2.5), "wrong_type"),
        ("count as string", "order_count", json!("3"), "wrong_type"),
        ("count off", "order_count", json!(4), "manifest_count_mismatch"),
        ("total off", "total_amount", json!(6_000_001), "manifest_total_mismatch"),
        ("deadline", "deadline", json!("tomorrow"), "invalid_deadline"),
        ("created_at", "created_at", json!("today"), "invalid_created_at"),
        ("unknown field", "channel", json!("bank_transfer"), "unknown_field"),
        ("orders not a list", "orders", json!({}), "wrong_type"),
    ];
    for (what, field, replacement, code) in edits {
        let mut value = manifest();
        value[field] = replacement;
        assert_eq!(parse(&value).err(), Some(code), "{what}");
    }
    let mut twice = manifest();
    twice["orders"][2]["order_id"] = json!("TB-1");
    assert_eq!(parse(&twice).err(), Some("duplicate_manifest_line"));
    let mut bad_line = manifest();
    bad_line["orders"][0]["amount"] = json!("1000000.00");
    assert_eq!(parse(&bad_line).err(), Some("amount_fractional"));
    let mut extra_line_field = manifest();
    extra_line_field["orders"][0]["memo"] = json!("x");
    assert_eq!(parse(&extra_line_field).err(), Some("unknown_field"));
    let mut missing = manifest();
    missing.as_object_mut().map(|map| map.remove("period"));
    assert_eq!(parse(&missing).err(), Some("missing_field"));
    let duplicated = br#"{"kind":"batch_manifest","batch_id":"A","batch_id":"B"}"#;
    assert_eq!(
        parse_manifest(duplicated).err().map(|i| i.code),
        Some("duplicate_field")
    );
    let too_many: Vec<Value> = (0..=MAX_MANIFEST_LINES)
        .map(|n| json!({ "order_id": format!("TB-{n}"), "amount": 1 }))
        .collect();
    let mut large = manifest();
    large["orders"] = Value::Array(too_many);
    assert_eq!(parse(&large).err(), Some("too_many_manifest_lines"));
    let huge = vec![b' '; MAX_MANIFEST_BYTES + 1];
    assert_eq!(parse_manifest(&huge).err().map(|i| i.code), Some("manifest_too_large"));
}

#[test]
fn only_an_object_whose_kind_is_batch_manifest_is_taken_for_a_manifest() {
    assert!(is_manifest(manifest().to_string().as_bytes()));
    assert!(!is_manifest(br#"{"order_id":"batch_manifest"}"#));
    assert!(!is_manifest(br#"{"kind":"order","memo":"batch_manifest"}"#));
    assert!(!is_manifest(br#"["batch_manifest"]"#));
    assert!(!is_manifest(b"batch_manifest"));
}

#[test]
fn a_manifest_that_is_not_valid_json_as_a_whole_is_still_taken_for_a_manifest_and_refused_as_one() {
    let body = manifest().to_string();
    let twice = body.replacen('{', r#"{"kind": "batch_manifest","#, 1);
    let other_key_twice = body.replacen('{', r#"{"batch_id":"TB-0","#, 1);
    let trailing = format!("{body} x");
    let broken = r#"{ "kind" : "batch_manifest", "batch_id": "TB-1", "#.to_string();
    for (what, raw, code) in [
        ("kind twice", &twice, "duplicate_field"),
        ("another key twice", &other_key_twice, "duplicate_field"),
        ("bytes after the object", &trailing, "malformed_json"),
        ("cut short", &broken, "malformed_json"),
    ] {
        assert!(is_manifest(raw.as_bytes()), "{what}");
        assert_eq!(
            parse_manifest(raw.as_bytes()).err().map(|i| i.code),
            Some(code),
            "{what}"
        );
    }
    // An order that only mentions a manifest, valid JSON or not, stays an order.
    assert!(!is_manifest(br#"{"memo":"kind: batch_manifest"} x"#));
    assert!(!is_manifest(br#"{"memo":"\"kind\": \"batch_manifest\""} x"#));
    assert!(!is_manifest(
        br#"{"kind":"order","kind":"order","memo":"batch_manifest"}"#
    ));
    assert!(
        !is_manifest(br#"{"destination":{"kind":"batch_manifest"}}"#),
        "not at the top level"
    );
}

#[test]
fn the_fingerprint_ignores_line_order_and_created_at_but_not_amounts() {
    let first = parse(&manifest()).expect("valid").fingerprint();
    let mut reordered = manifest();
    let lines = reordered["orders"].as_array().cloned().unwrap_or_default();
    reordered["orders"] = Value::Array(lines.into_iter().rev().collect());
    reordered["created_at"] = json!("2026-11-29T08:00:00+07:00");
    assert_eq!(parse(&reordered).expect("valid").fingerprint(), first);
    let mut altered = manifest();
    altered["orders"][0]["amount"] = json!(1_500_000);
    altered["orders"][1]["amount"] = json!(1_500_000);
    assert_ne!(parse(&altered).expect("valid").fingerprint(), first);
}

fn declared_lines() -> Declared {
    Declared {
        order_count: 3,
        total_amount: 6_000_000,
        lines: Some(vec![
            ("TB-1".into(), 1_000_000),
            ("TB-2".into(), 2_000_000),
            ("TB-3".into(), 3_000_000),
        ]),
    }
}

fn order(order_id: &str, amount: u64, outcome: Outcome) -> ReceivedOrder {
    ReceivedOrder {
        order_id: order_id.into(),
        amount,
        outcome,
    }
}

#[test]
fn one_missing_order_and_one_altered_amount_are_exactly_two_differences() {
    let received = [
        order("TB-1", 1_000_000, Outcome::Succeeded),
        order("TB-2", 2_500_000, Outcome::Succeeded),
    ];
    let open = check(&declared_lines(), &received, false);
    assert!(!open.complete);
    assert_eq!(
        open.differences.iter().map(|d| d.kind).collect::<Vec<_>>(),
        [DifferenceKind::AmountMismatch],
        "while open, the missing order is only awaited"
    );
    let closed = check(&declared_lines(), &received, true);
    assert_eq!(
        closed.differences,
        vec![
            Difference {
                kind: DifferenceKind::MissingOrder,
                order_id: Some("TB-3".into()),
                declared: Some(3_000_000),
                actual: None,
            },
            Difference {
                kind: DifferenceKind::AmountMismatch,
                order_id: Some("TB-2".into()),
                declared: Some(2_000_000),
                actual: Some(2_500_000),
            },
        ]
    );
    assert_eq!(closed.closing_status(), BatchStatus::Unbalanced);
    assert_eq!(
        closed.received,
        Tally {
            orders: 2,
            amount: 3_500_000
        }
    );
    assert_eq!(closed.final_orders, 2);
}

#[test]
fn a_clean_batch_is_complete_and_balanced_only_when_every_order_is_final() {
    let mut received = vec![
        order("TB-1", 1_000_000, Outcome::Succeeded),
        order("TB-2", 2_000_000, Outcome::Failed),
        order("TB-3", 3_000_000, Outcome::InProgress),
    ];
    let waiting = check(&declared_lines(), &received, false);
    assert!(!waiting.complete);
    assert!(waiting.differences.is_empty());
    assert_eq!(waiting.closing_status(), BatchStatus::Expired);
    received[2].outcome = Outcome::Succeeded;
    let done = check(&declared_lines(), &received, false);
    assert!(done.complete);
    assert_eq!(done.closing_status(), BatchStatus::Balanced);
    assert_eq!(
        done.succeeded,
        Tally {
            orders: 2,
            amount: 4_000_000
        }
    );
    assert_eq!(
        done.failed,
        Tally {
            orders: 1,
            amount: 2_000_000
        }
    );
}

#[test]
fn extra_and_invalid_orders_are_named() {
    let received = [
        order("TB-1", 1_000_000, Outcome::Succeeded),
        order("TB-2", 2_000_000, Outcome::Invalid),
        order("TB-3", 3_000_000, Outcome::Succeeded),
        order("TB-9", 500_000, Outcome::InProgress),
    ];
    let result = check(&declared_lines(), &received, false);
    let found: Vec<(DifferenceKind, Option<&str>)> = result
        .differences
        .iter()
        .map(|d| (d.kind, d.order_id.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            (DifferenceKind::ExtraOrder, Some("TB-9")),
            (DifferenceKind::InvalidOrder, Some("TB-2")),
        ]
    );
    assert!(result.complete, "an extra order does not hold the batch open");
    assert_eq!(
        result.invalid,
        Tally {
            orders: 1,
            amount: 2_000_000
        }
    );
}

#[test]
fn extra_orders_beyond_the_named_ones_are_counted_in_one_difference() {
    let mut received = vec![
        order("TB-1", 1_000_000, Outcome::Succeeded),
        order("TB-2", 2_000_000, Outcome::Succeeded),
        order("TB-3", 3_000_000, Outcome::Succeeded),
    ];
    received.extend((0..MAX_NAMED_EXTRA_ORDERS + 50).map(|n| order(&format!("X-{n:04}"), 10, Outcome::Succeeded)));
    let result = check(&declared_lines(), &received, true);
    let named: Vec<&Difference> = result
        .differences
        .iter()
        .filter(|d| d.kind == DifferenceKind::ExtraOrder)
        .collect();
    assert_eq!(named.len(), MAX_NAMED_EXTRA_ORDERS);
    assert_eq!(named[0].order_id.as_deref(), Some("X-0000"), "the first by order id");
    assert_eq!(
        result.differences.last(),
        Some(&Difference {
            kind: DifferenceKind::ExtraOrders,
            order_id: None,
            declared: None,
            actual: Some(50),
        })
    );
    assert_eq!(result.differences.len(), MAX_NAMED_EXTRA_ORDERS + 1);
    assert_eq!(result.received.orders, 3 + MAX_NAMED_EXTRA_ORDERS as u64 + 50);
    assert_eq!(result.closing_status(), BatchStatus::Unbalanced);
}

#[test]
fn the_check_of_tallies_equals_the_check_of_the_listed_orders() {
    let received = [
        order("TB-1", 1_000_000, Outcome::Succeeded),
        order("TB-2", 2_500_000, Outcome::InProgress),
        order("TB-9", 7, Outcome::Rejected),
    ];
    for declared in [
        declared_lines(),
        Declared {
            lines: None,
            ..declared_lines()
        },
    ] {
        let found = facts(&declared, &received);
        assert_eq!(
            found.succeeded,
            Tally {
                orders: 1,
                amount: 1_000_000
            }
        );
        assert_eq!(found.in_progress.orders, 1);
        for closing in [false, true] {
            assert_eq!(assess(&found, closing), check(&declared, &received, closing));
        }
    }
    // While open, the missing orders need not be named: only their number counts.
    let mut unnamed = facts(&declared_lines(), &received);
    if let Some(lines) = unnamed.lines.as_mut() {
        assert_eq!(lines.missing_orders(), 1);
        lines.missing.clear();
    }
    assert_eq!(assess(&unnamed, false), check(&declared_lines(), &received, false));
}

#[test]
fn without_lines_counts_and_totals_are_compared() {
    let declared = Declared {
        lines: None,
        ..declared_lines()
    };
    let two = [
        order("A", 1_000_000, Outcome::Succeeded),
        order("B", 2_000_000, Outcome::Succeeded),
    ];
    assert!(check(&declared, &two, false).differences.is_empty());
    let kinds: Vec<DifferenceKind> = check(&declared, &two, true)
        .differences
        .iter()
        .map(|d| d.kind)
        .collect();
    assert_eq!(kinds, [DifferenceKind::MissingOrders, DifferenceKind::TotalMismatch]);
    let four = [
        order("A", 1_000_000, Outcome::Succeeded),
        order("B", 2_000_000, Outcome::Succeeded),
        order("C", 3_000_000, Outcome::Succeeded),
        order("D", 1, Outcome::Succeeded),
    ];
    let result = check(&declared, &four, false);
    assert!(result.complete);
    assert_eq!(
        result.final_orders, declared.order_count,
        "no more final than declared; the fourth is extra"
    );
    let kinds: Vec<DifferenceKind> = result.differences.iter().map(|d| d.kind).collect();
    assert_eq!(kinds, [DifferenceKind::ExtraOrders, DifferenceKind::TotalMismatch]);
    assert_eq!(result.differences[0].actual, Some(4));
    // One refused as invalid and another paid more: the count and the total add up, and the
    // batch closed balanced with an order unpaid.
    let inflated = [
        order("A", 1_000_000, Outcome::Succeeded),
        order("B", 5_000_000, Outcome::Succeeded),
        order("C", 0, Outcome::Invalid),
    ];
    let result = check(&declared, &inflated, true);
    let kinds: Vec<DifferenceKind> = result.differences.iter().map(|d| d.kind).collect();
    assert_eq!(kinds, [DifferenceKind::InvalidOrders]);
    assert_eq!(result.differences[0].actual, Some(1));
}

#[test]
fn the_batch_result_names_its_routing_key_and_the_view_lists_each_difference() {
    let received = [order("TB-1", 1_000_000, Outcome::Succeeded)];
    let closed = check(&declared_lines(), &received, true);
    let header = BatchHeader {
        batch_id: "TB-2026-12-12454",
        program: "meritorious",
        period: "2026-12",
        commune_code: "12454",
    };
    let result = BatchResult::new(&header, &closed, ClosedBy::Deadline, 0);
    assert_eq!(result.routing_key(), "batch.unbalanced");
    let body: Value = serde_json::to_value(&result).unwrap_or_default();
    assert_eq!(body["differences"][0]["kind"], "missing_order");
    assert_eq!(body["declared"]["amount"], 6_000_000);
    assert_eq!(
        describe(&result.differences[0]),
        "missing_order    TB-2                     declared      2.000.000 ₫  actual                -"
    );
}

#[test]
fn the_list_has_a_header_one_line_per_batch_and_a_count() {
    let received = [
        order("TB-1", 1_000_000, Outcome::Succeeded),
        order("TB-2", 2_500_000, Outcome::InProgress),
    ];
    let record = crate::store::BatchRecord {
        batch_id: "TB-2026-12-12454".into(),
        program: "meritorious".into(),
        period: "2026-12".into(),
        commune_code: "12454".into(),
        order_count: 3,
        total_amount: 6_000_000,
        has_lines: true,
        deadline_at: Some(0),
        created_at: None,
        received_at: 0,
        status: BatchStatus::Open,
        differences: 1,
        closed_at: None,
        result: None,
    };
    let view = BatchView {
        record,
        check: check(&declared_lines(), &received, false),
        deadline_ms: 0,
        closed_by: None,
    };
    let listing = render_list(std::slice::from_ref(&view));
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 3, "{listing}");
    assert!(lines[0].starts_with("BATCH"));
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "TB-2026-12-12454",
            "open",
            "1/3",
            "2",
            "6.000.000",
            "3.500.000",
            "1",
            "1970-01-01T00:00:00.000Z"
        ]
    );
    assert_eq!(lines[2], "1 batch");
    let shown = render_show(&view);
    assert!(shown.contains("1 of 3 declared orders final, 2 received"), "{shown}");
    assert!(shown.contains("amount_mismatch  TB-2"), "{shown}");
}
