//! Lenient JSON for signed bodies: Smartcar's own documentation example carries a
//! trailing comma, so a delivery that is authentic but not strict JSON is still read; and
//! a number too large for a double (`1e309`) reads as `null` (unknown) instead of making
//! the whole delivery unreadable.

use serde_json::Value;

/// Parses JSON, accepting a UTF-8 byte-order mark, trailing commas before `}` or `]`, and
/// numbers beyond a double's range (read as `null`).
pub fn parse_lenient(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(strict_error) => match repair(bytes) {
            Some(cleaned) => serde_json::from_slice(&cleaned).map_err(|_| strict_error),
            None => Err(strict_error),
        },
    }
}

/// Outside strings, removes every comma that is followed (after whitespace) by `}` or `]`
/// and turns every number a double cannot hold into `null`. Returns `None` when there was
/// nothing to change.
fn repair(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut changed = false;
    // The end of the number being copied: its bytes were dealt with already.
    let mut number_end = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if i < number_end {
            continue;
        }
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
        } else if b == b'-' || b.is_ascii_digit() {
            let in_number = |c: &&u8| c.is_ascii_digit() || b"-+.eE".contains(c);
            number_end = i + bytes[i..].iter().take_while(in_number).count();
            let token = &bytes[i..number_end];
            let overflows = std::str::from_utf8(token)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(|n| !n.is_finite());
            if overflows {
                out.extend_from_slice(b"null");
                changed = true;
            } else {
                out.extend_from_slice(token);
            }
            continue;
        } else if b == b',' {
            let next = bytes[i + 1..].iter().find(|c| !c.is_ascii_whitespace());
            if matches!(next, Some(b'}') | Some(b']')) {
                changed = true;
                continue;
            }
        }
        out.push(b);
    }
    changed.then_some(out)
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
    fn numbers_beyond_a_double_read_as_null_and_others_are_kept() {
        let value =
            parse_lenient(br#"{"a": 1e309, "b": -1E400, "c": [2.5e3, -0.5], "d": "1e309"}"#)
                .unwrap();
        assert_eq!(
            value,
            json!({"a": null, "b": null, "c": [2500.0, -0.5], "d": "1e309"})
        );
        assert!(parse_lenient(b"[1e309 2]").is_err());
    }

    #[test]
    fn still_rejects_broken_json() {
        assert!(parse_lenient(b"{").is_err());
        assert!(parse_lenient(b"").is_err());
        assert!(parse_lenient(b"\xEF\xBB\xBF{\"a\":1}").is_ok());
    }
}
