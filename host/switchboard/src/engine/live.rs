//! Live web chat replies, routed to the open sessions of the visitor each
//! one goes to.
//!
//! Every open WebSocket session registers under its tenant and visitor and
//! gets a queue of its own, so a reply is handed only to the sessions it is
//! for. One tenant's burst of replies fills nobody's queue but its own
//! visitors': a session that does not keep up loses replies (they stay in
//! the transcript), and no other session does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use switchboard_core::conversation::Outbound;
use tokio::sync::mpsc;

/// Replies one session may have waiting before it loses the next ones.
pub const SESSION_QUEUE: usize = 256;

type Sessions = HashMap<(String, String), Vec<(u64, mpsc::Sender<Outbound>)>>;

#[derive(Debug, Default)]
pub(crate) struct LiveFeeds {
    sessions: Arc<Mutex<Sessions>>,
    next: AtomicU64,
}

/// One open session's feed: what is committed for its visitor from now on.
/// Dropping it ends the registration.
#[derive(Debug)]
pub struct LiveSession {
    replies: mpsc::Receiver<Outbound>,
    sessions: Arc<Mutex<Sessions>>,
    key: (String, String),
    id: u64,
}

impl LiveFeeds {
    /// Publish what `feed` brings (other nodes' replies, and this one's,
    /// when the store is shared) to the open sessions here, on a thread of
    /// its own, until the feed ends.
    pub(crate) fn relay(&self, feed: std::sync::mpsc::Receiver<switchboard_store::LiveReplies>) {
        let feeds = LiveFeeds { sessions: Arc::clone(&self.sessions), next: AtomicU64::new(0) };
        let spawned = std::thread::Builder::new().name("live-relay".to_owned()).spawn(move || {
            for live in feed {
                match serde_json::from_slice::<Vec<Outbound>>(&live.replies) {
                    Ok(replies) => feeds.publish(&live.tenant, &live.to, &replies),
                    Err(error) => {
                        tracing::warn!(tenant = %live.tenant, %error, "a live reply does not decode")
                    }
                }
            }
        });
        if let Err(error) = spawned {
            tracing::error!(%error, "live web chat across nodes did not start");
        }
    }

    pub(crate) fn subscribe(&self, tenant: &str, to: &str) -> LiveSession {
        let (sender, replies) = mpsc::channel(SESSION_QUEUE);
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let key = (tenant.to_owned(), to.to_owned());
        lock(&self.sessions).entry(key.clone()).or_default().push((id, sender));
        LiveSession { replies, sessions: Arc::clone(&self.sessions), key, id }
    }

    /// Hand `replies` to the visitor's open sessions, if any.
    pub(crate) fn publish(&self, tenant: &str, to: &str, replies: &[Outbound]) {
        let sessions = lock(&self.sessions);
        let Some(open) = sessions.get(&(tenant.to_owned(), to.to_owned())) else { return };
        for (_, session) in open {
            for reply in replies {
                if session.try_send(reply.clone()).is_err() {
                    tracing::warn!(tenant, "a web chat session fell behind; a live reply was dropped");
                    metrics::counter!("switchboard_live_replies_dropped_total").increment(1);
                }
            }
        }
    }

    #[cfg(test)]
    fn open(&self) -> usize {
        lock(&self.sessions).values().map(Vec::len).sum()
    }
}

impl LiveSession {
    /// The next reply, or `None` once the engine is gone.
    pub async fn recv(&mut self) -> Option<Outbound> {
        self.replies.recv().await
    }
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        let mut sessions = lock(&self.sessions);
        if let Some(open) = sessions.get_mut(&self.key) {
            open.retain(|(id, _)| *id != self.id);
            if open.is_empty() {
                sessions.remove(&self.key);
            }
        }
    }
}

fn lock(sessions: &Mutex<Sessions>) -> std::sync::MutexGuard<'_, Sessions> {
    sessions.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> Outbound {
        Outbound { text: text.to_owned(), ..Outbound::default() }
    }

    #[tokio::test]
    async fn a_burst_for_one_visitor_costs_no_other_session_a_reply() {
        let feeds = LiveFeeds::default();
        let mut quiet = feeds.subscribe("calm", "web:a");
        let _flooded = feeds.subscribe("noisy", "web:b");
        let burst: Vec<Outbound> = (0..SESSION_QUEUE * 4).map(|n| reply(&n.to_string())).collect();
        feeds.publish("noisy", "web:b", &burst);
        feeds.publish("calm", "web:a", &[reply("hello")]);
        assert_eq!(quiet.recv().await.map(|reply| reply.text), Some("hello".to_owned()));
        // Another tenant's visitor with the same session id gets nothing of it.
        let mut same_id = feeds.subscribe("noisy", "web:a");
        feeds.publish("calm", "web:a", &[reply("again")]);
        assert_eq!(quiet.recv().await.map(|reply| reply.text), Some("again".to_owned()));
        assert!(same_id.replies.try_recv().is_err());
    }

    #[test]
    fn a_closed_session_is_forgotten() {
        let feeds = LiveFeeds::default();
        let first = feeds.subscribe("t", "web:a");
        let second = feeds.subscribe("t", "web:a");
        assert_eq!(feeds.open(), 2);
        drop(first);
        drop(second);
        assert_eq!(feeds.open(), 0);
    }
}
