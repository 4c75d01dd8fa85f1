//! Lenient JSON for signed bodies: Smartcar's own documentation example carries a
//! trailing comma, so a delivery that is authentic but not strict JSON is still read.

use serde_json::Value;

/// Parses JSON, accepting a UTF-8 byte-order mark and trailing commas before `}` or `]`.
pub fn parse_lenient(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(strict_error) => match strip_trailing_commas(bytes) {
            Some(cleaned) => serde_json::from_slice(&cleaned).map_err(|_| strict_error),
            None => Err(strict_error),
        },
    }
}

/// Removes every comma that is followed (after whitespace) by `}` or `]`, outside strings.
/// Returns `None` when there was none to remove.
fn strip_trailing_commas(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut removed = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if b == b',' {
            let next = bytes[i + 1..].iter().find(|c| !c.is_ascii_whitespace());
            if matches!(next, Some(b'}') | Some(b']')) {
                removed = true;
                continue;
            }
        }
        out.push(b);
    }
    removed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_trailing_commas_but_not_inside_strings() {
        let value = parse_lenient(br#"{"a": [1, 2, ], "b": ",}", }"#).unwrap();
        assert_eq!(value, json!({"a": [1, 2], "b": ",}"}));
        let value = parse_lenient(br#"{"a": "x\",]",}"#).unwrap();
        assert_eq!(value, json!({"a": "x\",]"}));
    }

    #[test]
    fn still_rejects_broken_json() {
        assert!(parse_lenient(b"{").is_err());
        assert!(parse_lenient(b"").is_err());
        assert!(parse_lenient(b"\xEF\xBB\xBF{\"a\":1}").is_ok());
    }
}
