//! The sans-IO core of httplib: pure functions and state machines over bytes.
//!
//! Nothing here does IO or knows a WIT type; `client` and `server` drive it over a
//! transport, and every rule is unit-tested natively with `cargo test`.

pub mod body;
pub mod cgi;
pub mod cgi_response;
pub mod chunked;
pub mod content_coding;
pub mod content_disposition;
pub mod cookie;
pub mod date;
pub mod directory_listing;
pub mod error;
pub mod error_page;
pub mod form;
pub mod framing;
pub mod headers;
pub mod limits;
pub mod line;
pub mod log_line;
pub mod mime;
pub mod proxy;
pub mod pyrepr;
pub mod range;
pub mod redirect;
pub mod request_head;
pub mod request_line;
pub mod request_parse;
pub mod request_plan;
pub mod response_encode;
pub mod response_framing;
pub mod response_parse;
pub mod status;
pub mod status_line;
pub mod translate_path;
pub mod url;

pub use error::ProtoError;
pub use headers::Headers;

/// Decode bytes as ISO-8859-1, the way Python decodes header bytes.
pub fn latin1(bytes: &[u8]) -> String {
    if bytes.is_ascii() {
        // The same text in both encodings (almost every head): one copy, no per-char work.
        return String::from_utf8(bytes.to_vec()).unwrap_or_default();
    }
    bytes.iter().map(|&b| b as char).collect()
}

/// Encode text as ISO-8859-1; `None` when a character is outside Latin-1.
pub fn to_latin1(text: &str) -> Option<Vec<u8>> {
    text.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_round_trip() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(to_latin1(&latin1(&bytes)).unwrap(), bytes);
        assert_eq!(to_latin1("snow \u{2603}"), None);
        assert_eq!(latin1(b"Host: a\xe9"), "Host: a\u{e9}");
        assert_eq!(latin1(b"Host: a"), "Host: a");
    }
}
