//! The results reader of `gateway bench`: reads `payments.results` as it fills, keeps each
//! order's final result by its index (O(1) per message, no scans), and counts how many
//! times each result row was published.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions};
use lapin::types::FieldTable;
use serde::Deserialize;

use super::progress::Counters;
use super::workload::OrderIds;
use crate::amqp;
use crate::config::AmqpSettings;
use crate::payment::ResultStatus;

/// The results reader's consumer tag.
const CONSUMER_TAG: &str = "bench-results";

/// When the final result of one order arrived, and what it said.
#[derive(Clone, Debug, PartialEq)]
pub struct Arrival {
    pub at: Instant,
    pub status: ResultStatus,
    /// The `seq` of the first final result (a republished final has the same `seq`).
    pub seq: i64,
    /// `seq`s of further, different final results: any is a problem.
    pub other_final_seqs: Vec<i64>,
}

impl Arrival {
    /// Distinct final results of the order (1 when all is well).
    pub fn final_results(&self) -> usize {
        1 + self.other_final_seqs.len()
    }
}

/// The fields of a result message the bench needs; the rest is not parsed.
#[derive(Deserialize)]
struct ResultHead<'a> {
    #[serde(borrow)]
    order_id: Cow<'a, str>,
    status: ResultStatus,
    #[serde(rename = "final")]
    is_final: bool,
    seq: i64,
}

/// Distinct (order, seq) pairs in O(1) per message: one bit per `seq` below 64 for each
/// order, a set for the rare higher ones.
#[derive(Debug, Default)]
pub struct DistinctResults {
    low: Vec<u64>,
    high: HashSet<(usize, i64)>,
    count: usize,
}

impl DistinctResults {
    pub fn new(orders: usize) -> Self {
        Self {
            low: vec![0; orders],
            ..Self::default()
        }
    }

    /// Records (order `index`, `seq`); true when it was not seen before.
    pub fn insert(&mut self, index: usize, seq: i64) -> bool {
        let new = match (self.low.get_mut(index), u32::try_from(seq)) {
            (Some(bits), Ok(seq)) if seq < 64 => {
                let bit = 1u64 << seq;
                let new = *bits & bit == 0;
                *bits |= bit;
                new
            }
            _ => self.high.insert((index, seq)),
        };
        self.count += usize::from(new);
        new
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// What the reader saw.
#[derive(Debug)]
pub struct Collected {
    /// Each order's final result, by order index.
    pub arrivals: Vec<Option<Arrival>>,
    /// This run's result messages read, until the last final one arrived and the reader's
    /// settling time after it (see [`start`]).
    pub messages: usize,
    /// Distinct (order, seq) pairs among them.
    pub distinct: usize,
}

/// The reader's state, fed one message body at a time.
pub struct Collector {
    ids: OrderIds,
    arrivals: Vec<Option<Arrival>>,
    distinct: DistinctResults,
    messages: usize,
    finals: usize,
    counters: Arc<Counters>,
}

impl Collector {
    pub fn new(ids: OrderIds, orders: usize, counters: Arc<Counters>) -> Self {
        Self {
            ids,
            arrivals: vec![None; orders],
            distinct: DistinctResults::new(orders),
            messages: 0,
            finals: 0,
            counters,
        }
    }

    /// Takes one result message read at `at`. Messages that are not results of this run's
    /// orders (a batch result, someone else's order) are only counted.
    pub fn take(&mut self, body: &[u8], at: Instant) {
        let Ok(head) = serde_json::from_slice::<ResultHead>(body) else {
            return;
        };
        let Some(index) = self
            .ids
            .index_of(&head.order_id)
            .filter(|index| *index < self.arrivals.len())
        else {
            return;
        };
        self.messages += 1;
        self.distinct.insert(index, head.seq);
        if !head.is_final {
            return;
        }
        match &mut self.arrivals[index] {
            Some(arrival) => {
                if arrival.seq != head.seq && !arrival.other_final_seqs.contains(&head.seq) {
                    arrival.other_final_seqs.push(head.seq);
                }
            }
            empty => {
                *empty = Some(Arrival {
                    at,
                    status: head.status,
                    seq: head.seq,
                    other_final_seqs: Vec::new(),
                });
                self.finals += 1;
                self.counters.finals.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Every order has its final result.
    pub fn done(&self) -> bool {
        self.finals == self.arrivals.len()
    }

    pub fn finish(self) -> Collected {
        Collected {
            arrivals: self.arrivals,
            messages: self.messages,
            distinct: self.distinct.len(),
        }
    }
}

/// The results reader: its task, and a signal that every order has its final result (or that
/// the reader stopped without them).
pub struct Reader {
    pub task: tokio::task::JoinHandle<anyhow::Result<Collected>>,
    pub all_final: tokio::sync::oneshot::Receiver<()>,
}

/// Starts reading the results queue (declaring the topology first, so nothing published
/// before the gateway starts is lost); the task ends `settle` after every order has its final
/// result (what comes meanwhile — a result published twice, a second final — is counted too;
/// `Reader::all_final` fires before it), or when `timeout` has passed.
pub async fn start(
    connection: &lapin::Connection,
    settings: &AmqpSettings,
    mut collector: Collector,
    timeout: Duration,
    settle: Duration,
) -> anyhow::Result<Reader> {
    let reader = connection.create_channel().await?;
    amqp::topology::declare(&reader, settings).await?;
    let mut deliveries = reader
        .basic_consume(
            settings.results_queue.as_str().into(),
            CONSUMER_TAG.into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let (all_final, signal) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + timeout;
        while !collector.done() {
            let Ok(Some(delivery)) = tokio::time::timeout_at(deadline, deliveries.next()).await else {
                break;
            };
            let at = Instant::now();
            collector.take(&delivery?.data, at);
        }
        if collector.done() {
            let _ = all_final.send(());
            let settled = tokio::time::Instant::now() + settle;
            while let Ok(Some(delivery)) = tokio::time::timeout_at(settled, deliveries.next()).await {
                collector.take(&delivery?.data, Instant::now());
            }
        }
        // Cancel while the consumer is alive, so dropping it sends no second cancel.
        reader
            .basic_cancel(CONSUMER_TAG.into(), BasicCancelOptions::default())
            .await?;
        drop(deliveries);
        let _ = reader.close(200, "done".into()).await;
        anyhow::Ok(collector.finish())
    });
    Ok(Reader {
        task,
        all_final: signal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(order_id: &str, status: &str, is_final: bool, seq: i64) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "order_id": order_id, "payment_id": "p", "status": status, "final": is_final, "seq": seq,
            "channel": "bank_transfer", "amount": 1_000_000, "provider_ref": null, "reason_code": null,
            "reason": null, "attempts": 1, "occurred_at": "2026-12-02T00:00:00Z",
        }))
        .expect("json")
    }

    #[test]
    fn each_order_keeps_its_first_final_result_and_repeats_are_counted_once() {
        let ids = OrderIds::new("run");
        let mut collector = Collector::new(ids.clone(), 2, Arc::new(Counters::default()));
        let start = Instant::now();
        let later = start + Duration::from_millis(40);
        collector.take(&result(&ids.id(0), "accepted", false, 1), start);
        collector.take(&result(&ids.id(0), "succeeded", true, 3), start);
        collector.take(&result(&ids.id(0), "succeeded", true, 3), later);
        assert!(!collector.done());
        collector.take(&result(&ids.id(1), "failed", true, 2), later);
        collector.take(&result(&ids.id(1), "succeeded", true, 4), later);
        collector.take(&result("BENCH-other-0000001", "succeeded", true, 1), later);
        collector.take(&result(&ids.id(2), "succeeded", true, 1), later);
        collector.take(b"{\"batch_id\":\"B\"}", later);
        assert!(collector.done());
        let collected = collector.finish();
        // Only this run's results: another run's order, an order past this run's count and a
        // batch result are not results of this run (counting them put rows in the numerator
        // of publishes per result row that the denominator never had).
        assert_eq!(collected.messages, 5);
        assert_eq!(collected.distinct, 4);
        let first = collected.arrivals[0].as_ref().expect("order 0 final");
        assert_eq!(
            (first.at, first.status, first.final_results()),
            (start, ResultStatus::Succeeded, 1)
        );
        let second = collected.arrivals[1].as_ref().expect("order 1 final");
        assert_eq!((second.status, second.final_results()), (ResultStatus::Failed, 2));
    }

    #[test]
    fn distinct_results_count_each_order_and_seq_once_at_any_seq() {
        let mut distinct = DistinctResults::new(3);
        assert!(distinct.is_empty());
        assert!(distinct.insert(0, 1));
        assert!(!distinct.insert(0, 1));
        assert!(distinct.insert(1, 1));
        assert!(distinct.insert(1, 63));
        assert!(distinct.insert(1, 64));
        assert!(!distinct.insert(1, 64));
        assert!(distinct.insert(2, -1));
        assert!(distinct.insert(7, 1));
        assert_eq!(distinct.len(), 6);
    }
}
