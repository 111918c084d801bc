//! `-w FORMAT`: what one transfer did, in curl's variables, written after it.

use std::time::Duration;

/// What one transfer did, as `-w` reports it (curl's names).
#[derive(Debug, Default, Clone)]
pub(super) struct Report {
    /// The last response's status; 0 when none arrived (printed as 000).
    pub(super) http_code: u16,
    /// Body bytes written (decoded ones with --compressed).
    pub(super) size_download: u64,
    /// Bytes of the status lines and headers received.
    pub(super) size_header: u64,
    /// The URL that answered last.
    pub(super) url_effective: String,
    /// The last response's Content-Type.
    pub(super) content_type: Option<String>,
    /// Where a redirect not followed would have gone (its Location, resolved).
    pub(super) redirect_url: Option<String>,
    /// Redirects followed.
    pub(super) num_redirects: i64,
    /// The address and port last connected to (the proxy's, through one).
    pub(super) remote: Option<(String, u16)>,
    /// From the start until the connection was made (0 for a connection kept from before).
    pub(super) time_connect: Duration,
    /// From the start until the last response's head arrived.
    pub(super) time_starttransfer: Duration,
    /// From the start until the end.
    pub(super) time_total: Duration,
    /// The exit status this transfer gave.
    pub(super) exitcode: u8,
    /// The error message, if it failed.
    pub(super) errormsg: Option<String>,
}

impl Report {
    /// Variable `name`'s value; none for a name curl does not have.
    fn variable(&self, name: &str) -> Option<String> {
        let secs = |d: Duration| format!("{:.6}", d.as_secs_f64());
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Some(match name {
            "http_code" | "response_code" => format!("{:03}", self.http_code),
            "size_download" => self.size_download.to_string(),
            "size_header" => self.size_header.to_string(),
            "url_effective" => self.url_effective.clone(),
            "content_type" => text(&self.content_type),
            "redirect_url" => text(&self.redirect_url),
            "num_redirects" => self.num_redirects.to_string(),
            "remote_ip" => self.remote.as_ref().map(|(ip, _)| ip.clone()).unwrap_or_default(),
            "remote_port" => self.remote.as_ref().map(|(_, p)| p.to_string()).unwrap_or_default(),
            "time_connect" => secs(self.time_connect),
            "time_starttransfer" => secs(self.time_starttransfer),
            "time_total" => secs(self.time_total),
            "exitcode" => self.exitcode.to_string(),
            "errormsg" => text(&self.errormsg),
            "json" => self.json(),
            _ => return None,
        })
    }

    /// Every variable as one JSON object (`%{json}`).
    fn json(&self) -> String {
        let quote = |s: &str| {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        };
        let fields: Vec<String> = JSON_FIELDS
            .iter()
            .map(|(name, numeric)| {
                let value = self.variable(name).unwrap_or_default();
                let value = match numeric {
                    true if name.starts_with("time_") => value,
                    // "000" is 0; an empty port is 0.
                    true => value.parse::<u64>().unwrap_or(0).to_string(),
                    false => quote(&value),
                };
                format!("{}:{}", quote(name), value)
            })
            .collect();
        format!("{{{}}}", fields.join(","))
    }
}

/// The variables `%{json}` holds, and whether each is a number.
const JSON_FIELDS: [(&str, bool); 14] = [
    ("content_type", false),
    ("errormsg", false),
    ("exitcode", true),
    ("http_code", true),
    ("num_redirects", true),
    ("redirect_url", false),
    ("remote_ip", false),
    ("remote_port", true),
    ("response_code", true),
    ("size_download", true),
    ("size_header", true),
    ("time_connect", true),
    ("time_starttransfer", true),
    ("time_total", true),
];

/// `format` with the report's variables filled in, `%%` as `%`, and `\n`, `\r`, `\t` as
/// newline, return and tab; each unknown variable named in `warnings`, as curl warns.
pub(super) fn expand(format: &str, report: &Report, warnings: &mut Vec<String>) -> String {
    let mut out = String::new();
    let mut rest = format;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("%{")
            && let Some(end) = after.find('}')
        {
            let name = &after[..end];
            match report.variable(name) {
                Some(value) => out.push_str(&value),
                None => warnings.push(format!("unknown --write-out variable: '{name}'")),
            }
            rest = &after[end + 1..];
            continue;
        }
        let escaped = match (c, rest[1..].chars().next()) {
            ('%', Some('%')) => Some('%'),
            ('\\', Some('n')) => Some('\n'),
            ('\\', Some('r')) => Some('\r'),
            ('\\', Some('t')) => Some('\t'),
            _ => None,
        };
        match escaped {
            Some(e) => {
                out.push(e);
                rest = &rest[2..];
            }
            None => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_as_curl_writes_them() {
        let report = Report {
            http_code: 301,
            size_download: 12,
            url_effective: "http://h/".into(),
            redirect_url: Some("http://h/next".into()),
            remote: Some(("127.0.0.1".into(), 8080)),
            time_total: Duration::from_millis(1500),
            ..Report::default()
        };
        let mut warnings = Vec::new();
        let out = expand(
            "%{http_code} %{size_download} %{redirect_url} %{remote_ip}:%{remote_port} %{time_total} 100%% %{nope}\\n",
            &report,
            &mut warnings,
        );
        assert_eq!(out, "301 12 http://h/next 127.0.0.1:8080 1.500000 100% \n");
        assert_eq!(warnings, ["unknown --write-out variable: 'nope'"]);
        let none = Report::default();
        assert_eq!(
            expand("%{http_code}\\t%{content_type}.", &none, &mut warnings),
            "000\t."
        );
        let json = expand("%{json}", &report, &mut warnings);
        assert!(
            json.starts_with("{\"content_type\":\"\",\"errormsg\":\"\",\"exitcode\":0,\"http_code\":301,"),
            "{json}"
        );
        assert!(
            json.contains("\"remote_port\":8080,") && json.ends_with("\"time_total\":1.500000}"),
            "{json}"
        );
    }
}
