//! A kiln-built image loads into a real dockerd and runs.

use kiln_build::Output;

use crate::harness::Fixture;
use crate::need_root;

#[test]
fn a_built_image_runs_under_docker() {
    need_root!();
    let daemon = match kiln_test::Dockerd::start() {
        Ok(d) => d,
        Err(reason) => {
            assert!(!kiln_test::in_ci(), "CI must run the dockerd interop test: {reason}");
            kiln_test::skip_unless!(false, "{reason}");
            return;
        }
    };
    let f = Fixture::new();
    f.write("message", "built by kiln\n");
    let built = f.build(
        "FROM busybox AS build\nRUN echo compiled > /artifact\n\
         FROM busybox\nCOPY --from=build /artifact /artifact\nCOPY message /message\nUSER app\nWORKDIR /home/app\n\
         ENTRYPOINT [\"/bin/sh\", \"-c\"]\nCMD [\"cat /message /artifact && id -un && pwd\"]\n",
    );
    let archive = f.dir.path().join("image.tar");
    let name = kiln_oci::Reference::parse("kiln-it/hello:1").unwrap();
    kiln_build::export(&f.store, &built.output, &Output::Docker { dest: archive.clone() }, &[name]).unwrap();
    let load = daemon.docker().arg("load").arg("-i").arg(&archive).output().unwrap();
    assert!(load.status.success(), "docker load: {}", String::from_utf8_lossy(&load.stderr));
    let run = daemon.docker().args(["run", "--rm", "--network", "none", "kiln-it/hello:1"]).output().unwrap();
    assert!(run.status.success(), "docker run: {}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(String::from_utf8_lossy(&run.stdout), "built by kiln\ncompiled\napp\n/home/app\n");
}
