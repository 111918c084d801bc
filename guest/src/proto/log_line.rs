//! http.server's log lines: `ADDRESS - - [DATE] message`, control characters escaped.

/// `log_message`'s line (with its newline), as CPython writes it to stderr.
pub fn log_line(address: &str, date: &str, message: &str) -> String {
    let mut line = String::with_capacity(address.len() + date.len() + message.len() + 9);
    push_log_line(&mut line, address, date, message);
    line
}

/// `log_line(address, date, message)` appended to `line` (a buffer kept between lines).
pub fn push_log_line(line: &mut String, address: &str, date: &str, message: &str) {
    push_prefix(line, address, date);
    line.push_str(&escape_control(message));
    line.push('\n');
}

/// `log_line` of `request_message(requestline, code, size)` appended to `line`, without
/// making the message first: `log_request`'s line, once a response.
pub fn push_request_log_line(
    line: &mut String,
    address: &str,
    date: &str,
    requestline: &str,
    code: Option<u16>,
    size: Option<u64>,
) {
    push_prefix(line, address, date);
    line.push('"');
    // The quotes, spaces and digits around it have no control character to escape.
    line.push_str(&escape_control(requestline));
    line.push_str("\" ");
    push_number_or_dash(line, code.map(u64::from));
    line.push(' ');
    push_number_or_dash(line, size);
    line.push('\n');
}

/// "ADDRESS - - [DATE] ".
fn push_prefix(line: &mut String, address: &str, date: &str) {
    line.reserve(address.len() + date.len() + 48);
    line.push_str(address);
    line.push_str(" - - [");
    line.push_str(date);
    line.push_str("] ");
}

/// `n` in decimal, or `-` when there is none (CPython's `log_request` placeholders).
fn push_number_or_dash(line: &mut String, n: Option<u64>) {
    match n {
        Some(n) => line.push_str(super::response_encode::decimal(n, &mut [0; 20])),
        None => line.push('-'),
    }
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
    // Printable ASCII, told by one comparison a byte: nothing to escape.
    if s.bytes().all(|b| b.wrapping_sub(0x20) < 0x5f) {
        return std::borrow::Cow::Borrowed(s);
    }
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
        assert_eq!(escape_control("~del\x7f"), "~del\\x7f");
        assert_eq!(escape_control("c1\u{85} caf\u{e9} \u{a0}"), "c1\\x85 caf\u{e9} \u{a0}");
        assert!(matches!(escape_control(" !~"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn a_request_line_appended_is_the_line_made_from_its_message() {
        let lines = [
            "GET / HTTP/1.1",
            "GET /\x1b[31mred\x7f\u{85} HTTP/1.0",
            "",
            "GET /caf\u{e9} HTTP/1.1",
        ];
        let numbers = [
            (Some(200), None),
            (None, Some(1024)),
            (Some(404), Some(0)),
            (None, None),
        ];
        let mut kept = String::from("the previous line\n");
        for requestline in lines {
            for (code, size) in numbers {
                let made = log_line("::1", "07/Dec/2026 06:00:00", &request_message(requestline, code, size));
                kept.clear();
                push_request_log_line(&mut kept, "::1", "07/Dec/2026 06:00:00", requestline, code, size);
                assert_eq!(kept, made);
            }
        }
        assert_eq!(kept, "::1 - - [07/Dec/2026 06:00:00] \"GET /caf\u{e9} HTTP/1.1\" - -\n");
    }
}
