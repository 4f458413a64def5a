//! Chunked transfer coding (RFC 9112 section 7.1), decoded byte by byte without buffering:
//! chunk sizes are accumulated as they are read, chunk data is skipped by length.

/// Where the decoder is inside a chunked body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChunkState {
    /// Reading a chunk-size line: hex digits so far, then extensions until the line end.
    Size { size: u64, digits: u8, in_ext: bool },
    /// Chunk data still to come.
    Data { remaining: u64 },
    /// The CRLF after chunk data.
    DataEnd { seen_cr: bool },
    /// Trailer section after the last (zero) chunk, ended by an empty line.
    Trailers { line_empty: bool },
}

impl ChunkState {
    pub const START: ChunkState = ChunkState::Size {
        size: 0,
        digits: 0,
        in_ext: false,
    };
}

/// Outcome of feeding framing bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChunkStep {
    /// Consumed this many bytes; the state moved on (call again with the rest).
    Consumed(usize),
    /// The body ended after this many bytes.
    Finished(usize),
    /// Not chunked coding.
    Invalid(&'static str),
}

/// Hex digits in a chunk size: 16 of them already exceed any real body (u64).
const MAX_SIZE_DIGITS: u8 = 16;

impl ChunkState {
    /// Consumes framing bytes (everything but chunk data, which the caller counts off by
    /// length) from the front of `data` until the state reaches `Data` or the body ends.
    pub fn step(&mut self, data: &[u8]) -> ChunkStep {
        for (i, &b) in data.iter().enumerate() {
            match self {
                ChunkState::Size {
                    size,
                    digits,
                    in_ext,
                } => match b {
                    b'\n' => {
                        if *digits == 0 {
                            // Some servers send an extra CRLF between chunks; a size line
                            // without digits is skipped rather than rejected.
                            if *in_ext {
                                return ChunkStep::Invalid("http: chunk size missing");
                            }
                            continue;
                        }
                        if *size == 0 {
                            *self = ChunkState::Trailers { line_empty: true };
                        } else {
                            *self = ChunkState::Data { remaining: *size };
                            return ChunkStep::Consumed(i + 1);
                        }
                    }
                    b'\r' => {}
                    _ if *in_ext => {}
                    b';' | b' ' | b'\t' => *in_ext = true,
                    _ => {
                        let Some(d) = (b as char).to_digit(16) else {
                            return ChunkStep::Invalid("http: invalid chunk size");
                        };
                        if *digits >= MAX_SIZE_DIGITS {
                            return ChunkStep::Invalid("http: chunk size too large");
                        }
                        *size = (*size << 4) | u64::from(d);
                        *digits += 1;
                    }
                },
                ChunkState::Data { .. } => return ChunkStep::Consumed(i),
                ChunkState::DataEnd { seen_cr } => match b {
                    b'\r' if !*seen_cr => *seen_cr = true,
                    b'\n' => *self = ChunkState::START,
                    _ => return ChunkStep::Invalid("http: chunk data not followed by CRLF"),
                },
                ChunkState::Trailers { line_empty } => match b {
                    b'\n' => {
                        if *line_empty {
                            *self = ChunkState::START;
                            return ChunkStep::Finished(i + 1);
                        }
                        *line_empty = true;
                    }
                    b'\r' => {}
                    _ => *line_empty = false,
                },
            }
        }
        ChunkStep::Consumed(data.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a whole body through `step`, counting data bytes; returns (data bytes, end).
    fn run(body: &[u8]) -> (u64, Option<usize>) {
        let mut st = ChunkState::START;
        let mut pos = 0usize;
        let mut data = 0u64;
        while pos < body.len() {
            if let ChunkState::Data { remaining } = st {
                let n = remaining.min((body.len() - pos) as u64);
                data += n;
                pos += n as usize;
                st = if n == remaining {
                    ChunkState::DataEnd { seen_cr: false }
                } else {
                    ChunkState::Data {
                        remaining: remaining - n,
                    }
                };
                continue;
            }
            match st.step(&body[pos..]) {
                ChunkStep::Consumed(n) => pos += n,
                ChunkStep::Finished(n) => return (data, Some(pos + n)),
                ChunkStep::Invalid(r) => panic!("{r}"),
            }
        }
        (data, None)
    }

    #[test]
    fn sizes_extensions_trailers() {
        let body = b"5;name=v\r\nhello\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        assert_eq!(run(body), (15, Some(body.len() - 4)));
    }

    #[test]
    fn bare_lf_and_extra_crlf() {
        let body = b"3\nabc\n\r\n0\n\n";
        assert_eq!(run(body), (3, Some(body.len())));
    }

    #[test]
    fn rejects_garbage() {
        let mut st = ChunkState::START;
        assert!(matches!(st.step(b"zz\r\n"), ChunkStep::Invalid(_)));
        let mut st = ChunkState::START;
        assert!(matches!(
            st.step(b"11111111111111111\r\n"),
            ChunkStep::Invalid(_)
        ));
    }
}
