//! [`RecordingSys`]: a fake kernel for unit tests. It records every call as a line of text, fails chosen
//! calls, and keeps just enough state to make the sandbox's logic observable without root: an in-memory file
//! tree (with modification times), a mount table, pipes and socket pairs, and children that run inline.
//!
//! Mounts of overlayfs (and bind mounts of directories) are *views*: mounting copies the layers' entries
//! under the target; unmounting writes what changed back to the upper layer (or bound directory) and removes
//! the view, so a test can look at the upper directory after a run as it would on disk. Entries created under
//! any other mount (tmpfs, proc...) vanish with it. A cloned child runs inline inside `clone_process` with its
//! own copy of the descriptor table and its own mount table (dropped when it returns); its calls are recorded
//! with a `[child] ` prefix. A successful fake `execve` writes the configured output to the child's stdout and
//! makes the child exit with the configured code.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ffi::{CStr, OsStr, c_char};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::{
    CapSets, ChildProcess, CloneFlags, Errno, ExitStatus, Fd, FileKind, MountFlags, PollFd, Stat, Sys,
    SysResult, Timestamp,
};

/// A fake kernel that records calls. See the module documentation.
#[derive(Default)]
pub struct RecordingSys {
    state: Mutex<State>,
}

impl std::fmt::Debug for RecordingSys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingSys").finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Dir,
    File,
    Symlink,
    Char(u64),
}

#[derive(Clone, Debug)]
struct Node {
    kind: Kind,
    mode: u32,
    uid: u32,
    gid: u32,
    atime: i64,
    mtime: i64,
    /// File contents or symlink target.
    data: Vec<u8>,
    /// The mount this entry belongs to (created inside, or copied into a view).
    mount: Option<usize>,
}

#[derive(Debug)]
struct View {
    /// Layers, top first (the upper or the bound directory first).
    layers: Vec<PathBuf>,
    /// Where changes go at unmount.
    write_back: PathBuf,
    /// Entries copied in at mount time and their state then.
    snapshot: BTreeMap<PathBuf, Node>,
}

#[derive(Debug)]
struct FakeMount {
    id: usize,
    target: PathBuf,
    fstype: String,
    view: Option<View>,
}

#[derive(Clone, Copy, Debug)]
enum FdKind {
    /// Reads from pipe `.0`.
    PipeRead(usize),
    /// Writes to pipe `.0`.
    PipeWrite(usize),
    /// A socket end: reads pipe `read`, writes pipe `write`.
    Socket {
        read: usize,
        write: usize,
    },
    DevNull,
    FsContext(usize),
    Mount(usize),
    Pid(i32),
}

#[derive(Debug, Default)]
struct Pipe {
    data: VecDeque<u8>,
    readers: usize,
    writers: usize,
}

#[derive(Debug, Default)]
struct FsContext {
    fstype: String,
    params: Vec<(String, String)>,
    created: bool,
}

#[derive(Debug)]
struct Injection {
    /// Fail the call with this index, or
    index: Option<usize>,
    /// the first call containing this text.
    needle: Option<String>,
    errno: Errno,
    fired: bool,
}

#[derive(Debug, Default)]
struct ChildState {
    fds: BTreeMap<i32, FdKind>,
    mounts: Vec<FakeMount>,
    root: Option<PathBuf>,
    cwd: PathBuf,
    exec_ran: bool,
}

#[derive(Debug, Default)]
struct State {
    calls: Vec<String>,
    injections: Vec<Injection>,
    euid: u32,
    nodes: BTreeMap<PathBuf, Node>,
    mounts: Vec<FakeMount>,
    next_mount: usize,
    fds: BTreeMap<i32, FdKind>,
    next_fd: i32,
    pipes: Vec<Pipe>,
    contexts: Vec<FsContext>,
    child: Option<ChildState>,
    exited: BTreeMap<i32, ExitStatus>,
    next_pid: i32,
    exec_output: Vec<u8>,
    exec_exit: i32,
    clock: i64,
    polls_without_progress: usize,
}

fn text(c: &CStr) -> String {
    c.to_string_lossy().into_owned()
}

fn path_of(c: &CStr) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(c.to_bytes()))
}

fn opt_text(c: Option<&CStr>) -> String {
    c.map_or_else(|| "-".to_owned(), text)
}

fn stat_of(node: &Node) -> Stat {
    let kind = match node.kind {
        Kind::Dir => FileKind::Dir,
        Kind::File => FileKind::File,
        Kind::Symlink => FileKind::Symlink,
        Kind::Char(_) => FileKind::CharDevice,
    };
    Stat {
        kind,
        mode: node.mode,
        uid: node.uid,
        gid: node.gid,
        size: node.data.len() as u64,
        rdev: if let Kind::Char(dev) = node.kind { dev } else { 0 },
        atime: Timestamp { sec: node.atime, nsec: 0 },
        mtime: Timestamp { sec: node.mtime, nsec: 0 },
    }
}

fn under(path: &Path, base: &Path) -> bool {
    path != base && path.starts_with(base)
}

impl RecordingSys {
    /// An empty fake: no files, no mounts, running as root.
    pub fn new() -> Self {
        let sys = RecordingSys::default();
        sys.lock().next_fd = 100;
        sys.lock().next_pid = 4000;
        sys.lock().nodes.insert(PathBuf::from("/"), Node::dir(0o755));
        sys
    }

    /// A fake with the host files the sandbox reads: `/dev/null`, `/proc/sys/kernel/cap_last_cap` (40) and
    /// `/etc/resolv.conf`.
    pub fn with_host() -> Self {
        let sys = RecordingSys::new();
        sys.add_dir("/dev", 0o755);
        sys.lock()
            .insert(PathBuf::from("/dev/null"), Node { kind: Kind::Char(0x103), ..Node::file(0o666, b"") });
        sys.add_dir("/proc/sys/kernel", 0o555);
        sys.add_file("/proc/sys/kernel/cap_last_cap", b"40\n", 0o444);
        sys.add_file("/etc/resolv.conf", b"nameserver 10.0.0.2\n", 0o644);
        sys
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock only happens in a failing test; the state is still usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes `geteuid` return `uid`.
    pub fn set_euid(&self, uid: u32) {
        self.lock().euid = uid;
    }

    /// What a successful fake `execve` writes to stdout, and the exit code it reports.
    pub fn set_exec_result(&self, output: &[u8], exit_code: i32) {
        let mut st = self.lock();
        st.exec_output = output.to_vec();
        st.exec_exit = exit_code;
    }

    /// Adds a directory (and missing parents) to the fake tree.
    pub fn add_dir(&self, path: &str, mode: u32) {
        let mut st = self.lock();
        st.make_parents(Path::new(path));
        st.insert(PathBuf::from(path), Node::dir(mode));
    }

    /// Adds a regular file (and missing parent directories).
    pub fn add_file(&self, path: &str, contents: &[u8], mode: u32) {
        let mut st = self.lock();
        st.make_parents(Path::new(path));
        st.insert(PathBuf::from(path), Node::file(mode, contents));
    }

    /// Adds a symlink (and missing parent directories).
    pub fn add_symlink(&self, path: &str, target: &str) {
        let mut st = self.lock();
        st.make_parents(Path::new(path));
        st.insert(PathBuf::from(path), Node { kind: Kind::Symlink, ..Node::file(0o777, target.as_bytes()) });
    }

    /// Every recorded call so far, in order.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// Fails the call with this index (0-based, over [`RecordingSys::calls`]) with `errno`.
    pub fn fail_call(&self, index: usize, errno: Errno) {
        self.lock().injections.push(Injection { index: Some(index), needle: None, errno, fired: false });
    }

    /// Fails the first call whose recorded text contains `needle` with `errno`.
    pub fn fail_when(&self, needle: &str, errno: Errno) {
        self.lock().injections.push(Injection {
            index: None,
            needle: Some(needle.to_owned()),
            errno,
            fired: false,
        });
    }

    /// The current mount table of the caller's namespace, as `fstype on target` lines.
    pub fn mounts(&self) -> Vec<String> {
        self.lock().mounts.iter().map(|m| format!("{} on {}", m.fstype, m.target.display())).collect()
    }

    /// Descriptors handed out and not closed.
    pub fn open_fds(&self) -> Vec<i32> {
        self.lock().fds.keys().copied().collect()
    }

    /// Every path in the fake tree at or below `base`, relative to it, with a type letter (`d`, `f`, `l`,
    /// `c`) and, for whiteouts and files, a hint (`c 0/0`, `f <size>`).
    pub fn tree(&self, base: &str) -> Vec<String> {
        let st = self.lock();
        let base = Path::new(base);
        st.nodes
            .iter()
            .filter(|(p, _)| under(p, base))
            .map(|(p, n)| {
                let rel = p.strip_prefix(base).unwrap_or(p).display();
                match n.kind {
                    Kind::Dir => format!("d {rel}"),
                    Kind::File => format!("f {rel} ({} bytes)", n.data.len()),
                    Kind::Symlink => format!("l {rel} -> {}", String::from_utf8_lossy(&n.data)),
                    Kind::Char(dev) => format!("c {rel} {}/{}", dev >> 8, dev & 0xff),
                }
            })
            .collect()
    }

    /// The modification time (fake clock ticks) of a path, if it exists.
    pub fn mtime(&self, path: &str) -> Option<i64> {
        self.lock().nodes.get(Path::new(path)).map(|n| n.mtime)
    }

    /// Records `call`; returns the injected error if this call must fail.
    fn record(&self, call: String) -> SysResult<()> {
        self.lock().record(call)
    }
}

impl Node {
    fn dir(mode: u32) -> Node {
        Node { kind: Kind::Dir, mode, uid: 0, gid: 0, atime: 0, mtime: 0, data: Vec::new(), mount: None }
    }
    fn file(mode: u32, data: &[u8]) -> Node {
        Node { kind: Kind::File, data: data.to_vec(), ..Node::dir(mode) }
    }
}

impl State {
    fn record(&mut self, call: String) -> SysResult<()> {
        let call = if self.child.is_some() { format!("[child] {call}") } else { call };
        let index = self.calls.len();
        let mut result = Ok(());
        for inj in self.injections.iter_mut().filter(|i| !i.fired) {
            let hit = inj.index == Some(index) || inj.needle.as_deref().is_some_and(|n| call.contains(n));
            if hit {
                inj.fired = true;
                result = Err(inj.errno);
                break;
            }
        }
        match result {
            Ok(()) => self.calls.push(call),
            Err(e) => self.calls.push(format!("{call} = errno {}", e.raw_os_error())),
        }
        result
    }

    fn tick(&mut self) -> i64 {
        self.clock += 1;
        self.clock
    }

    /// Maps a path the way the current process sees it (a child after `pivot_root` sees its new root).
    fn host(&self, p: &Path) -> PathBuf {
        match &self.child {
            Some(ChildState { root: Some(root), cwd, .. }) => {
                if p.is_absolute() {
                    root.join(p.strip_prefix("/").unwrap_or(p))
                } else {
                    cwd.join(p)
                }
            }
            Some(ChildState { cwd, .. }) if !p.is_absolute() => cwd.join(p),
            _ => p.to_path_buf(),
        }
    }

    fn fds(&mut self) -> &mut BTreeMap<i32, FdKind> {
        match &mut self.child {
            Some(child) => &mut child.fds,
            None => &mut self.fds,
        }
    }

    fn fd(&mut self, fd: Fd) -> SysResult<FdKind> {
        self.fds().get(&fd.0).copied().ok_or(Errno::BADF)
    }

    fn new_fd(&mut self, kind: FdKind) -> Fd {
        self.next_fd += 1;
        let n = self.next_fd;
        self.add_ref(kind);
        self.fds().insert(n, kind);
        Fd(n)
    }

    fn add_ref(&mut self, kind: FdKind) {
        match kind {
            FdKind::PipeRead(p) => self.pipes[p].readers += 1,
            FdKind::PipeWrite(p) => self.pipes[p].writers += 1,
            FdKind::Socket { read, write } => {
                self.pipes[read].readers += 1;
                self.pipes[write].writers += 1;
            }
            _ => {}
        }
    }

    fn drop_ref(&mut self, kind: FdKind) {
        match kind {
            FdKind::PipeRead(p) => self.pipes[p].readers -= 1,
            FdKind::PipeWrite(p) => self.pipes[p].writers -= 1,
            FdKind::Socket { read, write } => {
                self.pipes[read].readers -= 1;
                self.pipes[write].writers -= 1;
            }
            _ => {}
        }
    }

    fn new_pipe(&mut self) -> usize {
        self.pipes.push(Pipe::default());
        self.pipes.len() - 1
    }

    fn mounts_mut(&mut self) -> &mut Vec<FakeMount> {
        match &mut self.child {
            Some(child) => &mut child.mounts,
            None => &mut self.mounts,
        }
    }

    fn all_mounts(&self) -> impl Iterator<Item = &FakeMount> {
        self.mounts.iter().chain(self.child.iter().flat_map(|c| c.mounts.iter()))
    }

    /// The innermost mount containing `path`.
    fn mount_of(&self, path: &Path) -> Option<usize> {
        self.all_mounts()
            .filter(|m| under(path, &m.target))
            .max_by_key(|m| m.target.components().count())
            .map(|m| m.id)
    }

    fn insert(&mut self, path: PathBuf, mut node: Node) {
        let now = self.tick();
        node.mount = self.mount_of(&path);
        if node.mtime == 0 {
            node.mtime = now;
        }
        if let Some(parent) = path.parent()
            && let Some(dir) = self.nodes.get_mut(parent)
        {
            dir.mtime = now;
        }
        self.nodes.insert(path, node);
    }

    fn remove(&mut self, path: &Path) {
        let now = self.tick();
        self.nodes.remove(path);
        if let Some(parent) = path.parent()
            && let Some(dir) = self.nodes.get_mut(parent)
        {
            dir.mtime = now;
        }
    }

    fn make_parents(&mut self, path: &Path) {
        let mut missing = Vec::new();
        let mut p = path.parent();
        while let Some(dir) = p {
            if self.nodes.contains_key(dir) {
                break;
            }
            missing.push(dir.to_path_buf());
            p = dir.parent();
        }
        for dir in missing.into_iter().rev() {
            self.insert(dir, Node::dir(0o755));
        }
    }

    /// The node at `path` (no symlink following); errors like `lstat`.
    fn lookup(&self, path: &Path) -> SysResult<&Node> {
        if let Some(node) = self.nodes.get(path) {
            return Ok(node);
        }
        let mut p = path.parent();
        while let Some(dir) = p {
            match self.nodes.get(dir) {
                Some(n) if n.kind != Kind::Dir => return Err(Errno::NOTDIR),
                Some(_) => break,
                None => p = dir.parent(),
            }
        }
        Err(Errno::NOENT)
    }

    fn check_new(&self, path: &Path) -> SysResult<()> {
        if self.nodes.contains_key(path) {
            return Err(Errno::EXIST);
        }
        let parent = path.parent().ok_or(Errno::EXIST)?;
        match self.lookup(parent)? {
            n if n.kind == Kind::Dir => Ok(()),
            _ => Err(Errno::NOTDIR),
        }
    }

    fn add_mount(
        &mut self,
        target: PathBuf,
        fstype: &str,
        view: Option<(Vec<PathBuf>, PathBuf)>,
    ) -> SysResult<()> {
        self.lookup(&target)?;
        self.next_mount += 1;
        let id = self.next_mount;
        let view = view.map(|(layers, write_back)| {
            let mut snapshot = BTreeMap::new();
            for layer in &layers {
                let entries: Vec<(PathBuf, Node)> = self
                    .nodes
                    .iter()
                    .filter(|(p, _)| under(p, layer))
                    .map(|(p, n)| (p.strip_prefix(layer).unwrap_or(p).to_path_buf(), n.clone()))
                    .collect();
                for (rel, node) in entries {
                    snapshot.entry(rel).or_insert(node);
                }
            }
            View { layers, write_back, snapshot }
        });
        if let Some(view) = &view {
            for (rel, node) in &view.snapshot {
                self.nodes.insert(target.join(rel), Node { mount: Some(id), ..node.clone() });
            }
        }
        self.mounts_mut().push(FakeMount { id, target, fstype: fstype.to_owned(), view });
        Ok(())
    }

    /// Unmounts `target` and everything below it; views write their changes back.
    fn unmount(&mut self, target: &Path) -> SysResult<()> {
        let in_table = |m: &FakeMount| m.target == target || under(&m.target, target);
        if !self.mounts_mut().iter().any(|m| m.target == target) {
            return Err(Errno::INVAL);
        }
        let mut gone: Vec<FakeMount> = Vec::new();
        let table = self.mounts_mut();
        let mut i = 0;
        while i < table.len() {
            if in_table(&table[i]) {
                gone.push(table.remove(i));
            } else {
                i += 1;
            }
        }
        gone.sort_by_key(|m| std::cmp::Reverse(m.target.components().count()));
        for mount in gone {
            self.release(mount);
        }
        Ok(())
    }

    fn release(&mut self, mount: FakeMount) {
        let entries: Vec<(PathBuf, Node)> = self
            .nodes
            .iter()
            .filter(|(p, n)| n.mount == Some(mount.id) && under(p, &mount.target))
            .map(|(p, n)| (p.clone(), n.clone()))
            .collect();
        if let Some(view) = &mount.view {
            let present: BTreeSet<PathBuf> = entries
                .iter()
                .map(|(p, _)| p.strip_prefix(&mount.target).unwrap_or(p).to_path_buf())
                .collect();
            for (path, node) in &entries {
                let rel = path.strip_prefix(&mount.target).unwrap_or(path);
                let changed = match view.snapshot.get(rel) {
                    None => true,
                    Some(old) => old.mtime != node.mtime || old.mode != node.mode || old.data != node.data,
                };
                if changed {
                    let dest = view.write_back.join(rel);
                    self.make_parents(&dest);
                    self.nodes.insert(dest, Node { mount: None, ..node.clone() });
                }
            }
            for rel in view.snapshot.keys().filter(|r| !present.contains(*r)) {
                if rel.parent().is_some_and(|p| !p.as_os_str().is_empty() && !present.contains(p)) {
                    continue;
                }
                let dest = view.write_back.join(rel);
                self.make_parents(&dest);
                let whiteout = Node { kind: Kind::Char(0), ..Node::file(0, b"") };
                self.nodes.insert(dest, whiteout);
            }
            let _ = &view.layers;
        }
        for (path, _) in entries {
            self.nodes.remove(&path);
        }
    }
}

impl Sys for RecordingSys {
    fn unshare(&self, flags: CloneFlags) -> SysResult<()> {
        self.record(format!("unshare({flags})"))
    }

    fn clone_process(&self, flags: CloneFlags, child: &mut dyn FnMut() -> i32) -> SysResult<ChildProcess> {
        {
            let mut st = self.lock();
            st.record(format!("clone({flags})"))?;
            let fds = st.fds.clone();
            for kind in fds.values() {
                st.add_ref(*kind);
            }
            st.child = Some(ChildState { fds, cwd: PathBuf::from("/"), ..ChildState::default() });
        }
        let code = child();
        let mut st = self.lock();
        let Some(mut state) = st.child.take() else { return Err(Errno::CHILD) };
        for kind in state.fds.values() {
            st.drop_ref(*kind);
        }
        state.fds.clear();
        let exec_ran = state.exec_ran;
        let targets: Vec<PathBuf> = state.mounts.iter().map(|m| m.target.clone()).collect();
        // The child's mount namespace dies with it.
        st.child = Some(state);
        for target in targets.iter().rev() {
            let _ = st.unmount(target);
        }
        st.child = None;
        st.next_pid += 1;
        let pid = st.next_pid;
        let status = if exec_ran { ExitStatus::Code(st.exec_exit) } else { ExitStatus::Code(code) };
        st.exited.insert(pid, status);
        let pidfd = st.new_fd(FdKind::Pid(pid));
        Ok(ChildProcess { pid, pidfd })
    }

    fn wait_child(&self, child: ChildProcess, block: bool) -> SysResult<Option<ExitStatus>> {
        let mut st = self.lock();
        st.record(format!("wait({}, {})", child.pid, if block { "block" } else { "nohang" }))?;
        Ok(st.exited.remove(&child.pid))
    }

    fn signal_child(&self, child: ChildProcess, signal: i32) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!("kill({}, {signal})", child.pid))?;
        if st.exited.contains_key(&child.pid) { Ok(()) } else { Err(Errno::SRCH) }
    }

    fn geteuid(&self) -> u32 {
        self.lock().euid
    }

    fn execve(&self, path: &CStr, argv: &[*const c_char], envp: &[*const c_char]) -> SysResult<()> {
        let strings = |v: &[*const c_char]| -> Vec<String> {
            v.iter()
                .take_while(|p| !p.is_null())
                // SAFETY: the sandbox passes NULL-terminated arrays of valid C strings.
                .map(|p| unsafe { CStr::from_ptr(*p) }.to_string_lossy().into_owned())
                .collect()
        };
        let mut st = self.lock();
        st.record(format!("execve({}, {:?}, {:?})", text(path), strings(argv), strings(envp)))?;
        let host = st.host(&path_of(path));
        match st.lookup(&host) {
            Ok(node) if node.kind == Kind::File => {}
            Ok(_) => return Err(Errno::ACCESS),
            Err(e) => return Err(e),
        }
        let output = st.exec_output.clone();
        if let Ok(FdKind::PipeWrite(p)) = st.fd(Fd(1)) {
            st.pipes[p].data.extend(output);
        }
        if let Some(child) = st.child.as_mut() {
            child.exec_ran = true;
        }
        Ok(())
    }

    fn pipe(&self) -> SysResult<(Fd, Fd)> {
        let mut st = self.lock();
        st.record("pipe()".to_owned())?;
        let p = st.new_pipe();
        Ok((st.new_fd(FdKind::PipeRead(p)), st.new_fd(FdKind::PipeWrite(p))))
    }

    fn socketpair(&self) -> SysResult<(Fd, Fd)> {
        let mut st = self.lock();
        st.record("socketpair()".to_owned())?;
        let (a, b) = (st.new_pipe(), st.new_pipe());
        Ok((st.new_fd(FdKind::Socket { read: a, write: b }), st.new_fd(FdKind::Socket { read: b, write: a })))
    }

    fn open_rdwr(&self, path: &CStr) -> SysResult<Fd> {
        let mut st = self.lock();
        st.record(format!("open({})", text(path)))?;
        let host = st.host(&path_of(path));
        st.lookup(&host)?;
        Ok(st.new_fd(FdKind::DevNull))
    }

    fn read(&self, fd: Fd, buf: &mut [u8]) -> SysResult<usize> {
        let mut st = self.lock();
        let pipe = match st.fd(fd)? {
            FdKind::PipeRead(p) | FdKind::Socket { read: p, .. } => p,
            FdKind::DevNull => return Ok(0),
            FdKind::FsContext(_) => return Err(Errno::NODATA),
            _ => return Err(Errno::INVAL),
        };
        let pipe = &mut st.pipes[pipe];
        if pipe.data.is_empty() {
            return if pipe.writers == 0 { Ok(0) } else { Err(Errno::AGAIN) };
        }
        let n = buf.len().min(pipe.data.len());
        for (slot, byte) in buf.iter_mut().zip(pipe.data.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }

    fn write(&self, fd: Fd, buf: &[u8]) -> SysResult<usize> {
        let mut st = self.lock();
        st.record(format!("write({}, {} bytes)", fd.0, buf.len()))?;
        match st.fd(fd)? {
            FdKind::PipeWrite(p) | FdKind::Socket { write: p, .. } => {
                if st.pipes[p].readers == 0 {
                    return Err(Errno::PIPE);
                }
                st.pipes[p].data.extend(buf);
                Ok(buf.len())
            }
            FdKind::DevNull => Ok(buf.len()),
            _ => Err(Errno::INVAL),
        }
    }

    fn close(&self, fd: Fd) {
        let mut st = self.lock();
        let _ = st.record(format!("close({})", fd.0));
        if let Some(kind) = st.fds().remove(&fd.0) {
            st.drop_ref(kind);
        }
    }

    fn dup2(&self, from: Fd, to: i32) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!("dup2({}, {to})", from.0))?;
        let kind = st.fd(from)?;
        st.add_ref(kind);
        if let Some(old) = st.fds().insert(to, kind) {
            st.drop_ref(old);
        }
        Ok(())
    }

    fn close_range_cloexec(&self, first: u32) -> SysResult<()> {
        self.record(format!("close_range({first}, CLOEXEC)"))
    }

    fn poll(&self, fds: &mut [PollFd], _timeout_ms: i32) -> SysResult<usize> {
        let mut st = self.lock();
        let mut ready = 0;
        for pfd in fds.iter_mut() {
            pfd.revents = 0;
            let Ok(kind) = st.fd(pfd.fd) else {
                pfd.revents = libc::POLLNVAL;
                ready += 1;
                continue;
            };
            let (input, hup) = match kind {
                FdKind::PipeRead(p) => (!st.pipes[p].data.is_empty(), st.pipes[p].writers == 0),
                FdKind::Socket { read, write } => (
                    !st.pipes[read].data.is_empty(),
                    st.pipes[write].readers == 0 || st.pipes[read].writers == 0,
                ),
                FdKind::Pid(pid) => (st.exited.contains_key(&pid), false),
                _ => (true, false),
            };
            if input && pfd.events & libc::POLLIN != 0 {
                pfd.revents |= libc::POLLIN;
            }
            if hup {
                pfd.revents |= libc::POLLHUP | libc::POLLRDHUP;
            }
            if pfd.revents != 0 {
                ready += 1;
            }
        }
        if ready == 0 {
            st.polls_without_progress += 1;
            assert!(st.polls_without_progress < 10_000, "fake poll: nothing can ever become ready");
        } else {
            st.polls_without_progress = 0;
        }
        Ok(ready)
    }

    fn mount(
        &self,
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: MountFlags,
        data: Option<&CStr>,
    ) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!(
            "mount({}, {}, {}, {flags}, {})",
            opt_text(source),
            text(target),
            opt_text(fstype),
            opt_text(data)
        ))?;
        let target = st.host(&path_of(target));
        if flags.contains(MountFlags::REMOUNT)
            || (flags.contains(MountFlags::PRIVATE) && !flags.contains(MountFlags::BIND))
        {
            return st.lookup(&target).map(drop);
        }
        if flags.contains(MountFlags::BIND) {
            let source = st.host(&path_of(source.ok_or(Errno::INVAL)?));
            let is_dir = st.lookup(&source)?.kind == Kind::Dir;
            let target_is_dir = st.lookup(&target)?.kind == Kind::Dir;
            if is_dir != target_is_dir {
                return Err(Errno::NOTDIR);
            }
            let view = is_dir.then(|| (vec![source.clone()], source));
            return st.add_mount(target, "bind", view);
        }
        let fstype = fstype.map(text).unwrap_or_default();
        if fstype == "overlay" {
            let data = data.map(text).unwrap_or_default();
            let opt = |key: &str| {
                data.split(',').find_map(|kv| kv.strip_prefix(&format!("{key}="))).map(PathBuf::from)
            };
            let upper = opt("upperdir").ok_or(Errno::INVAL)?;
            let mut layers = vec![upper.clone()];
            layers
                .extend(opt("lowerdir").unwrap_or_default().to_string_lossy().split(':').map(PathBuf::from));
            return st.add_mount(target, "overlay", Some((layers, upper)));
        }
        st.add_mount(target, &fstype, None)
    }

    fn umount(&self, target: &CStr, detach: bool) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!("umount({}{})", text(target), if detach { ", DETACH" } else { "" }))?;
        if st.child.is_some() && target.to_bytes() == b"." {
            return Ok(());
        }
        let target = st.host(&path_of(target));
        st.unmount(&target)
    }

    fn fsopen(&self, fstype: &CStr) -> SysResult<Fd> {
        let mut st = self.lock();
        st.record(format!("fsopen({})", text(fstype)))?;
        st.contexts.push(FsContext { fstype: text(fstype), ..FsContext::default() });
        let id = st.contexts.len() - 1;
        Ok(st.new_fd(FdKind::FsContext(id)))
    }

    fn fsconfig_string(&self, fs: Fd, key: &CStr, value: &CStr) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!("fsconfig({}, {}, {})", fs.0, text(key), text(value)))?;
        let FdKind::FsContext(id) = st.fd(fs)? else { return Err(Errno::BADF) };
        st.contexts[id].params.push((text(key), text(value)));
        Ok(())
    }

    fn fsconfig_flag(&self, fs: Fd, key: &CStr) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!("fsconfig({}, {})", fs.0, text(key)))?;
        let FdKind::FsContext(id) = st.fd(fs)? else { return Err(Errno::BADF) };
        st.contexts[id].params.push((text(key), String::new()));
        Ok(())
    }

    fn fsconfig_create(&self, fs: Fd) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!("fsconfig({}, CREATE)", fs.0))?;
        let FdKind::FsContext(id) = st.fd(fs)? else { return Err(Errno::BADF) };
        let dirs: Vec<PathBuf> = st.contexts[id]
            .params
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "lowerdir+" | "upperdir" | "workdir"))
            .map(|(_, v)| PathBuf::from(v))
            .collect();
        for dir in dirs {
            if st.lookup(&dir)?.kind != Kind::Dir {
                return Err(Errno::NOTDIR);
            }
        }
        st.contexts[id].created = true;
        Ok(())
    }

    fn fsmount(&self, fs: Fd) -> SysResult<Fd> {
        let mut st = self.lock();
        st.record(format!("fsmount({})", fs.0))?;
        let FdKind::FsContext(id) = st.fd(fs)? else { return Err(Errno::BADF) };
        if !st.contexts[id].created {
            return Err(Errno::INVAL);
        }
        Ok(st.new_fd(FdKind::Mount(id)))
    }

    fn move_mount(&self, mnt: Fd, target: &CStr) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!("move_mount({}, {})", mnt.0, text(target)))?;
        let FdKind::Mount(id) = st.fd(mnt)? else { return Err(Errno::BADF) };
        let ctx = &st.contexts[id];
        let fstype = ctx.fstype.clone();
        let param = |key: &str| -> Vec<PathBuf> {
            ctx.params.iter().filter(|(k, _)| k == key).map(|(_, v)| PathBuf::from(v)).collect()
        };
        let upper = param("upperdir").into_iter().next();
        let mut layers: Vec<PathBuf> = upper.iter().cloned().collect();
        layers.extend(param("lowerdir+"));
        let target = st.host(&path_of(target));
        let view = upper.map(|u| (layers, u));
        st.add_mount(target, &fstype, view)
    }

    fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!("pivot_root({}, {})", text(new_root), text(put_old)))?;
        let root = st.host(&path_of(new_root));
        match st.child.as_mut() {
            Some(child) => {
                child.root = Some(root);
                child.cwd = PathBuf::from("/");
                Ok(())
            }
            None => Err(Errno::PERM),
        }
    }

    fn chdir(&self, path: &CStr) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!("chdir({})", text(path)))?;
        let host = st.host(&path_of(path));
        if st.lookup(&host)?.kind != Kind::Dir {
            return Err(Errno::NOTDIR);
        }
        if let Some(child) = st.child.as_mut() {
            child.cwd = if child.root.is_some() { path_of(path) } else { host };
        }
        Ok(())
    }

    fn sethostname(&self, name: &[u8]) -> SysResult<()> {
        self.record(format!("sethostname({})", String::from_utf8_lossy(name)))
    }

    fn setsid(&self) -> SysResult<()> {
        self.record("setsid()".to_owned())
    }

    fn reset_signals(&self) -> SysResult<()> {
        self.record("reset_signals()".to_owned())
    }

    fn loopback_up(&self) -> SysResult<()> {
        self.record("loopback_up()".to_owned())
    }

    fn setgroups(&self, gids: &[u32]) -> SysResult<()> {
        self.record(format!("setgroups({gids:?})"))
    }

    fn setresgid(&self, gid: u32) -> SysResult<()> {
        self.record(format!("setresgid({gid})"))
    }

    fn setresuid(&self, uid: u32) -> SysResult<()> {
        self.record(format!("setresuid({uid})"))
    }

    fn umask(&self, mask: u32) {
        let _ = self.record(format!("umask({mask:o})"));
    }

    fn set_keep_caps(&self, on: bool) -> SysResult<()> {
        self.record(format!("prctl(KEEPCAPS, {})", u8::from(on)))
    }

    fn capbset_drop(&self, cap: u32) -> SysResult<()> {
        self.record(format!("prctl(CAPBSET_DROP, {cap})"))
    }

    fn capset(&self, sets: CapSets) -> SysResult<()> {
        self.record(format!(
            "capset(eff={:#x}, perm={:#x}, inh={:#x})",
            sets.effective, sets.permitted, sets.inheritable
        ))
    }

    fn set_no_new_privs(&self) -> SysResult<()> {
        self.record("prctl(NO_NEW_PRIVS, 1)".to_owned())
    }

    fn set_parent_death_signal(&self, signal: i32) -> SysResult<()> {
        self.record(format!("prctl(PDEATHSIG, {signal})"))
    }

    fn seccomp_filter(&self, program: &[libc::sock_filter]) -> SysResult<()> {
        self.record(format!("seccomp({} instructions)", program.len()))
    }

    fn lstat(&self, path: &CStr) -> SysResult<Stat> {
        let mut st = self.lock();
        st.record(format!("lstat({})", text(path)))?;
        let host = st.host(&path_of(path));
        st.lookup(&host).map(stat_of)
    }

    fn stat(&self, path: &CStr) -> SysResult<Stat> {
        let mut st = self.lock();
        st.record(format!("stat({})", text(path)))?;
        let mut host = st.host(&path_of(path));
        for _ in 0..40 {
            let node = st.lookup(&host)?;
            if node.kind != Kind::Symlink {
                return Ok(stat_of(node));
            }
            let target = PathBuf::from(OsStr::from_bytes(&node.data));
            host = if target.is_absolute() {
                st.host(&target)
            } else {
                host.parent().unwrap_or(Path::new("/")).join(target)
            };
        }
        Err(Errno::LOOP)
    }

    fn readlink(&self, path: &CStr) -> SysResult<Vec<u8>> {
        let mut st = self.lock();
        st.record(format!("readlink({})", text(path)))?;
        let host = st.host(&path_of(path));
        let node = st.lookup(&host)?;
        if node.kind != Kind::Symlink {
            return Err(Errno::INVAL);
        }
        Ok(node.data.clone())
    }

    fn mkdir(&self, path: &CStr, mode: u32) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!("mkdir({}, {mode:o})", text(path)))?;
        let host = st.host(&path_of(path));
        st.check_new(&host)?;
        st.insert(host, Node::dir(mode & 0o755));
        Ok(())
    }

    fn mknod_char(&self, path: &CStr, mode: u32, major: u32, minor: u32) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!("mknod({}, {mode:o}, {major}/{minor})", text(path)))?;
        let host = st.host(&path_of(path));
        st.check_new(&host)?;
        let dev = (u64::from(major) << 8) | u64::from(minor);
        st.insert(host, Node { kind: Kind::Char(dev), ..Node::file(mode & 0o755, b"") });
        Ok(())
    }

    fn symlink(&self, target: &CStr, link: &CStr) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!("symlink({}, {})", text(target), text(link)))?;
        let host = st.host(&path_of(link));
        st.check_new(&host)?;
        st.insert(host, Node { kind: Kind::Symlink, ..Node::file(0o777, target.to_bytes()) });
        Ok(())
    }

    fn write_new_file(&self, path: &CStr, contents: &[u8], mode: u32) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!("write_new_file({}, {} bytes, {mode:o})", text(path), contents.len()))?;
        let host = st.host(&path_of(path));
        st.check_new(&host)?;
        st.insert(host, Node::file(mode, contents));
        Ok(())
    }

    fn read_file(&self, path: &CStr, limit: usize) -> SysResult<Vec<u8>> {
        let mut st = self.lock();
        st.record(format!("read_file({})", text(path)))?;
        let host = st.host(&path_of(path));
        let node = st.lookup(&host)?;
        match node.kind {
            Kind::File if node.data.len() > limit => Err(Errno::FBIG),
            Kind::File => Ok(node.data.clone()),
            Kind::Symlink => Err(Errno::LOOP),
            _ => Err(Errno::INVAL),
        }
    }

    fn chown(&self, path: &CStr, uid: u32, gid: u32) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!("chown({}, {uid}, {gid})", text(path)))?;
        let host = st.host(&path_of(path));
        st.lookup(&host)?;
        if let Some(node) = st.nodes.get_mut(&host) {
            node.uid = uid;
            node.gid = gid;
        }
        Ok(())
    }

    fn chmod(&self, path: &CStr, mode: u32) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!("chmod({}, {mode:o})", text(path)))?;
        let host = st.host(&path_of(path));
        st.lookup(&host)?;
        if let Some(node) = st.nodes.get_mut(&host) {
            node.mode = mode;
        }
        Ok(())
    }

    fn unlink(&self, path: &CStr) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!("unlink({})", text(path)))?;
        let host = st.host(&path_of(path));
        if st.lookup(&host)?.kind == Kind::Dir {
            return Err(Errno::ISDIR);
        }
        st.remove(&host);
        Ok(())
    }

    fn rmdir(&self, path: &CStr) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!("rmdir({})", text(path)))?;
        let host = st.host(&path_of(path));
        if st.lookup(&host)?.kind != Kind::Dir {
            return Err(Errno::NOTDIR);
        }
        if st.nodes.keys().any(|p| p.parent() == Some(host.as_path())) {
            return Err(Errno::NOTEMPTY);
        }
        if st.all_mounts().any(|m| m.target == host) {
            return Err(Errno::BUSY);
        }
        st.remove(&host);
        Ok(())
    }

    fn dir_is_empty(&self, path: &CStr) -> SysResult<bool> {
        let mut st = self.lock();
        st.record(format!("dir_is_empty({})", text(path)))?;
        let host = st.host(&path_of(path));
        if st.lookup(&host)?.kind != Kind::Dir {
            return Err(Errno::NOTDIR);
        }
        Ok(!st.nodes.keys().any(|p| p.parent() == Some(host.as_path())))
    }

    fn set_times(&self, path: &CStr, atime: Timestamp, mtime: Timestamp) -> SysResult<()> {
        let mut st = self.lock();
        st.record(format!("set_times({}, {}, {})", text(path), atime.sec, mtime.sec))?;
        let host = st.host(&path_of(path));
        st.lookup(&host)?;
        if let Some(node) = st.nodes.get_mut(&host) {
            node.atime = atime.sec;
            node.mtime = mtime.sec;
        }
        Ok(())
    }
}
