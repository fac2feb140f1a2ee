//! Ids the adapters send to providers, kept within the providers' documented 32 characters.

use sha2::{Digest, Sha256};

use crate::domain::PaymentId;

/// The longest request id the provider contracts allow (`requestId`, `request_id`,
/// `client_reference`). A payment id (`pay_` + 28 hex digits) is exactly this long.
pub const MAX_REQUEST_ID_CHARS: usize = 32;

/// A request id of its own for a call about `payment_id` that must not reuse the payment's
/// idempotency key (a wallet's name inquiry): `prefix` + the hex SHA-256 of the payment id,
/// cut to [`MAX_REQUEST_ID_CHARS`]. The same payment always gets the same id, and a prefix
/// other than `pay_` never collides with a payment id.
pub fn derived_request_id(prefix: &str, payment_id: &PaymentId) -> String {
    let digest = hex::encode(Sha256::digest(payment_id.as_str().as_bytes()));
    let mut id = String::with_capacity(MAX_REQUEST_ID_CHARS);
    id.push_str(prefix);
    id.extend(digest.chars().take(MAX_REQUEST_ID_CHARS.saturating_sub(prefix.len())));
    id.truncate(MAX_REQUEST_ID_CHARS);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_derived_id_is_32_characters_deterministic_and_not_the_payment_id() {
        let payment = PaymentId::from_stored("pay_1f0c4d0b6c1e2b4a9d8e7f6a5b4c");
        let id = derived_request_id("inq_", &payment);
        assert_eq!(id.len(), MAX_REQUEST_ID_CHARS);
        assert!(id.starts_with("inq_"));
        assert_eq!(id, derived_request_id("inq_", &payment));
        assert_ne!(id, derived_request_id("inq_", &PaymentId::from_stored("pay_other")));
        // "inq_" + the first 28 hex digits of SHA-256("pay_01J9Z8ZKQ2"), computed with Python.
        assert_eq!(
            derived_request_id("inq_", &PaymentId::from_stored("pay_01J9Z8ZKQ2")),
            "inq_88ae7e7e517bc8545062d8c973f8"
        );
    }
}
