//! Which outbox row a message the broker returned was.
//!
//! A `mandatory` message no queue takes comes back as `basic.return`, followed by its ack.
//! lapin does not say which publish a return belongs to: it hands the oldest waiting return to
//! whichever confirm it completes next, and an ack with `multiple = true` completes its tags in
//! no particular order. So a routed row's confirm can carry another row's return, and the
//! returned row's confirm a plain ack — believed, that row would be marked published and its
//! result never sent. The relay therefore takes only the *set* of returns from a round and
//! finds each one's row by what it carries: exchange, routing key, message id and body.
//! Two rows alike in all four are the same message to anyone who reads it, so either may be
//! named. A return that matches no row leaves the round's acks unbelieved.

use lapin::message::BasicReturnMessage;
use lapin::types::ShortString;

/// A message published in this round, as the broker would return it.
#[derive(Debug)]
pub struct Sent<'a> {
    pub id: i64,
    pub exchange: &'a str,
    pub routing_key: &'a str,
    pub message_id: Option<ShortString>,
    pub body: &'a [u8],
}

/// What the broker answered for one sent message, return aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Ack,
    Nack,
    /// No answer: the channel failed first.
    None,
}

/// A round's rows, settled: `confirmed` may be marked published; `returned` (with why: no
/// queue took it) and `nacked` (the broker could not take it) were refused; `open` were not
/// answered. All but `confirmed` go back to be published again.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Settled {
    pub confirmed: Vec<i64>,
    pub returned: Vec<(i64, String)>,
    pub nacked: Vec<i64>,
    pub open: Vec<i64>,
    /// Set when a return named no row of the round: then no ack of the round is believed (the
    /// rows go out again; upstream deduplicates), since any of them may be the returned one.
    pub unmatched_returns: usize,
}

/// Settles `sent` (in publish order, `answers[i]` for `sent[i]`) given every message the broker
/// returned during the round, whichever confirm carried it.
pub fn settle(sent: &[Sent<'_>], answers: &[Answer], returned: &[BasicReturnMessage]) -> Settled {
    let mut why_returned: Vec<Option<String>> = vec![None; sent.len()];
    let mut settled = Settled::default();
    for message in returned {
        let row = sent.iter().enumerate().position(|(index, sent)| {
            why_returned[index].is_none() && answers.get(index) != Some(&Answer::None) && carries(sent, message)
        });
        match row {
            Some(index) => {
                why_returned[index] = Some(format!("the broker could not route it ({})", message.reply_text));
            }
            None => settled.unmatched_returns += 1,
        }
    }
    for ((sent, answer), returned) in sent.iter().zip(answers).zip(why_returned) {
        match (answer, returned) {
            (Answer::None, _) => settled.open.push(sent.id),
            (_, Some(reason)) => settled.returned.push((sent.id, reason)),
            (Answer::Nack, None) => settled.nacked.push(sent.id),
            (Answer::Ack, None) if settled.unmatched_returns > 0 => settled.open.push(sent.id),
            (Answer::Ack, None) => settled.confirmed.push(sent.id),
        }
    }
    settled
}

/// Whether `message` is what was published as `sent`.
fn carries(sent: &Sent<'_>, message: &BasicReturnMessage) -> bool {
    let delivery = &message.delivery;
    delivery.exchange.as_str() == sent.exchange
        && delivery.routing_key.as_str() == sent.routing_key
        && delivery.properties.message_id() == &sent.message_id
        && delivery.data == sent.body
}

#[cfg(test)]
mod tests {
    use lapin::message::Delivery;
    use lapin::BasicProperties;

    use super::*;

    fn sent<'a>(id: i64, routing_key: &'a str, body: &'a [u8]) -> Sent<'a> {
        Sent {
            id,
            exchange: "payments.results",
            routing_key,
            message_id: Some(format!("order-{id}:1").into()),
            body,
        }
    }

    fn returned(of: &Sent<'_>) -> BasicReturnMessage {
        let mut delivery = Delivery::mock(0, of.exchange.into(), of.routing_key.into(), false, of.body.to_vec());
        delivery.properties = BasicProperties::default().with_message_id(
            of.message_id
                .clone()
                .unwrap_or_else(|| ShortString::from(String::new())),
        );
        BasicReturnMessage {
            delivery,
            reply_code: 312,
            reply_text: "NO_ROUTE".into(),
        }
    }

    #[test]
    fn a_return_is_the_row_it_carries_whichever_confirm_brought_it() {
        let rows = [
            sent(1, "result.bank_transfer.succeeded", b"{\"seq\":1}"),
            sent(2, "nowhere.at.all", b"{\"seq\":2}"),
            sent(3, "result.bank_transfer.failed", b"{\"seq\":3}"),
        ];
        // All three acked; the return came with the first confirm lapin completed, not row 2's.
        let settled = settle(&rows, &[Answer::Ack; 3], &[returned(&rows[1])]);
        assert_eq!(settled.confirmed, vec![1, 3]);
        assert_eq!(
            settled.returned,
            vec![(2, "the broker could not route it (NO_ROUTE)".to_string())]
        );
        assert!(settled.nacked.is_empty());
        assert!(settled.open.is_empty());
        assert_eq!(settled.unmatched_returns, 0);
    }

    #[test]
    fn two_returns_of_alike_rows_name_both_and_a_nack_is_told_apart() {
        let body = b"{\"same\":true}";
        let mut twin = sent(5, "nowhere", body);
        twin.message_id = sent(4, "nowhere", body).message_id;
        let rows = [sent(4, "nowhere", body), twin, sent(6, "result.x.pending", b"{}")];
        let settled = settle(
            &rows,
            &[Answer::Ack, Answer::Ack, Answer::Nack],
            &[returned(&rows[0]), returned(&rows[0])],
        );
        assert!(settled.confirmed.is_empty());
        let returned: Vec<i64> = settled.returned.iter().map(|(id, _)| *id).collect();
        assert_eq!(returned, vec![4, 5]);
        assert_eq!(settled.nacked, vec![6]);
    }

    #[test]
    fn a_return_that_matches_no_row_leaves_every_ack_of_the_round_unbelieved() {
        let rows = [
            sent(7, "result.a.succeeded", b"{}"),
            sent(8, "result.b.succeeded", b"[]"),
        ];
        let stranger = sent(99, "elsewhere", b"?");
        let settled = settle(&rows, &[Answer::Ack, Answer::Nack], &[returned(&stranger)]);
        assert!(settled.confirmed.is_empty(), "{settled:?}");
        assert_eq!(settled.open, vec![7]);
        assert_eq!(settled.nacked, vec![8]);
        assert_eq!(settled.unmatched_returns, 1);
    }

    #[test]
    fn rows_the_channel_never_answered_stay_open_and_take_no_return() {
        let rows = [sent(1, "nowhere", b"{}"), sent(2, "nowhere", b"[]")];
        // Row 1 has no answer (the channel broke): a return that looks like it is not taken
        // as its, so the round cannot tell which of its acks to believe.
        let settled = settle(&rows, &[Answer::None, Answer::Ack], &[returned(&rows[0])]);
        assert_eq!(settled.open, vec![1, 2]);
        assert!(settled.confirmed.is_empty());
        assert_eq!(settled.unmatched_returns, 1);
    }
}
