//! Simulator invariants, checked with independent SQL on every backend, before and after live
//! evolution; and the same seed giving the same database everywhere.

use pandamon_model::SimulatorReport;
use pandamon_sim::live::{Live, LiveConfig};
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::{Catalog, Db, schema, with_pool};
use pandamon_testkit::{Backend, TestDb, on_every_backend};
use sqlx::AssertSqlSafe;
use std::sync::{Arc, RwLock};
use std::time::Duration;

const NOW: i64 = 1_790_000_000;

fn config(jobs: u64) -> SimConfig {
    SimConfig {
        jobs,
        seed: 11,
        days: 3.0,
        now: NOW,
    }
}

/// Rewrites `{table}` to the qualified table name and `"col"` quoting for the dialect.
fn sql(db: &Db, text: &str) -> String {
    let mut out = text.to_string();
    for table in &Catalog::get().tables {
        out = out.replace(&format!("{{{}}}", table.name), &db.qualified(table));
    }
    out
}

async fn count(db: &Db, text: &str) -> i64 {
    db.scalar_i64(&sql(db, text))
        .await
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

async fn strings(db: &Db, text: &str) -> Vec<String> {
    let q = sql(db, text);
    with_pool!(db, pool => sqlx::query_scalar::<_, String>(AssertSqlSafe(q.clone())).fetch_all(pool).await.unwrap_or_else(|e| panic!("{q}: {e}")))
}

const ALL_JOBS: &str = "SELECT pandaid, jobstatus, jeditaskid, parentid, computingsite FROM {jobsdefined4} \
    UNION ALL SELECT pandaid, jobstatus, jeditaskid, parentid, computingsite FROM {jobsactive4} \
    UNION ALL SELECT pandaid, jobstatus, jeditaskid, parentid, computingsite FROM {jobsarchived4} \
    UNION ALL SELECT pandaid, jobstatus, jeditaskid, parentid, computingsite FROM {jobsarchived}";

async fn check_invariants(db: &Db) {
    let total = count(db, &format!("SELECT COUNT(*) FROM ({ALL_JOBS}) j")).await;
    assert!(total > 0);
    // Event ranges move with their jobs (live mode too): an ended job has none still open, and
    // every event-service job has its ranges.
    let open_after_end = count(
        db,
        "SELECT COUNT(*) FROM {jedi_events} e JOIN {jobsarchived4} j ON j.pandaid = e.pandaid \
         WHERE e.status IN (0, 1, 2)",
    )
    .await;
    assert_eq!(open_after_end, 0, "ended jobs with ranges still open");
    for table in ["jobsdefined4", "jobsactive4", "jobsarchived4"] {
        let without = count(
            db,
            &format!(
                "SELECT COUNT(*) FROM {{{table}}} j WHERE j.eventservice = 1 AND NOT EXISTS \
                 (SELECT 1 FROM {{jedi_events}} e WHERE e.pandaid = j.pandaid)"
            ),
        )
        .await;
        assert_eq!(without, 0, "event-service jobs of {table} without ranges");
    }
    // A worker's job count is the number of jobs related to it (pilots pulling several too).
    let miscounted = count(
        db,
        "SELECT COUNT(*) FROM {harvester_workers} w WHERE COALESCE(w.njobs, 0) <> \
         (SELECT COUNT(*) FROM {harvester_rel_jobs_workers} r WHERE r.harvesterid = w.harvesterid AND r.workerid = w.workerid)",
    )
    .await;
    assert_eq!(
        miscounted, 0,
        "workers whose njobs differs from their related jobs"
    );
    // Every job in exactly one job table.
    let distinct = count(
        db,
        &format!("SELECT COUNT(DISTINCT pandaid) FROM ({ALL_JOBS}) j"),
    )
    .await;
    assert_eq!(distinct, total, "a pandaid is in more than one job table");
    // Status consistent with its table.
    for (table, allowed) in [
        ("jobsdefined4", "'pending','defined','assigned','waiting'"),
        (
            "jobsactive4",
            "'activated','throttled','sent','starting','running','holding','transferring','merging'",
        ),
        ("jobsarchived4", "'finished','failed','cancelled','closed'"),
        ("jobsarchived", "'finished','failed','cancelled','closed'"),
    ] {
        let wrong = count(
            db,
            &format!("SELECT COUNT(*) FROM {{{table}}} WHERE jobstatus NOT IN ({allowed})"),
        )
        .await;
        assert_eq!(wrong, 0, "{table} holds jobs in a status it must not");
    }
    // Retries are linked: every job with a parent has a history row and the parent failed.
    let unlinked = count(
        db,
        &format!(
            "SELECT COUNT(*) FROM ({ALL_JOBS}) j WHERE j.parentid IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM {{jedi_job_retry_history}} h WHERE h.oldpandaid = j.parentid AND h.newpandaid = j.pandaid)"
        ),
    )
    .await;
    assert_eq!(unlinked, 0, "retries without a retry-history row");
    let bad_parent = count(
        db,
        &format!(
            "SELECT COUNT(*) FROM ({ALL_JOBS}) j WHERE j.parentid IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM ({ALL_JOBS}) p WHERE p.pandaid = j.parentid AND p.jobstatus IN ('failed', 'closed'))"
        ),
    )
    .await;
    assert_eq!(bad_parent, 0, "retries whose parent did not fail");
    assert!(count(db, "SELECT COUNT(*) FROM {jedi_job_retry_history}").await > 0);
    // Input dataset counters match the file contents.
    for (counter, status) in [
        ("nfilesfinished", "'finished'"),
        ("nfilesfailed", "'failed'"),
    ] {
        let mismatched = count(
            db,
            &format!(
                "SELECT COUNT(*) FROM {{jedi_datasets}} d WHERE d.type = 'input' AND COALESCE(d.{counter}, 0) <> \
                 (SELECT COUNT(*) FROM {{jedi_dataset_contents}} c WHERE c.jeditaskid = d.jeditaskid \
                  AND c.datasetid = d.datasetid AND c.status IN ({status}))"
            ),
        )
        .await;
        assert_eq!(
            mismatched, 0,
            "input datasets whose {counter} disagrees with their files"
        );
    }
    let nfiles = count(
        db,
        "SELECT COUNT(*) FROM {jedi_datasets} d WHERE d.type = 'input' AND d.nfiles <> \
         (SELECT COUNT(*) FROM {jedi_dataset_contents} c WHERE c.jeditaskid = d.jeditaskid AND c.datasetid = d.datasetid)",
    )
    .await;
    assert_eq!(
        nfiles, 0,
        "input datasets whose nfiles disagrees with their files"
    );
    let used = count(
        db,
        "SELECT COUNT(*) FROM {jedi_datasets} d WHERE d.type = 'input' AND d.nfilesused <> \
         (SELECT COUNT(*) FROM {jedi_dataset_contents} c WHERE c.jeditaskid = d.jeditaskid AND c.datasetid = d.datasetid \
          AND c.status IN ('running', 'finished', 'failed'))",
    )
    .await;
    assert_eq!(
        used, 0,
        "input datasets whose nfilesused disagrees with their files"
    );
    // A file is finished exactly when the job that last read it finished; running files belong
    // to jobs that are not final.
    let finished_wrong = count(
        db,
        &format!(
            "SELECT COUNT(*) FROM {{jedi_dataset_contents}} c WHERE c.status = 'finished' AND NOT EXISTS \
             (SELECT 1 FROM ({ALL_JOBS}) j WHERE j.pandaid = c.pandaid AND j.jobstatus = 'finished')"
        ),
    )
    .await;
    assert_eq!(finished_wrong, 0, "finished files whose job did not finish");
    let running_wrong = count(
        db,
        "SELECT COUNT(*) FROM {jedi_dataset_contents} c WHERE c.status = 'running' AND NOT EXISTS \
         (SELECT 1 FROM {jobsdefined4} j WHERE j.pandaid = c.pandaid) AND NOT EXISTS \
         (SELECT 1 FROM {jobsactive4} j WHERE j.pandaid = c.pandaid)",
    )
    .await;
    assert_eq!(running_wrong, 0, "running files whose job is not active");
    // Output datasets count the finished jobs of their task.
    let outputs = count(
        db,
        &format!(
            "SELECT COUNT(*) FROM {{jedi_datasets}} d WHERE d.type = 'output' AND d.nfilesfinished <> \
             (SELECT COUNT(*) FROM ({ALL_JOBS}) j WHERE j.jeditaskid = d.jeditaskid AND j.jobstatus = 'finished')"
        ),
    )
    .await;
    assert_eq!(
        outputs, 0,
        "output datasets whose count disagrees with finished jobs"
    );
    // Final tasks have no work left.
    let open_final = count(
        db,
        "SELECT COUNT(*) FROM {jedi_tasks} t WHERE t.status IN ('done', 'finished', 'failed') AND EXISTS \
         (SELECT 1 FROM {jedi_dataset_contents} c WHERE c.jeditaskid = t.jeditaskid AND c.status IN ('ready', 'running'))",
    )
    .await;
    assert_eq!(open_final, 0, "final tasks with files still to process");
    // Every job runs at a queue described in schedconfig_json, and links to a task.
    let unknown_sites = count(
        db,
        &format!(
            "SELECT COUNT(*) FROM ({ALL_JOBS}) j WHERE NOT EXISTS (SELECT 1 FROM {{schedconfig_json}} s WHERE s.panda_queue = j.computingsite)"
        ),
    )
    .await;
    assert_eq!(unknown_sites, 0);
    let orphans = count(
        db,
        &format!("SELECT COUNT(*) FROM ({ALL_JOBS}) j WHERE NOT EXISTS (SELECT 1 FROM {{jedi_tasks}} t WHERE t.jeditaskid = j.jeditaskid)"),
    )
    .await;
    assert_eq!(orphans, 0);
    // Harvester workers linked to jobs exist.
    let links = count(
        db,
        "SELECT COUNT(*) FROM {harvester_rel_jobs_workers} r WHERE NOT EXISTS (SELECT 1 FROM {harvester_workers} w \
         WHERE w.harvesterid = r.harvesterid AND w.workerid = r.workerid)",
    )
    .await;
    assert_eq!(links, 0, "job-worker links to missing workers");
}

/// `jobs_share_stats` agrees with the jobs of `jobsactive4`, share by share and status by status.
async fn check_share_stats(db: &Db) {
    let differing = count(
        db,
        "SELECT COUNT(*) FROM (SELECT gshare, jobstatus, SUM(hs06) AS hs, COUNT(*) AS n FROM {jobsactive4} \
         GROUP BY gshare, jobstatus) j WHERE j.hs <> (SELECT COALESCE(SUM(s.hs), 0) FROM {jobs_share_stats} s \
         WHERE s.gshare = j.gshare AND s.jobstatus = j.jobstatus) OR j.n <> (SELECT COALESCE(SUM(s.njobs), 0) \
         FROM {jobs_share_stats} s WHERE s.gshare = j.gshare AND s.jobstatus = j.jobstatus)",
    )
    .await;
    assert_eq!(differing, 0, "share statistics that differ from the jobs");
    let stray = count(
        db,
        "SELECT COUNT(*) FROM {jobs_share_stats} s WHERE s.njobs <> (SELECT COUNT(*) FROM {jobsactive4} j \
         WHERE j.gshare = s.gshare AND j.jobstatus = s.jobstatus AND j.computingsite = s.computingsite \
         AND j.resource_type = s.resource_type AND j.workqueue_id = s.workqueue_id AND j.nucleus = s.nucleus)",
    )
    .await;
    assert_eq!(
        stray, 0,
        "share statistics that count jobs that are not active"
    );
    let untagged = count(
        db,
        "SELECT COUNT(*) FROM {jobsactive4} WHERE gshare IS NULL",
    )
    .await;
    assert_eq!(untagged, 0, "every job has its share");
}

async fn simulated_database_keeps_its_invariants_live(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let (summary, _) = pandamon_sim::simulate(&db, config(3_000), Box::new(Silent))
        .await
        .unwrap();
    assert_eq!(
        summary.jobs as i64,
        count(&db, &format!("SELECT COUNT(*) FROM ({ALL_JOBS}) j")).await
    );
    assert!(
        (3_000..4_500).contains(&summary.jobs),
        "{} jobs",
        summary.jobs
    );
    check_invariants(&db).await;
    // Realistic shapes: every lifecycle table has rows, failures carry error codes.
    for table in [
        "jobs_statuslog",
        "filestable4",
        "jobparamstable",
        "harvester_workers",
        "global_shares",
        "error_descriptions",
        "schedconfig_json",
        "requests",
        "transforms",
        "collections",
        "tasks_statuslog",
    ] {
        assert!(
            count(&db, &format!("SELECT COUNT(*) FROM {{{table}}}")).await > 0,
            "{table} is empty"
        );
    }
    let failed_without_code = count(
        &db,
        "SELECT COUNT(*) FROM {jobsarchived4} WHERE jobstatus = 'failed' AND piloterrorcode = 0 AND exeerrorcode = 0 \
         AND ddmerrorcode = 0 AND jobdispatchererrorcode = 0 AND taskbuffererrorcode = 0 AND superrorcode = 0 AND brokerageerrorcode = 0",
    )
    .await;
    assert_eq!(failed_without_code, 0);
    check_share_stats(&db).await;
    // Live evolution keeps the invariants: run it hard for a few seconds.
    let report = Arc::new(RwLock::new(SimulatorReport::default()));
    let live_config = LiveConfig {
        rate: 40.0,
        tick: Duration::from_millis(250),
        seed: 3,
    };
    let mut live = Live::start(db.clone(), live_config, report).await.unwrap();
    assert!(live.in_flight() > 0);
    let before = count(&db, &format!("SELECT COUNT(*) FROM ({ALL_JOBS}) j")).await;
    let mut created = 0;
    let mut moved = 0;
    // Jobs picked up at start fall due 1 to 120 s later: tick until some have moved (at least
    // 12 rounds, at most a minute), so a slow machine does not end the run before the first.
    for round in 0..240 {
        if round >= 12 && created > 0 && moved > 0 {
            break;
        }
        let (c, m) = live.tick().await.unwrap();
        created += c;
        moved += m;
        if round == 0 {
            // The first step rewrites the share statistics after moving the jobs.
            check_share_stats(&db).await;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(created > 0, "live mode created no jobs");
    assert!(moved > 0, "live mode moved no jobs");
    assert_eq!(
        count(&db, &format!("SELECT COUNT(*) FROM ({ALL_JOBS}) j")).await,
        before + created as i64
    );
    check_invariants(&db).await;
    db.close().await;
}
on_every_backend!(simulated_database_keeps_its_invariants_live);

/// A digest of the workload: counts of every table and the key columns of every job.
async fn digest(db: &Db) -> Vec<String> {
    let mut out = Vec::new();
    for table in &Catalog::get().tables {
        if table.name == "pandadb_version" {
            continue;
        }
        out.push(format!(
            "{} {}",
            table.name,
            count(db, &format!("SELECT COUNT(*) FROM {{{}}}", table.name)).await
        ));
    }
    let cast = match db.dialect() {
        pandamon_store::Dialect::MySql => "CHAR",
        _ => "VARCHAR(40)",
    };
    for table in [
        "jobsdefined4",
        "jobsactive4",
        "jobsarchived4",
        "jobsarchived",
    ] {
        out.extend(
            strings(
                db,
                &format!(
                    "SELECT {c}(CAST(pandaid AS {cast}), ' ', jobstatus, ' ', computingsite, ' ', CAST(attemptnr AS {cast}), ' ', \
                     CAST(piloterrorcode AS {cast}), ' ', COALESCE(CAST(parentid AS {cast}), '-')) FROM {{{table}}} ORDER BY pandaid",
                    c = if db.dialect() == pandamon_store::Dialect::Sqlite { "concat" } else { "CONCAT" }
                ),
            )
            .await,
        );
    }
    out.extend(strings(db, "SELECT CONCAT(CAST(jeditaskid AS VARCHAR(40)), ' ', status, ' ', taskname) FROM {jedi_tasks} ORDER BY jeditaskid".replace("VARCHAR(40)", cast).as_str()).await);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_seed_gives_the_same_database_on_every_backend() {
    let mut digests = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
        let test = TestDb::new(backend, "same_seed").await;
        let db = test.connect().await;
        schema::init(&db, false).await.unwrap();
        pandamon_sim::simulate(&db, config(1_500), Box::new(Silent))
            .await
            .unwrap();
        digests.push((backend, digest(&db).await));
        db.close().await;
        test.cleanup().await;
    }
    let (first_backend, first) = &digests[0];
    assert!(first.len() > 1_500);
    for (backend, other) in &digests[1..] {
        assert_eq!(first.len(), other.len(), "{first_backend:?} vs {backend:?}");
        for (a, b) in first.iter().zip(other) {
            assert_eq!(a, b, "{first_backend:?} vs {backend:?}");
        }
    }
    // And a different seed gives a different workload.
    let test = TestDb::new(Backend::Sqlite, "other_seed").await;
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            seed: 12,
            ..config(1_500)
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    assert_ne!(&digest(&db).await, first);
    db.close().await;
    test.cleanup().await;
}

#[tokio::test]
async fn simulate_refuses_a_database_it_did_not_create() {
    let test = TestDb::new(Backend::Sqlite, "not_owned").await;
    let db = test.connect().await;
    let err = pandamon_sim::simulate(&db, config(10), Box::new(Silent))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("schema init"), "{err}");
    let err = pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 0,
            ..config(10)
        },
        Box::new(Silent),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("--jobs"), "{err}");
    test.cleanup().await;
}

/// Workers look like the Harvester paper's Figure 3 over a 6-hour window: status, resource type
/// and job type shares each within 10 points; 13 instances; about one worker per two or three
/// jobs; every worker's native status consistent with its status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_look_like_figure_3() {
    let test = TestDb::new(Backend::Sqlite, "workers_mix").await;
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 40_000,
            seed: 5,
            days: 1.0,
            now: NOW,
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    let window = "submittime >= '2026-09-21 08:13:20' AND submittime <= '2026-09-21 14:13:20'";
    let in_window = count(
        &db,
        &format!("SELECT COUNT(*) FROM {{harvester_workers}} WHERE {window}"),
    )
    .await;
    assert!(in_window > 1_000, "{in_window} workers in 6 hours");
    let share = |n: i64| 100.0 * n as f64 / in_window as f64;
    for (column, value, expected) in [
        ("status", "running", 45.0),
        ("status", "submitted", 32.0),
        ("status", "finished", 21.0),
        ("status", "cancelled", 1.0),
        ("resourcetype", "SCORE", 56.0),
        ("resourcetype", "MCORE", 38.0),
        ("resourcetype", "SCORE_HIMEM", 6.0),
        ("jobtype", "managed", 52.0),
        ("jobtype", "user", 43.0),
    ] {
        let n = count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM {{harvester_workers}} WHERE {window} AND {column} = '{value}'"
            ),
        )
        .await;
        let got = share(n);
        assert!(
            (got - expected).abs() <= 10.0,
            "{column}={value}: {got:.1} % of the workers, expected about {expected} %"
        );
    }
    for status in ["failed", "missed"] {
        let n = count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM {{harvester_workers}} WHERE {window} AND status = '{status}'"
            ),
        )
        .await;
        assert!(share(n) < 2.0, "{status}: {:.1} %", share(n));
    }
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(DISTINCT harvesterid) FROM {harvester_workers}"
        )
        .await,
        13
    );
    let workers = count(&db, "SELECT COUNT(*) FROM {harvester_workers}").await;
    let jobs = count(&db, &format!("SELECT COUNT(*) FROM ({ALL_JOBS}) j")).await;
    let per_job = workers as f64 / jobs as f64;
    assert!(
        (0.2..0.5).contains(&per_job),
        "{per_job:.2} workers per job"
    );
    // Pull-mode workers run several jobs; the relation table says which.
    let multi = count(
        &db,
        "SELECT COUNT(*) FROM (SELECT harvesterid, workerid FROM {harvester_rel_jobs_workers} GROUP BY harvesterid, workerid HAVING COUNT(*) > 1) m",
    )
    .await;
    assert!(multi > 0, "no worker ran more than one job");
    let inconsistent = count(
        &db,
        "SELECT COUNT(*) FROM {harvester_workers} WHERE (status = 'running' AND nativestatus <> 'running') \
         OR (status = 'submitted' AND nativestatus <> 'idle') OR (status = 'finished' AND nativestatus <> 'completed') \
         OR (njobs > 0 AND status IN ('submitted', 'missed'))",
    )
    .await;
    assert_eq!(
        inconsistent, 0,
        "workers whose native status contradicts their status"
    );
    db.close().await;
    test.cleanup().await;
}

/// The tables PanDA tools read besides the job tables are filled, and consistently with the
/// jobs: events of event-service jobs, the archive's files and parameters, work queues,
/// dataset locality, task attempts, storage endpoints and the meta schema.
async fn simulated_database_fills_the_rest_of_panda(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let config = SimConfig {
        // Enough tasks that a few are event-service tasks (about 1 in 150).
        jobs: 20_000,
        seed: 5,
        days: 6.0,
        now: NOW,
    };
    pandamon_sim::simulate(&db, config, Box::new(Silent))
        .await
        .unwrap();
    for table in [
        "jedi_events",
        "jedi_work_queue",
        "jedi_dataset_locality",
        "task_attempts",
        "jobsdebug",
        "filestable_arch",
        "jobparamstable_arch",
        "metatable_arch",
        "datasets",
        "metrics",
        "ddm_endpoint",
        "sitedata",
        "users",
    ] {
        assert!(
            count(&db, &format!("SELECT COUNT(*) FROM {{{table}}}")).await > 0,
            "{table} is empty"
        );
    }
    // Every event-service job has event ranges, and only those jobs have them.
    for (table, es) in [
        ("jobsactive4", "eventservice = 1"),
        ("jobsarchived4", "eventservice = 1"),
        ("jobsarchived", "eventservice = 1"),
    ] {
        let without = count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM {{{table}}} j WHERE {es} AND NOT EXISTS \
                 (SELECT 1 FROM {{jedi_events}} e WHERE e.pandaid = j.pandaid)"
            ),
        )
        .await;
        assert_eq!(without, 0, "event-service jobs of {table} without events");
    }
    let stray = count(
        &db,
        "SELECT COUNT(*) FROM {jedi_events} e WHERE NOT EXISTS (SELECT 1 FROM {jedi_tasks} t \
         WHERE t.jeditaskid = e.jeditaskid AND t.eventservice = 1)",
    )
    .await;
    assert_eq!(stray, 0, "events of tasks that are not event-service tasks");
    // A finished event-service job has every range finished.
    let unfinished = count(
        &db,
        "SELECT COUNT(*) FROM {jedi_events} e JOIN {jobsarchived4} j ON j.pandaid = e.pandaid \
         WHERE j.jobstatus = 'finished' AND e.status <> 3",
    )
    .await;
    assert_eq!(unfinished, 0);
    // Archived jobs have their files and parameters in the archive, the others not.
    for (jobs, files, params) in [
        ("jobsarchived", "filestable_arch", "jobparamstable_arch"),
        ("jobsarchived4", "filestable4", "jobparamstable"),
    ] {
        let elsewhere = count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM {{{jobs}}} j WHERE NOT EXISTS \
                 (SELECT 1 FROM {{{files}}} f WHERE f.pandaid = j.pandaid) \
                 OR NOT EXISTS (SELECT 1 FROM {{{params}}} p WHERE p.pandaid = j.pandaid)"
            ),
        )
        .await;
        assert_eq!(
            elsewhere, 0,
            "jobs of {jobs} without rows in {files}, {params}"
        );
    }
    let misplaced = count(
        &db,
        "SELECT COUNT(*) FROM {filestable4} f WHERE EXISTS \
         (SELECT 1 FROM {jobsarchived} j WHERE j.pandaid = f.pandaid)",
    )
    .await;
    assert_eq!(misplaced, 0, "files of archived jobs in filestable4");
    // Every task's work queue exists; every task has its attempt.
    let unknown_queue = count(
        &db,
        "SELECT COUNT(*) FROM {jedi_tasks} t WHERE NOT EXISTS \
         (SELECT 1 FROM {jedi_work_queue} q WHERE q.queue_id = t.workqueue_id)",
    )
    .await;
    assert_eq!(
        unknown_queue, 0,
        "tasks naming a work queue that is not there"
    );
    let without_attempt = count(
        &db,
        "SELECT COUNT(*) FROM {jedi_tasks} t WHERE NOT EXISTS \
         (SELECT 1 FROM {task_attempts} a WHERE a.jeditaskid = t.jeditaskid)",
    )
    .await;
    assert_eq!(without_attempt, 0);
    // The meta schema's users are the users of the analysis and production tasks.
    let unknown_users = count(
        &db,
        "SELECT COUNT(*) FROM {users} u WHERE NOT EXISTS \
         (SELECT 1 FROM {jedi_tasks} t WHERE t.username = u.name)",
    )
    .await;
    assert_eq!(unknown_users, 0);
    // The RSEs jobs write to exist as storage endpoints.
    let unknown_rse = count(
        &db,
        "SELECT COUNT(*) FROM {jedi_dataset_locality} l WHERE NOT EXISTS \
         (SELECT 1 FROM {ddm_endpoint} d WHERE d.ddm_endpoint_name = l.rse)",
    )
    .await;
    assert_eq!(unknown_rse, 0);
    db.close().await;
}
on_every_backend!(simulated_database_fills_the_rest_of_panda);
