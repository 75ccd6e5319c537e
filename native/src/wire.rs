//! A zero-copy reader of the protobuf wire format: fields borrow from the input.
//!
//! Only what the OTLP decoder needs: varints, fixed32/64, length-delimited slices, skipping
//! unknown fields (groups included), and errors that carry the byte offset. It follows upb,
//! the decoder of Python's `protobuf` (the reference engine's), on the points where
//! decoders differ:
//!
//! - a known field number with an unexpected wire type is an unknown field, skipped;
//! - field number 0, wire types 6 and 7, a varint longer than 10 bytes, a length past the
//!   end and an unmatched end-group are errors;
//! - submessages nest at most [`MAX_DEPTH`] deep below the top-level message.

/// upb's default nesting limit: 100 submessages below the top-level message decode, 101 do not.
pub const MAX_DEPTH: u32 = 100;

/// What made the bytes unreadable, and where (an offset into the whole input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub offset: usize,
    pub what: &'static str,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.what, self.offset)
    }
}

/// One field's value as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    /// a length-delimited field: bytes, a string or a submessage; `.1` is its input offset
    Bytes(&'a [u8], usize),
    /// a group (wire types 3/4): only ever skipped
    Group,
}

/// Iterates over the fields of one message: `(field number, value)`.
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    /// the offset of `buf[0]` in the whole input, for error messages
    base: usize,
}

impl<'a> Fields<'a> {
    pub fn new(buf: &'a [u8], base: usize) -> Self {
        Fields { buf, pos: 0, base }
    }

    fn err(&self, at: usize, what: &'static str) -> WireError {
        WireError {
            offset: self.base + at,
            what,
        }
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let start = self.pos;
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.err(start, "truncated varint"));
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(self.err(start, "varint longer than 10 bytes"))
    }

    /// The next `n` bytes; an error names `at`, the start of the field they belong to.
    fn take(&mut self, n: usize, at: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        let start = self.pos;
        let end = start
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.err(at, what))?;
        self.pos = end;
        Ok(&self.buf[start..end])
    }

    fn skip_group(&mut self, number: u32, depth: u32) -> Result<(), WireError> {
        // upb takes up to MAX_DEPTH groups below a message; the decoder reads only what
        // upb accepted, so it must skip as many
        if depth > MAX_DEPTH {
            return Err(self.err(self.pos, "groups nested too deeply"));
        }
        loop {
            let at = self.pos;
            if at >= self.buf.len() {
                return Err(self.err(at, "unterminated group"));
            }
            let key = self.varint()?;
            let (n, wt) = split_key(key).ok_or_else(|| self.err(at, "bad field key"))?;
            match wt {
                0 => {
                    self.varint()?;
                }
                1 => {
                    self.take(8, at, "truncated fixed64")?;
                }
                2 => {
                    let len = self.varint()?;
                    let len = usize::try_from(len).map_err(|_| self.err(at, "length overflow"))?;
                    self.take(len, at, "length past the end of the message")?;
                }
                3 => self.skip_group(n, depth + 1)?,
                4 => {
                    return if n == number {
                        Ok(())
                    } else {
                        Err(self.err(at, "end-group does not match its start"))
                    }
                }
                5 => {
                    self.take(4, at, "truncated fixed32")?;
                }
                _ => return Err(self.err(at, "invalid wire type")),
            }
        }
    }
}

fn split_key(key: u64) -> Option<(u32, u8)> {
    let number = u32::try_from(key >> 3).ok()?;
    let wt = (key & 7) as u8;
    if number == 0 || number > 0x1fff_ffff {
        return None;
    }
    Some((number, wt))
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let at = self.pos;
        Some((|| {
            let key = self.varint()?;
            let (number, wt) = split_key(key).ok_or_else(|| self.err(at, "bad field key"))?;
            let value = match wt {
                0 => Value::Varint(self.varint()?),
                1 => {
                    let b = self.take(8, at, "truncated fixed64")?;
                    Value::Fixed64(u64::from_le_bytes(b.try_into().expect("8 bytes")))
                }
                2 => {
                    let len = self.varint()?;
                    let len = usize::try_from(len).map_err(|_| self.err(at, "length overflow"))?;
                    let off = self.pos;
                    let b = self.take(len, at, "length past the end of the message")?;
                    Value::Bytes(b, self.base + off)
                }
                3 => {
                    self.skip_group(number, 1)?;
                    Value::Group
                }
                4 => return Err(self.err(at, "end-group without a start")),
                5 => {
                    let b = self.take(4, at, "truncated fixed32")?;
                    Value::Fixed32(u32::from_le_bytes(b.try_into().expect("4 bytes")))
                }
                _ => return Err(self.err(at, "invalid wire type")),
            };
            Ok((number, value))
        })())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(buf: &[u8]) -> Result<Vec<(u32, Value<'_>)>, WireError> {
        Fields::new(buf, 0).collect()
    }

    #[test]
    fn reads_each_wire_type() {
        let buf = [
            0x08, 0x96, 0x01, // 1: varint 150
            0x11, 1, 0, 0, 0, 0, 0, 0, 0, // 2: fixed64 1
            0x1a, 2, b'h', b'i', // 3: "hi"
            0x25, 2, 0, 0, 0, // 4: fixed32 2
        ];
        let got = all(&buf).unwrap();
        assert_eq!(got[0], (1, Value::Varint(150)));
        assert_eq!(got[1], (2, Value::Fixed64(1)));
        assert_eq!(got[2], (3, Value::Bytes(b"hi", 14)));
        assert_eq!(got[3], (4, Value::Fixed32(2)));
    }

    #[test]
    fn skips_groups_and_refuses_mismatched_ends() {
        assert_eq!(
            all(&[0x0b, 0x10, 1, 0x0c, 0x10, 2]).unwrap(),
            vec![(1, Value::Group), (2, Value::Varint(2))]
        );
        assert_eq!(
            all(&[0x0b, 0x14]).unwrap_err().what,
            "end-group does not match its start"
        );
        assert_eq!(all(&[0x0c]).unwrap_err().what, "end-group without a start");
        assert_eq!(all(&[0x0b]).unwrap_err().what, "unterminated group");
    }

    #[test]
    fn errors_carry_the_offset() {
        assert_eq!(
            all(&[0x08, 1, 0x12, 5, 1]).unwrap_err(),
            WireError {
                offset: 2,
                what: "length past the end of the message"
            }
        );
        assert_eq!(all(&[0x08, 0x80]).unwrap_err().what, "truncated varint");
        assert_eq!(all(&[0x08; 12][..1]).unwrap_err().what, "truncated varint");
        let mut long = vec![0x08];
        long.extend([0xff; 10]);
        long.push(1);
        assert_eq!(all(&long).unwrap_err().what, "varint longer than 10 bytes");
        assert_eq!(all(&[0x00, 1]).unwrap_err().what, "bad field key");
        assert_eq!(all(&[0x0e]).unwrap_err().what, "invalid wire type");
        assert_eq!(all(&[0x11, 1, 2]).unwrap_err().what, "truncated fixed64");
    }

    #[test]
    fn huge_lengths_do_not_overflow() {
        let mut buf = vec![0x0a];
        buf.extend([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(
            all(&buf).unwrap_err().what,
            "length past the end of the message"
        );
    }
}
