//! Where secrets live: the client secret, the management token, and each grant's tokens.
//! A JSON file readable by its owner only (0600), written whole through a temporary file,
//! `fsync` and a rename, so a crash leaves either the old or the new file and never a
//! half-written one (a rotated refresh token that got lost would end the grant). The OS
//! credential store is the next step; this file is the fallback the product contract
//! names where none runs.

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
}

/// The secret store.
#[derive(Debug, Clone)]
pub struct SecretStore {
    path: PathBuf,
}

impl SecretStore {
    /// The store in `path`.
    pub fn at(path: &Path) -> Self {
        SecretStore {
            path: path.to_owned(),
        }
    }

    /// The default: `secrets.json` in the platform's config directory.
    pub fn default_path() -> PathBuf {
        directories::ProjectDirs::from("", "", "fleetdash")
            .map(|d| d.config_dir().join("secrets.json"))
            .unwrap_or_else(|| PathBuf::from("fleetdash-secrets.json"))
    }

    /// Where secrets are kept, in words for the user.
    pub fn describe(&self) -> String {
        format!(
            "in {}, readable only by you (no OS credential store is used yet)",
            self.path.display()
        )
    }

    fn load(&self) -> Result<BTreeMap<String, String>, SecretsError> {
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
    fn a_damaged_file_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        std::fs::write(&path, b"not json").unwrap();
        let error = SecretStore::at(&path).get("a").unwrap_err();
        assert!(error.to_string().contains("sign in again"));
    }
}
