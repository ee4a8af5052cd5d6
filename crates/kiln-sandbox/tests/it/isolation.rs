//! Isolation seen from inside: a static probe binary (tests/probe/probe.c) reports what it can see and do as
//! JSON, under kiln's sandbox and, to prove the probe itself, under runc with an equivalent configuration.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use kiln_sandbox::{BindAccess, Mount, Network, RunSpec, User};
use kiln_test::TempDir;
use serde_json::Value;

use crate::need_sandbox;
use crate::support::Fixture;

/// Docker's default capability set as `/proc/self/status` prints it.
const DOCKER_CAPS: &str = "00000000a80425fb";
const NO_CAPS: &str = "0000000000000000";

/// The probe, compiled once with `cc -static`; `None` (with the reason) when no C toolchain is installed.
fn probe() -> Result<&'static Path, String> {
    static PROBE: OnceLock<Result<(TempDir, PathBuf), String>> = OnceLock::new();
    let built = PROBE.get_or_init(|| {
        let cc = kiln_test::which("cc").ok_or("cc is not installed")?;
        let dir = TempDir::new().map_err(|e| e.to_string())?;
        let out = dir.path().join("probe");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/probe/probe.c");
        let status = Command::new(cc)
            .args(["-static", "-O2", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err("cc -static failed (is libc6-dev installed?)".to_owned());
        }
        Ok((dir, out))
    });
    built.as_ref().map(|(_, path)| path.as_path()).map_err(Clone::clone)
}

macro_rules! need_probe {
    () => {{
        need_sandbox!();
        match probe() {
            Ok(p) => p,
            Err(reason) => {
                kiln_test::skip_unless!(false, "{reason}");
                unreachable!()
            }
        }
    }};
}

/// Runs the probe in kiln's sandbox with `adjust` applied to the spec; returns its report.
fn probe_in_kiln(probe: &Path, adjust: impl FnOnce(&mut RunSpec)) -> Value {
    let f = Fixture::new();
    let mut spec = f.sh("unused");
    spec.argv = vec!["/probe".into()];
    spec.mounts.push(Mount::Bind {
        source: probe.to_path_buf(),
        target: "/probe".into(),
        access: BindAccess::ReadOnly,
    });
    adjust(&mut spec);
    let lines = f.ok(&spec);
    serde_json::from_str(&lines.join("\n"))
        .unwrap_or_else(|e| panic!("probe output is not JSON ({e}): {lines:?}"))
}

#[test]
fn root_gets_exactly_dockers_defaults() {
    let probe = need_probe!();
    let r = probe_in_kiln(probe, |_| {});
    assert_eq!(r["pid"], 1, "the command is PID 1: {r}");
    assert_eq!(r["visible_processes"], 1, "no other process is visible: {r}");
    assert_eq!(r["hostname"], "buildkitsandbox");
    for set in ["cap_eff", "cap_prm", "cap_bnd"] {
        assert_eq!(r[set], DOCKER_CAPS, "{set}: {r}");
    }
    assert_eq!(r["cap_inh"], NO_CAPS);
    assert_eq!(r["cap_amb"], NO_CAPS);
    assert_eq!(r["no_new_privs"], 1);
    assert_eq!(r["seccomp"], 2, "a seccomp filter is installed");
    assert_eq!(r["mount"], "EPERM");
    assert_eq!(r["unshare_mount_ns"], "EPERM");
    assert_eq!(r["unshare_user_ns"], "EPERM", "seccomp refuses unshare, as Docker's profile does");
    assert_eq!(r["sethostname"], "EPERM");
    assert_eq!(r["chroot"], "ok", "CAP_SYS_CHROOT is in Docker's default set");
    assert_eq!(r["mknod"], "ok", "CAP_MKNOD is in Docker's default set");
    assert_eq!(r["write_proc_sys"], "EROFS");
    assert_eq!(r["write_sys"], "EROFS");
    assert_eq!(r["uid"], 0);
    assert_eq!(r["groups"], serde_json::json!([0]));
    let mut root: Vec<String> =
        r["root"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    root.sort();
    assert_eq!(
        root,
        ["bin", "dev", "etc", "home", "probe", "proc", "root", "sys", "tmp", "usr", "var"],
        "only the rootfs is visible, no host path"
    );
}

#[test]
fn other_users_have_no_effective_capabilities() {
    let probe = need_probe!();
    let r = probe_in_kiln(probe, |spec| spec.user = User::Spec("app".into()));
    assert_eq!((r["uid"].as_u64(), r["gid"].as_u64()), (Some(1000), Some(1000)), "{r}");
    assert_eq!(
        r["groups"],
        serde_json::json!([10, 1000]),
        "the primary group and wheel from /etc/group (sorted by the kernel)"
    );
    assert_eq!(r["cap_eff"], NO_CAPS);
    assert_eq!(r["cap_prm"], NO_CAPS);
    assert_eq!(r["cap_bnd"], DOCKER_CAPS);
    assert_eq!(r["chroot"], "EPERM");
    assert_eq!(r["mknod"], "EPERM");
}

#[test]
fn network_none_has_only_loopback() {
    let probe = need_probe!();
    let r = probe_in_kiln(probe, |spec| spec.network = Network::None);
    assert_eq!(r["interfaces"], serde_json::json!(["lo"]), "{r}");
    let host = probe_in_kiln(probe, |_| {});
    assert!(host["interfaces"].as_array().unwrap().contains(&Value::from("lo")), "{host}");
}

/// The oracle is tested: under runc, configured like kiln (Docker's capabilities, no_new_privs, a new
/// network namespace, no seccomp), the probe must report what runc is known to do, and agree with kiln on
/// every property the two configurations share.
#[test]
fn the_probe_agrees_with_runc() {
    let probe = need_probe!();
    let Some(runc) = kiln_test::which("runc") else {
        kiln_test::skip_unless!(false, "runc is not installed");
        return;
    };
    let runc_report = |uid: u32| -> Value {
        let dir = TempDir::new().unwrap();
        let bundle = dir.path();
        let rootfs = bundle.join("rootfs");
        kiln_test::busybox_rootfs(&rootfs).unwrap();
        std::fs::copy(probe, rootfs.join("probe")).unwrap();
        let caps = kiln_sandbox::DEFAULT_CAPABILITIES.iter().map(|(_, n)| *n).collect::<Vec<_>>();
        let config = serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": false,
                "user": {"uid": uid, "gid": uid, "additionalGids": [uid]},
                "args": ["/probe"],
                "env": ["PATH=/bin"],
                "cwd": "/",
                "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
                "noNewPrivileges": true
            },
            "root": {"path": "rootfs", "readonly": false},
            "hostname": "runc-probe",
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
            ],
            "linux": {
                "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
                "readonlyPaths": ["/proc/sys"]
            }
        });
        std::fs::write(bundle.join("config.json"), config.to_string()).unwrap();
        let id = format!("kiln-probe-{}-{uid}", std::process::id());
        let out = Command::new(&runc).args(["run", "--bundle"]).arg(bundle).arg(&id).output().unwrap();
        assert!(out.status.success(), "runc failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    for (uid, user) in [(0, ""), (1000, "1000:1000")] {
        let r = runc_report(uid);
        // What runc is known to do with this configuration.
        assert_eq!(r["pid"], 1, "{r}");
        assert_eq!(r["hostname"], "runc-probe");
        assert_eq!(r["interfaces"], serde_json::json!(["lo"]));
        assert_eq!(r["no_new_privs"], 1);
        assert_eq!(r["seccomp"], 0);
        assert_eq!(r["unshare_user_ns"], "ok", "without seccomp an unprivileged user namespace is allowed");
        assert_eq!(r["cap_bnd"], DOCKER_CAPS);
        assert_eq!(r["cap_eff"], if uid == 0 { DOCKER_CAPS } else { NO_CAPS });
        // And kiln agrees wherever the configurations agree.
        let k = probe_in_kiln(probe, |spec| {
            spec.network = Network::None;
            spec.user = User::Spec(user.to_owned());
        });
        for field in [
            "pid",
            "uid",
            "gid",
            "groups",
            "cap_eff",
            "cap_prm",
            "cap_inh",
            "cap_bnd",
            "cap_amb",
            "no_new_privs",
            "visible_processes",
            "interfaces",
            "mount",
            "unshare_mount_ns",
            "chroot",
            "write_proc_sys",
            "write_sys",
            "mknod",
            "sethostname",
        ] {
            assert_eq!(k[field], r[field], "uid {uid}, field {field}: kiln {k} vs runc {r}");
        }
    }
}

#[test]
fn no_new_privs_and_seccomp_can_be_switched_off() {
    let probe = need_probe!();
    // BuildKit leaves no_new_privs off; the filter must then go in while CAP_SYS_ADMIN is still held.
    let r = probe_in_kiln(probe, |spec| spec.security.no_new_privs = false);
    assert_eq!((r["no_new_privs"].as_u64(), r["seccomp"].as_u64()), (Some(0), Some(2)), "{r}");
    assert_eq!(r["unshare_user_ns"], "EPERM");
    assert_eq!(r["cap_eff"], DOCKER_CAPS);
    let r = probe_in_kiln(probe, |spec| spec.security.seccomp = false);
    assert_eq!((r["no_new_privs"].as_u64(), r["seccomp"].as_u64()), (Some(1), Some(0)), "{r}");
}
