//! Media types of OCI and Docker schema2 objects: [`MediaType`], with the layer compression it implies.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The media type of a manifest, index, config or layer; unknown strings are kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// `application/vnd.oci.image.manifest.v1+json`
    OciManifest,
    /// `application/vnd.oci.image.index.v1+json`
    OciIndex,
    /// `application/vnd.oci.image.config.v1+json`
    OciConfig,
    /// `application/vnd.oci.image.layer.v1.tar`
    OciLayer,
    /// `application/vnd.oci.image.layer.v1.tar+gzip`
    OciLayerGzip,
    /// `application/vnd.oci.image.layer.v1.tar+zstd`
    OciLayerZstd,
    /// `application/vnd.docker.distribution.manifest.v2+json`
    DockerManifest,
    /// `application/vnd.docker.distribution.manifest.list.v2+json`
    DockerManifestList,
    /// `application/vnd.docker.container.image.v1+json`
    DockerConfig,
    /// `application/vnd.docker.image.rootfs.diff.tar` (uncompressed Docker layer)
    DockerLayer,
    /// `application/vnd.docker.image.rootfs.diff.tar.gzip`
    DockerLayerGzip,
    /// `application/vnd.docker.image.rootfs.diff.tar.zstd`
    DockerLayerZstd,
    /// Any other media type, as written.
    Other(String),
}

/// How a layer blob is compressed, as its media type declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (RFC 1952).
    Gzip,
    /// Zstandard.
    Zstd,
}

const TABLE: &[(MediaType, &str)] = &[
    (MediaType::OciManifest, "application/vnd.oci.image.manifest.v1+json"),
    (MediaType::OciIndex, "application/vnd.oci.image.index.v1+json"),
    (MediaType::OciConfig, "application/vnd.oci.image.config.v1+json"),
    (MediaType::OciLayer, "application/vnd.oci.image.layer.v1.tar"),
    (MediaType::OciLayerGzip, "application/vnd.oci.image.layer.v1.tar+gzip"),
    (MediaType::OciLayerZstd, "application/vnd.oci.image.layer.v1.tar+zstd"),
    (MediaType::DockerManifest, "application/vnd.docker.distribution.manifest.v2+json"),
    (MediaType::DockerManifestList, "application/vnd.docker.distribution.manifest.list.v2+json"),
    (MediaType::DockerConfig, "application/vnd.docker.container.image.v1+json"),
    (MediaType::DockerLayer, "application/vnd.docker.image.rootfs.diff.tar"),
    (MediaType::DockerLayerGzip, "application/vnd.docker.image.rootfs.diff.tar.gzip"),
    (MediaType::DockerLayerZstd, "application/vnd.docker.image.rootfs.diff.tar.zstd"),
];

impl MediaType {
    /// The media type string.
    pub fn as_str(&self) -> &str {
        match self {
            MediaType::Other(s) => s,
            known => TABLE.iter().find(|(m, _)| m == known).map_or("", |(_, s)| s),
        }
    }

    /// Parses a media type string; unknown ones become [`MediaType::Other`].
    pub fn parse(s: &str) -> Self {
        TABLE.iter().find(|(_, t)| *t == s).map_or_else(|| MediaType::Other(s.to_owned()), |(m, _)| m.clone())
    }

    /// True for image manifests (OCI or Docker schema2).
    pub fn is_manifest(&self) -> bool {
        matches!(self, MediaType::OciManifest | MediaType::DockerManifest)
    }

    /// True for indexes and manifest lists.
    pub fn is_index(&self) -> bool {
        matches!(self, MediaType::OciIndex | MediaType::DockerManifestList)
    }

    /// True for image configs.
    pub fn is_config(&self) -> bool {
        matches!(self, MediaType::OciConfig | MediaType::DockerConfig)
    }

    /// The compression a layer media type declares, or `None` when this is not a known layer type.
    pub fn layer_compression(&self) -> Option<Compression> {
        match self {
            MediaType::OciLayer | MediaType::DockerLayer => Some(Compression::None),
            MediaType::OciLayerGzip | MediaType::DockerLayerGzip => Some(Compression::Gzip),
            MediaType::OciLayerZstd | MediaType::DockerLayerZstd => Some(Compression::Zstd),
            MediaType::Other(s) if s.starts_with("application/vnd.oci.image.layer.nondistributable") => {
                Some(if s.ends_with("+gzip") {
                    Compression::Gzip
                } else if s.ends_with("+zstd") {
                    Compression::Zstd
                } else {
                    Compression::None
                })
            }
            _ => None,
        }
    }

    /// The OCI layer media type for `compression`.
    pub fn oci_layer(compression: Compression) -> Self {
        match compression {
            Compression::None => MediaType::OciLayer,
            Compression::Gzip => MediaType::OciLayerGzip,
            Compression::Zstd => MediaType::OciLayerZstd,
        }
    }

    /// The Docker schema2 layer media type for `compression`.
    pub fn docker_layer(compression: Compression) -> Self {
        match compression {
            Compression::None => MediaType::DockerLayer,
            Compression::Gzip => MediaType::DockerLayerGzip,
            Compression::Zstd => MediaType::DockerLayerZstd,
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for MediaType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MediaType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(MediaType::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_types_round_trip_and_unknown_are_kept() {
        for (m, s) in TABLE {
            assert_eq!(MediaType::parse(s), *m);
            assert_eq!(m.as_str(), *s);
        }
        let other = MediaType::parse("application/x-custom");
        assert_eq!(other, MediaType::Other("application/x-custom".into()));
        assert_eq!(other.as_str(), "application/x-custom");
    }

    #[test]
    fn layer_compression_follows_the_media_type() {
        assert_eq!(MediaType::OciLayerGzip.layer_compression(), Some(Compression::Gzip));
        assert_eq!(MediaType::DockerLayer.layer_compression(), Some(Compression::None));
        assert_eq!(MediaType::OciManifest.layer_compression(), None);
        assert!(MediaType::DockerManifestList.is_index());
    }
}
