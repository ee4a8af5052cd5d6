//! [`Credentials`]: the user's registry logins, read from and written to Docker's `config.json` (`auths`,
//! `credsStore`, `credHelpers`) and `docker-credential-*` helpers, so `docker login` and `kiln login` share
//! them both ways.
//!
//! Written here rather than with the `docker_credential` crate: that crate only reads, matches `auths`
//! keys exactly (Docker also accepts `https://host/v1/`-style keys for `host`), and cannot store or erase,
//! which `kiln login`/`logout` need. The helper protocol is Docker's: `get`/`erase` read the server URL on
//! stdin, `store` reads `{"ServerURL","Username","Secret"}`; a `Username` of `<token>` marks an identity
//! (refresh) token.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use crate::error::{RegistryError, Result};

/// The key Docker uses for Docker Hub in `config.json` and with helpers.
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// Where credentials live.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// The `config.json` to use; `None`: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub config: Option<PathBuf>,
    /// The search path for `docker-credential-*` helpers; `None`: `$PATH`.
    pub helper_path: Option<OsString>,
}

/// A login for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user name and password (or access token used as a password).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken`), exchanged at the registry's token service.
    IdentityToken(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Basic { username, .. } => write!(f, "Basic({username}, <password>)"),
            Credential::IdentityToken(_) => f.write_str("IdentityToken(<token>)"),
        }
    }
}

/// Where [`Credentials::store`] put a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredIn {
    /// In `config.json`'s `auths` (base64, not encrypted).
    File(PathBuf),
    /// In a credential helper (`docker-credential-<name>`).
    Helper(String),
}

impl Credentials {
    /// The `config.json` path in use, if one can be determined.
    pub fn config_path(&self) -> Option<PathBuf> {
        if let Some(p) = &self.config {
            return Some(p.clone());
        }
        let dir = std::env::var_os("DOCKER_CONFIG")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))?;
        Some(dir.join("config.json"))
    }

    fn read_config(&self) -> Result<(Option<PathBuf>, Map<String, Value>)> {
        let Some(path) = self.config_path() else { return Ok((None, Map::new())) };
        let data = match fs_err::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Some(path), Map::new())),
            Err(e) => return Err(cred_err(path.display().to_string(), e.to_string())),
        };
        if data.iter().all(u8::is_ascii_whitespace) {
            return Ok((Some(path), Map::new()));
        }
        let value: Value =
            serde_json::from_slice(&data).map_err(|e| cred_err(path.display().to_string(), e.to_string()))?;
        match value {
            Value::Object(map) => Ok((Some(path), map)),
            _ => Err(cred_err(path.display().to_string(), "not a JSON object")),
        }
    }

    /// The login for `registry` (a reference's registry host, e.g. `docker.io`, `localhost:5000`), from its
    /// credential helper, its `auths` entry or the default `credsStore`; `None` for anonymous access.
    pub fn get(&self, registry: &str) -> Result<Option<Credential>> {
        let (path, config) = self.read_config()?;
        let file = || path.as_ref().map_or_else(|| "config.json".to_owned(), |p| p.display().to_string());
        let server = auth_key(registry);
        if let Some(helper) = helper_for(&config, registry) {
            return self.helper_get(&helper, &server);
        }
        if let Some(Value::Object(auths)) = config.get("auths")
            && let Some((_, Value::Object(entry))) = auths.iter().find(|(k, _)| same_registry(k, registry))
        {
            if let Some(Value::String(token)) = entry.get("identitytoken").filter(|t| t.as_str() != Some(""))
            {
                return Ok(Some(Credential::IdentityToken(token.clone())));
            }
            if let Some(Value::String(auth)) = entry.get("auth").filter(|a| a.as_str() != Some("")) {
                let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(auth.trim_end_matches('='))
                    .map_err(|e| cred_err(file(), format!("auths[{server:?}].auth is not base64: {e}")))?;
                let text = String::from_utf8(decoded)
                    .map_err(|_| cred_err(file(), format!("auths[{server:?}].auth is not UTF-8")))?;
                let (username, password) = text.split_once(':').ok_or_else(|| {
                    cred_err(file(), format!("auths[{server:?}].auth is not base64 of user:password"))
                })?;
                return Ok(Some(Credential::Basic {
                    username: username.to_owned(),
                    password: password.to_owned(),
                }));
            }
            if let (Some(Value::String(u)), Some(Value::String(p))) =
                (entry.get("username"), entry.get("password"))
            {
                return Ok(Some(Credential::Basic { username: u.clone(), password: p.clone() }));
            }
        }
        if let Some(Value::String(store)) = config.get("credsStore").filter(|s| s.as_str() != Some("")) {
            return self.helper_get(store, &server);
        }
        Ok(None)
    }

    /// Saves a login for `registry`: in its credential helper (or the `credsStore`) when one is configured,
    /// else in `config.json` (created with mode 0600).
    pub fn store(&self, registry: &str, username: &str, password: &str) -> Result<StoredIn> {
        let (path, mut config) = self.read_config()?;
        let server = auth_key(registry);
        let helper = helper_for(&config, registry).or_else(|| match config.get("credsStore") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        });
        if let Some(helper) = helper {
            let input = serde_json::json!({ "ServerURL": server, "Username": username, "Secret": password });
            self.run_helper(&helper, "store", input.to_string().as_bytes())?;
            return Ok(StoredIn::Helper(helper));
        }
        let path = path.ok_or_else(|| cred_err("config.json", "no home directory; set DOCKER_CONFIG"))?;
        let auths = config.entry("auths").or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(auths) = auths else {
            return Err(cred_err(path.display().to_string(), "\"auths\" is not an object"));
        };
        auths.retain(|k, _| !same_registry(k, registry));
        let encoded = STANDARD.encode(format!("{username}:{password}"));
        auths.insert(server, serde_json::json!({ "auth": encoded }));
        write_config(&path, &config)?;
        Ok(StoredIn::File(path))
    }

    /// Removes the login for `registry`; returns whether there was one.
    pub fn erase(&self, registry: &str) -> Result<bool> {
        let (path, mut config) = self.read_config()?;
        let mut removed = false;
        if let (Some(path), Some(Value::Object(auths))) = (&path, config.get_mut("auths")) {
            let before = auths.len();
            auths.retain(|k, _| !same_registry(k, registry));
            if auths.len() != before {
                removed = true;
                write_config(path, &config)?;
            }
        }
        let helper = helper_for(&config, registry).or_else(|| match config.get("credsStore") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        });
        if let Some(helper) = helper {
            match self.run_helper(&helper, "erase", auth_key(registry).as_bytes()) {
                Ok(_) => removed = true,
                Err(RegistryError::Credentials { reason, .. }) if is_not_found(&reason) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    fn helper_get(&self, helper: &str, server: &str) -> Result<Option<Credential>> {
        let out = match self.run_helper(helper, "get", server.as_bytes()) {
            Ok(out) => out,
            Err(RegistryError::Credentials { reason, .. }) if is_not_found(&reason) => return Ok(None),
            Err(e) => return Err(e),
        };
        let value: Value = serde_json::from_slice(&out)
            .map_err(|e| cred_err(format!("docker-credential-{helper} get"), format!("bad JSON: {e}")))?;
        let field = |name: &str| value.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let (username, secret) = (field("Username"), field("Secret"));
        if secret.is_empty() {
            return Ok(None);
        }
        if username == "<token>" {
            return Ok(Some(Credential::IdentityToken(secret)));
        }
        Ok(Some(Credential::Basic { username, password: secret }))
    }

    fn run_helper(&self, helper: &str, action: &str, input: &[u8]) -> Result<Vec<u8>> {
        let name = format!("docker-credential-{helper}");
        let context = format!("{name} {action}");
        let program = self.find_helper(&name).ok_or_else(|| {
            cred_err(&context, format!("{name} is not installed (it is named in the Docker config)"))
        })?;
        let mut child = Command::new(&program)
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| cred_err(&context, format!("starting {}: {e}", program.display())))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper that exits without reading its input makes this fail; its exit status says why.
            let _ = stdin.write_all(input);
        }
        let out = child.wait_with_output().map_err(|e| cred_err(&context, e.to_string()))?;
        if !out.status.success() {
            let msg = String::from_utf8_lossy(if out.stdout.is_empty() { &out.stderr } else { &out.stdout });
            return Err(cred_err(&context, format!("{} ({})", msg.trim(), out.status)));
        }
        Ok(out.stdout)
    }

    fn find_helper(&self, name: &str) -> Option<PathBuf> {
        let path = self.helper_path.clone().or_else(|| std::env::var_os("PATH"))?;
        std::env::split_paths(&path).map(|d| d.join(name)).find(|p| is_executable(p))
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn is_not_found(reason: &str) -> bool {
    reason.to_ascii_lowercase().contains("credentials not found")
}

fn cred_err(context: impl Into<String>, reason: impl Into<String>) -> RegistryError {
    RegistryError::Credentials { context: context.into(), reason: reason.into() }
}

/// The `credHelpers` entry for `registry`.
fn helper_for(config: &Map<String, Value>, registry: &str) -> Option<String> {
    let Some(Value::Object(helpers)) = config.get("credHelpers") else { return None };
    helpers
        .iter()
        .find(|(k, v)| same_registry(k, registry) && v.as_str().is_some_and(|s| !s.is_empty()))?
        .1
        .as_str()
        .map(str::to_owned)
}

/// The key Docker files a registry's login under: Docker Hub's v1 URL, else the host.
pub fn auth_key(registry: &str) -> String {
    if is_docker_hub(registry) { DOCKER_HUB_AUTH_KEY.to_owned() } else { registry.to_owned() }
}

fn is_docker_hub(host: &str) -> bool {
    matches!(host, "docker.io" | "index.docker.io" | "registry-1.docker.io")
}

/// True when `key` (a `config.json` key: `host`, `https://host/v1/`, ...) names `registry`.
fn same_registry(key: &str, registry: &str) -> bool {
    let host = key.trim_start_matches("https://").trim_start_matches("http://");
    let host = host.split('/').next().unwrap_or(host);
    host == registry || (is_docker_hub(host) && is_docker_hub(registry))
}

fn write_config(path: &Path, config: &Map<String, Value>) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let context = || path.display().to_string();
    let dir = path.parent().unwrap_or(Path::new("."));
    fs_err::create_dir_all(dir).map_err(|e| cred_err(context(), e.to_string()))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".config.json")
        .tempfile_in(dir)
        .map_err(|e| cred_err(context(), e.to_string()))?;
    let mut data = serde_json::to_vec_pretty(config).map_err(|e| cred_err(context(), e.to_string()))?;
    data.push(b'\n');
    temp.write_all(&data).map_err(|e| cred_err(context(), e.to_string()))?;
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| cred_err(context(), e.to_string()))?;
    temp.as_file().sync_all().map_err(|e| cred_err(context(), e.to_string()))?;
    temp.persist(path).map_err(|e| cred_err(context(), e.error.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(dir: &Path, json: &str) -> Credentials {
        let path = dir.join("config.json");
        std::fs::write(&path, json).unwrap();
        Credentials { config: Some(path), helper_path: Some(dir.as_os_str().to_owned()) }
    }

    #[test]
    fn reads_auths_under_any_docker_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let c = creds(
            dir.path(),
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"aHViOnB3"},
                "http://reg.example:5000/v2/":{"auth":"dTpwOnc="},
                "tok.example":{"identitytoken":"refresh"}}}"#,
        );
        let basic = |u: &str, p: &str| Some(Credential::Basic { username: u.into(), password: p.into() });
        assert_eq!(c.get("docker.io").unwrap(), basic("hub", "pw"));
        assert_eq!(c.get("reg.example:5000").unwrap(), basic("u", "p:w"));
        assert_eq!(c.get("tok.example").unwrap(), Some(Credential::IdentityToken("refresh".into())));
        assert_eq!(c.get("reg.example").unwrap(), None);
    }

    #[test]
    fn store_and_erase_keep_other_settings() {
        let dir = tempfile::tempdir().unwrap();
        let c = creds(dir.path(), r#"{"auths":{"other:1":{"auth":"eDp5"}},"psFormat":"table"}"#);
        assert_eq!(
            c.store("localhost:5000", "me", "secret").unwrap(),
            StoredIn::File(dir.path().join("config.json"))
        );
        assert_eq!(
            c.get("localhost:5000").unwrap(),
            Some(Credential::Basic { username: "me".into(), password: "secret".into() })
        );
        let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
        assert!(text.contains("psFormat") && text.contains("other:1"), "{text}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("config.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(c.erase("localhost:5000").unwrap());
        assert!(!c.erase("localhost:5000").unwrap());
        assert_eq!(c.get("localhost:5000").unwrap(), None);
        assert!(c.get("other:1").unwrap().is_some());
    }

    #[test]
    fn helpers_are_asked_and_not_found_means_anonymous() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join("docker-credential-fake");
        std::fs::write(
            &helper,
            "#!/bin/sh\nread server\ncase \"$1:$server\" in\n\
             get:reg.example) echo '{\"ServerURL\":\"reg.example\",\"Username\":\"bot\",\"Secret\":\"s3\"}';;\n\
             get:*) echo 'credentials not found in native keychain'; exit 1;;\n\
             *) exit 3;;\nesac\n",
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let c = creds(dir.path(), r#"{"credHelpers":{"reg.example":"fake"},"credsStore":"fake"}"#);
        assert_eq!(
            c.get("reg.example").unwrap(),
            Some(Credential::Basic { username: "bot".into(), password: "s3".into() })
        );
        assert_eq!(c.get("elsewhere.example").unwrap(), None);
        let err = c.store("reg.example", "u", "p").unwrap_err().to_string();
        assert!(err.contains("docker-credential-fake store"), "{err}");
        let missing = creds(dir.path(), r#"{"credsStore":"absent"}"#);
        let err = missing.get("x.example").unwrap_err().to_string();
        assert!(err.contains("docker-credential-absent is not installed"), "{err}");
    }
}
