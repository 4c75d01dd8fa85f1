//! Opening the window: eframe's options, the saved state, and the backend for demo mode
//! or the owner's own data.

use std::sync::Arc;

use super::backend::{Backend, ServerConfig};
use super::{BackendFactory, FleetApp, Persisted};
use crate::sim::demo::DemoOptions;

pub fn demo_db_path() -> std::path::PathBuf {
    crate::store::default_db_path().with_file_name("demo.sqlite3")
}

/// The callback server's settings, when a management token is set (in the environment or
/// saved on the Account page).
fn server_from_env() -> Option<ServerConfig> {
    let paths = crate::account::AccountPaths::from_env();
    let saved = crate::account::SavedSettings::load(&crate::account::SavedSettings::path_beside(
        &paths.secrets,
    ));
    let account =
        crate::account::Account::new(crate::account::AccountConfig::load(&saved), paths.store());
    let token = account.management_token().ok()?;
    Some(ServerConfig {
        token: crate::smartcar::ManagementToken::new(token.expose())?,
        listen: std::env::var("FLEETDASH_LISTEN").unwrap_or_else(|_| "127.0.0.1:8787".into()),
    })
}

/// Opens the window: demo mode on first start (and until the user leaves it), unless
/// Smartcar credentials are set.
pub fn run() -> anyhow::Result<()> {
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("fleetdash")
        .with_app_id("fleetdash")
        .with_inner_size([1100.0, 720.0])
        .with_min_inner_size([640.0, 420.0]);
    if let Ok(icon) =
        eframe::icon_data::from_png_bytes(include_bytes!("../../assets/icons/fleetdash-256.png"))
    {
        viewport = viewport.with_icon(Arc::new(icon));
    }
    let options = eframe::NativeOptions {
        viewport,
        ..Default::default()
    };
    eframe::run_native(
        "fleetdash",
        options,
        Box::new(|cc| {
            let mut persisted: Persisted = cc
                .storage
                .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
                .unwrap_or_default();
            let server = server_from_env();
            if server.is_some() {
                // Real credentials: the user's own data, whatever the last run showed.
                persisted.settings.demo = false;
            }
            let ctx = cc.egui_ctx.clone();
            let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || ctx.request_repaint());
            let factory_wake = wake.clone();
            let factory: BackendFactory = Box::new(move |demo| {
                let wake = factory_wake.clone();
                if demo {
                    Backend::start_demo(&demo_db_path(), DemoOptions::default(), move || wake())
                } else {
                    let db = std::env::var_os("FLEETDASH_DB")
                        .map(std::path::PathBuf::from)
                        .unwrap_or_else(crate::store::default_db_path);
                    Backend::start_local(&db, server_from_env(), move || wake())
                }
            });
            let backend = factory(persisted.settings.demo);
            Ok(Box::new(
                FleetApp::with_state(backend, persisted, wake)
                    .with_backend_factory(factory)
                    .with_account(crate::account::AccountPaths::from_env())
                    .with_notifier(Box::new(super::notify::Desktop)),
            ))
        }),
    )
    .map_err(|e| anyhow::anyhow!("the window could not open: {e}"))
}
