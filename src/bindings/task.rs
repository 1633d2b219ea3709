//! Async plumbing: a generic libuv task for writes and lookups, and a pool
//! of its own for searches. Both convert the output on the JS thread and
//! reject with the error's `code`.

use super::error::{guard, to_js_rejection, ErrorCode};
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

/// Threads reserved for async searches. Searches are short (tens to hundreds
/// of microseconds), so the hand-off dominates their async cost: Rayon
/// workers spin briefly before sleeping, so back-to-back searches skip the
/// wake-up a libuv pool thread needs; and a separate pool keeps searches from
/// queueing behind a batch insert running on the global Rayon pool.
fn search_pool() -> &'static rayon::ThreadPool {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let threads = std::env::var("HNSW_GNN_SEARCH_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("hnsw-gnn-search-{i}"))
            .build()
            .or_else(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build())
            .expect("a one-thread pool can always be built")
    })
}

/// Runs `work` on the search pool and settles the returned promise with
/// `to_js` of its output, or rejects with the error's `code`.
pub fn spawn_search<'env, T, J>(
    env: &'env Env,
    work: impl FnOnce() -> crate::Result<T> + Send + 'static,
    to_js: fn(T) -> J,
) -> Result<Object<'env>, ErrorCode>
where
    T: Send + 'static,
    J: ToNapiValue + 'static,
{
    let (deferred, promise) = env
        .create_deferred()
        .map_err(|e| napi::Error::new(ErrorCode::from(e.status), e.reason))?;
    search_pool().spawn(move || {
        let output = guard(work);
        deferred.resolve(move |env| {
            output
                .map(to_js)
                .map_err(|error| to_js_rejection(env, error))
        });
    });
    Ok(promise)
}
