//! Driving the guest's http.client from host code: one store and instance per session, the
//! guest's `connection` and `response` resources behind typed handles.
//! - `async_session`: [`AsyncClientSession`], the session itself, each call a future;
//! - `session`: [`ClientSession`], the same with each call waited for on the caller's thread;
//! - `types`: what the calls take and give.

mod async_session;
mod session;
mod types;

pub use async_session::AsyncClientSession;
pub use session::ClientSession;
pub use types::{ClientError, Connection, CookieJar, DebugOutput, HeaderList, Response, Result};
