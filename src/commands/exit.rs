//! Exit codes beyond success and failure. A configuration error (a missing or invalid
//! setting) exits with [`EXIT_CONFIG`], sysexits' `EX_CONFIG`, so a supervisor can tell it
//! from a crash: systemd's unit stops restarting on it (`RestartPreventExitStatus=78`),
//! since starting again with the same settings fails the same way.

use std::fmt::Display;

/// The exit code of a configuration error (`EX_CONFIG` in sysexits.h).
pub const EXIT_CONFIG: u8 = 78;

/// A setting is missing or wrong: the message says which and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// An error that makes the process exit with [`EXIT_CONFIG`]; `message` may be another
/// error, whose causes are kept in the text.
pub fn config_error(message: impl Display) -> anyhow::Error {
    anyhow::Error::new(ConfigError(format!("{message:#}")))
}

/// The exit code for `error`: [`EXIT_CONFIG`] when a [`ConfigError`] is in it (also under
/// added context), else 1.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    let config = error.downcast_ref::<ConfigError>().is_some()
        || error.chain().any(|cause| cause.is::<ConfigError>());
    if config { EXIT_CONFIG } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn a_configuration_error_exits_78_even_under_context_and_others_exit_1() {
        let plain = config_error("no token: set SMARTCAR_MANAGEMENT_TOKEN");
        assert_eq!(exit_code(&plain), EXIT_CONFIG);
        assert_eq!(plain.to_string(), "no token: set SMARTCAR_MANAGEMENT_TOKEN");
        let wrapped: anyhow::Result<()> = Err(config_error("bad")).context("serve");
        assert_eq!(exit_code(&wrapped.unwrap_err()), EXIT_CONFIG);
        // The causes of a wrapped error stay in the message.
        let inner: anyhow::Result<()> = Err(anyhow::anyhow!("why")).context("what");
        assert_eq!(config_error(inner.unwrap_err()).to_string(), "what: why");
        assert_eq!(exit_code(&anyhow::anyhow!("disk full")), 1);
    }
}
