//! How to create and open a database: the options, their defaults and
//! limits, and the parsing of the JS-shaped options objects (camelCase
//! keys, unknown keys refused) that both the constructor and `open` use.

use super::checkpoint::CheckpointPolicy;
use super::Durability;
use crate::distance::{Metric, MAX_DIMENSIONS};
use crate::error::{Error, Result};
use crate::hnsw::HnswParams;
use crate::learn::LearningSettings;
use crate::options::OptionsReader;
use serde_json::Value;
use std::path::PathBuf;

/// Default for how many recent searches are remembered for feedback.
pub const DEFAULT_RECENT_SEARCHES: usize = 10_000;
/// Most recent searches a database remembers.
pub const MAX_RECENT_SEARCHES: usize = 10_000_000;

/// The options of `insertBatch`.
pub const INSERT_BATCH_OPTION_KEYS: [&str; 2] = ["onProgress", "signal"];

/// Refuses `insertBatch` options other than [`INSERT_BATCH_OPTION_KEYS`].
pub fn check_insert_batch_keys(keys: &[String]) -> Result<()> {
    crate::options::check_keys(
        "insertBatch options",
        keys.iter().map(String::as_str),
        &INSERT_BATCH_OPTION_KEYS,
    )
}

/// How to create a database.
#[derive(Clone, Debug)]
pub struct DbOptions {
    pub dimensions: usize,
    pub metric: Metric,
    pub hnsw: HnswParams,
    /// How many recent searches are remembered for feedback.
    pub recent_searches: usize,
    /// A database file to create; `None` keeps the database in memory.
    pub path: Option<PathBuf>,
    /// When a write is acknowledged (with a `path`).
    pub durability: Durability,
    /// Learning from feedback (on by default).
    pub learning: LearningSettings,
    /// Automatic checkpoints (with a `path`).
    pub checkpoint: CheckpointPolicy,
}

impl DbOptions {
    /// In memory, with every default.
    pub fn new(dimensions: usize, metric: Metric) -> DbOptions {
        DbOptions {
            dimensions,
            metric,
            hnsw: HnswParams::default(),
            recent_searches: DEFAULT_RECENT_SEARCHES,
            path: None,
            durability: Durability::Batch,
            learning: LearningSettings::default(),
            checkpoint: CheckpointPolicy::default(),
        }
    }

    /// The options of `new VectorDB({...})`: `dimensions` (required),
    /// `metric`, `m`, `efConstruction`, `efSearch`, `recentSearches`,
    /// `path`, `durability` (only with a `path`), `learning`.
    pub fn from_options(value: &Value) -> Result<DbOptions> {
        const WHAT: &str = "VectorDB options";
        let known = [
            "dimensions",
            "metric",
            "m",
            "efConstruction",
            "efSearch",
            "recentSearches",
            "path",
            "durability",
            "learning",
            "checkpoint",
        ];
        let o = OptionsReader::new(Some(value), WHAT, &known)?;
        let dimensions = o.required_count("dimensions")?;
        let metric = o
            .text("metric")?
            .map_or(Ok(Metric::Cosine), Metric::parse)?;
        let mut options = DbOptions::new(dimensions, metric);
        let hnsw = &mut options.hnsw;
        hnsw.m = o.count("m")?.unwrap_or(hnsw.m);
        hnsw.ef_construction = o.count("efConstruction")?.unwrap_or(hnsw.ef_construction);
        hnsw.ef_search = o.count("efSearch")?.unwrap_or(hnsw.ef_search);
        options.recent_searches = o
            .count("recentSearches")?
            .unwrap_or(options.recent_searches);
        options.path = o.text("path")?.map(PathBuf::from);
        if let Some(durability) = o.text("durability")? {
            if options.path.is_none() {
                return Err(Error::invalid_argument(
                    "durability needs a path: a database in memory has no log to make durable",
                ));
            }
            options.durability = Durability::parse(durability)?;
        }
        if let Some(checkpoint) = o.get("checkpoint") {
            if options.path.is_none() {
                return Err(Error::invalid_argument(
                    "checkpoint needs a path: a database in memory has no log to fold",
                ));
            }
            options.checkpoint = CheckpointPolicy::from_option(Some(checkpoint))?;
        }
        options.learning =
            LearningSettings::from_options(o.get("learning"), &LearningSettings::default())?;
        options.validate()?;
        Ok(options)
    }

    /// Checks every limit, so a database is never half built from options
    /// that cannot work.
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_DIMENSIONS).contains(&self.dimensions) {
            return Err(Error::invalid_argument(format!(
                "dimensions must be between 1 and {MAX_DIMENSIONS}, got {}",
                self.dimensions
            )));
        }
        self.hnsw.validate()?;
        self.learning.validate()?;
        validate_recent_searches(self.recent_searches)
    }
}

pub(super) fn validate_recent_searches(count: usize) -> Result<()> {
    if !(1..=MAX_RECENT_SEARCHES).contains(&count) {
        return Err(Error::invalid_argument(format!(
            "recentSearches must be between 1 and {MAX_RECENT_SEARCHES}, got {count}"
        )));
    }
    Ok(())
}

/// How to open an existing database file.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    pub durability: Durability,
    /// Open without the write lock: searches and reads only, alongside a
    /// writer in another process. Sees the file as last saved plus the
    /// writer's log as of opening, until [`VectorDb::refreshed`] catches up.
    pub read_only: bool,
    pub recent_searches: usize,
    /// The `learning` option as given: it overrides the settings saved in
    /// the file (absent keeps them).
    pub learning: Option<Value>,
    /// Automatic checkpoints (a writer's).
    pub checkpoint: CheckpointPolicy,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            durability: Durability::Batch,
            read_only: false,
            recent_searches: DEFAULT_RECENT_SEARCHES,
            learning: None,
            checkpoint: CheckpointPolicy::default(),
        }
    }
}

impl OpenOptions {
    /// The options of `VectorDB.open(path, {...})`: `durability`,
    /// `readOnly`, `recentSearches`, `learning`; absent means every default.
    pub fn from_options(value: Option<&Value>) -> Result<OpenOptions> {
        let known = [
            "durability",
            "readOnly",
            "recentSearches",
            "learning",
            "checkpoint",
        ];
        let o = OptionsReader::new(value, "VectorDB.open options", &known)?;
        let defaults = OpenOptions::default();
        let options = OpenOptions {
            durability: o
                .text("durability")?
                .map_or(Ok(defaults.durability), Durability::parse)?,
            read_only: o.flag("readOnly")?.unwrap_or(defaults.read_only),
            recent_searches: o
                .count("recentSearches")?
                .unwrap_or(defaults.recent_searches),
            learning: o.get("learning").cloned(),
            checkpoint: CheckpointPolicy::from_option(o.get("checkpoint"))?,
        };
        // Checked now, so a bad option fails before the file is read.
        LearningSettings::from_options(options.learning.as_ref(), &LearningSettings::default())?;
        validate_recent_searches(options.recent_searches)?;
        Ok(options)
    }
}
