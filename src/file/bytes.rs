//! Little-endian encoding helpers. The reader checks every length against
//! what is left before it reads or allocates, and names its section in
//! errors, so a hostile count can neither overrun a buffer nor reserve more
//! memory than the bytes behind it justify.

use crate::error::{Error, Result};

/// A bounds-checked cursor over one section (or WAL record).
pub struct ByteReader<'a> {
    bytes: &'a [u8],
    position: usize,
    section: &'a str,
}

impl<'a> ByteReader<'a> {
    pub fn new(bytes: &'a [u8], section: &'a str) -> ByteReader<'a> {
        ByteReader {
            bytes,
            position: 0,
            section,
        }
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    pub fn position(&self) -> usize {
        self.position
    }

    /// An error about this section.
    pub fn corrupt(&self, why: impl Into<String>) -> Error {
        Error::corrupt(self.section, why)
    }

    pub fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8]> {
        if len > self.remaining() {
            return Err(self.corrupt(format!(
                "{what} needs {len} bytes at offset {}, only {} remain",
                self.position,
                self.remaining()
            )));
        }
        let slice = &self.bytes[self.position..self.position + len];
        self.position += len;
        Ok(slice)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }

    pub fn u32(&mut self, what: &str) -> Result<u32> {
        let bytes = self.take(4, what)?;
        Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")))
    }

    pub fn u64(&mut self, what: &str) -> Result<u64> {
        let bytes = self.take(8, what)?;
        Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }

    /// A count of items of `item_bytes` each that must still fit in the
    /// section: the guard against huge allocations.
    pub fn count(&mut self, item_bytes: usize, what: &str) -> Result<usize> {
        let count = self.u64(what)?;
        self.check_fits(count, item_bytes, what)
    }

    /// Checks that `count` items of `item_bytes` each fit in what is left.
    pub fn check_fits(&self, count: u64, item_bytes: usize, what: &str) -> Result<usize> {
        let fits = (count as u128) * (item_bytes.max(1) as u128) <= self.remaining() as u128;
        if !fits {
            return Err(self.corrupt(format!(
                "{what} is {count}, more than the {} bytes left can hold",
                self.remaining()
            )));
        }
        Ok(count as usize)
    }

    /// `count` little-endian `f32`s.
    pub fn f32s(&mut self, count: usize, what: &str) -> Result<Vec<f32>> {
        let bytes = self.take(count.saturating_mul(4), what)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect())
    }

    /// A `u32`-length-prefixed byte string; `u32::MAX` encodes "absent".
    pub fn optional_bytes(&mut self, what: &str) -> Result<Option<&'a [u8]>> {
        match self.u32(what)? {
            u32::MAX => Ok(None),
            len => self.take(len as usize, what).map(Some),
        }
    }

    pub fn optional_str(&mut self, what: &str) -> Result<Option<&'a str>> {
        match self.optional_bytes(what)? {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(bytes)
                .map(Some)
                .map_err(|_| self.corrupt(format!("{what} is not UTF-8"))),
        }
    }

    pub fn str(&mut self, what: &str) -> Result<&'a str> {
        self.optional_str(what)?
            .ok_or_else(|| self.corrupt(format!("{what} is missing")))
    }

    /// Errors unless every byte was consumed.
    pub fn finish(&self) -> Result<()> {
        if self.remaining() != 0 {
            return Err(self.corrupt(format!(
                "{} unexpected bytes after the end",
                self.remaining()
            )));
        }
        Ok(())
    }
}

/// Encoders matching [`ByteReader`], appending to a `Vec<u8>`.
pub trait ByteWriter {
    fn put_u8(&mut self, value: u8);
    fn put_u32(&mut self, value: u32);
    fn put_u64(&mut self, value: u64);
    fn put_f32s(&mut self, values: &[f32]);
    fn put_optional_bytes(&mut self, bytes: Option<&[u8]>);
    fn put_str(&mut self, text: &str) {
        self.put_optional_bytes(Some(text.as_bytes()));
    }
}

impl ByteWriter for Vec<u8> {
    fn put_u8(&mut self, value: u8) {
        self.push(value);
    }

    fn put_u32(&mut self, value: u32) {
        self.extend_from_slice(&value.to_le_bytes());
    }

    fn put_u64(&mut self, value: u64) {
        self.extend_from_slice(&value.to_le_bytes());
    }

    fn put_f32s(&mut self, values: &[f32]) {
        self.reserve(values.len() * 4);
        for value in values {
            self.extend_from_slice(&value.to_le_bytes());
        }
    }

    fn put_optional_bytes(&mut self, bytes: Option<&[u8]>) {
        match bytes {
            None => self.put_u32(u32::MAX),
            Some(bytes) => {
                // Ids and metadata are far below 4 GiB; a longer string
                // would be a caller bug, and the reader would reject it.
                debug_assert!(bytes.len() < u32::MAX as usize);
                self.put_u32(bytes.len() as u32);
                self.extend_from_slice(bytes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_was_written_and_rejects_overruns() {
        let mut out = Vec::new();
        out.put_u8(7);
        out.put_u32(0xDEAD_BEEF);
        out.put_u64(1 << 40);
        out.put_f32s(&[1.5, -2.0]);
        out.put_str("héllo");
        out.put_optional_bytes(None);
        let mut reader = ByteReader::new(&out, "test");
        assert_eq!(reader.u8("a").unwrap(), 7);
        assert_eq!(reader.u32("b").unwrap(), 0xDEAD_BEEF);
        assert_eq!(reader.u64("c").unwrap(), 1 << 40);
        assert_eq!(reader.f32s(2, "d").unwrap(), vec![1.5, -2.0]);
        assert_eq!(reader.str("e").unwrap(), "héllo");
        assert_eq!(reader.optional_str("f").unwrap(), None);
        reader.finish().unwrap();
        let error = reader.u8("g").unwrap_err();
        assert_eq!(error.code(), "ERR_CORRUPT_FILE");
        assert!(error.to_string().contains("test"), "{error}");
    }

    #[test]
    fn a_huge_count_is_refused_before_any_allocation() {
        let mut out = Vec::new();
        out.put_u64(u64::MAX / 2);
        out.extend_from_slice(&[0; 16]);
        let mut reader = ByteReader::new(&out, "graph level 0");
        let error = reader.count(4, "edge count").unwrap_err();
        assert!(error.to_string().contains("edge count"), "{error}");
        let mut reader = ByteReader::new(&out[..8], "ids");
        assert!(reader.f32s(usize::MAX / 2, "vector").is_err());
    }
}
