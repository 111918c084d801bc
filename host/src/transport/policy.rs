//! What a guest may connect to, and the audit events it raises (`http.client.connect`, `http.client.send`).

use crate::bindings::transport::ErrorCode;
use std::sync::Arc;

/// Called for every audit event; an `Err` refuses the operation with that reason.
pub type AuditHook = Arc<dyn Fn(&str, &[String]) -> Result<(), String> + Send + Sync>;

/// The embedder's rules for outbound connections.
#[derive(Clone, Default)]
pub struct OutboundPolicy {
    /// `None` allows every destination; otherwise only `host:port` entries listed
    /// (`host:*` for any port of that host).
    pub allow: Option<Vec<String>>,
    /// The audit hook; none allows every event.
    pub audit: Option<AuditHook>,
}

impl OutboundPolicy {
    /// Everything allowed (the command line's policy).
    pub fn allow_all() -> Self {
        Self::default()
    }

    /// Only the listed `host:port` / `host:*` destinations.
    pub fn allow_only(entries: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            allow: Some(entries.into_iter().map(Into::into).collect()),
            audit: None,
        }
    }

    pub fn check_outbound(&self, host: &str, port: u16) -> Result<(), ErrorCode> {
        let Some(allow) = &self.allow else {
            return Ok(());
        };
        let exact = format!("{host}:{port}");
        let any_port = format!("{host}:*");
        if allow
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&exact) || a.eq_ignore_ascii_case(&any_port))
        {
            Ok(())
        } else {
            Err(ErrorCode::Denied(format!("connection to {exact} is not allowed")))
        }
    }

    pub fn audit(&self, event: &str, args: &[String]) -> Result<(), ErrorCode> {
        tracing::debug!(event, ?args, "audit");
        match &self.audit {
            Some(hook) => hook(event, args).map_err(ErrorCode::Denied),
            None => Ok(()),
        }
    }
}
