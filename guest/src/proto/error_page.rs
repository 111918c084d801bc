//! http.server's error page (`DEFAULT_ERROR_MESSAGE`) and its %-format.

/// CPython's `DEFAULT_ERROR_MESSAGE`.
pub const DEFAULT_ERROR_MESSAGE: &str = "<!DOCTYPE HTML>
<html lang=\"en\">
    <head>
        <meta charset=\"utf-8\">
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: %(code)d</p>
        <p>Message: %(message)s.</p>
        <p>Error code explanation: %(code)s - %(explain)s.</p>
    </body>
</html>
";

/// CPython's `DEFAULT_ERROR_CONTENT_TYPE`.
pub const DEFAULT_ERROR_CONTENT_TYPE: &str = "text/html;charset=utf-8";

/// `html.escape(s, quote=False)`.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `format % {'code': code, 'message': escape(message), 'explain': escape(explain)}`.
pub fn render(format: &str, code: u16, message: &str, explain: &str) -> String {
    let mut out = String::with_capacity(format.len() + message.len() + explain.len());
    let mut rest = format;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let replacements = [
            ("%(code)d", code.to_string()),
            ("%(code)s", code.to_string()),
            ("%(message)s", html_escape(message)),
            ("%(explain)s", html_escape(explain)),
            ("%%", "%".to_string()),
        ];
        match replacements.iter().find(|(k, _)| rest.starts_with(k)) {
            Some((k, v)) => {
                out.push_str(v);
                rest = &rest[k.len()..];
            }
            None => {
                out.push('%');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether a response with this status may carry an error page body (CPython: >= 200, not 204, 205, 304).
pub fn has_body(code: u16) -> bool {
    code >= 200 && !matches!(code, 204 | 205 | 304)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_cpython() {
        let page = render(
            DEFAULT_ERROR_MESSAGE,
            404,
            "File not found",
            "Nothing matches the given URI",
        );
        assert!(page.contains("<p>Error code: 404</p>\n"));
        assert!(page.contains("<p>Message: File not found.</p>\n"));
        assert!(page.contains("<p>Error code explanation: 404 - Nothing matches the given URI.</p>\n"));
        assert_eq!(render("%(message)s 100%%", 400, "<b>", ""), "&lt;b&gt; 100%");
        assert!(!has_body(204) && !has_body(101) && has_body(404));
    }
}
