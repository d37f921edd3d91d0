//! `scan_plain` beside `httparse`: every head the plain scan takes must read exactly as
//! httparse reads it, and the heads servers send must be taken.

use super::*;

/// What a scan found, as bytes: version, status, length, and each field's name and value.
type Read = (Version, StatusCode, usize, Vec<(Vec<u8>, Vec<u8>)>);

fn read(line: StatusLine, spans: &Spans, buf: &[u8]) -> Read {
    let piece = |(a, b): (u32, u32)| buf[a as usize..b as usize].to_vec();
    let fields = spans
        .iter()
        .map(|s| (piece(s.name), piece(s.value)))
        .collect();
    (line.version, line.status, line.len, fields)
}

fn plain(buf: &[u8], limits: &HeadLimits) -> Option<Read> {
    let mut spans = Spans::new();
    scan_plain(buf, limits, &mut spans).map(|line| read(line, &spans, buf))
}

fn httparse(buf: &[u8], limits: &HeadLimits) -> Result<Option<Read>, ProtoError> {
    let mut spans = Spans::new();
    scan_httparse(buf, limits, &mut spans).map(|line| line.map(|line| read(line, &spans, buf)))
}

fn field(name: &str, value: &str) -> (Vec<u8>, Vec<u8>) {
    (name.as_bytes().to_vec(), value.as_bytes().to_vec())
}

#[test]
fn the_heads_servers_send_are_read_plain() {
    let limits = HeadLimits::default();
    let nginx =
        b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Fri, 04 Dec 2026 08:00:00 GMT\r\n\
Content-Type: text/html\r\nContent-Length: 615\r\nLast-Modified: Tue, 01 Dec 2026 10:00:00 GMT\r\n\
Connection: keep-alive\r\nETag: \"6566-267\"\r\nAccept-Ranges: bytes\r\n\r\n<html>";
    let got = plain(nginx, &limits).expect("read plain");
    assert_eq!(got.0, Version::HTTP_11);
    assert_eq!(got.1, StatusCode::OK);
    assert_eq!(&nginx[got.2..], b"<html>");
    assert_eq!(got.3.len(), 8);
    assert_eq!(got.3[1], field("Date", "Fri, 04 Dec 2026 08:00:00 GMT"));
    assert_eq!(got.3[6], field("ETag", "\"6566-267\""));
    assert_eq!(Ok(Some(got)), httparse(nginx, &limits));

    // No reason, HTTP/1.0, a tab inside and spaces around a value, an empty value.
    let odd = b"HTTP/1.0 404\r\nX-A:\tone\ttwo  \r\nX-Empty:\r\nX-Spaces:   \r\n\r\n";
    let got = plain(odd, &limits).expect("read plain");
    assert_eq!((got.0, got.1), (Version::HTTP_10, StatusCode::NOT_FOUND));
    assert_eq!(
        got.3,
        vec![
            field("X-A", "one\ttwo"),
            field("X-Empty", ""),
            field("X-Spaces", "")
        ]
    );
    assert_eq!(Ok(Some(got)), httparse(odd, &limits));
}

#[test]
fn what_is_not_plain_goes_to_httparse() {
    let limits = HeadLimits::default();
    for head in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"[..], // incomplete
        b"HTTP/1.1 200 OK",                               // incomplete status line
        b"HTTP/1.1 200 OK\nContent-Length: 5\n\n",        // bare LF
        b"HTTP/1.1 200 OK\r\nX : 1\r\n\r\n",              // space before the colon
        b"HTTP/1.1 200 OK\r\nX: 1\r\n folded\r\n\r\n",    // obs-fold
        b"HTTP/1.1 200 OK\r\nX: a\x7fb\r\n\r\n",          // DEL
        b"HTTP/1.1 200 O\x01K\r\n\r\n",                   // a control byte in the reason
        b"HTTP/1.1 200 caf\xe9\r\n\r\n",                  // obs-text in the reason
        b"HTTP/1.1 099 Low\r\n\r\n",                      // below 100
        b"HTTP/1.1 200 OK\r\r\n\r\n",                     // CR alone
        b"HTTP/2.0 200 OK\r\n\r\n",
        b"HTTP/1.1  200 OK\r\n\r\n",
        b"\r\nHTTP/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: caf\xe9\r\n\r\n", // obs-text in a value
    ] {
        assert_eq!(
            plain(head, &limits),
            None,
            "{:?}",
            String::from_utf8_lossy(head)
        );
    }
    // Over the limits: httparse reports it.
    let head = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n";
    let few = HeadLimits {
        max_headers: 1,
        ..limits
    };
    assert_eq!(plain(head, &few), None);
    assert_eq!(httparse(head, &few), Err(ProtoError::TooManyHeaders));
    let short = HeadLimits {
        max_head_bytes: head.len() - 1,
        ..limits
    };
    assert_eq!(plain(head, &short), None);
    assert_eq!(httparse(head, &short), Err(ProtoError::HeadTooLarge));
    let exact = HeadLimits {
        max_head_bytes: head.len(),
        max_headers: 2,
        ..HeadLimits::default()
    };
    assert_eq!(plain(head, &exact), httparse(head, &exact).unwrap());
}

/// splitmix64, for the generated heads.
struct Gen(u64);

impl Gen {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    }

    fn pick<'a>(&mut self, from: &[&'a [u8]]) -> &'a [u8] {
        from[self.below(from.len())]
    }

    /// `n` bytes, mostly from `usual`, now and then any byte at all.
    fn bytes(&mut self, n: usize, usual: &[u8], out: &mut Vec<u8>) {
        for _ in 0..n {
            out.push(if self.below(300) == 0 {
                self.below(256) as u8
            } else {
                usual[self.below(usual.len())]
            });
        }
    }

    fn head(&mut self) -> Vec<u8> {
        const NAME: &[u8] = b"abcXYZ09-_!#.~:";
        const VALUE: &[u8] = b"abcXYZ09 \t,;=\"/:-";
        let mut h = Vec::new();
        h.extend_from_slice(self.pick(&[
            b"HTTP/1.1 ",
            b"HTTP/1.1 ",
            b"HTTP/1.1 ",
            b"HTTP/1.1 ",
            b"HTTP/1.0 ",
            b"HTTP/1.2 ",
            b"HTTP/1.1  ",
            b"HTTP/11 ",
            b"\r\nHTTP/1.1 ",
        ]));
        let code = self.below(8);
        self.bytes(
            3,
            if code == 0 {
                b"0123456789x "
            } else {
                b"0123456789"
            },
            &mut h,
        );
        match self.below(4) {
            0 => {}
            _ => {
                h.push(b' ');
                let n = self.below(12);
                self.bytes(n, VALUE, &mut h);
            }
        }
        const CRLF: &[u8] = b"\r\n";
        h.extend_from_slice(self.pick(&[CRLF, CRLF, CRLF, CRLF, CRLF, CRLF, b"\n", b"\r"]));
        for _ in 0..self.below(10) {
            let n = 1 + self.below(12);
            self.bytes(n, NAME, &mut h);
            h.extend_from_slice(self.pick(&[b":", b":", b": ", b": ", b":\t ", b" :"]));
            let n = self.below(24);
            self.bytes(n, VALUE, &mut h);
            h.extend_from_slice(self.pick(&[
                CRLF, CRLF, CRLF, CRLF, CRLF, CRLF, CRLF, CRLF, b"\n", b"\r\n ",
            ]));
        }
        h.extend_from_slice(self.pick(&[CRLF, CRLF, CRLF, CRLF, CRLF, b"\n", b""]));
        if self.below(2) == 0 {
            h.extend_from_slice(b"body");
        }
        h
    }
}

/// Over many generated heads, and every prefix of each, under tight and default limits:
/// whenever the plain scan takes a head, httparse reads the same (and the plain scan takes
/// a good share of the heads httparse reads whole, so the comparison is not an empty one).
#[test]
fn generated_heads_the_plain_scan_takes_read_as_httparse_reads_them() {
    let mut gen = Gen(0x2545_f491_4f6c_dd1d);
    let limits = [
        HeadLimits::default(),
        HeadLimits {
            max_head_bytes: 60,
            max_headers: 3,
            ..HeadLimits::default()
        },
    ];
    let (mut taken, mut complete) = (0, 0);
    for _ in 0..8_000 {
        let head = gen.head();
        for end in 0..=head.len() {
            let buf = &head[..end];
            for limits in &limits {
                let theirs = httparse(buf, limits);
                if matches!(theirs, Ok(Some(_))) {
                    complete += 1;
                }
                if let Some(ours) = plain(buf, limits) {
                    taken += 1;
                    assert_eq!(
                        Ok(Some(ours)),
                        theirs,
                        "{:?} under {limits:?}",
                        String::from_utf8_lossy(buf)
                    );
                }
            }
        }
    }
    assert!(
        taken * 3 > complete && taken > 2_000,
        "plain took {taken} of the {complete} heads httparse read whole"
    );
}

/// The scans that read eight bytes at a time (or in a loop of their own) agree with
/// reading one byte at a time, for every byte at every place in a word and across two.
#[test]
fn word_at_a_time_scans_agree_with_byte_at_a_time() {
    let tokens = |s: &[u8]| s.iter().take_while(|&&b| TOKEN[usize::from(b)]).count();
    let text = |s: &[u8]| {
        s.iter()
            .take_while(|&&b| b == b'\t' || (b' '..=b'~').contains(&b))
            .count()
    };
    for fill in [b'a', b'Z', b'7', b'-', b'_', b' ', b'\t'] {
        for place in 0..20 {
            for byte in 0..=255u8 {
                let mut s = vec![fill; 24];
                s[place] = byte;
                s.extend_from_slice(b"\r\nrest of the head");
                for from in [0, 1, 5] {
                    let s = &s[from..];
                    let what = format!("byte {byte:#x} at {place} among {fill:#x}, from {from}");
                    assert_eq!(token_len(s), tokens(s), "{what}");
                    assert_eq!(text_len(s), text(s), "{what}");
                }
            }
        }
    }
}
