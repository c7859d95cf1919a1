//! A conversation's turn lock across nodes: a session advisory lock keyed
//! by tenant and conversation. Every lock a node holds is on one connection
//! of its own, not the pool's: a node holding many at once (the scheduler
//! fires a page of conversations under their locks) never starves its
//! turns of connections. It is taken without waiting on the server
//! (`pg_try_advisory_lock`, retried), so that one connection serves all.
//! A node that dies loses the connection, and PostgreSQL frees its locks.

use std::sync::Arc;
use std::time::Duration;

use switchboard_store::{StoreError, TurnLock};
use tokio_postgres::Client;

use crate::{PgStore, backend};

const TRY_LOCK: &str = "SELECT pg_try_advisory_lock(hashtextextended($1 || chr(31) || $2, 0))";
const UNLOCK: &str = "SELECT pg_advisory_unlock(hashtextextended($1 || chr(31) || $2, 0))";
/// How long a turn waits for a conversation another node runs a turn of.
const WAIT: Duration = Duration::from_secs(30);

/// The node's lock connection, made again if it is lost.
#[derive(Default)]
pub(crate) struct LockConnection(tokio::sync::Mutex<Option<Arc<Client>>>);

impl LockConnection {
    async fn client(&self, store: &PgStore) -> Result<Arc<Client>, StoreError> {
        let mut current = self.0.lock().await;
        if let Some(client) = current.as_ref().filter(|client| !client.is_closed()) {
            return Ok(client.clone());
        }
        if current.is_some() {
            // Every lock it held went with it; turns holding one find out
            // when they unlock (see `Held::drop`).
            tracing::error!("the turn lock connection was lost; connecting again");
        }
        let (client, connection) = tokio_postgres::connect(&store.url, tokio_postgres::NoTls)
            .await
            .map_err(backend("connecting for turn locks"))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "the turn lock connection ended");
            }
        });
        let client = Arc::new(client);
        *current = Some(client.clone());
        Ok(client)
    }
}

pub(crate) async fn lock_turn(
    store: &PgStore,
    tenant: &str,
    conversation: &str,
) -> Result<TurnLock, StoreError> {
    let client = store.locks.client(store).await?;
    let statement = client.prepare(TRY_LOCK).await.map_err(backend("preparing a turn lock"))?;
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        let row = client
            .query_one(&statement, &[&tenant, &conversation])
            .await
            .map_err(backend("taking a turn lock"))?;
        if row.get::<_, bool>(0) {
            break;
        }
        if started.elapsed() > WAIT {
            return Err(StoreError::Backend {
                operation: "taking a turn lock",
                source: format!("another node held {tenant}/{conversation} for over {} s", WAIT.as_secs())
                    .into(),
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    Ok(TurnLock::held(Held {
        client,
        store: store.clone(),
        tenant: tenant.to_owned(),
        conversation: conversation.to_owned(),
    }))
}

struct Held {
    client: Arc<Client>,
    store: PgStore,
    tenant: String,
    conversation: String,
}

impl Drop for Held {
    fn drop(&mut self) {
        let unlocked = self.store.block(async {
            self.client.query_one(UNLOCK, &[&self.tenant, &self.conversation]).await?.try_get::<_, bool>(0)
        });
        if !matches!(unlocked, Ok(true)) {
            // The connection was lost (and the lock with it), or the lock
            // was never ours: say so, for the operator.
            tracing::error!(tenant = %self.tenant, conversation = %self.conversation, ?unlocked,
                "a turn lock was not held until its turn ended");
        }
    }
}
