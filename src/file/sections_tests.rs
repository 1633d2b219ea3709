//! Tests of the section container (`sections.rs`).

use super::*;

const TEST: ContainerFormat = ContainerFormat {
    magic: b"TESTFILE",
    version: 3,
    header_bytes: 64,
    name: "test file",
    header_name: "test header",
};

fn flags(must_understand: bool, safe_to_copy: bool) -> SectionFlags {
    SectionFlags {
        must_understand,
        safe_to_copy,
    }
}

fn sample() -> Vec<u8> {
    let floats: Vec<u8> = [1.0f32, -2.5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let sections = vec![
        SectionSource::from_bytes(1, 0, flags(true, false), &floats),
        SectionSource::from_bytes(9, 4, flags(false, true), b"abc"),
        SectionSource::from_bytes(2, 7, SectionFlags::default(), &[]),
    ];
    to_bytes(&TEST, b"fields!", sections).unwrap()
}

#[test]
fn sections_round_trip_aligned_with_their_flags_and_fields() {
    let image = sample();
    let file = SectionFile::parse(Mapping::from_bytes(&image), &TEST).unwrap();
    file.verify(|e| format!("kind {}", e.kind)).unwrap();
    assert_eq!(file.version(), 3);
    assert_eq!(&file.fields()[..7], b"fields!");
    assert!(file.fields()[7..].iter().all(|&b| b == 0));
    let kinds: Vec<_> = file
        .sections()
        .iter()
        .map(|s| (s.kind, s.param, s.flags))
        .collect();
    assert_eq!(
        kinds,
        [
            (1, 0, flags(true, false)),
            (9, 4, flags(false, true)),
            (2, 7, flags(false, false))
        ]
    );
    assert!(file
        .sections()
        .iter()
        .all(|s| s.offset % SECTION_ALIGN == 0));
    let floats = file.find(1, 0).unwrap();
    assert_eq!(file.f32s(floats).unwrap().as_slice(), &[1.0, -2.5]);
    assert_eq!(file.bytes(file.find(9, 4).unwrap()), b"abc");
    assert!(file.find(9, 5).is_none());
}

#[test]
fn verify_checks_large_sections_piece_by_piece_and_finds_any_flipped_byte() {
    // Three pieces and a tail, beside a small and an empty section.
    let big: Vec<u8> = (0..3 * CRC_PIECE + 1_000)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let sections = vec![
        SectionSource::from_bytes(1, 0, flags(true, false), b"small"),
        SectionSource::from_bytes(2, 0, flags(true, false), &big),
        SectionSource::from_bytes(3, 0, flags(true, false), &[]),
    ];
    let image = to_bytes(&TEST, &[], sections).unwrap();
    let file = SectionFile::parse(Mapping::from_bytes(&image), &TEST).unwrap();
    file.verify(|e| format!("kind {}", e.kind)).unwrap();
    // The stored CRC is the one of the whole section, as one hash.
    assert_eq!(file.find(2, 0).unwrap().crc, crc32fast::hash(&big));
    let start = file.find(2, 0).unwrap().offset as usize;
    for at in [
        0,
        CRC_PIECE - 1,
        CRC_PIECE,
        2 * CRC_PIECE + 17,
        big.len() - 1,
    ] {
        let mut damaged = image.clone();
        damaged[start + at] ^= 0x10;
        let file = SectionFile::parse(Mapping::from_bytes(&damaged), &TEST).unwrap();
        let error = file.verify(|e| format!("kind {}", e.kind)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "corrupt database file: kind 2: checksum mismatch",
            "byte {at}"
        );
    }
}

#[test]
fn a_container_nested_in_a_section_reads_in_place() {
    let inner = sample();
    let outer = to_bytes(
        &TEST,
        &[],
        vec![
            SectionSource::from_bytes(5, 0, SectionFlags::default(), b"x"),
            SectionSource::from_bytes(6, 0, SectionFlags::default(), &inner),
        ],
    )
    .unwrap();
    let file = SectionFile::parse(Mapping::from_bytes(&outer), &TEST).unwrap();
    let nested = file.nested(file.find(6, 0).unwrap(), &TEST).unwrap();
    nested.verify(|e| format!("kind {}", e.kind)).unwrap();
    assert_eq!(
        nested.f32s(nested.find(1, 0).unwrap()).unwrap().as_slice(),
        &[1.0, -2.5]
    );
    assert_eq!(nested.len(), inner.len() as u64);
}

#[test]
fn damage_is_refused_with_the_right_code() {
    let image = sample();
    let parse = |bytes: &[u8]| {
        SectionFile::parse(Mapping::from_bytes(bytes), &TEST)
            .and_then(|f| f.verify(|e| format!("kind {}", e.kind)).map(|()| f))
    };
    let code = |bytes: &[u8]| parse(bytes).err().map(|e| e.code());
    assert_eq!(code(&image), None);
    assert_eq!(code(&[b'x'; 100]), Some("ERR_UNSUPPORTED_FORMAT"));
    assert_eq!(code(b"TESTFILE"), Some("ERR_CORRUPT_FILE"));
    let mut newer = image.clone();
    newer[8..12].copy_from_slice(&4u32.to_le_bytes());
    refresh_checksums(&mut newer, 64);
    let error = parse(&newer).err().unwrap();
    assert_eq!(error.code(), "ERR_UNSUPPORTED_FORMAT");
    assert!(error.to_string().contains("upgrade"), "{error}");
    // Every flipped byte is caught: by a CRC, or by a check behind it.
    for at in 0..image.len() {
        let mut bad = image.clone();
        bad[at] ^= 0x40;
        assert!(code(&bad).is_some(), "flip at {at} went unnoticed");
    }
    for len in 0..image.len() {
        assert!(code(&image[..len]).is_some(), "truncation to {len}");
    }
    let mut unknown_flag = image.clone();
    unknown_flag[64 + 28] = 4;
    refresh_checksums(&mut unknown_flag, 64);
    assert!(parse(&unknown_flag)
        .err()
        .unwrap()
        .to_string()
        .contains("flag bits"));
    let mut trailing = image.clone();
    trailing.extend_from_slice(&[0, 1]);
    assert!(parse(&trailing)
        .err()
        .unwrap()
        .to_string()
        .contains("non-zero"));
}
