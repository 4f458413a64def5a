//! What can go wrong turning an expression into a filter.

use std::fmt;

/// Where in the expression text something is: a byte range (the expression is ASCII in
/// practice, so bytes are columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte; equal to `start` for "at the end of the expression".
    pub end: usize,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// From the start of `self` to the end of `other`.
    pub(crate) fn to(self, other: Span) -> Span {
        Span::new(self.start, other.end.max(self.start))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}", self.start + 1)
    }
}

/// Why an expression was refused. The messages follow libpcap's where libpcap has one
/// ("illegal port number 99999 > 65535", "no VLAN support for Linux cooked v1"), and say
/// where the problem is, which libpcap does not.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// The words do not follow the grammar (tcpdump: "syntax error in filter expression").
    #[error("syntax error in filter expression: {message} at {span}")]
    Syntax {
        /// What was expected or found.
        message: String,
        /// Where.
        span: Span,
    },
    /// Grammatical but meaningless: a port above 65535, host bits in a network, an unknown
    /// host name.
    #[error("{message} at {span}")]
    Invalid {
        /// libpcap's wording where it has one.
        message: String,
        /// Where.
        span: Span,
    },
    /// Part of tcpdump's language this filter does not implement (`mpls`, `gateway`,
    /// `tcp[13] & 2 != 0`, ...).
    #[error("{what} is not supported by modsniff's filter at {span}")]
    Unsupported {
        /// The construct, quoted.
        what: String,
        /// Where.
        span: Span,
    },
    /// The expression cannot look into frames of this link type (as libpcap refuses to
    /// compile it for that link type).
    #[error("{message}")]
    LinkType {
        /// libpcap's wording.
        message: String,
        /// The LINKTYPE_* value.
        link_type: u32,
    },
}

impl FilterError {
    /// Where in the expression the problem is (none for a link-type refusal).
    pub fn span(&self) -> Option<Span> {
        match self {
            FilterError::Syntax { span, .. }
            | FilterError::Invalid { span, .. }
            | FilterError::Unsupported { span, .. } => Some(*span),
            FilterError::LinkType { .. } => None,
        }
    }

    /// The expression with a caret line under the problem, for people:
    ///
    /// ```text
    /// tcp port 99999
    ///          ^^^^^
    /// ```
    pub fn pointer(&self, expression: &str) -> Option<String> {
        let span = self.span()?;
        let start = span.start.min(expression.len());
        let width = span.end.saturating_sub(span.start).max(1);
        let pad: String = expression
            .get(..start)
            .unwrap_or("")
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        Some(format!("{expression}\n{pad}{}", "^".repeat(width)))
    }

    pub(crate) fn syntax(message: impl Into<String>, span: Span) -> FilterError {
        FilterError::Syntax {
            message: message.into(),
            span,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>, span: Span) -> FilterError {
        FilterError::Invalid {
            message: message.into(),
            span,
        }
    }

    pub(crate) fn unsupported(what: impl Into<String>, span: Span) -> FilterError {
        FilterError::Unsupported {
            what: what.into(),
            span,
        }
    }
}
