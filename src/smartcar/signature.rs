//! `SC-Signature`: lowercase hex HMAC-SHA256 of the raw body, keyed by the application
//! management token (AMT). The same HMAC answers verify challenges.

use hmac::{KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = hmac::Hmac<Sha256>;

/// The application management token. It signs every webhook, so it is a secret: its
/// `Debug` output is redacted and it offers no `Display`.
#[derive(Clone)]
pub struct ManagementToken(Vec<u8>);

impl std::fmt::Debug for ManagementToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ManagementToken(<redacted>)")
    }
}

impl ManagementToken {
    /// Wraps the token text; `None` when it is empty.
    pub fn new(token: impl Into<String>) -> Option<Self> {
        let token = token.into().trim().to_owned();
        (!token.is_empty()).then(|| ManagementToken(token.into_bytes()))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        HmacSha256::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!())
    }

    /// Lowercase hex HMAC-SHA256 of `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    /// True when `candidate` is this token (compared in constant time): how the Vehicle API
    /// recognises the management token as a bearer token.
    pub fn is(&self, candidate: &str) -> bool {
        let candidate = candidate.trim().as_bytes();
        candidate.len() == self.0.len()
            && candidate
                .iter()
                .zip(&self.0)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// Checks an `SC-Signature` header against the raw body, in constant time.
    pub fn verify(&self, body: &[u8], signature_hex: &str) -> bool {
        let Ok(expected) = hex::decode(signature_hex.trim()) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    }
}

/// True when a verify challenge is a plain token, the only kind fleetdash signs: anything
/// else could trick the server into signing a forged delivery for a caller.
pub fn is_plain_challenge(challenge: &str) -> bool {
    (1..=256).contains(&challenge.len())
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amt() -> ManagementToken {
        ManagementToken::new("amt").unwrap()
    }

    #[test]
    fn signs_the_documented_known_answers() {
        assert_eq!(
            amt().sign(b"challenge"),
            "9baf5a7464bd86740ad5a06e439dcf535a075022ed2c92d74efacf646d79328e"
        );
        let body = br#"{"pizza":"pasta"}"#;
        assert_eq!(body.len(), 17);
        let signature = "4c05a8da471f05156ad717baa4017acd13a3a809850b9ca7d3301dcaaa854f70";
        assert_eq!(amt().sign(body), signature);
        assert!(amt().verify(body, signature));
        assert!(amt().verify(body, &signature.to_uppercase()));
    }

    #[test]
    fn rejects_wrong_or_malformed_signatures() {
        let body = br#"{"pizza":"pasta"}"#;
        assert!(!amt().verify(body, "00"));
        assert!(!amt().verify(body, "not hex"));
        assert!(!amt().verify(body, ""));
        assert!(!amt().verify(br#"{"pizza":"pasta"} "#, &amt().sign(body)));
        assert!(
            !ManagementToken::new("other")
                .unwrap()
                .verify(body, &amt().sign(body))
        );
    }

    #[test]
    fn only_plain_tokens_are_challenges() {
        assert!(is_plain_challenge("3a5c8f72-e6d9-4b1a-9f2e-8c7d6a5b4e3f"));
        assert!(is_plain_challenge("a.b_c~d"));
        assert!(!is_plain_challenge(""));
        assert!(!is_plain_challenge("{\"pizza\":\"pasta\"}"));
        assert!(!is_plain_challenge("with space"));
        assert!(!is_plain_challenge(&"a".repeat(257)));
        assert!(ManagementToken::new("  ").is_none());
        assert_eq!(format!("{:?}", amt()), "ManagementToken(<redacted>)");
    }
}
