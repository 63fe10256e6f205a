//! One error type for the whole crate.
//!
//! Every error says what was wrong and where (a file, a table, a line); most carry a hint that
//! says what to do about it. The variant says whose fault it is: the user's input or
//! configuration ([`Error::Input`]), a SQL stage ([`Error::Sql`]), the data in the lake or the
//! sources ([`Error::Data`]), the machine ([`Error::Io`], [`Error::OutOfMemory`]), or ordertrail
//! itself ([`Error::Internal`], a bug). `main` prints an error once, as `ordertrail: <error>`
//! followed by `hint: ...`, and exits with [`EXIT_ERROR`].

use std::path::{Path, PathBuf};

use datafusion::error::DataFusionError;

/// The run succeeded.
pub const EXIT_OK: i32 = 0;
/// The run finished but a check at error level failed.
pub const EXIT_CHECKS_FAILED: i32 = 1;
/// The run could not finish: bad input, bad SQL, I/O failure.
pub const EXIT_ERROR: i32 = 2;
/// The run left work undone without an error: another process holds the trade date, or
/// SIGTERM stopped it between buckets. Nothing is half-written; run it again later. Not 0, so
/// that `ordertrail run && ordertrail report` does not report a day that is not done.
pub const EXIT_NOT_DONE: i32 = 3;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A SQL stage failed to parse, plan or run.
    #[error("{}{}: {message}", file.display(), fmt_location(location))]
    Sql {
        file: PathBuf,
        /// 1-based line and column, when the engine knows them.
        location: Option<(u64, u64)>,
        message: String,
    },
    /// A SQL stage or check needed more memory than `--memory-limit` gives the engine, even
    /// with spilling plans.
    #[error("{}: the engine ran out of memory: {message}", file.display())]
    OutOfMemory { file: PathBuf, message: String },
    /// On a cluster, the executor a query read rows from went away (a finished job's rows, or
    /// a shuffle file). `run`, `check` and `report` run again twice before they report it.
    #[error("{}: the cluster lost an executor the query read from: {message}", file.display())]
    ExecutorLost { file: PathBuf, message: String },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Input that ordertrail cannot use: a missing table, a malformed fixture, a bad argument.
    #[error("{message}")]
    Input {
        message: String,
        hint: Option<String>,
    },
    /// Data that is wrong where it lies: a damaged lake or state file, a value a stage's SQL
    /// cannot compute with. The message names the table, file or row.
    #[error("bad data: {message}")]
    Data {
        message: String,
        hint: Option<String>,
    },
    /// A fault in ordertrail itself, not in anything the user gave it.
    #[error("internal error: {message}")]
    Internal { message: String },
    /// SIGTERM stopped a stage between two of its buckets; nothing of it was written.
    #[error("stage {stage}: stopped by SIGTERM after {done} of its {buckets} buckets")]
    Interrupted {
        stage: String,
        done: usize,
        buckets: usize,
    },
    /// Report files failed validation and were not kept.
    #[error("{message}")]
    Rejected { message: String, hint: String },
    /// The work asked for cannot be done yet: what it needs is not processed.
    #[error("{message}")]
    NotDone { message: String, hint: String },
    /// An error from the query engine that is not tied to a stage file.
    #[error(transparent)]
    Engine(#[from] DataFusionError),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
}

/// Whether an engine error means a memory pool ran out: locally a `ResourcesExhausted` error,
/// on a Ballista cluster a failed job whose task ran out (the executor's error comes back as
/// text, "Job <id> failed: ... ResourcesExhausted(...)").
pub fn engine_out_of_memory(e: &DataFusionError) -> bool {
    match e.find_root() {
        DataFusionError::ResourcesExhausted(_) => true,
        DataFusionError::Execution(m) => cluster_job_failure(m) && m.contains("ResourcesExhausted"),
        _ => false,
    }
}

/// Whether an engine error means that, on a cluster, the executor whose rows were being read
/// is gone: Ballista could not fetch them (no connection, or the response failed before its
/// first rows) or the connection broke mid-stream (a gRPC status inside the stream's Arrow
/// error). A client reads a finished job's rows from the executors, so an executor lost after
/// the job's last task and before its rows are read fails the query although the scheduler did
/// nothing wrong. Never true of a local run.
#[cfg(feature = "cluster")]
pub fn engine_lost_executor(e: &DataFusionError) -> bool {
    use ballista_core::error::BallistaError;
    match e.find_root() {
        DataFusionError::External(inner) => matches!(
            inner.downcast_ref::<BallistaError>(),
            Some(
                BallistaError::FetchFailed(..)
                    | BallistaError::GrpcConnectionError(_)
                    | BallistaError::GrpcActionError(_)
            )
        ),
        DataFusionError::ArrowError(a, _) => matches!(
            &**a,
            arrow::error::ArrowError::ExternalError(inner) if inner.is::<tonic::Status>()
        ),
        _ => false,
    }
}

/// Without the cluster, no query reads rows from an executor.
#[cfg(not(feature = "cluster"))]
pub fn engine_lost_executor(_: &DataFusionError) -> bool {
    false
}

/// Whether an engine message is Ballista's report of a job the cluster failed.
pub fn cluster_job_failure(message: &str) -> bool {
    message.starts_with("Job ") && message.contains(" failed: ")
}

impl Error {
    /// Bad input with no particular hint.
    pub fn input(message: impl Into<String>) -> Self {
        Error::Input {
            message: message.into(),
            hint: None,
        }
    }

    /// Bad input, with a hint that says what to do about it.
    pub fn input_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Input {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// Data that is wrong where it lies (see [`Error::Data`]), with what to do about it.
    pub fn data(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Data {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// A bug in ordertrail (see [`Error::Internal`]).
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal {
            message: message.into(),
        }
    }

    /// Whether the engine gave up for lack of memory (rather than for bad SQL or input).
    pub fn is_out_of_memory(&self) -> bool {
        match self {
            Error::OutOfMemory { .. } => true,
            Error::Engine(e) => engine_out_of_memory(e),
            _ => false,
        }
    }

    /// Whether a cluster lost the executor a query read from (so running it again can work).
    pub fn is_executor_lost(&self) -> bool {
        match self {
            Error::ExecutorLost { .. } => true,
            Error::Engine(e) => engine_lost_executor(e),
            _ => false,
        }
    }

    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// The process exit code for this error: 1 for files that failed validation, 3 for work
    /// that cannot be done yet, 2 for the rest.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Rejected { .. } => EXIT_CHECKS_FAILED,
            Error::NotDone { .. } => EXIT_NOT_DONE,
            _ => EXIT_ERROR,
        }
    }

    /// What the user could do about this error, if we know.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Rejected { hint, .. } | Error::NotDone { hint, .. } => Some(hint.clone()),
            Error::Input { hint, .. } | Error::Data { hint, .. } => hint.clone(),
            Error::Internal { .. } => Some(format!(
                "this is a bug in ordertrail {}, not in your input: please report it with the \
                 command line and this message",
                env!("CARGO_PKG_VERSION")
            )),
            Error::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::PermissionDenied => {
                    Some("check that the lake directory is writable by this user".into())
                }
                std::io::ErrorKind::NotFound => Some("check the path; does it exist?".into()),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => Some(
                    "free space on the filesystem holding that path, then run again; nothing \
                     half-written was kept"
                        .into(),
                ),
                _ => None,
            },
            Error::OutOfMemory { .. } => Some(
                "raise --memory-limit (default: half the RAM), or look for an operator that \
                 cannot spill with `ordertrail query --lake ... \"explain analyze ...\"`"
                    .into(),
            ),
            Error::ExecutorLost { .. } => Some(
                "check that the executors are running and reach each other's and this \
                 machine's Flight ports (see the scheduler's and executors' logs), then run \
                 again: nothing of this stage was written"
                    .into(),
            ),
            Error::Interrupted { .. } => Some(
                "its partitions are as they were before; rerun to process the window again".into(),
            ),
            Error::Sql { .. } => {
                Some("fix the SQL at that position, then run `ordertrail run` again".into())
            }
            _ => None,
        }
    }
}

fn fmt_location(location: &Option<(u64, u64)>) -> String {
    match location {
        Some((line, column)) => format!(":{line}:{column}"),
        None => String::new(),
    }
}

/// Attach a path to an I/O error: `fs::read(p).at(&p)?`.
pub trait IoContext<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}
