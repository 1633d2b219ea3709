use super::*;
use crate::distance::Metric;
use crate::file::{SectionFlags, SectionSource};
use crate::testdata::TempDir;
use std::fs;

fn header(slot_count: u64) -> FileHeader {
    FileHeader {
        dimensions: 2,
        metric: Metric::Euclidean,
        m: 16,
        ef_construction: 200,
        ef_search: 64,
        level_seed: 7,
        slot_count,
        live_count: slot_count,
        entry: None,
        file_id: 0xABCD,
        generation: 3,
        level_rng_state: 99,
    }
}

fn floats(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn unknown(
    kind: u32,
    must_understand: bool,
    safe_to_copy: bool,
    bytes: &[u8],
) -> SectionSource<'_> {
    let flags = SectionFlags {
        must_understand,
        safe_to_copy,
    };
    SectionSource::from_bytes(kind, 0, flags, bytes)
}

#[test]
fn sections_round_trip_and_the_header_reads_back() {
    let dir = TempDir::new("store");
    let path = dir.path().join("f.hgnn");
    let vectors = floats(&[1.0, 2.0, -3.5, 4.25]);
    let sections = vec![
        section(SectionKind::Levels, 0, |out| out.write_all(&[1, 2])),
        section(SectionKind::Vectors, 0, |out| out.write_all(&vectors)),
        section(SectionKind::Graph, 2, |_| Ok(())),
    ];
    let size = write_db_file(&path, &header(2), sections).unwrap();
    assert_eq!(size, fs::metadata(&path).unwrap().len());
    assert!(
        !crate::file::temp_path(&path).exists(),
        "the temp file was renamed away"
    );
    let file = DbFile::open(&path, true).unwrap();
    assert_eq!(
        (file.header.clone(), file.version()),
        (header(2), FORMAT_VERSION)
    );
    assert_eq!(file.section(SectionKind::Levels, 0).unwrap(), &[1, 2]);
    assert_eq!(file.section(SectionKind::Graph, 2).unwrap(), &[] as &[u8]);
    assert_eq!(file.vectors().unwrap().as_slice(), &[1.0, 2.0, -3.5, 4.25]);
    let error = file.section(SectionKind::Items, 0).unwrap_err();
    assert_eq!(
        error.to_string(),
        "corrupt database file: ids and metadata section: missing"
    );
    file.check_writable().unwrap();
    assert!(file.carried_sections().is_empty());
}

#[test]
fn unknown_sections_are_carried_dropped_or_refused_by_their_flags() {
    let dir = TempDir::new("store-unknown");
    let path = dir.path().join("f.hgnn");
    let sections = vec![
        unknown(900, false, true, b"copy me"),
        unknown(901, false, false, b"drop me"),
        section(SectionKind::Vectors, 0, |out| {
            out.write_all(&floats(&[0.5; 4]))
        }),
    ];
    write_db_file(&path, &header(2), sections).unwrap();
    let file = DbFile::open(&path, true).unwrap();
    file.check_writable().unwrap();
    let carried = file.carried_sections();
    assert_eq!(carried.len(), 1);
    // A rewrite carries the safe-to-copy section through byte for byte.
    let rewritten = dir.path().join("g.hgnn");
    write_db_file(&rewritten, &header(0), carried.sources()).unwrap();
    let again = DbFile::open(&rewritten, true).unwrap();
    let kept = again.carried_sections();
    assert_eq!(kept.len(), 1);
    let bytes: Vec<u8> = {
        let mut out = Vec::new();
        for source in kept.sources() {
            assert_eq!((source.kind, source.flags.safe_to_copy), (900, true));
            (source.write)(&mut out).unwrap();
        }
        out
    };
    assert_eq!(bytes, b"copy me");

    let must = dir.path().join("h.hgnn");
    write_db_file(&must, &header(0), vec![unknown(902, true, true, b"new")]).unwrap();
    let file = DbFile::open(&must, true).unwrap();
    let error = file.check_writable().unwrap_err();
    assert_eq!(error.code(), "ERR_UNSUPPORTED_FORMAT");
    assert!(error.to_string().contains("kind 902"), "{error}");
}

#[test]
fn a_vectors_section_of_the_wrong_size_is_corrupt() {
    let dir = TempDir::new("store-size");
    let path = dir.path().join("f.hgnn");
    let sections = vec![section(SectionKind::Vectors, 0, |out| {
        out.write_all(&[0; 12])
    })];
    write_db_file(&path, &header(2), sections).unwrap();
    let error = DbFile::open(&path, true).unwrap().vectors().err().unwrap();
    assert!(
        error.to_string().contains("2 slots × 2 dimensions need 16"),
        "{error}"
    );
}

#[test]
fn not_a_database_file_and_too_short_files_are_refused() {
    let error = DbFile::from_bytes(&[0u8; 300]).err().unwrap();
    assert_eq!(error.code(), "ERR_UNSUPPORTED_FORMAT");
    let error = DbFile::from_bytes(b"HGNNFILE").err().unwrap();
    assert_eq!(error.code(), "ERR_CORRUPT_FILE");
    let dir = TempDir::new("store-short");
    let path = dir.path().join("empty.hgnn");
    fs::write(&path, b"").unwrap();
    assert_eq!(
        DbFile::open(&path, true).err().unwrap().code(),
        "ERR_CORRUPT_FILE"
    );
}

#[test]
fn a_version_1_image_reads_as_one_whose_sections_are_all_known() {
    let dir = TempDir::new("store-v1");
    let path = dir.path().join("f.hgnn");
    write_db_file(&path, &header(0), vec![unknown(900, false, false, b"x")]).unwrap();
    let mut image = fs::read(&path).unwrap();
    image[8..12].copy_from_slice(&1u32.to_le_bytes());
    refresh_checksums(&mut image);
    let file = DbFile::from_bytes(&image).unwrap();
    assert_eq!((file.version(), file.header.clone()), (1, header(0)));
}
