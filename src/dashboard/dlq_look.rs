//! The dead-letter queue as the dashboard shows it: its depth (a passive `queue.declare`,
//! exact and cheap) and the reasons of at most `dashboard.dlq_peek_max` messages from its head
//! (read with `basic_get` and returned unacked, as `gateway dlq list` does). One look is reused
//! for `dashboard.dlq_refresh_ms`, however many pages ask, so the queue is not read every few
//! seconds per viewer.
//!
//! What a look costs: each message read counts as a delivery on the quorum queue (its
//! `x-delivery-count` goes up; the DLQ has no delivery limit, so nothing is dropped) and may
//! come back in another order; while a look runs, a `gateway dlq replay` started at the same
//! moment may not see the messages the look holds. Set `dlq_peek_max = 0` for the depth only.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use serde::Serialize;

use crate::amqp;
use crate::config::AmqpSettings;
use crate::dlq::DlqReader;

/// The longest one look may take before the dashboard shows it as failed, unless the summary's
/// own bound (inside the listener's request timeout) is shorter.
const LOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// One look at the DLQ.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DlqLook {
    pub queue: String,
    /// Messages in the queue (ready; messages another client holds unacked are not counted).
    pub depth: Option<u32>,
    /// Reasons of the messages read (`invalid`, `unknown_outcome`, `delivery_limit`, …).
    pub by_reason: BTreeMap<String, u64>,
    /// How many messages were read for `by_reason`.
    pub read: u64,
    /// Whether every message in the queue was read, so `by_reason` adds up to `depth`.
    pub complete: bool,
    /// When the look was taken (RFC 3339).
    pub looked_at: String,
    /// Why the look failed, as a sentence (the broker is down, the queue does not exist).
    pub error: Option<String>,
}

/// Takes looks at the DLQ and keeps the last one for a while.
#[derive(Debug)]
pub struct DlqWatch {
    settings: AmqpSettings,
    peek_max: u32,
    refresh: Duration,
    /// The last look; the lock also makes concurrent requests share one look.
    last: tokio::sync::Mutex<Option<(Instant, DlqLook)>>,
}

impl DlqWatch {
    pub fn new(settings: AmqpSettings, peek_max: u32, refresh: Duration) -> Self {
        Self {
            settings,
            peek_max,
            refresh,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// The last look if it is recent enough, else a new one, taken within `within` at most
    /// (and [`LOOK_TIMEOUT`]).
    pub async fn look(&self, within: Duration) -> DlqLook {
        let mut last = self.last.lock().await;
        if let Some((taken, look)) = last.as_ref() {
            if taken.elapsed() < self.refresh {
                return look.clone();
            }
        }
        let looked_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let bound = within.min(LOOK_TIMEOUT);
        let look = match tokio::time::timeout(bound, self.take()).await {
            Ok(Ok(look)) => DlqLook { looked_at, ..look },
            Ok(Err(error)) => self.failed(looked_at, format!("{error:#}")),
            Err(_) => self.failed(
                looked_at,
                format!("RabbitMQ did not answer within {:.1} s", bound.as_secs_f64()),
            ),
        };
        *last = Some((Instant::now(), look.clone()));
        look
    }

    fn failed(&self, looked_at: String, error: String) -> DlqLook {
        DlqLook {
            queue: self.settings.dlq_queue.clone(),
            looked_at,
            error: Some(format!("Could not look at the dead-letter queue: {error}.")),
            ..Default::default()
        }
    }

    async fn take(&self) -> anyhow::Result<DlqLook> {
        let connection = amqp::connect(&self.settings, "ops-dashboard")
            .await
            .context("could not connect to RabbitMQ")?;
        let channel = connection.create_channel().await?;
        let passive = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let queue = channel
            .queue_declare(self.settings.dlq_queue.as_str().into(), passive, FieldTable::default())
            .await
            .with_context(|| format!("the queue {} does not exist", self.settings.dlq_queue));
        let _ = connection.close(200, "looked".into()).await;
        let depth = queue?.message_count();
        let mut look = DlqLook {
            queue: self.settings.dlq_queue.clone(),
            depth: Some(depth),
            complete: depth == 0,
            ..Default::default()
        };
        if depth == 0 || self.peek_max == 0 {
            return Ok(look);
        }
        let mut reader = DlqReader::open(&self.settings, "ops-dashboard-peek").await?;
        while look.read < u64::from(self.peek_max) {
            let Some(dead) = reader.next().await? else {
                look.complete = true;
                break;
            };
            *look.by_reason.entry(dead.reason()).or_default() += 1;
            look.read += 1;
        }
        reader.close().await?;
        look.complete = look.complete || look.read >= u64::from(depth);
        Ok(look)
    }
}
