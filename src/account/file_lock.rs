//! Files that several fleetdash processes share (the app, a cron `fleetdash poll`, a
//! `fleetdash login` in a terminal): an OS lock that serializes their read-modify-write,
//! and a whole-file replace through a fresh temporary file.
//!
//! The lock lives on a sidecar file (`secrets.json.lock`) rather than on the file itself,
//! because that file is replaced by a rename: a lock on it would stay with the old inode,
//! and the next process would lock the new one and go ahead.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// An exclusive OS lock on a lock file, held until dropped. Locks taken through separate
/// opens exclude each other even within one process, so threads serialize too.
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// Waits for the lock on `path` (created, with its folder, when missing). Blocks the
    /// thread: from async code use [`FileLock::acquire_async`].
    pub fn acquire(path: &Path) -> std::io::Result<FileLock> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path)?;
        // fs4's call, not std's `File::lock` of the same name: the crate is the one the
        // stack was proven with, on every platform fleetdash ships for.
        fs4::FileExt::lock(&file)?;
        Ok(FileLock { file })
    }

    /// [`FileLock::acquire`] on a blocking thread, so a runtime (even a current-thread
    /// one) goes on running the task that holds the lock now and will release it.
    pub async fn acquire_async(path: PathBuf) -> std::io::Result<FileLock> {
        tokio::task::spawn_blocking(move || FileLock::acquire(&path))
            .await
            .map_err(std::io::Error::other)?
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first makes it immediate.
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

/// The lock file that guards `path`: `path` with `.lock` appended.
pub fn lock_path_for(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Replaces `path` with `bytes`, readable by its owner only: written to a temporary file
/// beside it, `fsync`ed, renamed over `path`, and the folder `fsync`ed, so a crash leaves
/// either the old or the new file. The temporary file is created fresh (`O_EXCL`, mode
/// 0600) under a name no other process picks (pid and a random part): a fixed name would
/// let two writers interleave, or follow a link planted at it.
pub fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let (temp, mut file) = create_temp_beside(path)?;
    let written = (|| {
        // A umask cannot widen the mode, but say it outright for files made elsewhere.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
        return written;
    }
    if let Some(dir) = path.parent()
        && let Ok(dir) = File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// A new, empty 0600 file beside `path`, named `.NAME.PID.RANDOM.tmp`.
fn create_temp_beside(path: &Path) -> std::io::Result<(PathBuf, File)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "fleetdash".into());
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    // A clash needs the same pid and 64 random bits; retry a few times all the same.
    let mut last = None;
    for _ in 0..8 {
        let temp = path.with_file_name(format!(
            ".{name}.{}.{:016x}.tmp",
            std::process::id(),
            rand::random::<u64>()
        ));
        match options.open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary file name")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_second_holder_waits_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("secrets.json.lock");
        let first = FileLock::acquire(&path).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let second_path = path.clone();
        let second = std::thread::spawn(move || {
            let held = FileLock::acquire(&second_path).unwrap();
            tx.send(()).unwrap();
            drop(held);
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "the second holder got the lock while the first held it"
        );
        drop(first);
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the second holder gets the lock once the first lets go");
        second.join().unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_replaced_file_is_0600_and_no_temporary_file_stays_behind() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        replace_file(&path, b"one").unwrap();
        replace_file(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("secrets.json")]);
    }
}
