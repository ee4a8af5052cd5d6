//! A test fixture: a temporary store with `busybox:latest` imported, a context directory, and a build
//! helper that collects events.
#![allow(dead_code)] // helpers used by some test modules only

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_build::{BuildEvent, BuildOutput, BuildRequest, CollectEvents, Engine, Output, StoreImages};
use kiln_context::Context;
use kiln_oci::{ImageConfig, Reference};
use kiln_plan::PlanOptions;
use kiln_sandbox::{LinuxSys, Sandbox};
use kiln_store::Store;

/// Whether builds can run here (root and busybox-static); the reason when not.
pub(crate) fn can_build() -> Result<(), String> {
    if !kiln_test::is_root() {
        return Err("builds need root (namespaces, overlayfs)".into());
    }
    if !Path::new("/bin/busybox").exists() {
        return Err("busybox-static is not installed".into());
    }
    Ok(())
}

/// Skips the test with a reason when builds cannot run here.
#[macro_export]
macro_rules! need_root {
    () => {
        if let Err(reason) = $crate::harness::can_build() {
            kiln_test::skip_unless!(false, "{reason}");
        }
    };
}

/// A store with busybox, and a context directory.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) store: Store,
}

/// One build's results.
pub(crate) struct Built {
    pub(crate) output: BuildOutput,
    pub(crate) events: Vec<BuildEvent>,
}

impl Built {
    /// How many steps started executing (RUN/COPY/ADD/WORKDIR that missed the cache).
    pub(crate) fn executed(&self) -> usize {
        self.events
            .iter()
            .filter(
                |e| matches!(e, BuildEvent::Started { step, .. } if step.kind != kiln_build::StepKind::From),
            )
            .count()
    }

    pub(crate) fn config(&self) -> &ImageConfig {
        &self.output.config
    }
}

impl Fixture {
    pub(crate) fn new() -> Fixture {
        Self::with_store_root(None)
    }

    /// A fixture whose store lives at `root` (shared between fixtures) or in its own temp dir.
    pub(crate) fn with_store_root(root: Option<&Path>) -> Fixture {
        let dir = tempfile::Builder::new().prefix("kiln-build-it-").tempdir().unwrap();
        let store_root = root.map_or_else(|| dir.path().join("store"), Path::to_owned);
        let store = Store::open(&store_root).unwrap();
        let rootfs = dir.path().join("busybox-rootfs");
        std::fs::create_dir_all(&rootfs).unwrap();
        kiln_test::busybox_rootfs(&rootfs).unwrap();
        let options = kiln_store::transport::RootfsImport {
            source_date_epoch: Some(1_600_000_000),
            message: Some("busybox".into()),
            ..Default::default()
        };
        kiln_store::transport::import_rootfs(
            &store,
            &rootfs,
            &[Reference::parse("busybox").unwrap()],
            &options,
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("ctx")).unwrap();
        Fixture { dir, store }
    }

    pub(crate) fn ctx(&self) -> PathBuf {
        self.dir.path().join("ctx")
    }

    /// Writes a context file (parents created).
    pub(crate) fn write(&self, rel: &str, content: &str) {
        let p = self.ctx().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    /// A request for `dockerfile` over the context, with `tweak` applied to the plan options.
    pub(crate) fn request(&self, dockerfile: &str, plan: impl FnOnce(&mut PlanOptions)) -> BuildRequest {
        let df = kiln_dockerfile::parse(dockerfile).unwrap();
        let mut options = PlanOptions::default();
        plan(&mut options);
        let graph = kiln_plan::plan(Arc::new(df), &options).unwrap();
        let ctx = Context::from_dir(&self.ctx(), None).unwrap();
        let mut req = BuildRequest::new(graph, Arc::new(ctx));
        req.build_id = "test".into();
        req
    }

    pub(crate) fn engine(&self, events: Arc<CollectEvents>) -> Engine {
        let sandbox = Sandbox::new(Arc::new(LinuxSys), self.dir.path().join("sandbox"));
        Engine::new(
            self.store.clone(),
            Arc::new(sandbox),
            Arc::new(StoreImages::new(self.store.clone())),
            events,
        )
    }

    pub(crate) fn run(
        &self,
        req: &BuildRequest,
    ) -> Result<Built, Box<(kiln_build::BuildError, Vec<BuildEvent>)>> {
        let events = Arc::new(CollectEvents::default());
        let result = self.engine(events.clone()).build(req);
        match result {
            Ok(output) => Ok(Built { output, events: events.events() }),
            Err(e) => Err(Box::new((e, events.events()))),
        }
    }

    /// Builds `dockerfile`, panicking with the error on failure.
    pub(crate) fn build(&self, dockerfile: &str) -> Built {
        let req = self.request(dockerfile, |_| {});
        self.run(&req).unwrap_or_else(|e| panic!("build failed: {}", e.0))
    }

    /// The built image's root filesystem, flattened into a new directory.
    pub(crate) fn rootfs(&self, built: &Built) -> PathBuf {
        let n = std::fs::read_dir(self.dir.path()).unwrap().count();
        let dest = self.dir.path().join(format!("rootfs-{n}"));
        kiln_build::export(&self.store, &built.output, &Output::Local { dest: dest.clone() }, &[]).unwrap();
        dest
    }

    /// `build args` helper.
    pub(crate) fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }
}

/// Reads a file of a rootfs as text.
pub(crate) fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}
