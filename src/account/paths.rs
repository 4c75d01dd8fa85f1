//! Where the account's files live: the secret file (or the OS credential store) and the
//! saved settings beside it. Shared by the app's Account page and the command line.

use std::path::{Path, PathBuf};

use super::SavedSettings;
use super::secrets::SecretStore;

/// Where the account's files live.
#[derive(Debug, Clone)]
pub struct AccountPaths {
    /// The secret file (when no credential store is used), with `account.json` beside it.
    pub secrets: PathBuf,
    /// Use the OS credential store when one runs.
    pub keyring: bool,
}

impl AccountPaths {
    /// `FLEETDASH_SECRETS` (a file, no credential store), else the platform's credential
    /// store with a file in the config directory as the fallback.
    pub fn from_env() -> Self {
        match std::env::var_os("FLEETDASH_SECRETS") {
            Some(path) => AccountPaths {
                secrets: PathBuf::from(path),
                keyring: false,
            },
            None => AccountPaths {
                secrets: SecretStore::default_path(),
                keyring: true,
            },
        }
    }

    /// Files only, in `secrets` (tests).
    pub fn file(secrets: &Path) -> Self {
        AccountPaths {
            secrets: secrets.to_owned(),
            keyring: false,
        }
    }

    /// The secret store these paths describe.
    pub fn store(&self) -> SecretStore {
        if self.keyring {
            SecretStore::platform(&self.secrets)
        } else {
            SecretStore::at(&self.secrets)
        }
    }

    /// The saved settings file, beside the secret file.
    pub fn settings(&self) -> PathBuf {
        SavedSettings::path_beside(&self.secrets)
    }
}
