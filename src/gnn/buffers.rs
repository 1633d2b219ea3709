//! Large `f32` buffers kept after use, so the next output of similar size
//! reuses memory whose pages are already mapped.
//!
//! A layer's output on a 100k-node graph is 25–50 MB. Freshly allocated,
//! every 4 KB page of it faults on first write and is zeroed by the kernel:
//! measured here (a 2-vCPU VM), filling a fresh 25.6 MB buffer takes 13 ms,
//! a mapped one 1.3 ms — the faults cost more than the product that fills
//! it. glibc returns allocations above 32 MB to the OS on free, and outputs
//! handed to JS are freed only when its garbage collector runs, so without
//! this pool every call would pay the faults. (Transparent huge pages were
//! tried first: with the common `defrag=madvise` setting, asking for them
//! made the same fill 5× slower, compacting memory, and got none.)
//!
//! Buffers return here from outputs JS has collected (the bindings'
//! finalizer) and from intermediates the layers drop. The pool is bounded
//! ([`MAX_BUFFERS`], [`MAX_BYTES`]); the oldest buffer goes first.

use ndarray::{Array2, ArrayView2};
use std::sync::Mutex;

/// Buffers below this size are not worth keeping (the allocator reuses
/// small blocks by itself).
pub const MIN_BYTES: usize = 1 << 20;
/// At most this many buffers are kept…
pub const MAX_BUFFERS: usize = 8;
/// …holding at most this many bytes in all.
pub const MAX_BYTES: usize = 512 << 20;

/// A bounded set of kept buffers; the process has one ([`take`], [`recycle`]).
pub struct BufferPool {
    free: Mutex<Vec<Vec<f32>>>,
}

static POOL: BufferPool = BufferPool::new();

impl BufferPool {
    pub const fn new() -> BufferPool {
        BufferPool {
            free: Mutex::new(Vec::new()),
        }
    }

    fn free(&self) -> std::sync::MutexGuard<'_, Vec<Vec<f32>>> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A buffer of `len` floats: a kept one when one fits (its contents are
    /// stale values, to be overwritten), else a new zeroed one.
    pub fn take(&self, len: usize) -> Vec<f32> {
        if len.saturating_mul(4) >= MIN_BYTES {
            let mut free = self.free();
            // The smallest that fits, and not more than twice the size (a
            // small output must not pin a large buffer).
            let best = free
                .iter()
                .enumerate()
                .filter(|(_, b)| b.capacity() >= len && b.capacity() / 2 <= len)
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i);
            if let Some(i) = best {
                let mut buffer = free.remove(i);
                drop(free);
                // Within capacity: no reallocation; values past the old
                // length (if any) are written once here.
                buffer.resize(len, 0.0);
                return buffer;
            }
        }
        vec![0.0; len]
    }

    /// Keeps `buffer` for a later [`BufferPool::take`] if it is large
    /// enough to matter, dropping the oldest kept ones past the bounds.
    pub fn recycle(&self, buffer: Vec<f32>) {
        let bytes = buffer.capacity().saturating_mul(4);
        if !(MIN_BYTES..=MAX_BYTES).contains(&bytes) {
            return;
        }
        let mut free = self.free();
        free.push(buffer);
        while free.len() > MAX_BUFFERS
            || free.iter().map(|b| b.capacity() * 4).sum::<usize>() > MAX_BYTES
        {
            free.remove(0);
        }
    }

    /// Bytes kept now.
    pub fn held_bytes(&self) -> usize {
        self.free().iter().map(|b| b.capacity() * 4).sum()
    }
}

impl Default for BufferPool {
    fn default() -> BufferPool {
        BufferPool::new()
    }
}

/// A buffer of `len` floats from the process's pool (see [`BufferPool::take`]).
pub fn take(len: usize) -> Vec<f32> {
    POOL.take(len)
}

/// A `rows × cols` matrix on a [`take`]n buffer: its values are
/// unspecified and must all be written.
pub fn matrix(rows: usize, cols: usize) -> Array2<f32> {
    Array2::from_shape_vec((rows, cols), take(rows * cols)).expect("rows × cols values")
}

/// A copy of `values` on a [`take`]n buffer (row-major).
pub fn copy_of(values: ArrayView2<'_, f32>) -> Array2<f32> {
    let mut copy = matrix(values.nrows(), values.ncols());
    copy.assign(&values);
    copy
}

/// Gives `buffer` to the process's pool (see [`BufferPool::recycle`]).
pub fn recycle(buffer: Vec<f32>) {
    POOL.recycle(buffer)
}

/// [`recycle`]s a matrix's buffer (a contiguous one; others are dropped).
pub fn recycle_matrix(matrix: Array2<f32>) {
    if matrix.is_standard_layout() {
        let (values, offset) = matrix.into_raw_vec_and_offset();
        if offset.is_none_or(|o| o == 0) {
            recycle(values);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_bounded_and_sized_to_fit() {
        let pool = BufferPool::new();
        let len = MIN_BYTES / 4 * 3;
        let first = pool.take(len);
        let address = first.as_ptr();
        pool.recycle(first);
        // The same buffer comes back for an output of similar size…
        let again = pool.take(len - 100);
        assert_eq!(again.as_ptr(), address);
        assert_eq!(again.len(), len - 100);
        // …grown within its capacity when a little larger is asked for.
        pool.recycle(again);
        let grown = pool.take(len);
        assert_eq!(grown.as_ptr(), address);
        assert_eq!(grown.len(), len);
        // A much smaller output does not pin it.
        pool.recycle(grown);
        let small = pool.take(len / 3);
        assert_ne!(small.as_ptr(), address);
        assert_eq!(small.len(), len / 3);
        // Small buffers are not kept; the pool never exceeds its bounds.
        pool.recycle(vec![0.0; 10]);
        assert_eq!(pool.held_bytes(), len * 4);
        for _ in 0..MAX_BUFFERS + 3 {
            pool.recycle(vec![1.0; len]);
        }
        assert!(pool.held_bytes() <= MAX_BYTES);
        assert_eq!(pool.free().len(), MAX_BUFFERS);
        assert!(pool.free().iter().all(|b| b.capacity() * 4 >= MIN_BYTES));
    }
}
