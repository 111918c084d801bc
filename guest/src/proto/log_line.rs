//! http.server's log lines: `ADDRESS - - [DATE] message`, control characters escaped.

/// `log_message`'s line (with its newline), as CPython writes it to stderr.
pub fn log_line(address: &str, date: &str, message: &str) -> String {
    let mut line = String::with_capacity(address.len() + date.len() + message.len() + 9);
    line.push_str(address);
    line.push_str(" - - [");
    line.push_str(date);
    line.push_str("] ");
    line.push_str(&escape_control(message));
    line.push('\n');
    line
}

/// The message part of `log_request`: `"GET / HTTP/1.1" 200 -`.
pub fn request_message(requestline: &str, code: Option<u16>, size: Option<u64>) -> String {
    use std::fmt::Write;
    let mut message = String::with_capacity(requestline.len() + 16);
    message.push('"');
    message.push_str(requestline);
    message.push_str("\" ");
    let _ = match code {
        Some(c) => write!(message, "{c} "),
        None => write!(message, "- "),
    };
    let _ = match size {
        Some(s) => write!(message, "{s}"),
        None => write!(message, "-"),
    };
    message
}

/// CPython's `_control_char_table`: C0 controls, DEL and C1 controls become `\xNN`.
pub fn escape_control(s: &str) -> std::borrow::Cow<'_, str> {
    let is_control = |c: char| {
        let n = c as u32;
        n < 0x20 || (0x7f..=0x9f).contains(&n)
    };
    if !s.chars().any(is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_control(c) {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
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
