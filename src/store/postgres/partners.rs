//! [`PartnerStore`] on Postgres: the same tables and rules as the embedded store
//! (`sqlite/partners.rs`), so every replica sees the same partners. A change to a partner or its
//! secrets raises `partner_generation` in its transaction; replicas poll that one row.

use tokio_postgres::Transaction;

use super::{backend, PgStore};
use crate::store::partners::{
    json, AuditRecord, Changed, Edit, InviteGrant, InviteRecord, PartnerDoc, PartnerStore, Refused,
    SecretRecord, StoredPartner, Usage, UsageRow, USAGE_KEPT_SECS,
};
use crate::store::{BoxFuture, StoreError};

/// Opens a partner change: the generation row raised first, so its row lock serialises partner
/// changes (a rotation reads the live secrets, then writes them). The caller commits; a refused
/// change drops the transaction, and the raise with it.
async fn changing(
    conn: &mut super::Conn,
) -> Result<deadpool_postgres::Transaction<'_>, StoreError> {
    let tx = conn.transaction().await.map_err(backend)?;
    tx.execute(
        "UPDATE partner_generation SET generation = generation + 1 WHERE id = 1",
        &[],
    )
    .await
    .map_err(backend)?;
    Ok(tx)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

async fn insert_secret(
    tx: &Transaction<'_>,
    partner: &str,
    s: &SecretRecord,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO partner_secrets (id, partner, hash, created_at, expires_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&s.id, &partner, &s.hash, &s.created_at, &s.expires_at, &s.last_used_at],
    )
    .await
    .map_err(backend)?;
    Ok(())
}

impl PartnerStore for PgStore {
    fn generation(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let row = conn
                .query_one(
                    "SELECT generation FROM partner_generation WHERE id = 1",
                    &[],
                )
                .await
                .map_err(backend)?;
            Ok(to_u64(row.try_get(0).map_err(backend)?))
        })
    }

    fn id_taken<'a>(
        &'a self,
        id: &'a str,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let row = conn
                .query_opt(
                    "SELECT 1 FROM partners WHERE id = $1 OR client_id = $2",
                    &[&id, &client_id],
                )
                .await
                .map_err(backend)?;
            Ok(row.is_some())
        })
    }

    fn partners(&self) -> BoxFuture<'_, Result<(u64, Vec<StoredPartner>), StoreError>> {
        self.bounded(async move {
            let mut conn = self.conn().await?;
            // One snapshot: the generation and the rows it stands for.
            let tx = conn
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(backend)?;
            let g: i64 = tx
                .query_one(
                    "SELECT generation FROM partner_generation WHERE id = 1",
                    &[],
                )
                .await
                .map_err(backend)?
                .try_get(0)
                .map_err(backend)?;
            let docs = tx
                .query(
                    "SELECT doc FROM partners WHERE revoked_at IS NULL ORDER BY id",
                    &[],
                )
                .await
                .map_err(backend)?;
            let secrets = tx
                .query(
                    "SELECT partner, id, hash, created_at, expires_at, last_used_at FROM partner_secrets ORDER BY partner, created_at, seq",
                    &[],
                )
                .await
                .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            let mut out = Vec::with_capacity(docs.len());
            let secrets = secrets
                .iter()
                .map(|s| {
                    Ok((
                        s.try_get::<_, String>(0)?,
                        SecretRecord {
                            id: s.try_get(1)?,
                            hash: s.try_get(2)?,
                            created_at: s.try_get(3)?,
                            expires_at: s.try_get(4)?,
                            last_used_at: s.try_get(5)?,
                        },
                    ))
                })
                .collect::<Result<Vec<_>, tokio_postgres::Error>>()
                .map_err(backend)?;
            for row in docs {
                let doc: PartnerDoc =
                    serde_json::from_str(row.try_get::<_, &str>(0).map_err(backend)?)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let list = secrets
                    .iter()
                    .filter(|(p, _)| *p == doc.id)
                    .map(|(_, s)| s.clone())
                    .collect();
                out.push(StoredPartner { doc, secrets: list });
            }
            Ok((to_u64(g), out))
        })
    }

    fn insert_partner<'a>(
        &'a self,
        doc: &'a PartnerDoc,
        secret: Option<&'a SecretRecord>,
    ) -> BoxFuture<'a, Changed<()>> {
        self.bounded(async move {
            let mut conn = self.conn().await?;
            let tx = changing(&mut conn).await?;
            let taken = tx
                .query_opt(
                    "SELECT 1 FROM partners WHERE id = $1 OR client_id = $2",
                    &[&doc.id, &doc.client_id],
                )
                .await
                .map_err(backend)?;
            if taken.is_some() {
                return Ok(Err(Refused::Exists));
            }
            tx.execute(
                "INSERT INTO partners (id, client_id, doc) VALUES ($1, $2, $3)",
                &[&doc.id, &doc.client_id, &json(doc)?],
            )
            .await
            .map_err(backend)?;
            if let Some(s) = secret {
                insert_secret(&tx, &doc.id, s).await?;
            }
            tx.commit().await.map_err(backend)?;
            Ok(Ok(()))
        })
    }

    fn update_partner<'a>(&'a self, id: &'a str, edit: Edit) -> BoxFuture<'a, Changed<PartnerDoc>> {
        self.bounded(async move {
            let mut conn = self.conn().await?;
            // `changing` raises the generation first: its row lock makes every partner change,
            // on every replica, wait for this one, so the profile read here is the latest.
            let tx = changing(&mut conn).await?;
            let row = tx
                .query_opt(
                    "SELECT doc FROM partners WHERE id = $1 AND revoked_at IS NULL",
                    &[&id],
                )
                .await
                .map_err(backend)?;
            let Some(row) = row else {
                return Ok(Err(Refused::NotFound));
            };
            let mut doc: PartnerDoc =
                serde_json::from_str(row.try_get::<_, &str>(0).map_err(backend)?)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            edit(&mut doc);
            tx.execute(
                "UPDATE partners SET doc = $2 WHERE id = $1",
                &[&id, &json(&doc)?],
            )
            .await
            .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            Ok(Ok(doc))
        })
    }

    fn delete_partner<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Changed<()>> {
        self.bounded(async move {
            let mut conn = self.conn().await?;
            let tx = changing(&mut conn).await?;
            // A tombstone, not a delete: the id and client id are never given out again, so a
            // token issued to the revoked partner can never open a new partner's rights.
            let n = tx
                .execute(
                    "UPDATE partners SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                    &[&id, &chrono::Utc::now().timestamp()],
                )
                .await
                .map_err(backend)?;
            if n == 0 {
                return Ok(Err(Refused::NotFound));
            }
            tx.execute("DELETE FROM partner_secrets WHERE partner = $1", &[&id])
                .await
                .map_err(backend)?;
            // Its webhook subscriptions go too: the id never comes back, so their deliveries
            // would wait, held, forever.
            tx.execute(
                "WITH s AS (DELETE FROM webhook_subscriptions WHERE partner = $1 RETURNING id),
                      o AS (DELETE FROM webhook_outbox WHERE subscription_id IN (SELECT id FROM s))
                 DELETE FROM webhook_attempts WHERE subscription_id IN (SELECT id FROM s)",
                &[&id],
            )
            .await
            .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            Ok(Ok(()))
        })
    }

    fn add_secret<'a>(
        &'a self,
        partner: &'a str,
        secret: &'a SecretRecord,
        previous_expires_at: i64,
        now: i64,
    ) -> BoxFuture<'a, Changed<()>> {
        self.bounded(async move {
            let mut conn = self.conn().await?;
            let tx = changing(&mut conn).await?;
            let exists = tx
                .query_opt(
                    "SELECT 1 FROM partners WHERE id = $1 AND revoked_at IS NULL",
                    &[&partner],
                )
                .await
                .map_err(backend)?;
            if exists.is_none() {
                return Ok(Err(Refused::NotFound));
            }
            tx.execute(
                "DELETE FROM partner_secrets WHERE partner = $1 AND expires_at IS NOT NULL AND expires_at <= $2",
                &[&partner, &now],
            )
            .await
            .map_err(backend)?;
            let live = tx
                .query(
                    "SELECT id, expires_at FROM partner_secrets WHERE partner = $1 ORDER BY created_at DESC, seq DESC",
                    &[&partner],
                )
                .await
                .map_err(backend)?;
            for (i, row) in live.iter().enumerate() {
                // The newest stays live until `previous_expires_at`; older ones end now.
                let until = if i == 0 { previous_expires_at } else { now };
                let expires: Option<i64> = row.try_get(1).map_err(backend)?;
                let until = expires.map_or(until, |e| e.min(until));
                let id: &str = row.try_get(0).map_err(backend)?;
                tx.execute(
                    "UPDATE partner_secrets SET expires_at = $2 WHERE id = $1",
                    &[&id, &until],
                )
                .await
                .map_err(backend)?;
            }
            insert_secret(&tx, partner, secret).await?;
            tx.commit().await.map_err(backend)?;
            Ok(Ok(()))
        })
    }

    fn revoke_secret<'a>(
        &'a self,
        partner: &'a str,
        secret_id: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Changed<()>> {
        self.bounded(async move {
            let mut conn = self.conn().await?;
            let tx = changing(&mut conn).await?;
            let n = tx
                .execute(
                    "UPDATE partner_secrets SET expires_at = $3 WHERE partner = $1 AND id = $2",
                    &[&partner, &secret_id, &now],
                )
                .await
                .map_err(backend)?;
            if n == 0 {
                return Ok(Err(Refused::NotFound));
            }
            tx.commit().await.map_err(backend)?;
            Ok(Ok(()))
        })
    }

    fn record_secret_use<'a>(
        &'a self,
        uses: &'a [(String, i64)],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.bounded(async move {
            if uses.is_empty() {
                return Ok(());
            }
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await.map_err(backend)?;
            for (id, at) in uses {
                tx.execute(
                    "UPDATE partner_secrets SET last_used_at = GREATEST(COALESCE(last_used_at, 0), $2) WHERE id = $1",
                    &[id, at],
                )
                .await
                .map_err(backend)?;
            }
            tx.commit().await.map_err(backend)
        })
    }

    fn append_audit<'a>(&'a self, e: &'a AuditRecord) -> BoxFuture<'a, Result<(), StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            conn.execute(
                "INSERT INTO operator_audit (at_ms, actor, action, partner, status, detail) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&e.at_ms, &e.actor, &e.action, &e.partner, &i32::from(e.status), &e.detail.to_string()],
            )
            .await
            .map_err(backend)?;
            Ok(())
        })
    }

    fn audit<'a>(
        &'a self,
        partner: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<AuditRecord>, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = conn
                .query(
                    "SELECT seq, at_ms, actor, action, partner, status, detail FROM operator_audit WHERE $1::TEXT IS NULL OR partner = $1 ORDER BY seq DESC LIMIT $2",
                    &[&partner, &limit],
                )
                .await
                .map_err(backend)?;
            rows.iter()
                .map(|r| {
                    Ok(AuditRecord {
                        seq: r.try_get(0)?,
                        at_ms: r.try_get(1)?,
                        actor: r.try_get(2)?,
                        action: r.try_get(3)?,
                        partner: r.try_get(4)?,
                        status: u16::try_from(r.try_get::<_, i32>(5)?).unwrap_or(0),
                        detail: serde_json::from_str(r.try_get::<_, &str>(6)?)
                            .unwrap_or(serde_json::Value::Null),
                    })
                })
                .collect::<Result<Vec<_>, tokio_postgres::Error>>()
                .map_err(backend)
        })
    }

    fn add_usage<'a>(
        &'a self,
        rows: &'a [UsageRow],
        last_seen: &'a [(String, i64)],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.bounded(async move {
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await.map_err(backend)?;
            for r in rows {
                tx.execute(
                    "INSERT INTO partner_usage (partner, hour, status, requests, upstream_calls) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (partner, hour, status) DO UPDATE SET requests = partner_usage.requests + EXCLUDED.requests,
                     upstream_calls = partner_usage.upstream_calls + EXCLUDED.upstream_calls",
                    &[&r.partner, &r.hour, &i32::from(r.status), &to_i64(r.requests), &to_i64(r.upstream_calls)],
                )
                .await
                .map_err(backend)?;
            }
            for (p, at) in last_seen {
                tx.execute(
                    "INSERT INTO partner_last_seen (partner, at) VALUES ($1, $2)
                     ON CONFLICT (partner) DO UPDATE SET at = GREATEST(partner_last_seen.at, EXCLUDED.at)",
                    &[p, at],
                )
                .await
                .map_err(backend)?;
            }
            tx.execute(
                "DELETE FROM partner_usage WHERE hour < $1",
                &[&(chrono::Utc::now().timestamp() - USAGE_KEPT_SECS)],
            )
            .await
            .map_err(backend)?;
            tx.commit().await.map_err(backend)
        })
    }

    fn usage<'a>(
        &'a self,
        partner: &'a str,
        since_hour: i64,
    ) -> BoxFuture<'a, Result<Usage, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let rows = conn
                .query(
                    "SELECT hour, status, requests, upstream_calls FROM partner_usage WHERE partner = $1 AND hour >= $2 ORDER BY hour, status",
                    &[&partner, &since_hour],
                )
                .await
                .map_err(backend)?
                .iter()
                .map(|r| {
                    Ok(UsageRow {
                        partner: partner.to_string(),
                        hour: r.try_get(0)?,
                        status: u16::try_from(r.try_get::<_, i32>(1)?).unwrap_or(0),
                        requests: to_u64(r.try_get(2)?),
                        upstream_calls: to_u64(r.try_get(3)?),
                    })
                })
                .collect::<Result<Vec<_>, tokio_postgres::Error>>()
                .map_err(backend)?;
            let seen = conn
                .query_opt(
                    "SELECT at FROM partner_last_seen WHERE partner = $1",
                    &[&partner],
                )
                .await
                .map_err(backend)?
                .map(|r| r.try_get(0))
                .transpose()
                .map_err(backend)?;
            Ok((rows, seen))
        })
    }

    fn insert_invite<'a>(&'a self, i: &'a InviteRecord) -> BoxFuture<'a, Result<(), StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            conn.execute(
                "INSERT INTO partner_invites (token_hash, grant_doc, created_at, expires_at, consumed_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&i.token_hash, &json(&i.grant)?, &i.created_at, &i.expires_at, &i.consumed_at, &i.created_by],
            )
            .await
            .map_err(backend)?;
            Ok(())
        })
    }

    fn invite<'a>(
        &'a self,
        token_hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<InviteRecord>, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let row = conn
                .query_opt(
                    "SELECT token_hash, grant_doc, created_at, expires_at, consumed_at, created_by FROM partner_invites WHERE token_hash = $1",
                    &[&token_hash],
                )
                .await
                .map_err(backend)?;
            row.map(|r| {
                let grant: InviteGrant =
                    serde_json::from_str(r.try_get::<_, &str>(1).map_err(backend)?)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(InviteRecord {
                    token_hash: r.try_get(0).map_err(backend)?,
                    grant,
                    created_at: r.try_get(2).map_err(backend)?,
                    expires_at: r.try_get(3).map_err(backend)?,
                    consumed_at: r.try_get(4).map_err(backend)?,
                    created_by: r.try_get(5).map_err(backend)?,
                })
            })
            .transpose()
        })
    }

    fn consume_invite<'a>(
        &'a self,
        token_hash: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let n = conn
                .execute(
                    "UPDATE partner_invites SET consumed_at = $2 WHERE token_hash = $1 AND consumed_at IS NULL AND expires_at > $2",
                    &[&token_hash, &now],
                )
                .await
                .map_err(backend)?;
            Ok(n == 1)
        })
    }
}

/// `state migrate`: copies the embedded store's operator-made partners (profiles and tombstones),
/// their secret hashes, invites, usage, last seen and — on a first import only — the audit trail,
/// in one Postgres transaction, then raises the generation so running replicas reload. Rows
/// already there are left as they are; returns (table, rows copied).
pub async fn import_sqlite(
    pg: &PgStore,
    src: &rusqlite::Connection,
) -> Result<Vec<(&'static str, u64)>, StoreError> {
    // Everything is read first: the SQLite connection is not held across the Postgres awaits.
    let partners: Vec<(String, String, String, Option<i64>)> = read_all(
        src,
        "SELECT id, client_id, doc, revoked_at FROM partners ORDER BY id",
    )?;
    type Secret = (String, String, String, i64, Option<i64>, Option<i64>);
    let secrets: Vec<Secret> = read_all(
        src,
        "SELECT id, partner, hash, created_at, expires_at, last_used_at FROM partner_secrets
         ORDER BY created_at, rowid",
    )?;
    let invites: Vec<(String, String, i64, i64, Option<i64>, String)> = read_all(
        src,
        "SELECT token_hash, grant_doc, created_at, expires_at, consumed_at, created_by
         FROM partner_invites",
    )?;
    let audit: Vec<(i64, String, String, Option<String>, i64, String)> = read_all(
        src,
        "SELECT at_ms, actor, action, partner, status, detail FROM operator_audit ORDER BY seq",
    )?;
    let usage: Vec<(String, i64, i64, i64, i64)> = read_all(
        src,
        "SELECT partner, hour, status, requests, upstream_calls FROM partner_usage",
    )?;
    let seen: Vec<(String, i64)> = read_all(src, "SELECT partner, at FROM partner_last_seen")?;

    let status = |s: i64| i32::try_from(s).unwrap_or(0);
    let mut conn = pg.conn().await?;
    // Replicas reload the imported partners at their next poll.
    let tx = changing(&mut conn).await?;
    let (mut n_partners, mut n_secrets, mut n_invites, mut n_audit) = (0u64, 0u64, 0u64, 0u64);
    for p in &partners {
        n_partners += tx
            .execute(
                "INSERT INTO partners (id, client_id, doc, revoked_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[&p.0, &p.1, &p.2, &p.3],
            )
            .await
            .map_err(backend)?;
    }
    for s in &secrets {
        n_secrets += tx
            .execute(
                "INSERT INTO partner_secrets (id, partner, hash, created_at, expires_at, last_used_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[&s.0, &s.1, &s.2, &s.3, &s.4, &s.5],
            )
            .await
            .map_err(backend)?;
    }
    for i in &invites {
        n_invites += tx
            .execute(
                "INSERT INTO partner_invites (token_hash, grant_doc, created_at, expires_at, consumed_at, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[&i.0, &i.1, &i.2, &i.3, &i.4, &i.5],
            )
            .await
            .map_err(backend)?;
    }
    for u in &usage {
        tx.execute(
            "INSERT INTO partner_usage (partner, hour, status, requests, upstream_calls)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[&u.0, &u.1, &status(u.2), &u.3, &u.4],
        )
        .await
        .map_err(backend)?;
    }
    for (partner, at) in &seen {
        tx.execute(
            "INSERT INTO partner_last_seen (partner, at) VALUES ($1, $2)
             ON CONFLICT (partner) DO UPDATE SET at = GREATEST(partner_last_seen.at, EXCLUDED.at)",
            &[partner, at],
        )
        .await
        .map_err(backend)?;
    }
    // Only on a first import: a second one would record every call twice.
    let logged: i64 = tx
        .query_one("SELECT count(*) FROM operator_audit", &[])
        .await
        .map_err(backend)?
        .try_get(0)
        .map_err(backend)?;
    if logged == 0 {
        for a in &audit {
            n_audit += tx
                .execute(
                    "INSERT INTO operator_audit (at_ms, actor, action, partner, status, detail)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[&a.0, &a.1, &a.2, &a.3, &status(a.4), &a.5],
                )
                .await
                .map_err(backend)?;
        }
    }
    tx.commit().await.map_err(backend)?;
    Ok(vec![
        ("partners", n_partners),
        ("partner_secrets", n_secrets),
        ("partner_invites", n_invites),
        ("operator_audit", n_audit),
    ])
}

/// Every row `sql` answers from the embedded store, each as a tuple of its columns.
fn read_all<T>(src: &rusqlite::Connection, sql: &str) -> Result<Vec<T>, StoreError>
where
    T: for<'r> TryFrom<&'r rusqlite::Row<'r>, Error = rusqlite::Error>,
{
    src.prepare(sql)
        .and_then(|mut stmt| stmt.query_map([], |row| T::try_from(row))?.collect())
        .map_err(|e| StoreError::Backend(format!("reading SQLite: {e}")))
}
