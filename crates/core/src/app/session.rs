//! The engine's glue between a connection's reassembled byte streams and the decoders: picks
//! a decoder by content, forwards chunks, and swaps decoders on `Progress::Upgrade` (CONNECT
//! answered 2xx continues as TLS). Decoders never know each other; this is the one place
//! that wires them.

use crate::app::detect::{Probe, probe};
use crate::app::dns::{DnsMeta, DnsRecord, DnsTcpDecoder, DnsTracker};
use crate::app::http::{HttpDecoder, HttpTransaction};
use crate::app::tls::{TlsConfig, TlsDecoder, TlsInfo};
use crate::app::{Progress, Protocol, StreamCtx, StreamDecoder};
use crate::reassembly::Want;
use crate::stats::Stats;
use crate::types::{Side, Transport};
use std::net::SocketAddr;

/// Bytes kept while the content probe cannot decide yet.
const MAX_PROBE_BYTES: usize = 256;

/// What the engine lends a stream while it delivers chunks.
pub struct StreamEnv<'e> {
    pub tls: &'e TlsConfig,
    pub dns: &'e mut DnsTracker,
    pub dns_out: &'e mut Vec<DnsRecord>,
    pub stats: &'e mut Stats,
    pub conn_id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
}

#[derive(Debug, Default)]
enum Active {
    #[default]
    Probing,
    Tls,
    Http,
    Dns,
    /// Plaintext we don't decode (SMTP, POP3, IMAP, FTP, ...): watch the first bytes of each
    /// side for a TLS record starting a chunk, which is how STARTTLS continues.
    Watch,
    /// Not a protocol we decode (or a decoder gave up): nothing more is delivered.
    Off,
}

/// One connection's application-layer state.
#[derive(Debug, Default)]
pub struct StreamDispatch {
    active: Active,
    probe_buf: [Vec<u8>; 2],
    http: Option<Box<HttpDecoder>>,
    tls: Option<Box<TlsDecoder>>,
    dns: Option<Box<DnsTcpDecoder>>,
    /// The protocol first detected (HTTP stays the answer after a CONNECT upgrade).
    detected: Option<Protocol>,
    violation: Option<&'static str>,
    /// Plaintext bytes watched per side for STARTTLS.
    watched: [u64; 2],
    /// Bytes per side the TLS decoder asked to skip while it was fed a CONNECT tunnel's first
    /// bytes out of band (they never went through the reassembler, which can't be told).
    pending_skip: [u64; 2],
}

/// How much plaintext of an unknown protocol is watched for a STARTTLS switch, per side.
const MAX_STARTTLS_WATCH: u64 = 16 * 1024;

fn want(p: Progress) -> Want {
    match p {
        Progress::Continue => Want::More,
        Progress::Skip(n) => Want::Skip(n),
        Progress::Done | Progress::Violation(_) => Want::Done,
        Progress::Upgrade(_) => Want::More,
    }
}

impl StreamDispatch {
    pub fn detected(&self) -> Option<Protocol> {
        self.detected
    }

    pub fn tls(&self) -> Option<&TlsDecoder> {
        self.tls.as_deref()
    }

    pub fn http(&self) -> Option<&HttpDecoder> {
        self.http.as_deref()
    }

    pub fn violation(&self) -> Option<&'static str> {
        self.violation
    }

    /// Takes the decoded results out (at the end of the connection).
    pub fn take_results(&mut self) -> (Option<Box<TlsInfo>>, Vec<HttpTransaction>) {
        let tls = self.tls.take().map(|t| t.into_boxed_info());
        let http = self
            .http
            .take()
            .map(|h| h.into_transactions())
            .unwrap_or_default();
        (tls, http)
    }

    /// In-order bytes of one side.
    pub fn on_data(&mut self, env: &mut StreamEnv<'_>, ctx: &StreamCtx, data: &[u8]) -> Want {
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
                    buf.extend_from_slice(data);
                    return Want::More;
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
                        let first = StreamCtx {
                            offset: ctx.offset.saturating_sub(held.len() as u64),
                            ..*ctx
                        };
                        match self.deliver(env, &first, &held) {
                            Want::More => {}
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
    fn watch(&mut self, env: &mut StreamEnv<'_>, ctx: &StreamCtx, data: &[u8]) -> Want {
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
            return Want::Done;
        }
        if watched >= MAX_STARTTLS_WATCH {
            Want::Done
        } else {
            Want::More
        }
    }

    fn start(&mut self, p: Protocol, env: &StreamEnv<'_>) {
        match p {
            Protocol::Tls => {
                self.tls = Some(Box::new(TlsDecoder::new(env.tls)));
                self.active = Active::Tls;
            }
            Protocol::Http => {
                self.http = Some(Box::new(HttpDecoder::new()));
                self.active = Active::Http;
            }
            Protocol::Dns => {
                self.dns = Some(Box::new(DnsTcpDecoder::new()));
                self.active = Active::Dns;
            }
        }
    }

    fn deliver(&mut self, env: &mut StreamEnv<'_>, ctx: &StreamCtx, data: &[u8]) -> Want {
        let i = ctx.side.index();
        let pending = self.pending_skip.get(i).copied().unwrap_or(0);
        if pending > 0 && matches!(self.active, Active::Tls) {
            let n = usize::try_from(pending)
                .unwrap_or(usize::MAX)
                .min(data.len());
            let rest = data.get(n..).unwrap_or_default();
            let left = pending - n as u64;
            if let Some(p) = self.pending_skip.get_mut(i) {
                *p = left;
            }
            if rest.is_empty() {
                return if left > 0 {
                    Want::Skip(left)
                } else {
                    Want::More
                };
            }
            let c = StreamCtx {
                offset: ctx.offset + n as u64,
                ..*ctx
            };
            return self.deliver(env, &c, rest);
        }
        let progress = match self.active {
            Active::Tls => match self.tls.as_mut() {
                Some(t) => t.on_data(ctx, data),
                None => Progress::Done,
            },
            Active::Http => match self.http.as_mut() {
                Some(h) => h.on_data(ctx, data),
                None => Progress::Done,
            },
            Active::Dns => match self.dns.as_mut() {
                Some(d) => {
                    let p = d.on_data(ctx, data);
                    self.flush_dns(env);
                    p
                }
                None => Progress::Done,
            },
            Active::Probing | Active::Watch | Active::Off => return Want::Done,
        };
        self.after(env, ctx, progress)
    }

    fn after(&mut self, env: &mut StreamEnv<'_>, ctx: &StreamCtx, progress: Progress) -> Want {
        match progress {
            Progress::Upgrade(Protocol::Tls) => {
                self.tls = Some(Box::new(TlsDecoder::new(env.tls)));
                self.active = Active::Tls;
                // Bytes that followed the 2xx header in the same chunk belong to the tunnel.
                for side in [Side::Client, Side::Server] {
                    let left = self.http.as_mut().and_then(|h| h.take_leftover(side));
                    if let (Some(bytes), Some(t)) = (left, self.tls.as_mut())
                        && !bytes.is_empty()
                    {
                        let c = StreamCtx { side, ..*ctx };
                        if let Progress::Skip(n) = t.on_data(&c, &bytes)
                            && let Some(p) = self.pending_skip.get_mut(side.index())
                        {
                            *p = n;
                        }
                    }
                }
                Want::More
            }
            Progress::Upgrade(_) => {
                self.active = Active::Off;
                Want::Done
            }
            Progress::Violation(why) => {
                env.stats.anomaly("app_violation");
                self.violation = Some(why);
                self.active = Active::Off;
                Want::Done
            }
            p => want(p),
        }
    }

    fn flush_dns(&mut self, env: &mut StreamEnv<'_>) {
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

    pub fn on_gap(&mut self, env: &mut StreamEnv<'_>, ctx: &StreamCtx, len: u64) -> Want {
        let progress = match self.active {
            Active::Tls => self
                .tls
                .as_mut()
                .map_or(Progress::Done, |t| t.on_gap(ctx, len)),
            Active::Http => self
                .http
                .as_mut()
                .map_or(Progress::Done, |h| h.on_gap(ctx, len)),
            Active::Dns => self
                .dns
                .as_mut()
                .map_or(Progress::Done, |d| d.on_gap(ctx, len)),
            // A gap before anything was recognised: the stream's start is lost; probing the
            // bytes after it would misjudge them, so give up on this connection.
            Active::Probing | Active::Watch => {
                self.active = Active::Off;
                return Want::Done;
            }
            Active::Off => return Want::Done,
        };
        self.after(env, ctx, progress)
    }

    pub fn on_end(&mut self, env: &mut StreamEnv<'_>, ctx: &StreamCtx) {
        match self.active {
            Active::Tls => {
                if let Some(t) = self.tls.as_mut() {
                    t.on_end(ctx)
                }
            }
            Active::Http => {
                if let Some(h) = self.http.as_mut() {
                    h.on_end(ctx)
                }
            }
            Active::Dns => {
                if let Some(d) = self.dns.as_mut() {
                    d.on_end(ctx);
                }
                self.flush_dns(env);
            }
            Active::Probing | Active::Watch | Active::Off => {}
        }
    }
}
