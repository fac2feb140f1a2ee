//! The deterministic payment id: the same idempotency key always gives the same id, so a
//! redelivered order, a retry and a resubmission after an inquiry all carry one provider key.

use gateway_adapter::PaymentId;
use sha2::{Digest, Sha256};

/// `pay_` followed by 28 hex digits of SHA-256 over the idempotency key: short enough for
/// every provider's request-id field (32 characters), and stable across processes.
pub fn payment_id_for(idempotency_key: &str) -> PaymentId {
    let digest = Sha256::digest(format!("payout-gateway/payment-id/v1\n{idempotency_key}").as_bytes());
    PaymentId::from_stored(format!("pay_{}", &hex::encode(digest)[..28]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_gives_the_same_id() {
        assert_eq!(payment_id_for("TB-2026-11-000001"), payment_id_for("TB-2026-11-000001"));
        assert_ne!(payment_id_for("TB-2026-11-000001"), payment_id_for("TB-2026-11-000002"));
        assert_eq!(payment_id_for("x").as_str().len(), 32);
    }
}
