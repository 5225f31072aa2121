//! The rollups against direct SQL over the job tables, on every backend: per-site and per-bin
//! job counts, CPU time and cores, the day bins against the hours, a rebuild that changes
//! nothing, a late update picked up by `update`, window totals from memory and from rows, and
//! the memory budget of the day rollups.

use pandamon_accounting::rollup::{self, COMPLETED};
use pandamon_accounting::series::{RowSums, SeriesQuery, series, sum_by, window_rows};
use pandamon_accounting::snapshots;
use pandamon_accounting::transfers::{self, TransferDimension, TransferMetric, TransferQuery};
use pandamon_accounting::{Dimension, Metric, RollupStore, Topology};
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::accounting::{JOB_ROLLUPS, RollupRow, RollupTable, TRANSFER_ROLLUPS};
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
        &Topology::default(),
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
        &Topology::default(),
        &query(Metric::CpuHours, Dimension::JobStatus, HOUR, from, to),
    )
    .await
    .unwrap();
    let cores = series(
        &store,
        &Topology::default(),
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
    let day_start = from - from.rem_euclid(DAY);
    let mut per_bin = Vec::new();
    for bin in [DAY, HOUR] {
        let q = query(
            Metric::Jobs,
            Dimension::Site,
            bin,
            day_start,
            day_start + DAY,
        );
        per_bin.push(series(&store, &Topology::default(), &q).await.unwrap());
    }
    let (daily, hourly) = (&per_bin[0], &per_bin[1]);
    assert_eq!(daily.total, hourly.total);
    assert!(daily.total > 0.0);
    let mut failed_only = query(Metric::Jobs, Dimension::Site, HOUR, from, to);
    failed_only.filters = vec![(Dimension::JobStatus, vec!["failed".to_string()])];
    let failed = series(&store, &Topology::default(), &failed_only)
        .await
        .unwrap();
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
    let top = series(&store, &Topology::default(), &top).await.unwrap();
    assert_eq!(top.lines.len(), 3);
    assert_eq!(top.lines[2].name, "other");
    assert_eq!(top.total, jobs.total);

    // Rebuilding changes nothing.
    let before = store
        .rows(&JOB_ROLLUPS, 600, NOW - 4 * DAY, NOW + HOUR)
        .await
        .unwrap();
    rollup::rebuild(&db, &store, &categories, NOW - 4 * DAY, NOW + HOUR)
        .await
        .unwrap();
    assert_eq!(
        store
            .rows(&JOB_ROLLUPS, 600, NOW - 4 * DAY, NOW + HOUR)
            .await
            .unwrap(),
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
            store
                .rows(&JOB_ROLLUPS, 600, NOW - 4 * DAY, NOW + HOUR)
                .await
                .unwrap(),
            before
        );
    }

    // The day series (from the day rollups held in memory) before the late update below.
    let days = |store: StateStore| async move {
        let (a, b) = (from - from.rem_euclid(DAY), to - to.rem_euclid(DAY) + DAY);
        series(
            &store,
            &Topology::default(),
            &query(Metric::Jobs, Dimension::JobStatus, DAY, a, b),
        )
        .await
        .unwrap()
    };
    let failed_days = |s: &pandamon_accounting::series::Series| {
        s.lines
            .iter()
            .find(|l| l.name == "failed")
            .map_or(0.0, |l| l.total)
    };
    let days_before = days(store.clone()).await;

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
    let after = series(&store, &Topology::default(), &failed_only)
        .await
        .unwrap();
    assert_eq!(after.total, failed.total + 1.0);
    // The days held in memory follow the store's own writes.
    let days_after = days(store.clone()).await;
    assert_eq!(failed_days(&days_after), failed_days(&days_before) + 1.0);
    assert_eq!(days_after.total, days_before.total);
}
on_every_backend!(rollups_match_sql);

/// The state store without its day rollups in memory: every question reads the stored rows.
struct RowsOnly<'a>(&'a StateStore);

impl RollupStore for RowsOnly<'_> {
    async fn replace<const D: usize, const M: usize>(
        &self,
        table: &RollupTable<D, M>,
        resolution: i64,
        from: i64,
        to: i64,
        rows: &[RollupRow<D, M>],
    ) -> pandamon_store::Result<()> {
        self.0.replace(table, resolution, from, to, rows).await
    }
    async fn rows<const D: usize, const M: usize>(
        &self,
        table: &RollupTable<D, M>,
        resolution: i64,
        from: i64,
        to: i64,
    ) -> pandamon_store::Result<Vec<RollupRow<D, M>>> {
        self.0.rows(table, resolution, from, to).await
    }
    async fn extent<const D: usize, const M: usize>(
        &self,
        table: &RollupTable<D, M>,
        resolution: i64,
    ) -> pandamon_store::Result<Option<(i64, i64)>> {
        self.0.extent(table, resolution).await
    }
}

/// [`sum_by`] over [`window_rows`]: what the HS06 report and the site page do.
async fn totals(
    store: &impl RollupStore,
    (from, to): (i64, i64),
    needed: &[Dimension],
    keep: impl Fn(&RollupRow) -> bool,
    group: impl Fn(&RollupRow) -> String,
) -> std::collections::BTreeMap<String, RowSums> {
    let rows = window_rows(store, from, to, needed).await.unwrap();
    sum_by(&rows, keep, group)
}

/// Window totals (the HS06 report's and the site page's) from the day rollups in memory and
/// from the stored rows, against SQL; and the days held in memory within their budget.
async fn window_totals_match_sql_and_memory_keeps_its_budget(test: &TestDb) {
    let (db, store) = setup(test).await;
    let categories = rollup::categories(&db).await;
    rollup::rebuild(&db, &store, &categories, NOW - 4 * DAY, NOW + HOUR)
        .await
        .unwrap();
    let first = NOW - NOW.rem_euclid(DAY) - 2 * DAY;
    let day = |i: i64| (first + i * DAY, first + (i + 1) * DAY);
    // Jobs and failed jobs per site over [from, to), checked against SQL for the window and its
    // busiest site; the same from memory and from the rows.
    let check = |from: i64, to: i64| {
        let (db, store) = (db.clone(), store.clone());
        async move {
            let by_site = |r: &RollupRow| r.dims[0].clone();
            let failed = |r: &RollupRow| r.dims[8] == "failed";
            let (site, status) = (
                &[Dimension::Site][..],
                &[Dimension::Site, Dimension::JobStatus][..],
            );
            let all = totals(&store, (from, to), site, |_| true, by_site).await;
            let bad = totals(&store, (from, to), status, failed, by_site).await;
            let rows_only = RowsOnly(&store);
            assert_eq!(
                totals(&rows_only, (from, to), site, |_| true, by_site).await,
                all
            );
            assert_eq!(
                totals(&rows_only, (from, to), status, failed, by_site).await,
                bad
            );
            let jobs = |extra: &str| {
                let sql = format!(
                    "SELECT COUNT(DISTINCT pandaid) FROM {}",
                    completed(&db, from, to, extra)
                );
                let db = db.clone();
                async move { scalar(&db, &sql).await }
            };
            assert_eq!(all.values().map(|m| m[0]).sum::<i64>(), jobs("").await);
            assert_eq!(
                bad.values().map(|m| m[0]).sum::<i64>(),
                jobs(" AND jobstatus = 'failed'").await
            );
            let (site, sums) = all.iter().max_by_key(|(_, m)| m[0]).unwrap();
            assert!(sums[0] > 0, "jobs in {from}..{to}");
            assert_eq!(
                sums[0],
                jobs(&format!(" AND computingsite = '{site}'")).await
            );
        }
    };
    let held = || store.day_rollups_held();

    // Days asked one after the other are held together.
    check(day(0).0, day(0).1).await;
    let (range, one) = held().await;
    assert_eq!(range, Some(day(0)));
    assert!(one > 0);
    check(day(1).0, day(1).1).await;
    let (range, two) = held().await;
    assert_eq!(range, Some((day(0).0, day(1).1)));
    assert!(two > one);
    // Over the budget, only the last question's days stay; or none when they alone are over it.
    store.limit_day_rollups(two - 1).await;
    check(day(2).0, day(2).1).await;
    let (range, three) = held().await;
    assert_eq!(range, Some(day(2)));
    assert!(three > 0 && three < two, "one day of {three} bytes");
    check(day(0).0, day(2).1).await;
    assert_eq!(held().await, (None, 0));
    // Answers stay the same.
    check(day(1).0, day(1).1).await;
    assert_eq!(held().await.0, Some(day(1)));
}
on_every_backend!(window_totals_match_sql_and_memory_keeps_its_budget);

/// A job moved from `jobsarchived4` into the archive schema, seen in both tables for a moment,
/// counts once before, during and after the move; and jobs count under their task's campaign.
async fn moved_jobs_count_once_and_campaigns_come_from_tasks(test: &TestDb) {
    let (db, store) = setup(test).await;
    let categories = rollup::categories(&db).await;
    let from = NOW - 2 * DAY - (NOW - 2 * DAY).rem_euclid(HOUR);
    let to = from + DAY;
    let jobs = |store: StateStore| async move {
        series(
            &store,
            &Topology::default(),
            &query(Metric::Jobs, Dimension::Campaign, HOUR, from, to),
        )
        .await
        .unwrap()
    };
    rollup::rebuild(&db, &store, &categories, from, to)
        .await
        .unwrap();
    let before = jobs(store.clone()).await;
    assert!(before.total > 0.0);
    // Each campaign's jobs against SQL joining the jobs to their tasks.
    let tasks = db.qualified(Catalog::get().table("jedi_tasks"));
    for line in before.lines.iter().filter(|l| l.name != "(none)") {
        let sql = format!(
            "SELECT COUNT(DISTINCT jobs.pandaid) FROM {} JOIN {tasks} t ON t.jeditaskid = jobs.jeditaskid WHERE t.campaign = '{}'",
            completed(&db, from, to, ""),
            line.name
        );
        assert_eq!(
            line.total as i64,
            scalar(&db, &sql).await,
            "campaign {}",
            line.name
        );
    }

    let (recent, archive) = (
        db.qualified(Catalog::get().table("jobsarchived4")),
        db.qualified(Catalog::get().table("jobsarchived")),
    );
    let moved = scalar(
        &db,
        &format!(
            "SELECT MIN(pandaid) FROM {recent} WHERE jobstatus = 'finished' AND endtime >= {} AND endtime < {}",
            at(from),
            at(to)
        ),
    )
    .await;
    let shared: Vec<&str> = Catalog::get()
        .table("jobsarchived")
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .filter(|c| Catalog::get().table("jobsarchived4").column(c).is_some())
        .collect();
    let columns = shared.join(", ");
    db.execute(&format!(
        "INSERT INTO {archive} ({columns}) SELECT {columns} FROM {recent} WHERE pandaid = {moved}"
    ))
    .await
    .unwrap();
    rollup::rebuild(&db, &store, &categories, from, to)
        .await
        .unwrap();
    assert_eq!(
        jobs(store.clone()).await,
        before,
        "a job in both tables counts once"
    );
    db.execute(&format!("DELETE FROM {recent} WHERE pandaid = {moved}"))
        .await
        .unwrap();
    rollup::rebuild(&db, &store, &categories, from, to)
        .await
        .unwrap();
    assert_eq!(
        jobs(store.clone()).await,
        before,
        "a moved job still counts"
    );
}
on_every_backend!(moved_jobs_count_once_and_campaigns_come_from_tasks);

/// The files and bytes of the transfer events of a window, straight from SQL, for those
/// matching `condition` (on the events `e` and the destination endpoint `d`).
async fn transfers_by_sql(db: &Db, from: i64, to: i64, condition: &str) -> (i64, i64) {
    let source = format!(
        "FROM {} e JOIN {} d ON d.ddm_endpoint_name = e.dst_rse WHERE e.transferred_at >= {} AND e.transferred_at < {} AND {condition}",
        db.qualified(Catalog::get().table("transfer_events")),
        db.qualified(Catalog::get().table("ddm_endpoint")),
        at(from),
        at(to)
    );
    (
        scalar(db, &format!("SELECT COUNT(*) {source}")).await,
        scalar(db, &format!("SELECT {} {source}", whole(db, "e.bytes"))).await,
    )
}

/// Transfer rollups against SQL over the events: per destination site and outcome, in minute
/// and hour bins; older than the minute retention only hours are kept; a rebuild changes
/// nothing.
async fn transfer_rollups_match_sql(test: &TestDb) {
    let (db, store) = setup(test).await;
    let events = db.qualified(Catalog::get().table("transfer_events"));
    let all = scalar(&db, &format!("SELECT COUNT(*) FROM {events}")).await;
    let failed = scalar(
        &db,
        &format!("SELECT COUNT(*) FROM {events} WHERE event_type = 'transfer-failed'"),
    )
    .await;
    assert!(all > 100 && failed > 0, "{all} events, {failed} failed");
    // Every job transfer belongs to a job of the job tables.
    let orphans = scalar(
        &db,
        &format!(
            "SELECT COUNT(*) FROM {events} e WHERE e.pandaid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {} j WHERE j.pandaid = e.pandaid)",
            completed_or_not(&db)
        ),
    )
    .await;
    assert_eq!(orphans, 0);

    let sites = transfers::rse_sites(&db).await;
    let counted = transfers::rebuild(&db, &store, &sites, NOW - 4 * DAY, NOW + HOUR, NOW)
        .await
        .unwrap();
    assert_eq!(counted as i64, all);
    let from = NOW - 2 * DAY - (NOW - 2 * DAY).rem_euclid(HOUR);
    let to = from + DAY;
    let (all_files, all_bytes) = transfers_by_sql(&db, from, to, "1 = 1").await;
    assert!(all_files > 0);
    for bin in [600, HOUR] {
        let q = TransferQuery {
            metric: TransferMetric::Files,
            groupby: TransferDimension::DstSite,
            bin,
            from,
            to,
            filters: Vec::new(),
            top: None,
        };
        let rows = transfers::rows(&store, &Topology::default(), &q)
            .await
            .unwrap();
        let mut got = std::collections::BTreeMap::new();
        for row in &rows {
            let e = got
                .entry((row.dims[1].clone(), row.dims[3].clone()))
                .or_insert((0, 0));
            e.0 += row.metrics[0];
            e.1 += row.metrics[1];
        }
        for ((site, state), sums) in &got {
            let event = if state == "failed" {
                "transfer-failed"
            } else {
                "transfer-done"
            };
            let condition = format!("d.site_name = '{site}' AND e.event_type = '{event}'");
            assert_eq!(
                *sums,
                transfers_by_sql(&db, from, to, &condition).await,
                "{site} {state}, bin {bin}"
            );
        }
        let (files, bytes) = got.values().fold((0, 0), |a, s| (a.0 + s.0, a.1 + s.1));
        assert_eq!((files, bytes), (all_files, all_bytes), "bin {bin}");
        let done = transfers_by_sql(&db, from, to, "e.event_type = 'transfer-done'").await;
        let series = transfers::series(&rows, &Topology::default(), &q);
        assert_eq!(series.total as i64, done.0);
    }
    let before = store
        .rows(&TRANSFER_ROLLUPS, 60, NOW - 4 * DAY, NOW + HOUR)
        .await
        .unwrap();
    transfers::rebuild(&db, &store, &sites, NOW - 4 * DAY, NOW + HOUR, NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .rows(&TRANSFER_ROLLUPS, 60, NOW - 4 * DAY, NOW + HOUR)
            .await
            .unwrap(),
        before
    );
    // Forty days on, the same days keep their hours and lose their minutes.
    let later = NOW + 40 * DAY;
    let hours = store
        .rows(&TRANSFER_ROLLUPS, HOUR, NOW - 4 * DAY, NOW + HOUR)
        .await
        .unwrap();
    transfers::prune(&store, later).await.unwrap();
    transfers::rebuild(&db, &store, &sites, NOW - 4 * DAY, NOW + HOUR, later)
        .await
        .unwrap();
    assert!(
        store
            .rows(&TRANSFER_ROLLUPS, 60, NOW - 4 * DAY, NOW + HOUR)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .rows(&TRANSFER_ROLLUPS, HOUR, NOW - 4 * DAY, NOW + HOUR)
            .await
            .unwrap(),
        hours
    );
}
on_every_backend!(transfer_rollups_match_sql);

/// Every job of the job tables, as one SQL `FROM` source.
fn completed_or_not(db: &Db) -> String {
    let parts: Vec<String> = [
        "jobsdefined4",
        "jobsactive4",
        "jobsarchived4",
        "jobsarchived",
    ]
    .iter()
    .map(|t| {
        format!(
            "SELECT pandaid FROM {}",
            db.qualified(Catalog::get().table(t))
        )
    })
    .collect();
    format!("({})", parts.join(" UNION ALL "))
}

/// The 10-minute snapshots against SQL over the active job tables: running jobs per site,
/// pending jobs, and an hour's value as the mean of its snapshots.
async fn snapshots_count_running_and_pending_jobs(test: &TestDb) {
    let (db, store) = setup(test).await;
    let at = NOW - NOW.rem_euclid(600);
    snapshots::take(&db, &store, at).await.unwrap();
    let active = |statuses: &str, extra: &str| {
        let parts: Vec<String> = ["jobsdefined4", "jobsactive4"]
            .iter()
            .map(|t| {
                format!(
                    "SELECT pandaid FROM {} WHERE jobstatus IN ({statuses}){extra}",
                    db.qualified(Catalog::get().table(t))
                )
            })
            .collect();
        format!(
            "SELECT COUNT(DISTINCT pandaid) FROM ({}) jobs",
            parts.join(" UNION ALL ")
        )
    };
    let running = series(
        &store,
        &Topology::default(),
        &query(Metric::RunningJobs, Dimension::Site, 600, at, at + 600),
    )
    .await
    .unwrap();
    assert!(running.lines.len() > 2, "running jobs at several sites");
    for line in &running.lines {
        let sql = active(
            "'running'",
            &format!(" AND computingsite = '{}'", line.name),
        );
        assert_eq!(line.total as i64, scalar(&db, &sql).await, "{}", line.name);
    }
    let pending = series(
        &store,
        &Topology::default(),
        &query(Metric::PendingJobs, Dimension::JobStatus, 600, at, at + 600),
    )
    .await
    .unwrap();
    let sql = active("'defined', 'waiting', 'assigned', 'activated'", "");
    assert_eq!(pending.total as i64, scalar(&db, &sql).await);

    // Half the running jobs of one site finish; the hour holds the mean of both snapshots.
    let site = running.lines[0].name.clone();
    let before = running.lines[0].total as i64;
    let table = db.qualified(Catalog::get().table("jobsactive4"));
    let ids = scalar(
        &db,
        &format!(
            "SELECT COUNT(*) FROM {table} WHERE jobstatus = 'running' AND computingsite = '{site}'"
        ),
    )
    .await;
    assert_eq!(ids, before);
    db.execute(&format!(
        "UPDATE {table} SET jobstatus = 'holding' WHERE jobstatus = 'running' AND computingsite = '{site}'"
    ))
    .await
    .unwrap();
    snapshots::take(&db, &store, at + 600).await.unwrap();
    let hour = at - at.rem_euclid(HOUR);
    let hourly = series(
        &store,
        &Topology::default(),
        &query(
            Metric::RunningJobs,
            Dimension::Site,
            HOUR,
            hour,
            hour + HOUR,
        ),
    )
    .await
    .unwrap();
    let line = hourly.lines.iter().find(|l| l.name == site);
    let mean = line.map_or(0.0, |l| l.values[0]);
    assert_eq!(mean, before as f64 / 2.0);
}
on_every_backend!(snapshots_count_running_and_pending_jobs);
