//! A payment's life: its states, the transitions between them, and the result messages they publish.

pub mod callback;
pub mod id;
pub mod lifecycle;
pub mod result;
pub mod state;

pub use id::payment_id_for;
pub use result::{ResultMessage, ResultStatus};
pub use state::PaymentState;
