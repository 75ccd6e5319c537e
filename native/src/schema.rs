//! The part of the OTLP trace schema that decides whether protobuf bytes are valid: which
//! fields are strings (UTF-8 is checked) and which are messages (walked, and counted for
//! the nesting limit). Every other field is a scalar or unknown: only its framing matters.
//!
//! Written from the descriptors of the `opentelemetry-proto` package the Python decoder
//! uses; `tests/native/test_otlp_native.py::test_schema_matches_the_descriptors` compares
//! the two, so an upgrade of the package that adds a string or message field fails there.

/// What a known field holds, as far as validation cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    /// a message, by its index in [`SCHEMA`]
    Msg(usize),
}

#[derive(Debug)]
pub struct Field {
    pub number: u32,
    pub name: &'static str,
    pub kind: Kind,
}

#[derive(Debug)]
pub struct Message {
    /// the descriptor's short name (`Span`), as the Python decoder's messages say it
    pub name: &'static str,
    pub full_name: &'static str,
    /// the string and message fields, by number
    pub fields: &'static [Field],
}

impl Message {
    pub fn field(&self, number: u128) -> Option<&'static Field> {
        self.fields.iter().find(|f| u128::from(f.number) == number)
    }
}

const fn f(number: u32, name: &'static str, kind: Kind) -> Field {
    Field { number, name, kind }
}

const fn m(name: &'static str, full_name: &'static str, fields: &'static [Field]) -> Message {
    Message {
        name,
        full_name,
        fields,
    }
}

use Kind::{Msg, Str};

pub const REQUEST: usize = 0;
pub const RESOURCE_SPANS: usize = 1;
pub const RESOURCE: usize = 2;
pub const SCOPE_SPANS: usize = 8;
pub const SCOPE: usize = 9;
pub const SPAN: usize = 10;
pub const KEY_VALUE: usize = 3;
pub const ANY_VALUE: usize = 4;
pub const ARRAY_VALUE: usize = 5;
pub const KV_LIST: usize = 6;
pub const EVENT: usize = 11;
pub const LINK: usize = 12;
pub const STATUS: usize = 13;

pub static SCHEMA: [Message; 14] = [
    // 0
    m(
        "ExportTraceServiceRequest",
        "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest",
        &[f(1, "resource_spans", Msg(1))],
    ),
    // 1
    m(
        "ResourceSpans",
        "opentelemetry.proto.trace.v1.ResourceSpans",
        &[
            f(1, "resource", Msg(2)),
            f(2, "scope_spans", Msg(8)),
            f(3, "schema_url", Str),
        ],
    ),
    // 2
    m(
        "Resource",
        "opentelemetry.proto.resource.v1.Resource",
        &[f(1, "attributes", Msg(3)), f(3, "entity_refs", Msg(7))],
    ),
    // 3
    m(
        "KeyValue",
        "opentelemetry.proto.common.v1.KeyValue",
        &[f(1, "key", Str), f(2, "value", Msg(4))],
    ),
    // 4
    m(
        "AnyValue",
        "opentelemetry.proto.common.v1.AnyValue",
        &[
            f(1, "string_value", Str),
            f(5, "array_value", Msg(5)),
            f(6, "kvlist_value", Msg(6)),
        ],
    ),
    // 5
    m(
        "ArrayValue",
        "opentelemetry.proto.common.v1.ArrayValue",
        &[f(1, "values", Msg(4))],
    ),
    // 6
    m(
        "KeyValueList",
        "opentelemetry.proto.common.v1.KeyValueList",
        &[f(1, "values", Msg(3))],
    ),
    // 7
    m(
        "EntityRef",
        "opentelemetry.proto.common.v1.EntityRef",
        &[
            f(1, "schema_url", Str),
            f(2, "type", Str),
            f(3, "id_keys", Str),
            f(4, "description_keys", Str),
        ],
    ),
    // 8
    m(
        "ScopeSpans",
        "opentelemetry.proto.trace.v1.ScopeSpans",
        &[
            f(1, "scope", Msg(9)),
            f(2, "spans", Msg(10)),
            f(3, "schema_url", Str),
        ],
    ),
    // 9
    m(
        "InstrumentationScope",
        "opentelemetry.proto.common.v1.InstrumentationScope",
        &[
            f(1, "name", Str),
            f(2, "version", Str),
            f(3, "attributes", Msg(3)),
        ],
    ),
    // 10
    m(
        "Span",
        "opentelemetry.proto.trace.v1.Span",
        &[
            f(3, "trace_state", Str),
            f(5, "name", Str),
            f(9, "attributes", Msg(3)),
            f(11, "events", Msg(11)),
            f(13, "links", Msg(12)),
            f(15, "status", Msg(13)),
        ],
    ),
    // 11
    m(
        "Event",
        "opentelemetry.proto.trace.v1.Span.Event",
        &[f(2, "name", Str), f(3, "attributes", Msg(3))],
    ),
    // 12
    m(
        "Link",
        "opentelemetry.proto.trace.v1.Span.Link",
        &[f(3, "trace_state", Str), f(4, "attributes", Msg(3))],
    ),
    // 13
    m(
        "Status",
        "opentelemetry.proto.trace.v1.Status",
        &[f(2, "message", Str)],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_name_their_messages() {
        for (i, name) in [
            (REQUEST, "ExportTraceServiceRequest"),
            (RESOURCE_SPANS, "ResourceSpans"),
            (RESOURCE, "Resource"),
            (KEY_VALUE, "KeyValue"),
            (ANY_VALUE, "AnyValue"),
            (ARRAY_VALUE, "ArrayValue"),
            (KV_LIST, "KeyValueList"),
            (SCOPE_SPANS, "ScopeSpans"),
            (SCOPE, "InstrumentationScope"),
            (SPAN, "Span"),
            (EVENT, "Event"),
            (LINK, "Link"),
            (STATUS, "Status"),
        ] {
            assert_eq!(SCHEMA[i].name, name);
        }
    }
}
