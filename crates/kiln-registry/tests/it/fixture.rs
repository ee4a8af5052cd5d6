//! Test fixtures: a real `docker-registry` on 127.0.0.1 (plain, TLS from a generated CA, htpasswd auth),
//! stores with busybox or generated images, and the client options tests use.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kiln_oci::{ImageLocation, Reference};
use kiln_registry::{Credentials, Registry, RegistryOptions, RetryPolicy};
use kiln_store::transport::{self, RootfsImport};
use kiln_store::{ImageRecord, Store};
use tempfile::TempDir;

/// Whether the tests can run: the registry binary must be installed (CI installs it).
pub(crate) fn have_registry() -> bool {
    if kiln_test::which("docker-registry").is_some() {
        return true;
    }
    assert!(!kiln_test::in_ci(), "CI must install docker-registry");
    eprintln!("SKIPPED: docker-registry is not installed");
    false
}

/// Options of a test registry.
#[derive(Default, Clone)]
pub(crate) struct Setup {
    /// Serve TLS with a certificate from a generated CA.
    pub(crate) tls: bool,
    /// Require this user and password (htpasswd, bcrypt).
    pub(crate) user: Option<(String, String)>,
}

/// A running `docker-registry`.
pub(crate) struct TestRegistry {
    child: Child,
    pub(crate) dir: TempDir,
    pub(crate) port: u16,
}

impl TestRegistry {
    /// A plain-HTTP registry without auth.
    pub(crate) fn start() -> TestRegistry {
        Self::start_with(Setup::default())
    }

    /// Starts a registry as `setup` says, on a free port.
    pub(crate) fn start_with(setup: Setup) -> TestRegistry {
        let mut dir = tempfile::Builder::new().prefix("kiln-registry-").tempdir().unwrap();
        let d = dir.path().to_owned();
        let d = d.as_path();
        if setup.tls {
            make_certificates(d);
        }
        if let Some((user, pass)) = &setup.user {
            let out = Command::new("htpasswd").args(["-Bbn", user, pass]).output().expect("htpasswd runs");
            assert!(out.status.success(), "htpasswd: {}", String::from_utf8_lossy(&out.stderr));
            std::fs::write(d.join("htpasswd"), out.stdout).unwrap();
        }
        for _ in 0..5 {
            let port = free_port();
            let mut config = format!(
                "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                d.join("data").display()
            );
            if setup.tls {
                config += &format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    d.join("server.crt").display(),
                    d.join("server.key").display()
                );
            }
            if setup.user.is_some() {
                config += &format!(
                    "auth:\n  htpasswd:\n    realm: kiln-test\n    path: {}\n",
                    d.join("htpasswd").display()
                );
            }
            std::fs::write(d.join("config.yml"), config).unwrap();
            let log = std::fs::File::create(d.join("registry.log")).unwrap();
            let child = Command::new("docker-registry")
                .arg("serve")
                .arg(d.join("config.yml"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("docker-registry starts");
            let mut registry = TestRegistry { child, dir, port };
            if registry.wait_ready() {
                return registry;
            }
            let _ = registry.child.kill();
            let _ = registry.child.wait();
            dir = registry.take_dir();
        }
        panic!(
            "docker-registry did not start; log: {}",
            std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default()
        );
    }

    fn take_dir(mut self) -> TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            let log = std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default();
            if log.contains("listening on") && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// `127.0.0.1:PORT`.
    pub(crate) fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A reference in this registry.
    pub(crate) fn reference(&self, path: &str) -> Reference {
        Reference::parse(&format!("{}/{path}", self.host())).unwrap()
    }

    /// The generated CA certificate (TLS registries).
    pub(crate) fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// A `certs.d`-style directory trusting the CA for this registry.
    pub(crate) fn certs_dir(&self) -> PathBuf {
        let certs = self.dir.path().join("certs.d");
        let host_dir = certs.join(self.host());
        std::fs::create_dir_all(&host_dir).unwrap();
        std::fs::copy(self.ca(), host_dir.join("ca.crt")).unwrap();
        certs
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A reference at `host` (`127.0.0.1:PORT`).
pub(crate) fn reference(host: &str, path: &str) -> Reference {
    Reference::parse(&format!("{host}/{path}")).unwrap()
}

/// A CA and a server certificate for 127.0.0.1 and localhost signed by it.
fn make_certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=kiln test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

/// Client options for tests: fast retries, short stall detection, no system certificates or logins.
pub(crate) fn options(dir: &Path) -> RegistryOptions {
    RegistryOptions {
        certs_dirs: Vec::new(),
        credentials: Credentials {
            config: Some(dir.join("docker-config.json")),
            helper_path: Some(dir.as_os_str().to_owned()),
        },
        retry: RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
        },
        idle_timeout: Duration::from_secs(2),
        ..RegistryOptions::default()
    }
}

/// A registry client with [`options`].
pub(crate) fn client(dir: &Path) -> Registry {
    Registry::new(options(dir))
}

/// A fresh store in a temp dir.
pub(crate) fn store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("root")).unwrap();
    (dir, store)
}

/// Imports a busybox-static rootfs as `name`; `None` (with a printed reason) when busybox is missing.
pub(crate) fn busybox_image(store: &Store, name: &str) -> Option<ImageRecord> {
    let rootfs = tempfile::tempdir().unwrap();
    if let Err(e) = kiln_test::busybox_rootfs(rootfs.path()) {
        assert!(!kiln_test::in_ci(), "CI must install busybox-static: {e}");
        eprintln!("SKIPPED: {e}");
        return None;
    }
    let mut options = RootfsImport::default();
    options.config.cmd = Some(vec!["/bin/sh".to_owned()]);
    Some(
        transport::import_rootfs(store, rootfs.path(), &[Reference::parse(name).unwrap()], &options).unwrap(),
    )
}

/// Imports a one-layer image of generated files (`files` files of `size` pseudo-random bytes, seeded by
/// `seed`) as `name`.
pub(crate) fn generated_image(
    store: &Store,
    name: &str,
    seed: u64,
    files: usize,
    size: usize,
) -> ImageRecord {
    generated_image_for(store, name, seed, files, size, None)
}

/// [`generated_image`] for `platform` (default: the host's).
pub(crate) fn generated_image_for(
    store: &Store,
    name: &str,
    seed: u64,
    files: usize,
    size: usize,
    platform: Option<&str>,
) -> ImageRecord {
    let rootfs = tempfile::tempdir().unwrap();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in 0..files {
        let mut data = vec![0u8; size];
        for chunk in data.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Half the bytes repeat, so gzip has something to do but the output is not tiny.
            let bytes = if i % 2 == 0 { state.to_le_bytes() } else { [b'k'; 8] };
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        std::fs::write(rootfs.path().join(format!("file{i}")), data).unwrap();
    }
    let options = RootfsImport {
        platform: platform.map(|p| kiln_oci::Platform::parse(p).unwrap()),
        source_date_epoch: Some(1_700_000_000),
        ..RootfsImport::default()
    };
    transport::import_rootfs(store, rootfs.path(), &[Reference::parse(name).unwrap()], &options).unwrap()
}

/// An image of `layers` layers of equal size (one generated file of `size` bytes each), so that a pull
/// spreads the layers over the cores rather than a single layer over threads.
pub(crate) fn layered_image(store: &Store, name: &str, seed: u64, layers: usize, size: usize) -> ImageRecord {
    let lease = store.lease().unwrap();
    let mut config = kiln_oci::ImageConfig::for_platform(&kiln_oci::Platform::host());
    for layer in 0..layers {
        let rootfs = tempfile::tempdir().unwrap();
        let mut state = (seed + layer as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let data: Vec<u8> = (0..size)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Random and repeated bytes in turn, 4 KiB each: gzip has something to do.
                if i / 4096 % 2 == 0 { state as u8 } else { b'k' }
            })
            .collect();
        std::fs::write(rootfs.path().join(format!("layer{layer}")), data).unwrap();
        let options =
            kiln_layer::WriteOptions { source_date_epoch: Some(1_700_000_000), ..Default::default() };
        let mut writer = lease.blob_writer().unwrap();
        let info = kiln_layer::write_tree(rootfs.path(), &options, &mut writer).unwrap();
        writer.commit_named(Some(&info.diff_id), None, "generated layer").unwrap();
        config.rootfs.diff_ids.push(info.diff_id);
    }
    let config = serde_json::to_vec(&config).unwrap();
    lease.commit_image(&config, &[Reference::parse(name).unwrap()], None).unwrap()
}

/// The image a store holds under `name`.
pub(crate) fn image(store: &Store, name: &str) -> kiln_store::Image {
    store.image(&ImageLocation::parse(name).unwrap()).unwrap()
}
