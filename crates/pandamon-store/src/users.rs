//! The users' tables of pandamon's state: who logged in (with their preferences), their
//! sessions, logins in progress at the identity provider, API tokens, and the pages each user
//! visits most. Secrets are never stored: sessions, login states and tokens are kept as the
//! SHA-256 of the value the browser or script holds, so a copy of these tables opens nothing.

use crate::catalog::ColType;
use crate::db::live_pool;
use crate::error::Result;
use crate::load::Value;
use crate::state::{
    LOGINS_TABLE, SESSIONS_TABLE, StateStore, TOKENS_TABLE, USERS_TABLE, VISITS_TABLE,
};
use chrono::NaiveDateTime;
use sqlx::AssertSqlSafe;

/// A user who logged in at least once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub login: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// The user's preferences, a JSON document pandamon's web layer reads.
    pub preferences: Option<String>,
    pub last_login: NaiveDateTime,
}

/// A login started at the identity provider and not yet come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    pub nonce: String,
    pub verifier: String,
    pub return_to: String,
    pub created_at: NaiveDateTime,
}

/// One API token of a user (its hash, never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub token_hash: String,
    pub label: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// A visit weight is kept in millionths, an integer every dialect reads alike.
const WEIGHT_UNIT: f64 = 1_000_000.0;

fn text(v: &str) -> Value {
    Value::Text(v.to_string().into())
}

impl StateStore {
    /// `sql` with each `?` replaced by the dialect's placeholder and each `{name}` by that
    /// state table's quoted name. Column names are plain lowercase words every dialect reads.
    fn users_sql(&self, template: &str) -> String {
        let mut out = String::with_capacity(template.len() + 32);
        let mut n = 0;
        let mut rest = template;
        while let Some(i) = rest.find(['?', '{']) {
            out.push_str(&rest[..i]);
            if rest.as_bytes()[i] == b'?' {
                n += 1;
                out.push_str(&self.dialect().placeholder(n));
                rest = &rest[i + 1..];
            } else {
                let end = rest[i..].find('}').map_or(rest.len(), |e| i + e);
                out.push_str(&self.table(&rest[i + 1..end]));
                rest = &rest[(end + 1).min(rest.len())..];
            }
        }
        out.push_str(rest);
        out
    }

    async fn users_write(&self, template: &str, params: Vec<(Value, ColType)>) -> Result<u64> {
        let statement = self.statement(&self.users_sql(template), params);
        let changed = self.db().transaction(&[statement]).await?;
        Ok(changed.first().copied().unwrap_or(0))
    }

    /// Records a login of `login`: creates the user or refreshes their name and email.
    pub async fn user_logged_in(
        &self,
        login: &str,
        name: Option<&str>,
        email: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<()> {
        let opt = |v: Option<&str>| v.map_or(Value::Null, text);
        let updated = self
            .users_write(
                &format!(
                    "UPDATE {{{USERS_TABLE}}} SET name = ?, email = ?, last_login = ? WHERE login = ?"
                ),
                vec![
                    (opt(name), ColType::Varchar(255)),
                    (opt(email), ColType::Varchar(255)),
                    (Value::Time(now), ColType::Timestamp),
                    (text(login), ColType::Varchar(128)),
                ],
            )
            .await?;
        if updated == 0 {
            self.users_write(
                &format!(
                    "INSERT INTO {{{USERS_TABLE}}} (login, name, email, first_login, last_login) VALUES (?, ?, ?, ?, ?)"
                ),
                vec![
                    (text(login), ColType::Varchar(128)),
                    (opt(name), ColType::Varchar(255)),
                    (opt(email), ColType::Varchar(255)),
                    (Value::Time(now), ColType::Timestamp),
                    (Value::Time(now), ColType::Timestamp),
                ],
            )
            .await?;
        }
        Ok(())
    }

    /// The user `login`, if they ever logged in.
    pub async fn user(&self, login: &str) -> Result<Option<UserRecord>> {
        let sql = self.users_sql(&format!(
            "SELECT login, name, email, preferences, last_login FROM {{{USERS_TABLE}}} WHERE login = ?"
        ));
        type Row = (
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            NaiveDateTime,
        );
        let row: Option<Row> = live_pool!(self.db(), pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(login)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(|r| UserRecord {
            login: r.0,
            name: r.1,
            email: r.2,
            preferences: r.3,
            last_login: r.4,
        }))
    }

    /// Replaces the preferences document of `login`.
    pub async fn set_preferences(&self, login: &str, preferences: &str) -> Result<()> {
        self.users_write(
            &format!("UPDATE {{{USERS_TABLE}}} SET preferences = ? WHERE login = ?"),
            vec![
                (text(preferences), ColType::Text),
                (text(login), ColType::Varchar(128)),
            ],
        )
        .await?;
        Ok(())
    }

    /// Opens a session, known by the hash of its id, for `login` until `expires_at`.
    pub async fn open_session(
        &self,
        id_hash: &str,
        login: &str,
        now: NaiveDateTime,
        expires_at: NaiveDateTime,
    ) -> Result<()> {
        self.users_write(
            &format!(
                "INSERT INTO {{{SESSIONS_TABLE}}} (id_hash, login, created_at, expires_at) VALUES (?, ?, ?, ?)"
            ),
            vec![
                (text(id_hash), ColType::Varchar(64)),
                (text(login), ColType::Varchar(128)),
                (Value::Time(now), ColType::Timestamp),
                (Value::Time(expires_at), ColType::Timestamp),
            ],
        )
        .await?;
        Ok(())
    }

    /// The login of the session known by `id_hash`, unless it ended or expired.
    pub async fn session_login(&self, id_hash: &str, now: NaiveDateTime) -> Result<Option<String>> {
        let sql = self.users_sql(&format!(
            "SELECT login FROM {{{SESSIONS_TABLE}}} WHERE id_hash = ? AND expires_at > ?"
        ));
        let login: Option<String> = live_pool!(self.db(), pool => sqlx::query_scalar(AssertSqlSafe(sql.as_str()))
            .bind(id_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?);
        Ok(login)
    }

    /// Ends a session (logout).
    pub async fn close_session(&self, id_hash: &str) -> Result<()> {
        self.users_write(
            &format!("DELETE FROM {{{SESSIONS_TABLE}}} WHERE id_hash = ?"),
            vec![(text(id_hash), ColType::Varchar(64))],
        )
        .await?;
        Ok(())
    }

    /// Remembers a login sent to the identity provider, known by the hash of its `state`.
    pub async fn start_login(
        &self,
        state_hash: &str,
        login: &PendingLogin,
        expired_before: NaiveDateTime,
    ) -> Result<()> {
        // Logins abandoned at the provider and ended sessions go with the next login.
        self.users_write(
            &format!("DELETE FROM {{{LOGINS_TABLE}}} WHERE created_at < ?"),
            vec![(Value::Time(expired_before), ColType::Timestamp)],
        )
        .await?;
        self.users_write(
            &format!("DELETE FROM {{{SESSIONS_TABLE}}} WHERE expires_at < ?"),
            vec![(Value::Time(login.created_at), ColType::Timestamp)],
        )
        .await?;
        self.users_write(
            &format!(
                "INSERT INTO {{{LOGINS_TABLE}}} (state_hash, nonce, verifier, return_to, created_at) VALUES (?, ?, ?, ?, ?)"
            ),
            vec![
                (text(state_hash), ColType::Varchar(64)),
                (text(&login.nonce), ColType::Varchar(64)),
                (text(&login.verifier), ColType::Varchar(128)),
                (text(&login.return_to), ColType::Text),
                (Value::Time(login.created_at), ColType::Timestamp),
            ],
        )
        .await?;
        Ok(())
    }

    /// Takes the login known by `state_hash` out of the table: a state is good for one callback
    /// only, so a replayed one finds nothing.
    pub async fn take_login(&self, state_hash: &str) -> Result<Option<PendingLogin>> {
        let sql = self.users_sql(&format!(
            "SELECT nonce, verifier, return_to, created_at FROM {{{LOGINS_TABLE}}} WHERE state_hash = ?"
        ));
        let row: Option<(String, String, String, NaiveDateTime)> = live_pool!(self.db(), pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(state_hash)
            .fetch_optional(pool)
            .await?);
        let Some((nonce, verifier, return_to, created_at)) = row else {
            return Ok(None);
        };
        let taken = self
            .users_write(
                &format!("DELETE FROM {{{LOGINS_TABLE}}} WHERE state_hash = ?"),
                vec![(text(state_hash), ColType::Varchar(64))],
            )
            .await?;
        // Two callbacks with the same state at once: only the one that deleted the row wins.
        Ok((taken == 1).then_some(PendingLogin {
            nonce,
            verifier,
            return_to,
            created_at,
        }))
    }

    /// Stores a new API token of `login`, known by its hash.
    pub async fn create_token(
        &self,
        token_hash: &str,
        login: &str,
        label: &str,
        now: NaiveDateTime,
    ) -> Result<()> {
        self.users_write(
            &format!(
                "INSERT INTO {{{TOKENS_TABLE}}} (token_hash, login, label, created_at) VALUES (?, ?, ?, ?)"
            ),
            vec![
                (text(token_hash), ColType::Varchar(64)),
                (text(login), ColType::Varchar(128)),
                (text(label), ColType::Varchar(191)),
                (Value::Time(now), ColType::Timestamp),
            ],
        )
        .await?;
        Ok(())
    }

    /// The login owning the token known by `token_hash`, unless it was revoked; records its use.
    pub async fn token_login(
        &self,
        token_hash: &str,
        now: NaiveDateTime,
    ) -> Result<Option<String>> {
        let sql = self.users_sql(&format!(
            "SELECT login FROM {{{TOKENS_TABLE}}} WHERE token_hash = ? AND revoked_at IS NULL"
        ));
        let login: Option<String> = live_pool!(self.db(), pool => sqlx::query_scalar(AssertSqlSafe(sql.as_str()))
            .bind(token_hash)
            .fetch_optional(pool)
            .await?);
        if login.is_some() {
            self.users_write(
                &format!("UPDATE {{{TOKENS_TABLE}}} SET last_used_at = ? WHERE token_hash = ?"),
                vec![
                    (Value::Time(now), ColType::Timestamp),
                    (text(token_hash), ColType::Varchar(64)),
                ],
            )
            .await?;
        }
        Ok(login)
    }

    /// The tokens of `login`, newest first (revoked ones too: the page shows when).
    pub async fn tokens_of(&self, login: &str) -> Result<Vec<TokenRecord>> {
        let sql = self.users_sql(&format!(
            "SELECT token_hash, label, created_at, last_used_at, revoked_at FROM {{{TOKENS_TABLE}}} \
             WHERE login = ? ORDER BY created_at DESC, token_hash"
        ));
        type Row = (
            String,
            String,
            NaiveDateTime,
            Option<NaiveDateTime>,
            Option<NaiveDateTime>,
        );
        let rows: Vec<Row> = live_pool!(self.db(), pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(login)
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|r| TokenRecord {
                token_hash: r.0,
                label: r.1,
                created_at: r.2,
                last_used_at: r.3,
                revoked_at: r.4,
            })
            .collect())
    }

    /// Revokes the token of `login` known by `token_hash`; false when `login` has no such
    /// live token (another user's token is never touched).
    pub async fn revoke_token(
        &self,
        login: &str,
        token_hash: &str,
        now: NaiveDateTime,
    ) -> Result<bool> {
        let changed = self
            .users_write(
                &format!(
                    "UPDATE {{{TOKENS_TABLE}}} SET revoked_at = ? WHERE token_hash = ? AND login = ? AND revoked_at IS NULL"
                ),
                vec![
                    (Value::Time(now), ColType::Timestamp),
                    (text(token_hash), ColType::Varchar(64)),
                    (text(login), ColType::Varchar(128)),
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Counts a visit of `login` to `page`: the page's weight decays by half every
    /// `half_life_hours`, then grows by one.
    pub async fn record_visit(
        &self,
        login: &str,
        page: &str,
        now: NaiveDateTime,
        half_life_hours: f64,
    ) -> Result<()> {
        let sql = self.users_sql(&format!(
            "SELECT weight, updated_at FROM {{{VISITS_TABLE}}} WHERE login = ? AND page = ?"
        ));
        let row: Option<(i64, NaiveDateTime)> = live_pool!(self.db(), pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(login)
            .bind(page)
            .fetch_optional(pool)
            .await?);
        let key = vec![
            (text(login), ColType::Varchar(128)),
            (text(page), ColType::Varchar(191)),
        ];
        match row {
            Some((weight, updated_at)) => {
                let decayed = decay(
                    weight as f64 / WEIGHT_UNIT,
                    updated_at,
                    now,
                    half_life_hours,
                );
                let mut params = vec![
                    (
                        Value::Int(((decayed + 1.0) * WEIGHT_UNIT) as i64),
                        ColType::BigInt,
                    ),
                    (Value::Time(now), ColType::Timestamp),
                ];
                params.extend(key);
                self.users_write(
                    &format!(
                        "UPDATE {{{VISITS_TABLE}}} SET weight = ?, updated_at = ? WHERE login = ? AND page = ?"
                    ),
                    params,
                )
                .await?;
            }
            None => {
                let mut params = key;
                params.push((Value::Int(WEIGHT_UNIT as i64), ColType::BigInt));
                params.push((Value::Time(now), ColType::Timestamp));
                let inserted = self
                    .users_write(
                        &format!(
                            "INSERT INTO {{{VISITS_TABLE}}} (login, page, weight, updated_at) VALUES (?, ?, ?, ?)"
                        ),
                        params,
                    )
                    .await;
                // A visit counted at the same moment by another request: one is enough.
                if let Err(e) = inserted
                    && !e.is_unique_violation()
                {
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// The `limit` pages `login` visits most, by weight decayed to `now`, heaviest first.
    pub async fn top_visits(
        &self,
        login: &str,
        now: NaiveDateTime,
        half_life_hours: f64,
        limit: usize,
    ) -> Result<Vec<(String, f64)>> {
        let sql = self.users_sql(&format!(
            "SELECT page, weight, updated_at FROM {{{VISITS_TABLE}}} WHERE login = ?"
        ));
        let rows: Vec<(String, i64, NaiveDateTime)> = live_pool!(self.db(), pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(login)
            .fetch_all(pool)
            .await?);
        let mut pages: Vec<(String, f64)> = rows
            .into_iter()
            .map(|(page, w, at)| {
                (
                    page,
                    decay(w as f64 / WEIGHT_UNIT, at, now, half_life_hours),
                )
            })
            .collect();
        pages.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        pages.truncate(limit);
        Ok(pages)
    }
}

/// `weight` set at `at`, halved for every `half_life_hours` until `now`.
fn decay(weight: f64, at: NaiveDateTime, now: NaiveDateTime, half_life_hours: f64) -> f64 {
    let hours = (now - at).num_seconds().max(0) as f64 / 3600.0;
    weight * 0.5_f64.powf(hours / half_life_hours.max(f64::MIN_POSITIVE))
}

#[cfg(test)]
mod tests {
    use super::decay;
    use chrono::{Duration, NaiveDateTime};

    #[test]
    fn weights_halve_every_half_life() {
        let at = NaiveDateTime::parse_from_str("2026-12-01 00:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(decay(8.0, at, at, 24.0), 8.0);
        assert!((decay(8.0, at, at + Duration::hours(24), 24.0) - 4.0).abs() < 1e-9);
        assert!((decay(8.0, at, at + Duration::hours(72), 24.0) - 1.0).abs() < 1e-9);
        // A clock that went back never makes a weight grow.
        assert_eq!(decay(8.0, at, at - Duration::hours(5), 24.0), 8.0);
    }
}
