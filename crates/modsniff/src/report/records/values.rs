//! The contract's leaf values: how a time, a code point, an address or a list of domain
//! values is written, with its `Serialize`, its `WriteJson` and its schema side by side.

use super::write::{self, Omit, WriteJson};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};
use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The version of every record's layout, printed as `record_version` right after `type`. It
/// changes when a field is removed, renamed, or changes type or meaning; new fields may
/// appear without a change (consumers ignore keys they do not know).
pub const RECORD_VERSION: u32 = 1;

/// `record_version`: always [`RECORD_VERSION`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RecordVersion;

impl Serialize for RecordVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(RECORD_VERSION)
    }
}

impl WriteJson for RecordVersion {
    fn write_json(&self, o: &mut Vec<u8>) {
        write::int(o, RECORD_VERSION);
    }
}

impl JsonSchema for RecordVersion {
    fn schema_name() -> Cow<'static, str> {
        "RecordVersion".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "The layout version of this record. It changes when a field is removed, renamed, or changes type or meaning; new fields may appear without a change.",
            "type": "integer",
            "const": RECORD_VERSION,
        })
    }
}

/// A time (seconds since the Unix epoch) or a duration (seconds), to the microsecond, as a
/// JSON number (tshark's `frame.time_epoch`): `1795389452.253`, `0.000193`.
#[derive(Clone, Copy, Debug)]
pub struct Secs(u64);

impl From<modsniff_core::Timestamp> for Secs {
    fn from(t: modsniff_core::Timestamp) -> Self {
        Secs(t.as_nanos())
    }
}

impl From<modsniff_core::Duration> for Secs {
    fn from(d: modsniff_core::Duration) -> Self {
        Secs(d.as_nanos())
    }
}

impl Serialize for Secs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64((self.0 / 1000) as f64 / 1e6)
    }
}

impl WriteJson for Secs {
    fn write_json(&self, o: &mut Vec<u8>) {
        write::secs(o, self.0);
    }
}

impl JsonSchema for Secs {
    fn schema_name() -> Cow<'static, str> {
        "Seconds".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A time in seconds since the Unix epoch, or a duration in seconds, to the microsecond.",
            "type": "number",
            "minimum": 0,
        })
    }
}

/// A TLS code point (version, cipher suite, extension, group, signature scheme) as the
/// string `"0x%04x"`: lossless, GREASE values visible; names are separate fields.
#[derive(Clone, Copy, Debug)]
pub struct Hex16(pub u16);

/// Digit by digit into a stack buffer (`format_args!` through `collect_str` cost more than
/// the rest of the record), and not through `write::hex16`: the fast writer is tested
/// against this.
impl Serialize for Hex16 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut text = *b"0x0000";
        for (i, d) in text.iter_mut().skip(2).enumerate() {
            let nibble = (self.0 >> (12 - 4 * i)) & 0xf;
            *d = char::from_digit(u32::from(nibble), 16).map_or(b'?', |c| c as u8);
        }
        // ASCII digits only.
        s.serialize_str(std::str::from_utf8(&text).unwrap_or_default())
    }
}

impl WriteJson for Hex16 {
    fn write_json(&self, o: &mut Vec<u8>) {
        write::hex16(o, self.0);
    }
}

impl JsonSchema for Hex16 {
    fn schema_name() -> Cow<'static, str> {
        "CodePoint".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A TLS code point as four lower-case hex digits.",
            "type": "string",
            "pattern": "^0x[0-9a-f]{4}$",
        })
    }
}

/// A wire value by its name where it has one (`"AAAA"`, `"application_data"`), else as a
/// bare number.
#[derive(Clone, Copy, Debug)]
pub struct NameOrNumber {
    pub name: Option<&'static str>,
    pub number: u16,
}

impl Serialize for NameOrNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.name {
            Some(n) => s.serialize_str(n),
            None => s.serialize_u16(self.number),
        }
    }
}

impl WriteJson for NameOrNumber {
    fn write_json(&self, o: &mut Vec<u8>) {
        match self.name {
            Some(n) => write::string(o, n),
            None => write::int(o, self.number),
        }
    }
}

impl JsonSchema for NameOrNumber {
    fn schema_name() -> Cow<'static, str> {
        "NameOrNumber".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A wire value's name where it has one, else its number.",
            "type": ["string", "integer"],
            "minimum": 0,
        })
    }
}

/// An address and port, `"10.0.0.1:443"` or `"[2001:db8::1]:443"`.
#[derive(Clone, Copy, Debug)]
pub struct Addr(pub SocketAddr);

/// serde's own impl (`Display` into a stack buffer).
impl Serialize for Addr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl WriteJson for Addr {
    fn write_json(&self, o: &mut Vec<u8>) {
        write::socket(o, &self.0);
    }
}

impl JsonSchema for Addr {
    fn schema_name() -> Cow<'static, str> {
        "SocketAddress".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An IP address and port: `10.0.0.1:443`, `[2001:db8::1]:443`.",
            "type": "string",
        })
    }
}

/// An IP address, `"10.0.0.1"` or `"2001:db8::1"`.
#[derive(Clone, Copy, Debug)]
pub struct Ip(pub IpAddr);

/// serde's own impl (`Display` into a stack buffer).
impl Serialize for Ip {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl WriteJson for Ip {
    fn write_json(&self, o: &mut Vec<u8>) {
        write::ip(o, &self.0);
    }
}

impl JsonSchema for Ip {
    fn schema_name() -> Cow<'static, str> {
        "IpAddress".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An IPv4 or IPv6 address.",
            "type": "string",
        })
    }
}

/// A string out of a fixed list the domain hands over as `&'static str` (core's
/// `conn_state`, `client_by`): the list is the schema's; the words are written as they come.
macro_rules! word_list {
    (#[doc = $doc:literal] $name:ident [$($word:literal),* $(,)?]) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Debug)]
        pub struct $name(pub &'static str);

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.0)
            }
        }

        impl WriteJson for $name {
            fn write_json(&self, o: &mut Vec<u8>) {
                write::string(o, self.0);
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "description": $doc.trim(),
                    "type": "string",
                    "enum": [$($word),*],
                })
            }
        }
    };
}

word_list!(
    /// Zeek's conn_state of the connection.
    ConnState ["S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH"]
);

word_list!(
    /// How the client side was told: by the SYN, the SYN-ACK, the ports, or the first packet.
    ClientBy ["syn", "syn-ack", "port", "first-packet"]
);

/// A domain value and the contract's view of it: a list of `T` is written as the list of
/// their views ([`Each`]), without building that list.
pub trait View {
    type Out<'a>: Serialize + WriteJson + JsonSchema
    where
        Self: 'a;
    fn view(&self) -> Self::Out<'_>;
}

/// A value shared by several records (a certificate described once for every connection
/// that sent it) is written as the value itself.
impl<T: View> View for std::sync::Arc<T> {
    type Out<'a>
        = T::Out<'a>
    where
        Self: 'a;
    fn view(&self) -> Self::Out<'_> {
        T::view(self)
    }
}

/// A borrowed list of domain values, written as the JSON array of their views.
#[derive(Debug)]
pub struct Each<'a, T>(pub &'a [T]);

impl<T> Clone for Each<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Each<'_, T> {}

impl<T: View> Serialize for Each<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(View::view))
    }
}

impl<T: View> WriteJson for Each<'_, T> {
    fn write_json(&self, o: &mut Vec<u8>) {
        write::array(o, self.0.iter(), |o, v| v.view().write_json(o));
    }
}

impl<'a, T: View + 'a> JsonSchema for Each<'a, T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        <Vec<T::Out<'a>>>::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        <Vec<T::Out<'a>>>::schema_id()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        <Vec<T::Out<'a>>>::json_schema(g)
    }
}

impl<T> Omit for Each<'_, T> {
    fn omit(&self) -> bool {
        self.0.is_empty()
    }
}

/// A list the core shares between records (a ClientHello's code-point lists, handed out by
/// its fingerprint cache to every hello of the same shape), written as [`Each`] writes it,
/// but formatted once per list rather than once per record: the written bytes are kept with
/// a clone of the list (see `SHARED_MEMO`). A ClientHello carries ~45 code points in five
/// such lists, and most hellos of a capture share one or a few shapes.
#[derive(Debug)]
pub struct Shared<'a, T>(pub &'a Arc<[T]>);

impl<T> Clone for Shared<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Shared<'_, T> {}

impl<T: View> Serialize for Shared<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Each(&self.0[..]).serialize(s)
    }
}

/// A list's written bytes, with the list itself: holding the `Arc` keeps its allocation
/// alive, so no other list can appear at the same address while the entry exists, and the
/// address (with the element type) names the contents.
struct Memo {
    ty: TypeId,
    addr: usize,
    len: usize,
    _list: Box<dyn Any>,
    bytes: Vec<u8>,
}

/// Lists remembered per thread (replaced in turn when full): a capture's hellos come in a
/// few shapes, each with five lists.
const SHARED_MEMO_ENTRIES: usize = 32;

thread_local! {
    static SHARED_MEMO: RefCell<(Vec<Memo>, usize)> = const { RefCell::new((Vec::new(), 0)) };
}

impl<T: View + 'static> WriteJson for Shared<'_, T> {
    fn write_json(&self, o: &mut Vec<u8>) {
        let (ty, addr, len) = (TypeId::of::<T>(), self.0.as_ptr() as usize, self.0.len());
        SHARED_MEMO.with_borrow_mut(|(memo, next)| {
            if let Some(m) = memo
                .iter()
                .find(|m| m.addr == addr && m.len == len && m.ty == ty)
            {
                o.extend_from_slice(&m.bytes);
                return;
            }
            let start = o.len();
            Each(&self.0[..]).write_json(o);
            let entry = Memo {
                ty,
                addr,
                len,
                _list: Box::new(Arc::clone(self.0)),
                bytes: o.get(start..).unwrap_or_default().to_vec(),
            };
            if memo.len() < SHARED_MEMO_ENTRIES {
                memo.push(entry);
            } else if let Some(slot) = memo.get_mut(*next) {
                *slot = entry;
                *next = (*next + 1) % SHARED_MEMO_ENTRIES;
            }
        });
    }
}

impl<'a, T: View + 'a> JsonSchema for Shared<'a, T> {
    fn inline_schema() -> bool {
        <Each<'a, T>>::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        <Each<'a, T>>::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        <Each<'a, T>>::schema_id()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        <Each<'a, T>>::json_schema(g)
    }
}

/// One domain value, written as its view (built when it is written, not before).
#[derive(Debug)]
pub struct One<'a, T>(pub &'a T);

impl<T> Clone for One<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for One<'_, T> {}

impl<T: View> Serialize for One<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.view().serialize(s)
    }
}

impl<T: View> WriteJson for One<'_, T> {
    fn write_json(&self, o: &mut Vec<u8>) {
        self.0.view().write_json(o);
    }
}

/// The view's schema, under the view's name.
impl<'a, T: View + 'a> JsonSchema for One<'a, T> {
    fn inline_schema() -> bool {
        <T::Out<'a>>::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        <T::Out<'a>>::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        <T::Out<'a>>::schema_id()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        <T::Out<'a>>::json_schema(g)
    }
}

/// TLS code points, each seen as its hex string.
macro_rules! code_points {
    ($($t:ty)*) => {$(
        impl View for $t {
            type Out<'a> = Hex16;
            fn view(&self) -> Hex16 {
                Hex16(self.0)
            }
        }
    )*};
}

code_points!(
    modsniff_core::tls::TlsVersion
    modsniff_core::tls::CipherSuite
    modsniff_core::tls::ExtensionType
    modsniff_core::tls::SignatureScheme
);
