//! A connection's decoder session: probes the first bytes for a protocol, hands both sides'
//! chunks to that one decoder, and swaps decoders when one answers `Progress::Upgrade`
//! (CONNECT answered 2xx continues as TLS, as Zeek's PIA hands a stream on). Decoders never
//! know each other: this is the one place that chooses and swaps them.
//!
//! # What a tunnel carries
//!
//! A CONNECT tunnel usually carries TLS, but a client may speak plain HTTP/1 through it
//! (Suricata's http-connect tests). The client speaks first in both, so its first tunnel
//! bytes decide: a request line sends the stream back to the HTTP decoder, which reads
//! heads again after its CONNECT transaction; anything else goes to TLS as before, and so
//! does a tunnel whose server speaks first (SMTP through a proxy).
//!
//! # Upgrade leftovers
//!
//! When HTTP hands over to TLS, it already holds bytes of the tunnel: what followed the 2xx
//! head in the chunk that carried it, and what the client sent after its CONNECT before the
//! answer. The session takes them from the HTTP decoder and delivers them to the TLS decoder
//! as ordinary data, by the same path as the reassembler's chunks (client first, as they were
//! sent). TLS's answer for the side whose chunk is being delivered goes back with that chunk;
//! its answer for the other side (a `Skip` past the rest of a record, say) is owed to that
//! side's reassembler, and the connection applies it at once ([`Session::take_owed`]).
//!
//! # Events
//!
//! After each answer from a decoder, the session looks at what it learned (a hello, a
//! certificate chain, an alert, an HTTP head) and turns what is new into events, for the kinds
//! the caller asked for; when it asked for none, that look is one bit test.

use crate::app::detect::{Probe, probe};
use crate::app::dns::{DnsMeta, DnsRecord, DnsTcpDecoder, DnsTracker};
use crate::app::http::{HttpDecoder, HttpTransaction};
use crate::app::tls::{ClientHello, ServerHello, TlsConfig, TlsDecoder, TlsInfo};
use crate::app::{StreamCtx, StreamDecoder};
use crate::config::Limits;
use crate::event::{Certificates, ConnEvent, Event, EventMask};
use crate::stats::Stats;
use crate::time::Timestamp;
use crate::types::{Progress, Protocol, Side, Transport};
use std::net::SocketAddr;

/// Bytes kept while the content probe cannot decide yet.
const MAX_PROBE_BYTES: usize = 256;

/// How much plaintext of an unknown protocol is watched for a STARTTLS switch, per side.
const MAX_STARTTLS_WATCH: u64 = 16 * 1024;

/// What the engine lends a session while it delivers chunks.
pub(crate) struct SessionEnv<'e> {
    pub tls: &'e TlsConfig,
    pub limits: &'e Limits,
    pub dns: &'e mut DnsTracker,
    pub dns_out: &'e mut Vec<DnsRecord>,
    pub stats: &'e mut Stats,
    pub conn_id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// The kinds of event the caller wants.
    pub events: EventMask,
    /// Where events go, in the order they happen.
    pub out: &'e mut Vec<Event>,
    /// The packet being processed (for events: the one that made them known).
    pub frame: u64,
    pub ts: Timestamp,
}

impl SessionEnv<'_> {
    /// Wraps what `side` sent into a connection event of the current packet.
    pub fn conn_event<T>(&self, side: Side, data: T) -> Box<ConnEvent<T>> {
        Box::new(ConnEvent {
            conn_id: self.conn_id,
            client: self.client,
            server: self.server,
            side,
            frame: self.frame,
            ts: self.ts,
            data,
        })
    }
}

/// What of the TLS decoder's results has been reported as events.
#[derive(Debug, Default)]
struct TlsReported {
    client_hello: bool,
    client_hello_retry: bool,
    hello_retry_request: bool,
    server_hello: bool,
    server_certificates: bool,
    client_certificates: bool,
    alerts: usize,
}

/// What the session is doing with the stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Active {
    /// Waiting for enough bytes to recognise a protocol.
    #[default]
    Probing,
    /// Plaintext we don't decode (SMTP, POP3, IMAP, FTP, ...): watch the first bytes of each
    /// side for a TLS record starting a chunk, which is how STARTTLS continues.
    Watch,
    /// One decoder has the stream.
    Decoding(Protocol),
    /// A CONNECT was answered 2xx and nothing has come through the tunnel yet: its first
    /// bytes decide between TLS and HTTP (see the module doc).
    Tunnel,
    /// Not a protocol we decode (or a decoder gave up): nothing more is delivered.
    Off,
}

/// One connection's application-layer state.
#[derive(Debug, Default)]
pub(crate) struct Session {
    active: Active,
    probe_buf: [Vec<u8>; 2],
    /// The decoders this stream has had. At most one is active; one the stream was upgraded
    /// away from (HTTP after a CONNECT) is kept for its results.
    http: Option<Box<HttpDecoder>>,
    tls: Option<Box<TlsDecoder>>,
    dns: Option<Box<DnsTcpDecoder>>,
    /// The protocol first detected (HTTP stays the answer after a CONNECT upgrade).
    detected: Option<Protocol>,
    /// Plaintext bytes watched per side for STARTTLS.
    watched: [u64; 2],
    /// Answers owed to a side's reassembler (see the module doc), by `Side::index()`.
    owed: [Option<Progress>; 2],
    /// Frame and time of the first client byte held while a tunnel's first bytes are probed.
    tunnel_held_at: (u64, Timestamp),
    /// Frame and time of each side's first byte held while the probe needs more, by
    /// `Side::index()`: the held bytes reach the decoder with them.
    probe_held_at: [(u64, Timestamp); 2],
    tls_reported: TlsReported,
}

impl Session {
    /// The protocol the content probe chose, if any.
    pub fn detected(&self) -> Option<Protocol> {
        self.detected
    }

    /// Takes the decoded results out (at the end of the connection); the HTTP decoder's
    /// counters go into the run's.
    pub fn take_results(
        &mut self,
        stats: &mut Stats,
    ) -> (Option<Box<TlsInfo>>, Vec<HttpTransaction>) {
        let tls = self.tls.take().map(|t| t.into_boxed_info());
        if let Some(t) = &tls {
            stats.x509.add(&t.chain);
            stats.handshake_buffer_refusals += t.bounds.handshake_buffer_refusals;
            stats.san_entries_dropped += t.bounds.san_entries_dropped;
            stats.kept_bytes_refusals += t.bounds.kept_bytes_refusals;
        }
        let http = match self.http.take() {
            Some(h) => {
                stats.http.add(h.stats());
                stats.kept_bytes_refusals += h.kept_refusals();
                h.into_transactions()
            }
            None => Vec::new(),
        };
        (tls, http)
    }

    /// An answer for `side`'s reassembler that did not go back with one of its chunks.
    pub fn take_owed(&mut self, side: Side) -> Option<Progress> {
        self.owed.get_mut(side.index()).and_then(Option::take)
    }

    /// In-order bytes of one side.
    pub fn on_data(&mut self, env: &mut SessionEnv<'_>, ctx: &StreamCtx, data: &[u8]) -> Progress {
        if let Active::Tunnel = self.active {
            return self.tunnel_data(env, ctx, data);
        }
        if let Active::Probing = self.active {
            let dns_port = env.server.port() == 53 || env.client.port() == 53;
            // Side::index() is 0 or 1, into an array of two.
            #[allow(clippy::indexing_slicing)]
            let buf = &mut self.probe_buf[ctx.side.index()];
            let verdict = if buf.is_empty() {
                probe(data, dns_port)
            } else {
                let mut joined = buf.clone();
                joined.extend_from_slice(data);
                probe(&joined, dns_port)
            };
            match verdict {
                Probe::NeedMore if buf.len() + data.len() <= MAX_PROBE_BYTES => {
                    if buf.is_empty()
                        && let Some(at) = self.probe_held_at.get_mut(ctx.side.index())
                    {
                        *at = (ctx.frame, ctx.ts);
                    }
                    buf.extend_from_slice(data);
                    return Progress::Continue;
                }
                Probe::NeedMore | Probe::Unknown => {
                    self.active = Active::Watch;
                    self.probe_buf = Default::default();
                    return self.watch(env, ctx, data);
                }
                Probe::Is(p) => {
                    let held = std::mem::take(buf);
                    self.start(p, env);
                    self.detected = Some(p);
                    if !held.is_empty() {
                        let (frame, ts) = self
                            .probe_held_at
                            .get(ctx.side.index())
                            .copied()
                            .unwrap_or((ctx.frame, ctx.ts));
                        let first = StreamCtx {
                            offset: ctx.offset.saturating_sub(held.len() as u64),
                            frame,
                            ts,
                            ..*ctx
                        };
                        match self.deliver(env, &first, &held) {
                            Progress::Continue => {}
                            // The held bytes are at most MAX_PROBE_BYTES: a skip or stop that
                            // starts inside them is applied to what follows as well.
                            other => return other,
                        }
                    }
                }
            }
        }
        if let Active::Watch = self.active {
            return self.watch(env, ctx, data);
        }
        self.deliver(env, ctx, data)
    }

    /// STARTTLS: after a plaintext exchange, a chunk that starts with a TLS handshake record
    /// hands both directions to the TLS decoder.
    fn watch(&mut self, env: &mut SessionEnv<'_>, ctx: &StreamCtx, data: &[u8]) -> Progress {
        if matches!(data, [0x16, 0x03, 0..=4, ..]) {
            self.start(Protocol::Tls, env);
            self.detected = Some(Protocol::Tls);
            return self.deliver(env, ctx, data);
        }
        let watched = match self.watched.get_mut(ctx.side.index()) {
            Some(w) => {
                *w += data.len() as u64;
                *w
            }
            None => MAX_STARTTLS_WATCH,
        };
        if self.watched.iter().all(|w| *w >= MAX_STARTTLS_WATCH) {
            self.active = Active::Off;
            return Progress::Done;
        }
        if watched >= MAX_STARTTLS_WATCH {
            Progress::Done
        } else {
            Progress::Continue
        }
    }

    fn start(&mut self, p: Protocol, env: &SessionEnv<'_>) {
        match p {
            Protocol::Tls => {
                self.tls = Some(Box::new(TlsDecoder::within(
                    env.tls,
                    env.limits.tls,
                    env.limits.max_kept_bytes,
                )))
            }
            Protocol::Http => {
                let mut h = HttpDecoder::within(
                    env.limits.http,
                    env.tls.kept_pool(),
                    env.limits.max_kept_bytes,
                );
                if env.events.intersects(EventMask::HTTP) {
                    h.keep_heads();
                }
                self.http = Some(Box::new(h));
            }
            Protocol::Dns => self.dns = Some(Box::new(DnsTcpDecoder::new())),
        }
        self.active = Active::Decoding(p);
    }

    /// Bytes for the active decoder.
    fn deliver(&mut self, env: &mut SessionEnv<'_>, ctx: &StreamCtx, data: &[u8]) -> Progress {
        let Active::Decoding(p) = self.active else {
            return Progress::Done;
        };
        let progress = match p {
            Protocol::Tls => self
                .tls
                .as_mut()
                .map_or(Progress::Done, |t| t.on_data(ctx, data)),
            Protocol::Http => self
                .http
                .as_mut()
                .map_or(Progress::Done, |h| h.on_data(ctx, data)),
            Protocol::Dns => match self.dns.as_mut() {
                Some(d) => {
                    let p = d.on_data(ctx, data);
                    self.flush_dns(env);
                    p
                }
                None => Progress::Done,
            },
        };
        self.after(env, ctx, progress)
    }

    /// Acts on a decoder's answer; what goes back to the reassembler is `Continue`, `Skip`
    /// or `Done`.
    fn after(&mut self, env: &mut SessionEnv<'_>, ctx: &StreamCtx, progress: Progress) -> Progress {
        if env.events.intersects(EventMask::TLS.union(EventMask::HTTP)) {
            self.report(env);
        }
        match progress {
            Progress::Upgrade(Protocol::Tls) => self.enter_tunnel(env, ctx),
            Progress::Upgrade(_) => {
                self.active = Active::Off;
                Progress::Done
            }
            Progress::Violation(_) => {
                env.stats.anomaly("app_violation");
                self.active = Active::Off;
                Progress::Done
            }
            p => p,
        }
    }

    /// The HTTP decoder saw a CONNECT answered 2xx. The tunnel bytes it already holds say
    /// what the tunnel carries when there are some; otherwise the first to come will (see
    /// the module doc). Returns the answer for `ctx.side`.
    fn enter_tunnel(&mut self, env: &mut SessionEnv<'_>, ctx: &StreamCtx) -> Progress {
        let Some(h) = self.http.as_deref() else {
            return self.upgrade_to_tls(env, ctx);
        };
        let client = h.tunnel_leftover(Side::Client);
        if !client.is_empty() {
            return match probe(client, false) {
                Probe::Is(Protocol::Http) => self.reopen_http(env, ctx),
                _ => self.upgrade_to_tls(env, ctx),
            };
        }
        if !h.tunnel_leftover(Side::Server).is_empty() {
            return self.upgrade_to_tls(env, ctx);
        }
        self.active = Active::Tunnel;
        Progress::Continue
    }

    /// The tunnel carries HTTP/1: the HTTP decoder reads heads again on both sides, starting
    /// with the tunnel bytes it holds. Returns the answer for `ctx.side` (the other side's is
    /// owed, as for an upgrade's leftovers).
    fn reopen_http(&mut self, env: &mut SessionEnv<'_>, ctx: &StreamCtx) -> Progress {
        let Some(h) = self.http.as_mut() else {
            self.active = Active::Off;
            return Progress::Done;
        };
        self.active = Active::Decoding(Protocol::Http);
        let answers = h.reopen_tunnel(ctx);
        let mut answer = Progress::Continue;
        for (side, p) in [Side::Client, Side::Server].into_iter().zip(answers) {
            // The answer goes through `after` like any other (a violation turns the session
            // off, a head becomes an event).
            let p = self.after(env, &StreamCtx { side, ..*ctx }, p);
            if side == ctx.side {
                answer = p;
            } else if p != Progress::Continue
                && let Some(owed) = self.owed.get_mut(side.index())
            {
                *owed = Some(p);
            }
        }
        answer
    }

    /// Bytes of the tunnel before anything decided what it carries: the client's are probed
    /// (held while too few to tell), the server's hand the tunnel to TLS.
    fn tunnel_data(&mut self, env: &mut SessionEnv<'_>, ctx: &StreamCtx, data: &[u8]) -> Progress {
        if ctx.side == Side::Server {
            return self.tunnel_to_tls(env, ctx, data);
        }
        // Side::index() is 0 or 1, into an array of two.
        #[allow(clippy::indexing_slicing)]
        let buf = &mut self.probe_buf[Side::Client.index()];
        let verdict = if buf.is_empty() {
            probe(data, false)
        } else {
            let mut joined = buf.clone();
            joined.extend_from_slice(data);
            probe(&joined, false)
        };
        match verdict {
            Probe::NeedMore if buf.len() + data.len() <= MAX_PROBE_BYTES => {
                if buf.is_empty() {
                    self.tunnel_held_at = (ctx.frame, ctx.ts);
                }
                buf.extend_from_slice(data);
                Progress::Continue
            }
            Probe::Is(Protocol::Http) => {
                let held = std::mem::take(buf);
                let (frame, ts) = if held.is_empty() {
                    (ctx.frame, ctx.ts)
                } else {
                    self.tunnel_held_at
                };
                let first = StreamCtx {
                    offset: ctx.offset.saturating_sub(held.len() as u64),
                    frame,
                    ts,
                    ..*ctx
                };
                // Nothing is held on the HTTP side: no owed answer can come of this.
                let _ = self.reopen_http(env, &first);
                if !held.is_empty() {
                    match self.deliver(env, &first, &held) {
                        Progress::Continue => {}
                        other => return other,
                    }
                }
                self.deliver(env, ctx, data)
            }
            _ => self.tunnel_to_tls(env, ctx, data),
        }
    }

    /// The tunnel carries TLS after all: the TLS decoder starts with the client bytes held
    /// while probing, then `data` of `ctx.side`.
    fn tunnel_to_tls(
        &mut self,
        env: &mut SessionEnv<'_>,
        ctx: &StreamCtx,
        data: &[u8],
    ) -> Progress {
        self.start(Protocol::Tls, env);
        self.deliver_held_client(env, ctx);
        self.deliver(env, ctx, data)
    }

    /// Client bytes held by the tunnel probe go to the decoder now; when `ctx` is the
    /// server's, the answer to them is owed to the client's reassembler.
    fn deliver_held_client(&mut self, env: &mut SessionEnv<'_>, ctx: &StreamCtx) {
        let Some(held) = self
            .probe_buf
            .get_mut(Side::Client.index())
            .map(std::mem::take)
        else {
            return;
        };
        if held.is_empty() {
            return;
        }
        let (frame, ts) = self.tunnel_held_at;
        let cctx = StreamCtx {
            side: Side::Client,
            frame,
            ts,
            ..*ctx
        };
        let p = self.deliver(env, &cctx, &held);
        if ctx.side != Side::Client
            && p != Progress::Continue
            && let Some(owed) = self.owed.get_mut(Side::Client.index())
        {
            *owed = Some(p);
        }
    }

    /// The HTTP decoder saw a CONNECT answered 2xx and the tunnel carries TLS: TLS takes the
    /// rest of both directions, starting with the tunnel bytes HTTP already holds (see the
    /// module doc). Returns the answer for `ctx.side`.
    fn upgrade_to_tls(&mut self, env: &mut SessionEnv<'_>, ctx: &StreamCtx) -> Progress {
        self.start(Protocol::Tls, env);
        let mut answer = Progress::Continue;
        for side in [Side::Client, Side::Server] {
            let Some(bytes) = self.http.as_mut().and_then(|h| h.take_leftover(side)) else {
                continue;
            };
            let p = self.deliver(env, &StreamCtx { side, ..*ctx }, &bytes);
            if side == ctx.side {
                answer = p;
            } else if p != Progress::Continue
                && let Some(owed) = self.owed.get_mut(side.index())
            {
                *owed = Some(p);
            }
        }
        answer
    }

    fn flush_dns(&mut self, env: &mut SessionEnv<'_>) {
        let Some(d) = self.dns.as_mut() else { return };
        for (c, msg) in d.drain() {
            let (src, dst) = match c.side {
                Side::Client => (env.client, env.server),
                Side::Server => (env.server, env.client),
            };
            let meta = DnsMeta {
                transport: Transport::Tcp,
                src,
                dst,
                ts: c.ts,
                frame: c.frame,
                conn_id: env.conn_id,
            };
            env.stats.dns_messages += 1;
            env.dns.on_message(&meta, &msg, env.dns_out);
        }
    }

    /// `len` bytes of one side that were never captured.
    pub fn on_gap(&mut self, env: &mut SessionEnv<'_>, ctx: &StreamCtx, len: u64) -> Progress {
        let progress = match self.active {
            Active::Decoding(Protocol::Tls) => self
                .tls
                .as_mut()
                .map_or(Progress::Done, |t| t.on_gap(ctx, len)),
            Active::Decoding(Protocol::Http) => self
                .http
                .as_mut()
                .map_or(Progress::Done, |h| h.on_gap(ctx, len)),
            Active::Decoding(Protocol::Dns) => self
                .dns
                .as_mut()
                .map_or(Progress::Done, |d| d.on_gap(ctx, len)),
            // A gap in a tunnel not yet recognised: TLS takes it, as it would have before
            // the tunnel's first bytes were looked at.
            Active::Tunnel => {
                self.start(Protocol::Tls, env);
                self.deliver_held_client(env, ctx);
                self.tls
                    .as_mut()
                    .map_or(Progress::Done, |t| t.on_gap(ctx, len))
            }
            // A gap before anything was recognised: the stream's start is lost; probing the
            // bytes after it would misjudge them, so give up on this connection.
            Active::Probing | Active::Watch => {
                self.active = Active::Off;
                return Progress::Done;
            }
            Active::Off => return Progress::Done,
        };
        self.after(env, ctx, progress)
    }

    /// One side ended.
    pub fn on_end(&mut self, env: &mut SessionEnv<'_>, ctx: &StreamCtx) {
        if let Active::Tunnel = self.active {
            // Nothing told what the tunnel carries: it stays TLS's, as a CONNECT's 2xx
            // always made it.
            self.start(Protocol::Tls, env);
            self.deliver_held_client(env, ctx);
        }
        match self.active {
            Active::Decoding(Protocol::Tls) => {
                if let Some(t) = self.tls.as_mut() {
                    t.on_end(ctx)
                }
            }
            Active::Decoding(Protocol::Http) => {
                if let Some(h) = self.http.as_mut() {
                    h.on_end(ctx)
                }
            }
            Active::Decoding(Protocol::Dns) => {
                if let Some(d) = self.dns.as_mut() {
                    d.on_end(ctx);
                }
                self.flush_dns(env);
            }
            Active::Probing | Active::Watch | Active::Tunnel | Active::Off => {}
        }
        if env.events.intersects(EventMask::TLS.union(EventMask::HTTP)) {
            self.report(env);
        }
    }

    /// Turns what the decoders learned since the last look into events (see the module doc).
    fn report(&mut self, env: &mut SessionEnv<'_>) {
        if let Some(t) = self.tls.as_deref() {
            let info = t.info();
            let seen = &mut self.tls_reported;
            let want = env.events;
            let mut out: Vec<Event> = Vec::new();
            if want.contains(EventMask::CLIENT_HELLO) {
                if !seen.client_hello
                    && let Some(ch) = &info.client_hello
                {
                    seen.client_hello = true;
                    out.push(Event::ClientHello(env.conn_event(Side::Client, ch.clone())));
                }
                if !seen.client_hello_retry
                    && let Some(ch) = &info.client_hello_retry
                {
                    seen.client_hello_retry = true;
                    let ch = ClientHello::clone(ch);
                    out.push(Event::ClientHello(env.conn_event(Side::Client, ch)));
                }
            }
            if want.contains(EventMask::SERVER_HELLO) {
                if !seen.hello_retry_request
                    && let Some(sh) = &info.hello_retry_request
                {
                    seen.hello_retry_request = true;
                    let sh = ServerHello::clone(sh);
                    out.push(Event::ServerHello(env.conn_event(Side::Server, sh)));
                }
                if !seen.server_hello
                    && let Some(sh) = &info.server_hello
                {
                    seen.server_hello = true;
                    let sh = ServerHello::clone(sh);
                    out.push(Event::ServerHello(env.conn_event(Side::Server, sh)));
                }
            }
            if want.contains(EventMask::CERTIFICATES) {
                if !seen.client_certificates && !info.client_certificates.is_empty() {
                    seen.client_certificates = true;
                    let chain = Certificates {
                        certificates: info.client_certificates.clone(),
                        validation: None,
                    };
                    out.push(Event::Certificates(env.conn_event(Side::Client, chain)));
                }
                if !seen.server_certificates && info.certificate_frame.is_some() {
                    seen.server_certificates = true;
                    let chain = Certificates {
                        certificates: info.certificates.clone(),
                        validation: info.validation.clone(),
                    };
                    out.push(Event::Certificates(env.conn_event(Side::Server, chain)));
                }
            }
            if want.contains(EventMask::ALERT) {
                for a in info.alerts.get(seen.alerts..).unwrap_or_default() {
                    out.push(Event::Alert(env.conn_event(a.side, a.clone())));
                }
                seen.alerts = info.alerts.len();
            }
            env.out.append(&mut out);
        }
        if let Some(h) = self.http.as_deref_mut() {
            for (side, i) in h.take_heads() {
                let Some(tx) = h.transactions().get(i) else {
                    continue;
                };
                let ev = match side {
                    Side::Client if env.events.contains(EventMask::HTTP_REQUEST) => {
                        Event::HttpRequest(env.conn_event(side, tx.clone()))
                    }
                    Side::Server if env.events.contains(EventMask::HTTP_RESPONSE) => {
                        Event::HttpResponse(env.conn_event(side, tx.clone()))
                    }
                    _ => continue,
                };
                env.out.push(ev);
            }
        }
    }
}
