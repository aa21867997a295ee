//! The state directory's safety: it is private (directory 0700, files 0600: they hold hire bodies,
//! events and keys) and held by one process at a time. Two gateways on one directory would scan,
//! record and recover each other's work twice, so the second one refuses to start, naming the
//! holder (pid and host, written into the lock file).
//!
//! The lock is `flock` on `ats-gateway.lock`: the kernel drops it when the process dies, so a
//! crash leaves nothing to clean up. Inside one process the directory may be opened again (a
//! restart in tests) while the first store is still alive: both share the one lock.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::StoreError;

pub const LOCK_FILE: &str = "ats-gateway.lock";
/// The `/v1/changes` cursor key when `gateway.cursor_key` is empty: generated once, kept here.
pub const CURSOR_KEY_FILE: &str = "cursor.key";

/// Held for as long as the store is open; the lock goes with the last holder in this process.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

fn held() -> &'static Mutex<HashMap<PathBuf, Weak<DirLock>>> {
    static HELD: OnceLock<Mutex<HashMap<PathBuf, Weak<DirLock>>>> = OnceLock::new();
    HELD.get_or_init(Mutex::default)
}

/// Creates `dir` (0700) if needed, makes it private, and takes its lock.
pub fn prepare(dir: &Path) -> Result<Arc<DirLock>, StoreError> {
    create_private_dir(dir)
        .map_err(|e| StoreError::Backend(format!("cannot create {} ({e})", dir.display())))?;
    let key = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut map = match held().lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if let Some(lock) = map.get(&key).and_then(Weak::upgrade) {
        return Ok(lock);
    }
    let lock = Arc::new(take_lock(dir)?);
    map.retain(|_, w| w.strong_count() > 0);
    map.insert(key, Arc::downgrade(&lock));
    Ok(lock)
}

fn take_lock(dir: &Path) -> Result<DirLock, StoreError> {
    let path = dir.join(LOCK_FILE);
    let mut file = private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| StoreError::Backend(format!("cannot open {} ({e})", path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() { "unknown" } else { holder };
            return Err(StoreError::Backend(format!(
                "{} is in use by another ats-gateway ({holder}); one state directory serves one process",
                dir.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(StoreError::Backend(format!(
                "cannot lock {} ({e})",
                path.display()
            )))
        }
    }
    let holder = format!("pid {} on host {}\n", std::process::id(), hostname());
    file.set_len(0)
        .and_then(|()| file.write_all(holder.as_bytes()))
        .and_then(|()| file.sync_all())
        .map_err(|e| StoreError::Backend(format!("cannot write {} ({e})", path.display())))?;
    Ok(DirLock { _file: file })
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    // A directory made by an older version (0755) becomes private too.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn private_options() -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = OpenOptions::new();
    o.mode(0o600);
    o
}

#[cfg(not(unix))]
fn private_options() -> OpenOptions {
    OpenOptions::new()
}

/// Makes `path` a 0600 file: created empty if missing (SQLite then gives its `-wal`/`-shm` files
/// the same mode), narrowed if an older version left it 0644.
pub fn private_file(path: &Path) -> Result<(), StoreError> {
    let bad = |e: std::io::Error| StoreError::Backend(format!("{} ({e})", path.display()));
    private_options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(bad)?;
    narrow(path).map_err(bad)
}

/// Narrows an existing file to 0600 (nothing to do when it does not exist).
pub fn narrow(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// A 32-byte key kept in `dir/name` (64 hex characters, 0600), generated the first time.
pub fn key_file(dir: &Path, name: &str) -> Result<[u8; 32], StoreError> {
    let path = dir.join(name);
    let bad = |what: String| StoreError::Backend(format!("{}: {what}", path.display()));
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            narrow(&path).map_err(|e| bad(e.to_string()))?;
            crate::config::hex_key(text.trim()).ok_or_else(|| bad("not 64 hex characters".into()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; 32] = rand::random();
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            let mut f = private_options()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| bad(e.to_string()))?;
            f.write_all(hex.as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| bad(e.to_string()))?;
            Ok(key)
        }
        Err(e) => Err(bad(e.to_string())),
    }
}

/// Tables every hire reads and writes: checked by readiness.
const HIRE_TABLES: [&str; 2] = ["idempotency", "plans"];

impl super::sqlite::SqliteStore {
    /// A cheap health check for readiness: SQLite's `quick_check` of the hire tables (page
    /// structure, small tables). A corrupted page there makes every hire fail, so the gateway
    /// must not report ready.
    pub async fn check(&self) -> Result<(), StoreError> {
        self.run(|conn| {
            for table in HIRE_TABLES {
                let verdict: String = conn
                    .query_row(&format!("PRAGMA quick_check({table})"), [], |r| r.get(0))
                    .map_err(|e| StoreError::Backend(format!("{table}: {e}")))?;
                if verdict != "ok" {
                    return Err(StoreError::Backend(format!("{table}: {verdict}")));
                }
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_generated_once() {
        let d = tempfile::tempdir().expect("dir");
        let a = key_file(d.path(), "k.key").expect("new");
        let b = key_file(d.path(), "k.key").expect("kept");
        assert_eq!(a, b);
    }

    #[cfg(unix)]
    #[test]
    fn directory_and_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().expect("dir");
        let dir = d.path().join("state");
        let _lock = prepare(&dir).expect("prepare");
        private_file(&dir.join("x")).expect("file");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("x")), 0o600);
        assert_eq!(mode(&dir.join(LOCK_FILE)), 0o600);
    }
}
