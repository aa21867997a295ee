//! [`PartnerStore`] on the embedded SQLite file: partners (profile as JSON), their secrets, the
//! shared generation, the operator audit trail, hourly usage and invites.

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::{backend, SqliteStore};
use crate::store::partners::{
    json, AuditRecord, Changed, Edit, InviteGrant, InviteRecord, PartnerDoc, PartnerStore, Refused,
    SecretRecord, StoredPartner, Usage, UsageRow, USAGE_KEPT_SECS,
};
use crate::store::{BoxFuture, StoreError};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS partners (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL UNIQUE,
    doc        TEXT NOT NULL,
    revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS partner_secrets (
    id           TEXT PRIMARY KEY,
    partner      TEXT NOT NULL,
    hash         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER
);
CREATE INDEX IF NOT EXISTS partner_secrets_partner ON partner_secrets (partner, created_at);
CREATE TABLE IF NOT EXISTS partner_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT OR IGNORE INTO partner_generation (id, generation) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS operator_audit (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms   INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    partner TEXT,
    status  INTEGER NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS operator_audit_partner ON operator_audit (partner, seq);
CREATE TABLE IF NOT EXISTS partner_usage (
    partner        TEXT NOT NULL,
    hour           INTEGER NOT NULL,
    status         INTEGER NOT NULL,
    requests       INTEGER NOT NULL,
    upstream_calls INTEGER NOT NULL,
    PRIMARY KEY (partner, hour, status)
);
CREATE TABLE IF NOT EXISTS partner_last_seen (
    partner TEXT PRIMARY KEY,
    at      INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS partner_invites (
    token_hash  TEXT PRIMARY KEY,
    grant_doc   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    consumed_at INTEGER,
    created_by  TEXT NOT NULL
);
";

/// One partner change in one immediate transaction: `change` runs in it and, when it is not
/// refused, the generation is raised and the whole committed (a refusal rolls back).
fn changing<T>(
    c: &mut Connection,
    change: impl FnOnce(&Transaction<'_>) -> Changed<T>,
) -> Changed<T> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    let done = match change(&tx)? {
        Ok(done) => done,
        Err(refused) => return Ok(Err(refused)),
    };
    bump(&tx)?;
    tx.commit().map_err(backend)?;
    Ok(Ok(done))
}

fn bump(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE partner_generation SET generation = generation + 1 WHERE id = 1",
        [],
    )
    .map_err(backend)?;
    Ok(())
}

fn exists(tx: &Connection, id: &str) -> Result<bool, StoreError> {
    tx.query_row(
        "SELECT 1 FROM partners WHERE id = ?1 AND revoked_at IS NULL",
        [id],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
    .map_err(backend)
}

fn insert_secret(tx: &Connection, partner: &str, s: &SecretRecord) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO partner_secrets (id, partner, hash, created_at, expires_at, last_used_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![s.id, partner, s.hash, s.created_at, s.expires_at, s.last_used_at],
    )
    .map_err(backend)?;
    Ok(())
}

fn generation(conn: &Connection) -> Result<u64, StoreError> {
    conn.query_row(
        "SELECT generation FROM partner_generation WHERE id = 1",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|g| u64::try_from(g).unwrap_or(0))
    .map_err(backend)
}

fn invite_row(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(String, String, i64, i64, Option<i64>, String)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

impl PartnerStore for SqliteStore {
    fn generation(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.run(|c| generation(c))
    }

    fn id_taken<'a>(
        &'a self,
        id: &'a str,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let (id, client_id) = (id.to_string(), client_id.to_string());
        self.run(move |c| {
            c.query_row(
                "SELECT 1 FROM partners WHERE id = ?1 OR client_id = ?2",
                [&id, &client_id],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(backend)
        })
    }

    fn partners(&self) -> BoxFuture<'_, Result<(u64, Vec<StoredPartner>), StoreError>> {
        self.run(|c| {
            let tx = c.transaction().map_err(backend)?;
            let g = generation(&tx)?;
            let mut out = Vec::new();
            {
                let mut st = tx
                    .prepare("SELECT doc FROM partners WHERE revoked_at IS NULL ORDER BY id")
                    .map_err(backend)?;
                let docs = st
                    .query_map([], |r| r.get::<_, String>(0))
                    .map_err(backend)?;
                let mut secrets = tx
                    .prepare("SELECT id, hash, created_at, expires_at, last_used_at FROM partner_secrets WHERE partner = ?1 ORDER BY created_at, rowid")
                    .map_err(backend)?;
                for doc in docs {
                    let doc: PartnerDoc = serde_json::from_str(&doc.map_err(backend)?)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    let list = secrets
                        .query_map([&doc.id], |r| {
                            Ok(SecretRecord {
                                id: r.get(0)?,
                                hash: r.get(1)?,
                                created_at: r.get(2)?,
                                expires_at: r.get(3)?,
                                last_used_at: r.get(4)?,
                            })
                        })
                        .map_err(backend)?
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(backend)?;
                    out.push(StoredPartner { doc, secrets: list });
                }
            }
            tx.commit().map_err(backend)?;
            Ok((g, out))
        })
    }

    fn insert_partner<'a>(
        &'a self,
        doc: &'a PartnerDoc,
        secret: Option<&'a SecretRecord>,
    ) -> BoxFuture<'a, Changed<()>> {
        let (doc, secret) = (doc.clone(), secret.cloned());
        self.run(move |c| {
            changing(c, |tx| {
                let taken = tx
                    .query_row(
                        "SELECT 1 FROM partners WHERE id = ?1 OR client_id = ?2",
                        params![doc.id, doc.client_id],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(backend)?;
                if taken.is_some() {
                    return Ok(Err(Refused::Exists));
                }
                tx.execute(
                    "INSERT INTO partners (id, client_id, doc) VALUES (?1, ?2, ?3)",
                    params![doc.id, doc.client_id, json(&doc)?],
                )
                .map_err(backend)?;
                if let Some(s) = &secret {
                    insert_secret(tx, &doc.id, s)?;
                }
                Ok(Ok(()))
            })
        })
    }

    fn update_partner<'a>(&'a self, id: &'a str, edit: Edit) -> BoxFuture<'a, Changed<PartnerDoc>> {
        let id = id.to_string();
        self.run(move |c| {
            // IMMEDIATE: the write lock is taken before the read, so no other change runs between.
            changing(c, |tx| {
                let stored: Option<String> = tx
                    .query_row(
                        "SELECT doc FROM partners WHERE id = ?1 AND revoked_at IS NULL",
                        [&id],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(backend)?;
                let Some(stored) = stored else {
                    return Ok(Err(Refused::NotFound));
                };
                let mut doc: PartnerDoc = serde_json::from_str(&stored)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                edit(&mut doc);
                tx.execute(
                    "UPDATE partners SET doc = ?2 WHERE id = ?1",
                    params![id, json(&doc)?],
                )
                .map_err(backend)?;
                Ok(Ok(doc))
            })
        })
    }

    fn delete_partner<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Changed<()>> {
        let id = id.to_string();
        self.run(move |c| {
            changing(c, |tx| {
                // A tombstone, not a delete: the id and client id are never given out again, so a
                // token issued to the revoked partner can never open a new partner's rights.
                let n = tx
                    .execute(
                        "UPDATE partners SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                        params![id, chrono::Utc::now().timestamp()],
                    )
                    .map_err(backend)?;
                if n == 0 {
                    return Ok(Err(Refused::NotFound));
                }
                tx.execute("DELETE FROM partner_secrets WHERE partner = ?1", [&id])
                    .map_err(backend)?;
                // Its webhook subscriptions go too: the id never comes back, so their deliveries
                // would wait, held, forever.
                for sql in [
                    "DELETE FROM webhook_attempts WHERE subscription_id IN (SELECT id FROM webhook_subscriptions WHERE partner = ?1)",
                    "DELETE FROM webhook_outbox WHERE subscription_id IN (SELECT id FROM webhook_subscriptions WHERE partner = ?1)",
                    "DELETE FROM webhook_subscriptions WHERE partner = ?1",
                ] {
                    tx.execute(sql, [&id]).map_err(backend)?;
                }
                Ok(Ok(()))
            })
        })
    }

    fn add_secret<'a>(
        &'a self,
        partner: &'a str,
        secret: &'a SecretRecord,
        previous_expires_at: i64,
        now: i64,
    ) -> BoxFuture<'a, Changed<()>> {
        let (partner, secret) = (partner.to_string(), secret.clone());
        self.run(move |c| {
            changing(c, |tx| {
                if !exists(tx, &partner)? {
                    return Ok(Err(Refused::NotFound));
                }
                tx.execute(
                    "DELETE FROM partner_secrets WHERE partner = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2",
                    params![partner, now],
                )
                .map_err(backend)?;
                let live: Vec<(String, Option<i64>)> = {
                    let mut st = tx
                        .prepare("SELECT id, expires_at FROM partner_secrets WHERE partner = ?1 ORDER BY created_at DESC, rowid DESC")
                        .map_err(backend)?;
                    let rows = st
                        .query_map([&partner], |r| Ok((r.get(0)?, r.get(1)?)))
                        .map_err(backend)?;
                    rows.collect::<Result<_, _>>().map_err(backend)?
                };
                for (i, (id, expires)) in live.iter().enumerate() {
                    // The newest stays live until `previous_expires_at`; older ones end now.
                    let until = if i == 0 { previous_expires_at } else { now };
                    let until = expires.map_or(until, |e| e.min(until));
                    tx.execute(
                        "UPDATE partner_secrets SET expires_at = ?2 WHERE id = ?1",
                        params![id, until],
                    )
                    .map_err(backend)?;
                }
                insert_secret(tx, &partner, &secret)?;
                Ok(Ok(()))
            })
        })
    }

    fn revoke_secret<'a>(
        &'a self,
        partner: &'a str,
        secret_id: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Changed<()>> {
        let (partner, secret_id) = (partner.to_string(), secret_id.to_string());
        self.run(move |c| {
            changing(c, |tx| {
                let n = tx
                    .execute(
                        "UPDATE partner_secrets SET expires_at = ?3 WHERE partner = ?1 AND id = ?2",
                        params![partner, secret_id, now],
                    )
                    .map_err(backend)?;
                if n == 0 {
                    return Ok(Err(Refused::NotFound));
                }
                Ok(Ok(()))
            })
        })
    }

    fn record_secret_use<'a>(
        &'a self,
        uses: &'a [(String, i64)],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let uses = uses.to_vec();
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            for (id, at) in &uses {
                tx.execute(
                    "UPDATE partner_secrets SET last_used_at = max(coalesce(last_used_at, 0), ?2) WHERE id = ?1",
                    params![id, at],
                )
                .map_err(backend)?;
            }
            tx.commit().map_err(backend)
        })
    }

    fn append_audit<'a>(&'a self, e: &'a AuditRecord) -> BoxFuture<'a, Result<(), StoreError>> {
        let e = e.clone();
        self.run(move |c| {
            c.execute(
                "INSERT INTO operator_audit (at_ms, actor, action, partner, status, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![e.at_ms, e.actor, e.action, e.partner, e.status, e.detail.to_string()],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    fn audit<'a>(
        &'a self,
        partner: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<AuditRecord>, StoreError>> {
        let partner = partner.map(str::to_string);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |c| {
            let mut st = c
                .prepare("SELECT seq, at_ms, actor, action, partner, status, detail FROM operator_audit WHERE ?1 IS NULL OR partner = ?1 ORDER BY seq DESC LIMIT ?2")
                .map_err(backend)?;
            let rows = st
                .query_map(params![partner, limit], |r| {
                    let detail: String = r.get(6)?;
                    Ok(AuditRecord {
                        seq: r.get(0)?,
                        at_ms: r.get(1)?,
                        actor: r.get(2)?,
                        action: r.get(3)?,
                        partner: r.get(4)?,
                        status: r.get(5)?,
                        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                    })
                })
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
    }

    fn add_usage<'a>(
        &'a self,
        rows: &'a [UsageRow],
        last_seen: &'a [(String, i64)],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let (rows, seen) = (rows.to_vec(), last_seen.to_vec());
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            for r in &rows {
                tx.execute(
                    "INSERT INTO partner_usage (partner, hour, status, requests, upstream_calls) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (partner, hour, status) DO UPDATE SET requests = requests + excluded.requests, upstream_calls = upstream_calls + excluded.upstream_calls",
                    params![r.partner, r.hour, r.status, i64::try_from(r.requests).unwrap_or(i64::MAX), i64::try_from(r.upstream_calls).unwrap_or(i64::MAX)],
                )
                .map_err(backend)?;
            }
            for (p, at) in &seen {
                tx.execute(
                    "INSERT INTO partner_last_seen (partner, at) VALUES (?1, ?2)
                     ON CONFLICT (partner) DO UPDATE SET at = max(at, excluded.at)",
                    params![p, at],
                )
                .map_err(backend)?;
            }
            tx.execute(
                "DELETE FROM partner_usage WHERE hour < ?1",
                [chrono::Utc::now().timestamp() - USAGE_KEPT_SECS],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
    }

    fn usage<'a>(
        &'a self,
        partner: &'a str,
        since_hour: i64,
    ) -> BoxFuture<'a, Result<Usage, StoreError>> {
        let partner = partner.to_string();
        self.run(move |c| {
            let mut st = c
                .prepare("SELECT hour, status, requests, upstream_calls FROM partner_usage WHERE partner = ?1 AND hour >= ?2 ORDER BY hour, status")
                .map_err(backend)?;
            let rows = st
                .query_map(params![partner, since_hour], |r| {
                    Ok(UsageRow {
                        partner: partner.clone(),
                        hour: r.get(0)?,
                        status: r.get(1)?,
                        requests: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                        upstream_calls: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                    })
                })
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            let seen = c
                .query_row(
                    "SELECT at FROM partner_last_seen WHERE partner = ?1",
                    [&partner],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            Ok((rows, seen))
        })
    }

    fn insert_invite<'a>(
        &'a self,
        invite: &'a InviteRecord,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let i = invite.clone();
        self.run(move |c| {
            c.execute(
                "INSERT INTO partner_invites (token_hash, grant_doc, created_at, expires_at, consumed_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![i.token_hash, json(&i.grant)?, i.created_at, i.expires_at, i.consumed_at, i.created_by],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    fn invite<'a>(
        &'a self,
        token_hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<InviteRecord>, StoreError>> {
        let h = token_hash.to_string();
        self.run(move |c| {
            let row = c
                .query_row(
                    "SELECT token_hash, grant_doc, created_at, expires_at, consumed_at, created_by FROM partner_invites WHERE token_hash = ?1",
                    [&h],
                    invite_row,
                )
                .optional()
                .map_err(backend)?;
            row.map(|(token_hash, grant, created_at, expires_at, consumed_at, created_by)| {
                let grant: InviteGrant = serde_json::from_str(&grant)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(InviteRecord {
                    token_hash,
                    grant,
                    created_at,
                    expires_at,
                    consumed_at,
                    created_by,
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
        let h = token_hash.to_string();
        self.run(move |c| {
            let n = c
                .execute(
                    "UPDATE partner_invites SET consumed_at = ?2 WHERE token_hash = ?1 AND consumed_at IS NULL AND expires_at > ?2",
                    params![h, now],
                )
                .map_err(backend)?;
            Ok(n == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::partners::hour_of;

    fn doc(id: &str) -> PartnerDoc {
        crate::store::partners::test_doc(id)
    }

    fn secret(id: &str, created_at: i64) -> SecretRecord {
        SecretRecord {
            id: id.into(),
            hash: "h".into(),
            created_at,
            expires_at: None,
            last_used_at: None,
        }
    }

    #[tokio::test]
    async fn an_edit_applies_to_the_profile_as_stored() {
        let dir = tempfile::tempdir().expect("dir");
        let store =
            SqliteStore::open(dir.path(), std::time::Duration::from_secs(60)).expect("open");
        store
            .insert_partner(&doc("a"), None)
            .await
            .expect("insert")
            .expect("ok");
        // Two operators read the profile, then each changes one field: the second edit lands on
        // the profile the first one wrote, not on the copy its operator read before.
        store
            .update_partner("a", Box::new(|d| d.disabled = true))
            .await
            .expect("update")
            .expect("ok");
        let written = store
            .update_partner("a", Box::new(|d| d.name = "Renamed".into()))
            .await
            .expect("update")
            .expect("ok");
        assert!(written.disabled && written.name == "Renamed", "{written:?}");
        let (_, all) = store.partners().await.expect("partners");
        assert_eq!(all[0].doc, written);
        assert_eq!(
            store
                .update_partner("zz", Box::new(|d| d.disabled = true))
                .await
                .expect("update"),
            Err(Refused::NotFound)
        );
    }

    #[tokio::test]
    async fn generation_moves_with_changes_rotation_keeps_two_and_usage_is_pruned() {
        let dir = tempfile::tempdir().expect("dir");
        let store =
            SqliteStore::open(dir.path(), std::time::Duration::from_secs(60)).expect("open");
        let g0 = store.generation().await.expect("g");
        assert_eq!(
            store
                .insert_partner(&doc("a"), Some(&secret("s1", 10)))
                .await
                .expect("insert"),
            Ok(())
        );
        assert_eq!(
            store.insert_partner(&doc("a"), None).await.expect("again"),
            Err(Refused::Exists)
        );
        assert!(store.generation().await.expect("g") > g0);
        // Two rotations in one second: the newest live one expires later, older ones at once.
        store
            .add_secret("a", &secret("s2", 10), 1_000, 10)
            .await
            .expect("add")
            .expect("ok");
        store
            .add_secret("a", &secret("s3", 10), 2_000, 10)
            .await
            .expect("add")
            .expect("ok");
        let (_, all) = store.partners().await.expect("partners");
        let ex: Vec<(String, Option<i64>)> = all[0]
            .secrets
            .iter()
            .map(|s| (s.id.clone(), s.expires_at))
            .collect();
        assert_eq!(
            ex,
            vec![
                ("s1".into(), Some(10)),
                ("s2".into(), Some(2_000)),
                ("s3".into(), None)
            ]
        );
        assert_eq!(
            store.delete_partner("zz").await.expect("delete"),
            Err(Refused::NotFound)
        );

        let now = chrono::Utc::now().timestamp();
        let row = |hour| UsageRow {
            partner: "a".into(),
            hour,
            status: 200,
            requests: 2,
            upstream_calls: 1,
        };
        let old = hour_of(now) - 9 * 86_400;
        store
            .add_usage(&[row(old), row(hour_of(now))], &[("a".into(), now)])
            .await
            .expect("usage");
        store
            .add_usage(&[row(hour_of(now))], &[])
            .await
            .expect("usage");
        let (rows, seen) = store.usage("a", 0).await.expect("usage");
        assert_eq!(rows.len(), 1, "the 9-day-old hour is dropped");
        assert_eq!(rows[0].requests, 4, "counts add up");
        assert_eq!(seen, Some(now));
    }

    #[tokio::test]
    async fn an_invite_is_consumed_once_and_not_after_expiry() {
        let dir = tempfile::tempdir().expect("dir");
        let store =
            SqliteStore::open(dir.path(), std::time::Duration::from_secs(60)).expect("open");
        let invite = |hash: &str, expires_at| InviteRecord {
            token_hash: hash.into(),
            grant: InviteGrant::Partner("a".into()),
            created_at: 0,
            expires_at,
            consumed_at: None,
            created_by: "t".into(),
        };
        store
            .insert_invite(&invite("h1", 100))
            .await
            .expect("insert");
        store
            .insert_invite(&invite("h2", 100))
            .await
            .expect("insert");
        assert!(store.consume_invite("h1", 50).await.expect("consume"));
        assert!(!store.consume_invite("h1", 50).await.expect("again"));
        assert!(!store.consume_invite("h2", 100).await.expect("expired"));
        let got = store.invite("h1").await.expect("read").expect("found");
        assert_eq!(got.consumed_at, Some(50));
        assert_eq!(got.grant, InviteGrant::Partner("a".into()));
    }
}
