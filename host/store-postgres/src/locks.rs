//! A conversation's turn lock across nodes: a session advisory lock keyed
//! by tenant and conversation, on a connection the lock keeps until it
//! drops. A node that dies loses its connections, and PostgreSQL frees
//! their locks.

use switchboard_store::{StoreError, TurnLock};

use crate::{PgStore, backend};

const LOCK: &str = "SELECT pg_advisory_lock(hashtextextended($1 || chr(31) || $2, 0))";
const UNLOCK: &str = "SELECT pg_advisory_unlock(hashtextextended($1 || chr(31) || $2, 0))";

pub(crate) async fn lock_turn(
    store: &PgStore,
    tenant: &str,
    conversation: &str,
) -> Result<TurnLock, StoreError> {
    let client = store.client().await?;
    let statement = client.prepare_cached(LOCK).await.map_err(backend("preparing a turn lock"))?;
    client.execute(&statement, &[&tenant, &conversation]).await.map_err(backend("taking a turn lock"))?;
    Ok(TurnLock::held(Held {
        client: Some(client),
        store: store.clone(),
        tenant: tenant.to_owned(),
        conversation: conversation.to_owned(),
    }))
}

struct Held {
    client: Option<deadpool_postgres::Object>,
    store: PgStore,
    tenant: String,
    conversation: String,
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else { return };
        let unlocked = self.store.block(async {
            let statement = client.prepare_cached(UNLOCK).await?;
            client.query_one(&statement, &[&self.tenant, &self.conversation]).await?.try_get::<_, bool>(0)
        });
        if !matches!(unlocked, Ok(true)) {
            // Closing the connection frees whatever it holds.
            tracing::warn!(tenant = %self.tenant, conversation = %self.conversation, ?unlocked,
                "a turn lock did not unlock; closing its connection");
            drop(deadpool_postgres::Object::take(client));
        }
    }
}
