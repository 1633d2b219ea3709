//! Learning from feedback: what users clicked, kept and weighted by age,
//! and (next) the model trained on it.
//!
//! | file | what it owns |
//! |---|---|
//! | `feedback_log.rs` | the ring of recent sessions, decay by age, item deletion, purge, its byte codec |

pub mod feedback_log;

pub use feedback_log::{FeedbackLog, FeedbackSettings, Session};
