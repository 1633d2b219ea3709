//! Read-only memory maps, and `f32` values read in place from them.
//!
//! This is the crate's one call to `Mmap::map`. Its soundness rests on one
//! rule every writer in hnsw-gnn keeps: a file that may be mapped is never
//! modified in place; saves write a new file and rename it over the old
//! one (see [`super::atomic`]), so an existing mapping keeps seeing the
//! bytes it mapped.

use crate::error::{Error, Result};
use memmap2::Mmap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// A shared, read-only mapping of a whole file (or of an anonymous copy of
/// some bytes). Cloning shares the mapping.
#[derive(Clone)]
pub struct Mapping {
    map: Arc<Mmap>,
    /// Bytes of the image: the map's length, except for an empty image,
    /// which still needs a page behind it.
    len: usize,
}

impl Mapping {
    /// Maps the file at `path`.
    pub fn open(path: &Path) -> Result<Mapping> {
        let file = File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
        // SAFETY: the mapping is read-only, and hnsw-gnn never modifies a
        // file it may map (saves write a new file and rename it). Another
        // program truncating the file behind our back can still fault this
        // process, as with any mmap-based store; the README says so.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io("cannot map", path, e))?;
        let len = map.len();
        Ok(Mapping {
            map: Arc::new(map),
            len,
        })
    }

    /// An anonymous read-only mapping holding a copy of `bytes`: lets tests
    /// and the fuzz target parse an image exactly as if it were a file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Mapping> {
        let mut anonymous = memmap2::MmapMut::map_anon(bytes.len().max(1))
            .map_err(|e| Error::Io(format!("cannot map {} bytes: {e}", bytes.len())))?;
        anonymous[..bytes.len()].copy_from_slice(bytes);
        let map = anonymous
            .make_read_only()
            .map_err(|e| Error::Io(format!("cannot protect a mapping: {e}")))?;
        Ok(Mapping {
            map: Arc::new(map),
            len: bytes.len(),
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.map[..self.len]
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `len` floats at byte `offset`, read in place. `ERR_CORRUPT_FILE` if
    /// they lie outside the mapping or are not 4-byte aligned.
    pub fn f32s(&self, offset: usize, len: usize) -> Result<MappedF32> {
        let end = len
            .checked_mul(4)
            .and_then(|bytes| offset.checked_add(bytes))
            .filter(|&end| end <= self.len())
            .ok_or_else(|| {
                Error::corrupt(
                    "f32 data",
                    format!("{len} values at {offset} overrun the file"),
                )
            })?;
        let ptr = self.bytes()[offset..end].as_ptr() as *const f32;
        if !ptr.is_aligned() {
            return Err(Error::corrupt("f32 data", "misaligned"));
        }
        Ok(MappedF32 {
            _mapping: Some(self.clone()),
            ptr,
            len,
        })
    }
}

/// `f32` values read in place from a [`Mapping`], which they keep alive.
#[derive(Clone)]
pub struct MappedF32 {
    _mapping: Option<Mapping>,
    ptr: *const f32,
    len: usize,
}

// SAFETY: the mapping is read-only and kept alive (through the `Arc`) by
// this value, so sharing or sending the pointer is as safe as sharing
// `&[f32]`.
unsafe impl Send for MappedF32 {}
// SAFETY: as above; nothing writes through the pointer.
unsafe impl Sync for MappedF32 {}

impl MappedF32 {
    /// No values: what an index that maps nothing holds.
    pub fn empty() -> MappedF32 {
        MappedF32 {
            _mapping: None,
            ptr: std::ptr::NonNull::<f32>::dangling().as_ptr(),
            len: 0,
        }
    }

    #[inline(always)]
    pub fn as_slice(&self) -> &[f32] {
        // SAFETY: `ptr` is aligned (checked in `Mapping::f32s`, or dangling
        // with `len == 0`) and points at `len` f32s inside the mapping held
        // by `_mapping`, which lives as long as `self`; the mapping is never
        // written, and every bit pattern is a valid f32.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Bytes mapped (not necessarily resident).
    pub fn mapped_bytes(&self) -> usize {
        self.len * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_read_in_place_and_bounds_are_checked() {
        let bytes: Vec<u8> = [1.5f32, -2.0, 3.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mapping = Mapping::from_bytes(&bytes).unwrap();
        assert_eq!(mapping.f32s(4, 2).unwrap().as_slice(), &[-2.0, 3.25]);
        assert_eq!(mapping.f32s(8, 2).err().unwrap().code(), "ERR_CORRUPT_FILE");
        assert_eq!(mapping.f32s(2, 1).err().unwrap().code(), "ERR_CORRUPT_FILE");
        assert_eq!(
            mapping.f32s(0, usize::MAX).err().unwrap().code(),
            "ERR_CORRUPT_FILE"
        );
        assert!(MappedF32::empty().as_slice().is_empty());
        assert!(Mapping::from_bytes(&[]).unwrap().is_empty());
    }
}
