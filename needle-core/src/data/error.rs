//! The typed error of data loading: every variant names the file and what is wrong with it.

use std::path::PathBuf;

/// Why a data file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file's structure is wrong (bad magic, counts, dimensions, length).
    #[error("{path}: {problem}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the offsets and numbers involved.
        problem: String,
    },
    /// Two files that belong together disagree (image count vs label count).
    #[error("{first} and {second} disagree: {problem}")]
    Mismatch {
        /// One file.
        first: PathBuf,
        /// The other file.
        second: PathBuf,
        /// How they disagree.
        problem: String,
    },
}
