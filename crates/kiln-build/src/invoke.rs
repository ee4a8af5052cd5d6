//! The `docker build`-shaped front door: [`prepare`] turns what a user typed ([`BuildSettings`]: context
//! path or `-`, `-f`, `--build-arg`, `--build-context`, `--secret`, `--ssh`, `--label`, `-t`, `--target`,
//! `--platform`, ...) into a [`BuildRequest`], reading the Dockerfile, the context (a directory, or a
//! tarball or lone Dockerfile on standard input), secrets and agent sockets. [`parse_output`] reads
//! `--output` values. The CLI stays a thin layer of flags over these.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_context::Context;
use kiln_oci::{Platform, Reference};
use kiln_plan::PlanOptions;

use crate::base::PullPolicy;
use crate::error::BuildError;
use crate::output::Output;
use crate::request::{BuildRequest, NetworkMode, Secret};

/// Where the context comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextSource {
    /// A directory.
    Dir(PathBuf),
    /// Standard input (`-`): a tar archive (plain, gzip, zstd) holding the context, or a Dockerfile alone
    /// (an empty context).
    Stdin,
}

/// `docker build`'s inputs, after flag parsing.
#[derive(Debug, Clone)]
pub struct BuildSettings {
    /// The context (`PATH` or `-`).
    pub context: ContextSource,
    /// `-f`: the Dockerfile (`-` reads standard input); default `<context>/Dockerfile`.
    pub file: Option<PathBuf>,
    /// `--build-arg`s, resolved (a bare `NAME` already took its value from the environment).
    pub build_args: BTreeMap<String, String>,
    /// `--build-context NAME=DIR`.
    pub build_contexts: Vec<String>,
    /// `--secret id=ID[,src=FILE|,env=VAR]`.
    pub secrets: Vec<String>,
    /// `--ssh default|ID[=SOCKET]`.
    pub ssh: Vec<String>,
    /// `--label KEY=VALUE`.
    pub labels: Vec<String>,
    /// `-t NAME[:TAG]`.
    pub tags: Vec<String>,
    /// `--target`.
    pub target: Option<String>,
    /// `--platform` (only the host's is accepted).
    pub platform: Option<String>,
    /// `--network default|host|none`.
    pub network: String,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--no-cache-filter`.
    pub no_cache_filter: Vec<String>,
    /// `--pull`.
    pub pull: bool,
    /// `SOURCE_DATE_EPOCH` from the environment.
    pub source_date_epoch: Option<i64>,
}

/// A prepared build: the request, and what must live as long as it (an extracted stdin context).
#[derive(Debug)]
pub struct Prepared {
    /// The request for [`crate::Engine::build`].
    pub request: BuildRequest,
}

pub(crate) fn invalid(message: impl Into<String>) -> BuildError {
    BuildError::Invalid(message.into())
}

/// `KEY=VALUE,...` fields of a flag value.
pub(crate) fn fields(raw: &str) -> BTreeMap<String, String> {
    raw.split(',')
        .filter(|f| !f.is_empty())
        .map(|f| match f.split_once('=') {
            Some((k, v)) => (k.trim().to_lowercase(), v.to_owned()),
            None => (f.trim().to_lowercase(), String::new()),
        })
        .collect()
}

/// Reads a `--secret` value: `id=ID` with `src=FILE` (or `source=`), `env=VAR`, or neither (then the
/// environment variable named like the id, else a file of that name, as buildx does).
pub fn parse_secret(raw: &str) -> Result<(String, Secret), BuildError> {
    let f = fields(raw);
    let id = f
        .get("id")
        .cloned()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| invalid(format!("--secret {raw:?}: id= is required")))?;
    if let Some(t) = f.get("type").filter(|t| *t != "file" && *t != "env") {
        return Err(invalid(format!("--secret {raw:?}: unsupported type {t:?}")));
    }
    let src = f.get("src").or_else(|| f.get("source")).cloned();
    let env = f.get("env").cloned();
    let from_file = |path: &str| {
        fs_err::read(path).map(Secret::new).map_err(|e| invalid(format!("--secret id={id}: {e}")))
    };
    let value = match (src, env, f.get("type").map(String::as_str)) {
        (Some(src), _, _) => from_file(&src)?,
        (None, Some(var), _) => Secret::new(
            std::env::var_os(&var)
                .ok_or_else(|| invalid(format!("--secret id={id}: environment variable {var} is not set")))?
                .into_encoded_bytes(),
        ),
        (None, None, Some("file")) => from_file(&id)?,
        (None, None, _) => match std::env::var_os(&id) {
            Some(v) => Secret::new(v.into_encoded_bytes()),
            None => from_file(&id)?,
        },
    };
    Ok((id, value))
}

/// Reads a `--ssh` value: `default` (the agent of `$SSH_AUTH_SOCK`) or `ID=SOCKET`.
pub fn parse_ssh(raw: &str) -> Result<(String, PathBuf), BuildError> {
    let (id, path) = match raw.split_once('=') {
        Some((id, path)) => (id.to_owned(), PathBuf::from(path.split(',').next().unwrap_or(path))),
        None => {
            let sock = std::env::var_os("SSH_AUTH_SOCK").ok_or_else(|| {
                invalid(format!("--ssh {raw}: SSH_AUTH_SOCK is not set (start an ssh-agent)"))
            })?;
            (raw.to_owned(), PathBuf::from(sock))
        }
    };
    if !path.exists() {
        return Err(invalid(format!("--ssh {id}: {} does not exist", path.display())));
    }
    Ok((id, path))
}

/// Reads an `--output` value: `type=image|oci|docker|local|tar[,dest=PATH][,tar=false]`,
/// `type=registry[,name=REF]` (or `type=image,push=true`), or a bare path
/// (a `local` output, as buildx).
pub fn parse_output(raw: &str) -> Result<Output, BuildError> {
    let f = fields(raw);
    let Some(kind) = f.get("type") else {
        return Ok(Output::Local { dest: PathBuf::from(raw) });
    };
    let dest = || {
        f.get("dest")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| invalid(format!("--output {raw:?}: dest= is required for type={kind}")))
    };
    Ok(match kind.as_str() {
        "image" | "registry" if f.get("push").is_some_and(|p| p == "true") || kind == "registry" => {
            let names = match f.get("name").filter(|n| !n.is_empty()) {
                Some(n) => vec![
                    Reference::parse(n).map_err(|e| invalid(format!("--output {raw:?}: name {n:?}: {e}")))?,
                ],
                None => Vec::new(),
            };
            Output::Registry { names }
        }
        "image" | "moby" => Output::Image,
        "oci" => Output::Oci { dest: dest()?, tar: f.get("tar").is_none_or(|t| t != "false") },
        "docker" => Output::Docker { dest: dest()? },
        "local" => Output::Local { dest: dest()? },
        "tar" => Output::Tar { dest: dest()? },
        other => {
            return Err(invalid(format!(
                "--output: unknown type {other:?} (image, oci, docker, local, tar)"
            )));
        }
    })
}

fn is_tar(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || head.len() >= 262 && &head[257..262] == b"ustar"
}

/// Builds the request `settings` describe; `stdin` is read for `-` (context or Dockerfile); `scratch` is
/// where a stdin context is extracted (it is removed with the request's context).
pub fn prepare(
    settings: &BuildSettings,
    stdin: &mut dyn Read,
    scratch: &Path,
) -> Result<Prepared, BuildError> {
    let host = Platform::host();
    let platform = match &settings.platform {
        None => None,
        Some(p) => {
            let parsed = Platform::parse(p).map_err(|e| invalid(e.to_string()))?;
            if parsed.os != host.os || parsed.architecture != host.architecture {
                return Err(invalid(format!(
                    "--platform {p}: kiln builds for this machine's platform ({host}) only; building for another \
                     platform needs emulation, which kiln does not have yet"
                )));
            }
            Some(parsed)
        }
    };
    let network = match settings.network.as_str() {
        "" | "default" | "host" => NetworkMode::Host,
        "none" => NetworkMode::None,
        other => return Err(invalid(format!("--network {other:?}: expected default, host or none"))),
    };
    // The Dockerfile and the context.
    let mut stdin_data: Option<Vec<u8>> = None;
    let mut read_stdin = |what: &str| -> Result<Vec<u8>, BuildError> {
        if let Some(d) = &stdin_data {
            return Ok(d.clone());
        }
        let mut buf = Vec::new();
        stdin
            .read_to_end(&mut buf)
            .map_err(|e| invalid(format!("reading {what} from standard input: {e}")))?;
        stdin_data = Some(buf.clone());
        Ok(buf)
    };
    let file_is_stdin = settings.file.as_deref().is_some_and(|f| f.as_os_str() == "-");
    let (context, dockerfile_text, dockerfile_name) = match &settings.context {
        ContextSource::Dir(dir) => {
            let file = settings.file.clone().unwrap_or_else(|| kiln_context::default_dockerfile(dir));
            let (text, name) = if file_is_stdin {
                (String::from_utf8_lossy(&read_stdin("the Dockerfile")?).into_owned(), "-".to_owned())
            } else {
                let text = fs_err::read_to_string(&file).map_err(|e| invalid(e.to_string()))?;
                (text, provenance_name(dir, &file))
            };
            let df_path = (!file_is_stdin).then_some(file.as_path());
            (Context::from_dir(dir, df_path)?, text, name)
        }
        ContextSource::Stdin => {
            if file_is_stdin {
                return Err(invalid("the context and the Dockerfile cannot both come from standard input"));
            }
            let data = read_stdin("the context")?;
            if is_tar(&data[..data.len().min(512)]) {
                let inner = settings
                    .file
                    .as_ref()
                    .map_or_else(|| "Dockerfile".to_owned(), |f| f.display().to_string());
                let ctx = Context::from_tar(std::io::Cursor::new(data), "<stdin>", scratch, Some(&inner))?;
                let text = ctx.read_file(&inner)?;
                (ctx, String::from_utf8_lossy(&text).into_owned(), inner)
            } else {
                // A Dockerfile alone: the context is empty.
                let ctx = Context::from_tar(std::io::Cursor::new(vec![0u8; 1024]), "<empty>", scratch, None)?;
                (ctx, String::from_utf8_lossy(&data).into_owned(), "-".to_owned())
            }
        }
    };
    let dockerfile = kiln_dockerfile::parse_named(&dockerfile_name, &dockerfile_text)?;
    let mut named = BTreeMap::new();
    for raw in &settings.build_contexts {
        let (name, value) = raw
            .split_once('=')
            .filter(|(n, v)| !n.is_empty() && !v.is_empty())
            .ok_or_else(|| invalid(format!("--build-context {raw:?}: expected NAME=DIR")))?;
        if value.contains("://") {
            return Err(invalid(format!(
                "--build-context {name}: only local directories are supported, not {value}"
            )));
        }
        named.insert(name.to_owned(), Arc::new(Context::named(name, Path::new(value))?));
    }
    let options = PlanOptions {
        target: settings.target.clone(),
        build_args: settings.build_args.clone(),
        named_contexts: named.keys().cloned().collect(),
        build_platform: host,
        target_platform: platform,
    };
    let graph = kiln_plan::plan(Arc::new(dockerfile), &options)?;
    let build_id = match &settings.context {
        ContextSource::Dir(d) => {
            format!("{}\0{dockerfile_name}", std::path::absolute(d).unwrap_or_else(|_| d.clone()).display())
        }
        ContextSource::Stdin => format!("<stdin>\0{dockerfile_name}"),
    };
    let mut request = BuildRequest::new(graph, Arc::new(context));
    request.dockerfile = dockerfile_name;
    request.build_id = build_id;
    request.named_contexts = named;
    for raw in &settings.secrets {
        let (id, secret) = parse_secret(raw)?;
        request.secrets.insert(id, secret);
    }
    for raw in &settings.ssh {
        let (id, path) = parse_ssh(raw)?;
        request.ssh.insert(id, path);
    }
    for raw in &settings.labels {
        let (k, v) = raw.split_once('=').unwrap_or((raw, ""));
        request.labels.insert(k.to_owned(), v.to_owned());
    }
    for t in &settings.tags {
        request.tags.push(Reference::parse(t).map_err(|e| invalid(format!("-t {t}: {e}")))?);
    }
    request.network = network;
    request.no_cache = settings.no_cache;
    request.no_cache_filter = settings.no_cache_filter.clone();
    request.pull = if settings.pull { PullPolicy::Always } else { PullPolicy::Missing };
    request.source_date_epoch = settings.source_date_epoch;
    Ok(Prepared { request })
}

/// The Dockerfile's name in provenance: relative to the context when inside it, else as given.
fn provenance_name(context: &Path, file: &Path) -> String {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    match abs(file).strip_prefix(abs(context)) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => file.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs() {
        assert_eq!(parse_output("type=image").unwrap(), Output::Image);
        assert_eq!(
            parse_output("type=oci,dest=out.tar").unwrap(),
            Output::Oci { dest: "out.tar".into(), tar: true }
        );
        assert_eq!(
            parse_output("type=oci,dest=dir,tar=false").unwrap(),
            Output::Oci { dest: "dir".into(), tar: false }
        );
        assert_eq!(parse_output("type=docker,dest=i.tar").unwrap(), Output::Docker { dest: "i.tar".into() });
        assert_eq!(parse_output("type=local,dest=rootfs").unwrap(), Output::Local { dest: "rootfs".into() });
        assert_eq!(parse_output("type=tar,dest=r.tar").unwrap(), Output::Tar { dest: "r.tar".into() });
        assert_eq!(parse_output("out").unwrap(), Output::Local { dest: "out".into() });
        assert!(parse_output("type=local").unwrap_err().to_string().contains("dest= is required"));
        assert!(parse_output("type=weird,dest=x").is_err());
        assert_eq!(parse_output("type=registry").unwrap(), Output::Registry { names: Vec::new() });
        assert_eq!(
            parse_output("type=image,push=true,name=127.0.0.1:5000/app:1").unwrap(),
            Output::Registry { names: vec![Reference::parse("127.0.0.1:5000/app:1").unwrap()] }
        );
        assert!(parse_output("type=registry,name=Bad Name").unwrap_err().to_string().contains("Bad Name"));
    }

    #[test]
    fn secrets() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tok");
        std::fs::write(&file, "from-file").unwrap();
        let (id, s) = parse_secret(&format!("id=tok,src={}", file.display())).unwrap();
        assert_eq!((id.as_str(), s.expose()), ("tok", &b"from-file"[..]));
        let path = std::env::var("PATH").unwrap();
        let (_, s) = parse_secret("id=x,env=PATH").unwrap();
        assert_eq!(s.expose(), path.as_bytes());
        assert!(
            format!("{s:?}").contains(&format!("{} bytes", path.len())) && !format!("{s:?}").contains(&path)
        );
        assert!(parse_secret("src=x").is_err());
        assert!(parse_secret("id=a,env=KILN_TEST_UNSET_VAR_X").unwrap_err().to_string().contains("not set"));
    }
}
