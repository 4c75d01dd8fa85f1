//! Where secrets live: the client secret, the management token, and each grant's tokens,
//! kept together as one JSON map. In the OS credential store (Secret Service on Linux,
//! Keychain on macOS, Credential Manager on Windows) when one runs; otherwise in a file
//! readable by its owner only (0600), written whole through a temporary file, `fsync` and
//! a rename, so a crash leaves either the old or the new file and never a half-written one
//! (a rotated refresh token that got lost would end the grant).
//!
//! Several processes may share the store (the app, a cron `fleetdash poll`, `fleetdash
//! login`): every change is a read-modify-write under an OS lock on `secrets.json.lock`
//! beside the file (also when the credential store holds the secrets), and
//! [`SecretStore::lock`] hands that lock to callers that must keep it longer (a token
//! refresh, across its HTTP call).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::file_lock::{FileLock, lock_path_for, replace_file};
use crate::smartcar::client::Secret;

/// What went wrong with the secret file.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// Reading or writing failed.
    #[error("the secret file {path} could not be {action}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// "read", "written" or "locked".
        action: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not what fleetdash writes.
    #[error("the secret file {0} is damaged: move it away and sign in again")]
    Damaged(PathBuf),
    /// The OS credential store refused.
    #[error(
        "the system's credential store failed ({0}): unlock it, or set FLEETDASH_SECRETS to keep secrets in a file"
    )]
    Keyring(String),
}

/// The credential store's service and entry names.
const KEYRING_SERVICE: &str = "fleetdash";
const KEYRING_ENTRY: &str = "secrets";

/// The secret store.
#[derive(Debug, Clone)]
pub struct SecretStore {
    path: PathBuf,
    /// The credential store's service name, when secrets go there.
    keyring: Option<String>,
}

impl SecretStore {
    /// The store in the file at `path` (no credential store).
    pub fn at(path: &Path) -> Self {
        SecretStore {
            path: path.to_owned(),
            keyring: None,
        }
    }

    /// The OS credential store when one runs, else the file at `fallback`. A file written
    /// earlier (when no credential store ran) stays in use, so no secret is stranded.
    pub fn platform(fallback: &Path) -> Self {
        SecretStore::platform_named(fallback, KEYRING_SERVICE)
    }

    /// [`SecretStore::platform`] under another service name (tests keep off the real one).
    pub fn platform_named(fallback: &Path, service: &str) -> Self {
        let use_keyring = !fallback.exists() && keyring_available();
        SecretStore {
            path: fallback.to_owned(),
            keyring: use_keyring.then(|| service.to_owned()),
        }
    }

    /// True when secrets go to the OS credential store.
    pub fn uses_keyring(&self) -> bool {
        self.keyring.is_some()
    }

    /// The default: `secrets.json` in the platform's config directory.
    pub fn default_path() -> PathBuf {
        directories::ProjectDirs::from("", "", "fleetdash")
            .map(|d| d.config_dir().join("secrets.json"))
            .unwrap_or_else(|| PathBuf::from("fleetdash-secrets.json"))
    }

    /// Where secrets are kept, in words for the user.
    pub fn describe(&self) -> String {
        if self.keyring.is_some() {
            "in the system's credential store (keyring)".into()
        } else {
            format!(
                "in {}, readable only by you (no system credential store is running)",
                self.path.display()
            )
        }
    }

    fn load(&self) -> Result<BTreeMap<String, String>, SecretsError> {
        if let Some(service) = &self.keyring {
            return match on_own_thread(service, |entry| entry.get_password()) {
                Ok(text) => serde_json::from_str(&text)
                    .map_err(|_| SecretsError::Keyring("its fleetdash entry is damaged".into())),
                Err(keyring::Error::NoEntry) => Ok(BTreeMap::new()),
                Err(error) => Err(SecretsError::Keyring(error.to_string())),
            };
        }
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|_| SecretsError::Damaged(self.path.clone()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(source) => Err(SecretsError::Io {
                path: self.path.clone(),
                action: "read",
                source,
            }),
        }
    }

    fn save(&self, map: &BTreeMap<String, String>) -> Result<(), SecretsError> {
        if let Some(service) = &self.keyring {
            let text = serde_json::to_string(map).unwrap_or_default();
            return on_own_thread(service, move |entry| entry.set_password(&text))
                .map_err(|e| SecretsError::Keyring(e.to_string()));
        }
        let bytes = serde_json::to_vec_pretty(map).unwrap_or_default();
        replace_file(&self.path, &bytes).map_err(|source| SecretsError::Io {
            path: self.path.clone(),
            action: "written",
            source,
        })
    }

    /// The lock file that serializes changes to this store across processes.
    fn lock_path(&self) -> PathBuf {
        lock_path_for(&self.path)
    }

    /// Takes the store's lock (waiting for another process or thread that holds it): until
    /// the guard drops, nobody else changes the store. Blocks the thread: from async code
    /// use [`SecretStore::lock_async`].
    pub fn lock(&self) -> Result<SecretsLock<'_>, SecretsError> {
        let held = FileLock::acquire(&self.lock_path()).map_err(|e| self.lock_error(e))?;
        Ok(SecretsLock {
            store: self,
            _held: held,
        })
    }

    /// [`SecretStore::lock`] without blocking the runtime while it waits.
    pub async fn lock_async(&self) -> Result<SecretsLock<'_>, SecretsError> {
        let held = FileLock::acquire_async(self.lock_path())
            .await
            .map_err(|e| self.lock_error(e))?;
        Ok(SecretsLock {
            store: self,
            _held: held,
        })
    }

    fn lock_error(&self, source: std::io::Error) -> SecretsError {
        SecretsError::Io {
            path: self.lock_path(),
            action: "locked",
            source,
        }
    }

    /// The secret named `key`, if stored.
    pub fn get(&self, key: &str) -> Result<Option<Secret>, SecretsError> {
        Ok(self.load()?.remove(key).map(Secret::new))
    }

    /// Stores (or with `None` removes) the secret named `key`, under the store's lock;
    /// durable when it returns. Blocks while another holds the lock.
    pub fn set(&self, key: &str, value: Option<&Secret>) -> Result<(), SecretsError> {
        self.lock()?.set(key, value)
    }

    /// Every key starting with `prefix`.
    pub fn keys(&self, prefix: &str) -> Result<Vec<String>, SecretsError> {
        Ok(self
            .load()?
            .into_keys()
            .filter(|k| k.starts_with(prefix))
            .collect())
    }
}

/// The store's lock, held: reads and changes through it see every change made before it
/// was taken, and no other process changes the store until it drops.
pub struct SecretsLock<'a> {
    store: &'a SecretStore,
    _held: FileLock,
}

impl SecretsLock<'_> {
    /// The secret named `key`, if stored.
    pub fn get(&self, key: &str) -> Result<Option<Secret>, SecretsError> {
        self.store.get(key)
    }

    /// Stores (or with `None` removes) the secret named `key`; durable when it returns.
    pub fn set(&self, key: &str, value: Option<&Secret>) -> Result<(), SecretsError> {
        let mut map = self.store.load()?;
        match value {
            Some(value) => map.insert(key.to_owned(), value.expose().to_owned()),
            None => map.remove(key),
        };
        self.store.save(&map)
    }

    /// Every key starting with `prefix`.
    pub fn keys(&self, prefix: &str) -> Result<Vec<String>, SecretsError> {
        self.store.keys(prefix)
    }
}

/// Whether the OS credential store takes a write (checked once per run, with an entry of
/// its own): a store that answers reads but refuses writes (no unlocked collection, as on
/// a headless box) would lose the next rotated token, so the file serves instead.
fn keyring_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        on_own_thread("fleetdash-probe", |entry| {
            entry.set_password("probe")?;
            entry.delete_credential()
        })
        .is_ok()
    })
}

/// Runs a credential-store call on a thread of its own: the store's D-Bus client must not
/// run inside the caller's async runtime.
fn on_own_thread<T: Send + 'static>(
    service: &str,
    call: impl FnOnce(&keyring::Entry) -> keyring::Result<T> + Send + 'static,
) -> keyring::Result<T> {
    let service = service.to_owned();
    std::thread::Builder::new()
        .name("fleetdash-keyring".into())
        .spawn(move || {
            let entry = keyring::Entry::new(&service, KEYRING_ENTRY)?;
            call(&entry)
        })
        .map_err(|e| keyring::Error::PlatformFailure(Box::new(e)))?
        .join()
        .unwrap_or(Err(keyring::Error::NoDefaultStore))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_survive_a_reopen_and_the_file_is_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("secrets.json");
        let store = SecretStore::at(&path);
        assert_eq!(store.get("a").unwrap(), None);
        store.set("a", Some(&Secret::new("one"))).unwrap();
        store.set("b", Some(&Secret::new("two"))).unwrap();
        store.set("a", None).unwrap();
        let again = SecretStore::at(&path);
        assert_eq!(again.get("a").unwrap(), None);
        assert_eq!(again.get("b").unwrap(), Some(Secret::new("two")));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn secrets_go_to_the_system_keyring_when_one_runs_and_to_a_0600_file_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        let service = format!("fleetdash-test-{}", rand::random::<u32>());
        let store = SecretStore::platform_named(&path, &service);
        // CI runs this once more inside a D-Bus session with an unlocked keyring.
        if std::env::var_os("FLEETDASH_EXPECT_KEYRING").is_some() {
            assert!(store.uses_keyring(), "a credential store runs here");
        }
        store.set("k", Some(&Secret::new("v"))).unwrap();
        assert_eq!(
            SecretStore::platform_named(&path, &service)
                .get("k")
                .unwrap(),
            Some(Secret::new("v"))
        );
        if store.uses_keyring() {
            assert!(!path.exists(), "nothing on disk when the keyring holds it");
            // Changes to the keyring's entry are serialized by the lock file all the same.
            assert!(dir.path().join("secrets.json.lock").exists());
            assert!(store.describe().contains("credential store"));
            store.set("k", None).unwrap();
        } else {
            assert!(path.exists());
            assert!(store.describe().contains("readable only by you"));
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_link_planted_at_a_temporary_file_name_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, b"").unwrap();
        // Where a writer with a fixed temporary name would open, truncate and write.
        std::os::unix::fs::symlink(&elsewhere, dir.path().join("secrets.json.tmp")).unwrap();
        let store = SecretStore::at(&path);
        store.set("a", Some(&Secret::new("one"))).unwrap();
        assert_eq!(
            std::fs::read(&elsewhere).unwrap(),
            b"",
            "the link was followed"
        );
        assert!(!std::fs::symlink_metadata(&path).unwrap().is_symlink());
        assert_eq!(store.get("a").unwrap(), Some(Secret::new("one")));
    }

    #[test]
    fn a_change_waits_for_the_lock_another_holder_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        let store = SecretStore::at(&path);
        let held = store.lock().unwrap();
        held.set("a", Some(&Secret::new("one"))).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let other = SecretStore::at(&path);
        let writer = std::thread::spawn(move || {
            other.set("b", Some(&Secret::new("two"))).unwrap();
            tx.send(()).unwrap();
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(300))
                .is_err(),
            "a change went ahead while the lock was held"
        );
        drop(held);
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        writer.join().unwrap();
        // Neither change lost the other.
        assert_eq!(store.keys("").unwrap(), vec!["a", "b"]);
    }

    #[test]
    fn a_damaged_file_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        std::fs::write(&path, b"not json").unwrap();
        let error = SecretStore::at(&path).get("a").unwrap_err();
        assert!(error.to_string().contains("sign in again"));
    }
}
