//! Moving images between the store and the transports users name them with (`kiln_oci::ImageLocation`):
//! OCI layout directories and archives (`oci`), docker-archives (`docker`), and root filesystems
//! (`rootfs`).
//!
//! Import is two steps: *stage* (every blob verified and stored uncompressed, pinned by a lease) and
//! *commit* (the image record and refs, in one transaction). A failed import abandons its lease, which
//! deletes the blobs it created that nothing else uses, so a corrupt archive leaves nothing behind. Export
//! writes each layer compressed as [`ExportOptions`] says, remembering the compressed blobs.
//!
//! Multi-platform sources: the manifest for the requested platform (default: the host's) is imported;
//! other platforms are not (the store holds single-platform images).

mod archive;
mod docker;
pub(crate) mod export;
pub(crate) mod ingest;
pub(crate) mod oci;
mod rootfs;
mod writer;

use std::path::Path;

use kiln_oci::{ImageIndex, ImageLocation, Platform, Reference};

pub use export::{ExportImage, ExportOptions};
pub use ingest::StagedImage;
pub use rootfs::RootfsImport;

use crate::error::StoreError;
use crate::lease::Lease;
use crate::transport::archive::Archive;
use crate::transport::writer::ArchiveWriter;
use crate::{ImageRecord, Result, Store};

/// How to read a source.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The platform to pick from multi-platform indexes (default: the host's).
    pub platform: Option<Platform>,
}

impl ImportOptions {
    fn platform(&self) -> Platform {
        self.platform.clone().unwrap_or_else(Platform::host)
    }
}

/// Stages the images at `source` (an OCI layout or archive, or a docker-archive) under `lease`.
pub fn stage(lease: &Lease, source: &ImageLocation, options: &ImportOptions) -> Result<Vec<StagedImage>> {
    match source {
        ImageLocation::OciDir { path, reference } => {
            oci::read_layout(lease, &Archive::dir(path)?, reference.as_deref(), &options.platform())
        }
        ImageLocation::OciArchive { path, reference } => oci::read_layout(
            lease,
            &Archive::tar(path, lease.tmp_dir())?,
            reference.as_deref(),
            &options.platform(),
        ),
        ImageLocation::DockerArchive { path, reference } => {
            let archive = Archive::tar(path, lease.tmp_dir())?;
            if !docker::is_docker_archive(&archive) {
                return Err(StoreError::invalid(
                    path.display().to_string(),
                    "not a docker-archive (no manifest.json)",
                ));
            }
            docker::read_docker_archive(lease, &archive, reference.as_deref())
        }
        ImageLocation::Dir(path) => Ok(vec![rootfs::stage_rootfs(lease, path, &RootfsImport::default())?]),
        ImageLocation::Store(_) | ImageLocation::StoreId(_) => {
            Err(StoreError::invalid(source.to_string(), "is a store image, not an importable source"))
        }
    }
}

/// Stages the images of archive file `path`, detecting its format: a docker-archive (it has
/// `manifest.json`; Docker 25+ archives are also OCI layouts and are read this way) or an OCI archive.
pub fn stage_archive(lease: &Lease, path: &Path, options: &ImportOptions) -> Result<Vec<StagedImage>> {
    let archive = Archive::tar(path, lease.tmp_dir())?;
    if docker::is_docker_archive(&archive) {
        docker::read_docker_archive(lease, &archive, None)
    } else if oci::is_layout(&archive) {
        oci::read_layout(lease, &archive, None, &options.platform())
    } else {
        Err(StoreError::invalid(path.display().to_string(), "neither a docker-archive nor an OCI archive"))
    }
}

/// Runs `stage`, then records every staged image with `refs` (at most one image may be staged when `refs`
/// is not empty) or its source names. On failure, whatever was staged is removed.
fn stage_and_commit(
    store: &Store,
    refs: &[Reference],
    stage: impl FnOnce(&Lease) -> Result<Vec<StagedImage>>,
) -> Result<Vec<ImageRecord>> {
    let lease = store.lease()?;
    let result = stage(&lease).and_then(|staged| {
        if !refs.is_empty() && staged.len() != 1 {
            return Err(StoreError::invalid(
                "import",
                format!("the source holds {} images; name one to give it a tag", staged.len()),
            ));
        }
        staged
            .iter()
            .map(|image| {
                let mut record = lease.commit_staged(image, refs)?;
                // Report the names this import gave, not every tag the image already had.
                let given = if refs.is_empty() { &image.names[..] } else { refs };
                record.refs.retain(|r| given.contains(r));
                Ok(record)
            })
            .collect()
    });
    match result {
        Ok(records) => Ok(records),
        Err(e) => {
            // The error is what the user needs; a cleanup failure leaves garbage for the next prune.
            let _ = lease.abandon();
            Err(e)
        }
    }
}

/// Imports the images at `source` into the store, tagged `refs` (or with the names the source gives). The
/// records returned list only those names in `refs`.
pub fn import(
    store: &Store,
    source: &ImageLocation,
    refs: &[Reference],
    options: &ImportOptions,
) -> Result<Vec<ImageRecord>> {
    stage_and_commit(store, refs, |lease| stage(lease, source, options))
}

/// Imports a root filesystem directory or tarball as a one-layer image tagged `refs`.
pub fn import_rootfs(
    store: &Store,
    source: &Path,
    refs: &[Reference],
    options: &RootfsImport,
) -> Result<ImageRecord> {
    let mut records =
        stage_and_commit(store, refs, |lease| Ok(vec![rootfs::stage_rootfs(lease, source, options)?]))?;
    records.pop().ok_or_else(|| StoreError::invalid(source.display().to_string(), "nothing imported"))
}

/// Loads an archive file (`kiln load`): every image in it, with the names it gives them.
pub fn load(store: &Store, path: &Path, options: &ImportOptions) -> Result<Vec<ImageRecord>> {
    stage_and_commit(store, &[], |lease| stage_archive(lease, path, options))
}

/// Writes `images` to `dest` (`oci:`, `oci-archive:` or `docker-archive:`). A reference in `dest` names the
/// image (one image only): the OCI ref name, or the docker-archive tag. `lease` keeps staged images and the
/// compressed blobs alive while they are written.
pub fn export(
    lease: &Lease,
    images: &[ExportImage],
    dest: &ImageLocation,
    options: &ExportOptions,
) -> Result<()> {
    let one_ref = |reference: &Option<String>| -> Result<()> {
        if reference.is_some() && images.len() != 1 {
            return Err(StoreError::invalid(
                dest.to_string(),
                "a reference in the destination names exactly one image",
            ));
        }
        Ok(())
    };
    match dest {
        ImageLocation::OciDir { path, reference } => {
            one_ref(reference)?;
            let index_path = path.join("index.json");
            let existing: Option<ImageIndex> = match fs_err::read(&index_path) {
                Ok(data) => Some(
                    serde_json::from_slice(&data)
                        .map_err(|e| StoreError::json(index_path.display().to_string(), e))?,
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(StoreError::io("reading existing layout", e)),
            };
            let mut out = ArchiveWriter::dir(path)?;
            oci::write_layout(lease, &mut out, existing, images, reference.as_deref(), options)?;
            out.finish()
        }
        ImageLocation::OciArchive { path, reference } => {
            one_ref(reference)?;
            let mut out = ArchiveWriter::tar(path)?;
            oci::write_layout(lease, &mut out, None, images, reference.as_deref(), options)?;
            out.finish()
        }
        ImageLocation::DockerArchive { path, reference } => {
            one_ref(reference)?;
            let renamed;
            let images = match reference {
                Some(r) => {
                    let name = Reference::parse(r)
                        .map_err(|e| StoreError::invalid(dest.to_string(), e.to_string()))?;
                    renamed = vec![ExportImage { names: vec![name], ..images[0].clone() }];
                    &renamed[..]
                }
                None => images,
            };
            let mut out = ArchiveWriter::tar(path)?;
            docker::write_docker_archive(lease, &mut out, images, options)?;
            out.finish()
        }
        ImageLocation::Dir(_) | ImageLocation::Store(_) | ImageLocation::StoreId(_) => {
            Err(StoreError::invalid(
                dest.to_string(),
                "is not an export destination (use oci:, oci-archive: or docker-archive:)",
            ))
        }
    }
}

/// The names an image gets when exported after being named as `location`: the tag the user typed, none
/// for an ID or digest (as `docker save` does).
fn names_for(location: &ImageLocation) -> Vec<Reference> {
    match location {
        ImageLocation::Store(r) if r.tag.is_some() => vec![Reference { digest: None, ..r.clone() }],
        _ => Vec::new(),
    }
}

/// Reads the images `sources` name, from the store or (staged under `lease`) from any transport.
pub fn open_images(
    lease: &Lease,
    sources: &[ImageLocation],
    options: &ImportOptions,
) -> Result<Vec<ExportImage>> {
    let mut out = Vec::new();
    for source in sources {
        match source {
            ImageLocation::Store(_) | ImageLocation::StoreId(_) => {
                let image = lease.store().image(source)?;
                for diff_id in image.diff_ids() {
                    if !lease.pin_blob(diff_id)? {
                        return Err(StoreError::BlobNotFound(diff_id.clone()));
                    }
                }
                out.push(ExportImage::from_image(&image, names_for(source)));
            }
            _ => out.extend(stage(lease, source, options)?.iter().map(ExportImage::from_staged)),
        }
    }
    Ok(out)
}

/// Copies the image(s) at `source` to `dest`, where either may be the store or any transport. Copying
/// between two transports stages the blobs through the store; they are collected by the next prune.
pub fn copy(
    store: &Store,
    source: &ImageLocation,
    dest: &ImageLocation,
    import: &ImportOptions,
    options: &ExportOptions,
) -> Result<Vec<ImageRecord>> {
    match dest {
        ImageLocation::Store(target) => match source {
            ImageLocation::Store(_) | ImageLocation::StoreId(_) => Ok(vec![store.tag(source, target)?]),
            _ => crate::transport::import(store, source, std::slice::from_ref(target), import),
        },
        _ => {
            let lease = store.lease()?;
            let images = open_images(&lease, std::slice::from_ref(source), import)?;
            export(&lease, &images, dest, options)?;
            Ok(Vec::new())
        }
    }
}
