//! mobile-money channel: being written; see the issue tracker.
