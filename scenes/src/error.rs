//! Typed errors of the crate: scene files, media files and datasets.

use thiserror::Error;

/// A field of a scene that fails validation: which field, and what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("field `{field}`: {message}")]
pub struct Invalid {
    /// Dotted path of the field, e.g. `objects[2].x`.
    pub field: String,
    /// What is wrong and what to do instead.
    pub message: String,
}

impl Invalid {
    /// A validation failure of `field`.
    pub fn new(field: &str, message: String) -> Self {
        Invalid { field: field.to_string(), message }
    }

    /// The same failure, located in a file.
    pub fn in_file(self, origin: &str) -> SceneError {
        SceneError::Invalid { origin: origin.to_string(), field: self.field, message: self.message }
    }
}

/// Why a scene could not be loaded.
#[derive(Debug, Error)]
pub enum SceneError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The RON text does not describe a scene.
    #[error("{origin}:{line}:{column}: {message}")]
    Parse {
        /// The file (or `<memory>`).
        origin: String,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// The scene parses but a value is out of range or inconsistent.
    #[error("{origin}: field `{field}`: {message}")]
    Invalid {
        /// The file (or `<memory>`).
        origin: String,
        /// Dotted path of the field.
        field: String,
        /// What is wrong and what to do instead.
        message: String,
    },
}

/// Why a video could not be written or read.
#[derive(Debug, Error)]
pub enum MediaError {
    /// A file or folder operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The output name has no extension we can write.
    #[error("{path}: unknown output kind; end the name in .gif, .png, .npy, or / for a folder of PNGs")]
    UnknownKind {
        /// The output path.
        path: String,
    },
    /// Encoding or decoding failed.
    #[error("{path}: {message}")]
    Codec {
        /// The file.
        path: String,
        /// The codec's reason.
        message: String,
    },
    /// There is nothing to write.
    #[error("{path}: the video has no frames")]
    Empty {
        /// The output path.
        path: String,
    },
}

/// Why a dataset clip could not be read or written.
#[derive(Debug, Error)]
pub enum DatasetError {
    /// A file or folder operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The clip breaks the format; every problem found is listed.
    #[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<crate::dataset::Problem>),
    /// Writing a frame failed.
    #[error(transparent)]
    Media(#[from] MediaError),
}
