//! A batch's claims, state changes and callbacks, written together kind by kind.
//!
//! Each statement is a round trip to the database (with SQLite, a message to sqlx's worker
//! thread and one back, each waking a sleeping thread), and that, not SQLite's own work, is what
//! a write cost. So the group commit writes the writes it knows by kind in a few multi-row
//! statements per batch: the claims (two inserts, see [`claim_together`]), then every state
//! change and every applied callback in one `UPDATE … FROM` a list of compare-and-sets, with
//! one read of the callbacks' payments and one insert of their event ids before it.
//!
//! A callback for a payment that the batch already changes (the provider's callback often comes
//! while the dispatcher's change after the submit waits for the same commit) must see that
//! change: those go together in a pass of their own after the first, which reads what it wrote.
//!
//! Only the plain cases are written here; each write left out keeps no outcome and the batch
//! then writes it on its own, as it would have alone: a second change of one payment by the
//! dispatcher, a lone callback after a change of its payment, a change with a dead letter, an
//! illegal transition, a callback that reverses a final payment, a callback whose
//! compare-and-set was lost (its event id is given back first), a change of a payment whose
//! callback came before it in the batch, a callback after a change of its payment that is
//! written on its own (so that it goes after it). Outcomes are exactly those of the writes one
//! by one.

use std::collections::{HashMap, HashSet};

use sqlx::AnyConnection;

use super::appends::Appends;
use super::callbacks::{decide_fresh, forget_callback, remember_callbacks, PendingCallback};
use super::intake::{claim_together, ClaimOutcome, PendingClaim};
use super::multi_row::parameter_list;
use super::payments::{
    append_change, next_record, update_together, Change, PaymentRecord, PendingApply, PAYMENT_COLUMNS,
};
use super::wallets::{reserve_together, PendingReservation};
use super::writer::{Pending, Stages, Together, WriteFuture};
use crate::store::{CallbackOutcome, WalletReservation};

/// `impl Pending` for a unit that the batch can write together with others of its kind: it
/// runs by its own `run`, keeps its outcome in `outcome`, and is the `Together` variant named.
macro_rules! pending_together {
    ($($unit:ident => $output:ty, $variant:ident;)*) => {$(
        impl Pending for $unit {
            type Output = $output;

            fn run<'c>(&'c mut self, connection: &'c mut AnyConnection, appends: &'c mut Appends) -> WriteFuture<'c, ()> {
                Box::pin($unit::run(self, connection, appends))
            }

            fn outcome(&mut self) -> &mut Option<$output> {
                &mut self.outcome
            }

            fn together(&mut self) -> Together<'_> {
                Together::$variant(self)
            }
        }
    )*};
}

pending_together! {
    PendingClaim => ClaimOutcome, Claim;
    PendingApply => Option<PaymentRecord>, Apply;
    PendingCallback => CallbackOutcome, Callback;
    PendingReservation => WalletReservation, Reservation;
}

/// Writes the plain ones of a batch's claims, state changes, callbacks and wallet reservations (in the batch's key
/// order within each kind) and sets their outcomes.
pub(super) async fn write_together(
    transaction: &mut AnyConnection,
    appends: &mut Appends,
    writes: Vec<Together<'_>>,
) -> Result<(), sqlx::Error> {
    let after_their_callbacks = changes_after_their_callbacks(&writes);
    let mut claims = Vec::new();
    let mut applies = Vec::new();
    let mut callbacks = Vec::new();
    let mut reservations = Vec::new();
    // Payments changed by a write left alone: what comes after it for the same payment is left
    // alone too, so that it is written after it, as one by one (the batch's alone writes go in
    // its order, after everything written together).
    let mut changed_alone = HashSet::new();
    for (index, write) in writes.into_iter().enumerate() {
        match write {
            Together::Claim(claim) => claims.push(claim),
            // Written on its own: after its callback (see `changes_after_their_callbacks`), or
            // because it dead-letters the order or moves a wallet reservation (both rare).
            Together::Apply(apply)
                if after_their_callbacks.contains(&index)
                    || apply.change.dead_letter.is_some()
                    || apply.change.wallet_month.is_some() =>
            {
                changed_alone.insert(apply.record.payment_id.as_str());
            }
            Together::Apply(apply) => applies.push(apply),
            Together::Callback(callback) if changed_alone.contains(callback.payment_id.as_str()) => {
                callback.left_alone = Some("payment_in_batch");
            }
            Together::Callback(callback) => callbacks.push(callback),
            Together::Reservation(reservation) => reservations.push(reservation),
        }
    }
    let mut stages = Stages::start("gateway_store_together_seconds");
    if claims.len() > 1 {
        claim_together(transaction, appends, &mut claims).await?;
    }
    stages.done("claims");
    if applies.len() + callbacks.len() > 1 {
        let mut later = changes_together(transaction, appends, applies, callbacks).await?;
        // A callback for a payment that the pass before changed goes in a pass of its own,
        // which reads what that pass wrote: what it would see written alone after it, in three
        // statements for all of them instead of three each.
        while later.len() > 1 {
            later = changes_together(transaction, appends, Vec::new(), later).await?;
        }
        for callback in later {
            callback.left_alone = Some("payment_in_batch");
        }
    }
    stages.done("changes");
    if reservations.len() > 1 {
        reserve_together(transaction, reservations).await?;
    }
    stages.done("reservations");
    Ok(())
}

/// The positions in `writes` of the dispatcher's changes whose payment had a callback before
/// them in this batch (a payment's units are in arrival order). One by one, that callback is
/// written first and the change, decided on the record before it, then loses its
/// compare-and-set; written together, changes go first. So that both ways end alike (a batch is
/// written one by one when any of its writes fails), such a change is left out here and written
/// on its own after, where it sees the callback's write.
fn changes_after_their_callbacks(writes: &[Together<'_>]) -> HashSet<usize> {
    let mut seen = HashSet::new();
    let mut callback_first = HashSet::new();
    let mut later = HashSet::new();
    for (index, write) in writes.iter().enumerate() {
        match write {
            Together::Apply(apply) => {
                let payment = apply.record.payment_id.as_str();
                if callback_first.contains(payment) {
                    later.insert(index);
                }
                seen.insert(payment);
            }
            Together::Callback(callback) => {
                if seen.insert(callback.payment_id.as_str()) {
                    callback_first.insert(callback.payment_id.as_str());
                }
            }
            Together::Claim(_) | Together::Reservation(_) => {}
        }
    }
    later
}

/// Whose compare-and-set a row of the batched update is.
enum Source<'b> {
    Apply(&'b mut PendingApply),
    Callback(&'b mut PendingCallback, Box<(PaymentRecord, Change)>),
}

/// The state changes and callbacks of a batch: the callbacks' payments read in one statement,
/// their event ids remembered in one, what they decide and the dispatcher's changes written in
/// one compare-and-set statement. Returns, untouched, the callbacks for a payment that this
/// pass already changes (the dispatcher's change, or an earlier callback, goes first, as it
/// would one by one).
async fn changes_together<'b>(
    transaction: &mut AnyConnection,
    appends: &mut Appends,
    applies: Vec<&'b mut PendingApply>,
    callbacks: Vec<&'b mut PendingCallback>,
) -> Result<Vec<&'b mut PendingCallback>, sqlx::Error> {
    // One write per payment here: a second must see what the first did, so it goes on its own.
    let mut payments = HashSet::new();
    let mut planned: Vec<(Source<'b>, PaymentRecord)> = Vec::new();
    for apply in applies {
        if !payments.insert(apply.record.payment_id.clone()) {
            continue;
        }
        // An illegal transition fails on its own, with its own error.
        let Ok(next) = next_record(&apply.record, &apply.change) else {
            continue;
        };
        planned.push((Source::Apply(apply), next));
    }
    let (callbacks, later): (Vec<_>, Vec<_>) = callbacks
        .into_iter()
        .partition(|callback| payments.insert(callback.payment_id.clone()));
    let decided = decide_callbacks(transaction, appends, callbacks).await?;
    for (callback, record, change) in decided {
        match next_record(&record, &change) {
            Ok(next) => planned.push((Source::Callback(callback, Box::new((record, change))), next)),
            Err(_) => {
                give_back(transaction, callback, "illegal").await?;
            }
        }
    }
    if planned.is_empty() {
        return Ok(later);
    }
    // In payment order, like the batch's units, so that every gateway's compare-and-set
    // statement takes its row locks in one global order (the list is read in order) and two
    // gateways' batches wait for each other rather than deadlock.
    planned.sort_by(|(_, a), (_, b)| a.payment_id.cmp(&b.payment_id));
    let changes: Vec<(&PaymentRecord, &PaymentRecord)> = planned
        .iter()
        .map(|(source, next)| {
            let record = match source {
                Source::Apply(apply) => &apply.record,
                Source::Callback(_, decided) => &decided.0,
            };
            (record, next)
        })
        .collect();
    let written = update_together(transaction, &changes).await?;
    drop(changes);
    for (source, next) in planned {
        let was_written = written.contains(&next.payment_id);
        match source {
            Source::Apply(apply) => {
                if was_written {
                    append_change(appends, &apply.record, &next, &apply.change)?;
                    apply.outcome = Some(Some(next));
                } else {
                    apply.outcome = Some(None);
                }
            }
            Source::Callback(callback, decided) => {
                let (record, change) = *decided;
                if was_written {
                    append_change(appends, &record, &next, &change)?;
                    callback.outcome = Some(CallbackOutcome::Applied(change.to));
                } else {
                    give_back(transaction, callback, "lost_compare_and_set").await?;
                }
            }
        }
    }
    Ok(later)
}

/// Reads the callbacks' payments, remembers the callbacks' event ids, and settles every callback
/// that needs no change (unknown payment, another provider's, a duplicate, nothing new, a note);
/// returns the ones whose decision is a change, with the record they decided on.
async fn decide_callbacks<'b>(
    transaction: &mut AnyConnection,
    appends: &mut Appends,
    callbacks: Vec<&'b mut PendingCallback>,
) -> Result<Vec<(&'b mut PendingCallback, PaymentRecord, Change)>, sqlx::Error> {
    if callbacks.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = callbacks.iter().map(|callback| callback.payment_id.as_str()).collect();
    let mut records = read_payments(transaction, &ids).await?;
    let mut known = Vec::with_capacity(callbacks.len());
    for callback in callbacks {
        match records.remove(&callback.payment_id) {
            None => callback.outcome = Some(CallbackOutcome::UnknownPayment),
            Some(record) if record.provider != callback.provider => {
                callback.outcome = Some(CallbackOutcome::ForAnotherProvider);
            }
            Some(record) => known.push((callback, record)),
        }
    }
    let remembered: Vec<&PendingCallback> = known.iter().map(|(callback, _)| &**callback).collect();
    let mut fresh = remember_callbacks(transaction, &remembered).await?;
    drop(remembered);
    let mut changes = Vec::new();
    for (callback, record) in known {
        // New for the payment it was remembered for, and only once: an event id twice in the
        // batch is a duplicate the second time, as written alone, whichever payment it names.
        let key = (
            callback.provider.clone(),
            callback.event_id.clone(),
            callback.payment_id.clone(),
        );
        if !fresh.remove(&key) {
            callback.outcome = Some(CallbackOutcome::Duplicate);
            continue;
        }
        match decide_fresh(appends, callback, &record) {
            Some(change) => changes.push((callback, record, change)),
            None if callback.outcome.is_some() => {}
            None => {
                give_back(transaction, callback, "reversal").await?;
            }
        }
    }
    Ok(changes)
}

/// Hands a callback whose event id was remembered back to the batch, to be written on its own
/// (saying why, for the writer to count once the batch commits): its event id is forgotten
/// first, so that it can be remembered again there.
async fn give_back(
    transaction: &mut AnyConnection,
    callback: &mut PendingCallback,
    why: &'static str,
) -> Result<(), sqlx::Error> {
    forget_callback(transaction, &callback.provider, &callback.event_id).await?;
    callback.outcome = None;
    callback.left_alone = Some(why);
    Ok(())
}

/// The records of `ids`, by payment id, in one statement.
async fn read_payments(
    transaction: &mut AnyConnection,
    ids: &[&str],
) -> Result<HashMap<String, PaymentRecord>, sqlx::Error> {
    let mut records = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(512) {
        let statement = format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE payment_id IN ({})",
            parameter_list(transaction, 0, chunk.len())
        );
        let mut query = sqlx::query(&statement);
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut *transaction).await? {
            let record = PaymentRecord::from_row(&row)?;
            records.insert(record.payment_id.clone(), record);
        }
    }
    Ok(records)
}
