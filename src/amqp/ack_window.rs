//! Which deliveries one `basic.ack` with `multiple = true` may cover. Claims finish out of
//! order; an ack covers every outstanding delivery up to its tag, so it may only go up to just
//! below the oldest delivery still being claimed. Nacked deliveries are settled on their own
//! and are no longer outstanding, so an ack past them is fine.

use std::collections::BTreeSet;

/// The deliveries of one channel between arrival and ack.
#[derive(Debug, Default)]
pub struct AckWindow {
    /// Tags whose claim has not finished.
    in_flight: BTreeSet<u64>,
    /// Tags whose claim committed, not acked yet.
    to_ack: BTreeSet<u64>,
}

impl AckWindow {
    /// A delivery arrived and its claim started.
    pub fn started(&mut self, tag: u64) {
        self.in_flight.insert(tag);
    }

    /// The claim of `tag` finished: `ack` when it committed (else it was nacked on its own).
    /// Returns the tag to ack with `multiple = true`, when one became due.
    pub fn settled(&mut self, tag: u64, ack: bool) -> Option<u64> {
        self.in_flight.remove(&tag);
        if ack {
            self.to_ack.insert(tag);
        }
        let oldest_in_flight = self.in_flight.first().copied().unwrap_or(u64::MAX);
        let due = self.to_ack.range(..oldest_in_flight).next_back().copied()?;
        self.to_ack = self.to_ack.split_off(&(due + 1));
        Some(due)
    }

    /// Nothing is waiting for its claim or its ack.
    pub fn is_empty(&self) -> bool {
        self.in_flight.is_empty() && self.to_ack.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ack_covers_a_run_only_once_every_older_delivery_is_settled() {
        let mut window = AckWindow::default();
        (1..=4).for_each(|tag| window.started(tag));
        // 2 and 3 committed, 1 is still being claimed: nothing may be acked yet.
        assert_eq!(window.settled(2, true), None);
        assert_eq!(window.settled(3, true), None);
        // 1 committed: one ack covers 1, 2 and 3; 4 is still in flight.
        assert_eq!(window.settled(1, true), Some(3));
        // 4 was nacked on its own: nothing left to ack.
        assert_eq!(window.settled(4, false), None);
        assert!(window.is_empty());
    }

    #[test]
    fn an_ack_may_pass_a_nacked_delivery_but_never_one_in_flight() {
        let mut window = AckWindow::default();
        (10..=13).for_each(|tag| window.started(tag));
        assert_eq!(window.settled(10, false), None);
        assert_eq!(window.settled(12, true), None);
        assert_eq!(window.settled(11, true), Some(12));
        window.started(14);
        assert_eq!(window.settled(14, true), None);
        assert_eq!(window.settled(13, true), Some(14));
        assert!(window.is_empty());
    }
}
