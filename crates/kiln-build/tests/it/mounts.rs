//! RUN --mount: secrets never land anywhere, cache mounts persist outside the image, binds and tmpfs.

use std::path::Path;

use crate::harness::{Fixture, read};
use crate::need_root;
use kiln_build::Secret;

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else { continue };
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).unwrap().flatten() {
                stack.push(e.path());
            }
        } else if meta.is_file() {
            let data = std::fs::read(&p).unwrap_or_default();
            if data.windows(needle.len()).any(|w| w == needle) {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

#[test]
fn a_secret_is_in_no_blob_layer_config_or_store_file() {
    need_root!();
    let f = Fixture::new();
    let value = "s3cr3t-VALUE-7f1d2c";
    let mut req = f.request(
        "FROM busybox\n\
         RUN --mount=type=secret,id=token sha256sum < /run/secrets/token | cut -d' ' -f1 > /used\n\
         RUN --mount=type=secret,id=token,env=TOKEN printf %s \"$TOKEN\" | sha256sum | cut -d' ' -f1 > /env\n\
         RUN --mount=type=secret,id=token,target=/custom,mode=0440,uid=1000 stat -c '%a %u' /custom > /stat\n",
        |_| {},
    );
    req.secrets.insert("token".into(), Secret::new(value.as_bytes().to_vec()));
    let built = f.run(&req).unwrap_or_else(|e| panic!("{}", e.0));
    let r = f.rootfs(&built);
    let hash = format!("{}\n", kiln_oci::Digest::sha256_of(value.as_bytes()).hex());
    assert_eq!(read(&r, "used"), hash, "the file mount holds the secret");
    assert_eq!(read(&r, "env"), hash, "the env variable holds the secret");
    assert_eq!(read(&r, "stat"), "440 1000\n");
    assert!(!r.join("run/secrets").exists(), "the mount point is not left in the image");
    assert_eq!(files_containing(f.store.root(), value.as_bytes()), Vec::<String>::new());
    assert_eq!(files_containing(&r, value.as_bytes()), Vec::<String>::new());
    let missing =
        f.request("FROM busybox\nRUN --mount=type=secret,id=nope,required cat /run/secrets/nope\n", |_| {});
    let err = f.run(&missing).err().unwrap().0.to_string();
    assert!(err.contains("secret nope is required"), "{err}");
}

#[test]
fn a_cache_mount_persists_across_builds_and_stays_out_of_the_image() {
    need_root!();
    let f = Fixture::new();
    let df = |n: u32| {
        format!(
            "FROM busybox\nRUN --mount=type=cache,target=/var/cache/app,id=appcache echo run{n} >> /var/cache/app/log && cp /var/cache/app/log /seen\n"
        )
    };
    let first = f.build(&df(1));
    assert_eq!(read(&f.rootfs(&first), "seen"), "run1\n");
    let second = f.build(&df(2));
    let r = f.rootfs(&second);
    assert_eq!(read(&r, "seen"), "run1\nrun2\n", "the second build saw the first build's cache");
    assert!(!r.join("var/cache/app/log").exists(), "the cache contents are not in the image");
    let locked = f.build(
        "FROM busybox\nRUN --mount=type=cache,target=/c,sharing=locked,mode=0700,uid=1000 stat -c '%a %u' /c > /cstat\n",
    );
    assert_eq!(read(&f.rootfs(&locked), "cstat"), "700 1000\n");
}

#[test]
fn bind_and_tmpfs_mounts() {
    need_root!();
    let f = Fixture::new();
    f.write("conf/app.conf", "key=value\n");
    f.write(".dockerignore", "conf/ignored\n");
    f.write("conf/ignored", "hidden\n");
    let built = f.build(
        "FROM busybox AS data\nRUN echo staged > /payload\n\
         FROM busybox\n\
         RUN --mount=type=bind,source=conf,target=/mnt/conf cat /mnt/conf/app.conf > /from-context && ls /mnt/conf > /listing\n\
         RUN --mount=type=bind,from=data,source=/payload,target=/p cat /p > /from-stage\n\
         RUN --mount=type=bind,target=/w,rw touch /w/scratch && echo ok > /rw\n\
         RUN --mount=type=tmpfs,target=/scratch,size=1m df -k /scratch | tail -1 | tr -s ' ' | cut -d' ' -f2 > /tmpfs-size\n",
    );
    let r = f.rootfs(&built);
    assert_eq!(read(&r, "from-context"), "key=value\n");
    assert_eq!(read(&r, "listing"), "app.conf\n", ".dockerignore applies to bind mounts of the context");
    assert_eq!(read(&r, "from-stage"), "staged\n");
    assert_eq!(read(&r, "rw"), "ok\n");
    assert!(!f.ctx().join("scratch").exists(), "rw binds discard their writes");
    assert_eq!(read(&r, "tmpfs-size"), "1024\n");
}

#[test]
fn ssh_mounts_forward_the_agent_socket() {
    need_root!();
    let f = Fixture::new();
    let socket = f.dir.path().join("agent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let mut req = f.request(
        "FROM busybox\nRUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK\" > /sock\n",
        |_| {},
    );
    req.ssh.insert("default".into(), socket);
    let built = f.run(&req).unwrap_or_else(|e| panic!("{}", e.0));
    assert_eq!(read(&f.rootfs(&built), "sock"), "/run/buildkit/ssh_agent.0\n");
}
