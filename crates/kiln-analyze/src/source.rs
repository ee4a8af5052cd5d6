//! Opening an image for analysis without copying it: [`open_image`] turns any image location (a store
//! reference or ID, `oci:DIR`, `oci-archive:FILE`, `docker-archive:FILE`) into an [`ImageSource`]: the
//! config and, for each layer, where its bytes are ([`LayerBlob`]).
//!
//! Store images are read from the store's blobs (pinned by a lease while the source lives). Transports are
//! read in place, read-only: an archive is indexed once (member → offset and length) and every layer is
//! then read by seeking, so analysis makes one pass over each layer's bytes. This is why the transports are
//! not staged through `kiln_store::transport` here: staging copies every layer into the store and fsyncs
//! it, which costs more than the analysis itself. Nothing read from a transport is trusted: member names are
//! normalized and may not leave the archive, JSON reads are bounded, and each layer is checked against its
//! DiffID while it is scanned (by the caller, see [`crate::analyze`]).
//!
//! Store layers are the exception: their DiffID is not computed again ([`LayerBlob::verified`]), because
//! the store already did when it wrote them, and hashing is most of the cost of analyzing a large layer
//! (SHA-256 of a 150 MB Debian layer is ~65% of the CPU time of `kiln analyze`). The guarantee this relies
//! on is `kiln-store`'s: a file appears in `blobs/sha256/` only through `BlobWriter::commit_named`, which
//! renames a synced staging file to the SHA-256 computed over exactly the bytes written into it: by the
//! store while writing (`Lease::blob_writer`, never the digest a source claims: a mismatch with the
//! expected digest is an error and leaves nothing), or by kiln's own layer tar writer, which hashes what it
//! writes (`Lease::prehashed_blob_writer`). So a blob's name is the SHA-256 of its content by construction,
//! and a layer blob named by its DiffID is that layer (the lease keeps GC from removing it while it is
//! read). What this does not catch is the store's files changed on disk afterwards (bit rot, or root
//! editing them); that is the same trust containerd and dockerd place in their content stores, and `kiln
//! analyze` of an archive or layout still verifies every layer. A store layer blob that starts with a gzip
//! or zstd magic (which the store never writes) is not trusted and is verified like a transport's.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use kiln_oci::{
    ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, Descriptor, Digest, ImageConfig, ImageIndex, ImageLocation,
    ImageManifest, Platform, Reference,
};
use kiln_store::{Lease, Store};

use crate::error::{AnalyzeError, Result};

/// The largest JSON document (manifest, index, config) read into memory.
const MAX_JSON: u64 = 64 << 20;
/// How many links one member lookup may follow.
const MAX_LINKS: usize = 16;
/// How deep nested indexes may go.
const MAX_INDEX_DEPTH: usize = 4;

/// An image opened for reading: its config and its layers.
#[derive(Debug)]
pub struct ImageSource {
    /// The image as the user named it.
    pub name: String,
    /// The image ID (config digest).
    pub id: Digest,
    /// The config.
    pub config: ImageConfig,
    /// The layers, base first.
    pub layers: Vec<LayerBlob>,
    /// Keeps store blobs from being collected while they are read.
    _lease: Option<Lease>,
}

/// Where one layer's bytes are: a byte range of a file (a store blob, a layout blob, an archive member).
#[derive(Debug, Clone)]
pub struct LayerBlob {
    /// The DiffID the config names.
    pub diff_id: Digest,
    /// The compressed size, when the source holds the layer compressed (or the store remembers a gzip
    /// export of it).
    pub compressed_size: Option<u64>,
    /// For messages: the file, or `archive:member`.
    pub object: String,
    file: PathBuf,
    offset: u64,
    len: u64,
    /// An uncompressed store blob named by its DiffID: verified when it was written (see the module doc).
    verified: bool,
}

impl LayerBlob {
    /// A reader of the layer's bytes as stored (possibly compressed).
    pub fn open(&self) -> Result<impl Read + use<>> {
        let mut file = File::open(&self.file).map_err(|e| AnalyzeError::io(&self.file, "opening", e))?;
        file.seek(SeekFrom::Start(self.offset)).map_err(|e| AnalyzeError::io(&self.file, "seeking", e))?;
        Ok(file.take(self.len))
    }

    /// Length of the stored bytes.
    pub fn stored_size(&self) -> u64 {
        self.len
    }

    /// True for an uncompressed layer blob of kiln's store, whose SHA-256 was checked against its DiffID
    /// when the store wrote it, so reading it need not hash it again (see the module doc). False for
    /// everything read from an archive or layout.
    pub fn verified(&self) -> bool {
        self.verified
    }
}

/// Opens the image `name` (parsed as an [`ImageLocation`]). `store` is needed only for store references
/// and IDs; multi-platform sources give the manifest for `platform`.
pub fn open_image(name: &str, store: Option<&Store>, platform: &Platform) -> Result<ImageSource> {
    let location = ImageLocation::parse(name).map_err(|e| AnalyzeError::invalid(name, e.to_string()))?;
    match &location {
        ImageLocation::Store(_) | ImageLocation::StoreId(_) => {
            let store = store.ok_or_else(|| AnalyzeError::invalid(name, "a store image, but no store"))?;
            open_store_image(name, store, &location)
        }
        ImageLocation::DockerArchive { path, reference } => {
            let archive = Container::tar(path)?;
            open_docker_archive(name, &archive, reference.as_deref())
        }
        ImageLocation::OciArchive { path, reference } => {
            open_oci_layout(name, &Container::tar(path)?, reference.as_deref(), platform)
        }
        ImageLocation::OciDir { path, reference } => {
            open_oci_layout(name, &Container::Dir(path.clone()), reference.as_deref(), platform)
        }
        ImageLocation::Dir(path) => Err(AnalyzeError::invalid(
            path.display().to_string(),
            "a root filesystem directory is not an image (import it first with `kiln import`)",
        )),
    }
}

fn open_store_image(name: &str, store: &Store, location: &ImageLocation) -> Result<ImageSource> {
    let image = store.image(location).map_err(|e| AnalyzeError::store(format!("image {name}"), e))?;
    let lease = store.lease().map_err(|e| AnalyzeError::store("taking a lease", e))?;
    let mut layers = Vec::with_capacity(image.diff_ids().len());
    for diff_id in image.diff_ids() {
        let pinned =
            lease.pin_blob(diff_id).map_err(|e| AnalyzeError::store(format!("layer {diff_id}"), e))?;
        if !pinned {
            return Err(AnalyzeError::invalid(name, format!("layer {diff_id} is missing from the store")));
        }
        let compressed_size = lease
            .compressed_blob(diff_id, kiln_oci::Compression::Gzip, None)
            .map_err(|e| AnalyzeError::store(format!("layer {diff_id}"), e))?
            .map(|(_, size)| size);
        let file = store.blob_path(diff_id);
        let len = fs_err::metadata(&file).map_err(|e| AnalyzeError::io(&file, "reading metadata", e))?.len();
        // The store keeps layers uncompressed under their DiffID; anything else is checked the long way.
        let verified = !is_compressed(&file, 0)?;
        layers.push(LayerBlob {
            diff_id: diff_id.clone(),
            compressed_size,
            object: format!("blob {diff_id}"),
            file,
            offset: 0,
            len,
            verified,
        });
    }
    Ok(ImageSource {
        name: name.to_owned(),
        id: image.record.id.clone(),
        config: image.config,
        layers,
        _lease: Some(lease),
    })
}

/// One entry of a docker-archive's `manifest.json`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn open_docker_archive(name: &str, archive: &Container, reference: Option<&str>) -> Result<ImageSource> {
    let entries: Vec<ArchiveEntry> = archive.read_json("manifest.json")?;
    let object = archive.object("manifest.json");
    let entry = match reference {
        None if entries.len() == 1 => &entries[0],
        None => {
            return Err(AnalyzeError::invalid(
                object,
                format!("holds {} images: name one as docker-archive:FILE:name:tag or :@N", entries.len()),
            ));
        }
        Some(r) if r.starts_with('@') => r[1..]
            .parse::<usize>()
            .ok()
            .and_then(|n| entries.get(n))
            .ok_or_else(|| AnalyzeError::invalid(&object, format!("no image {r}")))?,
        Some(r) => {
            let wanted = Reference::parse(r).map_err(|e| AnalyzeError::invalid(&object, e.to_string()))?;
            entries
                .iter()
                .find(|e| {
                    e.repo_tags.iter().flatten().any(|t| Reference::parse(t).is_ok_and(|t| t == wanted))
                })
                .ok_or_else(|| AnalyzeError::invalid(&object, format!("no image tagged {r}")))?
        }
    };
    let config_bytes = archive.read(&entry.config, MAX_JSON)?;
    let config = parse_config(&config_bytes, &archive.object(&entry.config))?;
    let members: Vec<(String, Option<u64>)> = entry.layers.iter().map(|m| (m.clone(), None)).collect();
    let layers = layer_blobs(archive, &object, &members, &config)?;
    Ok(ImageSource {
        name: name.to_owned(),
        id: Digest::sha256_of(&config_bytes),
        config,
        layers,
        _lease: None,
    })
}

fn open_oci_layout(
    name: &str,
    layout: &Container,
    reference: Option<&str>,
    platform: &Platform,
) -> Result<ImageSource> {
    let index: ImageIndex = layout.read_json("index.json")?;
    let object = layout.object("index.json");
    let named = |d: &&Descriptor| {
        reference.is_some_and(|r| {
            d.annotations.get(ANNOTATION_REF_NAME).is_some_and(|n| n == r)
                || d.annotations.get(ANNOTATION_IMAGE_NAME).is_some_and(|n| n == r)
        })
    };
    let mut desc = match reference {
        Some(r) => index
            .manifests
            .iter()
            .find(named)
            .ok_or_else(|| AnalyzeError::invalid(&object, format!("no manifest named {r}")))?,
        None if index.manifests.len() == 1 => &index.manifests[0],
        None => index.select(platform).ok_or_else(|| {
            AnalyzeError::invalid(
                &object,
                format!("holds {} manifests: name one as oci:DIR:ref", index.manifests.len()),
            )
        })?,
    }
    .clone();
    for _ in 0..MAX_INDEX_DEPTH {
        if !desc.media_type.is_index() {
            break;
        }
        let nested: ImageIndex = layout.read_blob_json(&desc)?;
        desc = nested
            .select(platform)
            .ok_or_else(|| {
                AnalyzeError::invalid(layout.blob_object(&desc.digest), format!("no manifest for {platform}"))
            })?
            .clone();
    }
    let manifest: ImageManifest = layout.read_blob_json(&desc)?;
    let config_bytes = layout.read(&blob_name(&manifest.config.digest), MAX_JSON)?;
    let config = parse_config(&config_bytes, &layout.blob_object(&manifest.config.digest))?;
    let members: Vec<(String, Option<u64>)> =
        manifest.layers.iter().map(|l| (blob_name(&l.digest), Some(l.size))).collect();
    let layers = layer_blobs(layout, &layout.blob_object(&desc.digest), &members, &config)?;
    Ok(ImageSource { name: name.to_owned(), id: manifest.config.digest, config, layers, _lease: None })
}

/// The layers named by `members` (member name, expected length) for the config's DiffIDs.
fn layer_blobs(
    container: &Container,
    object: &str,
    members: &[(String, Option<u64>)],
    config: &ImageConfig,
) -> Result<Vec<LayerBlob>> {
    if config.rootfs.diff_ids.len() != members.len() {
        return Err(AnalyzeError::invalid(
            object,
            format!(
                "{} layers, but the config lists {} DiffIDs",
                members.len(),
                config.rootfs.diff_ids.len()
            ),
        ));
    }
    let mut layers = Vec::with_capacity(members.len());
    for ((member, expected), diff_id) in members.iter().zip(&config.rootfs.diff_ids) {
        let (file, offset, len) = container.range(member)?;
        if let Some(want) = expected.filter(|&want| want != len) {
            return Err(AnalyzeError::invalid(
                container.object(member),
                format!("{len} bytes, but the manifest says {want}"),
            ));
        }
        let compressed_size = is_compressed(&file, offset)?.then_some(len);
        layers.push(LayerBlob {
            diff_id: diff_id.clone(),
            compressed_size,
            object: container.object(member),
            file,
            offset,
            len,
            verified: false,
        });
    }
    Ok(layers)
}

fn parse_config(bytes: &[u8], object: &str) -> Result<ImageConfig> {
    serde_json::from_slice(bytes).map_err(|source| AnalyzeError::Json { object: object.to_owned(), source })
}

fn blob_name(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm(), digest.hex())
}

/// True when the bytes at `offset` start with a gzip or zstd magic number.
fn is_compressed(file: &Path, offset: u64) -> Result<bool> {
    let mut f = File::open(file).map_err(|e| AnalyzeError::io(file, "opening", e))?;
    f.seek(SeekFrom::Start(offset)).map_err(|e| AnalyzeError::io(file, "seeking", e))?;
    let mut magic = [0u8; 4];
    let n = kiln_layer::read_full(&mut f, &mut magic).map_err(|e| AnalyzeError::io(file, "reading", e))?;
    Ok(n >= 2 && magic[..2] == [0x1f, 0x8b] || n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd])
}

/// A member of an indexed tar.
#[derive(Debug, Clone)]
enum Member {
    File {
        offset: u64,
        size: u64,
    },
    /// A link, resolved to the archive path it names.
    Link(String),
}

/// An image archive (a tar, indexed once) or a layout directory.
#[derive(Debug)]
enum Container {
    Dir(PathBuf),
    Tar { path: PathBuf, members: HashMap<String, Member> },
}

/// Normalizes an archive path; `None` when it is empty, absolute, holds NUL or climbs out.
fn normalize(name: &str) -> Option<String> {
    if name.contains('\0') || name.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

impl Container {
    /// Indexes the tar at `path` (headers only; member data is skipped by seeking).
    fn tar(path: &Path) -> Result<Container> {
        let file = File::open(path).map_err(|e| AnalyzeError::io(path, "opening", e))?;
        let mut archive = tar::Archive::new(file);
        let bad = |e: io::Error| AnalyzeError::io(path, "reading the archive index", e);
        let mut members = HashMap::new();
        for entry in archive.entries_with_seek().map_err(bad)? {
            let entry = entry.map_err(bad)?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            // `tar -C layout -c .` writes the root itself as `./`: nothing to index.
            if entry.header().entry_type().is_dir() && raw.split('/').all(|p| p.is_empty() || p == ".") {
                continue;
            }
            let Some(name) = normalize(&raw) else {
                return Err(AnalyzeError::invalid(
                    format!("{}:{raw}", path.display()),
                    "member path leaves the archive",
                ));
            };
            let kind = entry.header().entry_type();
            let link = || -> Result<String> {
                let target = entry.link_name_bytes().map(|b| String::from_utf8_lossy(&b).into_owned());
                let target = target.unwrap_or_default();
                let joined = if kind.is_symlink() {
                    match name.rsplit_once('/') {
                        Some((dir, _)) => format!("{dir}/{target}"),
                        None => target.clone(),
                    }
                } else {
                    target.clone()
                };
                normalize(&joined).ok_or_else(|| {
                    AnalyzeError::invalid(
                        format!("{}:{name}", path.display()),
                        format!("link to {target:?} leaves the archive"),
                    )
                })
            };
            let member = if kind.is_symlink() || kind.is_hard_link() {
                Member::Link(link()?)
            } else if kind.is_file() || kind.is_contiguous() {
                Member::File { offset: entry.raw_file_position(), size: entry.size() }
            } else {
                continue;
            };
            if members.insert(name.clone(), member).is_some() {
                return Err(AnalyzeError::invalid(format!("{}:{name}", path.display()), "duplicate member"));
            }
        }
        Ok(Container::Tar { path: path.to_owned(), members })
    }

    fn object(&self, name: &str) -> String {
        match self {
            Container::Dir(dir) => dir.join(name).display().to_string(),
            Container::Tar { path, .. } => format!("{}:{name}", path.display()),
        }
    }

    fn blob_object(&self, digest: &Digest) -> String {
        self.object(&blob_name(digest))
    }

    /// The file, offset and length of member `name`.
    fn range(&self, name: &str) -> Result<(PathBuf, u64, u64)> {
        let missing = || AnalyzeError::invalid(self.object(name), "no such member");
        let clean = normalize(name)
            .ok_or_else(|| AnalyzeError::invalid(self.object(name), "path leaves the archive"))?;
        match self {
            Container::Dir(dir) => {
                let path = dir.join(&clean);
                // Layout blobs are plain files; a symlink could point anywhere on the host.
                let meta = fs_err::symlink_metadata(&path).map_err(|_| missing())?;
                if !meta.is_file() {
                    return Err(AnalyzeError::invalid(self.object(name), "not a regular file"));
                }
                Ok((path, 0, meta.len()))
            }
            Container::Tar { path, members } => {
                let mut current = clean;
                for _ in 0..MAX_LINKS {
                    match members.get(&current).ok_or_else(missing)? {
                        Member::File { offset, size } => return Ok((path.clone(), *offset, *size)),
                        Member::Link(target) => current = target.clone(),
                    }
                }
                Err(AnalyzeError::invalid(self.object(name), "too many links"))
            }
        }
    }

    fn read(&self, name: &str, limit: u64) -> Result<Vec<u8>> {
        let (file, offset, len) = self.range(name)?;
        if len > limit {
            return Err(AnalyzeError::invalid(self.object(name), format!("{len} bytes (limit {limit})")));
        }
        let mut f = File::open(&file).map_err(|e| AnalyzeError::io(&file, "opening", e))?;
        f.seek(SeekFrom::Start(offset)).map_err(|e| AnalyzeError::io(&file, "seeking", e))?;
        let mut out = Vec::with_capacity(len as usize);
        f.take(len).read_to_end(&mut out).map_err(|e| AnalyzeError::io(&file, "reading", e))?;
        Ok(out)
    }

    fn read_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T> {
        let bytes = self.read(name, MAX_JSON)?;
        serde_json::from_slice(&bytes)
            .map_err(|source| AnalyzeError::Json { object: self.object(name), source })
    }

    fn read_blob_json<T: serde::de::DeserializeOwned>(&self, desc: &Descriptor) -> Result<T> {
        let name = blob_name(&desc.digest);
        let bytes = self.read(&name, MAX_JSON)?;
        let actual = Digest::sha256_of(&bytes);
        if actual != desc.digest {
            return Err(AnalyzeError::invalid(
                self.object(&name),
                format!("content digest is {actual}, not {}", desc.digest),
            ));
        }
        serde_json::from_slice(&bytes)
            .map_err(|source| AnalyzeError::Json { object: self.object(&name), source })
    }
}
