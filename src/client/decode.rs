//! Content codings (RFC 9110 §8.4): gzip (RFC 1952), deflate (zlib, RFC 1950, or the raw
//! deflate some servers send), br (RFC 7932) and zstd (RFC 8878), each a cargo feature.
//!
//! Covers: the `Accept-Encoding` value for the enabled codings, which `Content-Encoding`
//! tether decodes (one coding it asked for; anything else passes through untouched), and
//! a streaming [`Decoder`] that turns body bytes into decoded bytes a bounded piece at a
//! time: every step writes at most the output room it is given, so a decompression bomb
//! costs a bounded amount of memory per step. Pure: bytes in, bytes out, no I/O.
//!
//! gzip's header and trailer (with its CRC-32 and length) are read here; the deflate,
//! brotli and zstd streams by the codecs' streaming cores (flate2's `Decompress`,
//! brotli-decompressor's `BrotliDecompressStream`, zstd's raw `Decoder`, whose window is
//! held to the 8 MiB RFC 8878 sets for HTTP).

use http::HeaderValue;

/// A content coding tether can decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    #[cfg(feature = "gzip")]
    Gzip,
    #[cfg(feature = "deflate")]
    Deflate,
    #[cfg(feature = "brotli")]
    Brotli,
    #[cfg(feature = "zstd")]
    Zstd,
}

/// The codings a client decodes: of those compiled in, the ones its builder left on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Codings(u8);

impl Codings {
    pub const GZIP: Codings = Codings(1);
    pub const DEFLATE: Codings = Codings(2);
    pub const BROTLI: Codings = Codings(4);
    pub const ZSTD: Codings = Codings(8);
    /// None: nothing asked for, nothing decoded.
    pub const NONE: Codings = Codings(0);

    /// Every coding compiled in (the default).
    pub fn compiled() -> Codings {
        let mut all = Codings::NONE;
        for (on, coding) in [
            (cfg!(feature = "gzip"), Codings::GZIP),
            (cfg!(feature = "deflate"), Codings::DEFLATE),
            (cfg!(feature = "brotli"), Codings::BROTLI),
            (cfg!(feature = "zstd"), Codings::ZSTD),
        ] {
            if on {
                all.0 |= coding.0;
            }
        }
        all
    }

    /// These with `coding` turned on (if compiled in) or off.
    pub fn with(self, coding: Codings, on: bool) -> Codings {
        if on {
            Codings(self.0 | (coding.0 & Codings::compiled().0))
        } else {
            Codings(self.0 & !coding.0)
        }
    }

    fn has(self, coding: Codings) -> bool {
        self.0 & coding.0 != 0
    }
}

/// `Accept-Encoding` for `codings`, or `None` when there are none.
pub(crate) fn accept_encoding(codings: Codings) -> Option<HeaderValue> {
    let names: Vec<&str> = [
        (Codings::GZIP, "gzip"),
        (Codings::DEFLATE, "deflate"),
        (Codings::BROTLI, "br"),
        (Codings::ZSTD, "zstd"),
    ]
    .into_iter()
    .filter(|(coding, _)| codings.has(*coding))
    .map(|(_, name)| name)
    .collect();
    if names.is_empty() {
        return None;
    }
    HeaderValue::from_str(&names.join(", ")).ok()
}

/// The coding to decode a response with: its `Content-Encoding` names exactly one coding,
/// and one of `codings`. `identity`, stacked codings and unknown or unasked ones pass
/// through.
#[inline]
pub(crate) fn coding_of<'a>(
    headers: impl Into<crate::proto::FieldView<'a>>,
    codings: Codings,
) -> Option<Coding> {
    let headers = headers.into();
    if !headers.may_have(crate::proto::Field::ContentEncoding) {
        return None;
    }
    let mut values = headers.field(crate::proto::Field::ContentEncoding);
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    // Visible ASCII, as `HeaderValue::to_str` asks.
    if !value
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return None;
    }
    let name = std::str::from_utf8(value).ok()?.trim();
    if name.contains(',') {
        return None;
    }
    let known = match name.to_ascii_lowercase().as_str() {
        #[cfg(feature = "gzip")]
        "gzip" | "x-gzip" => Some((Coding::Gzip, Codings::GZIP)),
        #[cfg(feature = "deflate")]
        "deflate" => Some((Coding::Deflate, Codings::DEFLATE)),
        #[cfg(feature = "brotli")]
        "br" => Some((Coding::Brotli, Codings::BROTLI)),
        #[cfg(feature = "zstd")]
        "zstd" => Some((Coding::Zstd, Codings::ZSTD)),
        _ => None,
    };
    known
        .filter(|(_, bit)| codings.has(*bit))
        .map(|(coding, _)| coding)
}

/// Why decoding failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

#[cfg_attr(
    not(any(
        feature = "gzip",
        feature = "deflate",
        feature = "brotli",
        feature = "zstd"
    )),
    allow(dead_code)
)]
fn corrupt(what: &str) -> DecodeError {
    DecodeError(format!("corrupt {what} stream"))
}

/// One step: how much input was used, how much output made, and whether the coded stream
/// has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    pub consumed: usize,
    pub produced: usize,
    pub done: bool,
}

/// A streaming decoder for one coding.
pub(crate) struct Decoder {
    codec: Codec,
}

enum Codec {
    #[cfg(feature = "gzip")]
    Gzip(gzip::Gzip),
    #[cfg(feature = "deflate")]
    Deflate(deflate::Deflate),
    #[cfg(feature = "brotli")]
    Brotli(Box<brotli::Brotli>),
    #[cfg(feature = "zstd")]
    Zstd(Box<zstd_codec::Zstd>),
}

impl Decoder {
    /// A decoder for `coding`.
    // With every coding feature off, `Coding` has no value and this never runs.
    #[cfg_attr(
        not(any(
            feature = "gzip",
            feature = "deflate",
            feature = "brotli",
            feature = "zstd"
        )),
        allow(unreachable_code, unused_variables)
    )]
    pub fn new(coding: Coding) -> Result<Decoder, DecodeError> {
        let codec = match coding {
            #[cfg(feature = "gzip")]
            Coding::Gzip => Codec::Gzip(gzip::Gzip::new()),
            #[cfg(feature = "deflate")]
            Coding::Deflate => Codec::Deflate(deflate::Deflate::new()),
            #[cfg(feature = "brotli")]
            Coding::Brotli => Codec::Brotli(Box::new(brotli::Brotli::new())),
            #[cfg(feature = "zstd")]
            Coding::Zstd => Codec::Zstd(Box::new(zstd_codec::Zstd::new()?)),
        };
        Ok(Decoder { codec })
    }

    /// Decodes from `input` into `output`. With `input` empty, flushes what the codec holds.
    /// `end`: no input follows `input`, so a stream that may go on (another gzip member,
    /// another zstd frame) is complete where it stands.
    pub fn step(
        &mut self,
        input: &[u8],
        output: &mut [u8],
        end: bool,
    ) -> Result<Step, DecodeError> {
        // Only the codings whose streams may go on (gzip, zstd) look at `end`.
        let _ = end;
        match &mut self.codec {
            #[cfg(feature = "gzip")]
            Codec::Gzip(c) => c.step(input, output, end),
            #[cfg(feature = "deflate")]
            Codec::Deflate(c) => c.step(input, output),
            #[cfg(feature = "brotli")]
            Codec::Brotli(c) => c.step(input, output),
            #[cfg(feature = "zstd")]
            Codec::Zstd(c) => c.step(input, output, end),
            #[cfg(not(any(
                feature = "gzip",
                feature = "deflate",
                feature = "brotli",
                feature = "zstd"
            )))]
            _ => {
                let _ = (input, output, end);
                Err(DecodeError("no content coding is enabled".into()))
            }
        }
    }
}

#[cfg(any(feature = "gzip", feature = "deflate"))]
thread_local! {
    /// Inflaters of finished gzip and deflate bodies, for the thread's next ones: each is
    /// 43 KiB (its 32 KiB window included), which a new one allocates, clears and moves
    /// into its box, where a kept one is only cleared (`reset`, which zeroes the window,
    /// so nothing of an earlier body can be reached from the next).
    static INFLATERS: crate::kept::Kept<flate2::Decompress> = const { crate::kept::Kept::new(8) };
}

/// A flate2 `Decompress` (with the zlib wrapper or raw), the thread's kept one when there
/// is one; it goes back to be kept when dropped.
#[cfg(any(feature = "gzip", feature = "deflate"))]
struct Inflater(Option<flate2::Decompress>);

#[cfg(any(feature = "gzip", feature = "deflate"))]
impl Inflater {
    fn new(zlib: bool) -> Inflater {
        let inflate = match crate::kept::Kept::take(&INFLATERS) {
            Some(mut kept) => {
                kept.reset(zlib);
                kept
            }
            None => flate2::Decompress::new(zlib),
        };
        Inflater(Some(inflate))
    }

    fn get(&mut self) -> Option<&mut flate2::Decompress> {
        self.0.as_mut()
    }

    /// Ready for another stream (the next gzip member).
    #[cfg(feature = "gzip")]
    fn reset(&mut self, zlib: bool) {
        if let Some(inflate) = self.0.as_mut() {
            inflate.reset(zlib);
        }
    }
}

#[cfg(any(feature = "gzip", feature = "deflate"))]
impl Drop for Inflater {
    fn drop(&mut self) {
        if let Some(inflate) = self.0.take() {
            crate::kept::Kept::give(&INFLATERS, inflate);
        }
    }
}

/// One step of an `Inflater` (raw deflate, or with the zlib wrapper).
#[cfg(any(feature = "gzip", feature = "deflate"))]
fn inflate_step(
    inflater: &mut Inflater,
    input: &[u8],
    output: &mut [u8],
    what: &str,
) -> Result<Step, DecodeError> {
    let Some(inflate) = inflater.get() else {
        return Err(corrupt(what));
    };
    inflate_with(inflate, input, output, what)
}

/// One step of a flate2 `Decompress`.
#[cfg(any(feature = "gzip", feature = "deflate"))]
fn inflate_with(
    inflate: &mut flate2::Decompress,
    input: &[u8],
    output: &mut [u8],
    what: &str,
) -> Result<Step, DecodeError> {
    let (in_before, out_before) = (inflate.total_in(), inflate.total_out());
    let status = inflate
        .decompress(input, output, flate2::FlushDecompress::None)
        .map_err(|_| corrupt(what))?;
    // Both deltas are bounded by the slices given.
    let consumed = usize::try_from(inflate.total_in() - in_before).unwrap_or(input.len());
    let produced = usize::try_from(inflate.total_out() - out_before).unwrap_or(output.len());
    Ok(Step {
        consumed,
        produced,
        done: status == flate2::Status::StreamEnd,
    })
}

#[cfg(feature = "deflate")]
mod deflate {
    use super::{inflate_step, DecodeError, Inflater, Step};

    /// `deflate`: zlib-wrapped as RFC 9110 says, or raw deflate as some servers send;
    /// which one is told by the first two bytes (a zlib header is a multiple of 31).
    pub(super) struct Deflate {
        inflate: Option<Inflater>,
        /// The first bytes, held until the wrapper is known, then fed first.
        start: Vec<u8>,
    }

    impl Deflate {
        pub(super) fn new() -> Self {
            Deflate {
                inflate: None,
                start: Vec::new(),
            }
        }

        pub(super) fn step(
            &mut self,
            input: &[u8],
            output: &mut [u8],
        ) -> Result<Step, DecodeError> {
            let Some(inflate) = &mut self.inflate else {
                let take = (2 - self.start.len()).min(input.len());
                self.start.extend_from_slice(&input[..take]);
                if self.start.len() < 2 {
                    return Ok(Step {
                        consumed: take,
                        produced: 0,
                        done: false,
                    });
                }
                let (cmf, flg) = (self.start[0], self.start[1]);
                let zlib = cmf & 0x0f == 8 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0;
                self.inflate = Some(Inflater::new(zlib));
                let rest = self.step(&input[take..], output)?;
                return Ok(Step {
                    consumed: take + rest.consumed,
                    ..rest
                });
            };
            if self.start.is_empty() {
                return inflate_step(inflate, input, output, "deflate");
            }
            let held = inflate_step(inflate, &self.start, output, "deflate")?;
            self.start.drain(..held.consumed);
            if !self.start.is_empty() || held.done {
                return Ok(Step {
                    consumed: 0,
                    ..held
                });
            }
            let rest = inflate_step(inflate, input, &mut output[held.produced..], "deflate")?;
            Ok(Step {
                consumed: rest.consumed,
                produced: held.produced + rest.produced,
                done: rest.done,
            })
        }
    }
}

#[cfg(feature = "gzip")]
mod gzip {
    use super::{corrupt, inflate_step, DecodeError, Inflater, Step};

    /// Where a gzip member is.
    enum Part {
        /// Collecting the header (10 bytes and the optional fields).
        Header(Vec<u8>),
        /// The deflate stream.
        Body,
        /// Collecting the 8-byte trailer.
        Trailer(Vec<u8>),
        /// The member is complete; another may follow.
        Done,
    }

    /// gzip (RFC 1952), one member or several in a row.
    pub(super) struct Gzip {
        part: Part,
        inflate: Inflater,
        crc: flate2::Crc,
    }

    /// Header flags (RFC 1952 §2.3.1).
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    /// A header's optional fields may not grow without end.
    const MAX_HEADER: usize = 64 * 1024;

    impl Gzip {
        pub(super) fn new() -> Self {
            Gzip {
                part: Part::Header(Vec::new()),
                inflate: Inflater::new(false),
                crc: flate2::Crc::new(),
            }
        }

        pub(super) fn step(
            &mut self,
            input: &[u8],
            output: &mut [u8],
            end: bool,
        ) -> Result<Step, DecodeError> {
            let mut consumed = 0;
            loop {
                let rest = &input[consumed..];
                match &mut self.part {
                    Part::Header(head) => {
                        let Some(b) = rest.first() else {
                            return Ok(Step {
                                consumed,
                                produced: 0,
                                done: false,
                            });
                        };
                        head.push(*b);
                        consumed += 1;
                        if head.len() > MAX_HEADER {
                            return Err(corrupt("gzip"));
                        }
                        if header_complete(head)? {
                            self.part = Part::Body;
                        }
                    }
                    Part::Body => {
                        let step = inflate_step(&mut self.inflate, rest, output, "gzip")?;
                        self.crc.update(&output[..step.produced]);
                        consumed += step.consumed;
                        if step.done {
                            self.part = Part::Trailer(Vec::new());
                        }
                        if step.produced > 0 || !step.done {
                            return Ok(Step {
                                consumed,
                                produced: step.produced,
                                done: false,
                            });
                        }
                    }
                    Part::Trailer(trailer) => {
                        let take = (8 - trailer.len()).min(rest.len());
                        trailer.extend_from_slice(&rest[..take]);
                        consumed += take;
                        if trailer.len() < 8 {
                            return Ok(Step {
                                consumed,
                                produced: 0,
                                done: false,
                            });
                        }
                        let crc =
                            u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
                        let size =
                            u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
                        if crc != self.crc.sum() || size != self.crc.amount() {
                            return Err(DecodeError("gzip checksum mismatch".into()));
                        }
                        self.part = Part::Done;
                    }
                    Part::Done => {
                        // What follows is another member, or padding some servers add,
                        // which browsers ignore and so does this. Nothing yet: the
                        // stream may go on, unless the body has ended.
                        match rest.first() {
                            None => {
                                return Ok(Step {
                                    consumed,
                                    produced: 0,
                                    done: end,
                                })
                            }
                            Some(&0x1f) => {}
                            Some(_) => {
                                return Ok(Step {
                                    consumed: input.len(),
                                    produced: 0,
                                    done: true,
                                })
                            }
                        }
                        self.inflate.reset(false);
                        self.crc.reset();
                        self.part = Part::Header(Vec::new());
                    }
                }
            }
        }
    }

    /// Whether `head` holds a whole gzip header; an error for one that is not gzip.
    fn header_complete(head: &[u8]) -> Result<bool, DecodeError> {
        if head.len() >= 2 && head[..2] != [0x1f, 0x8b] {
            return Err(DecodeError("not a gzip stream".into()));
        }
        if head.len() >= 3 && head[2] != 8 {
            return Err(DecodeError("gzip with a method other than deflate".into()));
        }
        if head.len() < 10 {
            return Ok(false);
        }
        let flags = head[3];
        let mut at = 10;
        if flags & FEXTRA != 0 {
            let Some(len) = head.get(at..at + 2) else {
                return Ok(false);
            };
            at += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
            if head.len() < at {
                return Ok(false);
            }
        }
        for flag in [FNAME, FCOMMENT] {
            if flags & flag != 0 {
                match head[at..].iter().position(|&b| b == 0) {
                    Some(end) => at += end + 1,
                    None => return Ok(false),
                }
            }
        }
        if flags & FHCRC != 0 {
            at += 2;
        }
        Ok(head.len() >= at)
    }
}

#[cfg(feature = "brotli")]
mod brotli {
    use brotli_decompressor::{BrotliDecompressStream, BrotliResult, BrotliState, StandardAlloc};

    use super::{corrupt, DecodeError, Step};

    /// br (RFC 7932), standard windows only.
    pub(super) struct Brotli {
        state: BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>,
        done: bool,
    }

    impl Brotli {
        pub(super) fn new() -> Self {
            let mut state = BrotliState::new(
                StandardAlloc::default(),
                StandardAlloc::default(),
                StandardAlloc::default(),
            );
            // Large windows (up to 1 GiB) are not part of HTTP's br.
            state.large_window = false;
            Brotli { state, done: false }
        }

        pub(super) fn step(
            &mut self,
            input: &[u8],
            output: &mut [u8],
        ) -> Result<Step, DecodeError> {
            if self.done {
                return Ok(Step {
                    consumed: 0,
                    produced: 0,
                    done: true,
                });
            }
            let (mut available_in, mut in_offset) = (input.len(), 0);
            let (mut available_out, mut out_offset, mut total) = (output.len(), 0, 0);
            let result = BrotliDecompressStream(
                &mut available_in,
                &mut in_offset,
                input,
                &mut available_out,
                &mut out_offset,
                output,
                &mut total,
                &mut self.state,
            );
            self.done = matches!(result, BrotliResult::ResultSuccess);
            if matches!(result, BrotliResult::ResultFailure) {
                return Err(corrupt("brotli"));
            }
            Ok(Step {
                consumed: in_offset,
                produced: out_offset,
                done: self.done,
            })
        }
    }
}

#[cfg(feature = "zstd")]
mod zstd_codec {
    use zstd::stream::raw::{DParameter, Decoder, InBuffer, Operation, OutBuffer};

    use super::{corrupt, DecodeError, Step};

    /// RFC 8878 §3.1.1.1.2: HTTP decoders need not take windows over 8 MiB.
    const WINDOW_LOG_MAX: u32 = 23;

    /// zstd, one frame or several in a row.
    pub(super) struct Zstd {
        decoder: Decoder<'static>,
        /// The last `run` finished a frame (and nothing of another has come).
        frame_done: bool,
    }

    impl Zstd {
        pub(super) fn new() -> Result<Self, DecodeError> {
            let mut decoder = Decoder::new().map_err(|e| DecodeError(e.to_string()))?;
            decoder
                .set_parameter(DParameter::WindowLogMax(WINDOW_LOG_MAX))
                .map_err(|e| DecodeError(e.to_string()))?;
            Ok(Zstd {
                decoder,
                frame_done: false,
            })
        }

        pub(super) fn step(
            &mut self,
            input: &[u8],
            output: &mut [u8],
            end: bool,
        ) -> Result<Step, DecodeError> {
            let mut src = InBuffer::around(input);
            let mut dst = OutBuffer::around(output);
            let hint = self
                .decoder
                .run(&mut src, &mut dst)
                .map_err(|_| corrupt("zstd"))?;
            let (consumed, produced) = (src.pos(), dst.pos());
            if consumed > 0 || produced > 0 {
                self.frame_done = hint == 0;
            }
            Ok(Step {
                consumed,
                produced,
                done: self.frame_done && consumed == input.len() && end,
            })
        }
    }
}

/// How much decoded output one piece holds at most.
const PIECE: usize = 32 * 1024;
/// The room first given to a call with no input to decode.
const FLUSH_ROOM: usize = 1024;

/// A decoder and the body bytes it has not used yet; fed by the body reader, read a piece
/// at a time.
pub(crate) struct Decoding {
    decoder: Decoder,
    input: bytes::Bytes,
    /// A piece's room that the last call left unused (it had no input to decode): the next
    /// call writes into it rather than clearing 32 KiB anew.
    room: Vec<u8>,
    wire_ended: bool,
    finished: bool,
}

impl Decoding {
    pub fn new(coding: Coding) -> Result<Decoding, DecodeError> {
        Ok(Decoding {
            decoder: Decoder::new(coding)?,
            input: bytes::Bytes::new(),
            room: Vec::new(),
            wire_ended: false,
            finished: false,
        })
    }

    /// The next decoded piece (at most `PIECE` bytes) from the bytes held; `None` when
    /// more body bytes are needed, or the coded stream is complete. An error for a corrupt
    /// stream, or one the body ended in the middle of.
    pub fn next_piece(&mut self) -> Result<Option<bytes::Bytes>, DecodeError> {
        if self.finished {
            self.input = bytes::Bytes::new();
            return Ok(None);
        }
        // With input, room for a whole piece; without (the call that learns the stream
        // ended, or flushes what the codec holds), a little, grown if it fills.
        let want = if self.input.is_empty() {
            FLUSH_ROOM
        } else {
            PIECE
        };
        let mut out = std::mem::take(&mut self.room);
        if out.len() < want {
            out = vec![0u8; want];
        }
        let mut filled = 0;
        loop {
            let step = self
                .decoder
                .step(&self.input, &mut out[filled..], self.wire_ended)?;
            let used = step.consumed.min(self.input.len());
            bytes::Buf::advance(&mut self.input, used);
            filled += step.produced;
            if step.done {
                self.finished = true;
                break;
            }
            if filled == out.len() {
                if out.len() >= PIECE {
                    break;
                }
                out.resize(PIECE, 0);
            } else if step.consumed == 0 && step.produced == 0 {
                break;
            }
        }
        if filled == 0 {
            if self.wire_ended && !self.finished {
                return Err(DecodeError("the body ended inside the coded stream".into()));
            }
            if !self.finished {
                self.room = out;
            }
            return Ok(None);
        }
        out.truncate(filled);
        // A small piece (a short body's whole) does not hold on to the 32 KiB it had room
        // for: the allocator shrinks the block where it stands.
        if filled <= PIECE / 4 {
            out.shrink_to_fit();
        }
        Ok(Some(bytes::Bytes::from(out)))
    }

    /// Body bytes for the decoder (after `next_piece` asked for more).
    pub fn feed(&mut self, wire: bytes::Bytes) {
        if self.finished {
            return;
        }
        if self.input.is_empty() {
            self.input = wire;
        } else {
            let mut joined = bytes::BytesMut::with_capacity(self.input.len() + wire.len());
            joined.extend_from_slice(&self.input);
            joined.extend_from_slice(&wire);
            self.input = joined.freeze();
        }
    }

    /// The body has ended.
    pub fn wire_end(&mut self) {
        self.wire_ended = true;
    }

    /// Whether the body has ended.
    pub fn wire_ended(&self) -> bool {
        self.wire_ended
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
