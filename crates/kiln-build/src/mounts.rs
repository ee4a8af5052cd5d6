//! `RUN --mount`: turns each parsed mount into the sandbox's mounts, adds its cache-key ingredients, and
//! keeps what must live as long as the command (cache-mount locks, flattened stage directories).
//!
//! - `type=bind`: a read-only (or `rw`: writable, changes discarded) view of the build context, a named
//!   context, an earlier stage or an image. A stage or image is flattened into a scratch directory first
//!   (its layers applied in order); a context is bound directly when no `.dockerignore` hides anything,
//!   else the selected files are copied first. Key: the spec and the source's identity (content checksum
//!   for contexts, ChainID for stages and images).
//! - `type=cache`: a directory under `<store>/v1/cache-mounts/`, named by the hash of
//!   `BUILDKIT_CACHE_MOUNT_NS/id` (id defaults to the target), kept across builds and never part of a
//!   layer. `sharing=shared` lets writers share it, `locked` serializes them with a file lock, `private`
//!   gives each concurrent writer its own instance. A new cache directory is seeded from `from=`/`source=`
//!   when given, and created with `mode`/`uid`/`gid` (default 0755, root). Key: the spec, not the contents.
//! - `type=tmpfs`: a fresh tmpfs (`size=`).
//! - `type=secret`: the `--secret` value as a file (default `/run/secrets/<id>`, mode 0400) on a private
//!   tmpfs, and/or an environment variable (`env=`); the value is in no key, layer, history or log.
//! - `type=ssh`: the `--ssh` agent socket bound at the target (default `/run/buildkit/ssh_agent.N`), with
//!   `SSH_AUTH_SOCK` pointing at it.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use kiln_context::SourceSpec;
use kiln_dockerfile::instruction::RunMount;
use kiln_dockerfile::{MountType, Sharing};
use kiln_oci::Digest;
use kiln_plan::{Input, InputUse, Step};
use kiln_sandbox::{BindAccess, Mount};

use crate::error::BuildError;
use crate::key::Ingredients;
use crate::stage::{Shared, StageOutput, clean_path};
use crate::state::{StageState, remove_tree};

/// Mounts prepared for one RUN, and what keeps them valid until the command ends.
pub(crate) struct Prepared {
    pub(crate) mounts: Vec<Mount>,
    /// Environment variables from secrets and ssh mounts (never in keys or history).
    pub(crate) env: Vec<(String, String)>,
    /// Held cache-mount locks.
    _locks: Vec<File>,
    /// Scratch directories removed when the run is over.
    scratch: Vec<PathBuf>,
}

impl Drop for Prepared {
    fn drop(&mut self) {
        for dir in &self.scratch {
            remove_tree(dir);
        }
    }
}

/// The source a `from=` (or the context) names, as a directory on the host.
enum Source {
    /// A directory that may be bound as is.
    Dir(PathBuf),
}

fn cache_root(sh: &Shared<'_>) -> PathBuf {
    sh.store.root().join("v1").join("cache-mounts")
}

/// Applies the layers `diff_ids` in order into a new scratch directory (a stage or image, flattened).
pub(crate) fn flatten(sh: &Shared<'_>, diff_ids: &[Digest]) -> Result<PathBuf, BuildError> {
    let dir = sh.scratch_dir("flat");
    crate::state::mkdirs(&dir)?;
    flatten_into(sh.store, diff_ids, &dir)?;
    Ok(dir)
}

/// Applies the layers `diff_ids` (in the store) in order onto `dir`.
pub(crate) fn flatten_into(
    store: &kiln_store::Store,
    diff_ids: &[Digest],
    dir: &Path,
) -> Result<(), BuildError> {
    for d in diff_ids {
        let blob = store.open_blob(d).map_err(BuildError::store(format!("opening layer {d}")))?;
        kiln_layer::apply(
            std::io::BufReader::with_capacity(1 << 20, blob),
            dir,
            &kiln_layer::ApplyOptions::default(),
        )
        .map_err(BuildError::layer(format!("applying layer {d}")))?;
    }
    Ok(())
}

/// The directory, filesystem identity and `source=` subpath of mount `i`'s `from=` (or the main context).
fn mount_source(
    sh: &Shared<'_>,
    step: &Step,
    i: usize,
    source: &str,
    done: &BTreeMap<usize, StageOutput>,
    scratch: &mut Vec<PathBuf>,
) -> Result<(Source, String), BuildError> {
    let input = step.inputs.iter().find(|s| s.usage == InputUse::Mount(i)).map(|s| &s.input);
    let flat = |diff_ids: &[Digest],
                id: String,
                scratch: &mut Vec<PathBuf>|
     -> Result<(Source, String), BuildError> {
        let dir = flatten(sh, diff_ids)?;
        scratch.push(dir.clone());
        Ok((Source::Dir(dir), id))
    };
    match input {
        Some(Input::Stage(s)) => {
            let out = done.get(s).ok_or_else(|| BuildError::Invalid(format!("stage {s} was not built")))?;
            // By the stage's cache key, as `COPY --from` (see there).
            flat(out.diff_ids(), out.key.to_string(), scratch)
        }
        Some(Input::Image(r)) => {
            let image =
                sh.images.get(r).ok_or_else(|| BuildError::Invalid(format!("image {r} was not resolved")))?;
            flat(image.diff_ids(), image.manifest_digest.to_string(), scratch)
        }
        Some(Input::Scratch) => {
            let dir = sh.scratch_dir("empty");
            crate::state::mkdirs(&dir)?;
            scratch.push(dir.clone());
            Ok((Source::Dir(dir), "scratch".to_owned()))
        }
        Some(Input::Context(name)) => {
            let ctx = sh.req.named_contexts.get(name).ok_or_else(|| {
                BuildError::Invalid(format!(
                    "named context {name} was not given (--build-context {name}=DIR)"
                ))
            })?;
            context_source(sh, ctx, source, scratch)
        }
        None => context_source(sh, &sh.req.context, source, scratch),
    }
}

/// A context as a bind source: its checksum is the identity; the directory is the context itself when
/// nothing is ignored, else a copy of what the context transfers.
fn context_source(
    sh: &Shared<'_>,
    ctx: &kiln_context::Context,
    source: &str,
    scratch: &mut Vec<PathBuf>,
) -> Result<(Source, String), BuildError> {
    let spec = SourceSpec::new(if source.is_empty() { "." } else { source });
    let selection = ctx.select(&spec)?;
    let checksum = ctx.checksum(std::slice::from_ref(&selection), sh.memo)?;
    if ctx.ignore().is_empty() {
        return Ok((Source::Dir(ctx.root().to_owned()), checksum.digest.to_string()));
    }
    let dir = sh.scratch_dir("ctx");
    crate::copy::materialize(ctx, &selection, &dir)?;
    scratch.push(dir.clone());
    // The copy holds the selection at its root.
    Ok((Source::Dir(dir), format!("selected {}", checksum.digest)))
}

/// Resolves `target` against the working directory.
fn absolute_target(target: &str, workdir: &str) -> Result<String, BuildError> {
    let t =
        if target.starts_with('/') { clean_path(target) } else { clean_path(&format!("{workdir}/{target}")) };
    if t == "/" {
        return Err(BuildError::Invalid(format!("invalid mount target {target:?}")));
    }
    Ok(t)
}

/// Prepares every `--mount` of a RUN.
pub(crate) fn prepare(
    sh: &Shared<'_>,
    state: &StageState,
    step: &Step,
    mounts: &[RunMount],
    ingredients: &mut Ingredients,
    done: &BTreeMap<usize, StageOutput>,
) -> Result<Prepared, BuildError> {
    let mut out = Prepared { mounts: Vec::new(), env: Vec::new(), _locks: Vec::new(), scratch: Vec::new() };
    let mut ssh_count = 0;
    for (i, rm) in mounts.iter().enumerate() {
        let Some(m) = &rm.mount else {
            return Err(BuildError::Invalid(format!("invalid mount {:?}", rm.spec.value)));
        };
        let spec = serde_json::to_string(m).unwrap_or_default();
        match m.kind {
            MountType::Bind => {
                let target = absolute_target(&m.target, &state.workdir())?;
                let (Source::Dir(dir), id) = mount_source(sh, step, i, &m.source, done, &mut out.scratch)?;
                let selected_copy = id.starts_with("selected ");
                let host = if selected_copy {
                    dir
                } else {
                    kiln_fs::resolve_in_root(&dir, Path::new(&m.source), true)
                        .map_err(|e| BuildError::Invalid(format!("mount source {:?}: {e}", m.source)))?
                };
                if !host.exists() {
                    return Err(BuildError::Invalid(format!("mount source {:?} does not exist", m.source)));
                }
                ingredients.add(format!("mount {target}"), format!("{spec}\0{id}"));
                let access = if m.read_only { BindAccess::ReadOnly } else { BindAccess::Scratch };
                out.mounts.push(Mount::Bind { source: host, target, access });
            }
            MountType::Cache => {
                let target = absolute_target(&m.target, &state.workdir())?;
                let id = if m.id.is_empty() { clean_path(&m.target) } else { m.id.clone() };
                let ns =
                    sh.graph.frontend_options.get("BUILDKIT_CACHE_MOUNT_NS").cloned().unwrap_or_default();
                ingredients.add(format!("mount {target}"), &spec);
                let dir = cache_dir(sh, step, i, m, &format!("{ns}/{id}"), done, &mut out)?;
                let access = if m.read_only { BindAccess::ReadOnly } else { BindAccess::ReadWrite };
                out.mounts.push(Mount::Bind { source: dir, target, access });
            }
            MountType::Tmpfs => {
                let target = absolute_target(&m.target, &state.workdir())?;
                ingredients.add(format!("mount {target}"), &spec);
                let size = u64::try_from(m.size_limit).ok().filter(|s| *s > 0);
                out.mounts.push(Mount::Tmpfs { target, size });
            }
            MountType::Secret => {
                let id = if !m.id.is_empty() {
                    m.id.clone()
                } else if !m.source.is_empty() {
                    m.source.clone()
                } else if !m.target.is_empty() {
                    basename(&m.target)
                } else {
                    return Err(BuildError::Invalid("secret mount: one of source, target required".into()));
                };
                ingredients.add(format!("secret {i}"), &spec);
                let Some(secret) = sh.req.secrets.get(&id) else {
                    if m.required {
                        return Err(BuildError::Invalid(format!(
                            "secret {id} is required but was not given (--secret id={id},src=FILE)"
                        )));
                    }
                    continue;
                };
                if let Some(name) = &m.env {
                    let value = String::from_utf8(secret.expose().to_vec()).map_err(|_| {
                        BuildError::Invalid(format!("secret {id} is not UTF-8 and cannot be env {name}"))
                    })?;
                    out.env.push((name.clone(), value));
                }
                if m.env.is_none() || !m.target.is_empty() {
                    let target = if m.target.is_empty() {
                        format!("/run/secrets/{}", basename(&id))
                    } else {
                        m.target.clone()
                    };
                    let target = absolute_target(&target, &state.workdir())?;
                    out.mounts.push(Mount::File {
                        target,
                        contents: secret.expose().to_vec(),
                        mode: u32::try_from(m.mode.unwrap_or(0o400)).unwrap_or(0o400),
                        uid: u32::try_from(m.uid.unwrap_or(0)).unwrap_or(0),
                        gid: u32::try_from(m.gid.unwrap_or(0)).unwrap_or(0),
                    });
                }
            }
            MountType::Ssh => {
                let id = if m.id.is_empty() { "default".to_owned() } else { m.id.clone() };
                ingredients.add(format!("ssh {i}"), &spec);
                let Some(socket) = sh.req.ssh.get(&id) else {
                    if m.required {
                        return Err(BuildError::Invalid(format!(
                            "no SSH agent for id {id} (--ssh {id}=SOCKET)"
                        )));
                    }
                    continue;
                };
                let target = if m.target.is_empty() {
                    format!("/run/buildkit/ssh_agent.{ssh_count}")
                } else {
                    absolute_target(&m.target, &state.workdir())?
                };
                ssh_count += 1;
                if !out.env.iter().any(|(k, _)| k == "SSH_AUTH_SOCK") {
                    out.env.push(("SSH_AUTH_SOCK".to_owned(), target.clone()));
                }
                out.mounts.push(Mount::Bind { source: socket.clone(), target, access: BindAccess::ReadOnly });
            }
        }
    }
    Ok(out)
}

fn basename(p: &str) -> String {
    p.trim_end_matches('/').rsplit('/').next().unwrap_or(p).to_owned()
}

/// The host directory of cache mount `id` (created and seeded when new), with its lock held in `out`.
fn cache_dir(
    sh: &Shared<'_>,
    step: &Step,
    i: usize,
    m: &kiln_dockerfile::Mount,
    id: &str,
    done: &BTreeMap<usize, StageOutput>,
    out: &mut Prepared,
) -> Result<PathBuf, BuildError> {
    let base = cache_root(sh).join(Digest::sha256_of(id.as_bytes()).hex());
    crate::state::mkdirs(&base)?;
    let lock = |name: &str, blocking: bool| -> Result<Option<File>, BuildError> {
        let path = base.join(name);
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(BuildError::io("opening", path.clone()))?;
        if blocking {
            f.lock().map_err(BuildError::io("locking", path))?;
            Ok(Some(f))
        } else {
            Ok(f.try_lock().is_ok().then_some(f))
        }
    };
    let dir = match m.sharing.unwrap_or(Sharing::Shared) {
        Sharing::Shared => base.join("shared"),
        Sharing::Locked => {
            if let Some(f) = lock("shared.lock", true)? {
                out._locks.push(f);
            }
            base.join("shared")
        }
        Sharing::Private => {
            let mut n = 0;
            loop {
                if let Some(f) = lock(&format!("private-{n}.lock"), false)? {
                    out._locks.push(f);
                    break base.join(format!("private-{n}"));
                }
                n += 1;
            }
        }
    };
    if dir.is_dir() {
        return Ok(dir);
    }
    // Seed a new cache directory in a staging copy, then rename it into place.
    let staging = base.join(format!("new-{}", std::process::id()));
    remove_tree(&staging);
    let has_from = step.inputs.iter().any(|s| s.usage == kiln_plan::InputUse::Mount(i));
    if has_from {
        let mut scratch = Vec::new();
        let (Source::Dir(src_root), _) = mount_source(sh, step, i, "", done, &mut scratch)?;
        let src = kiln_fs::resolve_in_root(&src_root, Path::new(&m.source), true)
            .map_err(|e| BuildError::Invalid(format!("cache mount source {:?}: {e}", m.source)))?;
        let copied = crate::copy::copy_tree(&src, &staging);
        for d in scratch {
            remove_tree(&d);
        }
        copied?;
    } else {
        crate::state::mkdir(&staging)?;
    }
    let uid = m.uid.map(|u| u32::try_from(u).unwrap_or(0));
    let gid = m.gid.map(|g| u32::try_from(g).unwrap_or(0));
    if uid.is_some() || gid.is_some() || !has_from {
        std::os::unix::fs::chown(&staging, Some(uid.unwrap_or(0)), Some(gid.unwrap_or(0)))
            .map_err(BuildError::io("chown", staging.clone()))?;
    }
    if m.mode.is_some() || !has_from {
        use std::os::unix::fs::PermissionsExt;
        let mode = u32::try_from(m.mode.unwrap_or(0o755)).unwrap_or(0o755);
        std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(mode))
            .map_err(BuildError::io("chmod", staging.clone()))?;
    }
    match std::fs::rename(&staging, &dir) {
        Ok(()) => {}
        // Another build created it meanwhile: use theirs.
        Err(_) if dir.is_dir() => remove_tree(&staging),
        Err(e) => return Err(BuildError::io("creating cache mount", dir)(e)),
    }
    Ok(dir)
}
