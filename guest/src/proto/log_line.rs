//! http.server's log lines: `ADDRESS - - [DATE] message`, control characters escaped.

/// `log_message`'s line (with its newline), as CPython writes it to stderr.
pub fn log_line(address: &str, date: &str, message: &str) -> String {
    format!("{address} - - [{date}] {}\n", escape_control(message))
}

/// The message part of `log_request`: `"GET / HTTP/1.1" 200 -`.
pub fn request_message(requestline: &str, code: Option<u16>, size: Option<u64>) -> String {
    let code = code.map_or("-".to_string(), |c| c.to_string());
    let size = size.map_or("-".to_string(), |s| s.to_string());
    format!("\"{requestline}\" {code} {size}")
}

/// CPython's `_control_char_table`: C0 controls, DEL and C1 controls become `\xNN`.
pub fn escape_control(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let n = c as u32;
        if n < 0x20 || (0x7f..=0x9f).contains(&n) {
            out.push_str(&format!("\\x{n:02x}"));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(
            log_line(
                "127.0.0.1",
                "22/Nov/2026 15:00:00",
                &request_message("GET / HTTP/1.1", Some(200), None)
            ),
            "127.0.0.1 - - [22/Nov/2026 15:00:00] \"GET / HTTP/1.1\" 200 -\n"
        );
        assert_eq!(escape_control("a\x1b[31mb\r\n"), "a\\x1b[31mb\\x0d\\x0a");
    }
}
