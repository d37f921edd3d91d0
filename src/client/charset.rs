//! `text()`'s character decoding (feature `charset`): the `charset` parameter of the
//! response's `Content-Type`, else the caller's default, else UTF-8, named by the WHATWG
//! Encoding Standard's labels and decoded by `encoding_rs`, as browsers and reqwest do.
//! A byte order mark wins over the label and is dropped. A body in UTF-8 without one is
//! left to `text()`'s own check (a word at a time, and no copy).

use encoding_rs::{Encoding, UTF_8};

/// The encoding of a body whose (first) `Content-Type` is `content_type`: the one its
/// `charset` names, else `default`'s, else UTF-8. A label the standard does not know
/// counts as none.
pub(crate) fn encoding(content_type: Option<&[u8]>, default: Option<&str>) -> &'static Encoding {
    let label = content_type.and_then(charset_param);
    if let Some(found) = label.and_then(by_label) {
        return found;
    }
    default
        .and_then(|d| by_label(d.as_bytes()))
        .unwrap_or(UTF_8)
}

/// The encoding `label` names (the usual `utf-8` without a lookup).
fn by_label(label: &[u8]) -> Option<&'static Encoding> {
    if label.eq_ignore_ascii_case(b"utf-8") {
        return Some(UTF_8);
    }
    Encoding::for_label(label)
}

/// The value of the `charset` parameter of a media type (RFC 9110 §8.3.1:
/// `type/subtype *( OWS ";" OWS name=value )`, the value a token or a quoted string;
/// parameter names are case-insensitive). The first, if named twice.
fn charset_param(media_type: &[u8]) -> Option<&[u8]> {
    media_type.split(|&b| b == b';').skip(1).find_map(|param| {
        let at = param.iter().position(|&b| b == b'=')?;
        let (name, value) = (&param[..at], &param[at + 1..]);
        if !name.trim_ascii().eq_ignore_ascii_case(b"charset") {
            return None;
        }
        let value = value.trim_ascii();
        Some(
            value
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(value),
        )
    })
}

/// `body` decoded from `encoding`, malformed sequences replaced with U+FFFD; `None` when
/// it is UTF-8 without a byte order mark, which the caller reads itself.
#[inline]
pub(crate) fn decode(encoding: &'static Encoding, body: &[u8]) -> Option<String> {
    // Every byte order mark begins with one of these three bytes.
    let marked =
        matches!(body.first(), Some(0xef | 0xfe | 0xff)) && Encoding::for_bom(body).is_some();
    if encoding == UTF_8 && !marked {
        return None;
    }
    let (text, _, _) = encoding.decode(body);
    Some(text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_charset_parameter_names_the_encoding() {
        // (Content-Type, default, encoding)
        let rows: &[(Option<&str>, Option<&str>, &str)] = &[
            (None, None, "UTF-8"),
            (Some("text/html"), None, "UTF-8"),
            (Some("text/html; charset=utf-8"), None, "UTF-8"),
            (Some("text/html; charset=ISO-8859-1"), None, "windows-1252"),
            (Some("text/html;charset=\"Shift_JIS\""), None, "Shift_JIS"),
            (Some("text/plain ; Charset = koi8-r ; q=1"), None, "KOI8-R"),
            (
                Some("text/plain; format=flowed; charset=utf-16le"),
                None,
                "UTF-16LE",
            ),
            (Some("text/plain; charset=gbk; charset=big5"), None, "GBK"),
            (Some("text/plain; charset=no-such-thing"), None, "UTF-8"),
            (
                Some("text/plain; charset=no-such-thing"),
                Some("latin1"),
                "windows-1252",
            ),
            (Some("text/plain; charset="), Some("euc-kr"), "EUC-KR"),
            (Some("text/plain; charset"), None, "UTF-8"),
            (Some("charset=big5"), None, "UTF-8"),
            (None, Some("windows-1251"), "windows-1251"),
            (None, Some("nonsense"), "UTF-8"),
            (
                Some("text/html; charset=iso-8859-2"),
                Some("latin1"),
                "ISO-8859-2",
            ),
        ];
        for &(content_type, default, expected) in rows {
            let found = encoding(content_type.map(str::as_bytes), default);
            assert_eq!(found.name(), expected, "{content_type:?} {default:?}");
        }
    }

    #[test]
    fn bodies_decode_and_utf8_without_a_mark_is_left_to_the_caller() {
        let latin = encoding(Some(b"text/plain; charset=latin1"), None);
        assert_eq!(decode(latin, b"caf\xe9 \x80").unwrap(), "café €");
        assert_eq!(decode(UTF_8, "déjà".as_bytes()), None);
        assert_eq!(decode(UTF_8, b"\xfe not a mark"), None);
        // A byte order mark wins over the label, and is dropped.
        assert_eq!(decode(UTF_8, b"\xef\xbb\xbfok").unwrap(), "ok");
        assert_eq!(decode(latin, b"\xff\xfeo\x00k\x00").unwrap(), "ok");
        let sjis = encoding(Some(b"text/plain; charset=shift_jis"), None);
        assert_eq!(decode(sjis, b"\x93\xfa\x96{").unwrap(), "日本");
        // Malformed sequences become U+FFFD, never an error.
        let utf16 = encoding(Some(b"text/plain; charset=utf-16be"), None);
        assert_eq!(decode(utf16, b"\x00o\x00").unwrap(), "o\u{fffd}");
    }
}
