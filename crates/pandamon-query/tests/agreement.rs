//! The SQL and in-memory meanings of a selection agree: for fixed and random selections, the
//! number of matching jobs counted by the database equals the number the in-memory evaluation
//! finds, on SQLite, PostgreSQL and MariaDB.

use chrono::NaiveDateTime;
use pandamon_query::{Defaults, JobView, Selection, SqlDialect};
use pandamon_sim::rng::Rng;
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::{Catalog, Db, Dialect, Value, schema, with_pool};
use pandamon_testkit::{TestDb, on_every_backend};
use sqlx::AssertSqlSafe;

const NOW: i64 = 1_790_000_000;
const TEXT: [&str; 8] = [
    "jobstatus",
    "computingsite",
    "cloud",
    "produsername",
    "specialhandling",
    "gshare",
    "prodsourcelabel",
    "jobname",
];
const INTS: [&str; 5] = [
    "pandaid",
    "jeditaskid",
    "attemptnr",
    "currentpriority",
    "nevents",
];
const TIMES: [&str; 3] = ["modificationtime", "starttime", "endtime"];

struct MemJob {
    text: Vec<Option<String>>,
    ints: Vec<Option<i64>>,
    times: Vec<Option<i64>>,
}

impl JobView for MemJob {
    fn text(&self, column: &str) -> Option<&str> {
        TEXT.iter()
            .position(|c| *c == column)
            .and_then(|i| self.text[i].as_deref())
    }
    fn int(&self, column: &str) -> Option<i64> {
        INTS.iter()
            .position(|c| *c == column)
            .and_then(|i| self.ints[i])
    }
    fn time(&self, column: &str) -> Option<i64> {
        TIMES
            .iter()
            .position(|c| *c == column)
            .and_then(|i| self.times[i])
    }
}

type Row = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
    i16,
    i32,
    i64,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

async fn load_jobs(db: &Db) -> Vec<MemJob> {
    let d = db.dialect();
    let columns: Vec<String> = TEXT
        .iter()
        .chain(&INTS)
        .chain(&TIMES)
        .map(|c| match (d, *c) {
            // `nevents` is an integer in jobsdefined4 and a bigint elsewhere, as in PanDA.
            (Dialect::Postgres, "nevents") => format!("CAST({} AS BIGINT)", d.quote(c)),
            _ => d.quote(c),
        })
        .collect();
    let mut jobs = Vec::new();
    for table in [
        "jobsdefined4",
        "jobsactive4",
        "jobsarchived4",
        "jobsarchived",
    ] {
        let sql = format!(
            "SELECT {} FROM {}",
            columns.join(", "),
            db.qualified(Catalog::get().table(table))
        );
        let rows: Vec<Row> = with_pool!(db, pool => sqlx::query_as(AssertSqlSafe(sql.clone())).fetch_all(pool).await.unwrap());
        for r in rows {
            jobs.push(MemJob {
                text: vec![r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7],
                ints: vec![
                    Some(r.8),
                    r.9,
                    Some(r.10.into()),
                    Some(r.11.into()),
                    Some(r.12),
                ],
                times: vec![
                    Some(r.13.and_utc().timestamp()),
                    r.14.map(|t| t.and_utc().timestamp()),
                    r.15.map(|t| t.and_utc().timestamp()),
                ],
            });
        }
    }
    jobs
}

async fn sql_count(db: &Db, selection: &Selection) -> i64 {
    let dialect = SqlDialect::from(db.dialect());
    let mut total = 0;
    for table in [
        "jobsdefined4",
        "jobsactive4",
        "jobsarchived4",
        "jobsarchived",
    ] {
        let (clause, params) = selection.where_sql(dialect, 1);
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE {clause}",
            db.qualified(Catalog::get().table(table))
        );
        let n: i64 = with_pool!(db, pool => {
            let mut query = sqlx::query_scalar(AssertSqlSafe(sql.clone()));
            for p in &params {
                query = match p {
                    Value::Null => query.bind(None::<String>),
                    Value::Int(v) => query.bind(*v),
                    Value::Float(v) => query.bind(*v),
                    Value::Text(t) => query.bind(t.to_string()),
                    Value::Time(t) => query.bind(*t),
                };
            }
            query.fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
        });
        total += n;
    }
    total
}

fn random_url(rng: &mut Rng, jobs: &[MemJob]) -> String {
    let sample = &jobs[rng.index(jobs.len())];
    let mut parts = Vec::new();
    for _ in 0..rng.range(1, 3) {
        let part = match rng.range(0, 9) {
            0 => format!(
                "jobstatus={}",
                rng.pick(&[
                    "failed",
                    "finished|failed",
                    "running,activated",
                    "!finished",
                    "closed|cancelled"
                ])
            ),
            1 => format!(
                "computingsite={}",
                sample.text[1].clone().unwrap_or_default()
            ),
            2 => format!(
                "computingsite=*{}*",
                rng.pick(&["UCORE", "analy", "cern", "HIMEM"])
            ),
            3 => format!("cloud=!{}", sample.text[2].clone().unwrap_or_default()),
            4 => format!(
                "user={}",
                sample.text[3]
                    .clone()
                    .unwrap_or_default()
                    .split(' ')
                    .next()
                    .unwrap_or("a")
            ),
            5 => format!(
                "specialhandling={}",
                rng.pick(&["sj", "rb", "Not specified", "!Not specified"])
            ),
            6 => format!(
                "priorityrange={}:{}",
                rng.range(0, 600),
                rng.range(600, 1200)
            ),
            7 => format!(
                "jeditaskid={}|{}",
                sample.ints[1].unwrap_or(0),
                rng.range(40_000_000, 40_000_050)
            ),
            8 => format!("hours={}", rng.range(1, 96)),
            _ => format!("durationmin={}-{}", rng.range(0, 60), rng.range(60, 600)),
        };
        parts.push(part);
    }
    parts.join("&")
}

async fn sql_and_memory_agree(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 1_500,
            seed: 21,
            days: 3.0,
            now: NOW,
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    let jobs = load_jobs(&db).await;
    assert!(jobs.len() >= 1_500);
    let mut rng = Rng::new(5);
    let mut urls: Vec<String> = [
        "",
        "days=4",
        "days=4&jobstatus=failed",
        "days=4&jobname=*simul*",
        "days=4&gshare=Not specified",
        "days=4&prodsourcelabel=!user",
        "days=4&jobtype=analysis",
        "days=4&jobtype=prod",
        "days=4&eventservice=eventservice|esmerge",
        "days=4&eventservice=not2",
        "days=4&neventsrange=1:",
        "days=4&attemptnr=2|3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    urls.extend((0..60).map(|_| random_url(&mut rng, &jobs)));
    let mut nonzero = 0;
    for url in &urls {
        let pairs: Vec<(&str, &str)> = url
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, "")))
            .collect();
        let selection = Selection::parse(
            pairs,
            Defaults {
                window_hours: 12,
                now: NOW,
                vocabulary: &pandamon_query::fields::JOBS,
            },
        )
        .unwrap();
        let expected = sql_count(&db, &selection).await;
        let found = jobs.iter().filter(|j| selection.matches(*j)).count() as i64;
        assert_eq!(found, expected, "{url}");
        if expected > 0 {
            nonzero += 1;
        }
    }
    assert!(
        nonzero > urls.len() / 3,
        "too few selections matched anything: {nonzero}"
    );
    db.close().await;
}
on_every_backend!(sql_and_memory_agree);
