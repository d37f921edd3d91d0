//! The retry decision, as one pure function of what happened and what the request is
//! (DESIGN.md §1 Retries):
//!
//! | what happened                                        | retried when                          |
//! |------------------------------------------------------|---------------------------------------|
//! | nothing of the request was written                   | always                                |
//! | a reused connection closed before a response began   | idempotent (or `Idempotency-Key`) and replayable |
//! | a `408 Request Timeout` response                     | replayable, once                      |
//! | an HTTP/2 stream refused, or above a GOAWAY's last id | replayable, up to 3 times             |
//! | a fresh connection closed, or a response had begun   | never                                 |
//!
//! Every retry but a refused stream's also needs a retry left (`max_retries`): the server
//! said it did not process a refused stream (RFC 9113 §8.7), so that retry is safe
//! whatever the method, and bounded on its own only against a server that refuses
//! forever. The caller retries on a fresh connection, never on another idle one.

/// How an attempt failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The connection failed before any byte of the request was written.
    NothingWritten,
    /// EOF or reset after (part of) the request was written and before any response byte.
    ClosedBeforeResponse,
    /// The server answered `408 Request Timeout`.
    Status408,
    /// The server did not process it: an HTTP/2 stream refused (`REFUSED_STREAM`) or
    /// above the last stream id of a GOAWAY.
    Refused,
    /// Anything else: a response had begun, a protocol error, a timeout.
    Other,
}

/// Why a request was retried (also a statistics counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryCause {
    NothingWritten,
    CloseRace,
    RequestTimeout408,
    Refused,
}

/// Retries of refused streams one request may make.
pub(crate) const MAX_REFUSED_RETRIES: u32 = 3;

/// The facts about the request and the attempt that the decision needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt {
    /// The connection served earlier requests.
    pub reused: bool,
    /// The method is idempotent or the request carries `Idempotency-Key`.
    pub idempotent: bool,
    /// The body can be sent again (no body, or bytes held in memory).
    pub replayable: bool,
    /// Retries already made for this request.
    pub retries: u32,
    /// Retries allowed.
    pub max_retries: u32,
    /// A 408 already caused a retry of this request.
    pub retried_408: bool,
    /// Retries made after refused streams.
    pub refused: u32,
}

/// Whether to retry, and why.
pub(crate) fn should_retry(failure: Failure, attempt: Attempt) -> Option<RetryCause> {
    if failure == Failure::Refused {
        return (attempt.replayable && attempt.refused < MAX_REFUSED_RETRIES)
            .then_some(RetryCause::Refused);
    }
    if attempt.retries >= attempt.max_retries {
        return None;
    }
    match failure {
        Failure::NothingWritten => Some(RetryCause::NothingWritten),
        Failure::ClosedBeforeResponse
            if attempt.reused && attempt.idempotent && attempt.replayable =>
        {
            Some(RetryCause::CloseRace)
        }
        Failure::Status408 if attempt.replayable && !attempt.retried_408 => {
            Some(RetryCause::RequestTimeout408)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get_on_reused() -> Attempt {
        Attempt {
            reused: true,
            idempotent: true,
            replayable: true,
            retries: 0,
            max_retries: 2,
            retried_408: false,
            refused: 0,
        }
    }

    #[test]
    fn a_refused_stream_is_retried_whatever_the_method_and_the_retries_spent() {
        let post = Attempt {
            idempotent: false,
            reused: false,
            retries: 2,
            ..get_on_reused()
        };
        assert_eq!(
            should_retry(Failure::Refused, post),
            Some(RetryCause::Refused)
        );
        let stream = Attempt {
            replayable: false,
            ..post
        };
        assert_eq!(should_retry(Failure::Refused, stream), None);
        let refused_enough = Attempt {
            refused: MAX_REFUSED_RETRIES,
            ..post
        };
        assert_eq!(should_retry(Failure::Refused, refused_enough), None);
    }

    #[test]
    fn nothing_written_is_always_retried() {
        let post_fresh = Attempt {
            reused: false,
            idempotent: false,
            replayable: false,
            ..get_on_reused()
        };
        assert_eq!(
            should_retry(Failure::NothingWritten, post_fresh),
            Some(RetryCause::NothingWritten)
        );
    }

    #[test]
    fn close_race_retries_only_idempotent_replayable_requests_on_reused_connections() {
        let a = get_on_reused();
        assert_eq!(
            should_retry(Failure::ClosedBeforeResponse, a),
            Some(RetryCause::CloseRace)
        );
        let post = Attempt {
            idempotent: false,
            ..a
        };
        assert_eq!(should_retry(Failure::ClosedBeforeResponse, post), None);
        let stream = Attempt {
            replayable: false,
            ..a
        };
        assert_eq!(should_retry(Failure::ClosedBeforeResponse, stream), None);
        let fresh = Attempt { reused: false, ..a };
        assert_eq!(should_retry(Failure::ClosedBeforeResponse, fresh), None);
    }

    #[test]
    fn a_408_is_retried_once_whatever_the_method() {
        let post = Attempt {
            idempotent: false,
            ..get_on_reused()
        };
        assert_eq!(
            should_retry(Failure::Status408, post),
            Some(RetryCause::RequestTimeout408)
        );
        let again = Attempt {
            retried_408: true,
            retries: 1,
            ..post
        };
        assert_eq!(should_retry(Failure::Status408, again), None);
        let stream = Attempt {
            replayable: false,
            ..post
        };
        assert_eq!(should_retry(Failure::Status408, stream), None);
    }

    #[test]
    fn retries_are_bounded() {
        let spent = Attempt {
            retries: 2,
            ..get_on_reused()
        };
        assert_eq!(should_retry(Failure::NothingWritten, spent), None);
        assert_eq!(should_retry(Failure::ClosedBeforeResponse, spent), None);
    }

    #[test]
    fn other_failures_are_never_retried() {
        assert_eq!(should_retry(Failure::Other, get_on_reused()), None);
    }
}
