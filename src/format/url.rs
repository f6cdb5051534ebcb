//! Percent-encoding as logs carry it in URLs and form bodies: decoding only, byte-based,
//! malformed escapes kept as they are.

use std::borrow::Cow;

/// The value of one hex digit.
pub fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte a `%XX` escape at `s[i]` stands for, if there is one.
pub fn escape_at(s: &[u8], i: usize) -> Option<u8> {
    if s.get(i) != Some(&b'%') {
        return None;
    }
    let (h, l) = (hex_val(*s.get(i + 1)?)?, hex_val(*s.get(i + 2)?)?);
    Some(h << 4 | l)
}

/// Percent-decodes `s` (one pass); borrows when there is no `%`.
pub fn percent_decoded(s: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'%', s).is_none() {
        return Cow::Borrowed(s);
    }
    let mut v = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match escape_at(s, i) {
            Some(b) => {
                v.push(b);
                i += 3;
            }
            None => {
                v.push(s[i]);
                i += 1;
            }
        }
    }
    Cow::Owned(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_and_malformed_ones_stay() {
        assert_eq!(&*percent_decoded(b"a%40b%2Bc%zz%4"), b"a@b+c%zz%4");
        assert!(matches!(percent_decoded(b"plain"), Cow::Borrowed(_)));
    }
}
