//! Replacing a file atomically, safely from any number of threads and processes at once.
//!
//! The data goes to a temporary file of its own next to the target, named
//! `.<name>.tmp.<pid>.<n>` (`n` counts the process's saves, so no two writers of one process
//! or of two live processes share a name), which is synced, renamed over the target and
//! followed by a sync of the folder, so the rename itself survives a power loss. A reader of
//! the target sees the old file or the new one, never a mix. A writer killed mid-save leaves its
//! temporary file behind; the next save to the same target removes those whose process is gone.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Saves started by this process; part of every temporary file name.
static SAVES: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` with `data` atomically (see the module documentation).
pub(crate) fn replace(path: &Path, data: &[u8]) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file")
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    remove_stale_temporaries(dir, name);
    let (tmp, mut file) = create_temporary(dir, name)?;
    let result = (|| {
        file.write_all(data)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        // The name is this save's alone: removing it cannot touch another writer's file (and
        // after a successful rename it no longer exists).
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The prefix of every temporary file of target `name`.
fn temporary_prefix(name: &OsStr) -> Option<String> {
    name.to_str().map(|n| format!(".{n}.tmp."))
}

/// Creates a fresh temporary file; `create_new` refuses a name that already exists (a leftover
/// of a dead process that had our pid), and the next number is tried.
fn create_temporary(dir: &Path, name: &OsStr) -> io::Result<(PathBuf, File)> {
    let pid = std::process::id();
    let prefix =
        temporary_prefix(name).unwrap_or_else(|| format!(".{}.tmp.", name.to_string_lossy()));
    let mut last = None;
    for _ in 0..64 {
        let n = SAVES.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!("{prefix}{pid}.{n}"));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("the loop ran"))
}

/// Removes the temporary files of target `name` in `dir` whose writer process no longer exists.
/// Best effort: a file that cannot be listed or removed is left, and the save goes on.
fn remove_stale_temporaries(dir: &Path, name: &OsStr) {
    let Some(prefix) = temporary_prefix(name) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let own = std::process::id();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix))
            .and_then(writer_pid)
        else {
            continue;
        };
        if pid != own && !process_exists(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The writer's pid from the `<pid>.<n>` tail of a temporary file's name.
fn writer_pid(tail: &str) -> Option<u32> {
    let (pid, n) = tail.split_once('.')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Whether process `pid` exists. Errs on the side of "yes": a live writer's file must never go.
#[cfg(target_os = "linux")]
fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return true;
    };
    if pid <= 0 {
        return true;
    }
    // SAFETY: signal 0 sends nothing; kill only checks that the process exists (and whether we
    // may signal it: EPERM means it exists).
    if unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Without a way to ask about another process, every writer counts as alive: stale temporary
/// files are kept rather than risking a live writer's.
#[cfg(not(target_os = "linux"))]
fn process_exists(_pid: u32) -> bool {
    true
}

/// Makes a rename in `dir` durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Folders cannot be opened for syncing here; the rename is atomic but may not survive a power
/// loss.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_pid_reads_only_well_formed_tails() {
        assert_eq!(writer_pid("1234.0"), Some(1234));
        assert_eq!(writer_pid("1234.17"), Some(1234));
        assert_eq!(writer_pid("1234"), None);
        assert_eq!(writer_pid("1234.x"), None);
        assert_eq!(writer_pid("abc.1"), None);
        assert_eq!(writer_pid("-5.1"), None);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn this_process_exists_and_a_reaped_child_does_not() {
        assert!(process_exists(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!process_exists(pid));
    }
}
