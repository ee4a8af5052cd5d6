//! A private Docker daemon for interop tests: [`Dockerd::start`] runs `dockerd` with its data root, exec
//! root, pid file and socket in a temp dir and no networking, so tests never touch a system daemon; dropping
//! it stops the daemon and removes the directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running private `dockerd`.
pub struct Dockerd {
    child: Child,
    dir: tempfile::TempDir,
    host: String,
}

impl Dockerd {
    /// Starts a daemon; `Err` says why it cannot run here (not root, `dockerd` missing, start failed).
    pub fn start() -> Result<Dockerd, String> {
        if !crate::is_root() {
            return Err("dockerd needs root".to_owned());
        }
        let Some(dockerd) = crate::which("dockerd") else {
            return Err("dockerd is not installed".to_owned());
        };
        if crate::which("docker").is_none() {
            return Err("the docker CLI is not installed".to_owned());
        }
        let dir = tempfile::Builder::new().prefix("kiln-dockerd-").tempdir().map_err(|e| e.to_string())?;
        let p = |name: &str| dir.path().join(name);
        let host = format!("unix://{}", p("docker.sock").display());
        let log = std::fs::File::create(p("dockerd.log")).map_err(|e| e.to_string())?;
        let child = Command::new(dockerd)
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false", "--host", &host])
            .arg("--data-root")
            .arg(p("data"))
            .arg("--exec-root")
            .arg(p("exec"))
            .arg("--pidfile")
            .arg(p("docker.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting dockerd: {e}"))?;
        let mut daemon = Dockerd { child, dir, host };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if daemon
                .docker()
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
            {
                return Ok(daemon);
            }
            if let Ok(Some(status)) = daemon.child.try_wait() {
                let log = std::fs::read_to_string(daemon.dir.path().join("dockerd.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                return Err(format!("dockerd exited with {status}: {}", tail.join(" | ")));
            }
            if Instant::now() > deadline {
                return Err("dockerd did not answer within 60 s".to_owned());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A `docker` command talking to this daemon.
    pub fn docker(&self) -> Command {
        let mut cmd = Command::new("docker");
        cmd.env("DOCKER_HOST", &self.host).env_remove("DOCKER_CONTEXT");
        cmd
    }

    /// The daemon's directory (data root, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The daemon's log file.
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("dockerd.log")
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // SIGTERM lets dockerd unmount its overlay and shm mounts before the directory is removed.
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
