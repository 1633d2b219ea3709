//! Async plumbing: a generic libuv task for lookups and file operations, a
//! pool of its own for searches, and writes that apply on the Rayon pool
//! and settle once the log says they are durable. All convert the output on
//! the JS thread and reject with the error's `code`.

use super::error::{guard, to_js_rejection, ErrorCode};
use crate::db::{Applied, VectorDb};
use napi::bindgen_prelude::*;
use std::sync::{mpsc, Arc, Mutex, OnceLock};

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
    let (deferred, promise) = env.create_deferred().map_err(status_error)?;
    search_pool().spawn(move || deferred.resolve(settle(guard(work), to_js)));
    Ok(promise)
}

/// Threads that apply writes. Not Rayon threads: a write links in parallel
/// on the global Rayon pool, and a Rayon worker waiting for that would
/// steal and start another write, which then blocks on a lock the first
/// one holds further down the same stack. `None` if no thread could start.
fn write_pool() -> Option<&'static Mutex<WriteSender>> {
    static POOL: OnceLock<Option<Mutex<WriteSender>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let receiver = Arc::new(Mutex::new(receiver));
        let started = (0..WRITE_THREADS)
            .filter(|i| {
                let receiver = receiver.clone();
                std::thread::Builder::new()
                    .name(format!("hnsw-gnn-write-{i}"))
                    .spawn(move || loop {
                        let job = receiver.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    })
                    .is_ok()
            })
            .count();
        (started > 0).then(|| Mutex::new(sender))
    })
    .as_ref()
}

type WriteSender = mpsc::Sender<Box<dyn FnOnce() + Send>>;

/// As many as libuv's default pool: writes are short, and durable ones do
/// not wait on their thread.
const WRITE_THREADS: usize = 4;

/// Applies a write on a write thread, then settles the returned promise
/// with `to_js` of its value once the write is durable (see
/// `VectorDb::when_durable`): no thread waits for the fsync, so any number
/// of writes can share one.
pub fn spawn_write<'env, T, J>(
    env: &'env Env,
    core: Arc<VectorDb>,
    work: impl FnOnce(&VectorDb) -> crate::Result<Applied<T>> + Send + 'static,
    to_js: fn(T) -> J,
) -> Result<Object<'env>, ErrorCode>
where
    T: Send + 'static,
    J: ToNapiValue + 'static,
{
    let (settle_write, promise) = write_promise(env, to_js)?;
    let job = Box::new(move || settle_write(&core, guard(|| work(&core))));
    let sent = write_pool().map(|pool| pool.lock().unwrap_or_else(|e| e.into_inner()).send(job));
    if !matches!(sent, Some(Ok(()))) {
        return Err(super::error::to_js_error(crate::Error::Internal(
            "the write threads stopped".into(),
        )));
    }
    Ok(promise)
}

/// The outcome of a write applied on the JS thread (see
/// `VectorDb::try_feedback_applied`): its value when it is durable at once
/// (no log, or durability 'none') — JS wraps it in a resolved promise, and
/// the deferred promise, with the thread-safe function it needs, costs more
/// than the write — its error, thrown, or else a promise settled once the
/// log says it is durable.
pub fn write_applied_here<'env, T, J>(
    env: &'env Env,
    core: &VectorDb,
    applied: crate::Result<Applied<T>>,
    to_js: fn(T) -> J,
) -> Result<Either<Object<'env>, J>, ErrorCode>
where
    T: Send + 'static,
    J: ToNapiValue + 'static,
{
    /// Where the durability callback and this thread meet: whichever comes
    /// second settles.
    enum Meeting<T> {
        Waiting,
        Durable(crate::Result<T>),
        Settle(Box<dyn FnOnce(crate::Result<T>) + Send>),
    }
    let applied = applied.map_err(super::error::to_js_error)?;
    let meeting = Arc::new(Mutex::new(Meeting::Waiting));
    let theirs = Arc::clone(&meeting);
    core.when_durable(applied, move |output| {
        let mut meeting = theirs.lock().unwrap_or_else(|e| e.into_inner());
        match std::mem::replace(&mut *meeting, Meeting::Waiting) {
            Meeting::Settle(settle_write) => {
                drop(meeting);
                settle_write(output);
            }
            _ => *meeting = Meeting::Durable(output),
        }
    });
    let mut meeting = meeting.lock().unwrap_or_else(|e| e.into_inner());
    match std::mem::replace(&mut *meeting, Meeting::Waiting) {
        Meeting::Durable(output) => output
            .map(|value| Either::B(to_js(value)))
            .map_err(super::error::to_js_error),
        _ => {
            // Still being made durable: the callback waits on the lock
            // held here until it finds what settles the promise.
            let (deferred, promise) = env
                .create_deferred::<J, Settle<J>>()
                .map_err(status_error)?;
            *meeting = Meeting::Settle(Box::new(move |output| {
                deferred.resolve(Box::new(settle(output, to_js)))
            }));
            Ok(Either::A(promise))
        }
    }
}

/// A write's promise and what settles it: with `to_js` of the write's
/// value once it is durable, or with the error that stopped it.
#[allow(clippy::type_complexity)]
fn write_promise<'env, T, J>(
    env: &'env Env,
    to_js: fn(T) -> J,
) -> Result<
    (
        impl FnOnce(&VectorDb, crate::Result<Applied<T>>) + Send + 'static,
        Object<'env>,
    ),
    ErrorCode,
>
where
    T: Send + 'static,
    J: ToNapiValue + 'static,
{
    let (deferred, promise) = env
        .create_deferred::<J, Settle<J>>()
        .map_err(status_error)?;
    let settle_write = move |core: &VectorDb, applied: crate::Result<Applied<T>>| match applied {
        Err(error) => deferred.resolve(Box::new(settle(Err(error), to_js))),
        Ok(applied) => core.when_durable(applied, move |output| {
            deferred.resolve(Box::new(settle(output, to_js)))
        }),
    };
    Ok((settle_write, promise))
}

/// What settles a write's promise on the JS thread.
type Settle<J> = Box<dyn FnOnce(Env) -> napi::Result<J>>;

fn status_error(error: napi::Error) -> napi::Error<ErrorCode> {
    napi::Error::new(ErrorCode::from(error.status), error.reason)
}

/// The resolver of a deferred promise: `to_js` of the output, or a
/// rejection carrying the error's `code`.
fn settle<T, J>(
    output: crate::Result<T>,
    to_js: fn(T) -> J,
) -> impl FnOnce(Env) -> napi::Result<J> {
    move |env| {
        output
            .map(to_js)
            .map_err(|error| to_js_rejection(env, error))
    }
}
