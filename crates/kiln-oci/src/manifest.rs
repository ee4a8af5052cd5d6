//! Manifests and indexes: [`Descriptor`], [`ImageManifest`] and [`ImageIndex`] (OCI and Docker schema2 share
//! one shape; the media type says which).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Digest, MediaType, Platform};

/// A reference to a blob: its media type, digest and size, as in manifests and indexes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// What the blob is.
    pub media_type: MediaType,
    /// Its digest (of the bytes as stored).
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Download locations for non-distributable layers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Free-form annotations (`org.opencontainers.image.ref.name` in an OCI layout index).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The platform of the manifest this entry points to (index entries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    /// A descriptor with no annotations, URLs or platform.
    pub fn new(media_type: MediaType, digest: Digest, size: u64) -> Self {
        Descriptor {
            media_type,
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            platform: None,
        }
    }
}

/// An image manifest: one config and an ordered list of layers (base first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's own media type (required by Docker schema2, recommended by OCI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// The image config blob.
    pub config: Descriptor,
    /// The layer blobs, base first.
    pub layers: Vec<Descriptor>,
    /// Free-form annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An index (OCI) or manifest list (Docker): manifests for several platforms, or an OCI layout's refs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// The index's own media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// The manifests it lists.
    pub manifests: Vec<Descriptor>,
    /// Free-form annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ImageIndex {
    /// An empty OCI index.
    pub fn new() -> Self {
        ImageIndex {
            schema_version: 2,
            media_type: Some(MediaType::OciIndex),
            manifests: Vec::new(),
            annotations: BTreeMap::new(),
        }
    }

    /// The entry whose platform matches `platform` best: an exact variant match first, then any match.
    pub fn select(&self, platform: &Platform) -> Option<&Descriptor> {
        let candidates =
            || self.manifests.iter().filter(|d| d.platform.as_ref().is_some_and(|p| p.matches(platform)));
        candidates()
            .find(|d| d.platform.as_ref().is_some_and(|p| p.variant == platform.variant))
            .or_else(|| candidates().next())
    }
}

impl Default for ImageIndex {
    fn default() -> Self {
        Self::new()
    }
}

/// The OCI annotation naming a manifest's tag inside an OCI layout's `index.json`.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// containerd's annotation holding the full image name inside an OCI layout or archive.
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_json_uses_spec_field_names() {
        let d = Digest::sha256_of(b"x");
        let m = ImageManifest {
            schema_version: 2,
            media_type: Some(MediaType::OciManifest),
            config: Descriptor::new(MediaType::OciConfig, d.clone(), 1),
            layers: vec![Descriptor::new(MediaType::OciLayerGzip, d, 1)],
            annotations: BTreeMap::new(),
        };
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.starts_with(r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType""#));
        let back: ImageManifest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn index_selects_by_platform() {
        let d = Digest::sha256_of(b"x");
        let entry = |p: &str| Descriptor {
            platform: Some(Platform::parse(p).unwrap()),
            ..Descriptor::new(MediaType::OciManifest, Digest::sha256_of(p.as_bytes()), 1)
        };
        let mut index = ImageIndex::new();
        index.manifests = vec![entry("linux/arm/v6"), entry("linux/arm/v7"), entry("linux/amd64")];
        let got = index.select(&Platform::parse("linux/arm/v7").unwrap()).unwrap();
        assert_eq!(got.digest, Digest::sha256_of(b"linux/arm/v7"));
        assert!(index.select(&Platform::parse("linux/s390x").unwrap()).is_none());
        assert_ne!(got.digest, d);
    }
}
