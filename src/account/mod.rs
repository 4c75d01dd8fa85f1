//! The owner's Smartcar account: the application's settings (environment first, per the
//! product contract), the secrets, and the grants (one per Connect login, each with its own
//! tokens and vehicles). Tokens are refreshed before they expire, one refresh at a time per
//! grant (across processes too: under the secret store's lock), and the rotated refresh
//! token is stored before it is used.

pub mod file_lock;
mod paths;
pub mod poll;
pub mod secrets;

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};

use serde::{Deserialize, Serialize};

use crate::domain::time::now_ms;
use crate::smartcar::client::{ApiError, Application, Client, Endpoints, Secret, Tokens};
pub use paths::AccountPaths;
use secrets::{SecretStore, SecretsError, SecretsLock};

/// Refresh an access token this long before it expires.
const REFRESH_MARGIN_MS: i64 = 5 * 60_000;

/// Warn this long before a grant's refresh token expires.
pub const REFRESH_WARNING_MS: i64 = 7 * 86_400_000;

/// The default redirect URI: the app's own server on loopback.
pub const DEFAULT_REDIRECT_URI: &str = "http://localhost:8787/oauth/callback";

/// Secret keys in the store.
const CLIENT_SECRET: &str = "client_secret";
const MANAGEMENT_TOKEN: &str = "management_token";
const GRANT_PREFIX: &str = "grant:";

/// What went wrong, for the user.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A setting is missing.
    #[error("{0}")]
    Missing(String),
    /// The secret store failed.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// Smartcar said no.
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// The application's settings.
#[derive(Debug, Clone)]
pub struct AccountConfig {
    /// Client id (SMARTCAR_CLIENT_ID).
    pub client_id: Option<String>,
    /// Redirect URI (SMARTCAR_REDIRECT_URI).
    pub redirect_uri: String,
    /// live, test or simulated (SMARTCAR_MODE).
    pub mode: String,
    /// Webhook id (SMARTCAR_WEBHOOK_ID).
    pub webhook_id: Option<String>,
    /// Smartcar's origins (SMARTCAR_CONNECT_URL, SMARTCAR_AUTH_URL, SMARTCAR_API_URL).
    pub endpoints: Endpoints,
}

/// What the owner entered in the app's Account panel (nothing secret), kept in
/// `account.json` beside the secret file. Environment variables win over it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SavedSettings {
    /// Client id.
    pub client_id: String,
    /// Webhook id.
    pub webhook_id: String,
    /// Redirect URI (empty: the default).
    pub redirect_uri: String,
    /// live, test or simulated (empty: live).
    pub mode: String,
    /// The public HTTPS address Smartcar delivers to (for the reachability test).
    pub public_url: String,
    /// Connect's origin (empty: Smartcar's).
    pub connect_url: String,
    /// The token endpoint's origin (empty: Smartcar's).
    pub auth_url: String,
    /// The Vehicle API's origin (empty: Smartcar's).
    pub api_url: String,
    /// Fetch every vehicle through the API this often while the app runs (0: never).
    pub poll_minutes: u32,
    /// The always-on fleetdash (relay) to pull deliveries from (empty: none). Its token
    /// lives in the secret store.
    pub sync_url: String,
}

impl SavedSettings {
    /// Reads `path` (missing or unreadable: empty settings).
    pub fn load(path: &std::path::Path) -> Self {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Writes `path` (through a fresh temporary file and a rename).
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        file_lock::replace_file(path, &serde_json::to_vec_pretty(self).unwrap_or_default())
    }

    /// `account.json` beside the secret file.
    pub fn path_beside(secrets: &std::path::Path) -> std::path::PathBuf {
        secrets.with_file_name("account.json")
    }
}

impl AccountConfig {
    /// The saved settings, overridden by the environment, with Smartcar's defaults.
    pub fn load(saved: &SavedSettings) -> Self {
        let from_env = AccountConfig::from_env();
        let or = |env: Option<String>, saved: &str| {
            env.or_else(|| (!saved.trim().is_empty()).then(|| saved.trim().to_owned()))
        };
        let env = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        AccountConfig {
            client_id: or(env("SMARTCAR_CLIENT_ID"), &saved.client_id),
            redirect_uri: or(env("SMARTCAR_REDIRECT_URI"), &saved.redirect_uri)
                .unwrap_or(from_env.redirect_uri),
            mode: or(env("SMARTCAR_MODE"), &saved.mode).unwrap_or(from_env.mode),
            webhook_id: or(env("SMARTCAR_WEBHOOK_ID"), &saved.webhook_id),
            endpoints: Endpoints {
                connect: or(env("SMARTCAR_CONNECT_URL"), &saved.connect_url)
                    .unwrap_or(from_env.endpoints.connect),
                auth: or(env("SMARTCAR_AUTH_URL"), &saved.auth_url)
                    .unwrap_or(from_env.endpoints.auth),
                api: or(env("SMARTCAR_API_URL"), &saved.api_url).unwrap_or(from_env.endpoints.api),
            },
        }
    }

    /// From the environment, with Smartcar's defaults.
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let defaults = Endpoints::default();
        AccountConfig {
            client_id: var("SMARTCAR_CLIENT_ID"),
            redirect_uri: var("SMARTCAR_REDIRECT_URI")
                .unwrap_or_else(|| DEFAULT_REDIRECT_URI.into()),
            mode: var("SMARTCAR_MODE").unwrap_or_else(|| "live".into()),
            webhook_id: var("SMARTCAR_WEBHOOK_ID"),
            endpoints: Endpoints {
                connect: var("SMARTCAR_CONNECT_URL").unwrap_or(defaults.connect),
                auth: var("SMARTCAR_AUTH_URL").unwrap_or(defaults.auth),
                api: var("SMARTCAR_API_URL").unwrap_or(defaults.api),
            },
        }
    }
}

/// One Connect login: its vehicles (not secret) and its tokens (secret, so its `Debug`
/// leaves them out).
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct Grant {
    /// fleetdash's id for it.
    pub id: String,
    /// When the owner signed in (ms).
    pub created_at_ms: i64,
    /// The vehicles it reaches.
    pub vehicle_ids: Vec<String>,
    access_token: String,
    refresh_token: String,
    /// When the access token expires (ms).
    pub access_expires_ms: i64,
    /// When the refresh token expires (ms): after it, only a new login helps.
    pub refresh_expires_ms: i64,
    /// Smartcar refused its refresh token: only a new login helps.
    #[serde(default)]
    pub dead: bool,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("id", &self.id)
            .field("created_at_ms", &self.created_at_ms)
            .field("vehicle_ids", &self.vehicle_ids)
            .field("access_token", &"…")
            .field("refresh_token", &"…")
            .field("access_expires_ms", &self.access_expires_ms)
            .field("refresh_expires_ms", &self.refresh_expires_ms)
            .field("dead", &self.dead)
            .finish()
    }
}

impl Grant {
    fn tokens(&self) -> Tokens {
        Tokens {
            access_token: Secret::new(&self.access_token),
            refresh_token: Secret::new(&self.refresh_token),
            access_expires_ms: self.access_expires_ms,
            refresh_expires_ms: self.refresh_expires_ms,
        }
    }

    fn set_tokens(&mut self, tokens: &Tokens) {
        self.access_token = tokens.access_token.expose().to_owned();
        self.refresh_token = tokens.refresh_token.expose().to_owned();
        self.access_expires_ms = tokens.access_expires_ms;
        self.refresh_expires_ms = tokens.refresh_expires_ms;
    }

    /// A warning when the refresh token expires soon (or has expired).
    pub fn expiry_warning(&self, now_ms: i64) -> Option<String> {
        let left_ms = self.refresh_expires_ms - now_ms;
        if self.dead {
            Some(
                "This login no longer works (Smartcar refused to renew it, for example after \
                 the owner revoked access): sign in again."
                    .into(),
            )
        } else if left_ms <= 0 {
            Some("This login has expired: sign in again (fleetdash login).".into())
        } else if left_ms < REFRESH_WARNING_MS {
            Some(format!(
                "This login expires in {} days unless fleetdash refreshes it: keep fleetdash \
                 running now and then, or sign in again.",
                (left_ms + 86_400_000 - 1) / 86_400_000
            ))
        } else {
            None
        }
    }
}

/// The account: settings, secrets, grants and the client.
#[derive(Clone)]
pub struct Account {
    /// Settings.
    pub config: AccountConfig,
    /// Secrets.
    pub secrets: SecretStore,
    /// The API client.
    pub client: Client,
    /// One lock per grant, so concurrent callers share one refresh.
    refreshing: Arc<StdMutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl Account {
    /// The account from `config`, keeping secrets in `secrets`.
    pub fn new(config: AccountConfig, secrets: SecretStore) -> Self {
        let client = Client::new(config.endpoints.clone());
        Account::with_client(config, secrets, client)
    }

    /// The same with a given client (tests pass one with a simulated clock).
    pub fn with_client(config: AccountConfig, secrets: SecretStore, client: Client) -> Self {
        Account {
            config,
            secrets,
            client,
            refreshing: Arc::default(),
        }
    }

    /// A secret from the environment, else from the store.
    fn secret(&self, env: &str, key: &str) -> Result<Option<Secret>, AccountError> {
        if let Ok(value) = std::env::var(env)
            && !value.trim().is_empty()
        {
            return Ok(Some(Secret::new(value.trim())));
        }
        Ok(self.secrets.get(key)?)
    }

    /// True when a secret is stored (or set in the environment), without revealing it.
    pub fn has_client_secret(&self) -> bool {
        self.secret("SMARTCAR_CLIENT_SECRET", CLIENT_SECRET)
            .is_ok_and(|s| s.is_some())
    }

    /// True when a management token is stored (or set in the environment).
    pub fn has_management_token(&self) -> bool {
        self.secret("SMARTCAR_MANAGEMENT_TOKEN", MANAGEMENT_TOKEN)
            .is_ok_and(|s| s.is_some())
    }

    /// Keeps the client secret and the management token in the store.
    pub fn store_app_secrets(
        &self,
        client_secret: Option<&Secret>,
        management_token: Option<&Secret>,
    ) -> Result<(), AccountError> {
        let store = self.secrets.lock()?;
        if let Some(s) = client_secret {
            store.set(CLIENT_SECRET, Some(s))?;
        }
        if let Some(t) = management_token {
            store.set(MANAGEMENT_TOKEN, Some(t))?;
        }
        Ok(())
    }

    /// The application, or what is missing to have one.
    pub fn application(&self) -> Result<Application, AccountError> {
        let client_id = self.config.client_id.clone().ok_or_else(|| {
            AccountError::Missing(
                "No Smartcar client id: set SMARTCAR_CLIENT_ID (Smartcar Dashboard > \
                 Configuration)."
                    .into(),
            )
        })?;
        let client_secret = self
            .secret("SMARTCAR_CLIENT_SECRET", CLIENT_SECRET)?
            .ok_or_else(|| {
                AccountError::Missing(
                    "No Smartcar client secret: set SMARTCAR_CLIENT_SECRET (Smartcar \
                     Dashboard > Configuration)."
                        .into(),
                )
            })?;
        Ok(Application {
            client_id,
            client_secret,
            redirect_uri: self.config.redirect_uri.clone(),
            mode: self.config.mode.clone(),
        })
    }

    /// The application management token, or what to do without one.
    pub fn management_token(&self) -> Result<Secret, AccountError> {
        self.secret("SMARTCAR_MANAGEMENT_TOKEN", MANAGEMENT_TOKEN)?
            .ok_or_else(|| {
                AccountError::Missing(
                    "No application management token: set SMARTCAR_MANAGEMENT_TOKEN (Smartcar \
                     Dashboard > Configuration)."
                        .into(),
                )
            })
    }

    /// The webhook id, or what to do without one.
    pub fn webhook_id(&self) -> Result<String, AccountError> {
        self.config.webhook_id.clone().ok_or_else(|| {
            AccountError::Missing(
                "No webhook id: set SMARTCAR_WEBHOOK_ID (Smartcar Dashboard > Webhooks).".into(),
            )
        })
    }

    /// Every grant, oldest first.
    pub fn grants(&self) -> Result<Vec<Grant>, AccountError> {
        let mut grants = Vec::new();
        for key in self.secrets.keys(GRANT_PREFIX)? {
            if let Some(text) = self.secrets.get(&key)?
                && let Ok(grant) = serde_json::from_str::<Grant>(text.expose())
            {
                grants.push(grant);
            }
        }
        grants.sort_by_key(|g| g.created_at_ms);
        Ok(grants)
    }

    /// The grant `id`, as stored now.
    fn grant(&self, id: &str) -> Result<Option<Grant>, AccountError> {
        Ok(self
            .secrets
            .get(&format!("{GRANT_PREFIX}{id}"))?
            .and_then(|text| serde_json::from_str::<Grant>(text.expose()).ok()))
    }

    /// Stores `grant` while the caller holds the store's lock.
    fn save_grant(store: &SecretsLock<'_>, grant: &Grant) -> Result<(), AccountError> {
        let text = serde_json::to_string(grant).unwrap_or_default();
        store.set(
            &format!("{GRANT_PREFIX}{}", grant.id),
            Some(&Secret::new(text)),
        )?;
        Ok(())
    }

    /// Forgets a grant (its tokens leave the store).
    pub fn remove_grant(&self, id: &str) -> Result<(), AccountError> {
        self.secrets.set(&format!("{GRANT_PREFIX}{id}"), None)?;
        Ok(())
    }

    /// Finishes a Connect login: trades `code` for tokens, lists the vehicles, stores it all.
    pub async fn complete_login(&self, code: &str) -> Result<Grant, AccountError> {
        let app = self.application()?;
        let tokens = self.client.exchange_code(&app, code).await?;
        let vehicle_ids = self.client.vehicle_ids(&tokens.access_token).await?;
        let mut grant = Grant {
            id: format!("{:x}", rand::random::<u64>()),
            created_at_ms: now_ms(),
            vehicle_ids,
            access_token: String::new(),
            refresh_token: String::new(),
            access_expires_ms: 0,
            refresh_expires_ms: 0,
            dead: false,
        };
        grant.set_tokens(&tokens);
        let store = self.secrets.lock_async().await?;
        // A later login that reaches the same vehicles replaces the older grant for them.
        for old in self.grants()? {
            if old
                .vehicle_ids
                .iter()
                .all(|v| grant.vehicle_ids.contains(v))
            {
                store.set(&format!("{GRANT_PREFIX}{}", old.id), None)?;
            }
        }
        Account::save_grant(&store, &grant)?;
        Ok(grant)
    }

    /// A valid access token for `grant_id`, refreshed first when it expires within minutes.
    /// Concurrent callers, in this process or another, share one refresh; the rotated
    /// refresh token is stored before the new access token is handed out.
    pub async fn access_token(&self, grant_id: &str) -> Result<Secret, AccountError> {
        let gone =
            || AccountError::Missing("This login is gone: sign in again (fleetdash login).".into());
        // Most calls find a valid token and need no lock at all.
        let tokens = self.grant(grant_id)?.ok_or_else(gone)?.tokens();
        if !tokens.access_expiring(now_ms(), REFRESH_MARGIN_MS) {
            return Ok(tokens.access_token);
        }
        let app = self.application()?;
        let lock = self
            .refreshing
            .lock()
            .map(|mut m| m.entry(grant_id.to_owned()).or_default().clone())
            .unwrap_or_default();
        let _in_process = lock.lock().await;
        // Held across the HTTP call: Smartcar kills a refresh token at its first use, so a
        // second process spending the same one would get invalid_grant.
        let store = self.secrets.lock_async().await?;
        let mut retried = false;
        loop {
            // Read again under the lock: another caller or process may have refreshed.
            let mut grant = self.grant(grant_id)?.ok_or_else(gone)?;
            let tokens = grant.tokens();
            if !tokens.access_expiring(now_ms(), REFRESH_MARGIN_MS) {
                return Ok(tokens.access_token);
            }
            let error = match self.client.refresh(&app, &tokens.refresh_token).await {
                Ok(fresh) => {
                    grant.set_tokens(&fresh);
                    grant.dead = false;
                    Account::save_grant(&store, &grant)?;
                    tracing::info!(grant = grant_id, "refreshed the access token");
                    return Ok(fresh.access_token);
                }
                Err(error) => error,
            };
            if error.needs_reconnect() {
                // A writer that skips the lock (an older fleetdash) may have rotated the
                // token meanwhile: then the login lives on, with the token it stored.
                let mut now = self.grant(grant_id)?.ok_or_else(gone)?;
                if now.refresh_token != grant.refresh_token {
                    if !retried {
                        retried = true;
                        continue;
                    }
                } else {
                    now.dead = true;
                    Account::save_grant(&store, &now)?;
                }
            }
            return Err(error.into());
        }
    }

    /// The grant reaching `vehicle_id`, if any.
    pub fn grant_for(&self, vehicle_id: &str) -> Result<Option<Grant>, AccountError> {
        Ok(self
            .grants()?
            .into_iter()
            .rev()
            .find(|g| g.vehicle_ids.iter().any(|v| v == vehicle_id)))
    }
}

/// A fresh random `state` for a Connect login.
pub fn new_state() -> String {
    format!("{:032x}", rand::random::<u128>())
}
