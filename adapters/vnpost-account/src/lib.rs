//! vnpost-account channel: being written; see the issue tracker.
