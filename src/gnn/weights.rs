//! Weight files: named 2-D tensors stored as `f32`, `f16` or per-row `int8`,
//! written atomically and memory-mapped on open, so `f32` weights are read
//! in place (bit-identical, and a model larger than RAM still runs).
//!
//! ```text
//! 0   magic "HGNNWTS1" · version u32 · tensor count u32 · table bytes u64 ·
//!     CRC32 u32 (of bytes 0..24 and the table) · zero padding to 64
//! 64  table: metadata (u32 length + UTF-8; a layer's configuration as
//!     JSON), then per tensor: name (u32 length + UTF-8) · type u8 (0 f32,
//!     1 f16, 2 int8) · rows u64 · cols u64 · offset u64 · length u64 ·
//!     CRC32 u32
//! ..  data, each tensor 64-byte aligned: f32 or f16 values row-major, or
//!     for int8 a f32 scale per row followed by the i8 values
//! ```

use super::quantize::{dequantize_rows, f16_to_f32, f32_to_f16, quantize_rows, Int8Rows};
use super::tensor::Matrix;
use crate::error::{Error, Result};
use crate::store::{self, ByteReader, ByteWriter, MappedF32};
use memmap2::Mmap;
use ndarray::{Array2, ArrayView2};
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

const MAGIC: &[u8; 8] = b"HGNNWTS1";
const VERSION: u32 = 1;
const HEADER_BYTES: usize = 64;
const ALIGN: u64 = 64;

/// How a tensor's values are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightType {
    F32,
    /// IEEE half precision: relative error at most 2^-11 in the normal range.
    F16,
    /// 8-bit integers with a scale per row: error at most half a step
    /// (`max|row| / 254`).
    Int8,
}

impl WeightType {
    pub fn parse(name: &str) -> Result<WeightType> {
        match name {
            "f32" => Ok(WeightType::F32),
            "f16" => Ok(WeightType::F16),
            "int8" => Ok(WeightType::Int8),
            other => Err(Error::invalid_argument(format!(
                "weight type must be 'f32', 'f16' or 'int8', got {other:?}"
            ))),
        }
    }

    fn code(self) -> u8 {
        self as u8
    }

    fn from_code(code: u8) -> Option<WeightType> {
        [WeightType::F32, WeightType::F16, WeightType::Int8]
            .into_iter()
            .find(|t| t.code() == code)
    }

    /// Bytes a `rows × cols` tensor takes.
    fn data_bytes(self, rows: u64, cols: u64) -> Option<u64> {
        let elements = rows.checked_mul(cols)?;
        match self {
            WeightType::F32 => elements.checked_mul(4),
            WeightType::F16 => elements.checked_mul(2),
            WeightType::Int8 => elements.checked_add(rows.checked_mul(4)?),
        }
    }
}

/// Writes `metadata` and `tensors` to `path` atomically, every tensor as
/// `weight_type`.
pub fn save_weights(
    path: &Path,
    metadata: &str,
    tensors: &[(&str, ArrayView2<'_, f32>)],
    weight_type: WeightType,
) -> Result<u64> {
    // The table's size depends only on the names, so it is laid out first.
    let mut offset = 0u64;
    let mut entries = Vec::with_capacity(tensors.len());
    let table_len: usize = 4
        + metadata.len()
        + tensors
            .iter()
            .map(|(name, _)| 4 + name.len() + 1 + 8 * 4 + 4)
            .sum::<usize>();
    let data_start = align((HEADER_BYTES + table_len) as u64);
    for (name, values) in tensors {
        let (rows, cols) = (values.nrows() as u64, values.ncols() as u64);
        let start = if entries.is_empty() {
            data_start
        } else {
            align(offset)
        };
        let length = weight_type
            .data_bytes(rows, cols)
            .expect("an in-memory tensor's size fits");
        let data = encode(values, weight_type);
        entries.push((
            name.to_string(),
            rows,
            cols,
            start,
            length,
            crc32fast::hash(&data),
            data,
        ));
        offset = start + length;
    }
    let mut table = Vec::with_capacity(table_len);
    table.put_str(metadata);
    for (name, rows, cols, start, length, crc, _) in &entries {
        table.put_str(name);
        table.put_u8(weight_type.code());
        for value in [*rows, *cols, *start, *length] {
            table.put_u64(value);
        }
        table.put_u32(*crc);
    }
    let mut header = Vec::with_capacity(HEADER_BYTES);
    header.extend_from_slice(MAGIC);
    header.put_u32(VERSION);
    header.put_u32(entries.len() as u32);
    header.put_u64(table.len() as u64);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header);
    hasher.update(&table);
    header.put_u32(hasher.finalize());
    header.resize(HEADER_BYTES, 0);
    store::write_atomically(path, |file, temp| {
        let io_error = |e| Error::io("cannot write", temp, e);
        let mut out = BufWriter::new(file);
        out.write_all(&header).map_err(io_error)?;
        out.write_all(&table).map_err(io_error)?;
        let mut position = (HEADER_BYTES + table.len()) as u64;
        for (_, _, _, start, _, _, data) in &entries {
            out.write_all(&vec![0; (start - position) as usize])
                .map_err(io_error)?;
            out.write_all(data).map_err(io_error)?;
            position = start + data.len() as u64;
        }
        let mut file = out.into_inner().map_err(|e| io_error(e.into_error()))?;
        let size = file.seek(SeekFrom::End(0)).map_err(io_error)?;
        Ok((file, size))
    })
}

fn align(offset: u64) -> u64 {
    offset.div_ceil(ALIGN) * ALIGN
}

fn encode(values: &ArrayView2<'_, f32>, weight_type: WeightType) -> Vec<u8> {
    match weight_type {
        WeightType::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        WeightType::F16 => values
            .iter()
            .flat_map(|&v| f32_to_f16(v).to_le_bytes())
            .collect(),
        WeightType::Int8 => {
            let quantized = quantize_rows(values.view());
            let mut out: Vec<u8> = quantized
                .scales
                .iter()
                .flat_map(|s| s.to_le_bytes())
                .collect();
            out.extend(quantized.values.iter().map(|&q| q as u8));
            out
        }
    }
}

/// A validated, memory-mapped weight file.
pub struct WeightFile {
    map: Arc<Mmap>,
    metadata: String,
    tensors: Vec<TensorEntry>,
}

struct TensorEntry {
    name: String,
    weight_type: WeightType,
    rows: usize,
    cols: usize,
    offset: usize,
    length: usize,
    /// `f32` tensors, read in place.
    mapped: Option<MappedF32>,
}

impl WeightFile {
    /// Maps `path` and checks its header, table and every tensor's CRC.
    pub fn open(path: &Path) -> Result<WeightFile> {
        let file = File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
        // SAFETY: read-only mapping of a file hnsw-gnn never modifies in
        // place (saves write a new file and rename it); see `store`.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io("cannot map", path, e))?;
        WeightFile::parse(Arc::new(map))
    }

    fn parse(map: Arc<Mmap>) -> Result<WeightFile> {
        let bytes: &[u8] = &map;
        if bytes.len() < HEADER_BYTES || &bytes[..8] != MAGIC {
            return Err(Error::UnsupportedFormat(
                "not an hnsw-gnn weight file".into(),
            ));
        }
        let mut header = ByteReader::new(&bytes[8..HEADER_BYTES], "weight file header");
        let version = header.u32("version")?;
        if version != VERSION {
            return Err(Error::UnsupportedFormat(format!(
                "weight file version {version}; this hnsw-gnn reads {VERSION}"
            )));
        }
        let count = header.u32("tensor count")?;
        let table_len = header.u64("table length")?;
        let stored_crc = header.u32("checksum")?;
        let table_end = (HEADER_BYTES as u64)
            .checked_add(table_len)
            .filter(|&end| end <= bytes.len() as u64)
            .ok_or_else(|| {
                Error::corrupt(
                    "weight file header",
                    format!("a {table_len}-byte table overruns the file"),
                )
            })? as usize;
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&bytes[..24]);
        hasher.update(&bytes[HEADER_BYTES..table_end]);
        if hasher.finalize() != stored_crc {
            return Err(Error::corrupt("weight file header", "checksum mismatch"));
        }
        let mut table = ByteReader::new(&bytes[HEADER_BYTES..table_end], "weight file table");
        let metadata = table.str("metadata")?.to_string();
        // Each entry takes at least 41 bytes.
        table.check_fits(count as u64, 41, "tensor count")?;
        let mut tensors = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let name = table.str("tensor name")?.to_string();
            let code = table.u8("tensor type")?;
            let weight_type = WeightType::from_code(code)
                .ok_or_else(|| table.corrupt(format!("tensor {name:?} has unknown type {code}")))?;
            let (rows, cols, offset, length) = (
                table.u64("rows")?,
                table.u64("cols")?,
                table.u64("offset")?,
                table.u64("length")?,
            );
            let crc = table.u32("tensor checksum")?;
            let section = format!("weight tensor {name:?}");
            let end = offset
                .checked_add(length)
                .filter(|&end| end <= bytes.len() as u64);
            if weight_type.data_bytes(rows, cols) != Some(length)
                || end.is_none()
                || offset % ALIGN != 0
            {
                return Err(Error::corrupt(
                    section,
                    format!("{rows} × {cols} at {offset}+{length} does not fit the file"),
                ));
            }
            let data = &bytes[offset as usize..(offset + length) as usize];
            if crc32fast::hash(data) != crc {
                return Err(Error::corrupt(section, "checksum mismatch"));
            }
            let mapped = match weight_type {
                WeightType::F32 => Some(MappedF32::new(
                    map.clone(),
                    offset as usize,
                    (length / 4) as usize,
                )?),
                _ => None,
            };
            tensors.push(TensorEntry {
                name,
                weight_type,
                rows: rows as usize,
                cols: cols as usize,
                offset: offset as usize,
                length: length as usize,
                mapped,
            });
        }
        table.finish()?;
        Ok(WeightFile {
            map,
            metadata,
            tensors,
        })
    }

    /// What the writer stored beside the tensors (a layer's configuration).
    pub fn metadata(&self) -> &str {
        &self.metadata
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.iter().map(|t| t.name.as_str())
    }

    fn entry(&self, name: &str) -> Result<&TensorEntry> {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::NotFound(format!("weight tensor {name}")))
    }

    /// How `name` is stored.
    pub fn weight_type(&self, name: &str) -> Result<WeightType> {
        Ok(self.entry(name)?.weight_type)
    }

    /// An `f32` tensor read in place from the mapping; other types must be
    /// decoded with [`WeightFile::tensor`].
    pub fn view(&self, name: &str) -> Result<ArrayView2<'_, f32>> {
        let entry = self.entry(name)?;
        let mapped = entry.mapped.as_ref().ok_or_else(|| {
            Error::invalid_argument(format!(
                "tensor {name} is stored as {:?}; decode it with tensor()",
                entry.weight_type
            ))
        })?;
        Ok(
            ArrayView2::from_shape((entry.rows, entry.cols), mapped.as_slice())
                .expect("sizes checked on open"),
        )
    }

    /// A tensor as a layer holds it: `f32` read in place from the mapping,
    /// other types decoded into memory.
    pub fn matrix(&self, name: &str) -> Result<Matrix> {
        let entry = self.entry(name)?;
        Ok(match &entry.mapped {
            Some(values) => Matrix::Mapped {
                values: values.clone(),
                rows: entry.rows,
                cols: entry.cols,
            },
            None => Matrix::Owned(self.tensor(name)?),
        })
    }

    /// Any tensor, decoded to `f32`.
    pub fn tensor(&self, name: &str) -> Result<Array2<f32>> {
        let entry = self.entry(name)?;
        let data = &self.map[entry.offset..entry.offset + entry.length];
        let shape = (entry.rows, entry.cols);
        Ok(match entry.weight_type {
            WeightType::F32 => self.view(name)?.to_owned(),
            WeightType::F16 => {
                let values = data
                    .chunks_exact(2)
                    .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
                    .collect();
                Array2::from_shape_vec(shape, values).expect("sizes checked on open")
            }
            WeightType::Int8 => {
                let (scales, values) = data.split_at(entry.rows * 4);
                let quantized = Int8Rows {
                    scales: scales
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect(),
                    values: Array2::from_shape_vec(
                        shape,
                        values.iter().map(|&b| b as i8).collect(),
                    )
                    .expect("sizes checked on open"),
                };
                dequantize_rows(&quantized)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use crate::testdata::TempDir;

    fn sample(rng: &mut SplitMix64) -> (Array2<f32>, Array2<f32>) {
        (
            Array2::from_shape_fn((33, 17), |_| rng.gaussian()),
            Array2::from_shape_fn((1, 5), |_| rng.gaussian() * 100.0),
        )
    }

    #[test]
    fn f32_weights_come_back_bit_identical_from_the_mapping() {
        let dir = TempDir::new("weights");
        let path = dir.path().join("model.weights");
        let (w, b) = sample(&mut SplitMix64::new(1));
        save_weights(
            &path,
            r#"{"kind":"test"}"#,
            &[("layer0.weight", w.view()), ("layer0.bias", b.view())],
            WeightType::F32,
        )
        .unwrap();
        let file = WeightFile::open(&path).unwrap();
        assert_eq!(file.metadata(), r#"{"kind":"test"}"#);
        assert!(file.matrix("layer0.weight").unwrap().is_mapped());
        assert_eq!(
            file.names().collect::<Vec<_>>(),
            ["layer0.weight", "layer0.bias"]
        );
        let view = file.view("layer0.weight").unwrap();
        assert!(view
            .iter()
            .zip(w.iter())
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        assert_eq!(file.tensor("layer0.bias").unwrap(), b);
        assert_eq!(file.view("missing").unwrap_err().code(), "ERR_NOT_FOUND");
    }

    #[test]
    fn quantised_weights_stay_within_their_stated_error() {
        let dir = TempDir::new("weights-q");
        let (w, b) = sample(&mut SplitMix64::new(2));
        for weight_type in [WeightType::F16, WeightType::Int8] {
            let path = dir.path().join(format!("{weight_type:?}.weights"));
            save_weights(&path, "", &[("w", w.view()), ("b", b.view())], weight_type).unwrap();
            let file = WeightFile::open(&path).unwrap();
            assert_eq!(file.weight_type("w").unwrap(), weight_type);
            assert_eq!(file.view("w").unwrap_err().code(), "ERR_INVALID_ARGUMENT");
            for (name, original) in [("w", &w), ("b", &b)] {
                let restored = file.tensor(name).unwrap();
                for (row, restored_row) in original.rows().into_iter().zip(restored.rows()) {
                    let max = row.iter().fold(0f32, |m, x| m.max(x.abs()));
                    for (&x, &y) in row.iter().zip(restored_row.iter()) {
                        let bound = match weight_type {
                            WeightType::F16 => x.abs() * 2f32.powi(-11) + 1e-7,
                            _ => max / 254.0 + 1e-6,
                        };
                        assert!((x - y).abs() <= bound, "{weight_type:?} {name}: {x} → {y}");
                    }
                }
            }
        }
    }

    #[test]
    fn damaged_weight_files_are_refused() {
        let dir = TempDir::new("weights-bad");
        let path = dir.path().join("model.weights");
        let (w, b) = sample(&mut SplitMix64::new(3));
        save_weights(
            &path,
            "{}",
            &[("w", w.view()), ("b", b.view())],
            WeightType::Int8,
        )
        .unwrap();
        let good = std::fs::read(&path).unwrap();
        for at in (0..good.len()).step_by(7) {
            let mut bad = good.clone();
            bad[at] ^= 0x21;
            std::fs::write(&path, &bad).unwrap();
            match WeightFile::open(&path) {
                Err(e) => assert!(
                    matches!(e.code(), "ERR_CORRUPT_FILE" | "ERR_UNSUPPORTED_FORMAT"),
                    "{at}: {e}"
                ),
                // Only padding bytes may change unnoticed.
                Ok(file) => assert_eq!(
                    file.tensor("w").unwrap(),
                    WeightFile::parse(Arc::new(mmap_of(&good)))
                        .unwrap()
                        .tensor("w")
                        .unwrap(),
                    "{at}"
                ),
            }
        }
        for len in [0, 10, 63, 64, good.len() / 2, good.len() - 1] {
            std::fs::write(&path, &good[..len]).unwrap();
            assert!(WeightFile::open(&path).is_err(), "truncated to {len}");
        }
    }

    fn mmap_of(bytes: &[u8]) -> Mmap {
        let mut anonymous = memmap2::MmapMut::map_anon(bytes.len()).unwrap();
        anonymous.copy_from_slice(bytes);
        anonymous.make_read_only().unwrap()
    }
}
