//! The binary as a user meets it: clear one-line errors for bad input, and the demo and
//! `serve` starting, answering and stopping cleanly on a signal.

use pandamon_testkit::{Backend, TestDb};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn pandamon(args: &[&str]) -> (i32, String, String) {
    pandamon_with(args, &[])
}

/// `pandamon` with extra environment variables.
fn pandamon_with(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pandamon"))
        .args(args)
        .env_remove("PANDAMON_DB")
        .env_remove("PANDAMON_CONFIG")
        .env_remove("PANDAMON_MODULES")
        .env_remove("PANDAMON_PROFILE")
        .env_remove("PANDAMON_STATE_DB")
        .env_remove("PANDAMON_SMTP")
        .envs(env.iter().copied())
        .current_dir(std::env::temp_dir())
        .output()
        .expect("pandamon runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn assert_clean_error(stderr: &str, needle: &str) {
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(lines.len(), 1, "one error line expected: {stderr}");
    assert!(lines[0].contains(needle), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

#[test]
fn bad_input_gets_one_clear_line_and_a_nonzero_exit() {
    let (code, _, err) = pandamon(&["schema", "init", "--db", "oracle://u@h/db"]);
    assert_eq!(code, 1);
    assert_clean_error(&err, "unknown database url");
    let (code, _, err) = pandamon(&["serve", "--db", "postgres://postgres@127.0.0.1:1/x"]);
    assert_eq!(code, 1);
    assert_clean_error(&err, "cannot connect to postgres at 127.0.0.1:1");
    let (code, _, err) = pandamon(&["simulate"]);
    assert_eq!(code, 1);
    assert_clean_error(&err, "no database given");
    let (code, _, err) = pandamon(&["simulate", "--db", "sqlite://x.db", "--jobs", "many"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("invalid value 'many'"), "{err}");
    let (code, _, err) = pandamon(&["simulate", "--db", "sqlite://x.db", "--days", "0"]);
    assert_eq!(code, 1);
    assert_clean_error(&err, "--days");
    let (code, _, err) = pandamon(&[
        "accounting",
        "backfill",
        "--db",
        "sqlite://x.db",
        "--from",
        "yesterday",
    ]);
    assert_eq!(code, 1);
    assert_clean_error(&err, "--from takes a day such as 2026-11-01");
    let (code, _, err) = pandamon(&[
        "accounting",
        "backfill",
        "--db",
        "sqlite://x.db",
        "--from",
        "2026-11-02",
        "--to",
        "2026-11-01",
    ]);
    assert_eq!(code, 1);
    assert_clean_error(&err, "--to must be after --from");
    let (code, _, err) = pandamon(&["frobnicate"]);
    assert_eq!(code, 2);
    assert!(err.contains("unrecognized subcommand"), "{err}");
}

#[test]
fn modules_lists_every_module_with_its_state_and_routes() {
    let (code, out, err) = pandamon_with(&["modules"], &[("PANDAMON_MODULES", "jobs,errors")]);
    assert_eq!(code, 0, "{err}");
    let state_of = |module: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(module))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(str::to_string)
    };
    assert_eq!(state_of("jobs").as_deref(), Some("on"), "{out}");
    assert_eq!(state_of("errors").as_deref(), Some("on"), "{out}");
    assert_eq!(state_of("tasks").as_deref(), Some("off"), "{out}");
    assert!(
        out.contains("/task/{jeditaskid}/"),
        "routes of modules that are off too: {out}"
    );
    assert!(out.contains("[modules.jobs] default_hours"), "{out}");
    let (code, _, err) = pandamon_with(&["modules"], &[("PANDAMON_MODULES", "jobs,harvestr")]);
    assert_eq!(code, 1);
    assert_clean_error(&err, "unknown module 'harvestr'");
    assert!(
        err.contains("known modules: overview, status, jobs"),
        "{err}"
    );
}

#[tokio::test]
async fn serve_and_simulate_refuse_a_database_without_the_schema() {
    let test = TestDb::new(Backend::Sqlite, "cli_noschema").await;
    let (code, _, err) = pandamon(&["serve", "--db", &test.url]);
    assert_eq!(code, 1);
    assert_clean_error(&err, "pandamon schema init");
    let (code, _, err) = pandamon(&["simulate", "--db", &test.url, "--jobs", "10"]);
    assert_eq!(code, 1);
    assert_clean_error(&err, "schema init");
    test.cleanup().await;
}

fn http_get(address: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).expect("server accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

/// A running pandamon process, killed if a test fails before it stops it.
struct Running(Option<std::process::Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts pandamon, waits for its "serving ... at http://ADDR/" line, returns the address.
fn start(args: &[&str]) -> (Running, String) {
    let mut running = Running(Some(
        Command::new(env!("CARGO_BIN_EXE_pandamon"))
            .args(args)
            .env_remove("PANDAMON_DB")
            .env_remove("PANDAMON_STATE_DB")
            .env_remove("PANDAMON_SMTP")
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("pandamon starts"),
    ));
    let stdout = running.0.as_mut().and_then(|c| c.stdout.take()).unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        assert!(Instant::now() < deadline, "pandamon did not start serving");
        let line = lines.next().expect("pandamon printed its url").unwrap();
        if let Some(url) = line.split("at http://").nth(1) {
            let address = url.trim_end_matches('/').to_string();
            std::thread::spawn(move || for _ in lines {});
            return (running, address);
        }
    }
}

fn interrupt_and_wait(mut running: Running) {
    let mut child = running.0.take().expect("process is running");
    let pid = child.id().to_string();
    let status = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "pandamon exited with {status}");
            return;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pandamon did not stop on SIGINT");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_creates_serves_goes_live_and_stops_on_ctrl_c() {
    let dir = std::env::temp_dir().join(format!("pandamon-demo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("demo.db");
    let file_arg = file.display().to_string();
    let (child, address) = start(&[
        "demo",
        "--file",
        &file_arg,
        "--listen",
        "127.0.0.1:0",
        "--jobs",
        "2000",
        "--rate",
        "20",
    ]);
    let (code, body) = http_get(&address, "/healthz");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"reachable\":true"), "{body}");
    let (code, body) = http_get(&address, "/");
    assert_eq!(code, 200);
    assert!(
        body.contains("Sites failing most"),
        "the overview is the landing page"
    );
    let (code, body) = http_get(&address, "/status/");
    assert_eq!(code, 200);
    assert!(body.contains("Jobs per table and status"));
    // The live simulator reports progress on the status page.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, json) = http_get(&address, "/status/?json");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        if value["live"]["running"] == true
            && value["live"]["jobs_created"].as_u64().unwrap_or(0) > 0
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "live simulator never created a job: {json}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    interrupt_and_wait(child);
    // The second run reuses the database instead of simulating again.
    let (child, address) = start(&[
        "demo",
        "--file",
        &file_arg,
        "--listen",
        "127.0.0.1:0",
        "--rate",
        "0",
    ]);
    let (code, _) = http_get(&address, "/healthz");
    assert_eq!(code, 200);
    interrupt_and_wait(child);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_for_a_postgres_database() {
    let test = TestDb::new(Backend::Postgres, "cli_serve").await;
    let (code, out, err) = pandamon(&["schema", "init", "--db", &test.url]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created the PanDA schema"));
    let (code, out, _) = pandamon(&["schema", "init", "--db", &test.url]);
    assert_eq!(code, 0);
    assert!(out.contains("up to date"));
    let (code, _, err) = pandamon(&[
        "simulate", "--db", &test.url, "--jobs", "500", "--seed", "3",
    ]);
    assert_eq!(code, 0, "{err}");
    // The accounting backfill counts the completed jobs; a second run counts the same.
    let from = (chrono::Utc::now() - chrono::Duration::days(5))
        .format("%Y-%m-%d")
        .to_string();
    let mut counted = Vec::new();
    for _ in 0..2 {
        let (code, out, err) =
            pandamon(&["accounting", "backfill", "--db", &test.url, "--from", &from]);
        assert_eq!(code, 0, "{err}");
        let jobs: u64 = out
            .split_whitespace()
            .nth(2)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{out}"));
        counted.push(jobs);
    }
    assert!(counted[0] > 0, "completed jobs rolled up");
    assert_eq!(counted[0], counted[1]);
    let (child, address) = start(&["serve", "--db", &test.url, "--listen", "127.0.0.1:0"]);
    let (code, body) = http_get(&address, "/healthz");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"dialect\":\"postgres\""), "{body}");
    // pandamon's own tables are in a schema of their own, outside the PanDA schemas.
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["state"]["backend"], "postgres", "{body}");
    assert!(
        health["state"]["place"]
            .as_str()
            .unwrap()
            .contains("schema pandamon"),
        "{body}"
    );
    interrupt_and_wait(child);
    // A state database named but unreachable stops the start with a message saying where to look.
    let (code, _, err) = pandamon_with(
        &["serve", "--db", &test.url, "--listen", "127.0.0.1:0"],
        &[("PANDAMON_STATE_DB", "postgres://postgres@127.0.0.1:1/state")],
    );
    assert_eq!(code, 1);
    assert_clean_error(&err, "cannot open pandamon's state store");
    assert!(err.contains("PANDAMON_STATE_DB"), "{err}");
    test.cleanup().await;
}

/// `pandamon alerts run --once` on a simulated database delivers the stalled-staging reports
/// to a real SMTP server, and nothing on a second run; a dry run sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_run_once_delivers_each_report_once() {
    let test = TestDb::new(Backend::Sqlite, "cli_alerts").await;
    let db = test.connect().await;
    pandamon_store::schema::init(&db, false).await.unwrap();
    // A history that ended in September: every request still staging has been stalled since,
    // whatever the clock says now.
    pandamon_sim::simulate(
        &db,
        pandamon_sim::SimConfig {
            jobs: 60_000,
            seed: 41,
            days: 3.0,
            now: 1_790_000_000,
        },
        Box::new(pandamon_sim::Silent),
    )
    .await
    .unwrap();
    db.close().await;
    let sink = pandamon_testkit::SmtpSink::start("cli");
    let smtp = sink.url();
    let env = [("PANDAMON_SMTP", smtp.as_str())];
    let run = |extra: &[&str]| {
        let mut args = vec![
            "alerts",
            "run",
            "--once",
            "--db",
            &test.url,
            "--rule",
            "stalled_staging",
        ];
        args.extend_from_slice(extra);
        pandamon_with(&args, &env)
    };
    let (code, out, err) = run(&["--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("would send"), "{out}");
    assert!(sink.messages().is_empty());
    let (code, out, err) = run(&[]);
    assert_eq!(code, 0, "{out}{err}");
    let sent = out
        .lines()
        .filter(|l| l.trim_start().starts_with("sent "))
        .count();
    assert!(sent >= 1, "{out}");
    assert_eq!(sink.messages().len(), sent);
    assert!(sink.messages()[0].contains("pandamon-experts@localhost"));
    let (code, out, _) = run(&[]);
    assert_eq!(code, 0);
    assert!(!out.contains("  sent "), "nothing twice: {out}");
    assert_eq!(sink.messages().len(), sent);
    let (code, out, _) = pandamon_with(&["alerts", "list", "--db", &test.url], &env);
    assert_eq!(code, 0);
    assert!(
        out.contains("stalled_staging") && out.contains("sent "),
        "{out}"
    );
    let (code, _, err) = pandamon_with(
        &[
            "alerts", "run", "--once", "--db", &test.url, "--rule", "nope",
        ],
        &env,
    );
    assert_eq!(code, 1);
    assert_clean_error(&err, "unknown rule 'nope'");
    let (code, _, err) = pandamon_with(
        &["alerts", "list"],
        &[("PANDAMON_SMTP", "mail.example.org")],
    );
    assert_eq!(code, 1);
    assert_clean_error(&err, "PANDAMON_SMTP");
    drop(sink);
    test.cleanup().await;
}

/// `schema check` on a database pandamon created reports every table complete; after a table
/// is dropped, a column dropped and another retyped, it names each gap and the modules and
/// pages affected, `serve` still starts and says so in `/healthz` and on the affected pages,
/// and a database without a job table is refused with a non-zero exit.
async fn schema_check_names_every_gap(test: &TestDb) {
    let (code, _, err) = pandamon(&["schema", "init", "--db", &test.url]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = pandamon(&["schema", "check", "--db", &test.url]);
    assert_eq!(code, 0, "{err}");
    let total = pandamon_store::Catalog::get().tables.len();
    assert!(
        out.contains(&format!("{total} of {total} tables complete")),
        "{out}"
    );
    assert!(out.contains("every module's pages have the tables they read"));

    let names = test.connect().await;
    let table = |name: &str| names.qualified(pandamon_store::Catalog::get().table(name));
    for sql in [
        format!("DROP TABLE {}", table("jedi_events")),
        format!(
            "ALTER TABLE {} DROP COLUMN errordialog",
            table("jedi_tasks")
        ),
        format!(
            "ALTER TABLE {} RENAME COLUMN fsize TO fsize_bytes",
            table("filestable_arch")
        ),
        format!(
            "ALTER TABLE {} ADD COLUMN fsize TIMESTAMP NULL",
            table("filestable_arch")
        ),
    ] {
        // One connection per change: each sees the one before.
        let db = test.connect().await;
        db.execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        db.close().await;
    }
    let (code, out, err) = pandamon(&["schema", "check", "--db", &test.url]);
    assert_eq!(code, 0, "{err}");
    let line = |needle: &str| {
        out.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}: {out}"))
            .to_string()
    };
    assert!(line("jedi_events ").ends_with("missing"));
    assert!(line("jedi_tasks ").contains("lacks columns errordialog"));
    assert!(line("filestable_arch ").contains("fsize is"));
    assert!(line("module tasks:").contains("jedi_events"));
    assert!(line("module tasks:").contains("/task/{jeditaskid}/"));
    assert!(line("module jobs:").contains("filestable_arch"));
    assert!(
        out.contains(&format!("{} of {total} tables complete", total - 3)),
        "{out}"
    );
    let (code, json, _) = pandamon(&["schema", "check", "--db", &test.url, "--json"]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let events = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "jedi_events")
        .unwrap();
    assert_eq!(events["present"], false);
    assert_eq!(report["serve_can_start"], true);

    // serve starts; the modules reading the missing table say so.
    let (child, address) = start(&["serve", "--db", &test.url, "--listen", "127.0.0.1:0"]);
    let (code, body) = http_get(&address, "/healthz");
    assert_eq!(code, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        health["modules"]["tasks"]["missing_tables"],
        serde_json::json!(["jedi_events"]),
        "{body}"
    );
    let (code, page) = http_get(&address, "/tasks/");
    assert_eq!(code, 200);
    assert!(page.contains("id=\"missing-tables\""), "{page}");
    let (code, page) = http_get(&address, "/sites/");
    assert_eq!(code, 200);
    assert!(!page.contains("id=\"missing-tables\""));
    interrupt_and_wait(child);

    let db = test.connect().await;
    db.execute(&format!("DROP TABLE {}", table("jobsdefined4")))
        .await
        .unwrap();
    db.close().await;
    let (code, out, err) = pandamon(&["schema", "check", "--db", &test.url]);
    assert_eq!(code, 1);
    assert!(out.contains("serve cannot start"), "{out}");
    assert_clean_error(&err, "serve would not start");
    names.close().await;
}
pandamon_testkit::on_every_backend!(schema_check_names_every_gap);
