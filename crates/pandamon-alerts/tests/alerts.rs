//! The alert rules against crafted data on every backend, delivered to a real SMTP server
//! (Debian's python3-aiosmtpd) started by the test: recipients, subjects and bodies, repeat
//! suppression across runs and across a restart, a mail server that is down, a dry run.

use chrono::{Duration, NaiveDateTime, Utc};
use pandamon_alerts::{AlertsConfig, Mailer, Rule, from_json, run_rule};
use pandamon_store::{Db, StateConfig, StateStore, Value, schema};
use pandamon_testkit::{SmtpSink, TestDb, free_port, on_every_backend};
use serde_json::json;

/// One run of `rule` at `at`, sending through `mailer` as `config` says.
async fn run(
    rule: Rule,
    db: &Db,
    state: &StateStore,
    (config, mailer): (&AlertsConfig, &Mailer),
    at: NaiveDateTime,
) -> pandamon_alerts::RuleReport {
    run_rule(rule, db, state, config, mailer, at, false).await
}

/// A dry run of `rule` at `at`.
async fn dry_run(
    rule: Rule,
    db: &Db,
    state: &StateStore,
    (config, mailer): (&AlertsConfig, &Mailer),
    at: NaiveDateTime,
) -> pandamon_alerts::RuleReport {
    run_rule(rule, db, state, config, mailer, at, true).await
}

fn ts(t: NaiveDateTime) -> Value {
    Value::Time(t)
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string().into())
}

async fn insert(db: &Db, table: &str, values: &[(&str, Value)]) {
    db.transaction(&[db.insert_statement(table, values)])
        .await
        .unwrap_or_else(|e| panic!("{table}: {e}"));
}

/// A task with its input dataset of `nfiles` files, and a staging request feeding it.
#[allow(clippy::too_many_arguments)]
async fn staging_case(
    db: &Db,
    now: NaiveDateTime,
    id: i64,
    task_status: &str,
    source: &str,
    days_idle: i64,
    staged: i64,
    nfiles: i64,
    rule_error: Option<&str>,
) {
    let task = 1_000 + id;
    let dataset = format!("data18_13TeV:data18_13TeV.{id}.RAW");
    insert(
        db,
        "jedi_tasks",
        &[
            ("jeditaskid", Value::Int(task)),
            ("taskname", text(&format!("data18.reprocessing.{id}"))),
            ("status", text(task_status)),
            ("username", text("prodsys")),
            ("creationdate", ts(now - Duration::days(30))),
            ("modificationtime", ts(now - Duration::days(1))),
        ],
    )
    .await;
    insert(
        db,
        "jedi_datasets",
        &[
            ("jeditaskid", Value::Int(task)),
            ("datasetid", Value::Int(task * 10)),
            ("datasetname", text(&dataset)),
            ("type", text("input")),
            ("nfiles", Value::Int(nfiles)),
            ("creationtime", ts(now - Duration::days(30))),
            ("modificationtime", ts(now - Duration::days(1))),
        ],
    )
    .await;
    let mut parameters = json!({"task_id": task});
    if let Some(e) = rule_error {
        parameters["rule_error"] = json!(e);
    }
    insert(
        db,
        "data_carousel_requests",
        &[
            ("request_id", Value::Int(id)),
            ("dataset", text(&dataset)),
            ("source_rse", text(source)),
            ("destination_rse", text("CERN-PROD_DATADISK")),
            ("ddm_rule_id", text(&format!("rule{id:04}"))),
            ("status", text("staging")),
            ("total_files", Value::Int(10)),
            ("staged_files", Value::Int(staged)),
            ("dataset_size", Value::Int(10_000_000_000)),
            ("staged_size", Value::Int(staged * 1_000_000_000)),
            ("creation_time", ts(now - Duration::days(days_idle + 1))),
            ("start_time", ts(now - Duration::days(days_idle + 1))),
            ("last_staged_time", ts(now - Duration::days(days_idle))),
            ("source_tape", text("TAPE_7")),
            ("parameters", text(&parameters.to_string())),
        ],
    )
    .await;
    insert(
        db,
        "data_carousel_relations",
        &[
            ("request_id", Value::Int(id)),
            ("task_id", Value::Int(task)),
        ],
    )
    .await;
}

/// A real SMTP sink, the rules' configuration pointing at it, its mailer and the state store.
async fn mail_setup(db: &Db, name: &str) -> (SmtpSink, AlertsConfig, Mailer, StateStore) {
    let sink = SmtpSink::start(name);
    let config = config(sink.port);
    let mailer = Mailer::new(&config).unwrap();
    let state = StateStore::open(&StateConfig::default(), db).await.unwrap();
    (sink, config, mailer, state)
}

fn config(port: u16) -> AlertsConfig {
    from_json(
        Some(&json!({
            "smtp": format!("smtp://127.0.0.1:{port}"),
            "from": "pandamon@test.example",
            "experts": ["experts@test.example"],
            "monitor_url": "https://monitor.test.example",
            "attempts": 2,
            "retry_seconds": 0.1,
            "rules": {
                "stalled_staging": {"contacts": {"A_DATATAPE": ["tape-a@test.example"]}},
                "site_failure_spike": {"min_jobs": 50, "threshold": 0.5},
                "stuck_tasks": {"hours": 24}
            }
        })),
        None,
    )
    .unwrap()
}

async fn alerts_are_sent_once_to_the_right_people(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let now = Utc::now().naive_utc();
    // Stalled 11 days with a tape error; idle 9 days (not yet); stalled 12 days without a tape
    // error; stalled but files were lost; stalled but its task is done.
    staging_case(
        &db,
        now,
        1,
        "running",
        "A_DATATAPE",
        11,
        4,
        10,
        Some("[TAPE SOURCE] A_DATATAPE: tape TAPE_7 is disabled"),
    )
    .await;
    staging_case(
        &db,
        now,
        2,
        "running",
        "A_DATATAPE",
        9,
        4,
        10,
        Some("[TAPE SOURCE] A_DATATAPE: tape TAPE_7 is disabled"),
    )
    .await;
    staging_case(
        &db,
        now,
        3,
        "ready",
        "B_DATATAPE",
        12,
        2,
        10,
        Some("TRANSFER_FAILED: destination unreachable"),
    )
    .await;
    staging_case(&db, now, 4, "running", "A_DATATAPE", 15, 8, 5, None).await;
    staging_case(&db, now, 5, "done", "B_DATATAPE", 20, 3, 10, None).await;

    let (sink, config, mailer, state) = mail_setup(&db, "alerts").await;

    // A dry run says what it would send and sends nothing.
    let dry = dry_run(Rule::StalledStaging, &db, &state, (&config, &mailer), now).await;
    assert_eq!(dry.findings, 2, "{dry:?}");
    assert_eq!(dry.sent.len(), 2);
    assert!(sink.messages().is_empty());

    let first = run(Rule::StalledStaging, &db, &state, (&config, &mailer), now).await;
    assert_eq!(
        (first.findings, first.sent.len(), first.suppressed),
        (2, 2, 0),
        "{first:?}"
    );
    assert!(
        first.failed.is_empty() && first.error.is_none(),
        "{first:?}"
    );
    let messages = sink.messages();
    assert_eq!(messages.len(), 2, "{messages:?}");
    let tape = messages
        .iter()
        .find(|m| m.contains("A_DATATAPE: tape problem"))
        .expect("the tape report");
    assert!(
        tape.contains("experts@test.example") && tape.contains("tape-a@test.example"),
        "{tape}"
    );
    assert!(
        tape.contains("data18_13TeV.1.RAW")
            && tape.contains("https://monitor.test.example/task/1001/"),
        "{tape}"
    );
    assert!(
        !tape.contains("data18_13TeV.2.RAW"),
        "nine days is not stalled"
    );
    assert!(
        !tape.contains("data18_13TeV.4.RAW"),
        "lost files are left out"
    );
    let other = messages
        .iter()
        .find(|m| m.contains("B_DATATAPE: likely not a tape problem"))
        .unwrap_or_else(|| panic!("the non-tape report: {messages:?}"));
    assert!(
        other.contains("experts@test.example") && !other.contains("tape-a@test.example"),
        "{other}"
    );
    assert!(other.contains("data18_13TeV.3.RAW") && !other.contains("data18_13TeV.5.RAW"));
    assert!(
        other.contains("text/html") && other.contains("text/plain"),
        "both bodies"
    );

    // Again: nothing new. After a restart (a new store on the same database): nothing either.
    let second = run(
        Rule::StalledStaging,
        &db,
        &state,
        (&config, &mailer),
        now + Duration::hours(1),
    )
    .await;
    assert_eq!((second.sent.len(), second.suppressed), (0, 2), "{second:?}");
    let reopened = StateStore::open(&StateConfig::default(), &db)
        .await
        .unwrap();
    let third = run(
        Rule::StalledStaging,
        &db,
        &reopened,
        (&config, &mailer),
        now + Duration::hours(2),
    )
    .await;
    assert_eq!((third.sent.len(), third.suppressed), (0, 2), "{third:?}");
    assert_eq!(sink.messages().len(), 2);
    // After the repeat interval (4 days) the still-stalled requests are reported again.
    let later = run(
        Rule::StalledStaging,
        &db,
        &state,
        (&config, &mailer),
        now + Duration::days(5),
    )
    .await;
    assert_eq!(later.sent.len(), 2, "{later:?}");

    // A mail server that refuses: the failure is recorded and the alert stays due until a
    // later run delivers it.
    staging_case(&db, now, 6, "running", "C_DATATAPE", 13, 1, 10, None).await;
    let mut down = config.clone();
    down.smtp = format!("smtp://127.0.0.1:{}", free_port());
    let broken = Mailer::new(&down).unwrap();
    let failed = run(
        Rule::StalledStaging,
        &db,
        &state,
        (&down, &broken),
        now + Duration::days(5),
    )
    .await;
    assert_eq!(failed.failed.len(), 1, "{failed:?}");
    let record = state
        .alert_record("stalled_staging", "request 6")
        .await
        .unwrap()
        .unwrap();
    assert!(
        record.delivered_at.is_none() && record.last_error.is_some(),
        "{record:?}"
    );
    assert_eq!(record.attempts, 1);
    let retried = run(
        Rule::StalledStaging,
        &db,
        &state,
        (&config, &mailer),
        now + Duration::days(5),
    )
    .await;
    assert_eq!(retried.sent.len(), 1, "{retried:?}");
    assert!(sink.messages().iter().any(|m| m.contains("C_DATATAPE")));
    db.close().await;
}
on_every_backend!(alerts_are_sent_once_to_the_right_people);

async fn job(db: &Db, pandaid: i64, site: &str, status: &str, task: i64, end: NaiveDateTime) {
    insert(
        db,
        "jobsarchived4",
        &[
            ("pandaid", Value::Int(pandaid)),
            ("jeditaskid", Value::Int(task)),
            ("jobstatus", text(status)),
            ("computingsite", text(site)),
            ("prodsourcelabel", text("managed")),
            ("creationtime", ts(end - Duration::hours(2))),
            ("modificationtime", ts(end)),
            ("starttime", ts(end - Duration::hours(1))),
            ("endtime", ts(end)),
        ],
    )
    .await;
}

async fn site_spikes_and_stuck_tasks_are_found(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let now = Utc::now().naive_utc();
    let recent = now - Duration::minutes(20);
    let mut pandaid = 1;
    // X: 40 of 50 failed → reported. Y: 20 of 60 failed → not. Z: 30 of 30 failed but fewer
    // than 50 jobs → not. W: failures older than the hour → not.
    for (site, failed, finished, at) in [
        ("X", 40, 10, recent),
        ("Y", 20, 40, recent),
        ("Z", 30, 0, recent),
        ("W", 60, 0, now - Duration::hours(3)),
    ] {
        for i in 0..(failed + finished) {
            let status = if i < failed { "failed" } else { "finished" };
            job(&db, pandaid, site, status, 1, at).await;
            pandaid += 1;
        }
    }
    // Running tasks: 7 finished a job an hour ago; 8 finished one two days ago; 9 never did
    // and started three days ago; 10 started an hour ago.
    for (task, started) in [(7, 3), (8, 3), (9, 3), (10, 0)] {
        insert(
            &db,
            "jedi_tasks",
            &[
                ("jeditaskid", Value::Int(task)),
                ("taskname", text(&format!("user.someone.task{task}"))),
                ("status", text("running")),
                ("username", text("someone")),
                (
                    "creationdate",
                    ts(now - Duration::days(started) - Duration::hours(1)),
                ),
                ("modificationtime", ts(now)),
                (
                    "starttime",
                    ts(now - Duration::days(started) - Duration::minutes(30)),
                ),
            ],
        )
        .await;
    }
    job(&db, 10_000, "Y", "finished", 7, now - Duration::hours(1)).await;
    job(&db, 10_001, "Y", "finished", 8, now - Duration::days(2)).await;

    let (sink, config, mailer, state) = mail_setup(&db, "spikes").await;
    let spikes = run(Rule::SiteFailureSpike, &db, &state, (&config, &mailer), now).await;
    assert_eq!(spikes.findings, 1, "{spikes:?}");
    assert_eq!(spikes.sent[0].subjects, ["site X"]);
    let stuck = run(Rule::StuckTasks, &db, &state, (&config, &mailer), now).await;
    assert_eq!(stuck.sent.len(), 1, "{stuck:?}");
    assert_eq!(stuck.sent[0].subjects, ["task 8", "task 9"]);
    let messages = sink.messages();
    assert_eq!(messages.len(), 2);
    assert!(messages.iter().any(|m| m.contains(
        "https://monitor.test.example/jobs/?computingsite=X&amp;jobstatus=failed&amp;hours=1"
    )));
    assert!(
        messages
            .iter()
            .any(|m| m.contains("https://monitor.test.example/task/9/"))
    );
    db.close().await;
}
on_every_backend!(site_spikes_and_stuck_tasks_are_found);
