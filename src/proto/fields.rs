//! Reading the fields the framing, keep-alive and decoding decisions ask for of every
//! response (`Connection`, `Keep-Alive`, `Transfer-Encoding`, `Content-Length`,
//! `Content-Encoding`), most of them absent.
//!
//! The parse notes which of the five a head has ([`Present`]), so a decision asks only for
//! fields that are there. One that is there is found by scanning a small map, comparing
//! names (a standard name is one byte), where a lookup would hash the name first; maps
//! larger than [`SCAN_MAX`] are looked up as usual. A map not parsed here (a request's,
//! a test's) is read as [`Present::ANY`]: every field looked for.

use http::header::{
    GetAll, ValueIter, CONNECTION, CONTENT_ENCODING, CONTENT_LENGTH, TRANSFER_ENCODING,
};
use http::{HeaderMap, HeaderName, HeaderValue};

/// Maps with more values than this are looked up by hash.
const SCAN_MAX: usize = 12;

/// The `Keep-Alive` header name.
pub(crate) const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

/// Which of the decisions' five fields a head has, one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Present(u8);

impl Present {
    /// None of the five.
    pub const NONE: Present = Present(0);
    /// Any of them may be there: each is looked for.
    pub const ANY: Present = Present(u8::MAX);

    /// The bit of `name`, 0 for a field the decisions do not read.
    fn bit(name: &HeaderName) -> u8 {
        if *name == CONTENT_LENGTH {
            1
        } else if *name == TRANSFER_ENCODING {
            2
        } else if *name == CONNECTION {
            4
        } else if *name == CONTENT_ENCODING {
            8
        } else if *name == KEEP_ALIVE {
            16
        } else {
            0
        }
    }

    /// Notes a field of the head.
    pub fn note(&mut self, name: &HeaderName) {
        self.0 |= Present::bit(name);
    }

    /// Whether a field called `name` may be in the head.
    fn may_have(self, name: &HeaderName) -> bool {
        let bit = Present::bit(name);
        bit == 0 || self.0 & bit != 0
    }
}

/// A header map as the decisions read it: with what the parse noted of it.
#[derive(Clone, Copy)]
pub struct FieldView<'a> {
    headers: &'a HeaderMap,
    present: Present,
}

impl<'a> FieldView<'a> {
    /// `headers`, of which `present` says which of the five fields it has.
    pub fn new(headers: &'a HeaderMap, present: Present) -> FieldView<'a> {
        FieldView { headers, present }
    }

    /// Every value of `name`, in order, as `HeaderMap::get_all` gives them.
    pub fn all(self, name: &'a HeaderName) -> Fields<'a> {
        if !self.present.may_have(name) {
            Fields::Absent
        } else if self.headers.len() <= SCAN_MAX {
            Fields::Scan(self.headers.iter(), name)
        } else {
            let all: GetAll<'a, HeaderValue> = self.headers.get_all(name);
            Fields::Hashed(all.into_iter())
        }
    }

    /// Whether there is a field called `name`.
    pub fn has(self, name: &'a HeaderName) -> bool {
        self.all(name).next().is_some()
    }
}

/// A map not parsed here: every field is looked for.
impl<'a> From<&'a HeaderMap> for FieldView<'a> {
    fn from(headers: &'a HeaderMap) -> FieldView<'a> {
        FieldView::new(headers, Present::ANY)
    }
}

/// The values of one field name.
pub enum Fields<'a> {
    Absent,
    Scan(http::header::Iter<'a, HeaderValue>, &'a HeaderName),
    Hashed(ValueIter<'a, HeaderValue>),
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a HeaderValue;

    fn next(&mut self) -> Option<&'a HeaderValue> {
        match self {
            Fields::Absent => None,
            Fields::Scan(iter, name) => iter.find(|(n, _)| *n == *name).map(|(_, v)| v),
            Fields::Hashed(iter) => iter.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_gives_the_values_a_lookup_gives_in_the_same_order() {
        for extra in [0, 5, 20] {
            let mut map = HeaderMap::new();
            let mut present = Present::NONE;
            let mut add = |name: HeaderName, value: &'static str| {
                present.note(&name);
                map.append(name, HeaderValue::from_static(value));
            };
            add(CONNECTION, "a");
            for i in 0..extra {
                add(
                    HeaderName::from_bytes(format!("x-{i}").as_bytes()).unwrap(),
                    "x",
                );
            }
            add(TRANSFER_ENCODING, "gzip");
            add(CONNECTION, "b");
            add(KEEP_ALIVE, "timeout=5");
            for view in [FieldView::new(&map, present), FieldView::from(&map)] {
                for name in [
                    &CONNECTION,
                    &TRANSFER_ENCODING,
                    &CONTENT_LENGTH,
                    &KEEP_ALIVE,
                ] {
                    let viewed: Vec<_> = view.all(name).collect();
                    let looked_up: Vec<_> = map.get_all(name).iter().collect();
                    assert_eq!(viewed, looked_up, "{name} with {extra} other fields");
                    assert_eq!(view.has(name), map.contains_key(name));
                }
                assert_eq!(view.all(&CONNECTION).count(), 2);
            }
        }
    }

    #[test]
    fn a_field_the_parse_did_not_note_is_not_looked_for() {
        let mut map = HeaderMap::new();
        map.append(CONTENT_LENGTH, HeaderValue::from_static("5"));
        map.append(CONNECTION, HeaderValue::from_static("close"));
        let mut noted = Present::NONE;
        noted.note(&CONTENT_LENGTH);
        let view = FieldView::new(&map, noted);
        assert!(view.has(&CONTENT_LENGTH));
        assert!(!view.has(&CONNECTION), "not noted, so not looked for");
        assert!(FieldView::from(&map).has(&CONNECTION));
    }
}
