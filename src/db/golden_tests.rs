//! Golden files: the database file and log that each format version wrote
//! (`__test__/fixtures/golden/format-N`, see `make-golden.mjs` there) open
//! with exactly the contents their `expected.json` lists, read-only and
//! writable, and a save rewrites them in the current format, compacted.

use super::*;
use crate::store::{self, DbFile, FORMAT_VERSION};
use crate::testdata::TempDir;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("__test__/fixtures/golden")
}

fn check(db: &VectorDb, expected: &Value, label: &str) {
    let items = expected["items"].as_object().expect("items");
    assert_eq!(db.len(), items.len(), "{label}: item count");
    for (id, item) in items {
        let stored = db
            .get(id)
            .unwrap()
            .unwrap_or_else(|| panic!("{label}: {id} missing"));
        let vector: Vec<f32> = item["vector"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(stored.vector, vector, "{label}: {id}'s vector");
        let metadata = item["metadata"].as_object().cloned();
        assert_eq!(
            stored.metadata.as_deref(),
            metadata.as_ref(),
            "{label}: {id}'s metadata"
        );
    }
    for gone in ["item-1", "item-5"] {
        assert!(
            db.get(gone).unwrap().is_none(),
            "{label}: {gone} stays deleted"
        );
    }
}

#[test]
fn golden_files_of_every_format_open_with_their_exact_contents() {
    let mut versions: Vec<PathBuf> = fs::read_dir(golden())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    versions.sort();
    assert!(versions.len() >= 2, "format-1 and format-2 at least");
    for source in versions {
        let label = source.file_name().unwrap().to_string_lossy().to_string();
        let expected: Value =
            serde_json::from_str(&fs::read_to_string(source.join("expected.json")).unwrap())
                .unwrap();
        let read_only = OpenOptions {
            read_only: true,
            ..Default::default()
        };
        check(
            &VectorDb::open(&source.join("db.hgnn"), &read_only).unwrap(),
            &expected,
            &label,
        );

        let dir = TempDir::new("golden");
        let path = dir.path().join("db.hgnn");
        fs::copy(source.join("db.hgnn"), &path).unwrap();
        fs::copy(source.join("db.hgnn-wal"), store::wal::wal_path(&path)).unwrap();
        let db = VectorDb::open(&path, &OpenOptions::default()).unwrap();
        check(&db, &expected, &label);
        // Written before compaction existed: its deleted items still hold
        // slots, which the save reclaims.
        assert!(db.stats().slots > db.len(), "{label}: tombstones");
        db.save().unwrap();
        assert_eq!(db.stats().slots, db.len(), "{label}: compacted");
        check(&db, &expected, &label);
        db.close().unwrap();
        assert_eq!(DbFile::open(&path, true).unwrap().version(), FORMAT_VERSION);
        let reopened = VectorDb::open(&path, &OpenOptions::default()).unwrap();
        assert_eq!(
            reopened.stats().slots,
            reopened.len(),
            "{label}: compacted file"
        );
        check(&reopened, &expected, &label);
    }
}
