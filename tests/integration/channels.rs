//! The VNPost-account and mobile-money channels end to end: one credit per order, the
//! wallet's duplicate-in-flight answer, the monthly wallet limit, forged VNPost callbacks,
//! and timeouts after booking resolved by inquiry on every channel.

use std::time::Duration;

use gateway::payment::{PaymentState, ResultStatus};
use sandbox_kit::Faults;
use serde_json::{json, Value};

use crate::support::{bank_order, vnpost_order, wallet_order, Db, TestStack, HOLDER};

crate::on_both_databases!(
    every_channel_pays_one_credit_per_order,
    a_duplicate_in_flight_answer_then_success_pays_once,
    a_wallet_over_its_monthly_limit_fails_before_anything_is_sent,
    a_forged_vnpost_callback_is_rejected_without_a_state_change,
    a_genuine_vnpost_callback_is_acknowledged_in_vnposts_own_words,
    every_channel_resolves_a_timeout_after_booking_by_inquiry,
);

const WALLETS: [&str; 3] = ["viettel_money", "vnpt_money", "mobifone_money"];

fn order_id(order: &Value) -> String {
    order["order_id"].as_str().unwrap().to_string()
}

async fn every_channel_pays_one_credit_per_order(db: Db) {
    let mut stack = TestStack::start(db).await;
    let mut orders = vec![vnpost_order(2_789_000)];
    orders.extend(WALLETS.iter().map(|provider| wallet_order(provider, 500_000)));
    for order in &orders {
        stack.open_account(order, HOLDER);
        stack.publish(order).await;
    }
    for order in &orders {
        let result = stack.final_result(&order_id(order)).await;
        assert_eq!(
            result.status,
            ResultStatus::Succeeded,
            "{}: {:?}",
            order["channel"],
            result.reason
        );
        assert_eq!(result.channel.as_deref(), order["channel"].as_str());
        assert_eq!(stack.credits(&order_id(order)), 1, "{} credited once", order["channel"]);
    }
    stack.stop().await;
}

async fn a_duplicate_in_flight_answer_then_success_pays_once(db: Db) {
    let mut stack = TestStack::start(db).await;
    stack.set_faults(
        "viettel_money",
        Faults {
            duplicate_in_flight_next: 1,
            ..Faults::default()
        },
    );
    let order = wallet_order("viettel_money", 750_000);
    stack.open_account(&order, HOLDER);
    stack.publish(&order).await;
    let result = stack.final_result(&order_id(&order)).await;
    assert_eq!(result.status, ResultStatus::Succeeded, "{:?}", result.reason);
    assert_eq!(
        result.attempts, 2,
        "the 7000 answer was inquired, then sent again with the same request id"
    );
    assert_eq!(stack.credits(&order_id(&order)), 1);
    stack.stop().await;
}

async fn a_wallet_over_its_monthly_limit_fails_before_anything_is_sent(db: Db) {
    let mut stack = TestStack::start(db).await;
    // One order above the whole month's limit, to a wallet the provider does not even know:
    // had anything reached the provider, the account inquiry would have said so.
    let too_much = wallet_order("vnpt_money", 10_500_000);
    stack.publish(&too_much).await;
    let result = stack.final_result(&order_id(&too_much)).await;
    assert_eq!(result.status, ResultStatus::Failed);
    assert_eq!(
        result.reason_code.as_deref(),
        Some("wallet_monthly_limit"),
        "{:?}",
        result.reason
    );
    assert_eq!(stack.credits(&order_id(&too_much)), 0);

    // Two orders to one wallet: the second would take the month over 10,000,000.
    let first = wallet_order("mobifone_money", 8_000_000);
    let mut second = first.clone();
    second["order_id"] = json!(format!("{}-arrears", order_id(&first)));
    second["payment_type"] = json!("arrears");
    second["amount"] = json!("3000000");
    stack.open_account(&first, HOLDER);
    stack.publish(&first).await;
    assert_eq!(
        stack.final_result(&order_id(&first)).await.status,
        ResultStatus::Succeeded
    );
    stack.publish(&second).await;
    let result = stack.final_result(&order_id(&second)).await;
    assert_eq!(result.reason_code.as_deref(), Some("wallet_monthly_limit"));
    assert_eq!(stack.credits(&order_id(&second)), 0);

    // The same wallet by another road: a bank transfer to Viettel Money's NAPAS BIN, to the
    // wallet's phone number, went past the month's cap unchecked.
    let wallet = wallet_order("viettel_money", 8_000_000);
    stack.open_account(&wallet, HOLDER);
    stack.publish(&wallet).await;
    assert_eq!(
        stack.final_result(&order_id(&wallet)).await.status,
        ResultStatus::Succeeded
    );
    let phone = wallet["destination"]["phone_number"]
        .as_str()
        .unwrap()
        .replace("+84", "0");
    let mut by_bank = bank_order(3_000_000);
    by_bank["destination"] = json!({ "bank_bin": "971005", "account_number": phone });
    stack.publish(&by_bank).await;
    let result = stack.final_result(&order_id(&by_bank)).await;
    assert_eq!(
        result.reason_code.as_deref(),
        Some("wallet_monthly_limit"),
        "{:?}",
        result.reason
    );
    assert_eq!(stack.credits(&order_id(&by_bank)), 0);
    stack.stop().await;
}

/// A VNPost payment left pending (the sandbox holds its transfer): its payment id and order id.
async fn pending_vnpost_payment(stack: &mut TestStack) -> (String, String) {
    stack.set_faults(
        "vnpost_account",
        Faults {
            complete_after_ms: 600_000,
            ..Faults::default()
        },
    );
    let order = vnpost_order(500_000);
    stack.open_account(&order, HOLDER);
    stack.publish(&order).await;
    let id = order_id(&order);
    let pending = stack
        .wait_for(&id, |m| m.status == ResultStatus::Pending, Duration::from_secs(20))
        .await;
    (pending.payment_id.unwrap(), id)
}

/// A `00` (credited) callback's fields for `payment_id`, stamped now, not yet signed.
fn vnpost_credited_fields(payment_id: &str, order_id: &str, event_id: &str) -> serde_json::Map<String, Value> {
    let timestamp = adapter_vnpost_account::signing::format_timestamp(chrono::Utc::now().timestamp());
    let mut fields = serde_json::Map::new();
    for (key, value) in [
        ("event_id", json!(event_id)),
        ("request_id", json!(payment_id)),
        ("order_ref", json!(order_id)),
        ("transaction_id", json!("VNP-1")),
        ("amount", json!(500_000)),
        ("result_code", json!("00")),
        ("timestamp", json!(timestamp)),
    ] {
        fields.insert(key.to_string(), value);
    }
    fields
}

async fn post_vnpost_callback(stack: &TestStack, fields: &serde_json::Map<String, Value>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/callbacks/vnpost_account", stack.gateway_url()))
        .json(fields)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn a_forged_vnpost_callback_is_rejected_without_a_state_change(db: Db) {
    let mut stack = TestStack::start(db).await;
    let (payment_id, id) = pending_vnpost_payment(&mut stack).await;
    let mut fields = vnpost_credited_fields(&payment_id, &id, "EVT-FORGED-1");
    // Signed with the real secret over other values, then the amount changed.
    let signature = adapter_vnpost_account::signing::sign_fields(b"sandbox-vnpost-secret", &fields);
    fields.insert("amount".to_string(), json!(50_000_000));
    fields.insert("signature".to_string(), json!(signature));
    let (status, answer) = post_vnpost_callback(&stack, &fields).await;
    assert_eq!(status, 401);
    assert_eq!(answer["code"], "bad_signature");
    let store = &stack.gateway.as_ref().unwrap().store;
    assert_eq!(
        store.payment(&payment_id).await.unwrap().unwrap().state,
        PaymentState::Pending
    );
    assert_eq!(store.callback_count(&payment_id).await.unwrap(), 0);
    stack.stop().await;
}

/// VNPost takes a callback as delivered only when the answer says `result_code` `00` (its
/// adapter's README): anything else and it sends the callback again, and again.
async fn a_genuine_vnpost_callback_is_acknowledged_in_vnposts_own_words(db: Db) {
    let mut stack = TestStack::start(db).await;
    let (payment_id, id) = pending_vnpost_payment(&mut stack).await;
    let mut fields = vnpost_credited_fields(&payment_id, &id, "EVT-GENUINE-1");
    let signature = adapter_vnpost_account::signing::sign_fields(b"sandbox-vnpost-secret", &fields);
    fields.insert("signature".to_string(), json!(signature));
    let (status, answer) = post_vnpost_callback(&stack, &fields).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result_code"], "00", "{answer}");
    assert_eq!(answer["code"], "ok", "{answer}");
    assert_eq!(answer["outcome"], "applied", "{answer}");
    // Delivered again (VNPost reuses the bytes): acknowledged the same way, nothing applied twice.
    let (status, again) = post_vnpost_callback(&stack, &fields).await;
    assert_eq!((status, &again["result_code"]), (200, &json!("00")), "{again}");
    assert_eq!(again["outcome"], "duplicate", "{again}");
    let result = stack.final_result(&id).await;
    assert_eq!(result.status, ResultStatus::Succeeded);
    stack.stop().await;
}

async fn every_channel_resolves_a_timeout_after_booking_by_inquiry(db: Db) {
    let mut stack = TestStack::start(db).await;
    let timeout = Faults {
        timeout_after_booking_next: 1,
        hang_ms: 3_000,
        lose_next_callbacks: 1,
        ..Faults::default()
    };
    let mut orders = vec![vnpost_order(1_000_000)];
    orders.extend(WALLETS.iter().map(|provider| wallet_order(provider, 1_000_000)));
    for provider in ["vnpost_account"].iter().chain(WALLETS.iter()) {
        stack.set_faults(provider, timeout.clone());
    }
    for order in &orders {
        stack.open_account(order, HOLDER);
        stack.publish(order).await;
    }
    for order in &orders {
        let id = order_id(order);
        let result = stack.final_result(&id).await;
        assert_eq!(
            result.status,
            ResultStatus::Succeeded,
            "{}: {:?}",
            order["channel"],
            result.reason
        );
        assert_eq!(result.attempts, 1, "{}: asked, not resent", order["destination"]);
        assert_eq!(stack.credits(&id), 1);
    }
    stack.drain_results(Duration::from_secs(1)).await;
    for order in &orders {
        let id = order_id(order);
        let finals: std::collections::BTreeSet<i64> =
            stack.seen[&id].iter().filter(|m| m.is_final).map(|m| m.seq).collect();
        assert_eq!(finals.len(), 1, "{id}: one final result");
    }
    stack.stop().await;
}
