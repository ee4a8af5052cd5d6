//! What the context-aware rules know about the build context ([`BuildContext`]): its `.dockerignore`
//! and which of the usual unwanted entries (`.git`, `node_modules`, `target`, `.env`…) it holds.

use std::path::{Path, PathBuf};

use kiln_dockerfile::ignore::DockerIgnore;

/// Top-level entries that should not be copied into an image (KL009 looks for them).
pub const UNWANTED_ENTRIES: &[&str] = &[
    ".git",
    "node_modules",
    "target",
    ".env",
    ".venv",
    "venv",
    "__pycache__",
    ".terraform",
    "dist",
    ".idea",
    ".vscode",
];

/// The build context as seen by the linter.
#[derive(Debug, Clone, Default)]
pub struct BuildContext {
    /// The context directory.
    pub dir: PathBuf,
    /// The parsed `.dockerignore` (or `<Dockerfile>.dockerignore`), when there is one.
    pub dockerignore: Option<DockerIgnore>,
    /// Which [`UNWANTED_ENTRIES`] exist at the top of the context.
    pub unwanted: Vec<String>,
}

/// A context whose ignore file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The ignore file cannot be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The ignore file has an invalid pattern.
    #[error(transparent)]
    Ignore(#[from] kiln_dockerfile::ignore::IgnoreError),
}

impl BuildContext {
    /// Reads `dir`'s ignore file (BuildKit's choice: `<dockerfile name>.dockerignore` next to the
    /// Dockerfile first, then `.dockerignore` in the context) and looks for unwanted entries.
    pub fn read(dir: &Path, dockerfile: Option<&Path>) -> Result<BuildContext, ContextError> {
        let mut candidates = Vec::new();
        if let Some(df) = dockerfile
            && let Some(name) = df.file_name()
        {
            let mut n = name.to_os_string();
            n.push(".dockerignore");
            candidates.push(df.with_file_name(n));
        }
        candidates.push(dir.join(".dockerignore"));
        let mut dockerignore = None;
        for path in candidates {
            if path.is_file() {
                let text = fs_err::read_to_string(&path)
                    .map_err(|e| ContextError::Read { path: path.clone(), source: e })?;
                dockerignore = Some(DockerIgnore::parse(&path.display().to_string(), &text)?);
                break;
            }
        }
        let unwanted =
            UNWANTED_ENTRIES.iter().filter(|e| dir.join(e).exists()).map(|e| (*e).to_owned()).collect();
        Ok(BuildContext { dir: dir.to_owned(), dockerignore, unwanted })
    }
}
