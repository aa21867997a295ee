//! Partners managed through the operator API, shared by every replica: profiles, secrets (argon2
//! hashes only), a generation number every replica polls, the operator audit trail, hourly usage
//! and invites. One narrow trait, [`PartnerStore`], so SQLite and Postgres both serve it.

use serde::{Deserialize, Serialize};

use super::{BoxFuture, StoreError};

/// A partner's profile as the operator API keeps it (the store sees it as one JSON document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerDoc {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub contact: String,
    pub client_id: String,
    /// Scope names (`reference:read`): the store knows no scope vocabulary.
    pub scopes: Vec<String>,
    /// As in config: `["*"]` for every company.
    pub companies: Vec<String>,
    pub rate_limit: RateLimit,
    #[serde(default)]
    pub cors_origins: Vec<String>,
    #[serde(default)]
    pub disabled: bool,
    /// Unix seconds.
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

/// One client secret: its argon2 hash, never the secret. Times in unix seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretRecord {
    pub id: String,
    pub hash: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl SecretRecord {
    pub fn live_at(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredPartner {
    pub doc: PartnerDoc,
    /// Oldest first; expired ones included until the next rotation drops them.
    pub secrets: Vec<SecretRecord>,
}

/// One operator action: who, what, on which partner, when (unix milliseconds), how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub partner: Option<String>,
    pub status: u16,
    pub detail: serde_json::Value,
}

/// Requests of one partner in one hour with one status, as flushed from memory (added up).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UsageRow {
    pub partner: String,
    /// Unix seconds of the hour's start.
    pub hour: i64,
    pub status: u16,
    pub requests: u64,
    pub upstream_calls: u64,
}

/// What an invite grants: a new partner's profile, or a fresh secret of an existing partner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InviteGrant {
    NewPartner(PartnerDoc),
    Partner(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct InviteRecord {
    /// SHA-256 (hex) of the invite token: the token itself is never stored.
    pub token_hash: String,
    pub grant: InviteGrant,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    pub created_by: String,
}

/// Why a change was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    NotFound,
    /// The id or the client id is taken.
    Exists,
}

/// A partner's hourly rows and its last-seen time.
pub type Usage = (Vec<UsageRow>, Option<i64>);

pub type Changed<T> = Result<Result<T, Refused>, StoreError>;

/// A change to a partner's profile, applied to it as stored ([`PartnerStore::update_partner`]).
pub type Edit = Box<dyn FnOnce(&mut PartnerDoc) + Send>;

/// A minimal profile for tests: `id` as its id, name and client id; `reference:read` in `usmf`.
#[cfg(test)]
pub(crate) fn test_doc(id: &str) -> PartnerDoc {
    PartnerDoc {
        id: id.into(),
        name: id.into(),
        contact: String::new(),
        client_id: id.into(),
        scopes: vec!["reference:read".into()],
        companies: vec!["usmf".into()],
        rate_limit: RateLimit {
            per_second: 1,
            burst: 1,
        },
        cors_origins: vec![],
        disabled: false,
        created_at: 0,
    }
}

/// Partners and what goes with them. Every change to a partner or its secrets raises the shared
/// generation in the same transaction, so a replica that sees a new number reloads the partners.
pub trait PartnerStore: Send + Sync {
    /// The generation: cheap, polled by every replica a few times a second.
    fn generation(&self) -> BoxFuture<'_, Result<u64, StoreError>>;

    /// Every partner with its secrets, and the generation they are at.
    fn partners(&self) -> BoxFuture<'_, Result<(u64, Vec<StoredPartner>), StoreError>>;

    /// Whether `id` or `client_id` belongs to a partner, revoked ones included (their ids are
    /// never given out again): what [`Self::insert_partner`] would refuse.
    fn id_taken<'a>(
        &'a self,
        id: &'a str,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Inserts a partner with its first secret; refused when the id or client id exists or was
    /// ever used (revoked partners stay as tombstones).
    fn insert_partner<'a>(
        &'a self,
        doc: &'a PartnerDoc,
        secret: Option<&'a SecretRecord>,
    ) -> BoxFuture<'a, Changed<()>>;

    /// Changes a partner's profile (the secrets stay): `edit` is applied to the profile as stored
    /// inside the change's transaction, which every partner change takes in turn, so two
    /// operators' concurrent edits of different fields both hold (a read-modify-write outside
    /// it could put back a `disabled: false` the other had just changed). Answers the profile
    /// written.
    fn update_partner<'a>(&'a self, id: &'a str, edit: Edit) -> BoxFuture<'a, Changed<PartnerDoc>>;

    /// Revokes a partner: gone from `partners`, its secrets and its webhook subscriptions (with
    /// their outbox and log) deleted, its id kept as a tombstone (its tokens stop working on the
    /// next request and never open a later partner's rights).
    fn delete_partner<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Changed<()>>;

    /// Adds a secret. The newest live one gets `previous_expires_at` (unless it expires sooner);
    /// any older live one expires at `now`, so at most two stay live. Expired secrets are dropped.
    fn add_secret<'a>(
        &'a self,
        partner: &'a str,
        secret: &'a SecretRecord,
        previous_expires_at: i64,
        now: i64,
    ) -> BoxFuture<'a, Changed<()>>;

    /// Revokes one secret at once.
    fn revoke_secret<'a>(
        &'a self,
        partner: &'a str,
        secret_id: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Changed<()>>;

    /// Last use of secrets (id → unix seconds), flushed from memory; no generation change.
    fn record_secret_use<'a>(
        &'a self,
        uses: &'a [(String, i64)],
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Appends to the audit trail (append-only: nothing updates or deletes it).
    fn append_audit<'a>(&'a self, e: &'a AuditRecord) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The newest `limit` audit records (of one partner when given), newest first.
    fn audit<'a>(
        &'a self,
        partner: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<AuditRecord>, StoreError>>;

    /// Adds counts (aggregated in memory) and moves last-seen times forward; hours older than
    /// [`USAGE_KEPT_SECS`] are dropped.
    fn add_usage<'a>(
        &'a self,
        rows: &'a [UsageRow],
        last_seen: &'a [(String, i64)],
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// A partner's hourly rows since `since_hour`, and its last-seen time.
    fn usage<'a>(
        &'a self,
        partner: &'a str,
        since_hour: i64,
    ) -> BoxFuture<'a, Result<Usage, StoreError>>;

    fn insert_invite<'a>(
        &'a self,
        invite: &'a InviteRecord,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    fn invite<'a>(
        &'a self,
        token_hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<InviteRecord>, StoreError>>;

    /// Marks the invite consumed when it is neither consumed nor expired at `now`; true when this
    /// call consumed it (exactly one caller wins).
    fn consume_invite<'a>(
        &'a self,
        token_hash: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
}

/// Usage is kept 8 days (the API shows 7).
pub const USAGE_KEPT_SECS: i64 = 8 * 86_400;

/// The start of the hour holding `unix_secs`.
pub fn hour_of(unix_secs: i64) -> i64 {
    unix_secs - unix_secs.rem_euclid(3600)
}

/// A stored document's JSON text (both backends keep partner documents as text).
pub(crate) fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}
