//! Learning from feedback: what users clicked, kept and weighted by age,
//! the model trained on it, and the guardrails that decide whether that
//! model may rerank searches.
//!
//! | file | what it owns |
//! |---|---|
//! | `settings.rs` | the `learning` options: log size, decay, training cadence, rerank depth, explore share |
//! | `fast_hash.rs` | the keyed fast hash of the maps a search reads per candidate |
//! | `feedback_log.rs` | the ring of recent sessions, decay by age, item deletion, purge, its byte codec |
//! | `communities.rs` | Louvain communities of the co-click graph: the intents clicks reveal |
//! | `metric.rs` | the learned metric `T`: Fisher's discriminant over those communities |
//! | `evidence.rs` | what clicks say: position bias, the blend fit, the guardrail's AUC test |
//! | `trainer.rs` | a training pass: pairwise-trained item encodings, message passing, memory, blend and guardrail |
//! | `metric_part.rs` | the metric's part of a model: `T` and every item's encoding by slot |
//! | `model.rs` | the trained model a search reads: encodings, query memory, blend; its byte codec |
//! | `intents.rs` | a pass's co-click communities and the metric fitted over them |
//! | `interleave.rs` | team-draft interleaving of base and learned rankings, and its tallies |
//! | `learner.rs` | `Learner`: log, serving model, training cadence, publishing and rollback |
//! | `priority.rs` | the trainer's threads at the OS's lowest CPU priority |
//! | `stats.rs` | `LearningStats`, what `learningStats()` reports |

pub mod communities;
pub mod evidence;
pub mod fast_hash;
pub mod feedback_log;
pub mod intents;
pub mod interleave;
pub mod learner;
pub mod metric;
pub mod metric_part;
pub mod model;
pub mod priority;
pub mod settings;
pub mod stats;
pub mod trainer;

pub use feedback_log::{FeedbackLog, FeedbackSettings, Session};
pub use interleave::{Outcome, Tally, Team};
pub use learner::{now_ms, Learner};
pub use model::{Blend, MemoryParams, Model, QueryContext};
pub use settings::{LearningSettings, LEARNING_OPTION_KEYS};
pub use stats::LearningStats;
pub use trainer::{ItemRecord, ItemSource, TrainParams, TrainReport};
