//! The dispatcher driven one step at a time with `Dispatcher::run_once`, with no gateway and
//! no timers running: each call does exactly what is due, so every state a payment passes
//! through can be looked at, in order, on the real store and the sandbox bank.

use std::sync::Arc;

use gateway::dispatcher::{Dispatcher, ProviderWakes};
use gateway::payment::{PaymentState, ResultStatus};
use gateway::providers::build_adapters;
use gateway::store::{now_ms, Change, OrderView, Store};
use sandbox_kit::Faults;
use secrecy::ExposeSecret;
use sqlx::Connection;
use tokio::sync::Notify;

use crate::support::{bank_order, Db, TestStack, HOLDER};

crate::on_both_databases!(
    run_once_drives_a_bank_payment_from_accepted_through_pending_to_succeeded,
    run_once_asks_about_a_payment_left_in_submitting_before_sending_it_again,
    a_paid_answer_for_a_payment_settled_failed_meanwhile_is_told_upstream_and_ops,
    a_failed_answer_for_a_payment_settled_paid_meanwhile_is_told_upstream_and_ops,
    a_submit_that_finds_no_call_permit_in_time_goes_back_to_the_queue_with_its_attempt,
    a_paid_answer_for_a_payment_a_processing_callback_moved_meanwhile_settles_it,
);

/// The transfers the sandbox bank booked for `order_id`.
fn booked(stack: &TestStack, order_id: &str) -> usize {
    let entries = stack.sandbox.kit.ledger.entries();
    entries.iter().filter(|entry| entry.order_ref == order_id).count()
}

/// One call at a time to the bank, each taking 600 ms, and two payments stepped at once (two
/// `run_once` side by side, a payment each): each commits `submitting` after its name inquiry,
/// but the other's call holds the one permit until too late for a submit to answer within the
/// lease (it must start a timeout and a margin before the lease ends), so neither submit is
/// sent. Each goes back to the queue as `call_not_made` with its attempt given back, and both
/// are then sent once, one attempt each. (Before, both stayed `submitting` with an attempt
/// spent: each turn like it cost an attempt and an inquiry, and a payment never sent ended in
/// review once they ran out.)
async fn a_submit_that_finds_no_call_permit_in_time_goes_back_to_the_queue_with_its_attempt(db: Db) {
    let faults = Faults {
        latency_ms: 600,
        ..Faults::default()
    };
    let (stack, store, dispatcher) = stepwise_with(db, faults, |settings| {
        settings.provider_concurrency = 1;
        settings.batch_size = 1;
    })
    .await;
    let mut order_ids = Vec::new();
    for amount in [1_250_000, 1_350_000] {
        let order = bank_order(amount);
        stack.open_bank_account(&order, HOLDER);
        order_ids.push(stack.claim(&store, &order).await);
    }

    let (first, second) = tokio::join!(dispatcher.run_once(), dispatcher.run_once());
    assert_eq!(first + second, 2, "a payment each");
    for order_id in &order_ids {
        let payment = view(&store, order_id).await.payment;
        assert_eq!(
            (payment.state, payment.reason_code.as_deref(), payment.attempts),
            (PaymentState::RetryScheduled, Some("call_not_made"), 1),
            "{order_id}"
        );
        assert_eq!(booked(&stack, order_id), 0, "{order_id}: nothing was sent");
    }

    // Stepped one at a time, each is sent once, as its first attempt.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mut states = Vec::new();
        for order_id in &order_ids {
            states.push(view(&store, order_id).await.payment.state);
        }
        if states.iter().all(|state| *state == PaymentState::Pending) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "both are sent: {states:?}");
        dispatcher.run_once().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for order_id in &order_ids {
        let payment = view(&store, order_id).await.payment;
        assert_eq!(payment.attempts, 1, "{order_id}: one attempt for one submit");
        assert_eq!(booked(&stack, order_id), 1, "{order_id}: booked once");
    }
    stack.stop().await;
}

/// A stack without a gateway, its store, and a dispatcher of the test's own that polls a
/// pending payment at once (`pending_poll_after_ms = 0`); the bank keeps every transfer
/// processing until the test completes it.
async fn stepwise(db: Db) -> (TestStack, Store, Dispatcher) {
    stepwise_with(db, Faults::default(), |_| {}).await
}

/// [`stepwise`] with the bank's `faults` and the dispatcher's settings changed by `tune`.
async fn stepwise_with(
    db: Db,
    faults: Faults,
    tune: impl FnOnce(&mut gateway::config::DispatcherSettings),
) -> (TestStack, Store, Dispatcher) {
    let stack = TestStack::start_with(db, crate::support::test_settings(), false).await;
    stack.set_bank_faults(Faults {
        complete_after_ms: 3_600_000,
        ..faults
    });
    let store = Store::connect(&stack.settings.database).await.unwrap();
    let mut settings = stack.settings.dispatcher.clone();
    settings.pending_poll_after_ms = 0;
    tune(&mut settings);
    let adapters = build_adapters(&stack.settings.providers, settings.provider_concurrency).unwrap();
    let dispatcher = Dispatcher::new(
        store.clone(),
        adapters,
        &stack.settings.providers.timeouts(),
        settings,
        &stack.settings.limits,
        ProviderWakes::default(),
        Arc::new(Notify::new()),
    );
    (stack, store, dispatcher)
}

/// `dispatcher.run_once()` on a task of its own; its count of payments stepped.
fn step_in_the_background(dispatcher: Dispatcher) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move { dispatcher.run_once().await })
}

/// Waits until `payment_id` is leased: the step has taken it, and its call is out.
async fn wait_until_leased(stack: &TestStack, payment_id: &str) {
    let mut connection = sqlx::AnyConnection::connect(stack.settings.database.url.expose_secret())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let leased: Option<i64> = sqlx::query_scalar("SELECT lease_until FROM payments WHERE payment_id = $1")
            .bind(payment_id)
            .fetch_one(&mut connection)
            .await
            .unwrap();
        if leased.is_some() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "a step leases the payment");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let _ = connection.close().await;
}

async fn view(store: &Store, order_id: &str) -> OrderView {
    store.order_view(order_id).await.unwrap().expect("the order is stored")
}

/// The states the event log shows, after the claim.
fn moves(view: &OrderView) -> Vec<PaymentState> {
    view.events.iter().skip(1).map(|event| event.to_state).collect()
}

async fn run_once_drives_a_bank_payment_from_accepted_through_pending_to_succeeded(db: Db) {
    let (stack, store, dispatcher) = stepwise(db).await;
    let order = bank_order(1_250_000);
    stack.open_bank_account(&order, HOLDER);
    let order_id = stack.claim(&store, &order).await;
    assert_eq!(view(&store, &order_id).await.payment.state, PaymentState::Accepted);

    // One step: the name inquiry, `submitting` committed, the submit answered "processing".
    assert_eq!(dispatcher.run_once().await, 1);
    let pending = view(&store, &order_id).await;
    assert_eq!(moves(&pending), [PaymentState::Submitting, PaymentState::Pending]);
    assert_eq!((pending.payment.attempts, pending.payment.inquiries), (1, 0));
    let payment_id = pending.payment.payment_id.clone();

    // The poll finds it still processing: nothing new, no event, one more poll counted.
    assert_eq!(dispatcher.run_once().await, 1);
    let polled = view(&store, &order_id).await;
    assert_eq!(polled.payment.state, PaymentState::Pending);
    assert_eq!(polled.payment.inquiries, 1);
    assert_eq!(polled.events.len(), pending.events.len());

    // The bank finishes (its callback never comes: no gateway listens); the next poll settles it.
    stack
        .sandbox
        .kit
        .ledger
        .complete("bank_transfer", &payment_id)
        .expect("the transfer is booked");
    assert_eq!(dispatcher.run_once().await, 1);
    let settled = view(&store, &order_id).await;
    assert_eq!(
        moves(&settled),
        [PaymentState::Submitting, PaymentState::Pending, PaymentState::Succeeded]
    );
    assert_eq!(settled.payment.attempts, 1, "sent once");
    assert_eq!(dispatcher.run_once().await, 0, "a final payment is never due");

    let statuses: Vec<ResultStatus> = settled.results.iter().map(|result| result.status).collect();
    assert_eq!(
        statuses,
        [ResultStatus::Accepted, ResultStatus::Pending, ResultStatus::Succeeded]
    );
    assert!(settled.results.last().unwrap().is_final);
    assert_eq!(stack.credits(&order_id), 1, "paid once");
    stack.stop().await;
}

/// A gateway that died after committing `submitting` and before sending leaves the payment
/// there; the next step asks the bank first, and only its "no record" lets the payment go
/// out again, with the same key.
async fn run_once_asks_about_a_payment_left_in_submitting_before_sending_it_again(db: Db) {
    let (stack, store, dispatcher) = stepwise(db).await;
    let order = bank_order(980_000);
    stack.open_bank_account(&order, HOLDER);
    let order_id = stack.claim(&store, &order).await;
    let accepted = view(&store, &order_id).await.payment;
    let crashed = Change {
        count_attempt: true,
        ..Change::to(PaymentState::Submitting, "test: the gateway died before the submit").at(now_ms())
    };
    store
        .apply(&accepted, crashed)
        .await
        .unwrap()
        .expect("nothing else moved it");

    assert_eq!(dispatcher.run_once().await, 1);
    let resent = view(&store, &order_id).await;
    assert_eq!(
        moves(&resent),
        [
            PaymentState::Submitting,
            PaymentState::Submitting,
            PaymentState::Pending
        ]
    );
    assert!(
        resent.events[2]
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("resending with the same key"),
        "{:?}",
        resent.events
    );
    assert_eq!(resent.payment.attempts, 2, "the lost attempt and the resend");
    let booked = stack
        .sandbox
        .kit
        .ledger
        .get("bank_transfer", &resent.payment.payment_id);
    assert!(booked.is_some(), "the bank booked the resend");
    assert_eq!(stack.credits(&order_id), 0, "still processing at the bank");
    stack.stop().await;
}

/// The dispatcher asks the bank about a payment left in `submitting` (the bank booked and
/// completed it); while the (slow) answer is on its way, a "processing" callback moves the
/// payment to `pending`. The bank answers "paid": the dispatcher's change lost its
/// compare-and-set and was dropped, and the payment waited for its next poll
/// (`pending_poll_after_ms`, a minute by default) to learn what the provider had already said.
/// The provider's final word now settles the payment as it stands.
async fn a_paid_answer_for_a_payment_a_processing_callback_moved_meanwhile_settles_it(db: Db) {
    let (stack, store, dispatcher) = stepwise(db).await;
    let order = bank_order(1_150_000);
    stack.open_bank_account(&order, HOLDER);
    let order_id = stack.claim(&store, &order).await;
    let accepted = view(&store, &order_id).await.payment;
    let left = Change {
        count_attempt: true,
        ..Change::to(
            PaymentState::Submitting,
            "test: the submit went out, then the gateway died",
        )
        .at(now_ms())
    };
    let submitting = store
        .apply(&accepted, left)
        .await
        .unwrap()
        .expect("nothing else moved it");
    // The submit that went out: booked, and completed at the bank.
    let adapters = build_adapters(&stack.settings.providers, 4).unwrap();
    let request = submitting.payout_request().expect("the stored order reads back");
    adapters["bank_transfer"]
        .submit(&request)
        .await
        .expect("the bank books it");
    let ledger = &stack.sandbox.kit.ledger;
    ledger
        .complete("bank_transfer", &submitting.payment_id)
        .expect("booked");
    stack.set_bank_faults(Faults {
        latency_ms: 700,
        complete_after_ms: 3_600_000,
        ..Faults::default()
    });

    let asking = step_in_the_background(dispatcher);
    wait_until_leased(&stack, &submitting.payment_id).await;
    let processing = Change::to(PaymentState::Pending, "test: a processing callback").at(now_ms() + 3_600_000);
    store
        .apply(&submitting, processing)
        .await
        .unwrap()
        .expect("the inquiry has not answered yet");
    assert_eq!(asking.await.unwrap(), 1);

    let after = view(&store, &order_id).await;
    assert_eq!(
        moves(&after),
        [PaymentState::Submitting, PaymentState::Pending, PaymentState::Succeeded]
    );
    assert!(after.payment.provider_ref.is_some(), "the bank's reference");
    let last = after.results.last().expect("results");
    assert_eq!((last.status, last.is_final), (ResultStatus::Succeeded, true));
    assert_eq!(stack.credits(&order_id), 1);
    stack.stop().await;
}

/// The dispatcher asks the bank about a pending payment; while the (slow) answer is on its way
/// the payment is settled `failed` by another hand (an operator's resolution, a callback).
/// The bank answers "paid": the dispatcher's change loses its compare-and-set, and dropped
/// quietly, upstream would keep a final `failed` that the bank contradicts and reissue the
/// payment. It is reported as a callback's reversal is: a non-final `needs_review` result with
/// `provider_contradicts_final` and a dead letter `contradiction`; the state stays final.
async fn a_paid_answer_for_a_payment_settled_failed_meanwhile_is_told_upstream_and_ops(db: Db) {
    answer_for_a_payment_settled_otherwise_meanwhile(db, PaymentState::Succeeded).await;
}

/// The other way round: the payment is settled paid meanwhile (a late "completed" callback)
/// and the bank's answer to the poll is "failed" (a returned transfer). Dropped quietly, nobody
/// would learn that the beneficiary may not have the money; a callback saying so would have
/// been reported as a reversal.
async fn a_failed_answer_for_a_payment_settled_paid_meanwhile_is_told_upstream_and_ops(db: Db) {
    answer_for_a_payment_settled_otherwise_meanwhile(db, PaymentState::Failed).await;
}

/// The bank answers the poll of a pending payment with `answer` (succeeded or failed) while
/// another hand settles the payment the other way: the state stays as that hand left it, and
/// upstream and ops are told the provider contradicts it.
async fn answer_for_a_payment_settled_otherwise_meanwhile(db: Db, answer: PaymentState) {
    let (stack, store, dispatcher) = stepwise(db).await;
    let order = bank_order(1_100_000);
    stack.open_bank_account(&order, HOLDER);
    let order_id = stack.claim(&store, &order).await;
    assert_eq!(dispatcher.run_once().await, 1);
    let pending = view(&store, &order_id).await.payment;
    assert_eq!(pending.state, PaymentState::Pending);
    let ledger = &stack.sandbox.kit.ledger;
    let (booked, settled_by_the_other_hand, credits) = match answer {
        PaymentState::Succeeded => (
            ledger.complete("bank_transfer", &pending.payment_id),
            Change::to(PaymentState::Failed, "test: settled failed by another hand")
                .reason("provider_failed", "failed, as another hand recorded it"),
            1,
        ),
        _ => (
            ledger.fail("bank_transfer", &pending.payment_id, "RETURNED"),
            Change::to(PaymentState::Succeeded, "test: settled paid by another hand"),
            0,
        ),
    };
    booked.expect("the transfer is in the bank's ledger");
    // Slow, within the bank's 1 s timeout: the other hand has time to settle it meanwhile.
    stack.set_bank_faults(Faults {
        latency_ms: 700,
        complete_after_ms: 3_600_000,
        ..Faults::default()
    });

    let polling = step_in_the_background(dispatcher);
    // The poll has leased the payment (and its inquiry is out) before the other hand acts.
    wait_until_leased(&stack, &pending.payment_id).await;
    store
        .apply(&pending, settled_by_the_other_hand)
        .await
        .unwrap()
        .expect("the poll has not answered yet");
    assert_eq!(polling.await.unwrap(), 1);

    let after = view(&store, &order_id).await;
    assert_ne!(after.payment.state, answer, "a final state never changes");
    assert!(after.payment.state.is_final());
    let last = after.results.last().expect("results");
    assert_eq!(last.status, ResultStatus::NeedsReview, "{:?}", after.results);
    assert!(!last.is_final);
    assert_eq!(last.reason_code.as_deref(), Some("provider_contradicts_final"));
    let outbox = store.lease_unpublished(100, 60_000).await.unwrap();
    assert!(
        outbox
            .iter()
            .any(|row| row.kind == gateway::store::OutboxKind::DeadLetter
                && row.properties.headers.get("x-gateway-reason").map(String::as_str) == Some("contradiction")),
        "a dead letter for ops"
    );
    assert_eq!(stack.credits(&order_id), credits, "the bank's ledger as it answered");
    stack.stop().await;
}
