//! The one error type of the crate. Every fallible public function returns
//! [`Result`]; the bindings map [`Error::code`] to the JS `Error.code`
//! property in a single place (`bindings/error.rs`), so the codes below are a
//! stable public contract.

use std::fmt;

/// Everything that can go wrong in hnsw-gnn, with messages that name the
/// offending value.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A vector's length differs from the index's dimensions.
    DimensionMismatch { expected: usize, actual: usize },
    /// A flat batch of vectors whose length is not a multiple of the
    /// dimensions.
    BatchShape { dimensions: usize, len: usize },
    /// Matrices or arrays whose shapes do not fit together (feature rows vs
    /// graph nodes, weights vs edges, ...).
    ShapeMismatch(String),
    /// An adjacency that is not a valid graph (neighbour id out of range,
    /// offsets that do not add up).
    InvalidGraph(String),
    /// A vector is empty or holds NaN / ±Inf, or is all zeros under cosine.
    InvalidVector(String),
    /// An option or argument is out of range (k ≤ 0, m = 1, ...).
    InvalidArgument(String),
    /// A metadata filter is malformed (unknown operator, wrong operand type).
    InvalidFilter(String),
    /// A method that promises an existing item was given an unknown id.
    NotFound(String),
    /// Feedback for a search id this database does not remember (unknown,
    /// or older than its last `recentSearches` searches).
    UnknownSearch(String),
    /// `VectorDB.attach` of a handle that names no open database in this
    /// process.
    UnknownHandle(String),
    /// `insert` of an id that already exists.
    DuplicateId(String),
    /// Creating a database file where one already exists.
    AlreadyExists(String),
    /// A database file or its write-ahead log fails validation: `section`
    /// names the part (header, vectors, graph level 2, wal record 17, ...).
    CorruptFile { section: String, why: String },
    /// A file written by a newer hnsw-gnn (or not a database file at all).
    UnsupportedFormat(String),
    /// Reading or writing a file failed (disk full, permission denied, ...).
    Io(String),
    /// Another `VectorDB` (in this or another process) has the file open
    /// for writing.
    Locked(String),
    /// The database was closed.
    Closed,
    /// A write to a database opened with `readOnly: true`.
    ReadOnly,
    /// The caller cancelled the operation (an `AbortSignal`); it left the
    /// database as it was.
    Aborted(String),
    /// A bug: a caught panic or a broken invariant.
    Internal(String),
}

/// Every code [`Error::code`] can return: the JS `ErrorCode` type in
/// index.d.ts lists exactly these and [`JS_ONLY_CODES`] (a test keeps them
/// in step), and so does the README's table of errors.
pub const CODES: [&str; 16] = [
    "ERR_DIMENSION_MISMATCH",
    "ERR_INVALID_GRAPH",
    "ERR_INVALID_VECTOR",
    "ERR_INVALID_ARGUMENT",
    "ERR_INVALID_FILTER",
    "ERR_NOT_FOUND",
    "ERR_DUPLICATE_ID",
    "ERR_ALREADY_EXISTS",
    "ERR_CORRUPT_FILE",
    "ERR_UNSUPPORTED_FORMAT",
    "ERR_IO",
    "ERR_LOCKED",
    "ERR_CLOSED",
    "ERR_READ_ONLY",
    "ERR_ABORTED",
    "ERR_INTERNAL",
];

/// Codes raised in JavaScript alone, with the file that raises each:
/// binding.js's when no native binary loads, and the candidate sources'
/// when the other engine fails.
pub const JS_ONLY_CODES: [(&str, &str); 2] = [
    ("ERR_NATIVE_BINARY_MISSING", "binding.js"),
    ("ERR_SOURCE", "sources/errors.js"),
];

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable code exposed to JavaScript as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::DimensionMismatch { .. }
            | Error::BatchShape { .. }
            | Error::ShapeMismatch(_) => "ERR_DIMENSION_MISMATCH",
            Error::InvalidGraph(_) => "ERR_INVALID_GRAPH",
            Error::InvalidVector(_) => "ERR_INVALID_VECTOR",
            Error::InvalidArgument(_) => "ERR_INVALID_ARGUMENT",
            Error::InvalidFilter(_) => "ERR_INVALID_FILTER",
            Error::NotFound(_) | Error::UnknownSearch(_) | Error::UnknownHandle(_) => {
                "ERR_NOT_FOUND"
            }
            Error::DuplicateId(_) => "ERR_DUPLICATE_ID",
            Error::AlreadyExists(_) => "ERR_ALREADY_EXISTS",
            Error::CorruptFile { .. } => "ERR_CORRUPT_FILE",
            Error::UnsupportedFormat(_) => "ERR_UNSUPPORTED_FORMAT",
            Error::Io(_) => "ERR_IO",
            Error::Locked(_) => "ERR_LOCKED",
            Error::Closed => "ERR_CLOSED",
            Error::ReadOnly => "ERR_READ_ONLY",
            Error::Aborted(_) => "ERR_ABORTED",
            Error::Internal(_) => "ERR_INTERNAL",
        }
    }

    pub(crate) fn corrupt(section: impl Into<String>, why: impl Into<String>) -> Self {
        Error::CorruptFile {
            section: section.into(),
            why: why.into(),
        }
    }

    /// An I/O failure on `path` while doing `what`.
    pub(crate) fn io(what: &str, path: &std::path::Path, error: std::io::Error) -> Self {
        Error::Io(format!("{what} {}: {error}", path.display()))
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Error::InvalidArgument(message.into())
    }

    pub(crate) fn invalid_filter(message: impl Into<String>) -> Self {
        Error::InvalidFilter(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::DimensionMismatch { expected, actual } => write!(
                f,
                "vector has {actual} dimensions, index expects {expected}"
            ),
            Error::BatchShape { dimensions, len } => write!(
                f,
                "flat batch has {len} numbers, which is not a multiple of {dimensions} dimensions"
            ),
            Error::ShapeMismatch(why) => write!(f, "shape mismatch: {why}"),
            Error::InvalidGraph(why) => write!(f, "invalid graph: {why}"),
            Error::InvalidVector(why) => write!(f, "invalid vector: {why}"),
            Error::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
            Error::InvalidFilter(why) => write!(f, "invalid filter: {why}"),
            Error::NotFound(id) => write!(f, "no item with id {id:?}"),
            Error::UnknownHandle(handle) => write!(
                f,
                "no open database in this process has the handle {handle:?} (from db.handle(); every VectorDB holding it has closed)"
            ),
            Error::UnknownSearch(id) => write!(
                f,
                "no recent search {id:?}: the id is unknown, or older than the last recentSearches searches this database remembers"
            ),
            Error::DuplicateId(id) => write!(f, "an item with id {id:?} already exists"),
            Error::AlreadyExists(why) => write!(f, "{why}"),
            Error::CorruptFile { section, why } => {
                write!(f, "corrupt database file: {section}: {why}")
            }
            Error::UnsupportedFormat(why) => write!(f, "unsupported file format: {why}"),
            Error::Io(why) => write!(f, "I/O error: {why}"),
            Error::Locked(path) => write!(
                f,
                "{path} is open for writing by another VectorDB (in this or another process); open it with readOnly: true to read it"
            ),
            Error::Closed => write!(f, "the database is closed"),
            Error::ReadOnly => write!(f, "the database was opened read-only"),
            Error::Aborted(what) => write!(f, "{what}"),
            Error::Internal(why) => write!(f, "internal error: {why}"),
        }
    }
}

impl std::error::Error for Error {}

/// A JSON value in an error message: compact, and cut short so a huge
/// value does not make a huge message.
pub(crate) fn short_json(value: &serde_json::Value) -> String {
    const LIMIT: usize = 60;
    let text = value.to_string();
    if text.len() <= LIMIT {
        return text;
    }
    let mut cut = LIMIT;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

/// Runs `work`, turning a panic into [`Error::Internal`]: the bindings call
/// every core function through this, so a bug never unwinds into Node
/// (which would abort the process).
pub fn catch_panics<T>(work: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("unknown panic");
        Err(Error::Internal(format!("panic: {message}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// One error of every variant. The match below has no wildcard, so a
    /// new variant does not compile until it is added here too.
    fn one_of_each() -> Vec<Error> {
        let all = vec![
            Error::DimensionMismatch {
                expected: 1,
                actual: 2,
            },
            Error::BatchShape {
                dimensions: 2,
                len: 3,
            },
            Error::ShapeMismatch(String::new()),
            Error::InvalidGraph(String::new()),
            Error::InvalidVector(String::new()),
            Error::InvalidArgument(String::new()),
            Error::InvalidFilter(String::new()),
            Error::NotFound(String::new()),
            Error::UnknownSearch(String::new()),
            Error::UnknownHandle(String::new()),
            Error::DuplicateId(String::new()),
            Error::AlreadyExists(String::new()),
            Error::corrupt("", ""),
            Error::UnsupportedFormat(String::new()),
            Error::Io(String::new()),
            Error::Locked(String::new()),
            Error::Closed,
            Error::ReadOnly,
            Error::Aborted(String::new()),
            Error::Internal(String::new()),
        ];
        let mut seen = BTreeSet::new();
        for error in &all {
            seen.insert(match error {
                Error::DimensionMismatch { .. } => 0,
                Error::BatchShape { .. } => 1,
                Error::ShapeMismatch(_) => 2,
                Error::InvalidGraph(_) => 3,
                Error::InvalidVector(_) => 4,
                Error::InvalidArgument(_) => 5,
                Error::InvalidFilter(_) => 6,
                Error::NotFound(_) | Error::UnknownSearch(_) | Error::UnknownHandle(_) => 7,
                Error::DuplicateId(_) => 8,
                Error::AlreadyExists(_) => 9,
                Error::CorruptFile { .. } => 10,
                Error::UnsupportedFormat(_) => 11,
                Error::Io(_) => 12,
                Error::Locked(_) => 13,
                Error::Closed => 14,
                Error::ReadOnly => 15,
                Error::Internal(_) => 16,
                Error::Aborted(_) => 17,
            });
        }
        assert_eq!(seen.len(), 18, "one error of every variant");
        all
    }

    /// The codes a declaration lists: every `'ERR_…'` string in `text`.
    fn codes_in(text: &str) -> BTreeSet<String> {
        text.split(['\'', '`'])
            .filter(|piece| {
                piece.starts_with("ERR_")
                    && piece.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            })
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_codes_are_exactly_those_index_d_ts_and_the_readme_declare() {
        let produced: BTreeSet<String> =
            one_of_each().iter().map(|e| e.code().to_string()).collect();
        let mut listed: BTreeSet<String> = CODES.iter().map(|c| c.to_string()).collect();
        assert_eq!(produced, listed, "CODES lists every code and no other");
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for (code, file) in JS_ONLY_CODES {
            let raiser = std::fs::read_to_string(root.join(file)).unwrap();
            assert!(
                raiser.contains(&format!("'{code}'")),
                "{file} raises {code}"
            );
            listed.insert(code.to_string());
        }
        let types = std::fs::read_to_string(root.join("index.d.ts")).unwrap();
        let start = types
            .find("export type ErrorCode")
            .expect("index.d.ts declares ErrorCode");
        let end = start
            + types[start..]
                .find("\nexport ")
                .expect("something follows ErrorCode");
        assert_eq!(
            codes_in(&types[start..end]),
            listed,
            "index.d.ts's ErrorCode"
        );
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let start = readme
            .find("\n## Errors")
            .expect("the README has an Errors section");
        let end = start
            + 1
            + readme[start + 1..]
                .find("\n## ")
                .expect("a section follows");
        let table: String = readme[start..end]
            .lines()
            .filter(|line| line.starts_with("| `ERR_"))
            .map(|line| line.split('|').nth(1).unwrap_or(""))
            .collect();
        assert_eq!(codes_in(&table), listed, "the README's table of errors");
    }

    #[test]
    fn a_panic_becomes_err_internal_with_its_message() {
        let result: Result<()> = catch_panics(|| panic!("slot {} out of range", 7));
        let error = result.unwrap_err();
        assert_eq!(error.code(), "ERR_INTERNAL");
        assert!(error.to_string().contains("slot 7 out of range"), "{error}");
        assert_eq!(catch_panics(|| Ok(3)), Ok(3));
        assert_eq!(
            catch_panics::<()>(|| Err(Error::NotFound("x".into())))
                .unwrap_err()
                .code(),
            "ERR_NOT_FOUND"
        );
    }
}
