//! Where a built image goes besides the store (`--output`): an OCI layout (directory or tarball), a
//! docker-archive (what `docker load` reads), the flattened root filesystem as a directory (`local`) or as
//! a tarball (`tar`). Images are written through kiln-store's exporters; root filesystems by applying the
//! layers in order (whiteouts honored).

use std::path::{Path, PathBuf};

use kiln_layer::{TreeSource, WriteOptions};
use kiln_oci::{ImageLocation, Reference};
use kiln_store::Store;
use kiln_store::transport::{ExportImage, ExportOptions};

use crate::error::BuildError;
use crate::mounts::flatten_into;
use crate::request::BuildOutput;
use crate::state::remove_tree;

/// A build output (`docker build --output type=...,dest=...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// The store only (`type=image`, the default): the image is tagged with `-t`.
    Image,
    /// An OCI image layout: a tarball at `dest`, or a directory when `tar` is false.
    Oci {
        /// Where.
        dest: PathBuf,
        /// A tarball (the default) or a layout directory.
        tar: bool,
    },
    /// A docker-archive tarball at `dest` (`docker load` reads it).
    Docker {
        /// Where.
        dest: PathBuf,
    },
    /// The image's root filesystem, flattened into the directory `dest`.
    Local {
        /// Where.
        dest: PathBuf,
    },
    /// The image's root filesystem as a tarball at `dest`.
    Tar {
        /// Where.
        dest: PathBuf,
    },
    /// Pushed to a registry (`type=registry` or `type=image,push=true`) under `names` (`name=REF`; empty:
    /// the `-t` tags). The engine has no registry client: the caller pushes, [`export`] does nothing.
    Registry {
        /// Where to push.
        names: Vec<Reference>,
    },
}

/// Writes the built image to `output`; `names` are the references recorded in image archives.
pub fn export(
    store: &Store,
    built: &BuildOutput,
    output: &Output,
    names: &[Reference],
) -> Result<(), BuildError> {
    let lease = store.lease().map_err(BuildError::store("starting an export lease"))?;
    let image_archive = |location: ImageLocation| -> Result<(), BuildError> {
        let image = store.load(&built.image).map_err(BuildError::store("reading the built image"))?;
        let images = [ExportImage::from_image(&image, names.to_vec())];
        kiln_store::transport::export(&lease, &images, &location, &ExportOptions::default())
            .map_err(BuildError::store(format!("exporting to {location}")))
    };
    match output {
        Output::Image | Output::Registry { .. } => Ok(()),
        Output::Oci { dest, tar: true } => {
            image_archive(ImageLocation::OciArchive { path: dest.clone(), reference: None })
        }
        Output::Oci { dest, tar: false } => {
            image_archive(ImageLocation::OciDir { path: dest.clone(), reference: None })
        }
        Output::Docker { dest } => {
            image_archive(ImageLocation::DockerArchive { path: dest.clone(), reference: None })
        }
        Output::Local { dest } => {
            crate::state::mkdirs(dest)?;
            flatten_into(store, &built.config.rootfs.diff_ids, dest)
        }
        Output::Tar { dest } => {
            let dir = lease.tmp_dir().join("rootfs");
            crate::state::mkdirs(&dir)?;
            let result =
                flatten_into(store, &built.config.rootfs.diff_ids, &dir).and_then(|()| write_tar(&dir, dest));
            remove_tree(&dir);
            result
        }
    }
}

fn write_tar(dir: &Path, dest: &Path) -> Result<(), BuildError> {
    let file = kiln_fs::AtomicFile::create(dest).map_err(BuildError::io("creating", dest))?;
    let mut file = file;
    let opts = WriteOptions { source: TreeSource::Full, source_date_epoch: None, exclude: Vec::new() };
    kiln_layer::write_tree(dir, &opts, file.file())
        .map_err(BuildError::layer(format!("writing {}", dest.display())))?;
    file.commit().map_err(BuildError::io("writing", dest))
}
