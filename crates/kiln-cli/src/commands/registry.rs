//! Registry commands: `kiln pull REF`, `kiln push IMAGE [REF]`, `kiln login REGISTRY`, `kiln logout
//! REGISTRY`; each resolves its flags into [`kiln_registry::RegistryOptions`] and makes one library call.
//! Progress (one line per blob, retries) goes to stderr, the resulting digest to stdout. Also here for
//! `kiln build`: [`RegistryImages`], the base-image resolver that pulls what the store lacks, and
//! [`push_tags`] for `--push`.

use std::io::{Read, Write};

use anyhow::{Context, bail};
use clap::Args;
use kiln_build::{BaseImageError, BaseImages, PullPolicy, ResolvedImage, StoreImages};
use kiln_oci::{Compression, ImageLocation, Platform, Reference};
use kiln_registry::{
    BlobOutcome, Progress, PullOptions, PushOptions, Registry, RegistryOptions, TransferEvent,
};
use kiln_store::Store;

use crate::commands::render::human_size;
use crate::commands::{Global, open_store};
use crate::exit::Outcome;
use crate::output;

/// How to reach registries (shared by the registry commands and `kiln build`).
#[derive(Debug, Args, Default)]
pub(crate) struct RegistryArgs {
    /// A registry (`host[:port]`) that may be reached over plain HTTP or TLS without certificate checks;
    /// localhost and 127.0.0.1 may always use plain HTTP. Repeatable; also `KILN_INSECURE_REGISTRIES`.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    insecure: Vec<String>,
    /// A Docker Hub mirror URL, tried before Docker Hub when pulling. Repeatable.
    #[arg(long = "registry-mirror", value_name = "URL")]
    mirrors: Vec<String>,
}

impl RegistryArgs {
    /// The client these flags describe.
    pub(crate) fn registry(&self) -> Registry {
        let mut options = RegistryOptions { mirrors: self.mirrors.clone(), ..RegistryOptions::default() };
        options.insecure.clone_from(&self.insecure);
        if let Ok(env) = std::env::var("KILN_INSECURE_REGISTRIES") {
            options
                .insecure
                .extend(env.split(',').map(str::trim).filter(|h| !h.is_empty()).map(String::from));
        }
        Registry::new(options)
    }
}

/// `kiln pull REF`.
#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    /// The image to pull (`name[:tag][@digest]`; Docker Hub when no registry is named).
    reference: String,
    /// The platform to pick from a multi-platform image (default: this machine's).
    #[arg(long)]
    platform: Option<String>,
    /// Print only the digest.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// `kiln push IMAGE [REF]`.
#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// The image in the store.
    image: String,
    /// Where to push it (default: the image's own name, which must then name a registry).
    reference: Option<String>,
    /// Layer compression: gzip (as Docker), zstd or none.
    #[arg(long, default_value = "gzip", value_parser = ["gzip", "zstd", "none"])]
    compression: String,
    /// Print only the digest.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// `kiln login REGISTRY`.
#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// The registry (`host[:port]`; `docker.io` for Docker Hub).
    server: String,
    /// The user name.
    #[arg(short, long)]
    username: String,
    /// The password (prefer --password-stdin: command lines are visible to other users).
    #[arg(short, long, conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Read the password from stdin.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// `kiln logout REGISTRY`.
#[derive(Debug, Args)]
pub(crate) struct LogoutArgs {
    /// The registry to forget the login of.
    server: String,
}

pub(crate) fn pull(args: PullArgs, global: &Global) -> anyhow::Result<Outcome> {
    let reference =
        Reference::parse(&args.reference).with_context(|| format!("image {:?}", args.reference))?;
    let platform = match &args.platform {
        Some(p) => Platform::parse(p).with_context(|| format!("--platform {p:?}"))?,
        None => Platform::host(),
    };
    let store = open_store(global)?;
    let options = PullOptions { platform, tag: true };
    let pulled =
        args.registry.registry().pull(&store, &reference, &options, &Stderr { quiet: args.quiet })?;
    if !args.quiet {
        let layers = |n: usize| if n == 1 { "1 layer".to_owned() } else { format!("{n} layers") };
        status(&format!(
            "{}: {} downloaded ({}), {} already present",
            reference.familiar(),
            layers(pulled.layers_downloaded),
            human_size(pulled.bytes_downloaded),
            pulled.layers_present
        ));
    }
    output::line(&pulled.manifest_digest.to_string());
    Ok(Outcome::Ok)
}

pub(crate) fn push(args: PushArgs, global: &Global) -> anyhow::Result<Outcome> {
    let source = ImageLocation::parse(&args.image).with_context(|| format!("image {:?}", args.image))?;
    let target = args.reference.as_deref().unwrap_or(&args.image);
    let target = Reference::parse(target).with_context(|| format!("push target {target:?}"))?;
    let compression = match args.compression.as_str() {
        "zstd" => Compression::Zstd,
        "none" => Compression::None,
        _ => Compression::Gzip,
    };
    let store = open_store(global)?;
    let options = PushOptions { compression, level: None };
    let registry = args.registry.registry();
    let pushed = registry.push(&store, &source, &target, &options, &Stderr { quiet: args.quiet })?;
    if !args.quiet {
        let b = pushed.blobs;
        status(&format!(
            "{}: {} blobs uploaded ({}), {} already there, {} mounted; size {}",
            target.familiar(),
            b.uploaded,
            human_size(b.bytes_uploaded),
            b.present,
            b.mounted,
            pushed.size
        ));
    }
    output::line(&pushed.digest.to_string());
    Ok(Outcome::Ok)
}

pub(crate) fn login(args: LoginArgs) -> anyhow::Result<Outcome> {
    let password = match (args.password, args.password_stdin) {
        (Some(p), _) => p,
        (None, true) => {
            let mut p = String::new();
            std::io::stdin().read_to_string(&mut p).context("reading the password from stdin")?;
            p.trim_end_matches(['\r', '\n']).to_owned()
        }
        (None, false) => bail!("give the password with --password-stdin (or -p)"),
    };
    let stored = args.registry.registry().login(&args.server, &args.username, &password)?;
    let place = match stored {
        kiln_registry::StoredIn::File(path) => path.display().to_string(),
        kiln_registry::StoredIn::Helper(name) => format!("credential helper docker-credential-{name}"),
    };
    status(&format!("Login Succeeded (saved in {place})"));
    Ok(Outcome::Ok)
}

pub(crate) fn logout(args: LogoutArgs) -> anyhow::Result<Outcome> {
    if RegistryArgs::default().registry().logout(&args.server)? {
        status(&format!("Removed login credentials for {}", args.server));
    } else {
        status(&format!("Not logged in to {}", args.server));
    }
    Ok(Outcome::Ok)
}

/// Base images for `kiln build`: the store first, then the registry (`FROM` resolved as `docker build`
/// does: a missing image is pulled, `--pull` checks the registry for a newer digest, a digest-pinned
/// reference is honored, including an index digest pulled before).
pub(crate) struct RegistryImages {
    store: Store,
    local: StoreImages,
    registry: Registry,
}

impl RegistryImages {
    pub(crate) fn new(store: Store, registry: Registry) -> RegistryImages {
        RegistryImages { local: StoreImages::new(store.clone()), store, registry }
    }
}

impl BaseImages for RegistryImages {
    fn resolve(
        &self,
        reference: &Reference,
        platform: &Platform,
        pull: PullPolicy,
    ) -> Result<ResolvedImage, BaseImageError> {
        // A local image for another platform: the build's platform is pulled, and the local tag stays
        // on the image the user put there (BuildKit resolves by platform the same way).
        let mut other_platform = None;
        if pull != PullPolicy::Always {
            match self.local.resolve(reference, platform, pull) {
                Err(BaseImageError::NotFound { .. }) if pull == PullPolicy::Missing => {
                    if let Some(record) = kiln_registry::pull::local_image(&self.store, reference, platform) {
                        return self.local.resolve(
                            &pinned(reference, &record.manifest_digest),
                            platform,
                            pull,
                        );
                    }
                }
                Err(BaseImageError::WrongPlatform { found, .. }) if pull == PullPolicy::Missing => {
                    other_platform = Some(found);
                }
                found => return found,
            }
        }
        let options = PullOptions { platform: platform.clone(), tag: other_platform.is_none() };
        let pulled = self
            .registry
            .pull(&self.store, reference, &options, &kiln_registry::NoProgress)
            .map_err(|e| {
                let reference = match &other_platform {
                    Some(found) => format!("{reference} for {platform} (the store has it for {found})"),
                    None => reference.to_string(),
                };
                BaseImageError::Pull { reference, reason: e.to_string() }
            })?;
        self.local.resolve(&pinned(reference, &pulled.record.manifest_digest), platform, PullPolicy::Never)
    }
}

fn pinned(reference: &Reference, digest: &kiln_oci::Digest) -> Reference {
    Reference { tag: None, digest: Some(digest.clone()), ..reference.clone() }
}

/// `kiln build --push`: pushes the built image under each of its tags.
pub(crate) fn push_tags(
    store: &Store,
    image: &ImageLocation,
    tags: &[Reference],
    registry: &RegistryArgs,
) -> anyhow::Result<()> {
    if tags.is_empty() {
        bail!("--push and --output type=registry need a name: give one with -t/--tag (or name= in --output)");
    }
    let client = registry.registry();
    for tag in tags {
        let pushed = client
            .push(store, image, tag, &PushOptions::default(), &Stderr { quiet: false })
            .with_context(|| format!("pushing {}", tag.familiar()))?;
        status(&format!("pushed {}@{}", tag.familiar(), pushed.digest));
    }
    Ok(())
}

pub(crate) fn status(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Prints one line per finished blob and per retry on stderr.
struct Stderr {
    quiet: bool,
}

impl Progress for Stderr {
    fn event(&self, event: TransferEvent) {
        if self.quiet {
            return;
        }
        match event {
            TransferEvent::Resolved { reference, digest } => {
                status(&format!("{reference}: resolved to {digest}"))
            }
            TransferEvent::BlobDone { digest, outcome } => {
                let what = match outcome {
                    BlobOutcome::Downloaded => "downloaded",
                    BlobOutcome::AlreadyThere => "already there",
                    BlobOutcome::Mounted => "mounted",
                    BlobOutcome::Uploaded => "uploaded",
                };
                status(&format!("{}: {what}", short(&digest.to_string())));
            }
            TransferEvent::Retrying { what, attempt, error } => {
                status(&format!("{what}: attempt {attempt} failed, retrying: {error}"));
            }
            TransferEvent::BlobStarted { .. } | TransferEvent::BlobProgress { .. } => {}
        }
    }
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min("sha256:".len() + 12)]
}
