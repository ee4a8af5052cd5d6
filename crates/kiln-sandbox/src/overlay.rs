//! Overlay mounts: [`mount_overlay`] stacks lower directories (top first) under an optional upper directory
//! with the new mount API, so any number of layers fits, and falls back to `mount(2)` on kernels older than
//! 6.8. Options make the upper directory a plain diff: `index=off,redirect_dir=off,metacopy=off`.
//!
//! A writable overlay is also `volatile` (Linux 5.10+): overlayfs then skips every sync of the upper
//! filesystem, including the whole-filesystem sync it otherwise does when the mount goes away. The upper
//! directory is a build step's scratch output; the store makes it durable as it sees fit (kiln makes the
//! layer blob durable and keeps the directory as an unsynced snapshot), so syncing it here only cost time:
//! about 0.3 s for a 300 MB layer. Kernels without the option mount without it.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};

use crate::error::SandboxError;
use crate::resolve::{c, cs};
use crate::sys::{Errno, Fd, MountFlags, Sys, SysFd};

/// Mounts an overlay at `target` with the new mount API (`lowerdir+` takes one directory per call, so any
/// number of layers fits, unlike the 4 KiB option page of `mount(2)`); kernels before 6.8 fall back to
/// `mount(2)` when the options fit. Without `upper` (`(upper, work)`) the overlay is read-only.
pub(crate) fn mount_overlay(
    sys: &dyn Sys,
    lower: &[PathBuf],
    upper: Option<(&Path, &Path)>,
    target: &Path,
) -> Result<(), SandboxError> {
    let ctarget = c(target, || target.display().to_string())?;
    let fs = match sys.fsopen(c"overlay") {
        Ok(fd) => SysFd::new(sys, fd),
        Err(Errno::NOSYS) => return mount_overlay_legacy(sys, lower, upper, target),
        Err(e) => return Err(SandboxError::setup("open an overlayfs context (fsopen)", e)),
    };
    let kernel_says = |fs: &SysFd<'_>| fs_log(sys, fs.fd());
    for (i, dir) in lower.iter().enumerate() {
        let cdir = c(dir, || dir.display().to_string())?;
        if let Err(e) = sys.fsconfig_string(fs.fd(), c"lowerdir+", &cdir) {
            if i == 0 && e == Errno::INVAL && kernel_says(&fs).contains("Unknown parameter") {
                fs.close();
                return mount_overlay_legacy(sys, lower, upper, target);
            }
            return Err(SandboxError::setup(
                format!("add the lower directory {} to the overlay{}", dir.display(), kernel_says(&fs)),
                e,
            ));
        }
    }
    let mut options: Vec<(&CStr, CString)> = Vec::new();
    if let Some((upper, work)) = upper {
        options.push((c"upperdir", c(upper, || upper.display().to_string())?));
        options.push((c"workdir", c(work, || work.display().to_string())?));
    }
    options.extend([(c"index", cs("off")), (c"redirect_dir", cs("off")), (c"metacopy", cs("off"))]);
    for (key, value) in &options {
        sys.fsconfig_string(fs.fd(), key, value).map_err(|e| {
            let (key, value) = (key.to_string_lossy(), value.to_string_lossy());
            SandboxError::setup(format!("set the overlay option {key}={value}{}", kernel_says(&fs)), e)
        })?;
    }
    if upper.is_some() {
        match sys.fsconfig_flag(fs.fd(), c"volatile") {
            Ok(()) => {}
            // Before Linux 5.10: no such option; the mount only syncs more.
            Err(Errno::INVAL) => drop(kernel_says(&fs)),
            Err(e) => {
                return Err(SandboxError::setup(
                    format!("set the overlay option volatile{}", kernel_says(&fs)),
                    e,
                ));
            }
        }
    }
    let describe = || {
        let upper = upper.map_or_else(
            || "read-only".to_owned(),
            |(u, w)| format!("upper {}, work {}", u.display(), w.display()),
        );
        format!(
            "mount the overlay at {} ({} lower, {upper}){}",
            target.display(),
            lower.len(),
            kernel_says(&fs)
        )
    };
    sys.fsconfig_create(fs.fd()).map_err(|e| SandboxError::setup(describe(), e))?;
    let mnt = SysFd::new(sys, sys.fsmount(fs.fd()).map_err(|e| SandboxError::setup(describe(), e))?);
    sys.move_mount(mnt.fd(), &ctarget).map_err(|e| SandboxError::setup(describe(), e))?;
    Ok(())
}

/// The kernel's messages about a failed `fsconfig` (read from the fs context), as " (kernel: ...)".
fn fs_log(sys: &dyn Sys, fs: Fd) -> String {
    let mut lines = Vec::new();
    let mut buf = [0u8; 512];
    while let Ok(n) = sys.read(fs, &mut buf) {
        if n == 0 || lines.len() > 8 {
            break;
        }
        let text = String::from_utf8_lossy(&buf[..n]);
        // Messages start with "e ", "w " or "i " (error, warning, info).
        lines.push(text.get(2..).unwrap_or(&text).trim().to_owned());
    }
    if lines.is_empty() { String::new() } else { format!(" (kernel: {})", lines.join("; ")) }
}

/// Escapes `\`, `:` and `,` in an overlay path option.
fn escape_overlay_path(path: &Path) -> String {
    let mut out = String::new();
    for ch in path.to_string_lossy().chars() {
        if matches!(ch, '\\' | ':' | ',') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

fn mount_overlay_legacy(
    sys: &dyn Sys,
    lower: &[PathBuf],
    upper: Option<(&Path, &Path)>,
    target: &Path,
) -> Result<(), SandboxError> {
    let lowers: Vec<String> = lower.iter().map(|p| escape_overlay_path(p)).collect();
    let mut data = format!("lowerdir={}", lowers.join(":"));
    if let Some((upper, work)) = upper {
        data.push_str(&format!(
            ",upperdir={},workdir={}",
            escape_overlay_path(upper),
            escape_overlay_path(work)
        ));
    }
    data.push_str(",index=off,redirect_dir=off,metacopy=off");
    if upper.is_some() {
        data.push_str(",volatile");
    }
    // The kernel copies mount options into one page.
    if data.len() >= 4096 {
        return Err(SandboxError::setup(
            format!(
                "mount the overlay at {}: {} lower directories need {} bytes of options, more than the 4 KiB \
                 mount(2) accepts on this kernel (Linux 6.8 or newer lifts the limit)",
                target.display(),
                lower.len(),
                data.len()
            ),
            Errno::TOOBIG,
        ));
    }
    let ctarget = c(target, || target.display().to_string())?;
    let mount = |data: &str| {
        sys.mount(Some(c"overlay"), &ctarget, Some(c"overlay"), MountFlags::NONE, Some(&cs(data)))
    };
    let mounted = match mount(&data) {
        // Before Linux 5.10 `volatile` is unknown: mount without it.
        Err(Errno::INVAL) if data.ends_with(",volatile") => mount(data.trim_end_matches(",volatile")),
        other => other,
    };
    mounted.map_err(|e| {
        SandboxError::setup(format!("mount the overlay at {} ({} lower)", target.display(), lower.len()), e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_overlay_options_are_escaped() {
        assert_eq!(escape_overlay_path(Path::new("/a:b,c\\d")), "/a\\:b\\,c\\\\d");
    }
}
