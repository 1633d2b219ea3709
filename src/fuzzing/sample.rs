//! The small database the targets start from: [`ITEMS`] items of
//! [`DIMENSIONS`] dimensions, most with metadata, a few recent searches,
//! learning on. The targets' base file and the seeds are made by this one
//! builder, so a seed's ids, dimensions and settings fit the file it is
//! replayed over.

use crate::db::{CheckpointPolicy, DbOptions, Durability, Metadata, NewItem, OpenOptions};
use crate::db::{SearchOptions, VectorDb};
use crate::distance::Metric;
use crate::error::Result;
use crate::learn::{LearningSettings, TrainParams};
use crate::rng::SplitMix64;
use crate::store::{wal, DbFile};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

pub const DIMENSIONS: usize = 8;
pub const ITEMS: usize = 24;
/// Recent searches remembered: the base file's ring and the capacity an
/// open restores it into must agree.
pub const RECENT_SEARCHES: usize = 4;

pub fn id(i: usize) -> String {
    format!("item-{i}")
}

/// Item `i`'s vector (or, past [`ITEMS`], a query's): seeded, so every
/// build of the sample holds the same vectors.
pub fn vector(i: usize) -> Vec<f32> {
    let mut rng = SplitMix64::new(0x5EED_0000 + i as u64);
    (0..DIMENSIONS).map(|_| rng.gaussian()).collect()
}

/// Every third item has none; the rest have numbers, strings, arrays and
/// nested objects, so filters and the metadata codec have work to do.
pub fn metadata(i: usize) -> Option<Metadata> {
    if i % 3 == 2 {
        return None;
    }
    let tags = ["red", "green", "blue", "gold"];
    let value = json!({
        "group": i % 4,
        "name": id(i),
        "price": i as f64 * 1.5,
        "tags": [tags[i % 4], tags[(i + 1) % 4]],
        "stock": { "count": i * 7 % 11, "open": i.is_multiple_of(2) },
        "note": null,
    });
    value.as_object().cloned()
}

/// Learning as the sample uses it: trained on `train()` only, with a
/// model small and quick enough to train inside a test, and a guardrail
/// that a little honest feedback passes.
pub fn learning() -> LearningSettings {
    LearningSettings {
        background: false,
        explore: 0.25,
        min_sessions: 8,
        model: TrainParams {
            epochs: 3,
            min_z: 0.0,
            ..TrainParams::default()
        },
        ..LearningSettings::default()
    }
}

/// Creates the sample database at `path`: its items, then a few searches
/// so the recent-search ring is not empty.
pub fn create(path: &Path, learning: LearningSettings) -> Result<VectorDb> {
    let mut options = DbOptions::new(DIMENSIONS, Metric::Cosine);
    options.path = Some(path.to_path_buf());
    options.durability = Durability::None;
    options.recent_searches = RECENT_SEARCHES;
    options.learning = learning;
    options.checkpoint = CheckpointPolicy::off();
    let db = VectorDb::new(options)?;
    let items = (0..ITEMS)
        .map(|i| NewItem {
            id: Some(id(i)),
            vector: vector(i),
            metadata: metadata(i),
        })
        .collect();
    db.insert_batch(items, &|_, _| {})?;
    for query in 0..4 {
        db.search(&vector(ITEMS + query), &SearchOptions::default())?;
    }
    Ok(db)
}

/// How the targets open an image: as `open` would, read-only or not.
pub fn open_options(read_only: bool) -> OpenOptions {
    OpenOptions {
        read_only,
        recent_searches: RECENT_SEARCHES,
        checkpoint: CheckpointPolicy::off(),
        ..OpenOptions::default()
    }
}

/// The sample database as saved, validated: the file the log and
/// learning targets open their inputs over. Built once per process.
pub fn base_file() -> &'static DbFile {
    static BASE: OnceLock<DbFile> = OnceLock::new();
    BASE.get_or_init(|| {
        let (file, _log) = written("base", |path| {
            let db = create(path, learning())?;
            db.save()?;
            db.close()
        })
        .expect("the sample database saves");
        DbFile::from_bytes(&file).expect("the sample file validates")
    })
}

/// The file and the log that `build` leaves at the database path it is
/// given, in a scratch directory removed afterwards (a database writes
/// only files, so images are made through one).
pub fn written(label: &str, build: impl FnOnce(&Path) -> Result<()>) -> Result<(Vec<u8>, Vec<u8>)> {
    let dir = ScratchDir::new(label);
    let path = dir.0.join("db.hgnn");
    build(&path)?;
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| crate::error::Error::io("cannot read", path, e))
    };
    Ok((read(&path)?, read(&wal::wal_path(&path))?))
}

/// A directory of its own under the system's temp directory, removed on
/// drop.
pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    pub fn new(label: &str) -> ScratchDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "hnsw-gnn-fuzzing-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("a scratch directory under the temp directory");
        ScratchDir(path)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
