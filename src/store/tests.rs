use super::*;
use crate::testdata::TempDir;

fn header(slot_count: u64) -> FileHeader {
    FileHeader {
        dimensions: 2,
        metric: Metric::Euclidean,
        params: HnswParams::default(),
        slot_count,
        live_count: slot_count,
        entry: None,
        file_id: 0xABCD,
        generation: 3,
        level_rng_state: 99,
    }
}

fn bytes_section(kind: u32, param: u32, bytes: Vec<u8>) -> SectionSource<'static> {
    SectionSource {
        kind,
        param,
        write: Box::new(move |out: &mut dyn Write| out.write_all(&bytes)),
    }
}

#[test]
fn sections_round_trip_aligned_and_unknown_kinds_are_skipped() {
    let dir = TempDir::new("store");
    let path = dir.path().join("f.hgnn");
    let vectors: Vec<u8> = [1.0f32, 2.0, -3.5, 4.25]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let sections = vec![
        bytes_section(SectionKind::Levels as u32, 0, vec![1, 2, 3]),
        bytes_section(99, 7, vec![0xEE; 5]), // from a newer writer
        bytes_section(SectionKind::Vectors as u32, 0, vectors),
        bytes_section(SectionKind::Graph as u32, 2, vec![]),
    ];
    let size = write_file(&path, &header(2), sections).unwrap();
    assert_eq!(size, fs::metadata(&path).unwrap().len());
    assert!(!temp_path(&path).exists(), "the temp file was renamed away");
    let file = MappedFile::open(&path, true).unwrap();
    assert_eq!(file.header, header(2));
    assert_eq!(file.section(SectionKind::Levels, 0).unwrap(), &[1, 2, 3]);
    assert_eq!(file.section(SectionKind::Graph, 2).unwrap(), &[] as &[u8]);
    assert_eq!(file.vectors().unwrap().as_slice(), &[1.0, 2.0, -3.5, 4.25]);
    let error = file.section(SectionKind::Items, 0).unwrap_err();
    assert_eq!(
        error.to_string(),
        "corrupt database file: ids and metadata section: missing"
    );
    for entry in &file.sections {
        assert_eq!(entry.offset % SECTION_ALIGN, 0);
    }
}

#[test]
fn a_vectors_section_of_the_wrong_size_is_corrupt() {
    let dir = TempDir::new("store-size");
    let path = dir.path().join("f.hgnn");
    let sections = vec![bytes_section(SectionKind::Vectors as u32, 0, vec![0; 12])];
    write_file(&path, &header(2), sections).unwrap();
    let error = MappedFile::open(&path, true)
        .unwrap()
        .vectors()
        .err()
        .unwrap();
    assert!(
        error.to_string().contains("2 slots × 2 dimensions need 16"),
        "{error}"
    );
}

#[test]
fn not_a_database_file_and_too_short_files_are_refused() {
    let error = MappedFile::from_bytes(&[0u8; 300]).err().unwrap();
    assert_eq!(error.code(), "ERR_UNSUPPORTED_FORMAT");
    let error = MappedFile::from_bytes(b"HGNNFILE").err().unwrap();
    assert_eq!(error.code(), "ERR_CORRUPT_FILE");
    let dir = TempDir::new("store-short");
    let path = dir.path().join("empty.hgnn");
    fs::write(&path, b"").unwrap();
    assert_eq!(
        MappedFile::open(&path, true).err().unwrap().code(),
        "ERR_CORRUPT_FILE"
    );
}

#[test]
fn a_second_exclusive_lock_on_the_same_file_is_refused() {
    let dir = TempDir::new("store-lock");
    let path = dir.path().join("lock");
    let first = File::create(&path).unwrap();
    lock_exclusive(&first, &path).unwrap();
    let second = File::open(&path).unwrap();
    assert_eq!(
        lock_exclusive(&second, &path).unwrap_err().code(),
        "ERR_LOCKED"
    );
    drop(first);
    lock_exclusive(&second, &path).unwrap();
}
