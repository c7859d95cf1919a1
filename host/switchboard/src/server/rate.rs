//! Rate limits on the public web chat: per client address, and per tenant.
//!
//! Anyone may post to a tenant's web chat, and every message is a turn
//! written to disk, so without a limit one client could fill the disk or
//! take the host's CPU from every other tenant. Each message (over HTTP or
//! the WebSocket) spends a token from its client's bucket (an IPv4 address
//! or an IPv6 /64) and from its tenant's; an empty bucket answers 429
//! `rate_limited` with `Retry-After`, before any work is done.
//!
//! The operator sets both rates (`serve --web-chat-per-ip-per-minute`,
//! `--web-chat-per-tenant-per-minute`); a tenant's own rate can be set in
//! its `tenant.toml` (`[quotas] web_chat_per_minute`). Buckets allow a
//! burst of five seconds' worth. The buckets are GCRA cells from
//! `governor`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::listen::client_of;

/// Web chat messages per minute from one client address, unless the operator says otherwise.
pub const DEFAULT_PER_IP_PER_MINUTE: u32 = 120;
/// Web chat messages per minute to one tenant, unless the operator or the tenant says otherwise.
pub const DEFAULT_PER_TENANT_PER_MINUTE: u32 = 3_000;

/// Idle clients' buckets are forgotten once per this many checks.
const FORGET_EVERY: u64 = 4096;

#[derive(Debug)]
pub struct WebChatLimits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_tenant_default: u32,
    /// Each tenant's bucket, with the rate it was made for.
    tenants: Mutex<HashMap<String, (u32, DefaultDirectRateLimiter)>>,
    checks: AtomicU64,
}

/// Why a message was refused, and when to try again.
#[derive(Debug, Clone, Copy)]
pub struct Limited {
    pub scope: &'static str,
    pub retry_after: Duration,
}

impl WebChatLimits {
    pub fn new(per_ip_per_minute: u32, per_tenant_per_minute: u32) -> Self {
        Self {
            per_ip: RateLimiter::keyed(quota(per_ip_per_minute)),
            per_tenant_default: per_tenant_per_minute,
            tenants: Mutex::default(),
            checks: AtomicU64::new(0),
        }
    }

    /// Spend one message of `client`'s and `tenant`'s buckets, or say
    /// which is empty. `tenant_rate` is the tenant's own per-minute rate,
    /// if its `tenant.toml` sets one. A client without an address (an
    /// in-process test) is limited by its tenant only.
    pub fn check(
        &self,
        client: Option<IpAddr>,
        tenant: &str,
        tenant_rate: Option<u32>,
    ) -> Result<(), Limited> {
        let clock = DefaultClock::default();
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            // Buckets that have refilled hold nothing worth keeping.
            self.per_ip.retain_recent();
        }
        if let Some(client) = client
            && let Err(not_until) = self.per_ip.check_key(&client_of(client))
        {
            return Err(limited("client", not_until.wait_time_from(clock.now())));
        }
        let rate = tenant_rate.unwrap_or(self.per_tenant_default);
        let mut tenants = self.tenants.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket =
            tenants.entry(tenant.to_owned()).or_insert_with(|| (rate, RateLimiter::direct(quota(rate))));
        if bucket.0 != rate {
            *bucket = (rate, RateLimiter::direct(quota(rate)));
        }
        bucket.1.check().map_err(|not_until| limited("tenant", not_until.wait_time_from(clock.now())))
    }
}

impl From<Limited> for super::AppError {
    fn from(limited: Limited) -> Self {
        let message = match limited.scope {
            "client" => "too many web chat messages from this address; wait and try again",
            _ => "this tenant's web chat is taking too many messages; wait and try again",
        };
        Self::new(axum::http::StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
            .retry_after(limited.retry_after)
    }
}

fn limited(scope: &'static str, retry_after: Duration) -> Limited {
    metrics::counter!("switchboard_web_chat_rate_limited_total", "scope" => scope).increment(1);
    Limited { scope, retry_after }
}

/// `per_minute` (at least one), with a burst of five seconds' worth.
fn quota(per_minute: u32) -> Quota {
    let rate = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new((per_minute / 12).max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(rate).allow_burst(burst)
}

/// Sign-in attempts: 10 a minute from one address (a burst of 5), and 10
/// a minute at one account from anywhere, so a password is guessed
/// neither from one place nor from many.
#[derive(Debug)]
pub struct LoginLimits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_account: DefaultKeyedRateLimiter<String>,
    checks: AtomicU64,
}

impl Default for LoginLimits {
    fn default() -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN));
        Self {
            per_ip: RateLimiter::keyed(quota),
            per_account: RateLimiter::keyed(quota),
            checks: AtomicU64::new(0),
        }
    }
}

impl LoginLimits {
    /// Spend one attempt of `client`'s bucket and, for a password, of
    /// `account`'s.
    pub fn check(&self, client: Option<IpAddr>, account: Option<&str>) -> Result<(), super::AppError> {
        let clock = DefaultClock::default();
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            // Buckets that have refilled hold nothing worth keeping.
            self.per_ip.retain_recent();
            self.per_account.retain_recent();
        }
        let refused = |wait: Duration| {
            metrics::counter!("switchboard_sign_in_rate_limited_total").increment(1);
            super::AppError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many sign-in attempts; wait and try again",
            )
            .retry_after(wait)
        };
        if let Some(client) = client
            && let Err(not_until) = self.per_ip.check_key(&client_of(client))
        {
            return Err(refused(not_until.wait_time_from(clock.now())));
        }
        match account {
            Some(account) => self
                .per_account
                .check_key(&account.to_owned())
                .map_err(|not_until| refused(not_until.wait_time_from(clock.now()))),
            None => Ok(()),
        }
    }
}

/// The client's address, where the server knows it (`ConnectInfo`).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_and_a_tenant_each_get_their_burst_then_wait() {
        let limits = WebChatLimits::new(24, 120);
        let client: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..2 {
            limits.check(Some(client), "t", None).expect("within the burst");
        }
        let refused = limits.check(Some(client), "t", None).expect_err("past the client's burst");
        assert_eq!(refused.scope, "client");
        assert!(refused.retry_after > Duration::ZERO);
        // Another client of the same tenant still gets in, until the tenant's burst is spent.
        let others = (2..=20).map(|last| limits.check(Some([10, 0, 0, last].into()), "t", None));
        let refused = others.filter_map(Result::err).next().expect("the tenant's burst ends");
        assert_eq!(refused.scope, "tenant");
        // A tenant with a rate of its own has a bucket of its own.
        limits.check(None, "u", Some(1000)).expect("another tenant is not limited by t");
    }
}
