//! Loading an upstream payout list onto the orders queue.

mod payout_list;
mod publisher;

pub use payout_list::{read_payout_list, write_payout_list, PayoutRow};
pub use publisher::{publish_orders, PublishReport, CONFIRM_WITHIN};
