//! Read-only memory maps, and `f32` values read in place from them.
//!
//! This is the crate's one call to `Mmap::map`. Its soundness rests on one
//! rule every writer in hnsw-gnn keeps: a file that may be mapped is never
//! modified in place; saves write a new file and rename it over the old
//! one (see [`super::atomic`]), so an existing mapping keeps seeing the
//! bytes it mapped.
//!
//! WASI has no `mmap` (memmap2 compiles there, but every map fails at run
//! time), so a WASI build reads each file whole into an 8-byte-aligned
//! heap buffer instead ([`Mapping::read`]); everything above sees the same
//! `Mapping`, and [`FILE_MAPPING`] tells `stats()` which of the two is in
//! force. The heap buffer is also what [`Mapping::from_bytes`] uses on
//! every platform, so tests on Linux exercise it.

use crate::error::{Error, Result};
use memmap2::Mmap;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// How database and weight files are brought into memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileMapping {
    /// Mapped read-only: the OS pages vectors in on demand.
    Mmap,
    /// Read whole into the heap (no `mmap` on the platform).
    Read,
}

impl FileMapping {
    /// The name `stats()` reports.
    pub fn name(self) -> &'static str {
        match self {
            FileMapping::Mmap => "mmap",
            FileMapping::Read => "read",
        }
    }
}

/// What [`Mapping::open`] does in this build.
#[cfg(not(target_os = "wasi"))]
pub const FILE_MAPPING: FileMapping = FileMapping::Mmap;
/// What [`Mapping::open`] does in this build: WASI has no `mmap`.
#[cfg(target_os = "wasi")]
pub const FILE_MAPPING: FileMapping = FileMapping::Read;

/// The bytes behind a [`Mapping`].
enum Image {
    Mapped(Mmap),
    /// A copy on the heap, starting at `start` so that it is 8-byte
    /// aligned as a mapping is page aligned: in-place `f32` reads see the
    /// alignment the file's layout gives them either way.
    Heap {
        buffer: Vec<u8>,
        start: usize,
    },
}

impl Image {
    fn bytes(&self) -> &[u8] {
        match self {
            Image::Mapped(map) => map,
            Image::Heap { buffer, start } => &buffer[*start..],
        }
    }
}

/// A shared, read-only image of a whole file (or of a copy of some bytes):
/// mapped, or read into the heap where the platform cannot map (see
/// [`FILE_MAPPING`]). Cloning shares the image.
#[derive(Clone)]
pub struct Mapping {
    image: Arc<Image>,
}

/// A zeroed buffer with `len` bytes from an 8-byte-aligned `start` on,
/// which stays aligned as long as the buffer is never resized.
fn aligned_buffer(len: usize) -> (Vec<u8>, usize) {
    const ALIGN: usize = 8;
    let mut buffer = vec![0u8; len + ALIGN - 1];
    let start = (ALIGN - buffer.as_ptr() as usize % ALIGN) % ALIGN;
    buffer.truncate(start + len);
    (buffer, start)
}

impl Mapping {
    /// Maps the file at `path`; on WASI, which cannot map, reads it.
    pub fn open(path: &Path) -> Result<Mapping> {
        match FILE_MAPPING {
            FileMapping::Mmap => Mapping::map(path),
            FileMapping::Read => Mapping::read(path),
        }
    }

    fn map(path: &Path) -> Result<Mapping> {
        let file = File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
        // SAFETY: the mapping is read-only, and hnsw-gnn never modifies a
        // file it may map (saves write a new file and rename it). Another
        // program truncating the file behind our back can still fault this
        // process, as with any mmap-based store; the README says so.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io("cannot map", path, e))?;
        Ok(Mapping {
            image: Arc::new(Image::Mapped(map)),
        })
    }

    /// Reads the file at `path` whole into an aligned heap buffer: what
    /// [`Mapping::open`] does where there is no `mmap` (WASI).
    pub fn read(path: &Path) -> Result<Mapping> {
        let mut file = File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io("cannot read the size of", path, e))?
            .len();
        let len = usize::try_from(len).map_err(|_| {
            Error::Io(format!(
                "{} has {len} bytes, more than memory",
                path.display()
            ))
        })?;
        let (mut buffer, start) = aligned_buffer(len);
        file.read_exact(&mut buffer[start..])
            .map_err(|e| Error::io("cannot read", path, e))?;
        Ok(Mapping::heap(buffer, start))
    }

    /// A heap image holding a copy of `bytes`: lets tests and the fuzz
    /// target parse an image exactly as if it were a file.
    pub fn from_bytes(bytes: &[u8]) -> Mapping {
        let (mut buffer, start) = aligned_buffer(bytes.len());
        buffer[start..].copy_from_slice(bytes);
        Mapping::heap(buffer, start)
    }

    fn heap(buffer: Vec<u8>, start: usize) -> Mapping {
        Mapping {
            image: Arc::new(Image::Heap { buffer, start }),
        }
    }

    /// Whether the image is a real memory map (not a heap copy).
    pub fn is_mapped(&self) -> bool {
        matches!(*self.image, Image::Mapped(_))
    }

    pub fn bytes(&self) -> &[u8] {
        self.image.bytes()
    }

    pub fn len(&self) -> usize {
        self.bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `len` floats at byte `offset`, read in place. `ERR_CORRUPT_FILE` if
    /// they lie outside the mapping or are not 4-byte aligned.
    pub fn f32s(&self, offset: usize, len: usize) -> Result<MappedF32> {
        self.values(offset, len)
    }

    /// `len` values of `T` at byte `offset`, read in place.
    /// `ERR_CORRUPT_FILE` if they lie outside the mapping or are not
    /// aligned for `T`.
    pub fn values<T: InPlace>(&self, offset: usize, len: usize) -> Result<Mapped<T>> {
        let size = std::mem::size_of::<T>();
        let end = len
            .checked_mul(size)
            .and_then(|bytes| offset.checked_add(bytes))
            .filter(|&end| end <= self.len())
            .ok_or_else(|| {
                Error::corrupt(
                    T::NAME,
                    format!("{len} values at {offset} overrun the file"),
                )
            })?;
        let ptr = self.bytes()[offset..end].as_ptr() as *const T;
        if !ptr.is_aligned() {
            return Err(Error::corrupt(T::NAME, "misaligned"));
        }
        Ok(Mapped {
            _mapping: Some(self.clone()),
            ptr,
            len,
        })
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for u32 {}
    impl Sealed for u64 {}
}

/// Plain numbers that can be read in place from a mapping: every bit
/// pattern is a value, and the file stores them little-endian, as every
/// platform hnsw-gnn builds for does.
pub trait InPlace: Copy + sealed::Sealed {
    /// Names the data in errors.
    const NAME: &'static str;
}

impl InPlace for f32 {
    const NAME: &'static str = "f32 data";
}

impl InPlace for u32 {
    const NAME: &'static str = "u32 data";
}

impl InPlace for u64 {
    const NAME: &'static str = "u64 data";
}

#[cfg(target_endian = "big")]
compile_error!("hnsw-gnn files are little-endian and are read in place");

/// Values read in place from a [`Mapping`], which they keep alive.
pub struct Mapped<T> {
    _mapping: Option<Mapping>,
    ptr: *const T,
    len: usize,
}

/// `f32` values read in place: vectors.
pub type MappedF32 = Mapped<f32>;

impl<T> Clone for Mapped<T> {
    fn clone(&self) -> Self {
        Mapped {
            _mapping: self._mapping.clone(),
            ptr: self.ptr,
            len: self.len,
        }
    }
}

// SAFETY: the mapping is read-only and kept alive (through the `Arc`) by
// this value, so sharing or sending the pointer is as safe as sharing
// `&[T]` of plain numbers.
unsafe impl<T: InPlace> Send for Mapped<T> {}
// SAFETY: as above; nothing writes through the pointer.
unsafe impl<T: InPlace> Sync for Mapped<T> {}

impl<T: InPlace> Mapped<T> {
    /// No values: what an index that maps nothing holds.
    pub fn empty() -> Mapped<T> {
        Mapped {
            _mapping: None,
            ptr: std::ptr::NonNull::<T>::dangling().as_ptr(),
            len: 0,
        }
    }

    #[inline(always)]
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: `ptr` is aligned (checked in `Mapping::values`, or
        // dangling with `len == 0`) and points at `len` values inside the
        // mapping held by `_mapping`, which lives as long as `self`; the
        // mapping is never written, and every bit pattern is a valid `T`
        // (`InPlace`).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Bytes served from a memory map (not necessarily resident); 0 for
    /// values read into the heap.
    pub fn mapped_bytes(&self) -> usize {
        match &self._mapping {
            Some(mapping) if mapping.is_mapped() => self.len * std::mem::size_of::<T>(),
            _ => 0,
        }
    }

    /// Bytes served from a heap image (a file read where it cannot be
    /// mapped); 0 for mapped values.
    pub fn heap_bytes(&self) -> usize {
        match &self._mapping {
            Some(mapping) if !mapping.is_mapped() => self.len * std::mem::size_of::<T>(),
            _ => 0,
        }
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
        let mapping = Mapping::from_bytes(&bytes);
        assert_eq!(mapping.f32s(4, 2).unwrap().as_slice(), &[-2.0, 3.25]);
        assert_eq!(mapping.f32s(8, 2).err().unwrap().code(), "ERR_CORRUPT_FILE");
        assert_eq!(mapping.f32s(2, 1).err().unwrap().code(), "ERR_CORRUPT_FILE");
        assert_eq!(
            mapping.f32s(0, usize::MAX).err().unwrap().code(),
            "ERR_CORRUPT_FILE"
        );
        assert!(MappedF32::empty().as_slice().is_empty());
        assert!(Mapping::from_bytes(&[]).is_empty());
    }

    /// The WASI path, run here: a file read into the heap serves the same
    /// bytes and floats as its map, 8-byte aligned, and counts as heap.
    #[test]
    fn a_file_read_into_the_heap_matches_its_map_and_keeps_alignment() {
        let dir = crate::testdata::TempDir::new("mmap-read");
        let path = dir.path().join("image");
        let floats: Vec<f32> = (0..37).map(|i| i as f32 * 0.5 - 3.0).collect();
        let mut bytes = vec![7u8; 8];
        bytes.extend(floats.iter().flat_map(|v| v.to_le_bytes()));
        std::fs::write(&path, &bytes).unwrap();

        let read = Mapping::read(&path).unwrap();
        let mapped = Mapping::map(&path).unwrap();
        assert!(!read.is_mapped());
        assert!(mapped.is_mapped());
        assert_eq!(read.bytes(), &bytes[..]);
        assert_eq!(mapped.bytes(), &bytes[..]);
        assert_eq!(read.bytes().as_ptr() as usize % 8, 0);

        let values = read.f32s(8, floats.len()).unwrap();
        assert_eq!(values.as_slice(), &floats[..]);
        assert_eq!(
            (values.mapped_bytes(), values.heap_bytes()),
            (0, floats.len() * 4)
        );
        let values = mapped.f32s(8, floats.len()).unwrap();
        assert_eq!(
            (values.mapped_bytes(), values.heap_bytes()),
            (floats.len() * 4, 0)
        );
        assert_eq!(read.f32s(9, 1).err().unwrap().code(), "ERR_CORRUPT_FILE");

        std::fs::write(&path, []).unwrap();
        assert!(Mapping::read(&path).unwrap().is_empty());
        assert_eq!(
            Mapping::read(&dir.path().join("missing"))
                .err()
                .unwrap()
                .code(),
            "ERR_IO"
        );
    }

    #[test]
    fn heap_images_start_8_byte_aligned_whatever_their_length() {
        for len in [0, 1, 7, 8, 9, 63, 64, 65] {
            let bytes: Vec<u8> = (0..len as u8).collect();
            let image = Mapping::from_bytes(&bytes);
            assert_eq!(image.bytes(), &bytes[..]);
            assert_eq!(image.bytes().as_ptr() as usize % 8, 0, "{len} bytes");
        }
    }

    #[test]
    fn open_reads_where_this_build_cannot_map() {
        assert_eq!(
            FILE_MAPPING,
            if cfg!(target_os = "wasi") {
                FileMapping::Read
            } else {
                FileMapping::Mmap
            }
        );
    }
}
