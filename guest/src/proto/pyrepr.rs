//! Python's `repr()` of a string, which http.server puts in its error messages.

/// `repr(s)` as CPython prints a `str`: single quotes unless the text has a single quote
/// and no double quote, with backslash escapes for control characters.
pub fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::py_repr;

    #[test]
    fn like_python() {
        assert_eq!(py_repr("GET"), "'GET'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a\r\nb\x01"), "'a\\r\\nb\\x01'");
        assert_eq!(py_repr("both'\""), "'both\\'\"'");
    }
}
