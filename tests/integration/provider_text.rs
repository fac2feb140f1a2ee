//! A provider's text is stored whatever it holds: a reference or reason with a NUL character
//! (which PostgreSQL's `TEXT` refuses) used to make every write of the payment's next state
//! fail, on every retry, so the payment stayed in `submitting` for good; now the NUL is stored
//! as U+FFFD and the payment moves on.

use gateway::payment::PaymentState;
use gateway::store::{Change, OrderView, Store};

use crate::support::{bank_order, claim_fresh, drop_database, store_for_one_batch, Db};

crate::on_both_databases!(a_provider_reference_and_reason_with_a_nul_character_are_stored);

async fn view(store: &Store, order_id: &str) -> OrderView {
    store.order_view(order_id).await.unwrap().expect("the order is stored")
}

async fn a_provider_reference_and_reason_with_a_nul_character_are_stored(db: Db) {
    let run_id = gateway::demo::stack::new_run_id();
    let (settings, store) = store_for_one_batch(db, &run_id).await;
    let order = bank_order(500_000);
    let order_id = order["order_id"].as_str().unwrap().to_string();
    claim_fresh(&store, &settings, &order, "bank_transfer").await;
    let accepted = view(&store, &order_id).await.payment;
    let submitting = store
        .apply(&accepted, Change::to(PaymentState::Submitting, "submitting"))
        .await
        .unwrap()
        .expect("nothing else moved it");

    // The bank's answer, as the adapter hands it on: its transfer id and message verbatim.
    let answered = Change {
        provider_ref: Some("T1\0".to_string()),
        ..Change::to(PaymentState::Pending, "submit answered: processing \0").reason("provider_note", "bank said \0")
    };
    let pending = store.apply(&submitting, answered).await;
    let pending = pending
        .expect("the change is written, not refused")
        .expect("nothing else moved it");
    assert_eq!(pending.provider_ref.as_deref(), Some("T1\u{FFFD}"));

    let stored = view(&store, &order_id).await;
    assert_eq!(stored.payment.state, PaymentState::Pending);
    assert_eq!(stored.payment.provider_ref.as_deref(), Some("T1\u{FFFD}"));
    assert_eq!(stored.payment.reason.as_deref(), Some("bank said \u{FFFD}"));
    let last = stored.events.last().expect("the change is in the event log");
    assert_eq!(last.detail.as_deref(), Some("submit answered: processing \u{FFFD}"));
    drop(store);
    drop_database(db, &run_id).await;
}
