//! The export pipeline every destination format shares: [`ExportImage`] (what to write) and the compressed
//! forms of its layers, produced once and remembered in the store (DiffID + compression + level → blob), so
//! a second export does not recompress.

use kiln_oci::{Compression, Digest, ImageConfig, Reference};

use crate::Result;
use crate::error::StoreError;
use crate::image::Image;
use crate::lease::Lease;
use crate::transport::StagedImage;

/// How layers are compressed on export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// gzip (the default), zstd, or none (plain tars, as `docker save` writes them).
    pub compression: Compression,
    /// Compression level (gzip 0–9, default 3; zstd 1–22, default 3).
    pub level: Option<i32>,
    /// Compressor threads; 0 means all cores.
    pub threads: usize,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions { compression: Compression::Gzip, level: None, threads: 0 }
    }
}

/// An image to write out: its config and the names to give it in the destination.
#[derive(Debug, Clone)]
pub struct ExportImage {
    /// The config's exact bytes (its digest stays the image ID).
    pub config_bytes: Vec<u8>,
    /// The parsed config.
    pub config: ImageConfig,
    /// Names to record (`RepoTags`, OCI annotations); may be empty.
    pub names: Vec<Reference>,
}

impl ExportImage {
    /// A stored image, under `names`.
    pub fn from_image(image: &Image, names: Vec<Reference>) -> Self {
        ExportImage { config_bytes: image.config_bytes.clone(), config: image.config.clone(), names }
    }

    /// A staged image, under its source names.
    pub fn from_staged(image: &StagedImage) -> Self {
        ExportImage {
            config_bytes: image.config_bytes.clone(),
            config: image.config.clone(),
            names: image.names.clone(),
        }
    }

    /// The config digest (image ID).
    pub fn id(&self) -> Digest {
        Digest::sha256_of(&self.config_bytes)
    }
}

/// A layer blob ready to be copied out of the store.
#[derive(Debug, Clone)]
pub(crate) struct ExportedLayer {
    pub(crate) digest: Digest,
    pub(crate) size: u64,
    pub(crate) compression: Compression,
}

/// The blobs of `image`'s layers compressed as `options` says, creating and remembering missing ones.
pub(crate) fn export_layers(
    lease: &Lease,
    image: &ExportImage,
    options: &ExportOptions,
) -> Result<Vec<ExportedLayer>> {
    image.config.rootfs.diff_ids.iter().map(|diff_id| export_layer(lease, diff_id, options)).collect()
}

pub(crate) fn export_layer(
    lease: &Lease,
    diff_id: &Digest,
    options: &ExportOptions,
) -> Result<ExportedLayer> {
    let store = lease.store();
    if !lease.pin_blob(diff_id)? {
        return Err(StoreError::BlobNotFound(diff_id.clone()));
    }
    let compression = options.compression;
    if compression == Compression::None {
        return Ok(ExportedLayer { digest: diff_id.clone(), size: store.blob_size(diff_id)?, compression });
    }
    if let Some((digest, size)) = lease.compressed_blob(diff_id, compression, options.level)? {
        return Ok(ExportedLayer { digest, size, compression });
    }
    let source = store.open_blob(diff_id)?;
    // The compressor hashes exactly the bytes it writes: the store need not hash them again.
    let mut writer = lease.prehashed_blob_writer()?;
    let layer_options =
        kiln_layer::CompressOptions { compression, level: options.level, threads: options.threads };
    let info =
        kiln_layer::compress(std::io::BufReader::with_capacity(1 << 20, source), &mut writer, &layer_options)
            .map_err(|e| StoreError::invalid(format!("layer {diff_id}"), format!("compressing: {e}")))?;
    let (digest, size) = writer.commit(Some(&info.digest), Some(info.size))?;
    lease.remember_compressed(diff_id, compression, options.level, &digest, size)?;
    Ok(ExportedLayer { digest, size, compression })
}
