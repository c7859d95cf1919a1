//! Where outbound connections may go: one policy for every egress path.
//!
//! Plugins' `wasi:http` requests (`http.rs`) and the server's provider sends
//! and handoff webhooks all open their sockets through
//! [`OutboundPolicy::connect`]. It resolves the host once, checks every
//! address the lookup gave, and connects only to addresses that passed, so a
//! rebinding DNS server gets no second lookup to answer differently. An
//! address that is not public (loopback, private, link-local with the cloud
//! metadata address, CGNAT, multicast, documentation and reserved ranges, and
//! the IPv6 forms that embed one of them) is refused unless the operator
//! allowed it ([`AllowedDestination`], `serve --allow-outbound`).
//!
//! A refused destination is refused before any connection is tried, so
//! neither the error nor its timing tells a closed port from an open one.
//! Callers show tenants one opaque error for it and log [`EgressError`],
//! whose text names the addresses, on the host only.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use tokio::net::TcpStream;

/// Which destinations that are not public outbound connections may reach
/// anyway. Public addresses always may. The default allows none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    allowed: Arc<[AllowedDestination]>,
}

/// A destination the operator allows although it is not public: a network
/// (`10.0.0.0/8`, `127.0.0.1`, `::1`) on any port, or one socket address
/// (`127.0.0.1:8080`, `[::1]:8080`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowedDestination {
    network: IpNet,
    port: Option<u16>,
}

/// Why an outbound connection did not open. The text is for the host's
/// log: it names hosts and addresses, which tenants must not see.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    /// Every address the host resolved to is outside the policy.
    #[error("{host} is not an allowed destination (resolved to {addresses:?})")]
    Refused { host: String, addresses: Vec<SocketAddr> },
    #[error("failed to resolve {host}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("failed to connect to {host} at {addresses:?}: {source}")]
    Connect { host: String, addresses: Vec<SocketAddr>, source: io::Error },
}

impl EgressError {
    /// Whether the policy refused the destination (rather than the network failing).
    pub fn is_refused(&self) -> bool {
        matches!(self, Self::Refused { .. })
    }
}

/// A bad `--allow-outbound` entry, or a second, different policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{0:?} is not an IP address, a network (CIDR) or an address with a port")]
    Destination(String),
    #[error("a different outbound policy is installed already")]
    AlreadyInstalled,
}

static INSTALLED: OnceLock<OutboundPolicy> = OnceLock::new();

impl OutboundPolicy {
    /// Public destinations, and these.
    pub fn allowing(allowed: impl IntoIterator<Item = AllowedDestination>) -> Self {
        Self { allowed: allowed.into_iter().collect() }
    }

    /// Make this the process's policy, the one plugins' HTTP and the
    /// delivery worker use: once, at start-up. Installing the same policy
    /// again is fine; a different one is refused.
    pub fn install(self) -> Result<(), PolicyError> {
        let installed = INSTALLED.get_or_init(|| self.clone());
        if *installed == self { Ok(()) } else { Err(PolicyError::AlreadyInstalled) }
    }

    /// The process's policy: what [`OutboundPolicy::install`] set, or the
    /// default (public destinations only).
    pub fn installed() -> Self {
        INSTALLED.get().cloned().unwrap_or_default()
    }

    /// What the operator allowed beyond public addresses.
    pub fn allowed(&self) -> &[AllowedDestination] {
        &self.allowed
    }

    /// Whether a connection to `address` is allowed.
    pub fn permits(&self, address: SocketAddr) -> bool {
        is_public(address.ip()) || self.allowed.iter().any(|allowed| allowed.admits(address))
    }

    /// The addresses of `host` (a name, or an IP literal, bracketed or not)
    /// on `port` that the policy allows: looked up once, and refused when
    /// none is allowed.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, EgressError> {
        let bare = host.strip_prefix('[').and_then(|host| host.strip_suffix(']')).unwrap_or(host);
        let resolved: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|source| EgressError::Resolve { host: host.to_owned(), source })?
                .collect(),
        };
        if resolved.is_empty() {
            let source = io::Error::new(io::ErrorKind::NotFound, "no addresses");
            return Err(EgressError::Resolve { host: host.to_owned(), source });
        }
        let (permitted, refused): (Vec<_>, Vec<_>) =
            resolved.into_iter().partition(|address| self.permits(*address));
        if permitted.is_empty() {
            return Err(EgressError::Refused { host: host.to_owned(), addresses: refused });
        }
        if !refused.is_empty() {
            tracing::debug!(host, ?refused, "outbound: skipping addresses the policy refuses");
        }
        Ok(permitted)
    }

    /// A TCP connection to `host:port`, to one of exactly the addresses
    /// [`OutboundPolicy::resolve`] checked.
    pub async fn connect(&self, host: &str, port: u16) -> Result<TcpStream, EgressError> {
        let addresses = self.resolve(host, port).await?;
        TcpStream::connect(addresses.as_slice()).await.map_err(|source| EgressError::Connect {
            host: host.to_owned(),
            addresses,
            source,
        })
    }
}

impl AllowedDestination {
    /// Exactly one socket address.
    pub fn address(address: SocketAddr) -> Self {
        Self { network: IpNet::from(address.ip().to_canonical()), port: Some(address.port()) }
    }

    fn admits(&self, address: SocketAddr) -> bool {
        self.network.contains(&address.ip().to_canonical())
            && self.port.is_none_or(|port| port == address.port())
    }
}

impl FromStr for AllowedDestination {
    type Err = PolicyError;

    fn from_str(text: &str) -> Result<Self, PolicyError> {
        let text = text.trim();
        if let Ok(address) = text.parse::<SocketAddr>() {
            return Ok(Self::address(address));
        }
        let bare = text.strip_prefix('[').and_then(|text| text.strip_suffix(']')).unwrap_or(text);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Self { network: IpNet::from(ip.to_canonical()), port: None });
        }
        match text.parse::<IpNet>() {
            Ok(network) => Ok(Self { network: network.trunc(), port: None }),
            Err(_) => Err(PolicyError::Destination(text.to_owned())),
        }
    }
}

impl fmt::Display for AllowedDestination {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(formatter, "{}", SocketAddr::new(self.network.addr(), port)),
            None => write!(formatter, "{}", self.network),
        }
    }
}

/// Whether `ip` is a public unicast address: the only kind reached without
/// the operator's say-so.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => !NOT_PUBLIC_V4.iter().any(|network| network.contains(&ip)),
        IpAddr::V6(ip) => match embedded_ipv4(ip) {
            Some(embedded) => is_public(IpAddr::V4(embedded)),
            None => {
                GLOBAL_UNICAST_V6.contains(&ip) && !NOT_PUBLIC_V6.iter().any(|network| network.contains(&ip))
            }
        },
    }
}

/// The IPv4 address an IPv4-mapped (`::ffff:0:0/96`), NAT64 (`64:ff9b::/96`)
/// or 6to4 (`2002::/16`) address leads to.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let [a, b, c, d, e, f, g, h] = ip.segments();
    let join = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    match (a, b, c, d, e, f) {
        (0, 0, 0, 0, 0, 0xffff) | (0x64, 0xff9b, 0, 0, 0, 0) => Some(join(g, h)),
        (0x2002, ..) => Some(join(b, c)),
        _ => None,
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(first: u16, second: u16, prefix: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(first, second, 0, 0, 0, 0, 0, 0), prefix)
}

/// IPv4 ranges that are not public unicast (IANA special-purpose registry).
const NOT_PUBLIC_V4: [Ipv4Net; 15] = [
    v4(0, 0, 0, 0, 8),       // "this network", with the unspecified address
    v4(10, 0, 0, 0, 8),      // private
    v4(100, 64, 0, 0, 10),   // shared address space (CGNAT)
    v4(127, 0, 0, 0, 8),     // loopback
    v4(169, 254, 0, 0, 16),  // link-local, with the metadata address 169.254.169.254
    v4(172, 16, 0, 0, 12),   // private
    v4(192, 0, 0, 0, 24),    // IETF protocol assignments
    v4(192, 0, 2, 0, 24),    // documentation
    v4(192, 88, 99, 0, 24),  // 6to4 relay anycast
    v4(192, 168, 0, 0, 16),  // private
    v4(198, 18, 0, 0, 15),   // benchmarking
    v4(198, 51, 100, 0, 24), // documentation
    v4(203, 0, 113, 0, 24),  // documentation
    v4(224, 0, 0, 0, 4),     // multicast
    v4(240, 0, 0, 0, 4),     // reserved, with the broadcast address
];

/// Where public IPv6 unicast lives; loopback, unspecified, IPv4-compatible,
/// ULA (`fc00::/7`), link-local (`fe80::/10`), multicast (`ff00::/8`) and
/// discard (`100::/64`) are all outside it.
const GLOBAL_UNICAST_V6: Ipv6Net = v6(0x2000, 0, 3);

/// The parts of `2000::/3` that are not public unicast.
const NOT_PUBLIC_V6: [Ipv6Net; 4] = [
    v6(0x2001, 0, 23),      // IETF protocol assignments, with Teredo
    v6(0x2001, 0x0db8, 32), // documentation
    v6(0x3fff, 0, 20),      // documentation
    v6(0x5f00, 0, 16),      // segment routing
];

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().expect("an IP address"))
    }

    #[test]
    fn only_public_unicast_addresses_are_public() {
        for refused in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "10.1.2.3",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "192.0.2.7",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
        ] {
            assert!(!public(refused), "{refused} counted as public");
        }
        for allowed in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(public(allowed), "{allowed} counted as not public");
        }
    }

    #[test]
    fn the_operator_allows_networks_addresses_and_single_ports() {
        let policy = OutboundPolicy::allowing(
            ["10.0.0.0/8", "127.0.0.1:8080", "[::1]:9000", "fd00::7"]
                .map(|entry| entry.parse().expect("parses")),
        );
        let permits = |address: &str| policy.permits(address.parse().expect("a socket address"));
        assert!(permits("10.9.9.9:5432"));
        assert!(permits("127.0.0.1:8080"));
        assert!(permits("[::ffff:127.0.0.1]:8080"), "the mapped form of an allowed address");
        assert!(!permits("127.0.0.1:8081"), "another port of an address allowed with one");
        assert!(permits("[::1]:9000"));
        assert!(permits("[fd00::7]:1"));
        assert!(!permits("169.254.169.254:80"));
        assert!(permits("93.184.215.14:443"), "public addresses need no entry");
        assert!("example.com".parse::<AllowedDestination>().is_err());
        assert!("10.0.0.0/33".parse::<AllowedDestination>().is_err());
        assert_eq!("10.1.2.3/8".parse::<AllowedDestination>().expect("parses").to_string(), "10.0.0.0/8");
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_before_connecting() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("an address").port();
        for host in ["localhost", "127.0.0.1", "[::ffff:127.0.0.1]", "2130706433"] {
            let error = OutboundPolicy::default().connect(host, port).await.expect_err("refused");
            assert!(error.is_refused(), "{host}: {error}");
        }
        assert!(listener.accept().is_err(), "something connected");

        let allowed = OutboundPolicy::allowing(["127.0.0.1".parse().expect("parses")]);
        allowed.connect("localhost", port).await.expect("allowed, it connects");
        assert!(listener.accept().is_ok());
    }
}
