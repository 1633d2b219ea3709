//! `CancelToken`: what index.js hands the native side for an `AbortSignal`.
//! The signal's `abort` event sets the token's flag on the JS thread; the
//! operation, running off it, polls the flag (see `crate::cancel`).

use crate::cancel::Cancel;
use napi_derive::napi;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[napi]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
}

#[napi]
impl CancelToken {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> CancelToken {
        CancelToken {
            flag: Arc::new(AtomicBool::new(false)),
        }
    }

    #[napi]
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Release);
    }
}

/// The core's view of an optional token.
pub fn cancel_of(token: Option<&CancelToken>) -> Cancel {
    token.map_or_else(Cancel::never, |token| Cancel::on(Arc::clone(&token.flag)))
}
