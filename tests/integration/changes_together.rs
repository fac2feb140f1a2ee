//! State changes and callbacks of one group commit are written together (one read of the
//! callbacks' payments, one insert of their event ids, one compare-and-set statement for all):
//! each still gets the outcome it would have had alone — a stale record loses, a second change
//! of one payment sees the first, a replayed event id is a duplicate, an unknown payment or
//! another provider's is refused, a note changes nothing — and an illegal one fails alone.
//! Callbacks for payments the batch already changes are written together in a pass of their
//! own after it, and see what it wrote.
//!
//! On a current-thread runtime every write below is queued before the writer runs, so on SQLite
//! (one writer) they share one batch; on PostgreSQL they share batches by key shard.

use std::future::Future;
use std::pin::Pin;

use gateway::payment::PaymentState;
use gateway::store::{CallbackDecision, CallbackOutcome, Change, PaymentRecord, StoreError};
use secrecy::ExposeSecret;

use crate::support::{all_at_once, bank_order, claim_fresh, drop_database, store_for_one_batch, Db};

crate::on_both_databases!(
    current_thread:
    changes_and_callbacks_of_one_batch_get_the_outcomes_they_would_get_alone,
    callbacks_settle_payments_without_reading_their_stored_orders,
    a_callback_before_a_change_of_its_payment_goes_first_written_together_or_one_by_one,
    a_callback_after_a_dead_lettering_change_of_its_payment_goes_after_it_written_together_or_one_by_one,
);

/// What one write of the batch came back with.
#[derive(Debug)]
enum Answer {
    Applied(Result<Option<PaymentState>, StoreError>),
    Callback(Result<CallbackOutcome, StoreError>),
}

type Write<'a> = Pin<Box<dyn Future<Output = Answer> + 'a>>;

fn failed() -> Change {
    Change::to(PaymentState::Failed, "the provider failed it").reason("provider_failed", "failed at the provider")
}

async fn changes_and_callbacks_of_one_batch_get_the_outcomes_they_would_get_alone(db: Db) {
    let run_id = gateway::demo::stack::new_run_id();
    let (settings, store) = store_for_one_batch(db, &run_id).await;
    let mut records = Vec::new();
    for _ in 0..12 {
        let payment_id = claim_fresh(&store, &settings, &bank_order(500_000), "bank_transfer").await;
        records.push(store.payment(&payment_id).await.unwrap().unwrap());
    }
    let [a, b, c, d, e, f, g, h, i, j, k, l] = <[PaymentRecord; 12]>::try_from(records).unwrap();
    // B moves before the batch, so the batch's change of B starts from a stale record.
    let submitting = || Change::to(PaymentState::Submitting, "about to send");
    store.apply(&b, submitting()).await.unwrap().unwrap();

    let apply = |record: &PaymentRecord, change: Change| -> Write<'_> {
        let record = record.clone();
        let store = &store;
        Box::pin(async move {
            Answer::Applied(
                store
                    .apply(&record, change)
                    .await
                    .map(|next| next.map(|next| next.state)),
            )
        })
    };
    let callback = |provider: &'static str,
                    event_id: &'static str,
                    payment_id: &str,
                    decision: fn(&PaymentRecord) -> CallbackDecision|
     -> Write<'_> {
        let payment_id = payment_id.to_string();
        let store = &store;
        Box::pin(async move { Answer::Callback(store.apply_callback(provider, event_id, &payment_id, decision).await) })
    };
    let fail: fn(&PaymentRecord) -> CallbackDecision = |_| CallbackDecision::Apply(failed());
    let fail_if_submitting: fn(&PaymentRecord) -> CallbackDecision = |record| {
        if record.state == PaymentState::Submitting {
            CallbackDecision::Apply(failed())
        } else {
            CallbackDecision::Ignore
        }
    };
    let note: fn(&PaymentRecord) -> CallbackDecision =
        |_| CallbackDecision::Flag("a note from the provider".to_string());
    let event = |name: &str| -> &'static str { Box::leak(format!("{run_id}-{name}").into_boxed_str()) };

    let answers = all_at_once(vec![
        apply(&a, submitting()),                                                   // 0: plain
        apply(&b, submitting()),                                                   // 1: stale record
        apply(&c, submitting()),                                                   // 2: first change of C
        apply(&c, failed()),                                                       // 3: second change of C, same record
        callback("bank_transfer", event("d"), &d.payment_id, fail),                // 4: plain callback
        callback("bank_transfer", event("e"), &e.payment_id, fail),                // 5: an event id…
        callback("bank_transfer", event("e"), &e.payment_id, fail),                // 6: …replayed in the batch
        callback("bank_transfer", event("x"), "pay_unknown", fail),                // 7: no such payment
        callback("vnpost_account", event("f"), &f.payment_id, fail),               // 8: another provider's payment
        apply(&g, submitting()),                                                   // 9: a change of G…
        callback("bank_transfer", event("g"), &g.payment_id, fail_if_submitting), // 10: …then a callback that must see it
        callback("bank_transfer", event("h"), &h.payment_id, note),               // 11: a note
        apply(&i, submitting()),                                                  // 12: changes of I and J…
        apply(&j, submitting()),                                                  // 13
        callback("bank_transfer", event("i"), &i.payment_id, fail_if_submitting), // 14: …callbacks after them…
        callback("bank_transfer", event("j"), &j.payment_id, fail_if_submitting), // 15
        callback("bank_transfer", event("j2"), &j.payment_id, fail_if_submitting), // 16: …and one after that
        callback("bank_transfer", event("k"), &k.payment_id, fail),               // 17: an event id…
        callback("bank_transfer", event("k"), &l.payment_id, fail),               // 18: …reused for another payment
    ])
    .await;

    let applied = |index: usize| match &answers[index] {
        Answer::Applied(Ok(outcome)) => *outcome,
        other => panic!("write {index}: {other:?}"),
    };
    let called = |index: usize| match &answers[index] {
        Answer::Callback(Ok(outcome)) => outcome.clone(),
        other => panic!("write {index}: {other:?}"),
    };
    assert_eq!(applied(0), Some(PaymentState::Submitting));
    assert_eq!(applied(1), None, "a stale record loses its compare-and-set");
    assert_eq!(applied(2), Some(PaymentState::Submitting));
    assert_eq!(
        applied(3),
        None,
        "the second change of C started from the record the first changed"
    );
    assert_eq!(called(4), CallbackOutcome::Applied(PaymentState::Failed));
    let mut replayed = [format!("{:?}", called(5)), format!("{:?}", called(6))];
    replayed.sort();
    assert_eq!(replayed, ["Applied(Failed)", "Duplicate"], "an event id applies once");
    assert_eq!(called(7), CallbackOutcome::UnknownPayment);
    assert_eq!(
        called(8),
        CallbackOutcome::ForAnotherProvider,
        "a provider speaks only for its own payments"
    );
    assert_eq!(applied(9), Some(PaymentState::Submitting));
    assert_eq!(
        called(10),
        CallbackOutcome::Applied(PaymentState::Failed),
        "the callback saw the change before it"
    );
    assert_eq!(called(11), CallbackOutcome::Ignored(PaymentState::Accepted));
    assert_eq!(
        (applied(12), applied(13)),
        (Some(PaymentState::Submitting), Some(PaymentState::Submitting))
    );
    assert_eq!(
        (called(14), called(15)),
        (
            CallbackOutcome::Applied(PaymentState::Failed),
            CallbackOutcome::Applied(PaymentState::Failed)
        ),
        "the callbacks saw the changes before them"
    );
    assert_eq!(
        called(16),
        CallbackOutcome::Ignored(PaymentState::Failed),
        "the third write of J saw the second"
    );
    // Written alone, the second is a duplicate of the event: the batch applied both.
    let mut reused = [format!("{:?}", called(17)), format!("{:?}", called(18))];
    reused.sort();
    assert_eq!(reused, ["Applied(Failed)", "Duplicate"], "an event id applies once");

    // A batch with an illegal change runs again one by one: the illegal change fails alone.
    let again = all_at_once(vec![
        apply(&h, Change::to(PaymentState::Pending, "illegal from accepted")),
        callback("bank_transfer", event("h2"), &h.payment_id, fail),
    ])
    .await;
    assert!(
        matches!(again[0], Answer::Applied(Err(_))),
        "an illegal transition fails: {:?}",
        again[0]
    );
    assert!(
        matches!(
            again[1],
            Answer::Callback(Ok(CallbackOutcome::Applied(PaymentState::Failed)))
        ),
        "the rest of its batch is written: {:?}",
        again[1]
    );

    let state = |record: &PaymentRecord| {
        let store = &store;
        let id = record.payment_id.clone();
        async move { store.payment(&id).await.unwrap().unwrap() }
    };
    assert_eq!(state(&a).await.state, PaymentState::Submitting);
    assert_eq!(state(&b).await.version, b.version + 1, "B moved once, before the batch");
    assert_eq!(state(&c).await.state, PaymentState::Submitting);
    assert_eq!(state(&d).await.state, PaymentState::Failed);
    assert_eq!(state(&e).await.version, e.version + 1, "E moved once");
    assert_eq!(state(&f).await.state, PaymentState::Accepted);
    for (record, name) in [(&g, "G"), (&i, "I"), (&j, "J")] {
        let now = state(record).await;
        assert_eq!(
            (now.state, now.version),
            (PaymentState::Failed, record.version + 2),
            "{name}"
        );
    }
    assert_eq!(
        state(&h).await.version,
        h.version + 1,
        "a note and an illegal change move nothing, the callback after them does"
    );

    let pool = sqlx::AnyPool::connect(settings.database.url.expose_secret())
        .await
        .unwrap();
    let count = |sql: &'static str, id: String| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let failed_results =
        "SELECT COUNT(*) FROM outbox WHERE payment_id = $1 AND routing_key = 'result.bank_transfer.failed'";
    assert_eq!(count(failed_results, d.payment_id.clone()).await, 1);
    assert_eq!(
        count(failed_results, e.payment_id.clone()).await,
        1,
        "one result for a replayed event id"
    );
    for record in [&g, &i, &j] {
        assert_eq!(count(failed_results, record.payment_id.clone()).await, 1);
    }
    let callbacks = "SELECT COUNT(*) FROM callback_events WHERE payment_id = $1";
    assert_eq!(count(callbacks, e.payment_id.clone()).await, 1);
    assert_eq!(
        count(callbacks, f.payment_id.clone()).await,
        0,
        "another provider's callback is not kept"
    );
    assert_eq!(count(callbacks, g.payment_id.clone()).await, 1);
    assert_eq!(
        count(callbacks, j.payment_id.clone()).await,
        2,
        "both of J's events are remembered"
    );
    let notes =
        "SELECT COUNT(*) FROM payment_events WHERE payment_id = $1 AND reason_code = 'callback_contradicts_final'";
    assert_eq!(
        count(notes, h.payment_id.clone()).await,
        1,
        "the note is in H's event log"
    );
    drop(store);
    drop_database(db, &run_id).await;
}

/// A callback never builds a provider request, so it does not read the stored order back (at
/// province size the stored orders were 22% of the file pages SQLite read): with their table
/// out of reach (renamed, so any statement that reads it fails), a callback alone and
/// callbacks written together still settle their payments.
async fn callbacks_settle_payments_without_reading_their_stored_orders(db: Db) {
    let run_id = gateway::demo::stack::new_run_id();
    let (settings, store) = store_for_one_batch(db, &run_id).await;
    let mut records = Vec::new();
    for _ in 0..3 {
        let payment_id = claim_fresh(&store, &settings, &bank_order(500_000), "bank_transfer").await;
        let record = store.payment(&payment_id).await.unwrap().unwrap();
        assert!(record.order_json.is_some(), "a lookup by id reads the stored order");
        let submitting = Change::to(PaymentState::Submitting, "about to send");
        records.push(store.apply(&record, submitting).await.unwrap().unwrap());
    }
    let pool = sqlx::AnyPool::connect(settings.database.url.expose_secret())
        .await
        .unwrap();
    sqlx::query("ALTER TABLE payment_orders RENAME TO payment_orders_out_of_reach")
        .execute(&pool)
        .await
        .unwrap();

    let fail: fn(&PaymentRecord) -> CallbackDecision = |_| CallbackDecision::Apply(failed());
    let event = |name: &str| format!("{run_id}-order-gone-{name}");
    let alone = store
        .apply_callback("bank_transfer", &event("a"), &records[0].payment_id, fail)
        .await;
    assert_eq!(
        alone.unwrap(),
        CallbackOutcome::Applied(PaymentState::Failed),
        "a callback alone"
    );
    let together = all_at_once(vec![
        store.apply_callback("bank_transfer", &event("b"), &records[1].payment_id, fail),
        store.apply_callback("bank_transfer", &event("c"), &records[2].payment_id, fail),
    ])
    .await;
    for outcome in together {
        assert_eq!(
            outcome.unwrap(),
            CallbackOutcome::Applied(PaymentState::Failed),
            "callbacks written together"
        );
    }
    pool.close().await;
    drop(store);
    drop_database(db, &run_id).await;
}

/// A new payment moved to `submitting`, and another left `accepted`.
async fn a_sent_payment_and_another(
    store: &gateway::store::Store,
    settings: &gateway::config::Settings,
) -> (PaymentRecord, PaymentRecord) {
    let payment_id = claim_fresh(store, settings, &bank_order(500_000), "bank_transfer").await;
    let accepted = store.payment(&payment_id).await.unwrap().unwrap();
    let sent = store
        .apply(&accepted, Change::to(PaymentState::Submitting, "about to send"))
        .await
        .unwrap()
        .unwrap();
    let other_id = claim_fresh(store, settings, &bank_order(510_000), "bank_transfer").await;
    (sent, store.payment(&other_id).await.unwrap().unwrap())
}

/// A write that fails (an illegal transition of `accepted` `other`), so that its batch is
/// written again one by one.
fn an_illegal_change<'a>(store: &'a gateway::store::Store, other: &'a PaymentRecord) -> Write<'a> {
    Box::pin(async move {
        Answer::Applied(
            store
                .apply(other, Change::to(PaymentState::Pending, "illegal from accepted"))
                .await
                .map(|next| next.map(|next| next.state)),
        )
    })
}

/// A callback that came before the dispatcher's change of the same payment, both decided on
/// the same record, goes first whether its batch is written together or — because another
/// write of the batch fails — one by one: the payment ends the same either way. (Written
/// together, changes went first, so the bank's "paid" callback lost to a "failed" change
/// there and won one by one.)
async fn a_callback_before_a_change_of_its_payment_goes_first_written_together_or_one_by_one(db: Db) {
    let run_id = gateway::demo::stack::new_run_id();
    let (settings, store) = store_for_one_batch(db, &run_id).await;
    let succeed_if_sent: fn(&PaymentRecord) -> CallbackDecision = |record| {
        if record.state == PaymentState::Submitting {
            CallbackDecision::Apply(Change::to(PaymentState::Succeeded, "the bank booked it"))
        } else {
            CallbackDecision::Ignore
        }
    };
    for another_write_fails in [false, true] {
        let (sent, other) = a_sent_payment_and_another(&store, &settings).await;
        let payment_id = sent.payment_id.clone();
        let event = format!("{run_id}-{another_write_fails}");
        let mut writes: Vec<Write<'_>> = vec![
            Box::pin(async {
                Answer::Callback(
                    store
                        .apply_callback("bank_transfer", &event, &payment_id, succeed_if_sent)
                        .await,
                )
            }),
            Box::pin(async {
                Answer::Applied(
                    store
                        .apply(&sent, failed())
                        .await
                        .map(|next| next.map(|next| next.state)),
                )
            }),
        ];
        if another_write_fails {
            writes.push(an_illegal_change(&store, &other));
        }
        let answers = all_at_once(writes).await;
        assert!(
            matches!(
                answers[0],
                Answer::Callback(Ok(CallbackOutcome::Applied(PaymentState::Succeeded)))
            ),
            "another write fails: {another_write_fails}: {answers:?}"
        );
        assert!(
            matches!(answers[1], Answer::Applied(Ok(None))),
            "the change decided on the record before the callback loses: {answers:?}"
        );
        let after = store.payment(&payment_id).await.unwrap().unwrap();
        assert_eq!(
            after.state,
            PaymentState::Succeeded,
            "another write fails: {another_write_fails}"
        );
    }
    drop(store);
    drop_database(db, &run_id).await;
}

/// A callback that came after the dispatcher's change of the same payment goes after it even
/// when that change dead-letters the order (which is written on its own, not with the batch's
/// plain changes): one by one the change goes first, so together it must too. (Written
/// together, such a change did not count as changing its payment, the callback went first in
/// the batch's changes, and the change then lost its compare-and-set: the payment ended
/// `failed` with no dead letter together and `needs_review` with one one by one.)
async fn a_callback_after_a_dead_lettering_change_of_its_payment_goes_after_it_written_together_or_one_by_one(db: Db) {
    let run_id = gateway::demo::stack::new_run_id();
    let (settings, store) = store_for_one_batch(db, &run_id).await;
    let fail_if_sent: fn(&PaymentRecord) -> CallbackDecision = |record| {
        if record.state == PaymentState::Submitting {
            CallbackDecision::Apply(failed())
        } else {
            CallbackDecision::Ignore
        }
    };
    for another_write_fails in [false, true] {
        let (sent, other) = a_sent_payment_and_another(&store, &settings).await;
        let payment_id = sent.payment_id.clone();
        let event = format!("{run_id}-{another_write_fails}");
        let mut to_review = Change::to(PaymentState::NeedsReview, "no answer after every inquiry")
            .reason("unknown_outcome", "the provider never said");
        to_review.dead_letter = Some("unknown_outcome");
        let mut writes: Vec<Write<'_>> = vec![
            Box::pin(async {
                Answer::Applied(
                    store
                        .apply(&sent, to_review)
                        .await
                        .map(|next| next.map(|next| next.state)),
                )
            }),
            Box::pin(async {
                Answer::Callback(
                    store
                        .apply_callback("bank_transfer", &event, &payment_id, fail_if_sent)
                        .await,
                )
            }),
        ];
        if another_write_fails {
            writes.push(an_illegal_change(&store, &other));
        }
        let answers = all_at_once(writes).await;
        assert!(
            matches!(answers[0], Answer::Applied(Ok(Some(PaymentState::NeedsReview)))),
            "another write fails: {another_write_fails}: {answers:?}"
        );
        assert!(
            matches!(
                answers[1],
                Answer::Callback(Ok(CallbackOutcome::Ignored(PaymentState::NeedsReview)))
            ),
            "the callback sees the change before it: {answers:?}"
        );
        let after = store.payment(&payment_id).await.unwrap().unwrap();
        assert_eq!(
            after.state,
            PaymentState::NeedsReview,
            "another write fails: {another_write_fails}"
        );
    }
    let pool = sqlx::AnyPool::connect(settings.database.url.expose_secret())
        .await
        .unwrap();
    let dead: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE kind = 'dead_letter' AND headers LIKE '%unknown_outcome%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(dead, 2, "each payment's change dead-lettered its order");
    pool.close().await;
    drop(store);
    drop_database(db, &run_id).await;
}

/// What ops hear of a callback (a reversal of a final payment, another provider's callback) is
/// counted once, when it is committed — though a batch with a failing write runs its writes a
/// second time, each in a savepoint. So are the writer's own figures: what writing together
/// left alone counts only once that pass commits, and this one was rolled back.
#[test]
fn what_ops_hear_of_a_callback_is_counted_once_though_its_batch_runs_twice() {
    let counted = counts_while(a_batch_that_runs(Some(Change::to(
        PaymentState::Pending,
        "illegal from accepted",
    ))));
    assert_eq!(counted("gateway_callbacks_contradicting_final_total"), Some(1));
    assert_eq!(counted("gateway_callbacks_for_another_provider_total"), Some(1));
    assert_eq!(
        counted("gateway_store_callbacks_alone_total"),
        None,
        "the pass that left the reversal alone was rolled back"
    );
}

/// The writer's count of callbacks that writing together left alone (here a reversal, which is
/// written on its own) is made once that pass commits.
#[test]
fn what_a_committed_batch_left_alone_is_counted_once_and_its_stages_are_timed() {
    let counted = counts_while(a_batch_that_runs(None));
    assert_eq!(counted("gateway_store_callbacks_alone_total"), Some(1));
    assert_eq!(counted("gateway_callbacks_contradicting_final_total"), Some(1));
    let batches = counted("gateway_store_batch_seconds").unwrap_or(0);
    assert!(batches > 0);
    assert_eq!(
        counted("gateway_store_together_seconds"),
        Some(3 * batches),
        "each batch times its claims, changes and reservations written together"
    );
}

/// Runs `work` on a runtime of this thread with a recorder local to the thread (the writer runs
/// on it too, so the recorder sees every count), and returns a lookup by name of the counters
/// (their sum over labels) and histograms (how many samples).
pub(crate) fn counts_while(work: impl std::future::Future<Output = ()>) -> impl Fn(&str) -> Option<u64> {
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || runtime.block_on(work));
    // One snapshot: taking one resets the counters it reports.
    let snapshot = snapshotter.snapshot().into_vec();
    move |name: &str| {
        snapshot
            .iter()
            .filter(|(key, _, _, _)| key.key().name() == name)
            .filter_map(|(_, _, _, value)| match value {
                metrics_util::debugging::DebugValue::Counter(count) => Some(*count),
                metrics_util::debugging::DebugValue::Histogram(samples) => Some(samples.len() as u64),
                metrics_util::debugging::DebugValue::Gauge(_) => None,
            })
            .reduce(|sum, count| sum + count)
    }
}

/// A reversal of a succeeded payment and another provider's callback in one batch, with
/// `failing` (an illegal change) if given: that fails the batch, which then runs again with a
/// savepoint per write.
async fn a_batch_that_runs(failing: Option<Change>) {
    let run_id = gateway::demo::stack::new_run_id();
    let (settings, store) = store_for_one_batch(Db::Sqlite, &run_id).await;
    let mut records = Vec::new();
    for _ in 0..3 {
        let payment_id = claim_fresh(&store, &settings, &bank_order(500_000), "bank_transfer").await;
        records.push(store.payment(&payment_id).await.unwrap().unwrap());
    }
    let [paid, other, accepted] = <[PaymentRecord; 3]>::try_from(records).unwrap();
    let submitting = store
        .apply(&paid, Change::to(PaymentState::Submitting, "about to send"))
        .await
        .unwrap()
        .unwrap();
    store
        .apply(&submitting, Change::to(PaymentState::Succeeded, "the bank booked it"))
        .await
        .unwrap()
        .unwrap();
    let reverse: fn(&PaymentRecord) -> CallbackDecision =
        |_| CallbackDecision::Reverse("the bank now says it failed".to_string());
    let fail: fn(&PaymentRecord) -> CallbackDecision = |_| CallbackDecision::Apply(failed());
    let reversal_event = format!("{run_id}-reversal");
    let other_event = format!("{run_id}-other");
    let mut writes = vec![
        Box::pin(async {
            Answer::Callback(
                store
                    .apply_callback("bank_transfer", &reversal_event, &paid.payment_id, reverse)
                    .await,
            )
        }) as Write<'_>,
        Box::pin(async {
            Answer::Callback(
                store
                    .apply_callback("vnpost_account", &other_event, &other.payment_id, fail)
                    .await,
            )
        }),
    ];
    let fails = failing.is_some();
    if let Some(illegal) = failing {
        writes.push(Box::pin(async {
            Answer::Applied(
                store
                    .apply(&accepted, illegal)
                    .await
                    .map(|next| next.map(|next| next.state)),
            )
        }));
    }
    let mut answers = all_at_once(writes).await.into_iter();
    let (reversal, for_another) = (answers.next().unwrap(), answers.next().unwrap());
    if fails {
        let broken = answers.next().unwrap();
        assert!(
            matches!(broken, Answer::Applied(Err(_))),
            "the illegal change fails: {broken:?}"
        );
    }
    assert!(
        matches!(
            reversal,
            Answer::Callback(Ok(CallbackOutcome::Reversal(PaymentState::Succeeded)))
        ),
        "{reversal:?}"
    );
    assert!(
        matches!(for_another, Answer::Callback(Ok(CallbackOutcome::ForAnotherProvider))),
        "{for_another:?}"
    );
    drop(store);
    drop_database(Db::Sqlite, &run_id).await;
}
