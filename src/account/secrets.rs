//! Where secrets live: the client secret, the management token, and each grant's tokens,
//! kept together as one JSON map. In the OS credential store (Secret Service on Linux,
//! Keychain on macOS, Credential Manager on Windows) when one runs; otherwise in a file
//! readable by its owner only (0600), written whole through a temporary file, `fsync` and
//! a rename, so a crash leaves either the old or the new file and never a half-written one
//! (a rotated refresh token that got lost would end the grant).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::smartcar::client::Secret;

/// What went wrong with the secret file.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// Reading or writing failed.
    #[error("the secret file {path} could not be {action}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// "read" or "written".
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
        let io = |source| SecretsError::Io {
            path: self.path.clone(),
            action: "written",
            source,
        };
        if let Some(dir) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut temp = self.path.as_os_str().to_owned();
        temp.push(".tmp");
        let temp = PathBuf::from(temp);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&temp).map_err(io)?;
        // A file left by an older version may have looser permissions.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io)?;
        }
        let bytes = serde_json::to_vec_pretty(map).unwrap_or_default();
        file.write_all(&bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&temp, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent()
            && let Ok(dir) = std::fs::File::open(dir)
        {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// The secret named `key`, if stored.
    pub fn get(&self, key: &str) -> Result<Option<Secret>, SecretsError> {
        Ok(self.load()?.remove(key).map(Secret::new))
    }

    /// Stores (or with `None` removes) the secret named `key`; durable when it returns.
    pub fn set(&self, key: &str, value: Option<&Secret>) -> Result<(), SecretsError> {
        let mut map = self.load()?;
        match value {
            Some(value) => map.insert(key.to_owned(), value.expose().to_owned()),
            None => map.remove(key),
        };
        self.save(&map)
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
            assert!(store.describe().contains("credential store"));
            store.set("k", None).unwrap();
        } else {
            assert!(path.exists());
            assert!(store.describe().contains("readable only by you"));
        }
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
