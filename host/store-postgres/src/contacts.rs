//! One customer across channels: linked identities, and the conversation
//! that verified a phone or an email first.

use switchboard_core::event::DomainEvent;
use switchboard_store::StoreError;

use crate::PgStore;
use crate::scope::{execute, in_tenant, query_opt, read};
use crate::turns::{text_key, write_events};

const LINKED: &str = "SELECT conversation FROM identities WHERE tenant = $1 AND identity = $2";
const LINK: &str = "INSERT INTO identities (tenant, identity, conversation) VALUES ($1, $2, $3) \
     ON CONFLICT (tenant, identity) DO UPDATE SET conversation = EXCLUDED.conversation";
const CLAIM: &str = "INSERT INTO contact_points (tenant, kind, value, conversation) VALUES ($1, $2, $3, $4) \
     ON CONFLICT DO NOTHING";
const OWNER: &str = "SELECT conversation FROM contact_points WHERE tenant = $1 AND kind = $2 AND value = $3";

pub(crate) async fn linked(
    store: &PgStore,
    tenant: &str,
    identity: &str,
) -> Result<Option<String>, StoreError> {
    // An identity is a channel's id, which a provider chooses: kept as a
    // text column can hold it, like a message id.
    let identity = text_key(identity);
    let rows = read(store, tenant, LINKED, &[&tenant, &identity], "reading a linked identity").await?;
    Ok(rows.first().map(|row| row.get(0)))
}

pub(crate) async fn link(
    store: &PgStore,
    tenant: &str,
    identity: &str,
    conversation: &str,
    events: &[DomainEvent],
) -> Result<(), StoreError> {
    crate::turns::check_events(tenant, events)?;
    let identity = text_key(identity);
    in_tenant(store, tenant, async |tx| {
        execute(tx, LINK, &[&tenant, &identity, &conversation], "linking an identity").await?;
        write_events(tx, tenant, events).await
    })
    .await
}

pub(crate) async fn claim(
    store: &PgStore,
    tenant: &str,
    kind: &str,
    value: &str,
    conversation: &str,
) -> Result<String, StoreError> {
    in_tenant(store, tenant, async |tx| {
        let claimed = execute(
            tx,
            CLAIM,
            &[&tenant, &kind, &text_key(value), &conversation],
            "claiming a contact point",
        )
        .await?;
        if claimed == 1 {
            return Ok(conversation.to_owned());
        }
        // Another claim won: this statement, unlike the insert's, sees it.
        let owner =
            query_opt(tx, OWNER, &[&tenant, &kind, &text_key(value)], "reading a contact point").await?;
        Ok(owner.map(|row| row.get(0)).unwrap_or_default())
    })
    .await
}
