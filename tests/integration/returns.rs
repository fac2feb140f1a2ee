//! A payout the provider returned leaves the beneficiary unpaid, so the order upstream
//! reissues for them must be paid: the duplicate-payment guard and the wallet's month let it.

use std::time::Duration;

use gateway::payment::ResultStatus;
use gateway::store::{ReturnOutcome, ReturnToApply, Store};
use serde_json::Value;

use crate::support::{test_settings, wallet_order, Db, TestStack, HOLDER};

crate::on_both_databases!(a_returned_wallet_payout_can_be_reissued_to_the_same_beneficiary_and_wallet);

/// 6,000,000 đồng twice is over the wallet's 10,000,000 a month, and the same beneficiary,
/// program, period and payment type twice is a possible duplicate: both only because the
/// first credit did not come back.
async fn a_returned_wallet_payout_can_be_reissued_to_the_same_beneficiary_and_wallet(db: Db) {
    let mut settings = test_settings();
    // The emulated wallet does not learn of the return (the test applies it in the gateway
    // only), so its own monthly cap, a backstop behind the gateway's, is lifted here.
    settings
        .sandbox
        .providers
        .get_mut("viettel_money")
        .expect("an emulated wallet")["monthly_limit_vnd"] = Value::from(100_000_000);
    let mut stack = TestStack::start_with(db, settings, true).await;
    let first = wallet_order("viettel_money", 6_000_000);
    stack.open_account(&first, HOLDER);
    stack.publish(&first).await;
    let first_id = first["order_id"].as_str().unwrap_or_default().to_string();
    let paid = stack.final_result(&first_id).await;
    assert_eq!(paid.status, ResultStatus::Succeeded);

    let store = Store::connect(&stack.settings.database)
        .await
        .expect("the store answers");
    let returned = store
        .apply_return(&ReturnToApply {
            provider: "viettel_money".into(),
            entry_ref: format!("RET-{first_id}"),
            payment_id: paid.payment_id.clone().unwrap_or_default(),
            amount: 6_000_000,
            reason_code: "AC04".into(),
            booked_on: "2026-12-05".into(),
            reason: "the wallet was closed".into(),
        })
        .await
        .expect("the return is stored");
    assert!(matches!(returned, ReturnOutcome::Applied { .. }), "{returned:?}");

    let mut reissued = first.clone();
    reissued["order_id"] = Value::from(format!("{first_id}-R"));
    stack.publish(&reissued).await;
    let result = stack
        .wait_for(&format!("{first_id}-R"), |m| m.is_final, Duration::from_secs(30))
        .await;
    assert_eq!(
        (result.status, result.reason_code.as_deref()),
        (ResultStatus::Succeeded, None),
        "{result:?}"
    );
    drop(store);
    stack.stop().await;
}
