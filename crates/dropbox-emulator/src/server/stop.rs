//! How a step of an API request ends it early: with an answer, or by dropping the connection.

use crate::wire::{ApiError, Body};
use http::Response;

/// How a step ends a request early: with an answer, or by dropping the connection.
pub(super) enum Stop {
    /// Send this answer.
    Answer(Box<Response<Body>>),
    /// Drop the connection (see [`super::Dropped`]).
    Drop,
}

impl Stop {
    /// End with `r`.
    pub(super) fn answer(r: Response<Body>) -> Stop {
        Stop::Answer(Box::new(r))
    }
}

impl From<ApiError> for Stop {
    fn from(e: ApiError) -> Stop {
        Stop::answer(e.into_response())
    }
}
