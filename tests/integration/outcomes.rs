//! The three outcomes no other test reaches end to end: a payment that never left fails
//! `retries_exhausted` (with a dead letter), a payment whose outcome stays unknown after
//! `max_inquiries` goes to `needs_review` as `unknown_outcome` (with a dead letter), and a
//! pending payment the provider forgets goes to `needs_review` as `provider_lost_payment`;
//! and the way out of `needs_review` when the provider later gives a definite answer.

use std::time::Duration;

use gateway::app::RunningGateway;
use gateway::config::Settings;
use gateway::payment::{PaymentState, ResultMessage, ResultStatus};
use sandbox_kit::Faults;
use serde_json::Value;

use crate::support::{bank_order, test_settings, Db, TestStack, HOLDER};

crate::on_both_databases!(
    a_bank_whose_name_inquiry_always_times_out_fails_retries_exhausted_without_paying,
    an_unreachable_bank_fails_retries_exhausted_without_paying,
    a_submit_timeout_followed_by_failing_inquiries_goes_to_review_as_unknown_outcome,
    a_pending_payment_the_bank_forgets_goes_to_review_as_provider_lost_payment,
    a_payment_in_review_for_an_unknown_outcome_is_settled_by_a_later_inquiry,
    a_payment_pending_too_long_goes_to_review_and_is_settled_when_the_bank_finishes,
);

/// The bank adapter's timeout in these tests: short, so timeouts cost little.
const BANK_TIMEOUT_MS: u64 = 500;
/// Sandbox latency that no bank call survives.
const BEYOND_TIMEOUT_MS: u64 = 2_000;

/// Test settings with a short bank timeout and fast retries.
fn fast_settings(max_attempts: i64) -> Settings {
    let mut settings = test_settings();
    settings.dispatcher.max_attempts = max_attempts;
    settings.dispatcher.backoff_base_ms = 50;
    settings.dispatcher.backoff_max_ms = 200;
    settings
        .providers
        .config_mut::<adapter_bank_transfer::BankTransferConfig>("bank_transfer")
        .unwrap()
        .timeout_ms = BANK_TIMEOUT_MS;
    settings
}

fn order_id_of(order: &Value) -> String {
    order["order_id"].as_str().unwrap().to_string()
}

/// Publishes a bank order whose submit the bank books but never answers (and whose callback it
/// loses), then, once the booking is in the ledger, makes every further bank call time out:
/// only an inquiry could tell what happened, and none can answer. Returns the order id.
async fn publish_a_submit_whose_answer_is_lost(stack: &mut TestStack) -> String {
    let booking_hangs = Faults {
        timeout_after_booking_next: 1,
        hang_ms: 30_000,
        lost_callback_rate: 1.0,
        ..Faults::default()
    };
    stack.set_bank_faults(booking_hangs.clone());
    let order = bank_order(2_000_000);
    stack.open_bank_account(&order, HOLDER);
    let order_id = order_id_of(&order);
    stack.publish(&order).await;
    // The hang counter is set again with the latency in case the hanging submit has not
    // consumed it yet; nothing else submits, since no inquiry can answer "not found".
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while booked(stack, &order_id) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bank never booked the submit"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stack.set_bank_faults(Faults {
        latency_ms: BEYOND_TIMEOUT_MS,
        ..booking_hangs
    });
    order_id
}

/// Everything the store recorded for an order.
async fn view(stack: &TestStack, order_id: &str) -> gateway::store::OrderView {
    stack
        .gateway
        .as_ref()
        .unwrap()
        .store
        .order_view(order_id)
        .await
        .unwrap()
        .expect("the order is in the store")
}

/// Reads dead letters until the one for `order_id` (each stack has a DLQ of its own, so
/// there is normally nothing else) and returns its `x-gateway-reason`.
async fn dead_letter_reason(stack: &mut TestStack, order_id: &str) -> String {
    loop {
        let dead = stack.next_dead_letter().await;
        let body: Value = serde_json::from_slice(&dead.body).expect("the dead letter is the original JSON order");
        if body["order_id"].as_str() == Some(order_id) {
            return dead
                .headers
                .get("x-gateway-reason")
                .cloned()
                .unwrap_or_else(|| panic!("no x-gateway-reason on {:?}", dead.headers));
        }
    }
}

/// Ledger entries (booked credits in any state) for `order_id`, read from the sandbox itself.
fn booked(stack: &TestStack, order_id: &str) -> usize {
    stack
        .sandbox
        .kit
        .ledger
        .entries()
        .iter()
        .filter(|entry| entry.order_ref == order_id)
        .count()
}

/// Asserts a `failed / retries_exhausted` outcome with nothing ever sent to the bank.
async fn assert_retries_exhausted_without_paying(stack: &mut TestStack, order_id: &str, max_attempts: i64) {
    let result = stack.final_result(order_id).await;
    assert_eq!(result.status, ResultStatus::Failed, "{:?}", result.reason);
    assert!(result.is_final);
    assert_eq!(
        result.reason_code.as_deref(),
        Some("retries_exhausted"),
        "{:?}",
        result.reason
    );
    assert_eq!(result.attempts, max_attempts, "every attempt was used");
    assert_eq!(dead_letter_reason(stack, order_id).await, "retries_exhausted");
    assert_eq!(stack.credits(order_id), 0, "nothing was credited");
    assert_eq!(booked(stack, order_id), 0, "the bank never booked anything");
    let view = view(stack, order_id).await;
    assert_eq!(view.payment.submitted_at, None, "the payment never left");
    assert!(
        view.events.iter().all(|e| e.to_state != PaymentState::Submitting),
        "no submit was ever started: {:?}",
        view.events
    );
}

/// The bank holds every answer past the adapter's timeout, so each name inquiry (which
/// comes before any submit) times out: a transient failure before anything was sent.
async fn a_bank_whose_name_inquiry_always_times_out_fails_retries_exhausted_without_paying(db: Db) {
    let max_attempts = 3;
    let mut stack = TestStack::start_with(db, fast_settings(max_attempts), true).await;
    stack.set_bank_faults(Faults {
        latency_ms: BEYOND_TIMEOUT_MS,
        ..Faults::default()
    });
    let order = bank_order(1_250_000);
    stack.open_bank_account(&order, HOLDER);
    let order_id = order_id_of(&order);
    stack.publish(&order).await;

    assert_retries_exhausted_without_paying(&mut stack, &order_id, max_attempts).await;
    stack.stop().await;
}

/// The bank's base URL is a closed port (127.0.0.1:1, privileged, so no test can bind it):
/// every connection is refused before a byte is sent.
async fn an_unreachable_bank_fails_retries_exhausted_without_paying(db: Db) {
    let max_attempts = 3;
    let mut stack = TestStack::start_with(db, fast_settings(max_attempts), false).await;
    stack
        .settings
        .providers
        .config_mut::<adapter_bank_transfer::BankTransferConfig>("bank_transfer")
        .unwrap()
        .base_url = "http://127.0.0.1:1/bank".to_string();
    stack.gateway = Some(
        RunningGateway::start(stack.settings.clone())
            .await
            .expect("the gateway starts"),
    );
    let order = bank_order(1_250_000);
    stack.open_bank_account(&order, HOLDER);
    let order_id = order_id_of(&order);
    stack.publish(&order).await;

    assert_retries_exhausted_without_paying(&mut stack, &order_id, max_attempts).await;
    stack.stop().await;
}

/// The bank books the credit and holds the submit's answer past the timeout (outcome
/// unknown); from then on every status inquiry times out too. After `max_inquiries` failed
/// inquiries the payment must go to review, never be failed or sent again.
async fn a_submit_timeout_followed_by_failing_inquiries_goes_to_review_as_unknown_outcome(db: Db) {
    let max_inquiries = 3;
    let mut settings = fast_settings(5);
    settings.dispatcher.max_inquiries = max_inquiries;
    // The first inquiry comes this long after the submit timed out; the ones after a failed
    // inquiry wait at most `backoff_max_ms`. The long first wait is the margin for the test
    // to switch the faults below before any inquiry can go out.
    settings.dispatcher.inquiry_delay_ms = 1_500;
    let mut stack = TestStack::start_with(db, settings, true).await;
    let order_id = publish_a_submit_whose_answer_is_lost(&mut stack).await;

    let review = stack
        .wait_for(
            &order_id,
            // A final result also ends the wait, so a wrong outcome fails at once.
            |m| m.status == ResultStatus::NeedsReview || m.is_final,
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(review.status, ResultStatus::NeedsReview, "{:?}", review.reason);
    assert!(!review.is_final, "needs_review is not final");
    assert_eq!(
        review.reason_code.as_deref(),
        Some("unknown_outcome"),
        "{:?}",
        review.reason
    );
    assert_eq!(review.attempts, 1, "the payment was asked about, never sent again");
    assert_eq!(dead_letter_reason(&mut stack, &order_id).await, "unknown_outcome");
    assert!(
        stack.seen[&order_id].iter().all(|m| !m.is_final),
        "no final result was published: {:?}",
        stack.seen[&order_id]
    );
    assert!(stack.credits(&order_id) <= 1, "paid at most once");
    assert_eq!(booked(&stack, &order_id), 1, "one credit booked, by the one submit");

    let view = view(&stack, &order_id).await;
    assert_eq!(view.payment.state, PaymentState::NeedsReview);
    let failed_inquiries = view
        .events
        .iter()
        .filter(|e| {
            e.detail
                .as_deref()
                .is_some_and(|d| d.starts_with("status inquiry failed"))
        })
        .count();
    assert_eq!(
        failed_inquiries as i64, max_inquiries,
        "every allowed inquiry was made, and no more: {:?}",
        view.events
    );
    assert!(
        view.events.iter().any(|e| e.to_state == PaymentState::Unknown),
        "the payment went through `unknown`: {:?}",
        view.events
    );
    stack.stop().await;
}

/// The bank accepts the transfer and keeps it processing (no callback); the sandbox is then
/// reset through its admin route, so the next pending poll finds no record of it.
async fn a_pending_payment_the_bank_forgets_goes_to_review_as_provider_lost_payment(db: Db) {
    let mut settings = fast_settings(5);
    settings.dispatcher.pending_poll_after_ms = 500;
    let mut stack = TestStack::start_with(db, settings, true).await;
    stack.set_bank_faults(Faults {
        complete_after_ms: 600_000,
        ..Faults::default()
    });
    let order = bank_order(3_100_000);
    stack.open_bank_account(&order, HOLDER);
    let order_id = order_id_of(&order);
    stack.publish(&order).await;

    let pending = stack
        .wait_for(
            &order_id,
            |m| m.status == ResultStatus::Pending,
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(
        booked(&stack, &order_id),
        1,
        "the bank holds the transfer while it is pending"
    );
    let reset = reqwest::Client::new()
        .post(format!("{}/sandbox/reset", stack.sandbox.url()))
        .send()
        .await
        .expect("the sandbox answers");
    assert_eq!(reset.status().as_u16(), 204);
    assert_eq!(booked(&stack, &order_id), 0, "the bank forgot the transfer");

    let review = stack
        .wait_for(
            &order_id,
            // A final result also ends the wait, so a wrong outcome fails at once.
            |m| m.status == ResultStatus::NeedsReview || m.is_final,
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(review.status, ResultStatus::NeedsReview, "{:?}", review.reason);
    assert!(!review.is_final, "needs_review is not final");
    assert_eq!(
        review.reason_code.as_deref(),
        Some("provider_lost_payment"),
        "{:?}",
        review.reason
    );
    assert_eq!(review.payment_id, pending.payment_id);
    assert!(review.seq > pending.seq);
    assert_eq!(review.attempts, 1, "nothing was sent again");
    assert_eq!(stack.credits(&order_id), 0);
    assert_eq!(booked(&stack, &order_id), 0, "nothing was resubmitted");

    let view = view(&stack, &order_id).await;
    assert_eq!(view.payment.state, PaymentState::NeedsReview);
    let last = view.events.last().expect("events");
    assert_eq!(last.from_state.as_deref(), Some("pending"), "{:?}", view.events);
    assert_eq!(last.reason_code.as_deref(), Some("provider_lost_payment"));
    stack.stop().await;
}

/// Waits for the `needs_review` result of an order (a final result ends the wait too, so a
/// wrong outcome fails at once) and checks its reason code.
async fn review_result(stack: &mut TestStack, order_id: &str, reason_code: &str) -> ResultMessage {
    let review = stack
        .wait_for(
            order_id,
            |m| m.status == ResultStatus::NeedsReview || m.is_final,
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(review.status, ResultStatus::NeedsReview, "{:?}", review.reason);
    assert_eq!(review.reason_code.as_deref(), Some(reason_code), "{:?}", review.reason);
    review
}

/// The submit is booked but its answer and callback are lost, and the inquiries time out
/// until the payment is in review; then the bank answers again, and the next review
/// inquiry finds the credit and settles the payment, once.
async fn a_payment_in_review_for_an_unknown_outcome_is_settled_by_a_later_inquiry(db: Db) {
    let mut settings = fast_settings(5);
    settings.dispatcher.max_inquiries = 2;
    settings.dispatcher.inquiry_delay_ms = 1_500;
    settings.dispatcher.review_inquiry_after_ms = 300;
    let mut stack = TestStack::start_with(db, settings, true).await;
    let order_id = publish_a_submit_whose_answer_is_lost(&mut stack).await;
    let review = review_result(&mut stack, &order_id, "unknown_outcome").await;

    stack.set_bank_faults(Faults::default());
    let settled = stack.final_result(&order_id).await;
    assert_eq!(settled.status, ResultStatus::Succeeded, "{:?}", settled.reason);
    assert!(settled.seq > review.seq);
    assert_eq!(stack.credits(&order_id), 1, "paid once");
    assert_eq!(booked(&stack, &order_id), 1, "nothing was sent again");
    let view = view(&stack, &order_id).await;
    assert!(
        view.events.iter().any(|e| e
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("settles a payment in review (unknown_outcome)"))),
        "the event log says why it was in review and what settled it: {:?}",
        view.events
    );
    stack.stop().await;
}

/// The bank keeps the transfer processing past `pending_max_age_ms` (its callback is lost):
/// the payment goes to review as `pending_too_long`, and when the bank finishes, a review
/// inquiry settles it.
async fn a_payment_pending_too_long_goes_to_review_and_is_settled_when_the_bank_finishes(db: Db) {
    let mut settings = fast_settings(5);
    settings.dispatcher.pending_poll_after_ms = 200;
    settings.dispatcher.pending_max_age_ms = 800;
    settings.dispatcher.review_inquiry_after_ms = 300;
    let mut stack = TestStack::start_with(db, settings, true).await;
    stack.set_bank_faults(Faults {
        complete_after_ms: 2_500,
        lost_callback_rate: 1.0,
        ..Faults::default()
    });
    let order = bank_order(1_500_000);
    stack.open_bank_account(&order, HOLDER);
    let order_id = order_id_of(&order);
    stack.publish(&order).await;

    let review = review_result(&mut stack, &order_id, "pending_too_long").await;
    assert!(!review.is_final);
    assert!(
        stack.seen[&order_id].iter().any(|m| m.status == ResultStatus::Pending),
        "it was pending first"
    );
    let settled = stack.final_result(&order_id).await;
    assert_eq!(settled.status, ResultStatus::Succeeded, "{:?}", settled.reason);
    assert!(settled.seq > review.seq);
    assert_eq!(stack.credits(&order_id), 1);
    stack.stop().await;
}
