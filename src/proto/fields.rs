//! Reading a field of a small header map by scanning it: the framing, keep-alive and
//! decoding decisions ask for five fields of every response, most of them absent, and a
//! response head has a handful of fields; a scan of those compares names (a standard
//! name is one byte) where a lookup hashes the name first. Maps larger than [`SCAN_MAX`]
//! are looked up as usual.

use http::header::{GetAll, ValueIter};
use http::{HeaderMap, HeaderName, HeaderValue};

/// Maps with more values than this are looked up by hash.
const SCAN_MAX: usize = 12;

/// Every value of `name` in `headers`, in order, as `HeaderMap::get_all` gives them.
pub(crate) fn fields<'a>(headers: &'a HeaderMap, name: &'a HeaderName) -> Fields<'a> {
    if headers.len() <= SCAN_MAX {
        Fields::Scan(headers.iter(), name)
    } else {
        let all: GetAll<'a, HeaderValue> = headers.get_all(name);
        Fields::Hashed(all.into_iter())
    }
}

/// Whether `headers` has a field called `name`.
pub(crate) fn has_field(headers: &HeaderMap, name: &HeaderName) -> bool {
    fields(headers, name).next().is_some()
}

/// The values of one field name.
pub(crate) enum Fields<'a> {
    Scan(http::header::Iter<'a, HeaderValue>, &'a HeaderName),
    Hashed(ValueIter<'a, HeaderValue>),
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a HeaderValue;

    fn next(&mut self) -> Option<&'a HeaderValue> {
        match self {
            Fields::Scan(iter, name) => iter.find(|(n, _)| *n == *name).map(|(_, v)| v),
            Fields::Hashed(iter) => iter.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};

    #[test]
    fn a_scan_and_a_lookup_give_the_same_values_in_the_same_order() {
        let keep_alive = HeaderName::from_static("keep-alive");
        for extra in [0, 5, 20] {
            let mut map = HeaderMap::new();
            map.append(CONNECTION, HeaderValue::from_static("a"));
            for i in 0..extra {
                let name = HeaderName::from_bytes(format!("x-{i}").as_bytes()).unwrap();
                map.append(name, HeaderValue::from_static("x"));
            }
            map.append(TRANSFER_ENCODING, HeaderValue::from_static("gzip"));
            map.append(CONNECTION, HeaderValue::from_static("b"));
            map.append(keep_alive.clone(), HeaderValue::from_static("timeout=5"));
            for name in [
                &CONNECTION,
                &TRANSFER_ENCODING,
                &CONTENT_LENGTH,
                &keep_alive,
            ] {
                let scanned: Vec<_> = fields(&map, name).collect();
                let looked_up: Vec<_> = map.get_all(name).iter().collect();
                assert_eq!(scanned, looked_up, "{name} with {extra} other fields");
                assert_eq!(has_field(&map, name), map.contains_key(name));
            }
            assert_eq!(fields(&map, &CONNECTION).count(), 2);
        }
    }
}
