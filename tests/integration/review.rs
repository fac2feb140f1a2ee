//! The operator's way out of `needs_review`: the review list, and `resolve`, which settles a
//! payment only when the provider's own answer agrees with the operator.

use std::time::Duration;

use gateway::app::RunningGateway;
use gateway::payment::{PaymentState, ResultMessage, ResultStatus};
use gateway::providers::build_adapters;
use gateway::review::{Refusal, Resolution, ResolveOutcome, Verdict, RESOLVED_BY_OPERATOR};
use gateway::store::{Change, PaymentFilter, PaymentRecord, Store};
use sandbox_kit::Faults;
use serde_json::{json, Value};

use crate::support::{bank_order, Db, TestStack, HOLDER};

crate::on_both_databases!(
    the_review_list_shows_held_payments_and_hides_the_others,
    a_held_duplicate_can_only_be_resolved_as_failed,
    a_sent_payment_is_resolved_only_when_the_provider_agrees,
    a_payment_held_unsent_whose_stored_order_no_longer_reads_can_still_be_closed_failed,
    a_sent_payment_whose_stored_order_no_longer_reads_is_settled_on_the_operators_word,
);

const OPERATOR: &str = "test-operator";
const NOTE: &str = "checked with the bank, ticket 7781";

/// Pays one order, then publishes a second order for the same beneficiary, program, period
/// and payment type, which the duplicate-payment guard holds in `needs_review` without
/// sending it. Returns (paid order, held order).
async fn paid_order_and_held_duplicate(stack: &mut TestStack) -> (Value, Value) {
    let paid = bank_order(1_500_000);
    stack.open_bank_account(&paid, HOLDER);
    stack.publish(&paid).await;
    let paid_id = paid["order_id"].as_str().unwrap().to_string();
    assert_eq!(stack.final_result(&paid_id).await.status, ResultStatus::Succeeded);

    let mut held = paid.clone();
    held["order_id"] = json!(format!("{paid_id}-again"));
    stack.publish(&held).await;
    let review = stack
        .wait_for(
            held["order_id"].as_str().unwrap(),
            |m| m.status == ResultStatus::NeedsReview,
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(review.reason_code.as_deref(), Some("possible_duplicate_payment"));
    (paid, held)
}

async fn resolve(
    stack: &TestStack,
    store: &Store,
    order_id: &str,
    verdict: Verdict,
    provider_ref: Option<&str>,
) -> ResolveOutcome {
    resolve_as(stack, store, resolution(order_id, verdict, provider_ref)).await
}

/// The test operator's resolution of `order_id`, with their note.
fn resolution(order_id: &str, verdict: Verdict, provider_ref: Option<&str>) -> Resolution {
    Resolution {
        order_id: order_id.to_string(),
        verdict,
        note: NOTE.to_string(),
        provider_ref: provider_ref.map(str::to_string),
        operator: OPERATOR.to_string(),
        no_record_confirmed: false,
        without_inquiry: false,
    }
}

async fn resolve_as(stack: &TestStack, store: &Store, resolution: Resolution) -> ResolveOutcome {
    let adapters = build_adapters(
        &stack.settings.providers,
        stack.settings.dispatcher.provider_concurrency,
    )
    .unwrap();
    gateway::review::resolve(store, &adapters, &resolution).await.unwrap()
}

fn refusal(outcome: ResolveOutcome) -> Refusal {
    match outcome {
        ResolveOutcome::Refused(refusal) => refusal,
        ResolveOutcome::Resolved(resolved) => panic!("expected a refusal, got {resolved:?}"),
    }
}

/// (state, number of events, number of result messages) of an order, to show nothing was written.
async fn footprint(store: &Store, order_id: &str) -> (PaymentState, usize, usize) {
    let view = store.order_view(order_id).await.unwrap().unwrap();
    (view.payment.state, view.events.len(), view.results.len())
}

/// Checks the final result and the event log line of a resolved order.
async fn assert_resolved(stack: &mut TestStack, store: &Store, order_id: &str, status: ResultStatus) -> ResultMessage {
    let result = stack.final_result(order_id).await;
    assert_eq!(result.status, status);
    assert!(result.is_final);
    assert_eq!(result.reason_code.as_deref(), Some(RESOLVED_BY_OPERATOR));
    let view = store.order_view(order_id).await.unwrap().unwrap();
    let last = view.events.last().unwrap();
    assert_eq!(last.from_state.as_deref(), Some("needs_review"));
    let detail = last.detail.as_deref().unwrap_or_default();
    assert!(
        detail.contains(OPERATOR) && detail.contains(NOTE) && detail.contains("provider's answer"),
        "the event log records who, the note and the provider's answer: {detail}"
    );
    result
}

async fn the_review_list_shows_held_payments_and_hides_the_others(db: Db) {
    let mut stack = TestStack::start(db).await;
    let (paid, held) = paid_order_and_held_duplicate(&mut stack).await;
    let store = stack.gateway.as_ref().unwrap().store.clone();
    let filter = |state, channel: Option<&str>| PaymentFilter {
        state,
        channel: channel.map(str::to_string),
        batch_id: None,
        limit: 50,
    };

    let review = store
        .list_payments(&filter(PaymentState::NeedsReview, None))
        .await
        .unwrap();
    let listed: Vec<&str> = review.payments.iter().map(|p| p.order_id.as_str()).collect();
    assert_eq!(listed, [held["order_id"].as_str().unwrap()]);
    assert_eq!((review.total_count, review.total_amount), (1, 1_500_000));
    let line = &review.payments[0];
    assert_eq!(line.reason_code.as_deref(), Some("possible_duplicate_payment"));
    assert_eq!(line.submitted_at, None);
    assert!(line.entered_state_at > 0);

    let by_provider = store
        .list_payments(&filter(PaymentState::NeedsReview, Some("bank_transfer")))
        .await
        .unwrap();
    assert_eq!(by_provider.total_count, 1);
    let other_channel = store
        .list_payments(&filter(PaymentState::NeedsReview, Some("vnpost_account")))
        .await
        .unwrap();
    assert_eq!((other_channel.payments.len(), other_channel.total_count), (0, 0));
    let succeeded = store
        .list_payments(&filter(PaymentState::Succeeded, None))
        .await
        .unwrap();
    let listed: Vec<&str> = succeeded.payments.iter().map(|p| p.order_id.as_str()).collect();
    assert_eq!(listed, [paid["order_id"].as_str().unwrap()]);
    stack.stop().await;
}

async fn a_held_duplicate_can_only_be_resolved_as_failed(db: Db) {
    let mut stack = TestStack::start(db).await;
    let (paid, held) = paid_order_and_held_duplicate(&mut stack).await;
    let (paid_id, held_id) = (paid["order_id"].as_str().unwrap(), held["order_id"].as_str().unwrap());
    let store = stack.gateway.as_ref().unwrap().store.clone();
    let before = footprint(&store, held_id).await;

    let refused = refusal(resolve(&stack, &store, held_id, Verdict::Succeeded, None).await);
    assert!(matches!(refused, Refusal::NeverSubmitted { .. }), "{refused}");
    // The bank answers after the adapter gave up: the inquiry fails, so nothing is decided.
    stack.set_bank_faults(Faults {
        latency_ms: 2_000,
        ..Faults::default()
    });
    let refused = refusal(resolve(&stack, &store, held_id, Verdict::Failed, None).await);
    assert!(matches!(refused, Refusal::InquiryFailed { .. }), "{refused}");
    stack.set_bank_faults(Faults::default());
    assert_eq!(footprint(&store, held_id).await, before, "a refusal writes nothing");

    let ResolveOutcome::Resolved(resolved) = resolve(&stack, &store, held_id, Verdict::Failed, None).await else {
        panic!("the bank has no record of a payment that was never sent, so failed agrees");
    };
    assert_eq!(resolved.payment.state, PaymentState::Failed);
    assert_eq!(
        resolved.previous_reason_code.as_deref(),
        Some("possible_duplicate_payment")
    );
    let result = assert_resolved(&mut stack, &store, held_id, ResultStatus::Failed).await;
    assert_eq!(result.seq, resolved.payment.seq);
    assert_eq!(stack.credits(held_id), 0);

    for (order_id, state) in [(held_id, PaymentState::Failed), (paid_id, PaymentState::Succeeded)] {
        let refused = refusal(resolve(&stack, &store, order_id, Verdict::Failed, None).await);
        assert!(
            matches!(&refused, Refusal::NotInReview { state: found, .. } if *found == state),
            "{refused}"
        );
    }
    let refused = refusal(resolve(&stack, &store, "TB-NO-SUCH-ORDER", Verdict::Failed, None).await);
    assert!(matches!(refused, Refusal::NoSuchOrder(_)), "{refused}");
    stack.drain_results(Duration::from_secs(1)).await;
    let finals = stack.seen[held_id].iter().filter(|m| m.is_final).count();
    assert_eq!(finals, 1, "exactly one final result for the held order");
    stack.stop().await;
}

async fn a_sent_payment_is_resolved_only_when_the_provider_agrees(db: Db) {
    let mut stack = TestStack::start(db).await;
    // The bank keeps the transfer processing, so the payment waits in `pending`.
    let (order_id, payment_id) = stack.pending_bank_order(2_789_000).await;

    // No dispatcher from here on, so nothing but the operator settles the payment; the
    // store-level change stands in for a callback that contradicted the record.
    stack.gateway.take().unwrap().stop().await;
    let store = Store::connect(&stack.settings.database).await.unwrap();
    let record = store.payment(&payment_id).await.unwrap().unwrap();
    let review = Change::to(PaymentState::NeedsReview, "test: a callback contradicted the record").reason(
        "callback_contradicts_record",
        "a verified provider callback contradicts the gateway's record",
    );
    assert!(store.apply(&record, review).await.unwrap().is_some());
    let before = footprint(&store, &order_id).await;

    let refused = refusal(resolve(&stack, &store, &order_id, Verdict::Succeeded, None).await);
    assert!(matches!(refused, Refusal::NotFinalAtProvider { .. }), "{refused}");
    let booked = stack.sandbox.kit.ledger.complete("bank_transfer", &payment_id).unwrap();
    let refused = refusal(resolve(&stack, &store, &order_id, Verdict::Failed, None).await);
    assert!(
        matches!(&refused, Refusal::Contradicts { verdict: Verdict::Failed, provider_answer } if provider_answer.starts_with("succeeded")),
        "{refused}"
    );
    let refused = refusal(
        resolve(
            &stack,
            &store,
            &order_id,
            Verdict::Succeeded,
            Some("TRF-SOMETHING-ELSE"),
        )
        .await,
    );
    assert!(matches!(refused, Refusal::ReferenceMismatch { .. }), "{refused}");
    assert_eq!(footprint(&store, &order_id).await, before, "a refusal writes nothing");

    let ResolveOutcome::Resolved(resolved) = resolve(&stack, &store, &order_id, Verdict::Succeeded, None).await else {
        panic!("the bank's ledger says completed, and so does the operator");
    };
    assert_eq!(resolved.payment.state, PaymentState::Succeeded);
    assert_eq!(
        resolved.payment.provider_ref.as_deref(),
        Some(booked.provider_ref.as_str())
    );

    // The outbox row goes out through the relay of a running gateway.
    stack.gateway = Some(RunningGateway::start(stack.settings.clone()).await.unwrap());
    let result = assert_resolved(&mut stack, &store, &order_id, ResultStatus::Succeeded).await;
    assert_eq!(result.provider_ref.as_deref(), Some(booked.provider_ref.as_str()));
    assert_eq!(stack.credits(&order_id), 1);
    stack.stop().await;
}

/// A payment held in review before anything was sent, because its stored order no longer
/// reads back (`unreadable_stored_order`), could never be resolved: every verdict was refused
/// as `UnreadableOrder`, since the provider is asked with the order's request. Nothing was
/// sent, so there is nothing to ask: `failed` closes it; `succeeded` is still refused.
async fn a_payment_held_unsent_whose_stored_order_no_longer_reads_can_still_be_closed_failed(db: Db) {
    let stack = TestStack::start_with(db, crate::support::test_settings(), false).await;
    let store = Store::connect(&stack.settings.database).await.unwrap();
    let order = bank_order(1_300_000);
    let order_id = stack.claim(&store, &order).await;
    let record = store.payments_named(&order_id).await.unwrap().remove(0);
    hold_unreadable(&stack, &store, &record).await;

    let refused = refusal(resolve(&stack, &store, &order_id, Verdict::Succeeded, None).await);
    assert!(matches!(refused, Refusal::NeverSubmitted { .. }), "{refused}");
    let ResolveOutcome::Resolved(resolved) = resolve(&stack, &store, &order_id, Verdict::Failed, None).await else {
        panic!("a payment never sent can be closed failed without asking the provider");
    };
    assert_eq!(resolved.payment.state, PaymentState::Failed);
    assert_eq!(resolved.payment.reason_code.as_deref(), Some(RESOLVED_BY_OPERATOR));
    assert!(
        resolved.provider_answer.starts_with("not asked"),
        "{}",
        resolved.provider_answer
    );
    assert!(resolved.detail.contains(NOTE), "{}", resolved.detail);
    assert_eq!(stack.credits(&order_id), 0, "nothing was paid");
    stack.stop().await;
}

/// Spoils the stored order of `record` so that it no longer reads back, and holds the payment
/// in review for it (`unreadable_stored_order`), as the dispatcher does.
async fn hold_unreadable(stack: &TestStack, store: &Store, record: &PaymentRecord) {
    let pool = sqlx::AnyPool::connect(secrecy::ExposeSecret::expose_secret(&stack.settings.database.url))
        .await
        .unwrap();
    sqlx::query("UPDATE payment_orders SET order_json = 'not an order' WHERE payment_id = $1")
        .bind(record.payment_id.as_str())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let unreadable = store.payments_named(&record.order_id).await.unwrap().remove(0);
    assert!(
        unreadable.payout_request().is_err(),
        "the stored order no longer reads back"
    );
    let held = Change::to(PaymentState::NeedsReview, "test: the stored order cannot be read back")
        .reason("unreadable_stored_order", "the stored order cannot be read back");
    assert!(store.apply(&unreadable, held).await.unwrap().is_some());
}

/// A payment that was sent and then held in review because its stored order no longer reads
/// back had no way out but a callback: the gateway cannot ask the provider without the
/// order's request, and every resolution was refused `UnreadableOrder`. With
/// `--without-inquiry` the operator, who asked the provider by hand, settles it; the flag is
/// refused for a payment whose order reads back.
async fn a_sent_payment_whose_stored_order_no_longer_reads_is_settled_on_the_operators_word(db: Db) {
    let stack = TestStack::start_with(db, crate::support::test_settings(), false).await;
    let store = Store::connect(&stack.settings.database).await.unwrap();
    let order = bank_order(1_300_000);
    let order_id = stack.claim(&store, &order).await;
    let record = store.payments_named(&order_id).await.unwrap().remove(0);
    let sending = Change::to(PaymentState::Submitting, "test: submitting");
    let sent = store.apply(&record, sending).await.unwrap().expect("submitting");
    let review = Change::to(PaymentState::NeedsReview, "test: outcome unknown").reason("unknown_outcome", "test");
    store.apply(&sent, review).await.unwrap().expect("in review");
    let by_hand = |verdict| Resolution {
        without_inquiry: true,
        ..resolution(&order_id, verdict, Some("FT-BY-HAND-1"))
    };
    let refused = refusal(resolve_as(&stack, &store, by_hand(Verdict::Succeeded)).await);
    assert!(matches!(refused, Refusal::InquiryPossible { .. }), "{refused}");

    let in_review = store.payments_named(&order_id).await.unwrap().remove(0);
    hold_unreadable(&stack, &store, &in_review).await;
    let refused = refusal(resolve(&stack, &store, &order_id, Verdict::Succeeded, None).await);
    assert!(matches!(refused, Refusal::UnreadableOrder { .. }), "{refused}");
    assert!(refused.to_string().contains("--without-inquiry"), "{refused}");
    let ResolveOutcome::Resolved(resolved) = resolve_as(&stack, &store, by_hand(Verdict::Succeeded)).await else {
        panic!("the operator's word settles a sent payment the gateway cannot ask about");
    };
    assert_eq!(resolved.payment.state, PaymentState::Succeeded);
    assert_eq!(resolved.payment.reason_code.as_deref(), Some(RESOLVED_BY_OPERATOR));
    assert_eq!(resolved.payment.provider_ref.as_deref(), Some("FT-BY-HAND-1"));
    assert!(
        resolved.provider_answer.starts_with("not asked by the gateway"),
        "{}",
        resolved.provider_answer
    );
    assert!(resolved.detail.contains(NOTE), "{}", resolved.detail);
    stack.stop().await;
}

/// `orders list` with a channel, provider or batch that nothing names would match nothing and
/// print "0 payments in needs_review" — a review queue that reads empty because of a typo. It is
/// refused by name (exit 2), while a channel, a configured provider and a batch that orders name
/// list as before, and so does a provider taken out of the configuration that still has
/// payments.
#[tokio::test]
async fn orders_list_refuses_a_channel_provider_or_batch_that_nothing_names() {
    let run_id = gateway::demo::stack::new_run_id();
    let (settings, store) = crate::support::store_for_one_batch(Db::Sqlite, &run_id).await;
    let order = bank_order(500_000);
    crate::support::claim_fresh(&store, &settings, &order, "bank_retired").await;
    let batch = order["batch_id"].as_str().unwrap().to_string();
    let database = secrecy::ExposeSecret::expose_secret(&settings.database.url).to_string();
    let list = |args: &'static [&'static str], extra: Option<String>| {
        let database = database.clone();
        async move {
            let mut all: Vec<&str> = vec!["orders", "list", "--state", "accepted"];
            all.extend_from_slice(args);
            if let Some(extra) = &extra {
                all.push(extra.as_str());
            }
            let output = crate::support::gateway_command(&all, &database).await;
            (
                output.status.code(),
                String::from_utf8_lossy(&output.stdout).to_string(),
                String::from_utf8_lossy(&output.stderr).to_string(),
            )
        }
    };

    let (code, _, stderr) = list(&["--channel", "bank_tranfser"], None).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("\"bank_tranfser\" is no channel"), "{stderr}");
    assert!(
        stderr.contains("bank_transfer, vnpost_account, mobile_money"),
        "{stderr}"
    );
    let (code, _, stderr) = list(&["--batch"], Some(format!("{batch}-typo"))).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("no order, manifest or rejection names batch"),
        "{stderr}"
    );

    for (args, extra) in [
        (&["--channel", "bank_transfer"][..], None),
        (&["--channel", "viettel_money"][..], None),
        (&["--channel", "bank_retired"][..], None),
        (&["--batch"][..], Some(batch.clone())),
    ] {
        let (code, stdout, stderr) = list(args, extra).await;
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(stdout.contains(" in accepted, "), "{args:?}: {stdout}");
    }
    drop(store);
    crate::support::drop_database(Db::Sqlite, &run_id).await;
}
