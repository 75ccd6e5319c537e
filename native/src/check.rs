//! Whether protobuf bytes are valid, and where they are not: the rules of the Python
//! decoder's slow path (`otlp_common.py`), which the native decoder must apply word for word.
//!
//! - [`upb_check`]: would upb (the Python decoder's parser) accept these bytes as this
//!   message? Framing as upb reads it (a tag of at most 5 bytes and 32 bits, field number
//!   not 0, varints of at most 10 bytes, lengths inside the message, groups closed by their
//!   own end-group), UTF-8 in every string field of the schema, and at most [`MAX_DEPTH`]
//!   messages (or groups) nested below this one;
//! - [`find_wire_error`]: `otlp_common.find_wire_error`, the first problem and its offset;
//! - [`pb_fields`]: `otlp_common.pb_fields`, the slow path's framing walk above the spans;
//! - [`utf8_problem`] and [`pb_part`]: the functions of the same names.
//!
//! Integers are read as Python reads them where its messages print them: a 10-byte varint
//! holds up to 70 bits, so they are `u128` here.

use crate::schema::{Kind, SCHEMA};

/// upb's default nesting limit: 100 messages below the one being parsed decode, 101 do not.
pub const MAX_DEPTH: usize = 100;
/// The text rule's limit on one string (`text_rule.MAX_STRING_BYTES`).
pub const MAX_STRING_BYTES: usize = 1 << 20;

/// Why upb refuses bytes: its `DecodeError` says "Wire format was corrupt" or
/// "Exceeded upb_DecodeOptions_MaxDepth".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Malformed,
    TooDeep,
}

/// `otlp_common._varint`: at most 10 bytes before `end`, every bit kept.
fn varint(data: &[u8], pos: usize, end: usize) -> Option<(u128, usize)> {
    // most varints (keys, lengths) are one byte
    if pos < end && data[pos] < 0x80 {
        return Some((u128::from(data[pos]), pos + 1));
    }
    let mut v: u128 = 0;
    for (i, p) in (pos..end.min(pos + 10)).enumerate() {
        let b = data[p];
        v |= u128::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, p + 1));
        }
    }
    None
}

/// Would upb accept `data` as message `msg` of [`SCHEMA`]?
pub fn upb_check(data: &[u8], msg: usize) -> Result<(), Refusal> {
    walk(data, 0, data.len(), Some(msg), 0, None).map(|_| ())
}

/// [`upb_check`] of a submessage nested `depth` messages below the one upb parses (the
/// one-pass decoder's check of a part it does not decode).
pub fn upb_check_nested(data: &[u8], msg: usize, depth: usize) -> bool {
    walk(data, 0, data.len(), Some(msg), depth, None).is_ok()
}

fn walk(
    data: &[u8],
    mut pos: usize,
    end: usize,
    msg: Option<usize>,
    depth: usize,
    group: Option<u128>,
) -> Result<usize, Refusal> {
    use Refusal::*;
    while pos < end {
        let start = pos;
        let (key, p) = varint(data, pos, end).ok_or(Malformed)?;
        if p - start > 5 || key > u128::from(u32::MAX) {
            return Err(Malformed);
        }
        pos = p;
        let (num, wt) = (key >> 3, key & 7);
        if num == 0 {
            return Err(Malformed);
        }
        match wt {
            0 => pos = varint(data, pos, end).ok_or(Malformed)?.1,
            1 | 5 => {
                pos += if wt == 1 { 8 } else { 4 };
                if pos > end {
                    return Err(Malformed);
                }
            }
            2 => {
                let (n, p) = varint(data, pos, end).ok_or(Malformed)?;
                // upb keeps the low 64 bits of a varint
                let n = usize::try_from(n as u64).map_err(|_| Malformed)?;
                if n > end - p {
                    return Err(Malformed);
                }
                pos = p + n;
                match msg.and_then(|m| SCHEMA[m].field(num)).map(|f| f.kind) {
                    Some(Kind::Msg(t)) => {
                        if depth >= MAX_DEPTH {
                            return Err(TooDeep);
                        }
                        walk(data, p, pos, Some(t), depth + 1, None)?;
                    }
                    Some(Kind::Str) => {
                        std::str::from_utf8(&data[p..pos]).map_err(|_| Malformed)?;
                    }
                    None => {}
                }
            }
            3 => {
                if depth >= MAX_DEPTH {
                    return Err(TooDeep);
                }
                pos = walk(data, pos, end, None, depth + 1, Some(num))?;
            }
            4 => {
                return if group == Some(num) {
                    Ok(pos)
                } else {
                    Err(Malformed)
                }
            }
            _ => return Err(Malformed),
        }
    }
    if group.is_some() {
        return Err(Malformed);
    }
    Ok(pos)
}

/// The framing of the field at `pos` (before `end`): its number, its wire type and where
/// its value is (`start..end`; empty for a wire type OTLP does not use, which each caller
/// refuses in its own words), or `(offset, reason)` where the framing breaks. With
/// `upb_tags`, a tag of more than 5 bytes or 32 bits is refused too (upb's limit).
fn frame(data: &[u8], pos: usize, end: usize, upb_tags: bool) -> Result<PbField, (usize, String)> {
    let at = pos;
    let Some((key, pos)) = varint(data, pos, end) else {
        return Err((at, "truncated or overlong field tag".into()));
    };
    if upb_tags && (pos - at > 5 || key > u128::from(u32::MAX)) {
        return Err((
            at,
            "field tag of more than 5 bytes or 32 bits (upb's limit)".into(),
        ));
    }
    let (num, wt) = (key >> 3, (key & 7) as u8);
    if num == 0 {
        return Err((at, "field number 0 is not allowed".into()));
    }
    let (start, end) = match wt {
        0 => match varint(data, pos, end) {
            None => return Err((pos, format!("truncated varint in field {num}"))),
            Some((_, p)) => (pos, p),
        },
        1 | 5 => {
            let n = if wt == 1 { 8 } else { 4 };
            if pos + n > end {
                return Err((at, format!("field {num} runs past the end of its message")));
            }
            (pos, pos + n)
        }
        2 => {
            let Some((n, p)) = varint(data, pos, end) else {
                return Err((pos, format!("truncated length of field {num}")));
            };
            if n > (end - p) as u128 {
                return Err((
                    at,
                    format!(
                        "field {num} says it is {n} bytes long, but only {} remain in its \
                         message (truncated input?)",
                        end - p
                    ),
                ));
            }
            (p, p + n as usize)
        }
        _ => (pos, pos),
    };
    Ok(PbField {
        number: num,
        wire_type: wt,
        start,
        end,
    })
}

/// `find_wire_error(data, descriptor, max_string=...)`: the first problem as
/// `(offset, reason)`, walking the framing guided by the schema; None when it looks sound.
pub fn find_wire_error(
    data: &[u8],
    msg: usize,
    max_string: Option<usize>,
) -> Option<(usize, String)> {
    let mut stack: Vec<(usize, usize, Option<usize>)> = vec![(0, data.len(), Some(msg))];
    while let Some(&(pos, end, desc)) = stack.last() {
        if pos >= end {
            stack.pop();
            continue;
        }
        let f = match frame(data, pos, end, true) {
            Ok(f) => f,
            Err(e) => return Some(e),
        };
        let (num, wt) = (f.number, f.wire_type);
        stack.last_mut().expect("a frame").0 = f.end;
        match wt {
            0 | 1 | 5 => {}
            2 => match desc
                .and_then(|m| SCHEMA[m].field(num))
                .map(|f| (f.kind, f.name))
            {
                Some((Kind::Msg(t), _)) => {
                    if stack.len() > MAX_DEPTH {
                        return Some((pos, format!("messages nested deeper than {MAX_DEPTH}")));
                    }
                    stack.push((f.start, f.end, Some(t)));
                }
                Some((Kind::Str, name)) => {
                    if let Err(e) = std::str::from_utf8(&data[f.start..f.end]) {
                        return Some((
                            f.start + e.valid_up_to(),
                            format!("string field '{name}' is not valid UTF-8"),
                        ));
                    }
                    let n = f.end - f.start;
                    if let Some(max) = max_string.filter(|&m| n > m) {
                        return Some((
                            f.start,
                            format!(
                                "string field '{name}' of {n} bytes is over the limit of \
                                 {max} bytes"
                            ),
                        ));
                    }
                }
                _ => {}
            },
            3 | 4 => {
                return Some((
                    pos,
                    format!("group wire type {wt} in field {num} (not used by OTLP)"),
                ))
            }
            _ => return Some((pos, format!("invalid wire type {wt} in field {num}"))),
        }
    }
    None
}

/// One field found by [`pb_fields`]: number, wire type, and where its value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PbField {
    pub number: u128,
    pub wire_type: u8,
    pub start: usize,
    pub end: usize,
}

impl PbField {
    /// A length-delimited field with this number.
    pub fn is(&self, number: u128) -> bool {
        self.number == number && self.wire_type == 2
    }
}

/// `pb_fields(data, start, end)`: the fields of one message, or `(offset, reason)` where
/// the framing breaks (the Python decoder's `WireError`).
pub fn pb_fields(data: &[u8], start: usize, end: usize) -> Result<Vec<PbField>, (usize, String)> {
    let mut out = vec![];
    let mut pos = start;
    while pos < end {
        let f = frame(data, pos, end, false)?;
        if !matches!(f.wire_type, 0 | 1 | 2 | 5) {
            let (wt, num) = (f.wire_type, f.number);
            return Err((
                pos,
                format!("wire type {wt} in field {num} (not used by OTLP)"),
            ));
        }
        out.push(f);
        pos = f.end;
    }
    Ok(out)
}

/// `utf8_problem(data, start, end, name)`: why the string field breaks the text rule.
pub fn utf8_problem(data: &[u8], start: usize, end: usize, name: &str) -> Option<String> {
    match std::str::from_utf8(&data[start..end]) {
        Err(e) => Some(format!(
            "string field '{name}' is not valid UTF-8 at byte offset {}",
            start + e.valid_up_to()
        )),
        Ok(_) if end - start > MAX_STRING_BYTES => Some(format!(
            "string field '{name}' holds a string of {} bytes, over the limit of \
             {MAX_STRING_BYTES} bytes of UTF-8",
            end - start
        )),
        Ok(_) => None,
    }
}

/// `pb_part(cls, data, start, end)`: None when `data[start..end]` is a valid `msg` under
/// the text rule, else the reason, naming the byte offset in `data`.
pub fn pb_part(msg: usize, data: &[u8], start: usize, end: usize) -> Option<String> {
    let chunk = &data[start..end];
    match upb_check(chunk, msg) {
        Err(why) => Some(match find_wire_error(chunk, msg, None) {
            Some((off, reason)) => format!("{reason} at byte offset {}", start + off),
            None if why == Refusal::TooDeep => format!(
                "messages nested deeper than protobuf's limit of 100 levels (bytes {start}-{end})"
            ),
            None => format!(
                "not a valid {} message (bytes {start}-{end})",
                SCHEMA[msg].name
            ),
        }),
        Ok(()) if end - start > MAX_STRING_BYTES => {
            find_wire_error(chunk, msg, Some(MAX_STRING_BYTES))
                .map(|(off, reason)| format!("{reason} at byte offset {}", start + off))
        }
        Ok(()) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::SPAN;

    #[test]
    fn upb_limits_tags_to_five_bytes_and_32_bits() {
        // field 5 (name), wire type 2, empty: padded to 5 bytes is fine, to 6 is not
        assert_eq!(upb_check(&[0xaa, 0x80, 0x80, 0x80, 0x00, 0], SPAN), Ok(()));
        let six = [0xaa, 0x80, 0x80, 0x80, 0x80, 0x00, 0];
        assert_eq!(upb_check(&six, SPAN), Err(Refusal::Malformed));
        assert_eq!(
            find_wire_error(&six, SPAN, None).unwrap().1,
            "field tag of more than 5 bytes or 32 bits (upb's limit)"
        );
        let big = [0xfa, 0xff, 0xff, 0xff, 0x7f, 0];
        assert_eq!(upb_check(&big, SPAN), Err(Refusal::Malformed));
    }

    #[test]
    fn strings_are_checked_only_in_string_fields() {
        assert_eq!(upb_check(&[0x2a, 1, 0xff], SPAN), Err(Refusal::Malformed));
        assert_eq!(
            upb_check(&[0x0a, 1, 0xff], SPAN),
            Ok(()),
            "trace_id is bytes"
        );
        assert_eq!(
            find_wire_error(&[0x2a, 2, b'a', 0xff], SPAN, None),
            Some((3, "string field 'name' is not valid UTF-8".into()))
        );
    }

    #[test]
    fn groups_are_unknown_fields_to_upb_and_errors_to_the_walk() {
        let g = [0x9b, 0x06, 0x08, 1, 0x9c, 0x06];
        assert_eq!(upb_check(&g, SPAN), Ok(()));
        assert_eq!(upb_check(&g[..4], SPAN), Err(Refusal::Malformed));
        assert_eq!(upb_check(&[0x0c], SPAN), Err(Refusal::Malformed));
        assert_eq!(
            find_wire_error(&g, SPAN, None).unwrap().1,
            "group wire type 3 in field 99 (not used by OTLP)"
        );
        assert_eq!(
            pb_fields(&g, 0, g.len()).unwrap_err(),
            (0, "wire type 3 in field 99 (not used by OTLP)".into())
        );
    }

    #[test]
    fn lengths_print_as_python_prints_them() {
        let mut b = vec![0x2a];
        b.extend([0xff; 9]);
        b.push(0x7f);
        let (_, why) = find_wire_error(&b, SPAN, None).unwrap();
        assert_eq!(
            why,
            format!(
                "field 5 says it is {} bytes long, but only 0 remain in its message \
                 (truncated input?)",
                (1u128 << 70) - 1
            )
        );
    }
}
