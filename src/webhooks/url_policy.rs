//! Where the gateway may send deliveries. A partner chooses the URL, so without a policy a
//! subscription could make the gateway call into its own network (SSRF). Production: `https` only,
//! and every address the host resolves to must be public: checked when subscribing, and again at
//! every connection by [`PublicOnlyResolver`] (a host that resolved to a public address at creation
//! and to a private one now, DNS rebinding, is refused at delivery). The sandbox switch
//! (`webhooks.allow_private_urls`) accepts `http` and private addresses. The lookup made when
//! subscribing is bounded ([`Lookups`]): the system resolver holds a blocking thread until it gives
//! up, so unbounded lookups of names whose DNS server never answers would starve the blocking pool
//! the SQLite state store runs on. Deliveries' lookups are bounded the same way (in time, and 32 in
//! flight).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::Semaphore;
use url::{Host, Url};

/// Longest URL accepted, in characters (the OpenAPI document's `maxLength`): as written, and as
/// stored (the parsed URL serialized, percent-encoded), which every delivery checks again.
pub const MAX_URL_LEN: usize = 2048;

/// How an accepted URL starts, as the OpenAPI document's `pattern` says it (`check_shape` holds
/// more: no spaces, a host, no credentials).
pub const URL_PATTERN: &str = "^[Hh][Tt][Tt][Pp][Ss]?://";

#[derive(Debug, Clone, Copy)]
pub struct UrlPolicy {
    pub allow_private: bool,
}

impl UrlPolicy {
    /// The URL's shape (no DNS): scheme, host, no credentials or fragment, the length as written
    /// and as serialized; an IP-literal host is checked here too. Returns the parsed URL or the
    /// partner-facing reason. What it accepts is stored as `url.as_str()`, which passes it again.
    pub fn check_shape(&self, raw: &str) -> Result<Url, String> {
        if raw.chars().count() > MAX_URL_LEN {
            return Err(format!("must be at most {MAX_URL_LEN} characters"));
        }
        // Judged as written, not as a browser would repair it: `Url::parse` drops surrounding
        // spaces and any tab or newline and takes `https:host` for `https://host`, which the
        // documented pattern (`^https?://`, no spaces) refuses.
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain spaces or control characters".into());
        }
        let starts = |p: &str| {
            raw.as_bytes()
                .get(..p.len())
                .is_some_and(|b| b.eq_ignore_ascii_case(p.as_bytes()))
        };
        if !starts("https://") && !starts("http://") {
            return Err("must start with https://".into());
        }
        let url = Url::parse(raw).map_err(|e| format!("is not an absolute URL ({e})"))?;
        // The serialized form is what is stored, returned and checked at every delivery; it can be
        // longer than the text (`{` becomes `%7B`, `é` `%C3%A9`, an IDN host punycode). It is
        // ASCII, so bytes are characters.
        let stored = url.as_str().len();
        if stored > MAX_URL_LEN {
            return Err(format!(
                "must be at most {MAX_URL_LEN} characters once percent-encoded as the gateway stores it (`{{` counts as `%7B`); this one is {stored}"
            ));
        }
        match url.scheme() {
            "https" => {}
            "http" if self.allow_private => {}
            "http" => return Err("must use https".into()),
            _ => return Err("must be an https URL".into()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials (user:password@); authenticate deliveries by their signature".into());
        }
        if url.fragment().is_some() {
            return Err("must not have a #fragment".into());
        }
        match url.host() {
            None => return Err("must name a host".into()),
            Some(Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip))?,
            Some(Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip))?,
            Some(Host::Domain(_)) => {}
        }
        Ok(url)
    }

    /// The URL's shape and every address its host resolves to now, looked up within
    /// [`LOOKUP_TIMEOUT`] among `partner`'s share of `lookups`.
    pub async fn check(&self, raw: &str, lookups: &Lookups, partner: &str) -> Result<Url, String> {
        let url = self.check_shape(raw)?;
        if let Some(Host::Domain(host)) = url.host() {
            let port = url.port_or_known_default().unwrap_or(443);
            // One answer whether the name does not resolve (in time) or resolves to a private
            // address: two answers would let a partner probe the gateway's internal DNS.
            let refused = || {
                format!("host `{host}` must resolve within {} s, and only to public addresses (private, loopback, link-local and reserved addresses are refused)", LOOKUP_TIMEOUT.as_secs())
            };
            let addrs = lookups
                .lookup(partner, host, port)
                .await
                .ok_or_else(refused)?;
            if addrs.is_empty() || addrs.iter().any(|a| self.check_ip(a.ip()).is_err()) {
                return Err(refused());
            }
        }
        Ok(url)
    }

    fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        if self.allow_private || is_public(ip) {
            Ok(())
        } else {
            Err(
                "is not public (private, loopback, link-local or reserved addresses are refused)"
                    .into(),
            )
        }
    }
}

/// How long the lookup of a subscription's host may take, a wait for a free lookup included.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// Lookups of subscriptions' hosts in flight at once, in all and per partner. A lookup counts until
/// the system resolver returns, also after its request gave up on it: its blocking thread is busy
/// until then.
pub const LOOKUPS_IN_FLIGHT: usize = 32;
pub const LOOKUPS_PER_PARTNER: usize = 4;

/// A resolver: host and port to addresses.
pub type Resolver = Arc<
    dyn Fn(String, u16) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>
        + Send
        + Sync,
>;

/// The lookups made when subscribing (`UrlPolicy::check`): bounded in time and in number, so a
/// partner naming hosts whose DNS never answers holds at most its share of blocking threads.
pub struct Lookups {
    total: Arc<Semaphore>,
    partners: Mutex<HashMap<String, Arc<Semaphore>>>,
    resolver: RwLock<Resolver>,
}

impl Default for Lookups {
    fn default() -> Self {
        Self {
            total: Arc::new(Semaphore::new(LOOKUPS_IN_FLIGHT)),
            partners: Mutex::new(HashMap::new()),
            resolver: RwLock::new(Arc::new(|host, port| {
                Box::pin(async move {
                    Ok(tokio::net::lookup_host((host.as_str(), port))
                        .await?
                        .collect())
                })
            })),
        }
    }
}

impl Lookups {
    /// Replaces the system resolver (for tests: a DNS server that never answers).
    pub fn set_resolver(&self, resolver: Resolver) {
        let mut r = match self.resolver.write() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        *r = resolver;
    }

    /// `host`'s addresses, or None when it does not resolve within [`LOOKUP_TIMEOUT`] (waiting for
    /// one of `partner`'s lookups, then one of all, included).
    async fn lookup(&self, partner: &str, host: &str, port: u16) -> Option<Vec<SocketAddr>> {
        let mine = super::slots::keyed(&self.partners, partner, LOOKUPS_PER_PARTNER);
        let resolver = match self.resolver.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let host = host.to_string();
        bounded_lookup(vec![mine, Arc::clone(&self.total)], move || {
            resolver(host, port)
        })
        .await
        .and_then(Result::ok)
    }
}

/// The lookup `resolve` starts, once it holds a permit of each of `limits`, within
/// [`LOOKUP_TIMEOUT`] (the wait for the permits included); `None` past it. The permits go with the
/// lookup, not with its caller: one given up on still holds a blocking thread until the system
/// resolver returns.
async fn bounded_lookup<F>(
    limits: Vec<Arc<Semaphore>>,
    resolve: impl FnOnce() -> F + Send + 'static,
) -> Option<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::time::timeout(LOOKUP_TIMEOUT, async move {
        let mut permits = Vec::with_capacity(limits.len());
        for limit in limits {
            permits.push(limit.acquire_owned().await.ok()?);
        }
        tokio::spawn(async move {
            let found = resolve().await;
            drop(permits);
            found
        })
        .await
        .ok()
    })
    .await
    .ok()
    .flatten()
}

/// Whether `ip` is a public unicast address (IPv4-mapped and -embedding IPv6 forms judged by their
/// IPv4 address).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (b & 0xc0) == 64) // shared address space (CGNAT) 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b & 0xfe) == 18) // benchmarking 198.18/15
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    let v4_at = |i: usize| {
        Ipv4Addr::new(
            (seg[i] >> 8) as u8,
            seg[i] as u8,
            (seg[i + 1] >> 8) as u8,
            seg[i + 1] as u8,
        )
    };
    // Forms that carry an IPv4 address are judged by it (and by every one they carry): a v6
    // literal must not reach a private v4 host through a translator or tunnel.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4); // ::ffff:0:0/96
    }
    if seg[..4] == [0; 4] && seg[4] == 0xffff && seg[5] == 0 {
        return is_public_v4(v4_at(6)); // IPv4-translated ::ffff:0:0:0/96 (RFC 2765)
    }
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0; 4] {
        return is_public_v4(v4_at(6)); // well-known NAT64 prefix 64:ff9b::/96
    }
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2] == 1 {
        // Local-use NAT64 64:ff9b:1::/48 (RFC 8215): not globally reachable, and the embedded
        // address may sit at any prefix length.
        return false;
    }
    if seg[..6] == [0; 6] {
        // ::, ::1 and the deprecated IPv4-compatible form.
        return !ip.is_unspecified() && !ip.is_loopback() && is_public_v4(v4_at(6));
    }
    if seg[0] == 0x2002 {
        return is_public_v4(v4_at(1)); // 6to4 2002::/16: the IPv4 address in bits 16..48
    }
    if seg[0] == 0x2001 && seg[1] == 0 {
        // Teredo 2001::/32: the server's IPv4 in bits 32..64, the client's inverted in the last 32.
        let client = Ipv4Addr::from(!u32::from(v4_at(6)));
        return is_public_v4(v4_at(2)) && is_public_v4(client);
    }
    !(ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (seg[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (seg[0] == 0x100 && seg[1..4] == [0; 3]) // discard-only 100::/64
        || (seg[0] == 0x2001 && seg[1] == 0x2 && seg[2] == 0) // benchmarking 2001:2::/48
        || (seg[0] == 0x2001 && seg[1] == 0x0db8)) // documentation
}

/// reqwest's resolver for deliveries: resolves with the system resolver and, in production, refuses
/// a host with any non-public address at connection time (so the address checked is the one
/// connected to). IP-literal URLs do not pass through a resolver: `check_shape` covers them.
pub struct PublicOnlyResolver {
    pub policy: UrlPolicy,
    /// Lookups in flight for deliveries: bounded like subscribing's, because a send that timed
    /// out gives back its send slot while the system resolver still holds a blocking thread.
    pub in_flight: Arc<Semaphore>,
}

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        let in_flight = Arc::clone(&self.in_flight);
        Box::pin(async move {
            let host = name.as_str().to_string();
            let lookup = move || async move {
                let found = tokio::net::lookup_host((host.as_str(), 0)).await;
                found.map(|a| a.collect::<Vec<SocketAddr>>())
            };
            let Some(found) = bounded_lookup(vec![in_flight], lookup).await else {
                return Err(Box::new(SlowLookup) as Box<dyn std::error::Error + Send + Sync>);
            };
            let addrs = found?;
            if !policy.allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
                return Err(Box::new(BlockedAddress) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A delivery whose host did not resolve within [`LOOKUP_TIMEOUT`] (or found no free lookup).
#[derive(Debug, thiserror::Error)]
#[error("the receiver's host did not resolve within {} s", LOOKUP_TIMEOUT.as_secs())]
pub struct SlowLookup;

/// A delivery refused because its host resolves to a non-public address.
#[derive(Debug, thiserror::Error)]
#[error("the receiver's host resolves to a non-public address")]
pub struct BlockedAddress;

/// The delivery client: no redirects (a 3xx is not an acknowledgement, and must not lead the
/// gateway elsewhere), no proxy from the environment, the policy's resolver.
pub fn client(policy: UrlPolicy, timeout: std::time::Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .dns_resolver(Arc::new(PublicOnlyResolver {
            policy,
            in_flight: Arc::new(Semaphore::new(LOOKUPS_IN_FLIGHT)),
        }))
        .user_agent(concat!("ats-gateway-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROD: UrlPolicy = UrlPolicy {
        allow_private: false,
    };
    const SANDBOX: UrlPolicy = UrlPolicy {
        allow_private: true,
    };

    #[test]
    fn classifies_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "::127.0.0.1",
            "ff02::1",
            "::ffff:0:7f00:1",
            "::ffff:0:a00:1",
            "64:ff9b:1::7f00:1",
            "64:ff9b:1::808:808",
            "2002:a00:1::1",
            "2001:0:7f00:1::1",
            "2001:0:808:808::80ff:fefe",
            "2001:2::1",
            "100::1",
        ] {
            assert!(!is_public(private.parse().expect(private)), "{private}");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "::ffff:0:808:808",
            "2002:808:808::1",
            "2001:0:808:808::f7f7:f7f7",
        ] {
            assert!(is_public(public.parse().expect(public)), "{public}");
        }
    }

    #[test]
    fn shapes_in_production_and_sandbox() {
        assert!(PROD.check_shape("https://8.8.8.8/hook").is_ok());
        assert!(PROD.check_shape("https://hooks.example.com/x").is_ok());
        for bad in [
            "http://hooks.example.com/x",
            "ftp://hooks.example.com/x",
            "https://127.0.0.1/x",
            "https://[::1]/x",
            "https://[::ffff:7f00:1]/x",
            "https://user:pw@hooks.example.com/x",
            "https://hooks.example.com/x#frag",
            "not a url",
            "/relative",
        ] {
            assert!(PROD.check_shape(bad).is_err(), "{bad}");
        }
        assert!(SANDBOX.check_shape("http://127.0.0.1:9000/hook").is_ok());
        assert!(SANDBOX.check_shape("ftp://127.0.0.1/").is_err());
        // What a browser's parser would repair is refused as written (the schema's pattern).
        for bad in [
            " http://127.0.0.1:9000/hook",
            "http://127.0.0.1:9000/hook ",
            "ht\ttp://127.0.0.1/hook",
            "http://127.0.0.1/ho\nok",
            "https:127.0.0.1/hook",
            "https:\\\\127.0.0.1/hook",
        ] {
            assert!(SANDBOX.check_shape(bad).is_err(), "{bad:?}");
        }
        assert!(SANDBOX.check_shape("HTTP://127.0.0.1/hook").is_ok());
        let long = format!("http://127.0.0.1/{}", "a".repeat(MAX_URL_LEN - 17));
        assert!(SANDBOX.check_shape(&long).is_ok(), "at the limit");
        assert!(SANDBOX.check_shape(&format!("{long}a")).is_err());
    }

    #[test]
    fn the_length_limit_holds_for_the_stored_form() {
        // 1,026 characters as written, 3,026 once `{` is `%7B`: refused, not stored to fail at
        // every delivery.
        let braces = format!("https://hooks.example.com/{}", "{".repeat(1000));
        let err = PROD
            .check_shape(&braces)
            .expect_err("encoded past the limit");
        assert!(err.contains("percent-encoded"), "{err}");
        // Within the limit as written, past it encoded (each `é` is 6 characters stored).
        let accents = format!("http://127.0.0.1/{}", "é".repeat(400));
        assert!(SANDBOX.check_shape(&accents).is_err());
        // Right at the limit encoded: accepted.
        let host = "http://127.0.0.1/";
        let fits = format!("{host}{}", "{".repeat((MAX_URL_LEN - host.len()) / 3));
        assert!(SANDBOX.check_shape(&fits).is_ok());
        assert!(SANDBOX.check_shape(&format!("{fits}{{")).is_err());
    }

    #[test]
    fn what_is_accepted_passes_again_as_stored() {
        let host = "http://127.0.0.1/";
        let room = MAX_URL_LEN - host.len();
        let mut accepted = 0;
        for raw in [
            "HTTPS://Hooks.Example.COM:443/a/./b/../c?x=1&y=a b".replace(' ', "%20"),
            "https://hooks.example.com/{}|^`\"<>?q={}".into(),
            "https://bücher.example/hook?q=é".into(),
            "https://hooks.example.com".into(),
            "https://[2606:4700:4700::1111]:8443/hook".into(),
            "https://8.8.8.8/%7b%zz".into(),
            format!("https://hooks.example.com/{}", "a".repeat(MAX_URL_LEN - 26)),
            format!("{host}{}", "{".repeat(room / 3)),
            format!("{host}{}", "{".repeat(room / 3 + 1)),
            format!("{host}{}", "é".repeat(room / 6)),
            format!("{host}{}", "é".repeat(room / 6 + 1)),
            format!("{host}{}", "./".repeat(room / 2)),
        ] {
            for policy in [PROD, SANDBOX] {
                let Ok(url) = policy.check_shape(&raw) else {
                    continue;
                };
                accepted += 1;
                let stored = url.to_string();
                assert!(stored.len() <= MAX_URL_LEN, "{raw}");
                let again = policy
                    .check_shape(&stored)
                    .unwrap_or_else(|e| panic!("{raw}: stored as {stored}, then refused: {e}"));
                assert_eq!(again.as_str(), stored, "stable once stored");
            }
        }
        assert!(accepted >= 12, "{accepted}");
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused_in_production() {
        let dns = Lookups::default();
        let err = PROD
            .check("https://localhost/hook", &dns, "p")
            .await
            .expect_err("loopback");
        assert!(err.contains("only to public addresses"), "{err}");
        let unknown = PROD
            .check("https://no-such-host.invalid/hook", &dns, "p")
            .await
            .expect_err("does not resolve");
        assert_eq!(
            unknown.replace("no-such-host.invalid", "localhost"),
            err,
            "one answer for both: no DNS oracle"
        );
        assert!(SANDBOX
            .check("http://localhost:1/hook", &dns, "p")
            .await
            .is_ok());
    }
}
