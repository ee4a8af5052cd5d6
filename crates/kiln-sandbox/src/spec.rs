//! [`RunSpec`]: everything one sandboxed run needs, as plain data (root filesystem, command, identity,
//! network, extra mounts, injected `/etc` files, security switches).

use std::fmt;
use std::path::PathBuf;

/// BuildKit's hostname for build containers.
pub const DEFAULT_HOSTNAME: &str = "buildkitsandbox";

/// The `PATH` used to find the command when the environment has none (Docker's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One process to run in a root filesystem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSpec {
    /// The root filesystem.
    pub rootfs: Rootfs,
    /// The command; `argv[0]` without a `/` is looked up in the `PATH` of `env` inside the rootfs.
    pub argv: Vec<String>,
    /// The environment, `KEY=VALUE` each, passed verbatim.
    pub env: Vec<String>,
    /// The working directory (absolute, inside the rootfs); created if missing, owned by the user, as
    /// BuildKit does.
    pub cwd: String,
    /// Who runs the command.
    pub user: User,
    /// The hostname (UTS namespace).
    pub hostname: String,
    /// Network access.
    pub network: Network,
    /// Extra mounts (`RUN --mount`), mounted parents first.
    pub mounts: Vec<Mount>,
    /// Files bound read-only over `/etc/resolv.conf`, `/etc/hosts`, `/etc/hostname`; never captured.
    pub etc: EtcFiles,
    /// Hardening switches.
    pub security: Security,
}

impl RunSpec {
    /// A spec with BuildKit's defaults: root user, `/` as working directory, no environment, hostname
    /// `buildkitsandbox`, host network, the host's resolv.conf and a generated hosts file, no_new_privs
    /// and the default seccomp filter on.
    pub fn new(rootfs: Rootfs, argv: Vec<String>) -> Self {
        RunSpec {
            rootfs,
            argv,
            env: Vec::new(),
            cwd: "/".to_owned(),
            user: User::default(),
            hostname: DEFAULT_HOSTNAME.to_owned(),
            network: Network::Host,
            mounts: Vec::new(),
            etc: EtcFiles::default(),
            security: Security::default(),
        }
    }
}

/// The root filesystem of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rootfs {
    /// An overlay: read-only `lower` directories (top first; empty for `FROM scratch`), and a writable
    /// `upper` that receives every change (the future layer) with `work` as overlayfs' work directory (same
    /// filesystem as `upper`, empty). Mounted with `index=off,redirect_dir=off,metacopy=off`, so `upper` is a
    /// plain diff: new and changed files, whiteouts (character device 0/0) for deletions and the
    /// `trusted.overlay.opaque` xattr on replaced directories; and `volatile`, so nothing in `upper` is
    /// synced by the sandbox (the caller decides what to make durable).
    Overlay {
        /// Lower directories, top first.
        lower: Vec<PathBuf>,
        /// The upper directory.
        upper: PathBuf,
        /// overlayfs' work directory.
        work: PathBuf,
    },
    /// A plain directory used as the root filesystem, read-write (changes land in it directly).
    Dir(PathBuf),
}

/// The identity the command runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum User {
    /// A Dockerfile `USER` value (`name`, `uid`, `name:group`, `uid:gid`, empty for root), resolved inside
    /// the mounted rootfs with BuildKit's rules (see [`crate::resolve_user`]).
    Spec(String),
    /// Numeric ids, already resolved.
    Ids(Ids),
}

impl Default for User {
    fn default() -> Self {
        User::Spec(String::new())
    }
}

/// Resolved numeric ids.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Ids {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups given to `setgroups`. The primary group is added in front when missing, as
    /// containerd does, so `id -G` lists it.
    pub additional_gids: Vec<u32>,
}

impl Ids {
    /// The list handed to `setgroups`: the primary group first unless already listed.
    pub fn groups(&self) -> Vec<u32> {
        if self.additional_gids.contains(&self.gid) {
            self.additional_gids.clone()
        } else {
            std::iter::once(self.gid).chain(self.additional_gids.iter().copied()).collect()
        }
    }
}

/// Network access of the command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Network {
    /// Share the host's network namespace (`--network=host`, kiln's default as for kaniko and buildah).
    #[default]
    Host,
    /// A new network namespace with only the loopback interface, up (`--network=none`).
    None,
}

/// An extra mount for the command (the sandbox's part of `RUN --mount`).
#[derive(Clone, PartialEq, Eq)]
pub enum Mount {
    /// A host directory or file (a build context or stage snapshot, a cache directory, an ssh-agent
    /// socket) bound at `target`.
    Bind {
        /// The host path.
        source: PathBuf,
        /// Absolute path inside the rootfs (symlinks in it resolve inside the rootfs).
        target: String,
        /// Read-only, writable, or writable with changes thrown away.
        access: BindAccess,
    },
    /// A fresh tmpfs (`type=tmpfs`), mode 1777.
    Tmpfs {
        /// Absolute path inside the rootfs.
        target: String,
        /// Size limit in bytes; `None` for the kernel default (half of RAM).
        size: Option<u64>,
    },
    /// A file with the given contents, bound read-only at `target` (secrets). The bytes live only on a
    /// private tmpfs outside the rootfs: never in the upper directory, never on disk.
    File {
        /// Absolute path inside the rootfs.
        target: String,
        /// The contents.
        contents: Vec<u8>,
        /// Permission bits.
        mode: u32,
        /// Owner.
        uid: u32,
        /// Group.
        gid: u32,
    },
}

impl Mount {
    /// The path inside the rootfs where this mount appears.
    pub fn target(&self) -> &str {
        match self {
            Mount::Bind { target, .. } | Mount::Tmpfs { target, .. } | Mount::File { target, .. } => target,
        }
    }
}

impl fmt::Debug for Mount {
    // Hand-written so that secret contents never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mount::Bind { source, target, access } => f
                .debug_struct("Bind")
                .field("source", source)
                .field("target", target)
                .field("access", access)
                .finish(),
            Mount::Tmpfs { target, size } => {
                f.debug_struct("Tmpfs").field("target", target).field("size", size).finish()
            }
            Mount::File { target, contents, mode, uid, gid } => f
                .debug_struct("File")
                .field("target", target)
                .field("contents", &format_args!("<{} bytes>", contents.len()))
                .field("mode", &format_args!("{mode:o}"))
                .field("uid", uid)
                .field("gid", gid)
                .finish(),
        }
    }
}

/// How a [`Mount::Bind`] may be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindAccess {
    /// Read-only (BuildKit's default for `type=bind`).
    ReadOnly,
    /// Writes go to the source (cache mounts).
    ReadWrite,
    /// Writable, but writes go to a private tmpfs overlay and vanish after the run (`type=bind,rw`).
    /// The source must be a directory.
    Scratch,
}

/// A file injected at a fixed `/etc` path.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum EtcFile {
    /// The sandbox's default (see [`EtcFiles`]).
    #[default]
    Default,
    /// Do not inject; the rootfs' own file (if any) is visible.
    Skip,
    /// Inject these bytes.
    Contents(Vec<u8>),
}

/// The files bound read-only over `/etc/resolv.conf`, `/etc/hosts` and `/etc/hostname`. They are mounted
/// from a private tmpfs, so writes to them fail (as under BuildKit) and nothing lands in the upper directory;
/// a placeholder the sandbox had to create for the mount point is removed after the run.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EtcFiles {
    /// Default: the host's `/etc/resolv.conf`; for [`Network::None`] without loopback nameservers, falling
    /// back to public resolvers when none remain, as Docker does.
    pub resolv_conf: EtcFile,
    /// Default: `127.0.0.1 localhost <hostname>` and the IPv6 loopback names, as BuildKit writes it.
    pub hosts: EtcFile,
    /// Default: not injected (BuildKit does not inject it, and a `RUN` that writes `/etc/hostname` must keep
    /// working); `Contents` to inject one.
    pub hostname: EtcFile,
}

/// Hardening switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Security {
    /// Set `no_new_privs` (setuid binaries such as `su` no longer gain privileges). On by default in kiln;
    /// BuildKit leaves it off.
    pub no_new_privs: bool,
    /// Install the default seccomp filter (the syscalls Docker's default profile refuses, refused).
    pub seccomp: bool,
}

impl Default for Security {
    fn default() -> Self {
        Security { no_new_privs: true, seccomp: true }
    }
}
