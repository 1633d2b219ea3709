//! One generic async task: run a core closure on the libuv pool, convert its
//! output on the JS thread, reject with the error's `code`.

use super::error::{guard, to_js_rejection};
use napi::bindgen_prelude::*;

type Work<T> = Box<dyn FnOnce() -> crate::Result<T> + Send>;

pub struct Job<T, J> {
    work: Option<Work<T>>,
    to_js: fn(T) -> J,
}

impl<T, J> Job<T, J> {
    pub fn spawn(
        work: impl FnOnce() -> crate::Result<T> + Send + 'static,
        to_js: fn(T) -> J,
    ) -> AsyncTask<Job<T, J>>
    where
        Job<T, J>: Task,
    {
        AsyncTask::new(Job {
            work: Some(Box::new(work)),
            to_js,
        })
    }
}

impl<T: Send + 'static, J: ToNapiValue + TypeName> Task for Job<T, J> {
    type Output = crate::Result<T>;
    type JsValue = J;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let work = self
            .work
            .take()
            .ok_or_else(|| napi::Error::from_reason("task ran twice"))?;
        Ok(guard(work))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<J> {
        output
            .map(self.to_js)
            .map_err(|error| to_js_rejection(env, error))
    }
}
