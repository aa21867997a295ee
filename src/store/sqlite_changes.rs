//! [`ChangeStore`] on the embedded SQLite backend. Sequence numbers come from `AUTOINCREMENT`, so
//! they only grow, even after retention removed the newest rows' predecessors.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::{json, Value};
use uuid::Uuid;

use super::changes::{ChangeStore, FeedBounds, Known, ScanLease, ScanRecord};
use super::sqlite::{backend, SqliteStore};
use super::{BoxFuture, StoreError};
use crate::changes::event::{Event, EventType, NewEvent, ResourceType};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS fingerprints (
    resource TEXT NOT NULL,
    id       TEXT NOT NULL,
    company  TEXT NOT NULL,
    hash     TEXT NOT NULL,
    data     TEXT NOT NULL,
    PRIMARY KEY (resource, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    type        TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    company     TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_occurred ON events (occurred_at);
-- The feed reads one partner's companies in sequence order (`events_of`); created on open, so a
-- file from an earlier version gets it too.
CREATE INDEX IF NOT EXISTS events_company ON events (lower(company), seq);
CREATE TABLE IF NOT EXISTS change_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

const PURGED_THROUGH: &str = "purged_through";

pub(super) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn baseline_key(r: ResourceType) -> String {
    format!("baseline:{}", r.as_str())
}

fn meta(conn: &Connection, key: &str) -> Result<Option<i64>, StoreError> {
    conn.query_row(
        "SELECT value FROM change_meta WHERE key = ?1",
        params![key],
        |r| r.get(0),
    )
    .optional()
    .map_err(backend)
}

pub(super) fn time_of(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt("event time out of range"))
}

/// What an `events` row keeps of an event besides its columns (shared with the Postgres backend).
pub(super) fn body_of(e: &NewEvent) -> String {
    json!({
        "data": e.data,
        "changed_fields": e.changed_fields,
        "from": e.from,
        "to": e.to,
    })
    .to_string()
}

/// The columns of an `events` row (seq, type, resource_id, company, occurred_at, body) → event.
pub(super) fn event_of(
    seq: i64,
    kind: &str,
    id: &str,
    company: String,
    at: i64,
    body: &str,
) -> Result<Event, StoreError> {
    let event_type: EventType = kind.parse().map_err(corrupt)?;
    let mut body: Value = serde_json::from_str(body).map_err(corrupt)?;
    let strings = |v: &mut Value, k: &str| -> Option<Vec<String>> {
        serde_json::from_value(v.get_mut(k)?.take()).ok()
    };
    let changed_fields = strings(&mut body, "changed_fields");
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let new = NewEvent {
        event_type,
        resource_id: Uuid::parse_str(id).map_err(corrupt)?,
        company,
        from: text(&body, "from"),
        to: text(&body, "to"),
        data: body.get_mut("data").map(Value::take).unwrap_or(Value::Null),
        changed_fields,
    };
    Ok(new.into_event(seq, time_of(at)?))
}

fn query_events(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<Event>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    let rows = stmt
        .query_map(args, |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
            ))
        })
        .map_err(backend)?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, kind, id, company, at, body) = row.map_err(backend)?;
        out.push(event_of(seq, &kind, &id, company, at, &body)?);
    }
    Ok(out)
}

const EVENT_COLUMNS: &str = "seq, type, resource_id, company, occurred_at, body";

impl ChangeStore for SqliteStore {
    fn known<'a>(
        &'a self,
        resource: ResourceType,
        ids: &'a [Uuid],
    ) -> BoxFuture<'a, Result<HashMap<Uuid, Known>, StoreError>> {
        let ids = ids.to_vec();
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT company, hash, data FROM fingerprints WHERE resource = ?1 AND id = ?2",
                )
                .map_err(backend)?;
            let mut out = HashMap::new();
            for id in ids {
                let row: Option<(String, String, String)> = stmt
                    .query_row(params![resource.as_str(), id.to_string()], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .optional()
                    .map_err(backend)?;
                if let Some((company, hash, data)) = row {
                    let data = serde_json::from_str(&data).map_err(corrupt)?;
                    out.insert(
                        id,
                        Known {
                            hash,
                            company,
                            data,
                        },
                    );
                }
            }
            Ok(out)
        })
    }

    fn known_ids(&self, resource: ResourceType) -> BoxFuture<'_, Result<Vec<Uuid>, StoreError>> {
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT id FROM fingerprints WHERE resource = ?1")
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![resource.as_str()], |r| r.get::<_, String>(0))
                .map_err(backend)?;
            let mut out = Vec::new();
            for id in rows {
                out.push(Uuid::parse_str(&id.map_err(backend)?).map_err(corrupt)?);
            }
            Ok(out)
        })
    }

    fn baseline(&self, resource: ResourceType) -> BoxFuture<'_, Result<Option<i32>, StoreError>> {
        // Files from before representation versions hold 1 here: the first version.
        self.run(move |conn| {
            meta(conn, &baseline_key(resource))?
                .map(|v| i32::try_from(v).map_err(corrupt))
                .transpose()
        })
    }

    fn record_scan<'a>(
        &'a self,
        scan: ScanRecord,
    ) -> BoxFuture<'a, Result<Vec<Event>, StoreError>> {
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let at = Utc::now();
            let mut recorded = Vec::with_capacity(scan.events.len());
            {
                let mut put = tx
                    .prepare_cached("INSERT OR REPLACE INTO fingerprints (resource, id, company, hash, data) VALUES (?1, ?2, ?3, ?4, ?5)")
                    .map_err(backend)?;
                for f in &scan.upserts {
                    let data = serde_json::to_string(&f.known.data).map_err(backend)?;
                    put.execute(params![
                        f.resource.as_str(),
                        f.id.to_string(),
                        f.known.company,
                        f.known.hash,
                        data
                    ])
                    .map_err(backend)?;
                }
                let mut del = tx
                    .prepare_cached("DELETE FROM fingerprints WHERE resource = ?1 AND id = ?2")
                    .map_err(backend)?;
                for (r, id) in &scan.removals {
                    del.execute(params![r.as_str(), id.to_string()])
                        .map_err(backend)?;
                }
                let mut add = tx
                    .prepare_cached("INSERT INTO events (type, resource_id, company, occurred_at, body) VALUES (?1, ?2, ?3, ?4, ?5)")
                    .map_err(backend)?;
                for e in scan.events {
                    let body = body_of(&e);
                    add.execute(params![
                        e.event_type.to_string(),
                        e.resource_id.to_string(),
                        e.company,
                        at.timestamp_millis(),
                        body
                    ])
                    .map_err(backend)?;
                    recorded.push(e.into_event(tx.last_insert_rowid(), at));
                }
                for (r, version) in &scan.baselined {
                    // Never lowered: a process of an older release does not take it back.
                    tx.execute(
                        "INSERT INTO change_meta (key, value) VALUES (?1, ?2)
                         ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
                        params![baseline_key(*r), version],
                    )
                    .map_err(backend)?;
                }
            }
            tx.commit().map_err(backend)?;
            // The commit time, truncated like the stored column, so a re-read compares equal.
            let at = time_of(at.timestamp_millis())?;
            for e in &mut recorded {
                e.occurred_at = at;
            }
            Ok(recorded)
        })
    }

    fn events_after(
        &self,
        after: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<Event>, StoreError>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn| {
            query_events(
                conn,
                &format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2"),
                params![after, limit],
            )
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
        self.run(move |conn| {
            if companies.is_empty() {
                return query_events(
                    conn,
                    &format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3"),
                    params![after, through, limit],
                );
            }
            let list = serde_json::to_string(&companies).map_err(backend)?;
            query_events(
                conn,
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events INDEXED BY events_company
                     WHERE lower(company) IN (SELECT value FROM json_each(?3)) AND seq > ?1 AND seq <= ?2
                     ORDER BY seq LIMIT ?4"
                ),
                params![after, through, list, limit],
            )
        })
    }

    fn event(&self, seq: i64) -> BoxFuture<'_, Result<Option<Event>, StoreError>> {
        self.run(move |conn| {
            Ok(query_events(
                conn,
                &format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq = ?1"),
                params![seq],
            )?
            .pop())
        })
    }

    fn purge_events_before(&self, before_ms: i64) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let newest: Option<i64> = tx
                .query_row(
                    "SELECT MAX(seq) FROM events WHERE occurred_at < ?1",
                    params![before_ms],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            let Some(newest) = newest else {
                return Ok(0);
            };
            // Sequence order is commit order: everything up to `newest` goes, so the log never has holes.
            let n = tx
                .execute("DELETE FROM events WHERE seq <= ?1", params![newest])
                .map_err(backend)?;
            tx.execute(
                "INSERT INTO change_meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
                params![PURGED_THROUGH, newest],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(n as u64)
        })
    }

    fn feed_bounds(&self) -> BoxFuture<'_, Result<FeedBounds, StoreError>> {
        self.run(|conn| {
            Ok(FeedBounds {
                purged_through: meta(conn, PURGED_THROUGH)?.unwrap_or(0),
                last_seq: last_seq(conn)?,
            })
        })
    }

    /// One process owns the file (and scans): the lease is always held, under one token. No
    /// read: the feed's watch starts at the store's newest seq and this process records every
    /// later event itself, so `last_seq` 0 tells it nothing new.
    fn scan_lease(
        &self,
        _ttl: std::time::Duration,
    ) -> BoxFuture<'_, Result<ScanLease, StoreError>> {
        Box::pin(async {
            Ok(ScanLease {
                token: Some(1),
                since_scan: None,
                last_seq: 0,
                window_calls: 0,
            })
        })
    }

    fn release_scan_lease(&self, _token: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}

/// The newest event's seq: `sqlite_sequence` remembers it even when retention removed every row.
pub(super) fn last_seq(conn: &Connection) -> Result<i64, StoreError> {
    let seq: Option<i64> = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'events'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    Ok(seq.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::changes::event::Action;
    use crate::store::changes::Fingerprint;

    fn store() -> SqliteStore {
        let d = std::env::temp_dir().join(format!("atsgw-changes-{}", Uuid::new_v4()));
        SqliteStore::open(&d, Duration::from_secs(60)).expect("open")
    }

    fn fp(id: Uuid, hash: &str) -> Fingerprint {
        Fingerprint {
            resource: ResourceType::RecruitingRequest,
            id,
            known: Known {
                hash: hash.into(),
                company: "usmf".into(),
                data: json!({"id": id, "h": hash}),
            },
        }
    }

    fn ev(id: Uuid, action: Action) -> NewEvent {
        NewEvent {
            event_type: EventType::new(ResourceType::RecruitingRequest, action),
            resource_id: id,
            company: "usmf".into(),
            data: json!({"id": id}),
            changed_fields: (action == Action::Updated).then(|| vec!["/description".into()]),
            from: None,
            to: None,
        }
    }

    #[tokio::test]
    async fn a_scan_is_recorded_whole_and_read_back_in_order() {
        let s = store();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(
            s.baseline(ResourceType::RecruitingRequest)
                .await
                .expect("baseline"),
            None
        );
        let first = ScanRecord {
            upserts: vec![fp(a, "1"), fp(b, "1")],
            baselined: vec![(ResourceType::RecruitingRequest, 1)],
            ..Default::default()
        };
        assert!(s.record_scan(first).await.expect("record").is_empty());
        assert_eq!(
            s.baseline(ResourceType::RecruitingRequest)
                .await
                .expect("baseline"),
            Some(1)
        );
        assert_eq!(
            s.baseline(ResourceType::Candidate).await.expect("baseline"),
            None
        );

        // A newer representation's baseline replaces the version; an older one never lowers it.
        for (recorded, after) in [(3, 3), (2, 3)] {
            s.record_scan(ScanRecord {
                baselined: vec![(ResourceType::Candidate, recorded)],
                ..Default::default()
            })
            .await
            .expect("record");
            assert_eq!(
                s.baseline(ResourceType::Candidate).await.expect("baseline"),
                Some(after)
            );
        }
        let known = s
            .known(ResourceType::RecruitingRequest, &[a, Uuid::new_v4()])
            .await
            .expect("known");
        assert_eq!(known.len(), 1);
        assert_eq!(known[&a].hash, "1");
        assert_eq!(known[&a].data["h"], "1");

        let second = ScanRecord {
            upserts: vec![fp(a, "2")],
            removals: vec![(ResourceType::RecruitingRequest, b)],
            events: vec![ev(a, Action::Updated), ev(b, Action::Deleted)],
            ..Default::default()
        };
        let recorded = s.record_scan(second).await.expect("record");
        assert_eq!(recorded.len(), 2);
        assert!(recorded[0].seq < recorded[1].seq);
        assert_eq!(
            s.known_ids(ResourceType::RecruitingRequest)
                .await
                .expect("ids"),
            vec![a]
        );
        let read = s.events_after(0, 10).await.expect("events");
        assert_eq!(read, recorded, "read back exactly as recorded");
        assert_eq!(
            read[0].changed_fields.as_deref(),
            Some(&["/description".to_string()][..])
        );
        assert_eq!(
            s.events_after(recorded[0].seq, 10).await.expect("events"),
            recorded[1..]
        );
        assert_eq!(s.events_after(0, 1).await.expect("events").len(), 1);
        assert_eq!(
            s.event(recorded[1].seq).await.expect("event").as_ref(),
            Some(&recorded[1])
        );
        assert_eq!(
            s.feed_bounds().await.expect("bounds"),
            FeedBounds {
                purged_through: 0,
                last_seq: recorded[1].seq
            }
        );
    }

    #[tokio::test]
    async fn retention_purges_old_events_and_remembers_how_far() {
        let s = store();
        let a = Uuid::new_v4();
        let scan = ScanRecord {
            events: vec![ev(a, Action::Created), ev(a, Action::Updated)],
            ..Default::default()
        };
        let recorded = s.record_scan(scan.clone()).await.expect("record");
        let past = Utc::now().timestamp_millis() - 60_000;
        assert_eq!(s.purge_events_before(past).await.expect("purge"), 0);
        let future = Utc::now().timestamp_millis() + 1;
        assert_eq!(s.purge_events_before(future).await.expect("purge"), 2);
        assert!(s.events_after(0, 10).await.expect("events").is_empty());
        let bounds = s.feed_bounds().await.expect("bounds");
        assert_eq!(bounds.purged_through, recorded[1].seq);
        assert_eq!(bounds.last_seq, recorded[1].seq, "kept after the rows went");
        let later = s.record_scan(scan).await.expect("record");
        assert!(
            later[0].seq > recorded[1].seq,
            "sequence numbers are never reused"
        );
    }

    #[tokio::test]
    async fn events_of_reads_only_the_companies_asked_for_within_bounds() {
        let s = store();
        let mut events = Vec::new();
        for company in ["usmf", "NOMF", "gbsi", "nomf"] {
            let mut e = ev(Uuid::new_v4(), Action::Created);
            e.company = company.into();
            events.push(e);
        }
        let scan = ScanRecord {
            events,
            ..Default::default()
        };
        let recorded = s.record_scan(scan).await.expect("record");
        let seqs = |v: Vec<Event>| v.into_iter().map(|e| e.seq).collect::<Vec<_>>();
        let nomf = vec!["nomf".to_string()];
        assert_eq!(
            seqs(s.events_of(0, i64::MAX, &nomf, 10).await.expect("read")),
            [recorded[1].seq, recorded[3].seq],
            "case does not matter"
        );
        assert_eq!(
            seqs(
                s.events_of(0, recorded[2].seq, &nomf, 10)
                    .await
                    .expect("read")
            ),
            [recorded[1].seq],
            "nothing past `through`"
        );
        assert_eq!(
            seqs(
                s.events_of(recorded[1].seq, i64::MAX, &nomf, 10)
                    .await
                    .expect("read")
            ),
            [recorded[3].seq]
        );
        assert_eq!(
            s.events_of(0, i64::MAX, &[], 10).await.expect("read").len(),
            4,
            "no company list: every company"
        );
    }
}
