//! Connect's redirect: what it brought back (a code, a refusal), checked against the
//! state the sign-in started with.

use std::fmt;

/// What Connect's redirect brought back. Its `Debug` leaves the code out: until it is
/// traded, the code is as good as the tokens it buys.
#[derive(Clone, PartialEq, Eq)]
pub enum ConnectOutcome {
    /// The owner allowed access: trade this code for tokens.
    Code(String),
    /// A vehicle was re-connected after AUTHENTICATION_FAILED.
    Reconnected(String),
    /// Connect said no; the sentence says why and what to do.
    Refused(String),
    /// The redirect carried a state this fleetdash did not send: not the login it started
    /// (a stale tab, or a forgery). Ignored; the login goes on waiting.
    ForeignState,
}

impl fmt::Debug for ConnectOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectOutcome::Code(_) => f.write_str("Code(…)"),
            ConnectOutcome::Reconnected(id) => f.debug_tuple("Reconnected").field(id).finish(),
            ConnectOutcome::Refused(why) => f.debug_tuple("Refused").field(why).finish(),
            ConnectOutcome::ForeignState => f.write_str("ForeignState"),
        }
    }
}

impl ConnectOutcome {
    /// What to tell the user.
    pub fn message(&self) -> String {
        match self {
            ConnectOutcome::Code(_) | ConnectOutcome::Reconnected(_) => {
                "fleetdash got Smartcar's answer. You can close this tab and return to fleetdash."
                    .into()
            }
            ConnectOutcome::Refused(why) => why.clone(),
            ConnectOutcome::ForeignState => "The sign-in came back with a state this fleetdash                 did not send, so it was ignored (it may not be yours). Start the sign-in again                 from fleetdash."
                .into(),
        }
    }
}

/// Reads Connect's redirect query. A `state` other than `expected_state` is refused: the
/// redirect did not come from the login this fleetdash started.
pub fn connect_outcome(query: &[(String, String)], expected_state: &str) -> ConnectOutcome {
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let state_ok = get("state").is_some_and(|s| {
        use subtle_compare::eq;
        eq(s.as_bytes(), expected_state.as_bytes())
    });
    if !state_ok {
        return ConnectOutcome::ForeignState;
    }
    if let Some(error) = get("error") {
        let description = get("error_description").unwrap_or_default();
        let vehicle = [get("make"), get("model"), get("year")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let sentence = match error {
            "access_denied" => {
                "You declined in Smartcar Connect, so nothing was connected. Sign in again and \
                 choose Allow to connect your vehicles."
                    .to_owned()
            }
            "no_vehicles" => "No vehicle was connected: the account has no vehicle Smartcar \
                              supports, or none was chosen. Sign in again and choose at least \
                              one vehicle."
                .to_owned(),
            "vehicle_incompatible" => format!(
                "{} can't be connected through Smartcar (its maker does not offer the data \
                 fleetdash needs). The other vehicles can be connected in a new sign-in.",
                if vehicle.is_empty() {
                    "This vehicle".to_owned()
                } else {
                    format!("The {vehicle}")
                }
            ),
            "invalid_subscription" => "The car maker's connected-services subscription for \
                                       this vehicle is not active: renew it with the maker, \
                                       then sign in again."
                .to_owned(),
            "configuration_error" => format!(
                "Smartcar Connect refused fleetdash's configuration ({description}). Check that \
                 the redirect URI registered in the Smartcar Dashboard is exactly the one \
                 fleetdash uses, and SMARTCAR_MODE."
            ),
            "server_error" => {
                "Smartcar had a problem of its own. Try again in a few minutes.".to_owned()
            }
            other => format!("Smartcar Connect answered {other}: {description}"),
        };
        return ConnectOutcome::Refused(sentence);
    }
    if let Some(code) = get("code") {
        return ConnectOutcome::Code(code.to_owned());
    }
    if let Some(vehicle) = get("vehicle_id") {
        return ConnectOutcome::Reconnected(vehicle.to_owned());
    }
    ConnectOutcome::Refused(
        "Smartcar Connect came back without a code or an error. Start the sign-in again.".into(),
    )
}

/// Constant-time comparison, so the state check leaks nothing by its timing.
mod subtle_compare {
    pub fn eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod connect_tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_connect_answer_becomes_a_code_or_a_plain_sentence() {
        let check = |pairs: &[(&str, &str)], expected: &str| {
            let outcome = connect_outcome(&q(pairs), "s1");
            match &outcome {
                ConnectOutcome::Code(code) => assert_eq!(code, expected),
                ConnectOutcome::Reconnected(id) => assert_eq!(id, expected),
                _ => assert!(outcome.message().contains(expected), "{outcome:?}"),
            }
        };
        check(&[("code", "c1"), ("state", "s1")], "c1");
        check(&[("vehicle_id", "v1"), ("state", "s1")], "v1");
        check(&[("code", "c1"), ("state", "forged")], "did not send");
        check(&[("code", "c1")], "did not send");
        check(&[("error", "access_denied"), ("state", "s1")], "declined");
        check(&[("error", "no_vehicles"), ("state", "s1")], "No vehicle");
        check(
            &[
                ("error", "vehicle_incompatible"),
                ("make", "TESLA"),
                ("model", "Roadster"),
                ("state", "s1"),
            ],
            "The TESLA Roadster can't be connected",
        );
        check(
            &[("error", "invalid_subscription"), ("state", "s1")],
            "subscription",
        );
        check(
            &[
                ("error", "configuration_error"),
                ("error_description", "bad mode"),
                ("state", "s1"),
            ],
            "bad mode",
        );
        check(&[("error", "server_error"), ("state", "s1")], "few minutes");
    }
}
