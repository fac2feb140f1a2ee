//! Whether the orders consumer and the outbox relay are connected to RabbitMQ, for
//! `/readyz/orders`. `/readyz` does not fail with the broker (the callback routes work without
//! it, and a wallet sends its callback once); this says whether orders are being taken and
//! results sent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The orders consumer's name in [`BrokerLinks`].
pub const CONSUMER: &str = "orders consumer";
/// The outbox relay's name in [`BrokerLinks`].
pub const RELAY: &str = "outbox relay";

/// The parts that hold a broker connection, and why each is not connected. Cheap to clone;
/// every clone sees the same state.
#[derive(Clone, Debug, Default)]
pub struct BrokerLinks {
    down: Arc<Mutex<BTreeMap<&'static str, String>>>,
}

impl BrokerLinks {
    /// Links for `parts`, none connected yet.
    pub fn new(parts: &[&'static str]) -> Self {
        let links = Self::default();
        for part in parts {
            links.lost(part, "not connected yet");
        }
        links
    }

    /// `part` is connected (the consumer consumes, the relay can publish).
    pub fn connected(&self, part: &'static str) {
        self.with(|down| {
            down.remove(part);
        });
    }

    /// Marks `part` connected for as long as the returned guard lives: however the run that
    /// holds it ends — an error, a panic, a stop — the part is marked lost with `why_lost`, so
    /// a run that ended never leaves its part looking connected.
    pub fn connected_while(&self, part: &'static str, why_lost: &'static str) -> Connected {
        self.connected(part);
        Connected {
            links: self.clone(),
            part,
            why_lost,
        }
    }

    /// `part` is not connected, and `why`, as a sentence without secrets.
    pub fn lost(&self, part: &'static str, why: &str) {
        self.with(|down| {
            down.insert(part, why.to_string());
        });
    }

    /// `Ok` when every part is connected; otherwise a sentence naming the ones that are not.
    pub fn verdict(&self) -> Result<(), String> {
        self.with(|down| {
            if down.is_empty() {
                return Ok(());
            }
            let parts: Vec<String> = down.iter().map(|(part, why)| format!("the {part}: {why}")).collect();
            Err(parts.join("; "))
        })
    }

    fn with<T>(&self, change: impl FnOnce(&mut BTreeMap<&'static str, String>) -> T) -> T {
        // A panic while the lock was held leaves a map that is still whole: go on with it.
        let mut down = self.down.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        change(&mut down)
    }
}

/// See [`BrokerLinks::connected_while`].
pub struct Connected {
    links: BrokerLinks,
    part: &'static str,
    why_lost: &'static str,
}

impl Connected {
    /// The part is not doing its work though its run goes on (the broker refuses results);
    /// [`Connected::working`] says when it is again.
    pub fn impaired(&self, why: &str) {
        self.links.lost(self.part, why);
    }

    /// The part does its work again.
    pub fn working(&self) {
        self.links.connected(self.part);
    }

    /// The run is ending: the part is lost now, before what the run still has to finish.
    pub fn ending(&self) {
        self.links.lost(self.part, self.why_lost);
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.ending();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_must_be_connected() {
        let links = BrokerLinks::new(&[CONSUMER, RELAY]);
        assert_eq!(
            links.verdict(),
            Err("the orders consumer: not connected yet; the outbox relay: not connected yet".to_string())
        );
        links.connected(CONSUMER);
        links.connected(RELAY);
        assert_eq!(links.verdict(), Ok(()));
        links.lost(RELAY, "reconnecting to RabbitMQ");
        assert_eq!(
            links.verdict(),
            Err("the outbox relay: reconnecting to RabbitMQ".to_string())
        );
    }

    /// A run that panicked after it connected left its part marked connected.
    #[test]
    fn a_run_that_ends_however_it_ends_leaves_its_part_lost() {
        let links = BrokerLinks::new(&[CONSUMER]);
        let ended = std::panic::catch_unwind(|| {
            let _connected = links.connected_while(CONSUMER, "reconnecting");
            assert_eq!(links.verdict(), Ok(()));
            panic!("a claim panicked");
        });
        assert!(ended.is_err());
        assert_eq!(links.verdict(), Err("the orders consumer: reconnecting".to_string()));
    }
}
