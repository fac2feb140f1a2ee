//! Intake of a batch manifest: recorded, a duplicate, a conflict (dead letter) or, when
//! invalid, a `batch.rejected` result and a dead letter `invalid` — committed before the ack.

use gateway_adapter::Invalid;

use super::manifest::parse_manifest;
use crate::intake::{bounded_id, Intake, IntakeError};
use crate::store::{ManifestOutcome, StoreError, StoredProperties};

impl Intake {
    /// Validates and stores one manifest; like [`Intake::take`], returns only after the store
    /// committed, and an error means nothing was stored.
    pub async fn take_manifest(&self, body: &[u8], properties: &StoredProperties) -> Result<(), IntakeError> {
        let taken = match parse_manifest(body) {
            Err(invalid) => self.reject_manifest(body, properties, &invalid).await,
            Ok(manifest) => match self.store.record_manifest(&manifest, body, properties).await {
                Ok(outcome) => {
                    let label = match outcome {
                        ManifestOutcome::Recorded => "recorded",
                        ManifestOutcome::Duplicate => "duplicate",
                        ManifestOutcome::Conflict => "conflict",
                    };
                    metrics::counter!("gateway_batch_manifests_total", "outcome" => label).increment(1);
                    tracing::info!(batch_id = %manifest.batch_id.as_str(), outcome = label, "Took a batch manifest.");
                    Ok(())
                }
                Err(StoreError::Unstorable(error)) => {
                    tracing::error!(batch_id = %manifest.batch_id.as_str(), error = %error, "The store refuses a valid batch manifest; it is rejected.");
                    let invalid = Invalid::new(
                        "unstorable_manifest",
                        "the gateway's store refuses this manifest's data; check the manifest",
                    );
                    self.reject_manifest(body, properties, &invalid).await
                }
                Err(error) => Err(error),
            },
        };
        self.relay_wake.notify_one();
        taken.map_err(|error| match error {
            StoreError::Unavailable(_) => IntakeError::StoreUnavailable(error),
            StoreError::Unstorable(_) => IntakeError::Unstorable(error),
        })
    }

    async fn reject_manifest(
        &self,
        body: &[u8],
        properties: &StoredProperties,
        invalid: &Invalid,
    ) -> Result<(), StoreError> {
        // The first JSON value of the body, so that a manifest with bytes after it still
        // names its batch.
        let batch_id = serde_json::Deserializer::from_slice(body)
            .into_iter::<serde_json::Value>()
            .next()
            .and_then(Result::ok)
            .and_then(|value| value.get("batch_id").and_then(|id| id.as_str()).map(bounded_id))
            .unwrap_or_default();
        tracing::info!(batch_id = %batch_id.escape_debug(), code = invalid.code, reason = %invalid.message, "Rejected an invalid batch manifest.");
        let stored = match self.store.reject_manifest(&batch_id, invalid, body, properties).await {
            // An id the store cannot keep (a NUL byte in PostgreSQL text): store it without.
            Err(StoreError::Unstorable(_)) if !batch_id.is_empty() => {
                self.store.reject_manifest("", invalid, body, properties).await
            }
            other => other,
        };
        // Counted once written: a redelivery after a store outage is not a second rejection.
        if stored.is_ok() {
            metrics::counter!("gateway_batch_manifests_total", "outcome" => "rejected").increment(1);
        }
        stored
    }
}
