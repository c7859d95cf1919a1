//! Who may open another connection: a host-wide count and one per client.
//!
//! A [`Permit`] is one open connection. It lives inside the connection's IO,
//! so it is released when the socket closes, whether hyper finished with it
//! or a WebSocket took it over.
//!
//! The counts sit behind a std `Mutex`: it is held for a hash map update and
//! never across an `.await`, so an async lock would only add cost.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug)]
pub struct Limiter {
    max_total: usize,
    max_per_client: usize,
    counts: Mutex<Counts>,
    refused: AtomicU64,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    /// Only clients with a connection open, so the map is bounded by the cap.
    per_client: HashMap<IpAddr, usize>,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the host-wide connection cap is reached")]
    HostFull,
    #[error("this client's connection cap is reached")]
    ClientFull,
}

impl Refused {
    /// The `reason` label of `switchboard_connections_refused_total`.
    pub fn reason(self) -> &'static str {
        match self {
            Refused::HostFull => "host",
            Refused::ClientFull => "ip",
        }
    }
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Permit {
    limiter: Arc<Limiter>,
    client: IpAddr,
}

impl Limiter {
    pub fn new(max_total: usize, max_per_client: usize) -> Arc<Self> {
        Arc::new(Self { max_total, max_per_client, counts: Mutex::default(), refused: AtomicU64::new(0) })
    }

    /// Admit a connection from `ip`, or say which cap it would pass.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Refused> {
        let client = client_of(ip);
        let mut counts = self.counts();
        let refused = if counts.total >= self.max_total {
            Some(Refused::HostFull)
        } else if counts.per_client.get(&client).copied().unwrap_or(0) >= self.max_per_client {
            Some(Refused::ClientFull)
        } else {
            None
        };
        if let Some(refused) = refused {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(refused);
        }
        counts.total += 1;
        *counts.per_client.entry(client).or_insert(0) += 1;
        Ok(Permit { limiter: Arc::clone(self), client })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.counts().total
    }

    /// Connections refused since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        // The counts are consistent after every statement: a panic elsewhere
        // while the lock was held leaves nothing half-done.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.limiter.counts();
        counts.total = counts.total.saturating_sub(1);
        if let Some(count) = counts.per_client.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                counts.per_client.remove(&self.client);
            }
        }
        let open = counts.total;
        drop(counts);
        metrics::gauge!("switchboard_connections_open").set(open as f64);
    }
}

/// The unit one client is counted by: an IPv4 address, or an IPv6 /64 (one
/// subscriber usually holds a whole /64, so single addresses cost nothing).
pub(crate) fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn one_client_is_capped_and_others_still_get_in() {
        let limiter = Limiter::new(10, 2);
        let _first = limiter.admit(v4(1)).expect("first");
        let _second = limiter.admit(v4(1)).expect("second");
        assert_eq!(limiter.admit(v4(1)).err(), Some(Refused::ClientFull));
        let _other = limiter.admit(v4(2)).expect("another client");
        assert_eq!((limiter.open(), limiter.refused()), (3, 1));
    }

    #[test]
    fn the_host_cap_holds_across_clients() {
        let limiter = Limiter::new(3, 2);
        let permits: Vec<_> = (1..=3).map(|n| limiter.admit(v4(n)).expect("under the cap")).collect();
        assert_eq!(limiter.admit(v4(9)).err(), Some(Refused::HostFull));
        assert_eq!(Refused::HostFull.reason(), "host");
        drop(permits);
        assert_eq!(limiter.open(), 0);
        assert!(limiter.admit(v4(9)).is_ok());
    }

    #[test]
    fn closing_a_connection_frees_its_place_and_forgets_idle_clients() {
        let limiter = Limiter::new(10, 1);
        let permit = limiter.admit(v4(1)).expect("first");
        assert!(limiter.admit(v4(1)).is_err());
        drop(permit);
        assert!(limiter.counts().per_client.is_empty());
        let _again = limiter.admit(v4(1)).expect("its place is free again");
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_and_mapped_ipv4_as_ipv4() {
        let limiter = Limiter::new(10, 1);
        let one: IpAddr = "2001:db8:1:2::1".parse().expect("an address");
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("an address");
        let other_64: IpAddr = "2001:db8:1:3::1".parse().expect("an address");
        let _permit = limiter.admit(one).expect("first");
        assert_eq!(limiter.admit(same_64).err(), Some(Refused::ClientFull));
        assert!(limiter.admit(other_64).is_ok());
        let _v4 = limiter.admit(v4(7)).expect("first");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("an address");
        assert_eq!(limiter.admit(mapped).err(), Some(Refused::ClientFull));
    }
}
