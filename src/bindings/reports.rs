//! What `stats()`, `train()` and `learningStats()` report to JS: the core's
//! figures in the shapes index.d.ts documents.

use crate::db::DbStats;
use crate::learn::{LearningStats, TrainReport};
use napi_derive::napi;

/// What `stats()` reports (documented in index.d.ts).
#[napi(object)]
pub struct DatabaseStats {
    pub items: u32,
    pub slots: u32,
    pub path: Option<String>,
    pub file_bytes: f64,
    pub wal_bytes: f64,
    pub mapped_vector_bytes: f64,
    pub index_heap_bytes: f64,
    pub catalog_heap_bytes: f64,
    pub recent_searches_heap_bytes: f64,
    pub learning_heap_bytes: f64,
    pub heap_bytes: f64,
    pub vectors_mapped: bool,
    pub file_mapping: String,
    pub file_lock: Option<String>,
    pub wal_handle: Option<String>,
    pub durability: Option<String>,
    pub read_only: bool,
    pub generation: f64,
    pub checkpoints: f64,
    pub last_checkpoint_error: Option<String>,
}

impl From<DbStats> for DatabaseStats {
    fn from(stats: DbStats) -> Self {
        DatabaseStats {
            items: stats.items as u32,
            slots: stats.slots as u32,
            path: stats.path,
            file_bytes: stats.file_bytes as f64,
            wal_bytes: stats.wal_bytes as f64,
            mapped_vector_bytes: stats.mapped_bytes as f64,
            index_heap_bytes: stats.index_heap_bytes as f64,
            catalog_heap_bytes: stats.catalog_heap_bytes as f64,
            recent_searches_heap_bytes: stats.recent_searches_heap_bytes as f64,
            learning_heap_bytes: stats.learning_heap_bytes as f64,
            heap_bytes: stats.heap_bytes as f64,
            vectors_mapped: stats.mapped_bytes > 0,
            file_mapping: stats.file_mapping.name().to_string(),
            file_lock: stats.file_lock.map(|lock| lock.name().to_string()),
            wal_handle: stats.wal_handle.map(|handle| handle.name().to_string()),
            durability: stats.durability.map(|d| d.name().to_string()),
            read_only: stats.read_only,
            generation: stats.generation as f64,
            checkpoints: stats.checkpoints as f64,
            last_checkpoint_error: stats.last_checkpoint_error,
        }
    }
}

/// What `train()` resolves to (documented in index.d.ts).
#[napi(object)]
pub struct TrainingReport {
    pub sessions: u32,
    pub held_back: u32,
    pub pairs: u32,
    pub loss: f64,
    pub validation_gain: f64,
    pub validation_z: f64,
    pub published: bool,
    pub blend: f64,
}

impl From<TrainReport> for TrainingReport {
    fn from(r: TrainReport) -> Self {
        TrainingReport {
            sessions: r.sessions as u32,
            held_back: r.held_back as u32,
            pairs: r.pairs as u32,
            loss: r.loss,
            validation_gain: r.validation_gain,
            validation_z: r.validation_z,
            published: r.published,
            blend: if r.published {
                r.blend.encoding.max(r.blend.memory).max(r.blend.metric) as f64
            } else {
                0.0
            },
        }
    }
}

/// Interleaving tallies of the serving model.
#[napi(object)]
pub struct InterleavingStats {
    pub wins: f64,
    pub losses: f64,
    pub ties: f64,
}

/// What `learningStats()` reports (documented in index.d.ts).
#[napi(object, js_name = "LearningStats")]
pub struct JsLearningStats {
    pub enabled: bool,
    pub sessions: u32,
    pub sessions_since_training: u32,
    pub model_version: f64,
    pub active: bool,
    pub blend_weight: f64,
    pub memory_weight: f64,
    pub metric_weight: f64,
    pub metric_rank: u32,
    pub model_items: u32,
    pub model_queries: u32,
    pub trainings: f64,
    pub published: f64,
    pub rollbacks: f64,
    pub last_trained_at: Option<f64>,
    pub last_training_ms: Option<f64>,
    pub loss: Option<f64>,
    pub validation_gain: Option<f64>,
    pub validation_z: Option<f64>,
    pub interleaving: InterleavingStats,
    pub heap_bytes: f64,
}

impl From<LearningStats> for JsLearningStats {
    fn from(s: LearningStats) -> Self {
        JsLearningStats {
            enabled: s.enabled,
            sessions: s.sessions as u32,
            sessions_since_training: s.sessions_since_training as u32,
            model_version: s.model_version as f64,
            active: s.active,
            blend_weight: s.blend_encoding as f64,
            memory_weight: s.blend_memory as f64,
            metric_weight: s.blend_metric as f64,
            metric_rank: s.metric_rank as u32,
            model_items: s.model_items as u32,
            model_queries: s.model_queries as u32,
            trainings: s.trainings as f64,
            published: s.published as f64,
            rollbacks: s.rollbacks as f64,
            last_trained_at: s.last_trained_at_ms.map(|t| t as f64),
            last_training_ms: s.last_training_ms,
            loss: s.loss,
            validation_gain: s.validation_gain,
            validation_z: s.validation_z,
            interleaving: InterleavingStats {
                wins: s.interleaving.wins as f64,
                losses: s.interleaving.losses as f64,
                ties: s.interleaving.ties as f64,
            },
            heap_bytes: s.heap_bytes as f64,
        }
    }
}
