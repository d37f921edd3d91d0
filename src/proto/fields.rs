//! Reading the fields the framing, keep-alive and decoding decisions ask for of every
//! response (`Connection`, `Keep-Alive`, `Transfer-Encoding`, `Content-Length`,
//! `Content-Encoding`), most of them absent.
//!
//! The parse notes which of the five a head has ([`Present`]), so a decision asks only for
//! fields that are there. One that is there is found by scanning a small map, comparing
//! names (a standard name is one byte), where a lookup would hash the name first; maps
//! larger than [`SCAN_MAX`] are looked up as usual. A map not parsed here (a request's,
//! a test's) is read as [`Present::ANY`]: every field looked for. A head whose map is not
//! built yet (`proto::Headers`) is read from its bytes, where the scan noted each field
//! ([`FieldSpan`]). Values are given as bytes either way.

use http::header::{
    GetAll, ValueIter, CONNECTION, CONTENT_ENCODING, CONTENT_LENGTH, TRANSFER_ENCODING,
};
use http::{HeaderMap, HeaderName, HeaderValue};

/// Maps with more values than this are looked up by hash.
const SCAN_MAX: usize = 12;

/// The `Keep-Alive` header name.
pub(crate) const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

/// The five fields the decisions read, each with its [`Present`] bit: asked for by this
/// rather than by name, a lookup needs no comparison of names to find its bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    ContentLength,
    TransferEncoding,
    Connection,
    ContentEncoding,
    KeepAlive,
}

static NAME_CONTENT_LENGTH: HeaderName = CONTENT_LENGTH;
static NAME_TRANSFER_ENCODING: HeaderName = TRANSFER_ENCODING;
static NAME_CONNECTION: HeaderName = CONNECTION;
static NAME_CONTENT_ENCODING: HeaderName = CONTENT_ENCODING;
static NAME_KEEP_ALIVE: HeaderName = KEEP_ALIVE;

impl Field {
    /// Its bit, as [`Present::bit`] gives it for its name.
    const fn bit(self) -> u8 {
        1 << self as u8
    }

    fn name(self) -> &'static HeaderName {
        match self {
            Field::ContentLength => &NAME_CONTENT_LENGTH,
            Field::TransferEncoding => &NAME_TRANSFER_ENCODING,
            Field::Connection => &NAME_CONNECTION,
            Field::ContentEncoding => &NAME_CONTENT_ENCODING,
            Field::KeepAlive => &NAME_KEEP_ALIVE,
        }
    }
}

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

    /// The bit of a field name as the head has it (any case).
    fn bit_of_bytes(name: &[u8]) -> u8 {
        let is = |known: &HeaderName| same_name(name, known.as_str().as_bytes());
        match name.len() {
            14 if is(&CONTENT_LENGTH) => 1,
            17 if is(&TRANSFER_ENCODING) => 2,
            10 if is(&CONNECTION) => 4,
            16 if is(&CONTENT_ENCODING) => 8,
            10 if is(&KEEP_ALIVE) => 16,
            _ => 0,
        }
    }

    /// Notes a field of the head.
    pub fn note(&mut self, name: &HeaderName) {
        self.0 |= Present::bit(name);
    }

    /// Notes a field of the head by its name as received; its bit is returned.
    #[inline]
    pub(crate) fn note_bytes(&mut self, name: &[u8]) -> u8 {
        let bit = Present::bit_of_bytes(name);
        self.0 |= bit;
        bit
    }
}

/// Whether a field name as received (a token, any case) is `lower`, a name of lower-case
/// letters, digits and `-`: a letter matches itself or its upper case; `-` and digits
/// already have the bit set that maps upper case to lower, and no other token byte gains
/// it to become one of them.
fn same_name(name: &[u8], lower: &[u8]) -> bool {
    name.len() == lower.len() && name.iter().zip(lower).all(|(&a, &b)| a | 0x20 == b)
}

/// Where one field's name and value lie in a head of at most `u16::MAX` bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldSpan {
    pub name: (u16, u16),
    pub value: (u16, u16),
    /// The name's [`Present`] bit (0 for a field the decisions do not read).
    pub bit: u8,
}

impl FieldSpan {
    /// The name in `head` (empty if the span is not in it).
    pub fn name(self, head: &[u8]) -> &[u8] {
        piece(head, self.name)
    }

    /// The value in `head` (empty if the span is not in it).
    pub fn value(self, head: &[u8]) -> &[u8] {
        piece(head, self.value)
    }
}

fn piece(head: &[u8], (start, end): (u16, u16)) -> &[u8] {
    head.get(usize::from(start)..usize::from(end))
        .unwrap_or_default()
}

/// A head's fields as the decisions read them: with what the parse noted of them.
#[derive(Clone, Copy)]
pub struct FieldView<'a> {
    source: Source<'a>,
    present: Present,
}

#[derive(Clone, Copy)]
enum Source<'a> {
    Map(&'a HeaderMap),
    /// A head's bytes and where its fields lie.
    Raw(&'a [u8], &'a [FieldSpan]),
}

impl<'a> FieldView<'a> {
    /// `headers`, of which `present` says which of the five fields it has.
    pub fn new(headers: &'a HeaderMap, present: Present) -> FieldView<'a> {
        FieldView {
            source: Source::Map(headers),
            present,
        }
    }

    /// The fields at `spans` of `head`, of which `present` says which of the five it has.
    pub(crate) fn raw(head: &'a [u8], spans: &'a [FieldSpan], present: Present) -> FieldView<'a> {
        FieldView {
            source: Source::Raw(head, spans),
            present,
        }
    }

    /// No fields at all.
    pub(crate) fn empty() -> FieldView<'a> {
        FieldView::raw(&[], &[], Present::NONE)
    }

    /// Every value of `name`, in order, as `HeaderMap::get_all` gives them.
    #[cfg(test)]
    pub fn all(self, name: &'a HeaderName) -> Fields<'a> {
        self.lookup(name, Present::bit(name))
    }

    /// Every value of one of the five fields, in order.
    pub(crate) fn field(self, field: Field) -> Fields<'a> {
        self.lookup(field.name(), field.bit())
    }

    /// The value of one of the five fields that is there once (`Ok(None)`: not there).
    /// `Err` when it is there more than once, for the caller to go through every value.
    /// One pass over a raw head's spans, where `field` makes an iterator and asks it
    /// twice.
    #[inline]
    pub(crate) fn once(self, field: Field) -> Result<Option<&'a [u8]>, Repeated> {
        if !self.may_have(field) {
            return Ok(None);
        }
        let Source::Raw(head, spans) = self.source else {
            let mut values = self.field(field);
            return match (values.next(), values.next()) {
                (first, None) => Ok(first),
                (_, Some(_)) => Err(Repeated),
            };
        };
        let mut found = None;
        for span in spans.iter().filter(|s| s.bit == field.bit()) {
            if found.is_some() {
                return Err(Repeated);
            }
            found = Some(span.value(head));
        }
        Ok(found)
    }

    /// Whether one of the five fields may be there: false when the parse noted it absent
    /// (a byte's test, inline, so that the usual absent field costs no lookup at all).
    #[inline]
    pub(crate) fn may_have(self, field: Field) -> bool {
        self.present.0 & field.bit() != 0
    }

    /// Whether one of the five fields is there.
    #[inline]
    pub(crate) fn has_field(self, field: Field) -> bool {
        self.may_have(field) && self.field(field).next().is_some()
    }

    /// The values of `name`, whose [`Present`] bit is `bit`.
    fn lookup(self, name: &'a HeaderName, bit: u8) -> Fields<'a> {
        // Not there, by what the parse noted (a field it does not note may be).
        if bit != 0 && self.present.0 & bit == 0 {
            return Fields::Absent;
        }
        match self.source {
            Source::Raw(head, spans) => Fields::Raw(head, spans.iter(), name, bit),
            Source::Map(headers) if headers.len() <= SCAN_MAX => Fields::Scan(headers.iter(), name),
            Source::Map(headers) => {
                let all: GetAll<'a, HeaderValue> = headers.get_all(name);
                Fields::Hashed(all.into_iter())
            }
        }
    }

    /// Whether there is a field called `name`.
    #[cfg(test)]
    pub fn has(self, name: &'a HeaderName) -> bool {
        self.all(name).next().is_some()
    }
}

/// A field asked for `once` is there more than once.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Repeated;

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
    /// With the name's [`Present`] bit.
    Raw(
        &'a [u8],
        std::slice::Iter<'a, FieldSpan>,
        &'a HeaderName,
        u8,
    ),
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Fields::Absent => None,
            Fields::Scan(iter, name) => iter.find(|(n, _)| *n == *name).map(|(_, v)| v.as_bytes()),
            Fields::Hashed(iter) => iter.next().map(HeaderValue::as_bytes),
            Fields::Raw(head, spans, name, bit) => match *bit {
                // Not one of the five, whose bits the scan noted: by name.
                0 => {
                    let wanted = name.as_str().as_bytes();
                    spans
                        .find(|s| s.name(head).eq_ignore_ascii_case(wanted))
                        .map(|s| s.value(head))
                }
                bit => spans.find(|s| s.bit == bit).map(|s| s.value(head)),
            },
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
                    let looked_up: Vec<_> = map
                        .get_all(name)
                        .iter()
                        .map(HeaderValue::as_bytes)
                        .collect();
                    assert_eq!(viewed, looked_up, "{name} with {extra} other fields");
                    assert_eq!(view.has(name), map.contains_key(name));
                }
                assert_eq!(view.all(&CONNECTION).count(), 2);
            }
        }
    }

    #[test]
    fn each_field_has_the_bit_and_the_name_its_name_has() {
        let fields = [
            Field::ContentLength,
            Field::TransferEncoding,
            Field::Connection,
            Field::ContentEncoding,
            Field::KeepAlive,
        ];
        let mut bits = 0u8;
        for field in fields {
            assert_eq!(field.bit(), Present::bit(field.name()), "{field:?}");
            let name = field.name().as_str().as_bytes();
            assert_eq!(field.bit(), Present::bit_of_bytes(name), "{field:?}");
            bits |= field.bit();
        }
        assert_eq!(bits.count_ones(), 5, "five bits, one each");
    }

    #[test]
    fn once_gives_a_single_value_and_refuses_a_repeated_one_raw_or_mapped() {
        // (fields, what `once(ContentLength)` gives)
        type Case = (
            &'static [(&'static str, &'static str)],
            Result<Option<&'static [u8]>, Repeated>,
        );
        let cases: [Case; 5] = [
            (&[("date", "x")], Ok(None)),
            (&[("content-length", "5")], Ok(Some(b"5"))),
            (
                &[("date", "x"), ("Content-Length", "12"), ("vary", "y")],
                Ok(Some(b"12")),
            ),
            (
                &[("content-length", "5"), ("content-length", "5")],
                Err(Repeated),
            ),
            (
                &[
                    ("content-length", "5"),
                    ("date", "x"),
                    ("content-length", "6"),
                ],
                Err(Repeated),
            ),
        ];
        for (fields, want) in cases {
            // The raw view, as the parse leaves a head: its bytes and the spans in them.
            let mut head = Vec::new();
            let mut spans = Vec::new();
            let mut present = Present::NONE;
            let mut map = HeaderMap::new();
            for (name, value) in fields {
                let name_at = head.len() as u16;
                head.extend_from_slice(name.as_bytes());
                let value_at = head.len() as u16;
                head.extend_from_slice(value.as_bytes());
                let bit = present.note_bytes(name.as_bytes());
                spans.push(FieldSpan {
                    name: (name_at, value_at),
                    value: (value_at, head.len() as u16),
                    bit,
                });
                map.append(
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                );
            }
            let raw = FieldView::raw(&head, &spans, present);
            assert_eq!(raw.once(Field::ContentLength), want, "raw {fields:?}");
            let mapped = FieldView::from(&map);
            assert_eq!(mapped.once(Field::ContentLength), want, "mapped {fields:?}");
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
