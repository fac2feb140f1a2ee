//! Every class of invalid order gets a `rejected` result with its reason code and a dead
//! letter `invalid`, and the gateway keeps consuming afterwards.

use std::collections::HashMap;

use gateway::payment::ResultStatus;
use serde_json::{json, Value};

use crate::support::{bank_order, Db, TestStack, HOLDER};

crate::on_both_databases!(
    every_invalid_order_class_is_rejected_and_dead_lettered,
    a_corrected_order_supersedes_its_rejection_with_later_seqs,
    an_order_id_too_long_is_rejected_under_an_id_no_valid_order_can_have,
);

async fn a_corrected_order_supersedes_its_rejection_with_later_seqs(db: Db) {
    let mut stack = TestStack::start(db).await;
    let order = bank_order(500_000);
    let order_id = order["order_id"].as_str().unwrap().to_string();
    let mut broken = order.clone();
    broken["amount"] = json!("500000.5");
    stack.publish(&broken).await;
    let rejected = stack.final_result(&order_id).await;
    assert_eq!((rejected.status, rejected.seq), (ResultStatus::Rejected, 1));
    // `gateway orders show` said "No order … in the store" (exit 2) of an order refused as
    // invalid, though the store remembers the refusal.
    let shown = crate::support::gateway_command(
        &["orders", "show", &order_id],
        secrecy::ExposeSecret::expose_secret(&stack.settings.database.url),
    )
    .await;
    let stdout = String::from_utf8_lossy(&shown.stdout);
    assert_eq!(
        shown.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    assert!(stdout.contains("refused as invalid on arrival"), "{stdout}");

    stack.open_bank_account(&order, HOLDER);
    stack.publish(&order).await;
    let paid = stack
        .wait_for(
            &order_id,
            |m| m.status == ResultStatus::Succeeded,
            std::time::Duration::from_secs(30),
        )
        .await;
    let accepted = stack.seen[&order_id]
        .iter()
        .find(|m| m.status == ResultStatus::Accepted)
        .cloned()
        .unwrap();
    assert_eq!(
        accepted.seq, 2,
        "the corrected order's results continue after the rejection"
    );
    assert!(paid.seq > accepted.seq);
    assert_eq!(stack.credits(&order_id), 1);

    // A broken copy of an order that is already claimed is dead-lettered, not answered.
    stack.publish(&broken).await;
    let dead = stack.next_dead_letter().await;
    let dead = if dead.body == serde_json::to_vec(&broken).unwrap() {
        dead
    } else {
        stack.next_dead_letter().await
    };
    assert_eq!(
        dead.headers.get("x-gateway-reason").map(String::as_str),
        Some("invalid")
    );
    stack.drain_results(std::time::Duration::from_secs(1)).await;
    let rejections = stack.seen[&order_id]
        .iter()
        .filter(|m| m.status == ResultStatus::Rejected)
        .count();
    assert_eq!(rejections, 1, "no second rejected result for a claimed order");
    stack.stop().await;
}

/// An order id one character too long is rejected under its first characters and a hash
/// (`~` is not a character of valid ids), not under its first 64 characters: cut to those,
/// it named another order, which then got the rejection as its first result and had to
/// continue after it.
async fn an_order_id_too_long_is_rejected_under_an_id_no_valid_order_can_have(db: Db) {
    let mut stack = TestStack::start(db).await;
    let order = bank_order(500_000);
    let short_id = order["order_id"].as_str().unwrap().to_string();
    let valid_id = format!("{short_id}{}", "A".repeat(64 - short_id.len()));
    let mut order = order;
    order["order_id"] = json!(valid_id);
    let mut too_long = order.clone();
    too_long["order_id"] = json!(format!("{valid_id}Z"));
    stack.publish(&too_long).await;
    let dead = stack.next_dead_letter().await;
    assert_eq!(
        dead.headers.get("x-gateway-reason").map(String::as_str),
        Some("invalid")
    );
    stack.drain_results(std::time::Duration::from_secs(1)).await;
    assert!(
        !stack.seen.contains_key(&valid_id),
        "the rejection names another order: {:?}",
        stack.seen.get(&valid_id)
    );
    let rejected_under: Vec<&String> = stack
        .seen
        .iter()
        .filter(|(_, results)| results.iter().any(|m| m.status == ResultStatus::Rejected))
        .map(|(id, _)| id)
        .collect();
    assert!(
        rejected_under
            .iter()
            .any(|id| id.chars().count() <= 64 && id.starts_with(&valid_id[..40]) && id.contains('~')),
        "rejected under {rejected_under:?}"
    );

    stack.open_bank_account(&order, HOLDER);
    stack.publish(&order).await;
    let paid = stack.final_result(&valid_id).await;
    assert_eq!(paid.status, ResultStatus::Succeeded);
    let first = &stack.seen[&valid_id][0];
    assert_eq!(
        (first.status, first.seq),
        (ResultStatus::Accepted, 1),
        "the valid order's results start at 1"
    );
    stack.stop().await;
}

/// (expected reason code, the bad message body)
fn invalid_orders() -> Vec<(&'static str, Vec<u8>)> {
    let with = |change: &dyn Fn(&mut Value)| {
        let mut order = bank_order(500_000);
        change(&mut order);
        serde_json::to_vec(&order).unwrap()
    };
    vec![
        ("malformed_json", b"{\"order_id\": \"TB-1\", \"amount\": ".to_vec()),
        (
            "missing_field",
            with(&|o| {
                o.as_object_mut().unwrap().remove("period");
            }),
        ),
        ("unknown_field", with(&|o| o["priority"] = json!("high"))),
        ("wrong_type", with(&|o| o["program"] = json!(7))),
        ("amount_not_positive", with(&|o| o["amount"] = json!("0"))),
        ("amount_not_positive", with(&|o| o["amount"] = json!(-500000))),
        ("amount_fractional", with(&|o| o["amount"] = json!("500000.5"))),
        ("amount_fractional", with(&|o| o["amount"] = json!(500000.0))),
        (
            "amount_too_large",
            with(&|o| o["amount"] = json!("99999999999999999999999")),
        ),
        ("amount_over_limit", with(&|o| o["amount"] = json!("500000000"))),
        ("unsupported_currency", with(&|o| o["currency"] = json!("USD"))),
        (
            "unknown_bank",
            with(&|o| o["destination"]["bank_bin"] = json!("970499")),
        ),
        (
            "invalid_account_number",
            with(&|o| o["destination"]["account_number"] = json!("12-34")),
        ),
        ("invalid_citizen_id", with(&|o| o["beneficiary"]["id"] = json!("12345"))),
        ("unknown_channel", with(&|o| o["channel"] = json!("cash"))),
        ("unknown_program", with(&|o| o["program"] = json!("pension"))),
        ("invalid_period", with(&|o| o["period"] = json!("2026-13"))),
        (
            "invalid_phone_number",
            with(&|o| {
                o["channel"] = json!("mobile_money");
                o["destination"] = json!({ "wallet_provider": "viettel_money", "phone_number": "0241234567" });
            }),
        ),
        // `order_too_large` has its own test in intake_edges.rs: its body is not read.
    ]
}

async fn every_invalid_order_class_is_rejected_and_dead_lettered(db: Db) {
    let mut stack = TestStack::start(db).await;
    let cases = invalid_orders();
    let mut expected = HashMap::new();
    for (index, (code, body)) in cases.iter().enumerate() {
        let message_id = format!("invalid-{}-{index}", stack.run_id);
        // The rejected result names the order id when the body has one, else the message id.
        let order_id = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["order_id"].as_str().map(str::to_string))
            .unwrap_or_else(|| message_id.clone());
        stack.publish_raw(body, &message_id).await;
        expected.insert(order_id, *code);
    }
    for (order_id, code) in &expected {
        let result = stack.final_result(order_id).await;
        assert_eq!(result.status, ResultStatus::Rejected, "{order_id}");
        assert_eq!(
            result.reason_code.as_deref(),
            Some(*code),
            "{order_id}: {:?}",
            result.reason
        );
        assert!(
            result.reason.as_deref().is_some_and(|r| !r.is_empty()),
            "a sentence explains {code}"
        );
        assert!(result.payment_id.is_none());
    }
    for _ in 0..cases.len() {
        let dead = stack.next_dead_letter().await;
        assert_eq!(
            dead.headers.get("x-gateway-reason").map(String::as_str),
            Some("invalid")
        );
        let detail = dead.headers.get("x-gateway-detail").cloned().unwrap_or_default();
        assert!(
            cases.iter().any(|(code, _)| detail.starts_with(code)),
            "detail names the code: {detail}"
        );
        assert!(
            cases.iter().any(|(_, body)| *body == dead.body),
            "the dead letter keeps the original bytes"
        );
    }

    // The gateway is still consuming: a valid order afterwards is paid.
    let order = bank_order(500_000);
    stack.open_bank_account(&order, HOLDER);
    stack.publish(&order).await;
    let result = stack.final_result(order["order_id"].as_str().unwrap()).await;
    assert_eq!(result.status, ResultStatus::Succeeded);
    stack.stop().await;
}
