//! Live web chat across nodes: a reply is written to `live_replies` and
//! announced with `NOTIFY switchboard_live`; every node LISTENs on a
//! connection of its own and reads the replies of visitors it may hold.
//! The payload is `tenant`, `visitor` and the row's id, separated by the
//! unit separator (neither a tenant name nor a visitor id holds one).

use std::time::Duration;

use futures_util::StreamExt;
use switchboard_store::{LiveReplies, StoreError};
use tokio_postgres::AsyncMessage;

use crate::PgStore;
use crate::scope::{execute, in_tenant, query_opt};

const KEEP: &str = "DELETE FROM live_replies WHERE tenant = $1 AND at < now() - interval '5 minutes'";
const PUT: &str = "INSERT INTO live_replies (tenant, recipient, replies) VALUES ($1, $2, $3) RETURNING id";
const NOTIFY: &str = "SELECT pg_notify('switchboard_live', $1)";
const GET: &str = "SELECT recipient, replies FROM live_replies WHERE tenant = $1 AND id = $2";
const SEPARATOR: char = '\u{1f}';

pub(crate) async fn publish(store: &PgStore, live: &LiveReplies) -> Result<(), StoreError> {
    let (tenant, to) = (live.tenant.as_str(), live.to.as_str());
    if tenant.contains(SEPARATOR) || to.contains(SEPARATOR) {
        return Err(StoreError::Backend {
            operation: "publishing a live reply",
            source: "a name holds a separator".into(),
        });
    }
    let replies = live.replies.as_slice();
    in_tenant(store, tenant, async |tx| {
        execute(tx, KEEP, &[&tenant], "forgetting old live replies").await?;
        let id: i64 = query_opt(tx, PUT, &[&tenant, &to, &replies], "keeping a live reply")
            .await?
            .map_or(0, |row| row.get(0));
        let payload = format!("{tenant}{SEPARATOR}{to}{SEPARATOR}{id}");
        // Delivered to listeners when this transaction commits, not before.
        query_opt(tx, NOTIFY, &[&payload], "announcing a live reply").await.map(drop)
    })
    .await
}

/// Start listening on a connection of the store's runtime; replies go to
/// the returned receiver until it is dropped. A lost connection is made
/// again (a reply announced meanwhile is missed live; the visitor's
/// transcript still has it).
pub(crate) fn listen(store: &PgStore, url: &str) -> std::sync::mpsc::Receiver<LiveReplies> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let (store, url) = (store.clone(), url.to_owned());
    store.clone().spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match relay(&store, &url, &sender).await {
                Ok(()) => return, // the receiver is gone
                Err(error) => {
                    tracing::warn!(error = %error, "live web chat lost its PostgreSQL connection; listening again");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    });
    receiver
}

/// Listen until the connection fails (an error) or nobody receives (`Ok`).
async fn relay(
    store: &PgStore,
    url: &str,
    sender: &std::sync::mpsc::Sender<LiveReplies>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (client, mut connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let (notices, mut notifications) = futures_channel::mpsc::unbounded();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(notification)) => {
                    if notices.unbounded_send(notification.payload().to_owned()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "the live web chat connection failed");
                    return;
                }
            }
        }
    });
    client.batch_execute("LISTEN switchboard_live").await?;
    while let Some(payload) = notifications.next().await {
        let mut parts = payload.splitn(3, SEPARATOR);
        let (Some(tenant), Some(to), Some(id)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let Ok(id) = id.parse::<i64>() else { continue };
        let row = in_tenant(store, tenant, async |tx| {
            query_opt(tx, GET, &[&tenant, &id], "reading a live reply").await
        })
        .await?;
        let Some(row) = row else { continue };
        let live = LiveReplies { tenant: tenant.to_owned(), to: row.get(0), replies: row.get(1) };
        debug_assert_eq!(live.to, to);
        if sender.send(live).is_err() {
            driver.abort();
            return Ok(());
        }
    }
    driver.abort();
    Err("the live web chat connection closed".into())
}
