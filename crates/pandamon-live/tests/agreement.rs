//! The index and SQL pushdown give the same answers, for random selections, on every backend,
//! after the first load and again after live changes have been synced.

use chrono::Utc;
use pandamon_live::JobIndex;
use pandamon_live::sync::{LiveIndex, Syncer};
use pandamon_model::{JobTable, SimulatorReport};
use pandamon_query::{Defaults, Selection, SqlDialect, fields};
use pandamon_sim::live::{Live, LiveConfig};
use pandamon_sim::rng::Rng;
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::jobs::{Cell, Group};
use pandamon_store::{Db, catalog::ColType, schema};
use pandamon_testkit::{TestDb, on_every_backend};
use std::sync::{Arc, RwLock};
use std::time::Duration;

fn normalise(groups: Vec<Group>) -> Vec<(Vec<String>, i64, i64)> {
    let mut out: Vec<(Vec<String>, i64, i64)> = groups
        .into_iter()
        .map(|g| {
            let key = g.values.iter().map(cell_key).collect();
            (key, g.count, g.example)
        })
        .collect();
    out.sort();
    // Groups split across tables in SQL are one group in the index: merge equal keys.
    let mut merged: Vec<(Vec<String>, i64, i64)> = Vec::new();
    for (key, count, example) in out {
        match merged.last_mut() {
            Some(last) if last.0 == key => {
                last.1 += count;
                last.2 = last.2.min(example);
            }
            _ => merged.push((key, count, example)),
        }
    }
    merged
}

/// Sites, users and tasks of the indexed jobs: selections that name a few of them are answered
/// from the index's per-value row lists.
struct Named {
    sites: Vec<String>,
    users: Vec<String>,
    tasks: Vec<String>,
}

impl Named {
    fn of(live: &LiveIndex, now: i64) -> Named {
        let selection = Selection::parse(
            [("hours", "72")],
            Defaults {
                window_hours: 72,
                now,
                vocabulary: &fields::JOBS,
            },
        )
        .unwrap();
        let columns = ["computingsite", "produsername", "jeditaskid"];
        let mut per_column = live
            .index
            .read()
            .unwrap()
            .facet_counts(&selection, &JobTable::ALL, &columns)
            .into_iter()
            .map(|values| values.iter().map(|(c, _)| cell_key(c)).collect::<Vec<_>>());
        Named {
            sites: per_column.next().unwrap(),
            users: per_column.next().unwrap(),
            tasks: per_column.next().unwrap(),
        }
    }

    /// One to three of `values`, as a `|` list.
    fn some(rng: &mut Rng, values: &[String]) -> String {
        (0..rng.range(1, 3))
            .map(|_| rng.pick(values).clone())
            .collect::<Vec<_>>()
            .join("|")
    }
}

fn random_query(rng: &mut Rng, named: &Named) -> Vec<(String, String)> {
    let mut q = vec![("hours".to_string(), rng.range(1, 72).to_string())];
    for _ in 0..rng.range(0, 2) {
        q.push(match rng.range(0, 10) {
            7 => ("computingsite".into(), Named::some(rng, &named.sites)),
            8 => ("produsername".into(), Named::some(rng, &named.users)),
            9 => ("jeditaskid".into(), Named::some(rng, &named.tasks)),
            0 => (
                "jobstatus".into(),
                rng.pick(&[
                    "failed",
                    "finished|failed",
                    "running,activated",
                    "!finished",
                ])
                .to_string(),
            ),
            1 => (
                "computingsite".into(),
                format!("*{}*", rng.pick(&["UCORE", "ANALY", "CERN", "HIMEM"])),
            ),
            2 => (
                "prodsourcelabel".into(),
                rng.pick(&["user", "managed", "!user"]).to_string(),
            ),
            3 => (
                "attemptnr".into(),
                rng.pick(&["1", "2|3", "!1"]).to_string(),
            ),
            4 => (
                "priorityrange".into(),
                format!("{}:{}", rng.range(0, 600), rng.range(600, 1200)),
            ),
            5 => (
                "specialhandling".into(),
                rng.pick(&["sj", "Not specified", "rb"]).to_string(),
            ),
            _ => (
                "durationmin".into(),
                format!("{}-{}", rng.range(0, 30), rng.range(30, 900)),
            ),
        });
    }
    q
}

async fn compare(db: &Db, live: &LiveIndex, seed: u64) -> usize {
    let mut rng = Rng::new(seed);
    let now = Utc::now().timestamp();
    let dialect = SqlDialect::from(db.dialect());
    let columns = [
        "jobstatus",
        "computingsite",
        "attemptnr",
        "piloterrorcode",
        "gshare",
    ];
    let typed: Vec<(&str, ColType)> = columns
        .iter()
        .map(|c| {
            (
                *c,
                pandamon_store::Catalog::get()
                    .table("jobsactive4")
                    .column(c)
                    .unwrap()
                    .ty,
            )
        })
        .collect();
    let named = Named::of(live, now);
    let mut nonzero = 0;
    for _ in 0..25 {
        let query = random_query(&mut rng, &named);
        let selection = Selection::parse(
            query.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            Defaults {
                window_hours: 12,
                now,
                vocabulary: &fields::JOBS,
            },
        )
        .unwrap();
        let tables = if selection.needs_archive() {
            JobTable::ALL.to_vec()
        } else {
            vec![JobTable::Defined, JobTable::Active, JobTable::Archived]
        };
        let (from_index, index_count) = {
            let index = live.index.read().unwrap();
            assert!(index.supports(&selection), "{query:?}");
            assert!(JobIndex::has_columns(&columns));
            (
                normalise(index.group(&selection, &tables, &columns)),
                index.count(&selection, &tables),
            )
        };
        let from_sql = normalise(db.group_jobs(&tables, &typed, &selection).await.unwrap());
        let table_names: Vec<&str> = tables.iter().map(|t| t.name()).collect();
        let sql_count = db.count_jobs(&tables, &selection).await.unwrap();
        assert_eq!(index_count, sql_count, "{query:?}");
        // A sorted page: the same jobs in the same order.
        let (column, descending) = *rng.pick(&[
            ("modificationtime", true),
            ("starttime", false),
            ("endtime", true),
            ("currentpriority", true),
            ("attemptnr", false),
            ("pandaid", false),
        ]);
        let offset = rng.range(0, 40) as usize;
        let page_index: Vec<i64> = live
            .index
            .read()
            .unwrap()
            .top(
                &selection,
                &tables,
                &pandamon_live::Page {
                    column,
                    descending,
                    nulls_largest: dialect == SqlDialect::Postgres,
                    offset,
                    limit: 25,
                },
            )
            .unwrap()
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        let sorted = Selection {
            sort: pandamon_query::Sort { column, descending },
            ..selection.clone()
        };
        let order = sorted.order_sql(dialect);
        let listed: Vec<&str> = if column == "pandaid" {
            vec!["pandaid"]
        } else {
            vec!["pandaid", column]
        };
        let page_sql: Vec<i64> = db
            .job_page(&tables, &listed, &sorted, 25, offset as u64)
            .await
            .unwrap()
            .iter()
            .filter_map(|r| r[0].as_int())
            .collect();
        assert_eq!(page_index, page_sql, "{query:?} ordered by {order}");
        assert_eq!(from_index, from_sql, "{query:?}");
        // Per hour of modification, as the errors page draws its failures.
        let typed_of = |c: &str| typed.iter().find(|(n, _)| *n == c).unwrap().1;
        let hourly = [
            ("jobstatus", typed_of("jobstatus")),
            ("piloterrorcode", typed_of("piloterrorcode")),
        ];
        let hourly_index = normalise(live.index.read().unwrap().group_by_hour(
            &selection,
            &tables,
            "modificationtime",
            &["jobstatus", "piloterrorcode"],
        ));
        let hourly_sql = normalise(
            db.group_rows_by_hour(
                &table_names,
                "modificationtime",
                &hourly,
                &selection,
                "pandaid",
            )
            .await
            .unwrap(),
        );
        assert_eq!(hourly_index, hourly_sql, "hourly: {query:?}");
        if sql_count > 0 {
            nonzero += 1;
        }
    }
    nonzero
}

fn random_worker_query(rng: &mut Rng) -> Vec<(String, String)> {
    let mut q = vec![("hours".to_string(), rng.range(1, 72).to_string())];
    for _ in 0..rng.range(0, 2) {
        q.push(match rng.range(0, 6) {
            0 => (
                "status".into(),
                rng.pick(&["running", "finished|failed", "!running", "submitted,idle"])
                    .to_string(),
            ),
            1 => (
                "instance".into(),
                rng.pick(&["CERN_central_A", "CERN_*", "!BNL_central"])
                    .to_string(),
            ),
            2 => (
                "computingsite".into(),
                rng.pick(&["*UCORE*", "CERN-PROD*", "Not specified"])
                    .to_string(),
            ),
            3 => (
                "resourcetype".into(),
                rng.pick(&["SCORE", "MCORE|SCORE_HIMEM"]).to_string(),
            ),
            4 => ("jobtype".into(), rng.pick(&["managed", "user"]).to_string()),
            _ => (
                "nativestatus".into(),
                rng.pick(&["running", "!completed", "Not specified"])
                    .to_string(),
            ),
        });
    }
    q
}

fn cell_key(c: &Cell) -> String {
    match c {
        Cell::Null => "∅".to_string(),
        Cell::Int(v) => v.to_string(),
        Cell::Text(s) => s.trim_end().to_string(),
        Cell::Time(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        other => format!("{other:?}"),
    }
}

/// The worker index and SQL give the same summary (total, every facet, workers per hour and
/// status) for random worker selections; returns how many selections matched workers.
async fn compare_workers(db: &Db, live: &LiveIndex, seed: u64) -> usize {
    let mut rng = Rng::new(seed);
    let now = Utc::now().timestamp();
    let columns = [
        "status",
        "computingsite",
        "computingelement",
        "resourcetype",
        "harvesterid",
        "nativestatus",
        "jobtype",
        "ncore",
    ];
    let table = pandamon_store::Catalog::get().table("harvester_workers");
    let mut nonzero = 0;
    for round in 0..25 {
        let query = random_worker_query(&mut rng);
        let selection = Selection::parse(
            query.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            Defaults {
                window_hours: 12,
                now,
                vocabulary: &fields::WORKERS,
            },
        )
        .unwrap();
        let index = live.workers.read().unwrap().clone();
        assert!(index.supports(&selection), "{query:?}");
        let summary = index.summary(&selection, &columns);
        let total = db
            .count_rows(&["harvester_workers"], &selection)
            .await
            .unwrap();
        assert_eq!(summary.total, total, "round {round}: {query:?}");
        if total > 0 {
            nonzero += 1;
        }
        for (i, column) in columns.iter().enumerate() {
            let ty = table.column(column).unwrap().ty;
            let sql = db
                .group_rows(
                    &["harvester_workers"],
                    &[(column, ty)],
                    &selection,
                    "workerid",
                )
                .await
                .unwrap();
            let mut expected: Vec<(String, i64)> = sql
                .iter()
                .map(|g| (cell_key(&g.values[0]), g.count))
                .collect();
            let mut got: Vec<(String, i64)> = summary.facets[i]
                .iter()
                .map(|(c, n)| (cell_key(c), *n))
                .collect();
            expected.sort();
            got.sort();
            assert_eq!(got, expected, "round {round}: {column} for {query:?}");
        }
        let hourly = db
            .group_rows_by_hour(
                &["harvester_workers"],
                "submittime",
                &[("status", ColType::Varchar(80))],
                &selection,
                "workerid",
            )
            .await
            .unwrap();
        let mut expected: Vec<(String, String, i64)> = hourly
            .iter()
            .map(|g| {
                let hour = cell_key(&g.values[0]);
                (
                    hour.get(..13).unwrap_or(&hour).to_string(),
                    cell_key(&g.values[1]),
                    g.count,
                )
            })
            .collect();
        let mut got: Vec<(String, String, i64)> = summary
            .hourly
            .iter()
            .map(|(hour, status, n)| {
                let hour = hour
                    .and_then(|h| chrono::DateTime::from_timestamp(h, 0))
                    .map_or("∅".to_string(), |t| t.format("%Y-%m-%d %H").to_string());
                (hour, cell_key(status), *n)
            })
            .collect();
        expected.sort();
        got.sort();
        assert_eq!(got, expected, "round {round}: hourly for {query:?}");
    }
    nonzero
}

async fn index_and_sql_agree(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let now = Utc::now().timestamp();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 2_500,
            seed: 13,
            days: 3.0,
            now,
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    let live = LiveIndex::new(4.0);
    let mut syncer = Syncer::new(db.clone(), live.clone());
    let rate = syncer.load().await.unwrap();
    assert!(rate > 0.0);
    let held = live.index.read().unwrap().len();
    assert!(held >= 2_400, "{held} jobs loaded");
    assert!(compare(&db, &live, 1).await > 10);
    assert!(live.workers_loaded());
    assert!(live.workers.read().unwrap().len() > 100);
    assert!(compare_workers(&db, &live, 1).await > 10);

    // Live changes: jobs move between tables, new jobs arrive; a poll brings them in.
    let report = Arc::new(RwLock::new(SimulatorReport::default()));
    let mut sim = Live::start(
        db.clone(),
        LiveConfig {
            rate: 40.0,
            tick: Duration::from_millis(250),
            seed: 9,
        },
        report,
    )
    .await
    .unwrap();
    let workers_sql = format!(
        "SELECT COUNT(*) FROM {}",
        db.qualified(pandamon_store::Catalog::get().table("harvester_workers"))
    );
    let workers_at_load = db.scalar_i64(&workers_sql).await.unwrap();
    let (mut created, mut moved) = (0, 0);
    // Until a job reaches `sent` (a new worker): jobs due within a few seconds on a fast
    // machine, up to two minutes when the machine is busy; the loop ends as soon as it happens.
    for _ in 0..480 {
        let (c, m) = sim.tick().await.unwrap();
        created += c;
        moved += m;
        let submitted = db.scalar_i64(&workers_sql).await.unwrap() > workers_at_load;
        if created > 0 && moved > 0 && submitted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        created > 0 && moved > 0,
        "live simulation changed nothing ({created} new, {moved} moved)"
    );
    let held_before = live.workers.read().unwrap().len() as i64;
    let submitted = db.scalar_i64(&workers_sql).await.unwrap() - workers_at_load;
    assert!(submitted > 0, "live simulation submitted no worker");
    syncer.poll().await.unwrap();
    assert!(compare(&db, &live, 2).await > 10);
    assert_eq!(
        live.workers.read().unwrap().len() as i64,
        held_before + submitted,
        "the poll brought in every worker live mode submitted"
    );
    assert!(compare_workers(&db, &live, 2).await > 10);
    db.close().await;
}
on_every_backend!(index_and_sql_agree);
