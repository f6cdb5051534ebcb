//! Content codings response-body DLP can see through: gzip, deflate (zlib) and br. A
//! [`Transcoder`] decodes a body as it streams, hands the text on in bounded pieces, and
//! encodes the scanned text again with the same coding, flushing at every frame so the
//! client is never kept waiting for a compressor's block.
//!
//! Decoding is fed at most [`FEED`] compressed bytes at a time, so a body that inflates a
//! thousandfold (a "zip bomb") never holds more than about a megabyte of text at once.

use std::io::{self, Write};

use flate2::Compression;
use http::HeaderValue;

/// Compressed bytes fed to a decoder at once.
const FEED: usize = 1024;

/// A content coding DLP decodes and encodes again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    /// `gzip` (also `x-gzip`).
    Gzip,
    /// `deflate`: zlib-wrapped DEFLATE (RFC 9110), or raw DEFLATE as some servers send it
    /// (told apart by the first two bytes, and encoded again the same way).
    Deflate,
    /// `br`: Brotli.
    Brotli,
}

impl Coding {
    /// The coding of a `Content-Encoding` value, when it is one coding DLP handles.
    pub(crate) fn of(content_encoding: &HeaderValue) -> Option<Coding> {
        let v = content_encoding.to_str().ok()?.trim();
        if v.eq_ignore_ascii_case("gzip") || v.eq_ignore_ascii_case("x-gzip") {
            Some(Coding::Gzip)
        } else if v.eq_ignore_ascii_case("deflate") {
            Some(Coding::Deflate)
        } else if v.eq_ignore_ascii_case("br") {
            Some(Coding::Brotli)
        } else {
            None
        }
    }

    /// The codings DLP can decode, as `Accept-Encoding` tokens.
    pub(crate) const TOKENS: &'static [&'static str] = &["gzip", "x-gzip", "deflate", "br"];
}

enum Decoder {
    Gzip(flate2::write::MultiGzDecoder<Vec<u8>>),
    /// `deflate` before its first two bytes have come: zlib or raw is not known yet.
    DeflateUndecided(Vec<u8>),
    Deflate(flate2::write::ZlibDecoder<Vec<u8>>),
    RawDeflate(flate2::write::DeflateDecoder<Vec<u8>>),
    Brotli(Box<brotli::DecompressorWriter<Vec<u8>>>),
}

enum Encoder {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Deflate(flate2::write::ZlibEncoder<Vec<u8>>),
    RawDeflate(flate2::write::DeflateEncoder<Vec<u8>>),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
}

/// Whether two bytes start a zlib stream (RFC 1950: method 8, window ≤ 32 KiB, header
/// check); raw DEFLATE otherwise.
fn is_zlib_header(b: [u8; 2]) -> bool {
    b[0] & 0x0F == 8 && b[0] >> 4 <= 7 && (u16::from(b[0]) << 8 | u16::from(b[1])) % 31 == 0
}

/// Decodes a compressed body and encodes its scanned text again, with one coding.
pub(crate) struct Transcoder {
    decoder: Decoder,
    encoder: Encoder,
    /// Whether any compressed byte came, and whether any text was encoded: a body with
    /// neither stays empty (an empty stream is no valid gzip or br stream).
    saw_input: bool,
    wrote: bool,
}

/// Compression level of the re-encoded body: fast, as a proxy's should be.
const LEVEL: u32 = 1;

/// Brotli window of the re-encoded body: 256 KiB, so a thousand bodies in flight do not
/// hold gigabytes of windows (the default, 4 MiB, compresses text barely better).
const BROTLI_WINDOW_BITS: u32 = 18;

impl Transcoder {
    /// A transcoder for `coding`.
    pub(crate) fn new(coding: Coding) -> Transcoder {
        let (decoder, encoder) = match coding {
            Coding::Gzip => (
                Decoder::Gzip(flate2::write::MultiGzDecoder::new(Vec::new())),
                Encoder::Gzip(flate2::write::GzEncoder::new(
                    Vec::new(),
                    Compression::new(LEVEL),
                )),
            ),
            Coding::Deflate => (
                Decoder::DeflateUndecided(Vec::new()),
                Encoder::Deflate(flate2::write::ZlibEncoder::new(
                    Vec::new(),
                    Compression::new(LEVEL),
                )),
            ),
            Coding::Brotli => (
                Decoder::Brotli(Box::new(brotli::DecompressorWriter::new(Vec::new(), 4096))),
                Encoder::Brotli(Box::new(brotli::CompressorWriter::new(
                    Vec::new(),
                    4096,
                    LEVEL,
                    BROTLI_WINDOW_BITS,
                ))),
            ),
        };
        Transcoder {
            decoder,
            encoder,
            saw_input: false,
            wrote: false,
        }
    }

    /// Decodes `compressed`, handing the text to `text` in pieces.
    pub(crate) fn decode(
        &mut self,
        compressed: &[u8],
        mut text: impl FnMut(&[u8]),
    ) -> io::Result<()> {
        self.saw_input |= !compressed.is_empty();
        for piece in compressed.chunks(FEED) {
            match &mut self.decoder {
                Decoder::Gzip(d) => d.write_all(piece)?,
                Decoder::DeflateUndecided(head) => {
                    head.extend_from_slice(piece);
                    if head.len() >= 2 {
                        self.decide_deflate()?;
                    }
                }
                Decoder::Deflate(d) => d.write_all(piece)?,
                Decoder::RawDeflate(d) => d.write_all(piece)?,
                Decoder::Brotli(d) => d.write_all(piece)?,
            }
            self.hand_on(&mut text);
        }
        Ok(())
    }

    /// Picks zlib or raw DEFLATE from the first bytes (and the encoder to match), then
    /// decodes what has come so far.
    fn decide_deflate(&mut self) -> io::Result<()> {
        let Decoder::DeflateUndecided(head) = &mut self.decoder else {
            return Ok(());
        };
        let head = std::mem::take(head);
        if is_zlib_header([head[0], head[1]]) {
            let mut d = flate2::write::ZlibDecoder::new(Vec::new());
            d.write_all(&head)?;
            self.decoder = Decoder::Deflate(d);
        } else {
            let mut d = flate2::write::DeflateDecoder::new(Vec::new());
            d.write_all(&head)?;
            self.decoder = Decoder::RawDeflate(d);
            self.encoder = Encoder::RawDeflate(flate2::write::DeflateEncoder::new(
                Vec::new(),
                Compression::new(LEVEL),
            ));
        }
        Ok(())
    }

    /// Hands the text decoded so far to `text`.
    fn hand_on(&mut self, text: &mut impl FnMut(&[u8])) {
        let out = match &mut self.decoder {
            Decoder::Gzip(d) => d.get_mut(),
            Decoder::DeflateUndecided(_) => return,
            Decoder::Deflate(d) => d.get_mut(),
            Decoder::RawDeflate(d) => d.get_mut(),
            Decoder::Brotli(d) => d.get_mut(),
        };
        if !out.is_empty() {
            text(out);
            out.clear();
        }
    }

    /// Ends decoding: hands on the last text; an error when the body was cut short.
    pub(crate) fn finish_decoding(&mut self, mut text: impl FnMut(&[u8])) -> io::Result<()> {
        if !self.saw_input {
            return Ok(());
        }
        match &mut self.decoder {
            Decoder::Gzip(d) => d.try_finish()?,
            Decoder::DeflateUndecided(head) if head.is_empty() => {}
            Decoder::DeflateUndecided(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a deflate body of one byte",
                ))
            }
            Decoder::Deflate(d) => d.try_finish()?,
            Decoder::RawDeflate(d) => d.try_finish()?,
            Decoder::Brotli(d) => d.close()?,
        }
        self.hand_on(&mut text);
        Ok(())
    }

    /// Encodes scanned text.
    pub(crate) fn encode(&mut self, text: &[u8]) -> io::Result<()> {
        self.wrote |= !text.is_empty();
        match &mut self.encoder {
            Encoder::Gzip(e) => e.write_all(text),
            Encoder::Deflate(e) => e.write_all(text),
            Encoder::RawDeflate(e) => e.write_all(text),
            Encoder::Brotli(e) => e.write_all(text),
        }
    }

    /// Flushes the encoder and takes what it has written: one frame for the client.
    pub(crate) fn take_encoded(&mut self) -> io::Result<Vec<u8>> {
        if !self.wrote {
            return Ok(Vec::new());
        }
        let out = match &mut self.encoder {
            Encoder::Gzip(e) => {
                e.flush()?;
                e.get_mut()
            }
            Encoder::Deflate(e) => {
                e.flush()?;
                e.get_mut()
            }
            Encoder::RawDeflate(e) => {
                e.flush()?;
                e.get_mut()
            }
            Encoder::Brotli(e) => {
                e.flush()?;
                e.get_mut()
            }
        };
        Ok(std::mem::take(out))
    }

    /// `text` encoded whole with `coding` (for tests).
    #[cfg(test)]
    pub(crate) fn encode_whole(coding: Coding, text: &[u8]) -> Vec<u8> {
        let mut t = Transcoder::new(coding);
        t.encode(text).unwrap();
        let mut out = t.take_encoded().unwrap();
        out.extend(t.finish_encoding().unwrap());
        out
    }

    /// Ends the encoded stream and takes its last bytes (none for an empty body).
    pub(crate) fn finish_encoding(self) -> io::Result<Vec<u8>> {
        if !self.saw_input && !self.wrote {
            return Ok(Vec::new());
        }
        match self.encoder {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Deflate(e) => e.finish(),
            Encoder::RawDeflate(e) => e.finish(),
            Encoder::Brotli(e) => Ok(e.into_inner()),
        }
    }
}

/// `Accept-Encoding` with only the codings DLP can decode (and `identity`), their weights
/// kept; `identity` when nothing is left (an absent header would allow any coding).
pub(crate) fn decodable_accept_encoding(value: &HeaderValue) -> HeaderValue {
    let identity = HeaderValue::from_static("identity");
    let Ok(v) = value.to_str() else {
        return identity;
    };
    let kept: Vec<&str> = v
        .split(',')
        .map(str::trim)
        .filter(|item| {
            let coding = item.split(';').next().unwrap_or("").trim();
            coding.eq_ignore_ascii_case("identity")
                || Coding::TOKENS
                    .iter()
                    .any(|t| coding.eq_ignore_ascii_case(t))
        })
        .collect();
    if kept.is_empty() {
        return identity;
    }
    HeaderValue::from_str(&kept.join(", ")).unwrap_or(identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decompress(coding: Coding, data: &[u8], piece: usize) -> Vec<u8> {
        let mut t = Transcoder::new(coding);
        let mut out = Vec::new();
        for p in data.chunks(piece) {
            t.decode(p, |x| out.extend_from_slice(x)).unwrap();
        }
        t.finish_decoding(|x| out.extend_from_slice(x)).unwrap();
        out
    }

    #[test]
    fn every_coding_round_trips_in_any_piece_size() {
        let text: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("line {i} card 4111 1111 1111 1111\n").into_bytes())
            .collect();
        for coding in [Coding::Gzip, Coding::Deflate, Coding::Brotli] {
            let packed = Transcoder::encode_whole(coding, &text);
            assert!(packed.len() < text.len() / 4, "{coding:?} compresses");
            for piece in [1, 7, 1000, 1 << 20] {
                assert_eq!(
                    decompress(coding, &packed, piece),
                    text,
                    "{coding:?} {piece}"
                );
            }
        }
    }

    #[test]
    fn an_empty_body_stays_empty_whatever_its_coding() {
        for coding in [Coding::Gzip, Coding::Deflate, Coding::Brotli] {
            let mut t = Transcoder::new(coding);
            t.decode(b"", |_| panic!("no text")).unwrap();
            t.finish_decoding(|_| panic!("no text")).unwrap();
            assert!(t.finish_encoding().unwrap().is_empty(), "{coding:?}");
        }
    }

    #[test]
    fn a_gzip_body_of_several_members_is_decoded_whole() {
        let mut two = Transcoder::encode_whole(Coding::Gzip, b"first ");
        two.extend(Transcoder::encode_whole(Coding::Gzip, b"second"));
        let mut t = Transcoder::new(Coding::Gzip);
        let mut got = Vec::new();
        t.decode(&two, |x| got.extend_from_slice(x)).unwrap();
        t.finish_decoding(|x| got.extend_from_slice(x)).unwrap();
        assert_eq!(got, b"first second");
    }

    #[test]
    fn raw_deflate_is_told_from_zlib_and_encoded_again_as_raw_deflate() {
        use std::io::Read;
        let text = b"order 42: card 4111 1111 1111 1111, thank you".repeat(50);
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
        raw.write_all(&text).unwrap();
        let raw = raw.finish().unwrap();
        assert!(!is_zlib_header([raw[0], raw[1]]));
        let mut t = Transcoder::new(Coding::Deflate);
        let mut got = Vec::new();
        for piece in raw.chunks(1) {
            t.decode(piece, |x| got.extend_from_slice(x)).unwrap();
        }
        t.finish_decoding(|x| got.extend_from_slice(x)).unwrap();
        assert_eq!(got, text);
        t.encode(&got).unwrap();
        let mut again = t.take_encoded().unwrap();
        again.extend(t.finish_encoding().unwrap());
        let mut back = Vec::new();
        flate2::read::DeflateDecoder::new(&again[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, text, "re-encoded as raw DEFLATE, as it came");
        assert!(is_zlib_header([0x78, 0x9c]) && is_zlib_header([0x78, 0x01]));
    }

    #[test]
    fn a_thousandfold_body_is_handed_on_in_bounded_pieces() {
        let packed = Transcoder::encode_whole(Coding::Gzip, &vec![b'a'; 8 << 20]);
        let mut t = Transcoder::new(Coding::Gzip);
        let (mut largest, mut total) = (0, 0);
        t.decode(&packed, |x| {
            largest = largest.max(x.len());
            total += x.len();
        })
        .unwrap();
        t.finish_decoding(|x| total += x.len()).unwrap();
        assert_eq!(total, 8 << 20);
        assert!(largest <= 2 << 20, "{largest}");
    }

    #[test]
    fn a_truncated_or_corrupt_body_is_an_error() {
        let packed = Transcoder::encode_whole(Coding::Gzip, b"hello there, some text to compress");
        let mut t = Transcoder::new(Coding::Gzip);
        t.decode(&packed[..packed.len() / 2], |_| {}).unwrap();
        assert!(t.finish_decoding(|_| {}).is_err());
        let mut t = Transcoder::new(Coding::Deflate);
        let bad = t.decode(b"this is not zlib at all", |_| {});
        assert!(bad.is_err() || t.finish_decoding(|_| {}).is_err());
    }

    #[test]
    fn codings_are_recognised_and_accept_encoding_keeps_only_decodable_ones() {
        let hv = |s: &str| HeaderValue::from_str(s).unwrap();
        assert_eq!(Coding::of(&hv("GZIP")), Some(Coding::Gzip));
        assert_eq!(Coding::of(&hv("br")), Some(Coding::Brotli));
        assert_eq!(Coding::of(&hv("zstd")), None);
        assert_eq!(Coding::of(&hv("gzip, br")), None);
        assert_eq!(
            decodable_accept_encoding(&hv("zstd, br;q=0.9, gzip;q=0.8, compress")),
            "br;q=0.9, gzip;q=0.8"
        );
        assert_eq!(decodable_accept_encoding(&hv("zstd, *")), "identity");
    }
}
