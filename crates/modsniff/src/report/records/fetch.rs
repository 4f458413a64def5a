//! The `fetch` record: one HTTP(S) request of the go command, from its `-x` trace, and the
//! connection that carried it.

use super::fleet::Fleet;
use super::values::{RecordVersion, Secs};
use super::write::{json_enum, json_object};
use crate::go::trace::Outcome;
use crate::join::{self, JoinedFetch};
use modsniff_core::Duration;

json_object! {
    /// One fetch the go command traced with `-x` (`# get URL` when it starts, `# get URL:
    /// 200 OK (0.012s)` or `# get URL: <error>` when it ends), and the connection that
    /// carried it. `modsniff run` (which asks go for `-x`) and `read --go-stderr` print them
    /// at the end of the run, in the order go started them, before the findings.
    pub struct FetchRecord<'a> {
        pub record_version: RecordVersion,
        /// The fleet fields (`live`, `run`; `read --fleet`); left out otherwise.
        #[flatten]
        pub fleet: Option<Fleet<'a>>,
        /// Its place among go's fetches, in the order go started them (0-based).
        pub order: u64,
        /// The URL as go printed it (a password shows as `xxxxx`).
        pub url: &'a str,
        pub outcome: FetchOutcome,
        /// The HTTP status (`outcome: status`).
        pub status: Option<u16>,
        /// The status text as the server sent it (`Not Found`).
        #[omit]
        pub status_text: Option<&'a str>,
        /// What go printed instead of a status (`outcome: error` or `not-allowed`).
        pub error: Option<&'a str>,
        /// The time go measured, from the start to the response headers.
        pub seconds: Option<Secs>,
        /// When go printed the start and the end, by the clock the packets are stamped with
        /// (`modsniff run`; a saved stderr has no times).
        #[omit]
        pub ts_start: Option<Secs>,
        #[omit]
        pub ts_end: Option<Secs>,
        /// The `connection` record that carried it; `null` when none could be matched.
        pub connection: Option<u64>,
        /// The `dns` record (its `id`) of the lookup that failed it.
        #[omit]
        pub dns: Option<u64>,
        /// How the connection (or the lookup) was matched; `null` when none was.
        pub matched_by: Option<MatchedBy>,
        /// It failed, and go got what it wanted anyway (from the next GOPROXY entry, on a
        /// retry, or go succeeded).
        #[omit]
        pub recovered: bool,
    }
}

json_enum! {
    /// How the fetch ended: a response (`status`), an error instead of one, a fetch go
    /// refused to make (`insecure`), or no end line (go was killed).
    pub enum FetchOutcome {
        Status = "status",
        Error = "error",
        NotAllowed = "not-allowed",
        Unfinished = "unfinished",
    }
}

json_enum! {
    /// How a fetch was matched to its connection: the request itself seen in clear, the
    /// CONNECT that tunnelled it, the address go dialled (or was reset on), the server name
    /// (SNI, Host, DNS) and port, or the failed lookup.
    pub enum MatchedBy from join::MatchedBy {
        Request = "request",
        Connect = "connect",
        Address = "address",
        Name = "name",
        Dns = "dns",
    }
}

impl<'a> From<&'a JoinedFetch> for FetchRecord<'a> {
    fn from(j: &'a JoinedFetch) -> Self {
        let JoinedFetch {
            fetch,
            connection,
            dns,
            matched_by,
            recovered,
        } = j;
        let crate::go::trace::Fetch {
            url,
            order,
            start_line: _,
            end_line: _,
            outcome,
            seconds,
            start_ts,
            end_ts,
        } = fetch;
        let (kind, status, status_text, error) = match outcome {
            Outcome::Status { code, text } => (
                FetchOutcome::Status,
                Some(*code),
                (!text.is_empty()).then_some(text.as_str()),
                None,
            ),
            Outcome::Error { message, .. } => {
                (FetchOutcome::Error, None, None, Some(message.as_str()))
            }
            Outcome::NotAllowed { reason } => {
                (FetchOutcome::NotAllowed, None, None, Some(reason.as_str()))
            }
            Outcome::Unfinished => (FetchOutcome::Unfinished, None, None, None),
        };
        FetchRecord {
            record_version: RecordVersion,
            fleet: None,
            order: *order as u64,
            url,
            outcome: kind,
            status,
            status_text,
            error,
            seconds: seconds
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| Duration::from_nanos((s * 1e9).round() as u64).into()),
            ts_start: start_ts.map(Secs::from),
            ts_end: end_ts.map(Secs::from),
            connection: *connection,
            dns: *dns,
            matched_by: matched_by.as_ref().map(MatchedBy::from),
            recovered: *recovered,
        }
    }
}
