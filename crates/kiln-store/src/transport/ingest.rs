//! The import pipeline every source format shares: verify a config against its descriptor, and store a
//! layer uncompressed after checking the compressed bytes against the source's digest and size and the
//! uncompressed bytes against the config's DiffID. Nothing unverified becomes visible.

use std::io::{self, Read};

use kiln_oci::{Descriptor, Digest, ImageConfig, Reference, Sha256Reader};

use crate::Result;
use crate::error::StoreError;
use crate::lease::Lease;

/// An image whose blobs are in the store (pinned by the lease that staged it) but that has no image record
/// yet: [`Lease::commit_staged`] records it, an export can write it out directly.
#[derive(Debug, Clone)]
pub struct StagedImage {
    /// The config's exact bytes.
    pub config_bytes: Vec<u8>,
    /// The parsed config; its DiffIDs name the stored layers.
    pub config: ImageConfig,
    /// Names the source gave it (RepoTags, OCI annotations).
    pub names: Vec<Reference>,
    /// The manifest digest the source knew it by, if it had one.
    pub origin: Option<Digest>,
}

impl Lease {
    /// Records a staged image with `refs` (or, when empty, the names the source gave it).
    pub fn commit_staged(&self, image: &StagedImage, refs: &[Reference]) -> Result<crate::ImageRecord> {
        let refs = if refs.is_empty() { &image.names[..] } else { refs };
        self.commit_image(&image.config_bytes, refs, image.origin.clone())
    }
}

/// Checks config bytes against the descriptor that named them (when there is one) and parses them.
pub(crate) fn check_config(bytes: &[u8], declared: Option<&Descriptor>, object: &str) -> Result<ImageConfig> {
    if let Some(desc) = declared {
        check_bytes(bytes, desc, object)?;
    }
    let config: ImageConfig = serde_json::from_slice(bytes).map_err(|e| StoreError::json(object, e))?;
    if config.rootfs.kind != "layers" {
        return Err(StoreError::invalid(
            object,
            format!("rootfs type {:?} is not \"layers\"", config.rootfs.kind),
        ));
    }
    Ok(config)
}

/// Checks that `bytes` have the digest and size `desc` declares.
pub(crate) fn check_bytes(bytes: &[u8], desc: &Descriptor, object: &str) -> Result<()> {
    if bytes.len() as u64 != desc.size {
        return Err(StoreError::SizeMismatch {
            object: object.to_owned(),
            expected: desc.size,
            actual: bytes.len() as u64,
        });
    }
    let actual = Digest::sha256_of(bytes);
    if actual != desc.digest {
        return Err(StoreError::DigestMismatch {
            object: object.to_owned(),
            expected: desc.digest.clone(),
            actual,
        });
    }
    Ok(())
}

/// Stores one layer uncompressed under its DiffID. `declared` is the (compressed) blob's digest and size
/// when the source names them; the layer is skipped when the store already has the DiffID.
pub(crate) fn ingest_layer(
    lease: &Lease,
    reader: impl Read,
    declared: Option<(&Digest, u64)>,
    diff_id: &Digest,
    object: &str,
) -> Result<()> {
    if lease.pin_blob(diff_id)? {
        return Ok(());
    }
    let limit = declared.map_or(u64::MAX, |(_, size)| size.saturating_add(1));
    let mut hashing = Sha256Reader::new(reader.take(limit));
    let mut writer = lease.blob_writer()?;
    {
        let (_, mut plain) = kiln_layer::decompress(&mut hashing)
            .map_err(|e| StoreError::invalid(object, format!("reading layer: {e}")))?;
        kiln_layer::copy_large(&mut plain, &mut writer)
            .map_err(|e| StoreError::invalid(object, format!("reading layer: {e}")))?;
    }
    // Whatever follows the compressed stream (padding) still counts toward the blob's digest.
    kiln_layer::copy_large(&mut hashing, &mut io::sink())
        .map_err(|e| StoreError::io(format!("reading {object}"), e))?;
    let (_, digest, size) = hashing.finish();
    if let Some((want, want_size)) = declared {
        if size != want_size {
            return Err(StoreError::SizeMismatch {
                object: object.to_owned(),
                expected: want_size,
                actual: size,
            });
        }
        if digest != *want {
            return Err(StoreError::DigestMismatch {
                object: object.to_owned(),
                expected: want.clone(),
                actual: digest,
            });
        }
    }
    writer.commit_named(
        Some(diff_id),
        None,
        &format!("{object} (uncompressed, against the config's DiffID)"),
    )?;
    Ok(())
}
