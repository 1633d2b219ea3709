//! Model (weight) files: named 2-D tensors stored as `f32`, `f16` or
//! per-row `int8`, with a metadata string (a model's configuration), on the
//! section container (`file::sections`) — so a model can equally be a
//! section of a database file. Written atomically and memory-mapped on
//! open: `f32` tensors are read in place (bit-identical, and a model larger
//! than RAM still runs).
//!
//! | section kind | param | holds |
//! |---|---|---|
//! | 1 metadata | 0 | UTF-8 text (a model's configuration as JSON) |
//! | 2 directory | 0 | tensor count u32, then per tensor: name (u32 length + UTF-8) · type u8 (0 f32, 1 f16, 2 int8) · rows u64 · cols u64 |
//! | 3 tensor | index in the directory | `f32` or `f16` values row-major, or for `int8` an `f32` scale per row then the `i8` values |
//!
//! Every section is *must understand*: a model file is written whole, never
//! edited, so nothing needs carrying through.

use super::quantize::{dequantize_rows, f16_to_f32, f32_to_f16, quantize_rows, Int8Rows};
use super::tensor::Matrix;
use crate::error::{Error, Result};
use crate::file::{
    sections, ByteReader, ByteWriter, ContainerFormat, MappedF32, Mapping, SectionEntry,
    SectionFile, SectionFlags, SectionSource,
};
use ndarray::{Array2, ArrayView2};
use std::path::Path;

/// The model file on the section container.
pub const MODEL_FILE: ContainerFormat = ContainerFormat {
    magic: b"HGNNMODL",
    version: 1,
    header_bytes: 64,
    name: "model file",
    header_name: "model file header",
};

const METADATA: u32 = 1;
const DIRECTORY: u32 = 2;
const TENSOR: u32 = 3;
const FLAGS: SectionFlags = SectionFlags {
    must_understand: true,
    safe_to_copy: false,
};

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

    /// The options of `saveWeights`: `{ weightType }`, `f32` by default.
    pub fn from_options(options: Option<&serde_json::Value>) -> Result<WeightType> {
        let o =
            crate::options::OptionsReader::new(options, "saveWeights options", &["weightType"])?;
        o.text("weightType")?
            .map_or(Ok(WeightType::F32), WeightType::parse)
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

/// The directory section and each tensor's section, encoded as
/// `weight_type`.
fn encode_tensors(
    tensors: &[(&str, ArrayView2<'_, f32>)],
    weight_type: WeightType,
) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut directory = Vec::new();
    directory.put_u32(tensors.len() as u32);
    let mut data = Vec::with_capacity(tensors.len());
    for (name, values) in tensors {
        directory.put_str(name);
        directory.put_u8(weight_type.code());
        directory.put_u64(values.nrows() as u64);
        directory.put_u64(values.ncols() as u64);
        data.push(encode(values, weight_type));
    }
    (directory, data)
}

/// Writes `metadata` and `tensors` to `path` atomically, every tensor as
/// `weight_type`; returns the file's size.
pub fn save_weights(
    path: &Path,
    metadata: &str,
    tensors: &[(&str, ArrayView2<'_, f32>)],
    weight_type: WeightType,
) -> Result<u64> {
    let (directory, data) = encode_tensors(tensors, weight_type);
    let mut sources = vec![
        SectionSource::from_bytes(METADATA, 0, FLAGS, metadata.as_bytes()),
        SectionSource::from_bytes(DIRECTORY, 0, FLAGS, &directory),
    ];
    for (i, bytes) in data.iter().enumerate() {
        sources.push(SectionSource::from_bytes(TENSOR, i as u32, FLAGS, bytes));
    }
    sections::write_file(path, &MODEL_FILE, &[], sources)
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

/// `image`, a model file, with `metadata` in place of its own (any length,
/// checksums made right): the fuzz target rewrites a model's configuration
/// this way.
#[doc(hidden)]
pub fn with_metadata(image: &[u8], metadata: &[u8]) -> Result<Vec<u8>> {
    let container = SectionFile::parse(Mapping::from_bytes(image), &MODEL_FILE)?;
    container.with_sections(vec![SectionSource::from_bytes(
        METADATA, 0, FLAGS, metadata,
    )])
}

/// A validated, memory-mapped model file.
pub struct WeightFile {
    container: SectionFile,
    metadata: String,
    tensors: Vec<TensorEntry>,
}

struct TensorEntry {
    name: String,
    weight_type: WeightType,
    rows: usize,
    cols: usize,
    section: SectionEntry,
    /// `f32` tensors, read in place.
    mapped: Option<MappedF32>,
}

impl WeightFile {
    /// Maps `path` and checks its header, sections and every tensor's
    /// shape against its size.
    pub fn open(path: &Path) -> Result<WeightFile> {
        WeightFile::from_container(SectionFile::parse(Mapping::open(path)?, &MODEL_FILE)?)
    }

    /// A model file's image held in memory, checked as [`WeightFile::open`]
    /// checks a file.
    pub fn from_bytes(bytes: &[u8]) -> Result<WeightFile> {
        WeightFile::from_container(SectionFile::parse(Mapping::from_bytes(bytes), &MODEL_FILE)?)
    }

    /// A model held in a container already parsed: a model file, or a
    /// model nested in a section of another file.
    pub fn from_container(container: SectionFile) -> Result<WeightFile> {
        container.verify(|entry| match entry.kind {
            METADATA => "model metadata".into(),
            DIRECTORY => "model tensor directory".into(),
            TENSOR => format!("model tensor {}", entry.param),
            other => format!("model section of kind {other}"),
        })?;
        if let Some(entry) = container
            .sections()
            .iter()
            .find(|e| !(METADATA..=TENSOR).contains(&e.kind) && e.flags.must_understand)
        {
            return Err(Error::UnsupportedFormat(format!(
                "the model file has a section of kind {} that this hnsw-gnn does not know (upgrade hnsw-gnn)",
                entry.kind
            )));
        }
        let section = |kind: u32, param: u32, name: &str| {
            container
                .find(kind, param)
                .copied()
                .ok_or_else(|| Error::corrupt(name, "missing"))
        };
        let metadata_entry = section(METADATA, 0, "model metadata")?;
        let metadata = std::str::from_utf8(container.bytes(&metadata_entry))
            .map_err(|_| Error::corrupt("model metadata", "not UTF-8"))?
            .to_string();
        let directory_entry = section(DIRECTORY, 0, "model tensor directory")?;
        let mut directory =
            ByteReader::new(container.bytes(&directory_entry), "model tensor directory");
        let count = directory.u32("tensor count")?;
        // Each entry takes at least 21 bytes.
        directory.check_fits(count as u64, 21, "tensor count")?;
        let mut tensors = Vec::with_capacity(count as usize);
        for i in 0..count {
            let name = directory.str("tensor name")?.to_string();
            let code = directory.u8("tensor type")?;
            let weight_type = WeightType::from_code(code).ok_or_else(|| {
                directory.corrupt(format!("tensor {name:?} has unknown type {code}"))
            })?;
            let (rows, cols) = (directory.u64("rows")?, directory.u64("cols")?);
            let what = format!("model tensor {name:?}");
            let data = section(TENSOR, i, &what)?;
            if weight_type.data_bytes(rows, cols) != Some(data.length) {
                return Err(Error::corrupt(
                    what,
                    format!(
                        "{rows} × {cols} {weight_type:?} values do not fill {} bytes",
                        data.length
                    ),
                ));
            }
            let mapped = match weight_type {
                WeightType::F32 => Some(container.f32s(&data)?),
                _ => None,
            };
            tensors.push(TensorEntry {
                name,
                weight_type,
                rows: rows as usize,
                cols: cols as usize,
                section: data,
                mapped,
            });
        }
        directory.finish()?;
        Ok(WeightFile {
            container,
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

    /// `(rows, columns)` of `name`, read from the directory (nothing is
    /// decoded).
    pub fn shape(&self, name: &str) -> Result<(usize, usize)> {
        let entry = self.entry(name)?;
        Ok((entry.rows, entry.cols))
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
            Some(values) => Matrix::mapped(values.clone(), entry.rows, entry.cols),
            None => Matrix::from(self.tensor(name)?),
        })
    }

    /// Any tensor, decoded to `f32`.
    pub fn tensor(&self, name: &str) -> Result<Array2<f32>> {
        let entry = self.entry(name)?;
        let data = self.container.bytes(&entry.section);
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
                    WeightFile::from_container(
                        SectionFile::parse(Mapping::from_bytes(&good), &MODEL_FILE).unwrap()
                    )
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
}
