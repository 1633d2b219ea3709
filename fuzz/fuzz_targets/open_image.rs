//! Fuzzes everything `VectorDB.open` parses: the database file (header,
//! section table, levels, graph, ids and metadata) and the write-ahead log
//! (framing and every record kind), then uses whatever was accepted.
//!
//! Input: `split u32 · file image · log records`. The file's checksums are
//! recomputed so mutations reach the parsers behind them; the records are
//! `u16`-length-prefixed payloads framed into a valid log for that file, and
//! the same bytes are also parsed as a raw log.
#![no_main]

use hnsw_gnn::db::OpenOptions;
use hnsw_gnn::store::{self, wal, DbFile};
use hnsw_gnn::{NewItem, SearchOptions, VectorDb};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let split = u32::from_le_bytes(data[..4].try_into().unwrap()) as usize;
    let body = &data[4..];
    let (file, rest) = body.split_at(split.min(body.len()));
    let _ = wal::parse(rest);
    let mut file = file.to_vec();
    store::refresh_checksums(&mut file);
    let Ok(mapped) = DbFile::from_bytes(&file) else {
        return;
    };
    let mut records = Vec::new();
    let mut tail = rest;
    while tail.len() >= 2 {
        let len = (u16::from_le_bytes([tail[0], tail[1]]) as usize).min(tail.len() - 2);
        records.push(&tail[2..2 + len]);
        tail = &tail[2 + len..];
    }
    let header = &mapped.header;
    let log = wal::image(header.file_id, header.generation, &records);
    let log = wal::parse(&log).expect("a log framed by wal::image parses");
    let options = OpenOptions { recent_searches: 16, ..Default::default() };
    if let Ok(opened) = VectorDb::from_image(&mapped, log.as_ref(), &options) {
        let db = opened.db;
        let query = vec![0.25; db.dimensions()];
        let options = SearchOptions { k: 5, ..Default::default() };
        let _ = db.search(&query, &options);
        let _ = db.insert(NewItem { id: None, vector: query, metadata: None });
        let _ = db.search(&[0.5; 1][..].repeat(db.dimensions()), &options);
    }
});
