//! The alerts table of pandamon's state: which alert (rule and subject) was delivered when, and
//! which one a runner is sending now. Claims make a second replica, or a restart in the middle
//! of a run, skip what another runner sends or sent.

use crate::catalog::ColType;
use crate::db::live_pool;
use crate::error::{Result, StoreError};
use crate::load::Value;
use crate::state::{ALERTS_TABLE, StateStore};
use chrono::{Duration, NaiveDateTime};
use sqlx::AssertSqlSafe;

/// What a runner may do with an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This runner sends it now, and must say how it went.
    Claimed,
    /// Delivered at this time, within the repeat interval: not again.
    Suppressed(NaiveDateTime),
    /// Another runner claimed it a moment ago.
    Busy,
}

/// One row of the alerts table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    pub rule: String,
    pub subject: String,
    pub claimed_at: Option<NaiveDateTime>,
    pub delivered_at: Option<NaiveDateTime>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub recipients: Option<String>,
    pub title: Option<String>,
    pub updated_at: NaiveDateTime,
}

type Row = (
    String,
    String,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    NaiveDateTime,
);

const COLUMNS: &[&str] = &[
    "rule",
    "subject",
    "claimed_at",
    "delivered_at",
    "attempts",
    "last_error",
    "recipients",
    "title",
    "updated_at",
];

fn text(v: &str) -> Value {
    Value::Text(v.to_string().into())
}

impl StateStore {
    fn alerts_select(&self) -> String {
        let d = self.dialect();
        let columns: Vec<String> = COLUMNS
            .iter()
            .map(|c| match *c {
                "attempts" => match d {
                    crate::Dialect::Postgres => format!("CAST({} AS BIGINT)", d.quote(c)),
                    crate::Dialect::MySql => format!("CAST({} AS SIGNED)", d.quote(c)),
                    crate::Dialect::Sqlite => d.quote(c),
                },
                _ => d.quote(c),
            })
            .collect();
        format!(
            "SELECT {} FROM {}",
            columns.join(", "),
            self.table(ALERTS_TABLE)
        )
    }

    /// The row of alert (`rule`, `subject`), if it was ever claimed.
    pub async fn alert_record(&self, rule: &str, subject: &str) -> Result<Option<AlertRecord>> {
        let d = self.dialect();
        let sql = format!(
            "{} WHERE {} = {} AND {} = {}",
            self.alerts_select(),
            d.quote("rule"),
            d.placeholder(1),
            d.quote("subject"),
            d.placeholder(2)
        );
        let row: Option<Row> = live_pool!(self.db(), pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(rule)
            .bind(subject)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(record))
    }

    /// Claims alert (`rule`, `subject`) for sending at `now`, unless it was delivered within
    /// `repeat` or another runner claimed it within `lease`.
    pub async fn claim_alert(
        &self,
        rule: &str,
        subject: &str,
        now: NaiveDateTime,
        repeat: Duration,
        lease: Duration,
    ) -> Result<Claim> {
        let d = self.dialect();
        let table = self.table(ALERTS_TABLE);
        let marks: Vec<String> = (1..=5).map(|i| d.placeholder(i)).collect();
        let insert = self.statement(
            &format!(
                "INSERT INTO {table} ({}, {}, {}, {}, {}) VALUES ({})",
                d.quote("rule"),
                d.quote("subject"),
                d.quote("claimed_at"),
                d.quote("attempts"),
                d.quote("updated_at"),
                marks.join(", ")
            ),
            vec![
                (text(rule), ColType::Varchar(64)),
                (text(subject), ColType::Varchar(191)),
                (Value::Time(now), ColType::Timestamp),
                (Value::Int(0), ColType::BigInt),
                (Value::Time(now), ColType::Timestamp),
            ],
        );
        match self.db().transaction(&[insert]).await {
            Ok(_) => return Ok(Claim::Claimed),
            Err(StoreError::Sql(sqlx::Error::Database(e))) if e.is_unique_violation() => {}
            Err(e) => return Err(e),
        }
        let Some(existing) = self.alert_record(rule, subject).await? else {
            return Ok(Claim::Busy);
        };
        if let Some(delivered) = existing.delivered_at
            && delivered > now - repeat
        {
            return Ok(Claim::Suppressed(delivered));
        }
        if let Some(claimed) = existing.claimed_at
            && claimed > now - lease
        {
            return Ok(Claim::Busy);
        }
        // Take it over, unless another runner changed the row since it was read.
        let update = self.statement(
            &format!(
                "UPDATE {table} SET {} = {}, {} = NULL, {} = {} WHERE {} = {} AND {} = {} AND {} = {}",
                d.quote("claimed_at"),
                d.placeholder(1),
                d.quote("delivered_at"),
                d.quote("updated_at"),
                d.placeholder(2),
                d.quote("rule"),
                d.placeholder(3),
                d.quote("subject"),
                d.placeholder(4),
                d.quote("updated_at"),
                d.placeholder(5)
            ),
            vec![
                (Value::Time(now), ColType::Timestamp),
                (Value::Time(now), ColType::Timestamp),
                (text(rule), ColType::Varchar(64)),
                (text(subject), ColType::Varchar(191)),
                (Value::Time(existing.updated_at), ColType::Timestamp),
            ],
        );
        let changed = self.db().transaction(&[update]).await?;
        Ok(if changed.first() == Some(&1) {
            Claim::Claimed
        } else {
            Claim::Busy
        })
    }

    /// Records the delivery of a claimed alert.
    pub async fn alert_delivered(
        &self,
        rule: &str,
        subject: &str,
        now: NaiveDateTime,
        recipients: &str,
        title: &str,
    ) -> Result<()> {
        self.finish_alert(rule, subject, now, Ok((recipients, title)))
            .await
    }

    /// Releases a claimed alert that could not be delivered: it stays due.
    pub async fn alert_failed(
        &self,
        rule: &str,
        subject: &str,
        now: NaiveDateTime,
        error: &str,
    ) -> Result<()> {
        self.finish_alert(rule, subject, now, Err(error)).await
    }

    async fn finish_alert(
        &self,
        rule: &str,
        subject: &str,
        now: NaiveDateTime,
        outcome: std::result::Result<(&str, &str), &str>,
    ) -> Result<()> {
        let d = self.dialect();
        let q = |c: &str| d.quote(c);
        let (delivered, error, recipients, title) = match outcome {
            Ok((recipients, title)) => {
                (Value::Time(now), Value::Null, text(recipients), text(title))
            }
            Err(error) => (Value::Null, text(error), Value::Null, Value::Null),
        };
        let update = self.statement(
            &format!(
                "UPDATE {} SET {} = NULL, {} = {}, {} = {} + 1, {} = {}, {} = COALESCE({}, {}), {} = COALESCE({}, {}), {} = {} \
                 WHERE {} = {} AND {} = {}",
                self.table(ALERTS_TABLE),
                q("claimed_at"),
                q("delivered_at"),
                d.placeholder(1),
                q("attempts"),
                q("attempts"),
                q("last_error"),
                d.placeholder(2),
                q("recipients"),
                d.placeholder(3),
                q("recipients"),
                q("title"),
                d.placeholder(4),
                q("title"),
                q("updated_at"),
                d.placeholder(5),
                q("rule"),
                d.placeholder(6),
                q("subject"),
                d.placeholder(7)
            ),
            vec![
                (delivered, ColType::Timestamp),
                (error, ColType::Text),
                (recipients, ColType::Text),
                (title, ColType::Text),
                (Value::Time(now), ColType::Timestamp),
                (text(rule), ColType::Varchar(64)),
                (text(subject), ColType::Varchar(191)),
            ],
        );
        self.db().transaction(&[update]).await?;
        Ok(())
    }

    /// The alerts most recently changed, newest first.
    pub async fn recent_alerts(&self, limit: u32) -> Result<Vec<AlertRecord>> {
        let sql = format!(
            "{} ORDER BY {} DESC LIMIT {limit}",
            self.alerts_select(),
            self.dialect().quote("updated_at")
        );
        let rows: Vec<Row> = live_pool!(self.db(), pool => sqlx::query_as(AssertSqlSafe(sql.as_str())).fetch_all(pool).await?);
        Ok(rows.into_iter().map(record).collect())
    }
}

fn record(r: Row) -> AlertRecord {
    AlertRecord {
        rule: r.0,
        subject: r.1,
        claimed_at: r.2,
        delivered_at: r.3,
        attempts: r.4,
        last_error: r.5,
        recipients: r.6,
        title: r.7,
        updated_at: r.8,
    }
}
