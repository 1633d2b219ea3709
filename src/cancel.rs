//! Cancellation of long operations (`insertBatch`, `save`, `train`,
//! `snapshot`): a flag the caller sets — from an `AbortSignal` in JS — and
//! the operation polls at points where stopping leaves the database as it
//! was before the call.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Whether the caller has asked an operation to stop. Cloning shares the
/// flag.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Option<Arc<AtomicBool>>);

impl Cancel {
    /// An operation nobody can cancel.
    pub fn never() -> Cancel {
        Cancel(None)
    }

    /// A cancel that `flag` set to true triggers.
    pub fn on(flag: Arc<AtomicBool>) -> Cancel {
        Cancel(Some(flag))
    }

    pub fn is_cancelled(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Acquire))
    }

    /// `ERR_ABORTED` for `what` once cancelled.
    pub fn check(&self, what: &str) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Aborted(format!("{what} was aborted")))
        } else {
            Ok(())
        }
    }
}

/// A writer that fails once `cancel` is set, so a long write (a save)
/// stops at its next buffer; the caller then reports `ERR_ABORTED`.
pub struct CancelWrite<'a> {
    pub out: &'a mut dyn std::io::Write,
    pub cancel: &'a Cancel,
}

impl std::io::Write for CancelWrite<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.cancel.is_cancelled() {
            return Err(std::io::Error::other("aborted"));
        }
        self.out.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
