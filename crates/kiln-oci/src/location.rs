//! Where an image lives: [`ImageLocation`] parses the transports users name images with (skopeo's spellings:
//! `oci:DIR[:ref]`, `oci-archive:FILE[:ref]`, `docker-archive:FILE[:ref]`, `dir:ROOTFS`) and plain store
//! references or image IDs.

use std::fmt;
use std::path::PathBuf;

use crate::{Reference, ReferenceError};

/// An image named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageLocation {
    /// An image in kiln's store by reference (`alpine`, `localhost:5000/app:v1`).
    Store(Reference),
    /// An image in kiln's store by ID: a config digest or a prefix of its hex (at least 12 digits).
    StoreId(String),
    /// An OCI image layout directory, optionally with a ref name (`org.opencontainers.image.ref.name`).
    OciDir {
        /// The layout directory.
        path: PathBuf,
        /// The ref name inside it.
        reference: Option<String>,
    },
    /// A tar of an OCI image layout.
    OciArchive {
        /// The archive file.
        path: PathBuf,
        /// The ref name inside it.
        reference: Option<String>,
    },
    /// A `docker save` tarball, optionally with the `RepoTags` entry (or `@N` index) to pick.
    DockerArchive {
        /// The archive file.
        path: PathBuf,
        /// `name:tag` or `@index` inside it.
        reference: Option<String>,
    },
    /// A root filesystem directory (import only).
    Dir(PathBuf),
}

/// Why an image location could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    /// A transport with an empty path.
    #[error("{transport}: needs a path, e.g. {transport}:/path")]
    MissingPath {
        /// The transport name.
        transport: &'static str,
    },
    /// Not a transport, and not a valid reference either.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
}

impl ImageLocation {
    /// Parses an image location.
    pub fn parse(input: &str) -> Result<Self, LocationError> {
        let split =
            |rest: &str, transport: &'static str| -> Result<(PathBuf, Option<String>), LocationError> {
                let (path, reference) = match rest.split_once(':') {
                    Some((p, r)) => (p, (!r.is_empty()).then(|| r.to_owned())),
                    None => (rest, None),
                };
                if path.is_empty() {
                    return Err(LocationError::MissingPath { transport });
                }
                Ok((PathBuf::from(path), reference))
            };
        if let Some(rest) = input.strip_prefix("oci:") {
            let (path, reference) = split(rest, "oci")?;
            return Ok(ImageLocation::OciDir { path, reference });
        }
        if let Some(rest) = input.strip_prefix("oci-archive:") {
            let (path, reference) = split(rest, "oci-archive")?;
            return Ok(ImageLocation::OciArchive { path, reference });
        }
        if let Some(rest) = input.strip_prefix("docker-archive:") {
            let (path, reference) = split(rest, "docker-archive")?;
            return Ok(ImageLocation::DockerArchive { path, reference });
        }
        if let Some(rest) = input.strip_prefix("dir:") {
            if rest.is_empty() {
                return Err(LocationError::MissingPath { transport: "dir" });
            }
            return Ok(ImageLocation::Dir(PathBuf::from(rest)));
        }
        let hex = input.strip_prefix("sha256:").unwrap_or(input);
        let is_id = hex.len() >= 12
            && hex.len() <= 64
            && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if is_id
            && (input.starts_with("sha256:")
                || hex.len() == 64
                || Reference::parse(input).is_err()
                || hex.bytes().any(|b| b.is_ascii_digit()))
        {
            return Ok(ImageLocation::StoreId(hex.to_owned()));
        }
        Ok(ImageLocation::Store(Reference::parse(input)?))
    }
}

impl fmt::Display for ImageLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with_ref = |f: &mut fmt::Formatter<'_>, t: &str, p: &PathBuf, r: &Option<String>| {
            write!(f, "{t}:{}", p.display())?;
            if let Some(r) = r {
                write!(f, ":{r}")?;
            }
            Ok(())
        };
        match self {
            ImageLocation::Store(r) => write!(f, "{}", r.familiar()),
            ImageLocation::StoreId(id) => write!(f, "sha256:{id}"),
            ImageLocation::OciDir { path, reference } => with_ref(f, "oci", path, reference),
            ImageLocation::OciArchive { path, reference } => with_ref(f, "oci-archive", path, reference),
            ImageLocation::DockerArchive { path, reference } => {
                with_ref(f, "docker-archive", path, reference)
            }
            ImageLocation::Dir(p) => write!(f, "dir:{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_transports() {
        assert_eq!(
            ImageLocation::parse("oci:/tmp/layout:v1").unwrap(),
            ImageLocation::OciDir { path: "/tmp/layout".into(), reference: Some("v1".into()) }
        );
        assert_eq!(
            ImageLocation::parse("oci-archive:img.tar").unwrap(),
            ImageLocation::OciArchive { path: "img.tar".into(), reference: None }
        );
        assert_eq!(
            ImageLocation::parse("docker-archive:/x.tar:app:v2").unwrap(),
            ImageLocation::DockerArchive { path: "/x.tar".into(), reference: Some("app:v2".into()) }
        );
        assert_eq!(ImageLocation::parse("dir:/rootfs").unwrap(), ImageLocation::Dir("/rootfs".into()));
        assert!(matches!(ImageLocation::parse("oci:"), Err(LocationError::MissingPath { .. })));
        assert_eq!(
            ImageLocation::parse("docker-archive:/x.tar").unwrap().to_string(),
            "docker-archive:/x.tar"
        );
    }

    #[test]
    fn parses_store_references_and_ids() {
        assert!(matches!(ImageLocation::parse("alpine:3").unwrap(), ImageLocation::Store(_)));
        assert_eq!(
            ImageLocation::parse("sha256:0123456789ab").unwrap(),
            ImageLocation::StoreId("0123456789ab".into())
        );
        assert_eq!(
            ImageLocation::parse("0123456789abcdef").unwrap(),
            ImageLocation::StoreId("0123456789abcdef".into())
        );
        assert!(matches!(ImageLocation::parse("deadbeefcafe").unwrap(), ImageLocation::Store(_)));
        assert!(ImageLocation::parse("Bad Name").is_err());
    }
}
