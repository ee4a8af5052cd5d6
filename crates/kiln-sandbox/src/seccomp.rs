//! The default seccomp filter: a classic-BPF program that refuses, with `EPERM`, the system calls Docker's
//! default profile refuses to a container holding Docker's default capabilities.
//!
//! Docker's profile is an allow-list of ~370 names; this is the complement written as a deny-list of what it
//! leaves out for the default capability set (mount and the new mount API, namespaces, `pivot_root`, kernel
//! modules, kexec, keyrings, BPF, perf, `userfaultfd`, `io_uring`, NUMA policy, clock setting, swap, reboot,
//! `open_by_handle_at`, `kcmp`, ...), plus Docker's argument rules: `clone` with a namespace flag,
//! `personality` other than the harmless values, `socket(AF_VSOCK)`; `clone3` answers `ENOSYS` so that libc
//! falls back to `clone`, whose flags can be checked. On x86-64 the i386 table is filtered too and the x32
//! ABI is refused. System calls the kernel adds later are allowed (Docker would refuse them until its
//! profile lists them).
//!
//! Written by hand rather than with `seccompiler`: the program is ~130 instructions of data, and a builder
//! crate would add a dependency for what a 40-line assembler below does.

use crate::error::SandboxError;
use crate::sys::Errno;

/// `(name, number)` of every refused system call for one architecture.
type Table = &'static [(&'static str, u32)];

#[cfg(target_arch = "x86_64")]
mod arch {
    pub(super) const AUDIT_ARCH: u32 = 0xC000_003E;
    /// The i386 ABI, reachable from 64-bit processes through `int 0x80`.
    pub(super) const COMPAT: Option<(u32, super::Table)> = Some((0x4000_0003, I386));
    /// System call numbers with this bit belong to the x32 ABI.
    pub(super) const X32_BIT: Option<u32> = Some(0x4000_0000);
    pub(super) const CLONE: u32 = 56;
    pub(super) const CLONE3: u32 = 435;
    pub(super) const PERSONALITY: u32 = 135;
    pub(super) const SOCKET: Option<u32> = Some(41);
    pub(super) const DENY: super::Table = &[
        ("acct", 163),
        ("add_key", 248),
        ("bpf", 321),
        ("clock_settime", 227),
        ("settimeofday", 164),
        ("create_module", 174),
        ("delete_module", 176),
        ("finit_module", 313),
        ("init_module", 175),
        ("get_kernel_syms", 177),
        ("get_mempolicy", 239),
        ("set_mempolicy", 238),
        ("mbind", 237),
        ("move_pages", 279),
        ("migrate_pages", 256),
        ("ioperm", 173),
        ("iopl", 172),
        ("kcmp", 312),
        ("kexec_file_load", 320),
        ("kexec_load", 246),
        ("keyctl", 250),
        ("request_key", 249),
        ("lookup_dcookie", 212),
        ("mount", 165),
        ("umount2", 166),
        ("name_to_handle_at", 303),
        ("open_by_handle_at", 304),
        ("nfsservctl", 180),
        ("perf_event_open", 298),
        ("pivot_root", 155),
        ("query_module", 178),
        ("quotactl", 179),
        ("quotactl_fd", 443),
        ("reboot", 169),
        ("setns", 308),
        ("unshare", 272),
        ("swapon", 167),
        ("swapoff", 168),
        ("sysfs", 139),
        ("_sysctl", 156),
        ("uselib", 134),
        ("userfaultfd", 323),
        ("ustat", 136),
        ("fsopen", 430),
        ("fsconfig", 431),
        ("fsmount", 432),
        ("fspick", 433),
        ("move_mount", 429),
        ("open_tree", 428),
        ("open_tree_attr", 467),
        ("mount_setattr", 442),
        ("io_uring_setup", 425),
        ("io_uring_enter", 426),
        ("io_uring_register", 427),
        ("fanotify_init", 300),
        ("vhangup", 153),
        ("syslog", 103),
    ];
    const I386: super::Table = &[
        ("acct", 51),
        ("add_key", 286),
        ("bpf", 357),
        ("clock_settime", 264),
        ("settimeofday", 79),
        ("stime", 25),
        ("create_module", 127),
        ("delete_module", 129),
        ("finit_module", 350),
        ("init_module", 128),
        ("get_kernel_syms", 130),
        ("get_mempolicy", 275),
        ("set_mempolicy", 276),
        ("mbind", 274),
        ("move_pages", 317),
        ("migrate_pages", 294),
        ("ioperm", 101),
        ("iopl", 110),
        ("kcmp", 349),
        ("kexec_load", 283),
        ("keyctl", 288),
        ("request_key", 287),
        ("lookup_dcookie", 253),
        ("mount", 21),
        ("umount", 22),
        ("umount2", 52),
        ("name_to_handle_at", 341),
        ("open_by_handle_at", 342),
        ("nfsservctl", 169),
        ("perf_event_open", 336),
        ("pivot_root", 217),
        ("query_module", 167),
        ("quotactl", 131),
        ("quotactl_fd", 443),
        ("reboot", 88),
        ("setns", 346),
        ("unshare", 310),
        ("swapon", 87),
        ("swapoff", 115),
        ("sysfs", 135),
        ("_sysctl", 149),
        ("uselib", 86),
        ("userfaultfd", 374),
        ("ustat", 62),
        ("vm86", 166),
        ("vm86old", 113),
        ("fsopen", 430),
        ("fsconfig", 431),
        ("fsmount", 432),
        ("fspick", 433),
        ("move_mount", 429),
        ("open_tree", 428),
        ("open_tree_attr", 467),
        ("mount_setattr", 442),
        ("io_uring_setup", 425),
        ("io_uring_enter", 426),
        ("io_uring_register", 427),
        ("fanotify_init", 338),
        ("vhangup", 111),
        ("syslog", 103),
        ("clone3", 435),
    ];
    /// i386 `clone`, checked like the native one.
    pub(super) const COMPAT_CLONE: u32 = 120;
}

#[cfg(target_arch = "aarch64")]
mod arch {
    pub(super) const AUDIT_ARCH: u32 = 0xC000_00B7;
    pub(super) const COMPAT: Option<(u32, super::Table)> = None;
    pub(super) const X32_BIT: Option<u32> = None;
    pub(super) const CLONE: u32 = 220;
    pub(super) const CLONE3: u32 = 435;
    pub(super) const PERSONALITY: u32 = 92;
    pub(super) const SOCKET: Option<u32> = Some(198);
    pub(super) const DENY: super::Table = &[
        ("acct", 89),
        ("add_key", 217),
        ("bpf", 280),
        ("clock_settime", 112),
        ("settimeofday", 170),
        ("delete_module", 106),
        ("finit_module", 273),
        ("init_module", 105),
        ("get_mempolicy", 236),
        ("set_mempolicy", 237),
        ("mbind", 235),
        ("move_pages", 239),
        ("migrate_pages", 238),
        ("kcmp", 272),
        ("kexec_file_load", 294),
        ("kexec_load", 104),
        ("keyctl", 219),
        ("request_key", 218),
        ("lookup_dcookie", 18),
        ("mount", 40),
        ("umount2", 39),
        ("name_to_handle_at", 264),
        ("open_by_handle_at", 265),
        ("nfsservctl", 42),
        ("perf_event_open", 241),
        ("pivot_root", 41),
        ("quotactl", 60),
        ("quotactl_fd", 443),
        ("reboot", 142),
        ("setns", 268),
        ("unshare", 97),
        ("swapon", 224),
        ("swapoff", 225),
        ("userfaultfd", 282),
        ("fsopen", 430),
        ("fsconfig", 431),
        ("fsmount", 432),
        ("fspick", 433),
        ("move_mount", 429),
        ("open_tree", 428),
        ("open_tree_attr", 467),
        ("mount_setattr", 442),
        ("io_uring_setup", 425),
        ("io_uring_enter", 426),
        ("io_uring_register", 427),
        ("fanotify_init", 262),
        ("vhangup", 58),
        ("syslog", 116),
    ];
    pub(super) const COMPAT_CLONE: u32 = u32::MAX;
}

/// Namespace flags `clone` may not carry (Docker's mask 0x7E020000).
const CLONE_NS_FLAGS: u32 = 0x7E02_0000;
/// `personality` values Docker allows (Linux, query, and two harmless flag combinations).
const PERSONALITY_ALLOWED: &[u32] = &[0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];
/// `AF_VSOCK`.
const AF_VSOCK: u32 = 40;

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
/// Low 32 bits of the first argument (little-endian).
const OFF_ARG0: u32 = 16;

/// A jump target while assembling.
#[derive(Clone, Copy, PartialEq, Eq)]
enum To {
    Next,
    Label(usize),
}

enum Ins {
    Load(u32),
    Jump { op: u16, k: u32, yes: To, no: To },
    Ret(u32),
    Label(usize),
}

struct Asm {
    code: Vec<Ins>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> usize {
        self.labels += 1;
        self.labels - 1
    }
    fn load(&mut self, off: u32) {
        self.code.push(Ins::Load(off));
    }
    fn jeq(&mut self, k: u32, yes: To, no: To) {
        self.code.push(Ins::Jump { op: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16, k, yes, no });
    }
    fn jge(&mut self, k: u32, yes: To, no: To) {
        self.code.push(Ins::Jump { op: (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16, k, yes, no });
    }
    fn jset(&mut self, k: u32, yes: To, no: To) {
        self.code.push(Ins::Jump { op: (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16, k, yes, no });
    }
    fn ret(&mut self, k: u32) {
        self.code.push(Ins::Ret(k));
    }
    fn place(&mut self, label: usize) {
        self.code.push(Ins::Label(label));
    }

    fn finish(self) -> Result<Vec<libc::sock_filter>, SandboxError> {
        let mut at = vec![0usize; self.labels];
        let mut n = 0;
        for ins in &self.code {
            match ins {
                Ins::Label(l) => at[*l] = n,
                _ => n += 1,
            }
        }
        let mut out = Vec::with_capacity(n);
        for ins in &self.code {
            let pc = out.len();
            let offset = |to: To| -> Result<u8, SandboxError> {
                match to {
                    To::Next => Ok(0),
                    To::Label(l) => u8::try_from(at[l] - pc - 1).map_err(|_| {
                        SandboxError::setup("assemble the seccomp filter (jump too far)", Errno::TOOBIG)
                    }),
                }
            };
            out.push(match ins {
                Ins::Label(_) => continue,
                Ins::Load(off) => libc::sock_filter {
                    code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
                    jt: 0,
                    jf: 0,
                    k: *off,
                },
                Ins::Jump { op, k, yes, no } => {
                    libc::sock_filter { code: *op, jt: offset(*yes)?, jf: offset(*no)?, k: *k }
                }
                Ins::Ret(k) => {
                    libc::sock_filter { code: (libc::BPF_RET | libc::BPF_K) as u16, jt: 0, jf: 0, k: *k }
                }
            });
        }
        Ok(out)
    }
}

/// The default filter for this architecture.
pub(crate) fn default_filter() -> Result<Vec<libc::sock_filter>, SandboxError> {
    let mut a = Asm { code: Vec::new(), labels: 0 };
    let (allow, eperm, enosys) = (a.label(), a.label(), a.label());
    let (native, clone_check) = (a.label(), a.label());

    a.load(OFF_ARCH);
    a.jeq(arch::AUDIT_ARCH, To::Label(native), To::Next);
    if let Some((compat_arch, table)) = arch::COMPAT {
        let compat = a.label();
        a.jeq(compat_arch, To::Label(compat), To::Label(eperm));
        a.place(compat);
        a.load(OFF_NR);
        for (_, nr) in table {
            a.jeq(*nr, To::Label(eperm), To::Next);
        }
        a.jeq(arch::COMPAT_CLONE, To::Label(clone_check), To::Label(allow));
    } else {
        a.ret(RET_ERRNO | libc::EPERM as u32);
    }

    a.place(native);
    a.load(OFF_NR);
    if let Some(bit) = arch::X32_BIT {
        a.jge(bit, To::Label(eperm), To::Next);
    }
    for (_, nr) in arch::DENY {
        a.jeq(*nr, To::Label(eperm), To::Next);
    }
    a.jeq(arch::CLONE3, To::Label(enosys), To::Next);
    a.jeq(arch::CLONE, To::Label(clone_check), To::Next);
    let personality = a.label();
    a.jeq(arch::PERSONALITY, To::Label(personality), To::Next);
    if let Some(socket) = arch::SOCKET {
        let socket_check = a.label();
        a.jeq(socket, To::Label(socket_check), To::Label(allow));
        a.place(socket_check);
        a.load(OFF_ARG0);
        a.jeq(AF_VSOCK, To::Label(eperm), To::Label(allow));
    } else {
        a.ret(RET_ALLOW);
    }

    a.place(personality);
    a.load(OFF_ARG0);
    for value in PERSONALITY_ALLOWED {
        a.jeq(*value, To::Label(allow), To::Next);
    }
    a.ret(RET_ERRNO | libc::EPERM as u32);

    a.place(clone_check);
    a.load(OFF_ARG0);
    a.jset(CLONE_NS_FLAGS, To::Label(eperm), To::Label(allow));

    a.place(allow);
    a.ret(RET_ALLOW);
    a.place(eperm);
    a.ret(RET_ERRNO | libc::EPERM as u32);
    a.place(enosys);
    a.ret(RET_ERRNO | libc::ENOSYS as u32);
    a.finish()
}

/// Runs the filter like the kernel would on `(arch, nr, arg0)` (for tests).
#[cfg(test)]
fn evaluate(program: &[libc::sock_filter], arch: u32, nr: u32, arg0: u32) -> u32 {
    let mut acc = 0u32;
    let mut pc = 0usize;
    loop {
        let ins = program[pc];
        pc += 1;
        match ins.code as u32 {
            c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => {
                acc = match ins.k {
                    OFF_NR => nr,
                    OFF_ARCH => arch,
                    OFF_ARG0 => arg0,
                    other => panic!("unexpected load offset {other}"),
                }
            }
            c if c == libc::BPF_RET | libc::BPF_K => return ins.k,
            c => {
                let taken = match c & 0xf0 {
                    x if x == libc::BPF_JEQ => acc == ins.k,
                    x if x == libc::BPF_JGE => acc >= ins.k,
                    x if x == libc::BPF_JSET => acc & ins.k != 0,
                    other => panic!("unexpected jump {other:#x}"),
                };
                pc += usize::from(if taken { ins.jt } else { ins.jf });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPERM: u32 = RET_ERRNO | libc::EPERM as u32;

    #[test]
    fn refuses_the_deny_list_and_allows_the_rest() {
        let p = default_filter().unwrap();
        let native = arch::AUDIT_ARCH;
        for (name, nr) in arch::DENY {
            assert_eq!(evaluate(&p, native, *nr, 0), EPERM, "{name}");
        }
        for nr in [libc::SYS_read, libc::SYS_write, libc::SYS_execve, libc::SYS_chroot, libc::SYS_sethostname]
        {
            assert_eq!(evaluate(&p, native, nr as u32, 0), RET_ALLOW, "syscall {nr}");
        }
    }

    #[test]
    fn argument_rules_follow_docker() {
        let p = default_filter().unwrap();
        let native = arch::AUDIT_ARCH;
        let fork_flags = (libc::CLONE_CHILD_SETTID | libc::CLONE_CHILD_CLEARTID | libc::SIGCHLD) as u32;
        assert_eq!(evaluate(&p, native, arch::CLONE, fork_flags), RET_ALLOW);
        assert_eq!(evaluate(&p, native, arch::CLONE, fork_flags | libc::CLONE_NEWUSER as u32), EPERM);
        assert_eq!(evaluate(&p, native, arch::CLONE3, 0), RET_ERRNO | libc::ENOSYS as u32);
        assert_eq!(evaluate(&p, native, arch::PERSONALITY, 0xffff_ffff), RET_ALLOW);
        assert_eq!(evaluate(&p, native, arch::PERSONALITY, 0x0040_0000), EPERM);
        if let Some(socket) = arch::SOCKET {
            assert_eq!(evaluate(&p, native, socket, libc::AF_INET as u32), RET_ALLOW);
            assert_eq!(evaluate(&p, native, socket, AF_VSOCK), EPERM);
        }
        assert_eq!(evaluate(&p, 0x1234, 0, 0), EPERM, "unknown architectures are refused");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_i386_and_x32_doors_are_closed() {
        let p = default_filter().unwrap();
        assert_eq!(evaluate(&p, 0x4000_0003, 21, 0), EPERM, "i386 mount");
        assert_eq!(evaluate(&p, 0x4000_0003, 120, libc::CLONE_NEWNS as u32), EPERM, "i386 clone(NEWNS)");
        assert_eq!(evaluate(&p, 0x4000_0003, 3, 0), RET_ALLOW, "i386 read");
        assert_eq!(evaluate(&p, arch::AUDIT_ARCH, 0x4000_0000 | 165, 0), EPERM, "x32 mount");
    }
}
