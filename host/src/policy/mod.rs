//! The destination policy: where a guest's sockets may go, checked against where they really
//! go. The host resolves each name itself, checks every address it resolved to, and connects
//! only to addresses it checked (no second lookup); a tunnel's target is checked before a
//! byte reaches the proxy. The audit hook sees each event with the address it is about.
//!
//! Rules (see [`Rule`]): `https://*.example.com`, `http://127.0.0.1:8080`, `localhost:*`,
//! `10.0.0.0/8`. A wildcard never grants a loopback, link-local, private, unspecified,
//! multicast or reserved address: only a rule naming that address, its name, or a range at
//! least as narrow does. IP literals are compared as addresses, however they are spelled.
//!
//! Audit events (the hook may veto each by returning `Err(reason)`):
//! - `http.client.connect`, raised by the host before each connection attempt:
//!   `[host, port, address, "tls" | "plain"]` (address without brackets).
//! - `http.client.tunnel`, raised by the host before a connection to a proxy that will be
//!   asked to tunnel: `[proxy host, proxy port, target host, target port, "tls" | "plain"]`.
//! - `http.client.send`, raised by the guest as each request goes out:
//!   `[method, target, host, port]`.

mod address;
mod rule;
mod special;

pub use address::Host;
pub use rule::{Rule, Scheme};
pub use special::{SpecialRange, special_range};

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

/// Called for every audit event; an `Err` refuses the operation with that reason.
pub type AuditHook = Arc<dyn Fn(&str, &[String]) -> Result<(), String> + Send + Sync>;

/// Why the policy refused, or could not check, a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// The policy or the audit hook refused it; the reason in words.
    Denied(String),
    /// The name did not resolve, so there was nothing to check or connect to.
    Unresolvable(String),
}

/// An embedder's rules for outbound connections, and its audit hook.
#[derive(Clone)]
pub struct OutboundPolicy {
    /// None allows every destination (the command line's policy, as curl's).
    rules: Option<Vec<Rule>>,
    audit: Option<AuditHook>,
}

impl Default for OutboundPolicy {
    /// Nothing is reachable: an embedder grants what its plugins may reach.
    fn default() -> Self {
        Self::deny_all()
    }
}

impl std::fmt::Debug for OutboundPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundPolicy")
            .field("rules", &self.rules)
            .field("audit", &self.audit.is_some())
            .finish()
    }
}

impl OutboundPolicy {
    /// Every destination allowed, special addresses included (the `get`/`request` command
    /// line's policy, as curl's).
    pub fn allow_all() -> Self {
        Self {
            rules: None,
            audit: None,
        }
    }

    /// Nothing allowed (the default).
    pub fn deny_all() -> Self {
        Self {
            rules: Some(Vec::new()),
            audit: None,
        }
    }

    /// Only what the rules grant (see [`Rule`] for their form); an error names a bad rule.
    pub fn allow(rules: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Self, String> {
        let rules = rules
            .into_iter()
            .map(|r| r.as_ref().parse::<Rule>())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            rules: Some(rules),
            audit: None,
        })
    }

    /// Only what the rules grant; panics on a bad rule (for rules written in code).
    pub fn allow_only(rules: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        Self::allow(rules).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The same policy, with `hook` called for every audit event.
    pub fn with_audit(mut self, hook: AuditHook) -> Self {
        self.audit = Some(hook);
        self
    }

    /// The addresses a connection to `host:port` may try, in the resolver's order: the name
    /// resolved once, here, and only the addresses some rule grants.
    pub fn destinations(&self, host: &str, port: u16, scheme: Scheme) -> Result<Vec<SocketAddr>, PolicyError> {
        let parsed = Host::parse(host);
        let Some(rules) = &self.rules else {
            return resolve(&parsed, port);
        };
        if let Some(why) = refused_unresolved(rules, &parsed, port, scheme) {
            return Err(PolicyError::Denied(why));
        }
        let resolved = resolve(&parsed, port)?;
        let allowed: Vec<SocketAddr> = resolved
            .iter()
            .copied()
            .filter(|a| rules.iter().any(|r| r.grants(&parsed, a.ip(), port, scheme)))
            .collect();
        if allowed.is_empty() {
            return Err(PolicyError::Denied(refusal(&parsed, port, scheme, &resolved)));
        }
        Ok(allowed)
    }

    /// Check the target of a CONNECT tunnel (the proxy was checked as a connection of its
    /// own): granted when a rule names the target itself; otherwise it is resolved here and
    /// every address it resolves to must be granted (the proxy may pick any of them).
    pub fn check_tunnel(&self, host: &str, port: u16, scheme: Scheme) -> Result<(), PolicyError> {
        let Some(rules) = &self.rules else {
            return Ok(());
        };
        let parsed = Host::parse(host);
        if rules.iter().any(|r| r.names(&parsed, port, scheme)) {
            return Ok(());
        }
        if let Some(why) = refused_unresolved(rules, &parsed, port, scheme) {
            return Err(PolicyError::Denied(format!("tunnel {why}")));
        }
        let resolved = resolve(&parsed, port)?;
        let all_granted = resolved
            .iter()
            .all(|a| rules.iter().any(|r| r.grants(&parsed, a.ip(), port, scheme)));
        match all_granted {
            true => Ok(()),
            false => Err(PolicyError::Denied(format!(
                "tunnel {}",
                refusal(&parsed, port, scheme, &resolved)
            ))),
        }
    }

    /// Raise an audit event: logged, then put to the embedder's hook, which may refuse it.
    pub fn audit(&self, event: &str, args: &[String]) -> Result<(), PolicyError> {
        tracing::debug!(event, ?args, "audit");
        match &self.audit {
            Some(hook) => hook(event, args).map_err(|why| PolicyError::Denied(format!("{event}: {why}"))),
            None => Ok(()),
        }
    }
}

/// Why a name no rule could grant is refused before it is resolved: the policy sends no DNS
/// query for it (a plugin under a deny-all policy cannot reach the resolver with names of
/// its choosing, and is told it was denied, not that the name does not resolve).
fn refused_unresolved(rules: &[Rule], host: &Host, port: u16, scheme: Scheme) -> Option<String> {
    let name = matches!(host, Host::Name(_));
    (name && !rules.iter().any(|r| r.may_grant(host, port, scheme))).then(|| {
        format!(
            "connection to {}://{}:{port} is not allowed by the policy",
            scheme.as_str(),
            host.display()
        )
    })
}

/// `host` resolved (a literal is its own address).
fn resolve(host: &Host, port: u16) -> Result<Vec<SocketAddr>, PolicyError> {
    let addrs: Vec<SocketAddr> = match host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, port)],
        Host::Name(name) => (name.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| PolicyError::Unresolvable(format!("{name}: {e}")))?
            .map(|a| SocketAddr::new(address::canonical(a.ip()), a.port()))
            .collect(),
    };
    if addrs.is_empty() {
        return Err(PolicyError::Unresolvable(host.display()));
    }
    Ok(addrs)
}

/// "connection to https://localhost:8080 (127.0.0.1, a loopback address) is not allowed".
fn refusal(host: &Host, port: u16, scheme: Scheme, resolved: &[SocketAddr]) -> String {
    let describe = |ip: IpAddr| match special_range(ip) {
        Some(special) => format!("{ip}, {}", special.name),
        None => ip.to_string(),
    };
    let addresses: Vec<String> = resolved.iter().map(|a| describe(a.ip())).collect();
    let target = format!("{}://{}:{port}", scheme.as_str(), host.display());
    match host {
        Host::Ip(_) => format!(
            "connection to {target} ({}) is not allowed by the policy",
            addresses.join("; ")
        ),
        Host::Name(_) => format!(
            "connection to {target} (resolved to {}) is not allowed by the policy",
            addresses.join("; ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_checked_as_addresses_and_names_after_resolving() {
        let p = OutboundPolicy::allow_only(["http://localhost:8080"]);
        let ok = p.destinations("localhost", 8080, Scheme::Http).unwrap();
        assert!(ok.iter().all(|a| a.ip().is_loopback() && a.port() == 8080));
        for spelling in ["127.0.0.1", "127.1", "2130706433", "0x7f.0.0.1", "[::ffff:127.0.0.1]"] {
            match p.destinations(spelling, 8080, Scheme::Http) {
                Err(PolicyError::Denied(m)) => assert!(m.contains("127.0.0.1, loopback"), "{m}"),
                other => panic!("{spelling}: {other:?}"),
            }
        }
        let wildcard = OutboundPolicy::allow_only(["*:*"]);
        assert!(matches!(
            wildcard.destinations("localhost", 8080, Scheme::Http),
            Err(PolicyError::Denied(_))
        ));
        assert!(matches!(
            OutboundPolicy::default().destinations("127.0.0.1", 1, Scheme::Http),
            Err(PolicyError::Denied(_))
        ));
        assert!(
            OutboundPolicy::allow_all()
                .destinations("127.1", 1, Scheme::Http)
                .is_ok()
        );
    }

    #[test]
    fn a_name_no_rule_could_grant_is_denied_without_a_lookup() {
        // `.invalid` never resolves (RFC 6761): Denied here means no lookup was made.
        let name = "no-such-host.invalid";
        for policy in [
            OutboundPolicy::deny_all(),
            OutboundPolicy::allow_only(["https://*.example.com", "http://other.test:80"]),
        ] {
            match policy.destinations(name, 80, Scheme::Http) {
                Err(PolicyError::Denied(m)) => {
                    assert_eq!(
                        m,
                        "connection to http://no-such-host.invalid:80 is not allowed by the policy"
                    )
                }
                other => panic!("{other:?}"),
            }
            assert!(matches!(
                policy.check_tunnel(name, 443, Scheme::Https),
                Err(PolicyError::Denied(m)) if m.starts_with("tunnel connection to https://")
            ));
        }
        // A rule for an address, a range or `*` may match whatever the name resolves to.
        for rule in ["10.0.0.0/8", "http://*:*", "127.0.0.1:80"] {
            let p = OutboundPolicy::allow_only([rule]);
            assert!(
                matches!(
                    p.destinations(name, 80, Scheme::Http),
                    Err(PolicyError::Unresolvable(_))
                ),
                "{rule}"
            );
        }
    }

    #[test]
    fn tunnels_are_checked_like_connections() {
        let p = OutboundPolicy::allow_only(["http://127.0.0.1:3128", "https://*:443", "https://localhost:8443"]);
        assert!(p.check_tunnel("169.254.169.254", 80, Scheme::Http).is_err());
        assert!(p.check_tunnel("169.254.169.254", 443, Scheme::Https).is_err());
        assert!(p.check_tunnel("0xa9fea9fe", 443, Scheme::Https).is_err());
        assert!(p.check_tunnel("localhost", 443, Scheme::Https).is_err());
        assert!(p.check_tunnel("93.184.216.34", 443, Scheme::Https).is_ok());
        assert!(p.check_tunnel("localhost", 8443, Scheme::Https).is_ok());
        assert!(p.check_tunnel("localhost.", 8443, Scheme::Https).is_ok());
    }
}
