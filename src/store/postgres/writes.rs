//! Hires on Postgres: idempotency records and write plans shared by every replica
//! (`migrations/postgres/0002_writes.sql`), with the embedded store's semantics. A key in flight
//! and an open plan are leased to one replica (`holder`, `lease_until` on the database's clock):
//! `begin` is one `INSERT … ON CONFLICT` (the row lock makes it atomic across replicas), every
//! journal write is one statement fenced by `holder` (a replica whose lease was taken over can no
//! longer write, so it can no longer call HR for that plan: a journal write precedes every call),
//! and a claim is an `UPDATE … FOR UPDATE SKIP LOCKED` of expired leases.
//!
//! Queries per hire: `begin` 1, `save_plan` 1, one per journal write, the last of which records
//! the key's outcome (counted by `state_store_queries_total{op}`).

use serde_json::Value;
use uuid::Uuid;

use super::{backend, queries, PgStore};
use crate::store::{Begin, BoxFuture, Outcome, PlanRecord, PlanUpdate, StoreError, WriteStore};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl PgStore {
    fn lease_secs_f64(&self) -> f64 {
        self.lease().as_secs_f64()
    }

    /// The steps of `ids`' plans, in step order, as `(plan, doc)`.
    async fn steps_of(
        &self,
        conn: &super::Conn,
        ids: &[Uuid],
    ) -> Result<Vec<(Uuid, Value)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        queries("plan_steps", 1);
        let rows = conn
            .query(
                "SELECT plan, doc FROM plan_steps WHERE plan = ANY($1) ORDER BY plan, idx",
                &[&ids],
            )
            .await
            .map_err(super::pg)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0).map_err(corrupt)?,
                    r.try_get(1).map_err(corrupt)?,
                ))
            })
            .collect()
    }

    async fn records(
        &self,
        conn: &super::Conn,
        rows: Vec<tokio_postgres::Row>,
    ) -> Result<Vec<PlanRecord>, StoreError> {
        let mut plans = rows
            .iter()
            .map(|r| {
                Ok(PlanRecord {
                    id: r.try_get(0).map_err(corrupt)?,
                    partner: r.try_get(1).map_err(corrupt)?,
                    key: r.try_get(2).map_err(corrupt)?,
                    open: true,
                    doc: r.try_get(3).map_err(corrupt)?,
                    steps: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let ids: Vec<Uuid> = plans.iter().map(|p| p.id).collect();
        for (plan, doc) in self.steps_of(conn, &ids).await? {
            if let Some(p) = plans.iter_mut().find(|p| p.id == plan) {
                p.steps.push(doc);
            }
        }
        Ok(plans)
    }
}

impl WriteStore for PgStore {
    fn begin<'a>(
        &'a self,
        partner: &'a str,
        key: &'a str,
        fingerprint: &'a str,
    ) -> BoxFuture<'a, Result<Begin, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let ttl = self.ttl().as_secs_f64();
            let lease = self.lease_secs_f64();
            let holder = self.replica();
            // A row deleted between the two statements (released meanwhile) is tried again.
            for _ in 0..3 {
                queries("begin", 1);
                // Fresh, expired, or in flight for a request that died before writing anything
                // (lease expired, no open plan): this request's now. Never while a plan of the
                // key is open, expired or not (an undo still pending keeps its key). The conflicting row is locked
                // by the upsert, so two replicas never both start one key.
                let started = conn
                    .query_opt(
                        "INSERT INTO idempotency AS i
                             (partner, key, fingerprint, state, outcome, expires_at, holder, lease_until)
                         VALUES ($1, $2, $3, 'in_flight', NULL, now() + make_interval(secs => $4),
                                 $5, now() + make_interval(secs => $6))
                         ON CONFLICT (partner, key) DO UPDATE SET
                             fingerprint = EXCLUDED.fingerprint, state = 'in_flight', outcome = NULL,
                             expires_at = EXCLUDED.expires_at, holder = EXCLUDED.holder,
                             lease_until = EXCLUDED.lease_until
                         WHERE (i.expires_at <= now()
                                AND NOT EXISTS (SELECT 1 FROM plans p
                                                WHERE p.partner = i.partner AND p.key = i.key AND p.open))
                            OR (i.state = 'in_flight' AND i.fingerprint = EXCLUDED.fingerprint
                                AND i.lease_until <= now()
                                AND NOT EXISTS (SELECT 1 FROM plans p
                                                WHERE p.partner = i.partner AND p.key = i.key AND p.open))
                         RETURNING 1",
                        &[&partner, &key, &fingerprint, &ttl, &holder, &lease],
                    )
                    .await
                    .map_err(super::pg)?;
                if started.is_some() {
                    return Ok(Begin::Started);
                }
                queries("begin", 1);
                let Some(row) = conn
                    .query_opt(
                        "SELECT fingerprint, state, outcome FROM idempotency
                         WHERE partner = $1 AND key = $2",
                        &[&partner, &key],
                    )
                    .await
                    .map_err(super::pg)?
                else {
                    continue;
                };
                let fp: String = row.try_get(0).map_err(corrupt)?;
                let state: String = row.try_get(1).map_err(corrupt)?;
                return if fp != fingerprint {
                    Ok(Begin::Mismatch)
                } else if state == "completed" {
                    let outcome: Option<Value> = row.try_get(2).map_err(corrupt)?;
                    let outcome = outcome.ok_or_else(|| corrupt("completed without outcome"))?;
                    Ok(Begin::Replay(
                        serde_json::from_value::<Outcome>(outcome).map_err(corrupt)?,
                    ))
                } else {
                    Ok(Begin::InFlight)
                };
            }
            Err(backend("idempotency record kept changing while being read"))
        })
    }

    fn release<'a>(
        &'a self,
        partner: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.bounded(async move {
            let mut conn = self.conn().await?;
            queries("release", 2);
            let tx = conn.transaction().await.map_err(super::pg)?;
            // Only the holder's: a key another replica took over is that replica's to release.
            // Locked first, so a `save_plan` of the key still committing (its caller saw it fail:
            // the reply was lost) has committed or not when the next statement looks for its plan.
            let held = tx
                .query_opt(
                    "SELECT 1 FROM idempotency
                     WHERE partner = $1 AND key = $2 AND state = 'in_flight' AND holder = $3
                     FOR UPDATE",
                    &[&partner, &key, &self.replica()],
                )
                .await
                .map_err(super::pg)?;
            if held.is_none() {
                // Not this replica's (taken over after its lease ran out, or gone): "released" only
                // if no plan of the key is open, which another replica may be running.
                let none_open: bool = tx
                    .query_one(
                        "SELECT NOT EXISTS (SELECT 1 FROM plans
                                            WHERE partner = $1 AND key = $2 AND open)",
                        &[&partner, &key],
                    )
                    .await
                    .map_err(super::pg)?
                    .try_get(0)
                    .map_err(super::pg)?;
                return Ok(none_open);
            }
            // Never while a plan of the key is open: it may write (or have written) HR's rows,
            // so the key stays its plan's until recovery completes or undoes it.
            let freed = tx
                .execute(
                    "DELETE FROM idempotency i
                     WHERE partner = $1 AND key = $2 AND state = 'in_flight' AND holder = $3
                       AND NOT EXISTS (SELECT 1 FROM plans p
                                       WHERE p.partner = i.partner AND p.key = i.key AND p.open)",
                    &[&partner, &key, &self.replica()],
                )
                .await
                .map_err(super::pg)?;
            tx.commit().await.map_err(super::pg)?;
            Ok(freed > 0)
        })
    }

    fn save_plan<'a>(&'a self, plan: &'a PlanRecord) -> BoxFuture<'a, Result<(), StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let steps: Vec<&Value> = plan.steps.iter().collect();
            let n = i32::try_from(steps.len()).map_err(backend)?;
            queries("save_plan", 1);
            // One statement: the plan exists only if this replica still holds its key.
            let row = conn
                .query_one(
                    "WITH fence AS (
                         SELECT 1 FROM idempotency
                         WHERE partner = $2::text AND key = $3::text AND state = 'in_flight'
                           AND holder = $6::uuid
                         FOR UPDATE),
                     p AS (
                         INSERT INTO plans (id, partner, key, open, doc, updated_at, holder, lease_until)
                         SELECT $1::uuid, $2::text, $3::text, $4::boolean, $5::jsonb, now(), $6::uuid,
                                now() + make_interval(secs => $7::float8)
                         FROM fence
                         ON CONFLICT (id) DO UPDATE SET open = EXCLUDED.open, doc = EXCLUDED.doc,
                             updated_at = now(), holder = EXCLUDED.holder,
                             lease_until = EXCLUDED.lease_until
                         RETURNING id),
                     stale AS (DELETE FROM plan_steps WHERE plan IN (SELECT id FROM p) AND idx >= $9::int),
                     s AS (
                         INSERT INTO plan_steps (plan, idx, doc)
                         SELECT p.id, (t.i - 1)::int, t.d
                         FROM p, unnest($8::jsonb[]) WITH ORDINALITY AS t(d, i)
                         ON CONFLICT (plan, idx) DO UPDATE SET doc = EXCLUDED.doc)
                     SELECT count(*) FROM p",
                    &[
                        &plan.id,
                        &plan.partner,
                        &plan.key,
                        &plan.open,
                        &plan.doc,
                        &self.replica(),
                        &self.lease_secs_f64(),
                        &steps,
                        &n,
                    ],
                )
                .await
                .map_err(super::pg)?;
            let saved: i64 = row.try_get(0).map_err(corrupt)?;
            if saved == 0 {
                // Nothing was written upstream yet: the caller may retry later.
                return Err(StoreError::Unavailable(format!(
                    "plan {}: its idempotency key is no longer held by this replica (lease expired)",
                    plan.id
                )));
            }
            Ok(())
        })
    }

    fn save_progress<'a>(
        &'a self,
        update: &'a PlanUpdate,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let open = update.plan.as_ref().map(|(open, _)| *open);
            let doc = update.plan.as_ref().map(|(_, doc)| doc);
            let idx = match &update.step {
                Some((i, _)) => i32::try_from(*i).map_err(backend)?,
                None => 0,
            };
            let step = update.step.as_ref().map(|(_, doc)| doc);
            let outcome = match &update.outcome {
                Some(o) => Some(serde_json::to_value(o).map_err(backend)?),
                None => None,
            };
            queries("save_progress", 1);
            // One statement, fenced by the holder; a plan that closes keeps no steps (nor the
            // personal fields a pending step's body holds), and one that closes completed records
            // its key's outcome with it.
            let row = conn
                .query_one(
                    "WITH p AS (
                         UPDATE plans SET open = COALESCE($2::boolean, open),
                             doc = COALESCE($3::jsonb, doc),
                             updated_at = now(), lease_until = now() + make_interval(secs => $4)
                         WHERE id = $1 AND holder = $5
                         RETURNING id, open, partner, key),
                     s AS (
                         INSERT INTO plan_steps (plan, idx, doc)
                         SELECT id, $6::int, $7::jsonb FROM p WHERE open AND $7::jsonb IS NOT NULL
                         ON CONFLICT (plan, idx) DO UPDATE SET doc = EXCLUDED.doc),
                     d AS (DELETE FROM plan_steps WHERE plan IN (SELECT id FROM p WHERE NOT open)),
                     k AS (
                         UPDATE idempotency i SET state = 'completed', outcome = $8::jsonb
                         FROM p WHERE $8::jsonb IS NOT NULL
                           AND i.partner = p.partner AND i.key = p.key AND i.state = 'in_flight'
                           AND i.holder = $5)
                     SELECT count(*) FROM p",
                    &[
                        &update.id,
                        &open,
                        &doc,
                        &self.lease_secs_f64(),
                        &self.replica(),
                        &idx,
                        &step,
                        &outcome,
                    ],
                )
                .await
                .map_err(super::pg)?;
            let changed: i64 = row.try_get(0).map_err(corrupt)?;
            if changed == 0 {
                return Err(backend(format!(
                    "plan {} is not held by this replica (its lease expired and another replica took it over, or it is gone)",
                    update.id
                )));
            }
            Ok(())
        })
    }

    fn open_plans(&self) -> BoxFuture<'_, Result<Vec<PlanRecord>, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            queries("open_plans", 1);
            let rows = conn
                .query(
                    "SELECT id, partner, key, doc FROM plans WHERE open ORDER BY updated_at, id",
                    &[],
                )
                .await
                .map_err(super::pg)?;
            self.records(&conn, rows).await
        })
    }

    fn renew<'a>(
        &'a self,
        plans: &'a [Uuid],
        keys: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let partners: Vec<&str> = keys.iter().map(|(p, _)| p.as_str()).collect();
            let names: Vec<&str> = keys.iter().map(|(_, k)| k.as_str()).collect();
            queries("renew", 1);
            conn.execute(
                "WITH p AS (
                     UPDATE plans SET lease_until = now() + make_interval(secs => $1)
                     WHERE holder = $2 AND open AND id = ANY($3)),
                 k AS (
                     UPDATE idempotency SET lease_until = now() + make_interval(secs => $1)
                     WHERE holder = $2 AND state = 'in_flight'
                       AND (partner, key) IN (SELECT * FROM unnest($4::text[], $5::text[])))
                 SELECT 1",
                &[
                    &self.lease_secs_f64(),
                    &self.replica(),
                    &plans,
                    &partners,
                    &names,
                ],
            )
            .await
            .map_err(super::pg)?;
            Ok(())
        })
    }

    fn claim_expired<'a>(
        &'a self,
        key: Option<(&'a str, &'a str)>,
    ) -> BoxFuture<'a, Result<Vec<PlanRecord>, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let (partner, name) = match key {
                Some((p, k)) => (Some(p), Some(k)),
                None => (None, None),
            };
            queries("claim_expired", 1);
            // Expired leases, and this replica's own plans (the caller skips those a live task
            // here runs). Locked rows are another replica's claim in progress: skipped, never
            // waited for.
            let rows = conn
                .query(
                    "WITH c AS (
                         UPDATE plans SET holder = $1, lease_until = now() + make_interval(secs => $2)
                         WHERE id IN (
                             SELECT id FROM plans
                             WHERE open AND (lease_until <= now() OR holder = $1)
                               AND ($3::text IS NULL OR (partner = $3 AND key = $4::text))
                             ORDER BY updated_at, id LIMIT 100
                             FOR UPDATE SKIP LOCKED)
                         RETURNING id, partner, key, doc, updated_at),
                     k AS (
                         UPDATE idempotency i SET holder = $1,
                             lease_until = now() + make_interval(secs => $2)
                         FROM c WHERE i.partner = c.partner AND i.key = c.key AND i.state = 'in_flight')
                     SELECT id, partner, key, doc FROM c ORDER BY updated_at, id",
                    &[&self.replica(), &self.lease_secs_f64(), &partner, &name],
                )
                .await
                .map_err(super::pg)?;
            self.records(&conn, rows).await
        })
    }

    fn release_orphans(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            queries("release_orphans", 1);
            conn.execute(
                "DELETE FROM idempotency i
                 WHERE i.state = 'in_flight' AND i.lease_until <= now()
                   AND NOT EXISTS (SELECT 1 FROM plans p
                                   WHERE p.partner = i.partner AND p.key = i.key AND p.open)",
                &[],
            )
            .await
            .map_err(super::pg)
        })
    }

    fn purge_expired(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let conn = self.bounded(self.conn()).await?;
            let stmt = self
                .io(conn.prepare_cached(
                    // The conditions again outside the batch's subquery: a row changed meanwhile
                    // (a key `begin` took over) is checked again as it now stands.
                    "WITH k AS (DELETE FROM idempotency
                                WHERE state = 'completed' AND expires_at <= now()
                                  AND (partner, key) IN (
                                    SELECT partner, key FROM idempotency
                                    WHERE state = 'completed' AND expires_at <= now() LIMIT $2)
                                RETURNING 1),
                          p AS (DELETE FROM plans
                                WHERE NOT open AND updated_at <= now() - make_interval(secs => $1)
                                  AND id IN (
                                    SELECT id FROM plans
                                    WHERE NOT open AND updated_at <= now() - make_interval(secs => $1)
                                    LIMIT $2)
                                RETURNING 1)
                     SELECT (SELECT count(*) FROM k), (SELECT count(*) FROM p)",
                ))
                .await?;
            let ttl = self.ttl().as_secs_f64();
            // In batches: a backlog deleted in one statement would outlive the statement timeout,
            // be cancelled, and never shrink.
            self.purge_in_batches(&conn, &stmt, &[&ttl], || queries("purge_expired", 1))
                .await
        })
    }
}

/// Copies the embedded store's hire state into Postgres, in one transaction (`ats-gateway state
/// migrate`): live idempotency records (in flight, expired or not: an open plan keeps its key past
/// the TTL; or completed and not expired) and open plans
/// with their steps. Copied leases are expired and held by nobody, so any replica recovers an open
/// plan at once, as the old process would have at its restart. Rows already present (same key,
/// same plan) are overwritten by the source's.
pub async fn import_sqlite(
    pg: &PgStore,
    src: &rusqlite::Connection,
) -> Result<Vec<(&'static str, u64)>, StoreError> {
    let sq = |e: rusqlite::Error| backend(format!("reading the SQLite state: {e}"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    type KeyRow = (String, String, String, String, Option<String>, i64);
    let keys: Vec<KeyRow> = {
        let mut stmt = src
            .prepare(
                "SELECT partner, key, fingerprint, state, outcome, expires_at FROM idempotency
                 WHERE expires_at > ?1 OR state = 'in_flight' ORDER BY partner, key",
            )
            .map_err(sq)?;
        let rows = stmt
            .query_map([now], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .map_err(sq)?;
        rows.collect::<Result<_, _>>().map_err(sq)?
    };
    let plans: Vec<(String, String, String, String)> = {
        let mut stmt = src
            .prepare(
                "SELECT id, partner, key, doc FROM plans WHERE open = 1 ORDER BY updated_at, id",
            )
            .map_err(sq)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(sq)?;
        rows.collect::<Result<_, _>>().map_err(sq)?
    };
    let mut conn = pg.conn().await?;
    let tx = conn.transaction().await.map_err(super::pg)?;
    let insert_key = tx
        .prepare(
            "INSERT INTO idempotency (partner, key, fingerprint, state, outcome, expires_at, holder, lease_until)
             VALUES ($1, $2, $3, $4, $5, to_timestamp($6), NULL, now())
             ON CONFLICT (partner, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,
                 state = EXCLUDED.state, outcome = EXCLUDED.outcome, expires_at = EXCLUDED.expires_at,
                 holder = NULL, lease_until = now()",
        )
        .await
        .map_err(super::pg)?;
    let mut copied_keys = 0;
    for (partner, key, fp, state, outcome, expires) in &keys {
        let outcome: Option<Value> = outcome
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(corrupt)?;
        #[allow(clippy::cast_precision_loss)] // Unix seconds fit a double exactly.
        let expires = *expires as f64;
        copied_keys += tx
            .execute(&insert_key, &[partner, key, fp, state, &outcome, &expires])
            .await
            .map_err(super::pg)?;
    }
    let insert_plan = tx
        .prepare(
            "INSERT INTO plans (id, partner, key, open, doc, updated_at, holder, lease_until)
             VALUES ($1, $2, $3, true, $4, now(), NULL, now())
             ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc, open = true, holder = NULL,
                 lease_until = now()",
        )
        .await
        .map_err(super::pg)?;
    let insert_step = tx
        .prepare(
            "INSERT INTO plan_steps (plan, idx, doc) VALUES ($1, $2, $3)
             ON CONFLICT (plan, idx) DO UPDATE SET doc = EXCLUDED.doc",
        )
        .await
        .map_err(super::pg)?;
    let (mut copied_plans, mut copied_steps) = (0, 0);
    for (id, partner, key, doc) in &plans {
        let uuid = Uuid::parse_str(id).map_err(corrupt)?;
        let doc: Value = serde_json::from_str(doc).map_err(corrupt)?;
        copied_plans += tx
            .execute(&insert_plan, &[&uuid, partner, key, &doc])
            .await
            .map_err(super::pg)?;
        let steps: Vec<(i64, String)> = {
            let mut stmt = src
                .prepare("SELECT idx, doc FROM plan_steps WHERE plan = ?1 ORDER BY idx")
                .map_err(sq)?;
            let rows = stmt
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(sq)?;
            rows.collect::<Result<_, _>>().map_err(sq)?
        };
        for (idx, doc) in steps {
            let idx = i32::try_from(idx).map_err(corrupt)?;
            let doc: Value = serde_json::from_str(&doc).map_err(corrupt)?;
            copied_steps += tx
                .execute(&insert_step, &[&uuid, &idx, &doc])
                .await
                .map_err(super::pg)?;
        }
    }
    tx.commit().await.map_err(super::pg)?;
    Ok(vec![
        ("idempotency", copied_keys),
        ("plans", copied_plans),
        ("plan_steps", copied_steps),
    ])
}
