//! What `learningStats()` reports: enough to tell whether learning is on,
//! whether a model serves, how it was trained and how it fares online.

use super::interleave::Tally;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct LearningStats {
    /// Whether learning is enabled at all (`learning: false` turns it off).
    pub enabled: bool,
    /// Sessions in the feedback log now.
    pub sessions: usize,
    /// Sessions logged since the last training pass.
    pub sessions_since_training: usize,
    /// Version of the model serving searches; 0 when none.
    pub model_version: u64,
    /// Whether a model reranks searches now.
    pub active: bool,
    /// λ_enc and λ_mem of the serving model (0 and 0 when none).
    pub blend_encoding: f32,
    pub blend_memory: f32,
    /// λ_T of the learned metric, and the metric's rank (0: none).
    pub blend_metric: f32,
    pub metric_rank: usize,
    /// Items and past queries the serving model knows.
    pub model_items: usize,
    pub model_queries: usize,
    /// Training passes run, and how many produced a published model.
    pub trainings: u64,
    pub published: u64,
    /// Models withdrawn because interleaving showed them losing.
    pub rollbacks: u64,
    /// When the last pass finished (ms since the epoch) and how long it took.
    pub last_trained_at_ms: Option<u64>,
    pub last_training_ms: Option<f64>,
    /// The last pass's mean pairwise loss, held-back gain and its z.
    pub loss: Option<f64>,
    pub validation_gain: Option<f64>,
    pub validation_z: Option<f64>,
    /// Interleaved sessions of the serving model decided by clicks.
    pub interleaving: Tally,
    /// Heap bytes of the log and the serving model.
    pub heap_bytes: usize,
}
