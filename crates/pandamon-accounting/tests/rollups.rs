//! The rollups against direct SQL over the job tables, on every backend: per-site and per-bin
//! job counts, CPU time and cores, the day bins against the hours, a rebuild that changes
//! nothing, and a late update picked up by `update`.

use pandamon_accounting::rollup::{self, COMPLETED};
use pandamon_accounting::series::{SeriesQuery, series};
use pandamon_accounting::{Dimension, Metric, RollupStore};
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::{Catalog, Db, StateConfig, StateStore, schema};
use pandamon_testkit::{TestDb, on_every_backend};

const NOW: i64 = 1_790_000_000;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

fn at(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .format("'%Y-%m-%d %H:%M:%S'")
        .to_string()
}

/// The completed jobs of every job table that ended in `[from, to)` (and match `extra`), as
/// one SQL `FROM` source.
fn completed(db: &Db, from: i64, to: i64, extra: &str) -> String {
    let statuses: Vec<String> = COMPLETED.iter().map(|s| format!("'{s}'")).collect();
    let parts: Vec<String> = ["jobsactive4", "jobsarchived4", "jobsarchived"]
        .iter()
        .map(|t| {
            format!(
                "SELECT * FROM {} WHERE jobstatus IN ({}) AND endtime >= {} AND endtime < {}{extra}",
                db.qualified(Catalog::get().table(t)),
                statuses.join(", "),
                at(from),
                at(to)
            )
        })
        .collect();
    format!("({}) jobs", parts.join(" UNION ALL "))
}

async fn scalar(db: &Db, sql: &str) -> i64 {
    db.scalar_i64(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn whole(db: &Db, expr: &str) -> String {
    let ty = match db.dialect() {
        pandamon_store::Dialect::Postgres => "BIGINT",
        pandamon_store::Dialect::MySql => "SIGNED",
        pandamon_store::Dialect::Sqlite => "INTEGER",
    };
    format!("CAST(COALESCE(SUM({expr}), 0) AS {ty})")
}

async fn setup(test: &TestDb) -> (Db, StateStore) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 6_000,
            seed: 41,
            days: 3.0,
            now: NOW,
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    let store = StateStore::open(&StateConfig::default(), &db)
        .await
        .unwrap();
    (db, store)
}

fn query(metric: Metric, groupby: Dimension, bin: i64, from: i64, to: i64) -> SeriesQuery {
    SeriesQuery {
        metric,
        groupby,
        bin,
        from,
        to,
        filters: Vec::new(),
        top: None,
    }
}

async fn rollups_match_sql(test: &TestDb) {
    let (db, store) = setup(test).await;
    let categories = rollup::categories(&db).await;
    let counted = rollup::rebuild(&db, &store, &categories, NOW - 4 * DAY, NOW + HOUR)
        .await
        .unwrap();
    let from = NOW - 2 * DAY - (NOW - 2 * DAY).rem_euclid(HOUR);
    let to = from + DAY;
    assert_eq!(
        counted as i64,
        scalar(
            &db,
            &format!(
                "SELECT COUNT(DISTINCT pandaid) FROM {}",
                completed(
                    &db,
                    NOW - 4 * DAY - (NOW - 4 * DAY).rem_euclid(600),
                    NOW + HOUR,
                    ""
                )
            )
        )
        .await
    );

    // Jobs per site over one day in hours: 24 bins, every site's total and the busiest site's
    // every bin as SQL counts them.
    let jobs = series(
        &store,
        &query(Metric::Jobs, Dimension::Site, HOUR, from, to),
    )
    .await
    .unwrap();
    assert_eq!(jobs.bins.len(), 24);
    assert!(jobs.lines.len() > 3, "several sites");
    let mut sum = 0.0;
    for line in &jobs.lines {
        let sql = format!(
            "SELECT COUNT(DISTINCT pandaid) FROM {}",
            completed(
                &db,
                from,
                to,
                &format!(" AND computingsite = '{}'", line.name)
            )
        );
        assert_eq!(line.total as i64, scalar(&db, &sql).await, "{}", line.name);
        assert_eq!(line.values.iter().sum::<f64>(), line.total);
        sum += line.total;
    }
    assert_eq!(jobs.total, sum);
    let busiest = &jobs.lines[0];
    for (i, bin) in jobs.bins.iter().enumerate() {
        let sql = format!(
            "SELECT COUNT(DISTINCT pandaid) FROM {}",
            completed(
                &db,
                *bin,
                bin + HOUR,
                &format!(" AND computingsite = '{}'", busiest.name)
            )
        );
        assert_eq!(
            busiest.values[i] as i64,
            scalar(&db, &sql).await,
            "bin {bin}"
        );
    }

    // CPU time and cores by final status.
    let cpu = series(
        &store,
        &query(Metric::CpuHours, Dimension::JobStatus, HOUR, from, to),
    )
    .await
    .unwrap();
    let cores = series(
        &store,
        &query(Metric::Cores, Dimension::JobStatus, HOUR, from, to),
    )
    .await
    .unwrap();
    for status in COMPLETED {
        let only = format!(" AND jobstatus = '{status}'");
        let cpu_s = scalar(
            &db,
            &format!(
                "SELECT {} FROM {}",
                whole(&db, "cpuconsumptiontime"),
                completed(&db, from, to, &only)
            ),
        )
        .await;
        let line = cpu.lines.iter().find(|l| l.name == status);
        let rolled = line.map_or(0.0, |l| l.total * 3_600.0);
        assert!(
            (rolled - cpu_s as f64).abs() < 0.5,
            "{status}: {rolled} vs {cpu_s}"
        );
        let n = scalar(
            &db,
            &format!(
                "SELECT {} FROM {}",
                whole(&db, "COALESCE(actualcorecount, corecount, 1)"),
                completed(&db, from, to, &only)
            ),
        )
        .await;
        let line = cores.lines.iter().find(|l| l.name == status);
        assert_eq!(line.map_or(0.0, |l| l.total) as i64, n, "{status} cores");
    }

    // A day bin holds its hours; a filter keeps only its rows.
    let daily = series(
        &store,
        &query(
            Metric::Jobs,
            Dimension::Site,
            DAY,
            from - from.rem_euclid(DAY),
            from - from.rem_euclid(DAY) + DAY,
        ),
    )
    .await
    .unwrap();
    let hourly = series(
        &store,
        &query(
            Metric::Jobs,
            Dimension::Site,
            HOUR,
            from - from.rem_euclid(DAY),
            from - from.rem_euclid(DAY) + DAY,
        ),
    )
    .await
    .unwrap();
    assert_eq!(daily.total, hourly.total);
    assert!(daily.total > 0.0);
    let mut failed_only = query(Metric::Jobs, Dimension::Site, HOUR, from, to);
    failed_only.filters = vec![(Dimension::JobStatus, vec!["failed".to_string()])];
    let failed = series(&store, &failed_only).await.unwrap();
    assert_eq!(
        failed.total as i64,
        scalar(
            &db,
            &format!(
                "SELECT COUNT(DISTINCT pandaid) FROM {}",
                completed(&db, from, to, " AND jobstatus = 'failed'")
            )
        )
        .await
    );
    let mut top = query(Metric::Jobs, Dimension::Site, HOUR, from, to);
    top.top = Some(2);
    let top = series(&store, &top).await.unwrap();
    assert_eq!(top.lines.len(), 3);
    assert_eq!(top.lines[2].name, "other");
    assert_eq!(top.total, jobs.total);

    // Rebuilding changes nothing.
    let before = store.rows(600, NOW - 4 * DAY, NOW + HOUR).await.unwrap();
    rollup::rebuild(&db, &store, &categories, NOW - 4 * DAY, NOW + HOUR)
        .await
        .unwrap();
    assert_eq!(
        store.rows(600, NOW - 4 * DAY, NOW + HOUR).await.unwrap(),
        before
    );

    // A backfill over the same days gives the same rows, run once or twice.
    for _ in 0..2 {
        let mut last = (0, 0);
        rollup::backfill(&db, &store, NOW - 4 * DAY, NOW + HOUR, |done, total, _| {
            last = (done, total);
        })
        .await
        .unwrap();
        assert_eq!(last.0, last.1, "every day done");
        assert_eq!(
            store.rows(600, NOW - 4 * DAY, NOW + HOUR).await.unwrap(),
            before
        );
    }

    // A late update: a finished job of the window is found failed later; `update` moves it.
    let table = db.qualified(Catalog::get().table("jobsarchived4"));
    let victim = scalar(
        &db,
        &format!(
            "SELECT MIN(pandaid) FROM {table} WHERE jobstatus = 'finished' AND endtime >= {} AND endtime < {}",
            at(from),
            at(to)
        ),
    )
    .await;
    db.execute(&format!(
        "UPDATE {table} SET jobstatus = 'failed', modificationtime = {} WHERE pandaid = {victim}",
        at(NOW + 60)
    ))
    .await
    .unwrap();
    let (mark, _) = rollup::update(&db, &store, &categories, NOW).await.unwrap();
    assert_eq!(mark, NOW + 60);
    let after = series(&store, &failed_only).await.unwrap();
    assert_eq!(after.total, failed.total + 1.0);
}
on_every_backend!(rollups_match_sql);
