//! The file name a `Content-Disposition` header suggests (RFC 6266 4.3), read as curl's `-J`
//! reads it: the `filename` parameter, quoted or not, with any folder part stripped so that
//! a server can name a file but never say where it goes. (`filename*`, RFC 8187, is left
//! unread, as curl leaves it.)

/// The bare file name `value` names; none when it names none or only a folder.
pub fn filename(value: &str) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    let mut from = 0;
    let start = loop {
        let at = from + lower[from..].find("filename=")?;
        // A parameter starts the value or follows ";" (and spaces): not "xfilename=".
        let before = lower[..at].trim_end_matches([' ', '\t']);
        if before.is_empty() || before.ends_with(';') {
            break at + "filename=".len();
        }
        from = at + 1;
    };
    let rest = &value[start..];
    let name = match rest.strip_prefix('"') {
        Some(quoted) => &quoted[..quoted.find('"').unwrap_or(quoted.len())],
        None => &rest[..rest.find([';', ' ', '\t', '\r', '\n']).unwrap_or(rest.len())],
    };
    let name = name.rsplit(['/', '\\']).next().unwrap_or("");
    (!name.is_empty() && name != "." && name != "..").then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::filename;

    #[test]
    fn names_as_curl_reads_them() {
        assert_eq!(filename("attachment; filename=\"a b.txt\"").as_deref(), Some("a b.txt"));
        assert_eq!(
            filename("attachment; FILENAME=plain.txt; size=3").as_deref(),
            Some("plain.txt")
        );
        assert_eq!(
            filename("attachment; filename=\"../../etc/evil\"").as_deref(),
            Some("evil")
        );
        assert_eq!(
            filename("attachment; filename=C:\\dir\\x.exe").as_deref(),
            Some("x.exe")
        );
        assert_eq!(filename("attachment; filename*=UTF-8''caf%C3%A9.txt"), None);
        assert_eq!(filename("attachment; xfilename=no.txt"), None);
        assert_eq!(filename("attachment; filename=\"dir/\""), None);
        assert_eq!(filename("attachment; filename=.."), None);
        assert_eq!(filename("inline"), None);
    }
}
