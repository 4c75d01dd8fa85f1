//! `fleetdash serve`: the headless callback server.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::net::TcpListener;

use crate::notify::NotifyConfig;
use crate::notify::worker::{Notifier, Timing};
use crate::server::sync::{SYNC_PATH, SyncApi};
use crate::server::{AppState, Limits, Sink, WEBHOOK_PATH, serve_with};
use crate::smartcar::ManagementToken;
use crate::store::{self, StoreOptions, spawn_writer};

/// Environment variable holding the application management token.
pub const MANAGEMENT_TOKEN_ENV: &str = "SMARTCAR_MANAGEMENT_TOKEN";

/// Environment variable holding the sync token: set, it turns on the sync API
/// (`GET /api/v1/deliveries`) for desktops that present it; `fleetdash sync` reads it too.
pub const SYNC_TOKEN_ENV: &str = "FLEETDASH_SYNC_TOKEN";

/// Settings for `serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `HOST:PORT` to listen on; port 0 picks a free one.
    pub listen: String,
    /// The database file.
    pub db: PathBuf,
    /// How long a write waits for a lock before the delivery is answered 503.
    pub busy_timeout: Duration,
}

/// Reads the management token from the environment, with a message that says what to do.
pub fn management_token_from_env() -> anyhow::Result<ManagementToken> {
    let value = std::env::var(MANAGEMENT_TOKEN_ENV).unwrap_or_default();
    ManagementToken::new(value).with_context(|| {
        format!(
            "no Smartcar management token: fleetdash needs it to check that deliveries come from Smartcar.\n\
             Copy the Application Management Token from the Smartcar Dashboard (Configuration > API keys) \
             and start again with {MANAGEMENT_TOKEN_ENV}=<token> in the environment."
        )
    }).map_err(super::exit::config_error)
}

/// Runs the server until SIGINT or SIGTERM, then finishes in-flight requests and returns.
pub fn run(options: ServeOptions) -> anyhow::Result<()> {
    let token = management_token_from_env()?;
    let sync_token = std::env::var(SYNC_TOKEN_ENV).unwrap_or_default();
    check_sync_token(&sync_token, &token).map_err(super::exit::config_error)?;
    let limits = Limits::from_env().map_err(super::exit::config_error)?;
    let notify = NotifyConfig::from_env().map_err(super::exit::config_error)?;
    let conn = store::open(
        &options.db,
        &StoreOptions {
            busy_timeout: options.busy_timeout,
            create: true,
        },
    )
    .with_context(|| format!("could not open the database {}", options.db.display()))?;
    // Space is a nicety: a file that cannot be rewritten now (another process reading it,
    // a full disk) is served as it is, and the next start tries again.
    if let Err(error) = store::upkeep::vacuum_if_worthwhile(&conn) {
        tracing::warn!(%error, "could not rewrite the database to give back free space");
    }
    let (writer, writer_thread) = spawn_writer(conn)?;
    // Compresses older deliveries and trains the fleet's own dictionary; stops when dropped.
    let upkeep = store::upkeep::spawn(options.db.clone(), Default::default())?;
    let alerts_to = notify.describe();
    let notifier = match alerts_to {
        Some(_) => Some(Notifier::spawn(
            options.db.clone(),
            notify,
            Timing::default(),
        )?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("fleetdash-server")
        .build()?;
    let served: anyhow::Result<()> = runtime.block_on(async {
        let listener = match TcpListener::bind(&options.listen).await {
            Ok(listener) => listener,
            // Taken: another fleetdash may be stopping, so trying again later can work.
            Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
                return Err(anyhow::Error::new(error).context(format!(
                    "could not listen on {}: is another fleetdash already running there? \
                     Choose another address with --listen HOST:PORT",
                    options.listen
                )));
            }
            // Not an address of this machine, or not an address at all: a setting to fix.
            Err(error) => {
                return Err(super::exit::config_error(format!(
                    "could not listen on {}: {error}. Give an address of this machine with \
                     --listen HOST:PORT (for example 127.0.0.1:8787)",
                    options.listen
                )));
            }
        };
        let address = listener.local_addr()?;
        warn_if_exposed(address);
        let sync = SyncApi::new(&sync_token, options.db.clone());
        // Before saying "listening": from then on a signal must stop us gracefully.
        let stop = shutdown_signal();
        let mut stdout = std::io::stdout();
        writeln!(
            stdout,
            "fleetdash listening on http://{address} (webhook path {WEBHOOK_PATH}, database {})",
            options.db.display()
        )?;
        if sync.is_some() {
            writeln!(
                stdout,
                "sync API on at {SYNC_PATH}: desktops pull with the token in {SYNC_TOKEN_ENV}"
            )?;
        }
        if let Some(to) = &alerts_to {
            writeln!(stdout, "alerts sent to {to}")?;
        }
        stdout.flush()?;
        let state = AppState::with_sync(token, Sink::Store(writer), sync);
        // Off the request path: it stores through the same writer, and stops with the server.
        tokio::spawn(crate::server::gaps::run_for_this_machine(
            state.clone(),
            options.db.clone(),
        ));
        serve_with(listener, state, limits, async {
            stop.await;
            tracing::info!("shutting down: finishing requests in flight");
        })
        .await?;
        Ok(())
    });
    // Dropping the runtime drops the last writer handles, so the writer finishes its
    // queue and stops.
    drop(runtime);
    drop(upkeep);
    if let Some(notifier) = notifier {
        notifier.stop();
    }
    if writer_thread.join().is_err() {
        bail!("the database writer stopped unexpectedly");
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Shortest sync token accepted: anyone who guesses it reads the whole archive.
pub const MIN_SYNC_TOKEN_CHARS: usize = 32;

/// Refuses a sync token that is set but could be guessed, or that is the management token
/// (which signs deliveries: a desktop holding it could forge them).
fn check_sync_token(sync_token: &str, management: &ManagementToken) -> anyhow::Result<()> {
    let sync_token = sync_token.trim();
    if sync_token.is_empty() {
        return Ok(());
    }
    if management.is(sync_token) {
        bail!(
            "{SYNC_TOKEN_ENV} is the same as the Smartcar management token. The sync token is \
             given to every desktop, so it must be a secret of its own: make one with \
             `openssl rand -hex 32`, set it as {SYNC_TOKEN_ENV} here and in the desktops' \
             settings, and start again."
        );
    }
    let chars = sync_token.chars().count();
    if chars < MIN_SYNC_TOKEN_CHARS {
        bail!(
            "{SYNC_TOKEN_ENV} is too short ({chars} characters): a sync token needs at least \
             {MIN_SYNC_TOKEN_CHARS}, so that nobody can guess it. Make one with \
             `openssl rand -hex 32`, set it as {SYNC_TOKEN_ENV} here and in the desktops' \
             settings, and start again."
        );
    }
    Ok(())
}

fn warn_if_exposed(address: SocketAddr) {
    if !address.ip().is_loopback() {
        tracing::warn!(
            %address,
            "listening beyond loopback: this server speaks plain HTTP, so tokens and deliveries \
             would cross the network unencrypted, and Smartcar only delivers to HTTPS anyway. \
             Listen on 127.0.0.1 and put a TLS terminator in front (Caddy, or a tunnel such as \
             cloudflared); see the README's always-on setup"
        );
    }
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed by this call, not when the
/// future is first polled: a signal that arrives between start-up and the first poll then
/// stops the process gracefully instead of killing it with the default action. Call it
/// inside the runtime.
pub(crate) fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            tokio::select! {
                () = wait_for(interrupt, "Ctrl-C") => {}
                () = wait_for(terminate, "SIGTERM") => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(unix)]
async fn wait_for(signal: std::io::Result<tokio::signal::unix::Signal>, name: &str) {
    match signal {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err(error) => {
            tracing::error!(%error, "cannot listen for {name}");
            std::future::pending::<()>().await;
        }
    }
}
