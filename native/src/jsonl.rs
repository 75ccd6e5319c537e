//! OTLP/JSON input split into documents at the byte level, exactly as the Python side's
//! `otlp_common.split_json` splits it: one JSON value (possibly over many lines), or JSON
//! Lines, one request per line, as the Collector's file exporter writes them.
//!
//! The rules, in `split_json`'s order:
//! - Bytes that are UTF-8 throughout: a leading BOM reads as a space; an input of nothing but
//!   whitespace (Python's `str.isspace`, so U+00A0, U+2028, ... too) holds no document; if
//!   the whole text is one JSON value, that is the one document, numbered by the line of its
//!   first character. Otherwise the text is split at `\n` into lines.
//! - Bytes that are not UTF-8: split into lines at once (the BOM stays a BOM, which no JSON
//!   value may start with); a line that is not UTF-8 is malformed.
//! - A line of nothing but whitespace is skipped; one that is not one JSON value (the limits
//!   included: nesting deeper than 256) is malformed; the others are documents.
//! - The input is JSON Lines if some document is an object that is empty or has a known top
//!   key (`resourceSpans`, `resourceMetrics`, snake case too), or two documents are objects:
//!   then the documents are returned and every malformed line is an error of its own.
//!   Otherwise the input was meant as one document: no document, one error for the whole.
//!
//! The words of those errors (Python's json module's messages, with line and column) are
//! not reproduced here: [`Splitter`] says which lines are malformed (and whether the whole
//! input is refused), and the Python side writes the error of just those lines. That is the
//! error path only; every document is parsed and decoded here.
//!
//! Documents are handed out as they are parsed once the input is known to be JSON Lines; the
//! lines before that are held (in the usual file, line 1 decides).

use std::collections::VecDeque;

use crate::json::{parse, Found, JValue};

/// Python's `str.isspace()`: Unicode White_Space characters plus the C0 separators
/// U+001C..U+001F (bidirectional class B or S), as CPython 3.11 defines it.
pub fn py_space(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\u{1c}'..='\u{20}'
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// What a document is, by its top-level key (`otlp.sniff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Traces,
    Metrics,
    /// neither: an error unless it is `{}` (an empty request)
    Other,
}

/// `otlp.sniff`: traces if the object has `resourceSpans` (or `resource_spans`), else
/// metrics if it has `resourceMetrics` (or `resource_metrics`).
pub fn sniff(v: &JValue) -> Signal {
    let has = |k: &str| v.get(k).is_some();
    if has("resourceSpans") || has("resource_spans") {
        Signal::Traces
    } else if has("resourceMetrics") || has("resource_metrics") {
        Signal::Metrics
    } else {
        Signal::Other
    }
}

/// One document: its line (1-based), its bytes `data[start..end]` (without a BOM) and its
/// parsed value.
#[derive(Debug)]
pub struct Doc {
    pub line: usize,
    pub start: usize,
    pub end: usize,
    pub value: JValue,
    pub found: Found,
}

/// Hands out the documents of one input in order ([`Iterator`]); after the last,
/// [`Splitter::bad`] and [`Splitter::whole_error`] say what `split_json` records.
pub struct Splitter<'d> {
    data: &'d [u8],
    /// the whole input is UTF-8
    text: bool,
    /// where the next line starts; `None` before the first [`Iterator::next`]
    pos: Option<usize>,
    line: usize,
    held: VecDeque<Doc>,
    /// the input is JSON Lines (or one whole document): documents go out as parsed
    decided: bool,
    objects: usize,
    /// the malformed lines (1-based), in order; empty when the whole input is refused
    pub bad: Vec<usize>,
    /// the input is refused whole: Python's error of the whole text (or of its first byte
    /// that is not UTF-8)
    pub whole_error: bool,
}

const BOM: &[u8] = b"\xef\xbb\xbf";

impl<'d> Splitter<'d> {
    pub fn new(data: &'d [u8]) -> Splitter<'d> {
        Splitter {
            data,
            text: false,
            pos: None,
            line: 0,
            held: VecDeque::new(),
            decided: false,
            objects: 0,
            bad: vec![],
            whole_error: false,
        }
    }

    /// The first step: the whole text as one document, if it is one.
    fn start(&mut self) {
        let data = self.data;
        self.text = std::str::from_utf8(data).is_ok();
        self.pos = Some(0);
        self.line = 1;
        if !self.text {
            return;
        }
        let start = if data.starts_with(BOM) { BOM.len() } else { 0 };
        let body = &data[start..];
        // valid UTF-8 (checked above); a BOM counts as the space it is read as
        let blank = std::str::from_utf8(body).is_ok_and(|s| s.chars().all(py_space));
        if blank {
            self.pos = Some(data.len() + 1); // no lines: nothing, no error
            self.decided = true;
            return;
        }
        if let Ok((value, found)) = parse(body) {
            let lead = body
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                .filter(|&&b| b == b'\n')
                .count();
            self.held.push_back(Doc {
                line: 1 + lead,
                start,
                end: data.len(),
                value,
                found,
            });
            self.decided = true;
            self.pos = Some(data.len() + 1);
        }
    }

    /// Read the next line (if any); false at the end of the input.
    fn step(&mut self) -> bool {
        let data = self.data;
        let Some(pos) = self.pos.filter(|&p| p <= data.len()) else {
            return false;
        };
        let end = memchr_nl(&data[pos..]).map_or(data.len(), |i| pos + i);
        let line = self.line;
        self.pos = Some(end + 1);
        self.line += 1;
        // in text, the BOM of line 1 reads as a space (split_json replaces it)
        let start = if self.text && pos == 0 && data.starts_with(BOM) {
            BOM.len()
        } else {
            pos
        };
        let Ok(s) = std::str::from_utf8(&data[start..end]) else {
            self.bad.push(line);
            return true;
        };
        if s.chars().all(py_space) {
            return true;
        }
        match parse(s.as_bytes()) {
            Err(_) => self.bad.push(line),
            Ok((value, found)) => {
                if let JValue::Object(kvs) = &value {
                    self.objects += 1;
                    let known = |k: &str| {
                        matches!(
                            k,
                            "resourceSpans"
                                | "resource_spans"
                                | "resourceMetrics"
                                | "resource_metrics"
                        )
                    };
                    if kvs.is_empty() || kvs.iter().any(|(k, _)| known(k)) {
                        self.decided = true;
                    }
                }
                self.decided |= self.objects >= 2;
                self.held.push_back(Doc {
                    line,
                    start,
                    end,
                    value,
                    found,
                });
            }
        }
        true
    }
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

impl Iterator for Splitter<'_> {
    type Item = Doc;

    fn next(&mut self) -> Option<Doc> {
        if self.pos.is_none() {
            self.start();
        }
        loop {
            if self.decided {
                if let Some(d) = self.held.pop_front() {
                    return Some(d);
                }
            }
            if !self.step() {
                if !self.decided {
                    // not JSON Lines: the input was one document, and it is malformed
                    self.whole_error = true;
                    self.bad.clear();
                    self.held.clear();
                }
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (line, start, end) of each document, the bad lines, whole_error.
    fn split(data: &[u8]) -> (Vec<(usize, usize, usize)>, Vec<usize>, bool) {
        let mut sp = Splitter::new(data);
        let docs = sp.by_ref().map(|d| (d.line, d.start, d.end)).collect();
        (docs, sp.bad, sp.whole_error)
    }

    #[test]
    fn one_document_over_many_lines() {
        let data = b"\n\n  {\"resourceSpans\": [\n]}\n";
        assert_eq!(split(data), (vec![(3, 0, data.len())], vec![], false));
        let bom = b"\xef\xbb\xbf{}";
        assert_eq!(split(bom), (vec![(1, 3, 5)], vec![], false));
    }

    #[test]
    fn json_lines_with_bad_and_blank_lines() {
        let data = b"{\"resourceSpans\": []}\n\n{oops\n \xc2\xa0\n[1]\n";
        assert_eq!(split(data), (vec![(1, 0, 21), (5, 33, 36)], vec![3], false));
    }

    #[test]
    fn not_json_lines_is_one_error() {
        assert_eq!(split(b"{\"a\": 1\n"), (vec![], vec![], true));
        assert_eq!(split(b"{\"a\": 1\n}"), (vec![(1, 0, 9)], vec![], false));
        assert_eq!(split(b"[1]\n{oops"), (vec![], vec![], true));
        assert_eq!(
            split(b"{\"a\":1}\n{\"b\":2}\nx"),
            (vec![(1, 0, 7), (2, 8, 15)], vec![3], false)
        );
    }

    #[test]
    fn blank_inputs_and_bad_utf8() {
        assert_eq!(split(b""), (vec![], vec![], false));
        assert_eq!(
            split("\u{a0}\n\u{2028}".as_bytes()),
            (vec![], vec![], false)
        );
        // not UTF-8: lines at once, the BOM is not whitespace there
        let data = b"\xef\xbb\xbf{}\n{\"resourceSpans\": []}\n\xff\n";
        assert_eq!(split(data), (vec![(2, 6, 27)], vec![1, 3], false));
    }
}
