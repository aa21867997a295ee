//! The client's address behind trusted proxies (`[gateway] trusted_proxies`): what the per-address
//! limits (token endpoint failures, job boards) count by. Behind an ingress every connection comes
//! from the ingress, so counting by the peer would put every visitor in one bucket; a forwarded
//! address is believed only from a proxy the operator named, or any client could pick its own.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;

/// The address a request came from as a trusted proxy reported it (`X-Forwarded-For`), set by
/// `server::serve` only when the peer is one of `[gateway] trusted_proxies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardedFor(pub IpAddr);

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

/// Hops of `X-Forwarded-For` read at most (from the right): a longer header is not walked.
const MAX_HOPS: usize = 16;

impl TrustedProxies {
    /// `10.0.0.0/8`, `192.168.1.7` or `fd00::/8` entries; the problem names the first bad one.
    pub fn parse(list: &[String]) -> Result<Self, String> {
        list.iter()
            .map(|s| {
                let s = s.trim();
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{s}` is not an address or a CIDR range"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client's address when `peer` is a trusted proxy: the right-most `X-Forwarded-For` hop
    /// that is not itself trusted (each proxy appends the address it was reached from, so hops
    /// left of the first untrusted one are the client's own claims). `None` when the peer is not
    /// trusted or names nobody.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> Option<IpAddr> {
        if !self.trusts(peer) {
            return None;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = None;
        for hop in hops.iter().rev().take(MAX_HOPS) {
            // An unreadable hop ends the walk: what is left of it cannot be placed.
            let Some(ip) = parse_hop(hop) else { break };
            client = Some(ip.to_canonical());
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// `203.0.113.7`, `2001:db8::1`, or either with a port (`203.0.113.7:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// The client's address: as a trusted proxy forwarded it, else the peer's (absent on servers that
/// set no `ConnectInfo`, e.g. in unit tests).
pub fn client_ip(ext: &Extensions) -> Option<IpAddr> {
    if let Some(ForwardedFor(ip)) = ext.get::<ForwardedFor>() {
        return Some(*ip);
    }
    ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn a_forwarded_address_is_believed_only_from_a_trusted_proxy() {
        let t = TrustedProxies::parse(&["10.0.0.0/8".into(), "192.0.2.1".into()]).expect("list");
        let h = xff(&["198.51.100.9"]);
        assert_eq!(t.client(ip("10.1.2.3"), &h), Some(ip("198.51.100.9")));
        assert_eq!(t.client(ip("203.0.113.5"), &h), None, "not a proxy");
        // A client's own claim left of the first untrusted hop is not believed.
        let spoofed = xff(&["1.2.3.4, 198.51.100.9, 10.9.9.9"]);
        assert_eq!(t.client(ip("10.1.2.3"), &spoofed), Some(ip("198.51.100.9")));
        // Several header lines are one list; ports and IPv6 are read.
        let lines = xff(&["1.2.3.4", "[2001:db8::7]:4711"]);
        assert_eq!(t.client(ip("192.0.2.1"), &lines), Some(ip("2001:db8::7")));
        // An IPv4-mapped peer is its IPv4 address.
        assert_eq!(
            t.client(ip("::ffff:10.0.0.1"), &h),
            Some(ip("198.51.100.9"))
        );
        // Nobody named, or an unreadable right-most hop: no forwarded address.
        assert_eq!(t.client(ip("10.1.2.3"), &HeaderMap::new()), None);
        assert_eq!(t.client(ip("10.1.2.3"), &xff(&["1.2.3.4, junk"])), None);
    }

    #[test]
    fn a_bad_entry_is_named() {
        let err =
            TrustedProxies::parse(&["10.0.0.0/8".into(), "10.0.0.0/33".into()]).expect_err("bad");
        assert!(err.contains("10.0.0.0/33"), "{err}");
        assert!(TrustedProxies::parse(&[]).expect("empty").is_empty());
    }
}
