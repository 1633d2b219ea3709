//! The one place where core errors become JS errors: `error.code` is
//! [`crate::Error::code`], and panics become `ERR_INTERNAL`.

use napi::bindgen_prelude::*;

/// The `code` of a thrown JS error.
pub struct ErrorCode(String);

impl AsRef<str> for ErrorCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<Status> for ErrorCode {
    fn from(status: Status) -> Self {
        ErrorCode(status.as_ref().to_string())
    }
}

pub type JsResult<T> = std::result::Result<T, napi::Error<ErrorCode>>;

pub fn to_js_error(error: crate::Error) -> napi::Error<ErrorCode> {
    napi::Error::new(
        ErrorCode(error.code().to_string()),
        readable(error.to_string()),
    )
}

/// Longest message a JS error carries, in bytes.
const MAX_MESSAGE_BYTES: usize = 500;

/// `message`, cut short if it quotes a huge input (a 1 MB id or filter key).
fn readable(mut message: String) -> String {
    if message.len() > MAX_MESSAGE_BYTES {
        let total = message.len();
        let mut cut = MAX_MESSAGE_BYTES;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str(&format!("… ({total} bytes in all)"));
    }
    message
}

pub use crate::error::catch_panics as guard;

/// [`guard`] for synchronous methods.
pub fn call<T>(work: impl FnOnce() -> crate::Result<T>) -> JsResult<T> {
    guard(work).map_err(to_js_error)
}

/// A rejection that keeps its `code`: async tasks can only reject with
/// `napi::Error<Status>`, so the JS error object is built here, on the JS
/// thread, and carried inside.
pub fn to_js_rejection(env: Env, error: crate::Error) -> napi::Error {
    let js = JsError::from(to_js_error(error)).into_unknown(env);
    napi::Error::from(js)
}
