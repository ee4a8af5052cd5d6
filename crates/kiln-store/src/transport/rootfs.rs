//! Importing a root filesystem as a one-layer image (`kiln import`, like `docker import`): a directory is
//! written as a reproducible layer by `kiln_layer::write_tree`; a tarball (plain, gzip or zstd) is stored
//! as the layer as is, decompressed. The config gets the host (or requested) platform, the caller's
//! container settings (`--change`), and one history entry.

use std::path::Path;

use kiln_oci::{ContainerConfig, History, ImageConfig, Platform};

use crate::Result;
use crate::error::{StoreError, path_err};
use crate::lease::Lease;
use crate::transport::ingest::StagedImage;

/// Settings of a rootfs import.
#[derive(Debug, Clone, Default)]
pub struct RootfsImport {
    /// Container defaults (CMD, ENV, ...), already changed as the user asked.
    pub config: ContainerConfig,
    /// The platform to record (default: the host's).
    pub platform: Option<Platform>,
    /// Clamp file times and use this as the creation time (`SOURCE_DATE_EPOCH`); default: now.
    pub source_date_epoch: Option<i64>,
    /// The history comment (default `Imported from <source>`).
    pub message: Option<String>,
}

/// RFC 3339 (UTC, seconds) for a Unix time.
pub(crate) fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// Stores `source` (a directory or a tarball) as one layer and builds its config.
pub(crate) fn stage_rootfs(lease: &Lease, source: &Path, options: &RootfsImport) -> Result<StagedImage> {
    let meta = fs_err::metadata(source).map_err(path_err("reading", source))?;
    let object = source.display().to_string();
    let mut writer = lease.blob_writer()?;
    if meta.is_dir() {
        let write = kiln_layer::WriteOptions {
            source: kiln_layer::TreeSource::Full,
            source_date_epoch: options.source_date_epoch,
            exclude: Vec::new(),
        };
        kiln_layer::write_tree(source, &write, &mut writer)
            .map_err(|e| StoreError::invalid(&object, format!("writing the layer: {e}")))?;
    } else {
        let file = fs_err::File::open(source).map_err(path_err("opening", source))?;
        let (_, mut plain) = kiln_layer::decompress(file)
            .map_err(|e| StoreError::invalid(&object, format!("reading: {e}")))?;
        kiln_layer::copy_large(&mut plain, &mut writer)
            .map_err(|e| StoreError::invalid(&object, format!("reading: {e}")))?;
    }
    let (diff_id, _) = writer.commit_named(None, None, &object)?;
    let created = rfc3339(options.source_date_epoch.unwrap_or_else(crate::db::now));
    let mut config = ImageConfig::for_platform(&options.platform.clone().unwrap_or_else(Platform::host));
    config.created = Some(created.clone());
    config.config = options.config.clone();
    config.rootfs.diff_ids.push(diff_id);
    config.history.push(History {
        created: Some(created),
        comment: Some(
            options.message.clone().unwrap_or_else(|| format!("Imported from {}", source.display())),
        ),
        ..History::default()
    });
    let config_bytes = serde_json::to_vec(&config).map_err(|e| StoreError::json("image config", e))?;
    Ok(StagedImage { config_bytes, config, names: Vec::new(), origin: None })
}
