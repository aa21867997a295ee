//! [`ChangeStore`] on Postgres (migration `0003_changes.sql`): the feed every replica shares.
//!
//! - One gap-free sequence for the cluster: a counter row (`change_feed.last_seq`) bumped in the
//!   transaction that inserts the events. A rollback gives the numbers back, and the row lock
//!   orders recording transactions, so a reader never sees seq n+1 before seq n is committed.
//! - The scanner's lease (`change_scan_lease`): a holder, a fencing token that grows on every change
//!   of holder, and an expiry by the database's clock. `record_scan` with a fence updates the lease
//!   row in its own transaction, only while holder, token and expiry still match: a stale leader's
//!   scan is refused, and a takeover waits for a recording in progress to commit.
//!
//! Each statement is counted (`state_store_queries_total{op}`, and per task for a scan's report).

use std::collections::HashMap;
use std::time::Duration;

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{backend, PgStore};
use crate::changes::event::{Event, ResourceType};
use crate::store::changes::{count_query, ChangeStore, FeedBounds, Known, ScanLease, ScanRecord};
use crate::store::sqlite_changes::{body_of, corrupt, event_of, time_of};
use crate::store::{BoxFuture, StoreError};

/// Rows per insert statement: a baseline of many records is several statements, not one huge one.
const CHUNK: usize = 1_000;

/// Unix ms by the database's clock; `clock_timestamp()`, read after the counter row is locked, so
/// event times grow with their sequence numbers.
const CLOCK_MS: &str = "floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

const EVENT_COLUMNS: &str = "seq, type, resource_id, company, occurred_at, body";

/// Why a fenced record was refused (the lease moved on: another replica scans now).
pub const FENCED: &str = "scan lease lost: another replica holds the scanner lease now";

/// One statement: counted for the scan's report and per operation.
fn counted(op: &'static str) {
    count_query();
    super::queries(op, 1);
}

fn event_row(r: &Row) -> Result<Event, StoreError> {
    let seq: i64 = r.try_get(0).map_err(backend)?;
    let kind: String = r.try_get(1).map_err(backend)?;
    let id: Uuid = r.try_get(2).map_err(backend)?;
    let company: String = r.try_get(3).map_err(backend)?;
    let at: i64 = r.try_get(4).map_err(backend)?;
    let body: String = r.try_get(5).map_err(backend)?;
    event_of(seq, &kind, &id.to_string(), company, at, &body)
}

impl PgStore {
    async fn query_events(
        &self,
        op: &'static str,
        sql: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Event>, StoreError> {
        let conn = self.conn().await?;
        let stmt = conn.prepare_cached(sql).await.map_err(backend)?;
        counted(op);
        let rows = conn.query(&stmt, args).await.map_err(backend)?;
        rows.iter().map(event_row).collect()
    }
}

impl ChangeStore for PgStore {
    fn known<'a>(
        &'a self,
        resource: ResourceType,
        ids: &'a [Uuid],
    ) -> BoxFuture<'a, Result<HashMap<Uuid, Known>, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let stmt = conn
                .prepare_cached(
                    "SELECT id, company, hash, data FROM change_fingerprints
                     WHERE resource = $1 AND id = ANY($2)",
                )
                .await
                .map_err(backend)?;
            counted("changes.known");
            let rows = conn
                .query(&stmt, &[&resource.as_str(), &ids])
                .await
                .map_err(backend)?;
            let mut out = HashMap::with_capacity(rows.len());
            for r in rows {
                let data: String = r.try_get(3).map_err(backend)?;
                out.insert(
                    r.try_get(0).map_err(backend)?,
                    Known {
                        company: r.try_get(1).map_err(backend)?,
                        hash: r.try_get(2).map_err(backend)?,
                        data: serde_json::from_str(&data).map_err(corrupt)?,
                    },
                );
            }
            Ok(out)
        })
    }

    fn known_ids(&self, resource: ResourceType) -> BoxFuture<'_, Result<Vec<Uuid>, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let stmt = conn
                .prepare_cached("SELECT id FROM change_fingerprints WHERE resource = $1")
                .await
                .map_err(backend)?;
            counted("changes.known_ids");
            conn.query(&stmt, &[&resource.as_str()])
                .await
                .map_err(backend)?
                .iter()
                .map(|r| r.try_get(0).map_err(backend))
                .collect()
        })
    }

    fn baseline(&self, resource: ResourceType) -> BoxFuture<'_, Result<Option<i32>, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let stmt = conn
                .prepare_cached("SELECT representation FROM change_baselines WHERE resource = $1")
                .await
                .map_err(backend)?;
            counted("changes.baseline");
            conn.query_opt(&stmt, &[&resource.as_str()])
                .await
                .map_err(backend)?
                .map(|row| row.try_get(0))
                .transpose()
                .map_err(backend)
        })
    }

    fn record_scan<'a>(
        &'a self,
        scan: ScanRecord,
    ) -> BoxFuture<'a, Result<Vec<Event>, StoreError>> {
        Box::pin(async move {
            let n = i64::try_from(scan.events.len()).map_err(backend)?;
            let mut conn = self.bounded(self.conn()).await?;
            let tx = self.io(conn.transaction()).await?;
            counted("changes.record");
            // The fence and the sequence numbers in one statement: the lease row is updated (and
            // locked) only while this replica's token is current, and the counter moves only then.
            let row = match scan.fence {
                Some(token) => {
                    let stmt = self
                        .io(tx.prepare_cached(&format!(
                            "WITH fence AS (
                                 UPDATE change_scan_lease SET scanned_at = now(), window_calls = $4
                                 WHERE id = 1 AND holder = $1 AND token = $2 AND expires_at > now()
                                 RETURNING 1)
                             UPDATE change_feed SET last_seq = last_seq + $3
                             WHERE id = 1 AND EXISTS (SELECT 1 FROM fence)
                             RETURNING last_seq, {CLOCK_MS}"
                        )))
                        .await?;
                    let window = i32::try_from(scan.window_calls).unwrap_or(i32::MAX);
                    self.io(tx.query_opt(&stmt, &[&self.replica(), &token, &n, &window]))
                        .await
                }
                None => {
                    let stmt = self
                        .io(tx.prepare_cached(&format!(
                            "UPDATE change_feed SET last_seq = last_seq + $1 WHERE id = 1
                             RETURNING last_seq, {CLOCK_MS}"
                        )))
                        .await?;
                    self.io(tx.query_opt(&stmt, &[&n])).await
                }
            };
            counted("changes.record");
            let Some(row) = row? else {
                // Dropping the transaction rolls it back: nothing of the scan is kept.
                return Err(StoreError::Backend(FENCED.into()));
            };
            let last: i64 = row.try_get(0).map_err(backend)?;
            let at_ms: i64 = row.try_get(1).map_err(backend)?;
            let at = time_of(at_ms)?;

            // Fingerprints: the last one of an id wins, as an upsert per row would.
            let mut upserts: HashMap<(ResourceType, Uuid), usize> = HashMap::new();
            for (i, f) in scan.upserts.iter().enumerate() {
                upserts.insert((f.resource, f.id), i);
            }
            let mut order: Vec<usize> = upserts.into_values().collect();
            order.sort_unstable();
            for chunk in order.chunks(CHUNK) {
                let (mut res, mut ids, mut cos, mut hashes, mut datas) =
                    (vec![], vec![], vec![], vec![], vec![]);
                for (k, &i) in chunk.iter().enumerate() {
                    // A baseline serialises every record: back to the runtime now and then, so
                    // partner requests on this worker are not held for the whole chunk (inside the
                    // transaction: serialising all first would hold every record's JSON at once).
                    if k % 64 == 63 {
                        tokio::task::yield_now().await;
                    }
                    let f = &scan.upserts[i];
                    res.push(f.resource.as_str());
                    ids.push(f.id);
                    cos.push(f.known.company.as_str());
                    hashes.push(f.known.hash.as_str());
                    datas.push(serde_json::to_string(&f.known.data).map_err(backend)?);
                }
                let stmt = self
                    .io(tx.prepare_cached(
                        "INSERT INTO change_fingerprints (resource, id, company, hash, data)
                         SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[])
                         ON CONFLICT (resource, id) DO UPDATE
                         SET company = EXCLUDED.company, hash = EXCLUDED.hash, data = EXCLUDED.data",
                    ))
                    .await?;
                counted("changes.record");
                self.io(tx.execute(&stmt, &[&res, &ids, &cos, &hashes, &datas]))
                    .await?;
            }
            for chunk in scan.removals.chunks(CHUNK) {
                let res: Vec<&str> = chunk.iter().map(|(r, _)| r.as_str()).collect();
                let ids: Vec<Uuid> = chunk.iter().map(|(_, id)| *id).collect();
                let stmt = self
                    .io(tx.prepare_cached(
                        "DELETE FROM change_fingerprints f
                         USING unnest($1::text[], $2::uuid[]) AS gone (resource, id)
                         WHERE f.resource = gone.resource AND f.id = gone.id",
                    ))
                    .await?;
                counted("changes.record");
                self.io(tx.execute(&stmt, &[&res, &ids])).await?;
            }
            let first = last - n + 1;
            let mut recorded = Vec::with_capacity(scan.events.len());
            for (c, chunk) in scan.events.chunks(CHUNK).enumerate() {
                let base = first + i64::try_from(c * CHUNK).map_err(backend)?;
                let seqs: Vec<i64> = (base..).take(chunk.len()).collect();
                let types: Vec<String> = chunk.iter().map(|e| e.event_type.to_string()).collect();
                let ids: Vec<Uuid> = chunk.iter().map(|e| e.resource_id).collect();
                let cos: Vec<&str> = chunk.iter().map(|e| e.company.as_str()).collect();
                let bodies: Vec<String> = chunk.iter().map(body_of).collect();
                let stmt = self
                    .io(tx.prepare_cached(
                        "INSERT INTO change_events (seq, type, resource_id, company, occurred_at, body)
                         SELECT s, t, r, c, $5, b
                         FROM unnest($1::bigint[], $2::text[], $3::uuid[], $4::text[], $6::text[])
                              AS e (s, t, r, c, b)",
                    ))
                    .await?;
                counted("changes.record");
                self.io(tx.execute(&stmt, &[&seqs, &types, &ids, &cos, &at_ms, &bodies]))
                    .await?;
                for (e, seq) in chunk.iter().zip(seqs) {
                    recorded.push(e.clone().into_event(seq, at));
                }
            }
            if !scan.baselined.is_empty() {
                let res: Vec<&str> = scan.baselined.iter().map(|(r, _)| r.as_str()).collect();
                let versions: Vec<i32> = scan.baselined.iter().map(|(_, v)| *v).collect();
                // Never lowered: a replica of an older release does not take a baseline back.
                let stmt = self
                    .io(tx.prepare_cached(
                        "INSERT INTO change_baselines (resource, representation)
                         SELECT * FROM unnest($1::text[], $2::integer[])
                         ON CONFLICT (resource) DO UPDATE SET representation =
                           GREATEST(change_baselines.representation, EXCLUDED.representation)",
                    ))
                    .await?;
                counted("changes.record");
                self.io(tx.execute(&stmt, &[&res, &versions])).await?;
            }
            counted("changes.record");
            self.io(tx.commit()).await?;
            Ok(recorded)
        })
    }

    fn events_after(
        &self,
        after: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<Event>, StoreError>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.bounded(async move {
            self.query_events(
                "changes.events_after",
                &format!("SELECT {EVENT_COLUMNS} FROM change_events WHERE seq > $1 ORDER BY seq LIMIT $2"),
                &[&after, &limit],
            )
            .await
        })
    }

    fn events_of<'a>(
        &'a self,
        after: i64,
        through: i64,
        companies: &'a [String],
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Event>, StoreError>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let companies: Vec<String> = companies.iter().map(|c| c.to_lowercase()).collect();
        self.bounded(async move {
            if companies.is_empty() {
                return self
                    .query_events(
                        "changes.events_of",
                        &format!(
                            "SELECT {EVENT_COLUMNS} FROM change_events
                             WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3"
                        ),
                        &[&after, &through, &limit],
                    )
                    .await;
            }
            // Per company, at most `limit` rows from the `(lower(company), seq)` index, then the
            // first `limit` of those: the page never reads other companies' events.
            self.query_events(
                "changes.events_of",
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM unnest($3::text[]) AS wanted (name),
                     LATERAL (SELECT {EVENT_COLUMNS} FROM change_events e
                              WHERE lower(e.company) = wanted.name AND e.seq > $1 AND e.seq <= $2
                              ORDER BY lower(e.company), e.seq LIMIT $4) AS page
                     ORDER BY seq LIMIT $4"
                ),
                &[&after, &through, &companies, &limit],
            )
            .await
        })
    }

    fn event(&self, seq: i64) -> BoxFuture<'_, Result<Option<Event>, StoreError>> {
        self.bounded(async move {
            Ok(self
                .query_events(
                    "changes.event",
                    &format!("SELECT {EVENT_COLUMNS} FROM change_events WHERE seq = $1"),
                    &[&seq],
                )
                .await?
                .pop())
        })
    }

    fn purge_events_before(&self, before_ms: i64) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let conn = self.bounded(self.conn()).await?;
            // Everything up to the newest old event goes (sequence order is commit order, so the
            // log never has holes), oldest first in batches, each a statement that also records
            // how far the log is purged: a backlog never needs one statement longer than the
            // statement timeout, and a pass stopped part-way leaves the feed consistent.
            let newest = self
                .io(conn
                    .prepare_cached("SELECT max(seq) FROM change_events WHERE occurred_at < $1"))
                .await?;
            counted("changes.purge");
            let newest: Option<i64> = self
                .io(conn.query_one(&newest, &[&before_ms]))
                .await?
                .try_get(0)
                .map_err(backend)?;
            let Some(newest) = newest else {
                return Ok(0);
            };
            let batch = self
                .io(conn.prepare_cached(
                    "WITH gone AS (
                         DELETE FROM change_events WHERE seq IN (
                             SELECT seq FROM change_events WHERE seq <= $1 ORDER BY seq LIMIT $2)
                         RETURNING seq),
                     feed AS (
                         UPDATE change_feed
                         SET purged_through = GREATEST(purged_through, (SELECT max(seq) FROM gone))
                         WHERE id = 1 AND EXISTS (SELECT 1 FROM gone))
                     SELECT count(*) FROM gone",
                ))
                .await?;
            self.purge_in_batches(&conn, &batch, &[&newest], || counted("changes.purge"))
                .await
        })
    }

    fn feed_bounds(&self) -> BoxFuture<'_, Result<FeedBounds, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let stmt = conn
                .prepare_cached("SELECT purged_through, last_seq FROM change_feed WHERE id = 1")
                .await
                .map_err(backend)?;
            counted("changes.feed_bounds");
            let row = conn.query_one(&stmt, &[]).await.map_err(backend)?;
            Ok(FeedBounds {
                purged_through: row.try_get(0).map_err(backend)?,
                last_seq: row.try_get(1).map_err(backend)?,
            })
        })
    }

    fn scan_lease(&self, ttl: Duration) -> BoxFuture<'_, Result<ScanLease, StoreError>> {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        self.bounded(async move {
            let conn = self.conn().await?;
            // Renewed by its holder; taken by another replica once expired, with the next token.
            // Concurrent takers queue on the row lock and re-check: one wins.
            let stmt = conn
                .prepare_cached(
                    "WITH took AS (
                         UPDATE change_scan_lease SET
                             token = CASE WHEN holder = $1 THEN token ELSE token + 1 END,
                             holder = $1,
                             expires_at = now() + $2::bigint * interval '1 millisecond'
                         WHERE id = 1 AND (holder = $1 OR expires_at <= now())
                         RETURNING token)
                     SELECT (SELECT token FROM took),
                            (SELECT floor(extract(epoch FROM now() - scanned_at) * 1000)::bigint
                             FROM change_scan_lease WHERE id = 1),
                            (SELECT last_seq FROM change_feed WHERE id = 1),
                            (SELECT window_calls FROM change_scan_lease WHERE id = 1)",
                )
                .await
                .map_err(backend)?;
            counted("changes.lease");
            let row = conn
                .query_one(&stmt, &[&self.replica(), &ttl_ms])
                .await
                .map_err(backend)?;
            let since: Option<i64> = row.try_get(1).map_err(backend)?;
            Ok(ScanLease {
                token: row.try_get(0).map_err(backend)?,
                since_scan: since.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
                last_seq: row
                    .try_get::<_, Option<i64>>(2)
                    .map_err(backend)?
                    .unwrap_or(0),
                window_calls: row
                    .try_get::<_, Option<i32>>(3)
                    .map_err(backend)?
                    .map_or(0, |n| u32::try_from(n).unwrap_or(0)),
            })
        })
    }

    fn release_scan_lease(&self, token: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let stmt = conn
                .prepare_cached(
                    "UPDATE change_scan_lease SET expires_at = now()
                     WHERE id = 1 AND holder = $1 AND token = $2",
                )
                .await
                .map_err(backend)?;
            counted("changes.lease");
            conn.execute(&stmt, &[&self.replica(), &token])
                .await
                .map_err(backend)?;
            Ok(())
        })
    }
}

/// Copies the changes feed of an embedded state file into an empty Postgres feed, in one
/// transaction: fingerprints, baselines, the retained events with their sequence numbers (so
/// partners' cursors keep their place) and the feed's bounds. Answers rows copied per table.
pub async fn import_sqlite(
    pg: &PgStore,
    src: &rusqlite::Connection,
) -> Result<Vec<(&'static str, u64)>, StoreError> {
    let sq = crate::store::sqlite::backend;
    // Everything is read first: the SQLite connection is not held across the Postgres awaits.
    let mut fingerprints: Vec<(String, Uuid, String, String, String)> = Vec::new();
    {
        let mut stmt = src
            .prepare("SELECT resource, id, company, hash, data FROM fingerprints")
            .map_err(sq)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(sq)?;
        for row in rows {
            let (resource, id, company, hash, data) = row.map_err(sq)?;
            let id = Uuid::parse_str(&id).map_err(corrupt)?;
            fingerprints.push((resource, id, company, hash, data));
        }
    }
    let mut events: Vec<(i64, String, Uuid, String, i64, String)> = Vec::new();
    {
        let mut stmt = src
            .prepare(&format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY seq"))
            .map_err(sq)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .map_err(sq)?;
        for row in rows {
            let (seq, kind, id, company, at, body) = row.map_err(sq)?;
            let id = Uuid::parse_str(&id).map_err(corrupt)?;
            events.push((seq, kind, id, company, at, body));
        }
    }
    let mut baselines: Vec<String> = Vec::new();
    let mut representations: Vec<i32> = Vec::new();
    let mut purged_through = 0_i64;
    {
        let mut stmt = src
            .prepare("SELECT key, value FROM change_meta")
            .map_err(sq)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(sq)?;
        for row in rows {
            let (key, value) = row.map_err(sq)?;
            if let Some(resource) = key.strip_prefix("baseline:") {
                baselines.push(resource.to_string());
                representations.push(i32::try_from(value).map_err(corrupt)?);
            } else if key == "purged_through" {
                purged_through = value;
            }
        }
    }
    let last_seq: i64 = src
        .query_row(
            "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
            [],
            |r| r.get(0),
        )
        .map_err(sq)?;

    let mut conn = pg.conn().await?;
    let tx = conn.transaction().await.map_err(backend)?;
    let feed = tx
        .query_one(
            "SELECT last_seq, (SELECT count(*) FROM change_fingerprints) FROM change_feed
             WHERE id = 1 FOR UPDATE",
            &[],
        )
        .await
        .map_err(backend)?;
    let (pg_last, pg_known): (i64, i64) = (
        feed.try_get(0).map_err(backend)?,
        feed.try_get(1).map_err(backend)?,
    );
    if pg_last != 0 || pg_known != 0 {
        return Err(StoreError::Backend(format!(
            "the Postgres changes feed is not empty ({pg_last} events recorded, {pg_known} fingerprints): import into a fresh database"
        )));
    }
    for chunk in fingerprints.chunks(CHUNK) {
        let res: Vec<&str> = chunk.iter().map(|f| f.0.as_str()).collect();
        let ids: Vec<Uuid> = chunk.iter().map(|f| f.1).collect();
        let cos: Vec<&str> = chunk.iter().map(|f| f.2.as_str()).collect();
        let hashes: Vec<&str> = chunk.iter().map(|f| f.3.as_str()).collect();
        let datas: Vec<&str> = chunk.iter().map(|f| f.4.as_str()).collect();
        tx.execute(
            "INSERT INTO change_fingerprints (resource, id, company, hash, data)
             SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[])",
            &[&res, &ids, &cos, &hashes, &datas],
        )
        .await
        .map_err(backend)?;
    }
    for chunk in events.chunks(CHUNK) {
        let seqs: Vec<i64> = chunk.iter().map(|e| e.0).collect();
        let types: Vec<&str> = chunk.iter().map(|e| e.1.as_str()).collect();
        let ids: Vec<Uuid> = chunk.iter().map(|e| e.2).collect();
        let cos: Vec<&str> = chunk.iter().map(|e| e.3.as_str()).collect();
        let ats: Vec<i64> = chunk.iter().map(|e| e.4).collect();
        let bodies: Vec<&str> = chunk.iter().map(|e| e.5.as_str()).collect();
        tx.execute(
            "INSERT INTO change_events (seq, type, resource_id, company, occurred_at, body)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::uuid[], $4::text[], $5::bigint[], $6::text[])",
            &[&seqs, &types, &ids, &cos, &ats, &bodies],
        )
        .await
        .map_err(backend)?;
    }
    tx.execute(
        "INSERT INTO change_baselines (resource, representation)
         SELECT * FROM unnest($1::text[], $2::integer[])
         ON CONFLICT (resource) DO UPDATE SET representation = EXCLUDED.representation",
        &[&baselines, &representations],
    )
    .await
    .map_err(backend)?;
    // The newest seq the file ever gave, even if retention removed that event: never reused.
    let newest = events.last().map_or(0, |e| e.0).max(last_seq);
    tx.execute(
        "UPDATE change_feed SET last_seq = $1, purged_through = $2 WHERE id = 1",
        &[&newest, &purged_through],
    )
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    Ok(vec![
        ("change_fingerprints", n(fingerprints.len())),
        ("change_events", n(events.len())),
        ("change_baselines", n(baselines.len())),
    ])
}
