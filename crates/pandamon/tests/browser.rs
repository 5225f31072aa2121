//! The pages in a real browser: Debian's Chromium, driven by playwright-core from
//! `web/tests/browser.test.mjs`, against `pandamon serve` on a simulated database. Screenshots go
//! to `target/screenshots/`.

use pandamon_sim::{Silent, SimConfig};
use pandamon_store::schema;
use pandamon_testkit::{Backend, TestDb};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const NOW: i64 = 1_790_000_000;

/// The iDDS request of the big workflow the DAG test draws.
const BIG_REQUEST: i64 = 990_000;
/// Its tasks: 50 layers of 100, each depending on one task of the layer above.
const BIG_LAYERS: i64 = 50;
const BIG_WIDTH: i64 = 100;

/// A Rubin-sized workflow: 5 000 transforms, the first half of the layers finished, then
/// running ones with a few failed; one edge closes a cycle, as bad data might.
async fn add_big_workflow(db: &pandamon_store::Db) {
    let catalog = pandamon_store::Catalog::get();
    let requests = db.qualified(catalog.table("requests"));
    let transforms = db.qualified(catalog.table("transforms"));
    let collections = db.qualified(catalog.table("collections"));
    let when = "'2026-09-21 10:00:00'";
    db.execute(&format!(
        "INSERT INTO {requests} (request_id, scope, name, requester, request_type, username, status, locking, created_at, updated_at) \
         VALUES ({BIG_REQUEST}, 'workflow', 'rubin.big.dag', 'panda', 8, 'Big DAG', 2, 0, {when}, {when})"
    ))
    .await
    .unwrap();
    let mut values = Vec::new();
    let mut colls = Vec::new();
    for layer in 0..BIG_LAYERS {
        for k in 0..BIG_WIDTH {
            let id = 1_000_000 + layer * BIG_WIDTH + k;
            let parent = if layer == 0 {
                "NULL".to_string()
            } else {
                (1_000_000 + (layer - 1) * BIG_WIDTH + (k * 7) % BIG_WIDTH).to_string()
            };
            // Finished (3) in the upper half, transforming (2) below, every 13th of those failed (5).
            let status = if layer < BIG_LAYERS / 2 {
                3
            } else if k % 13 == 0 {
                5
            } else {
                2
            };
            values.push(format!(
                "({id}, {BIG_REQUEST}, 6, 'work', '{:04}', {status}, 0, 0, {parent}, {when}, {when})",
                layer * BIG_WIDTH + k + 1
            ));
            let processed = if status == 3 { 10 } else { k % 10 };
            colls.push(format!(
                "({}, {BIG_REQUEST}, {id}, 1, 0, 'rubin', 'input.{id}', 2, 0, 10, {processed}, {when}, {when})",
                2_000_000 + id
            ));
        }
    }

    for chunk in values.chunks(500) {
        db.execute(&format!(
            "INSERT INTO {transforms} (transform_id, request_id, transform_type, transform_tag, internal_id, status, locking, retries, parent_transform_id, created_at, updated_at) VALUES {}",
            chunk.join(", ")
        ))
        .await
        .unwrap();
    }
    for chunk in colls.chunks(500) {
        db.execute(&format!(
            "INSERT INTO {collections} (coll_id, request_id, transform_id, coll_type, relation_type, scope, name, status, locking, total_files, processed_files, created_at, updated_at) VALUES {}",
            chunk.join(", ")
        ))
        .await
        .unwrap();
    }
    // A cycle: the first task of layer 0 also depends on its own child in layer 1.
    db.execute(&format!(
        "UPDATE {transforms} SET parent_transform_id = {} WHERE transform_id = 1000000",
        1_000_000 + BIG_WIDTH
    ))
    .await
    .unwrap();
}

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shifters_click_through_the_pages_in_chromium() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "the browser test needs Chromium at {chromium}: install Debian's chromium package or set CHROMIUM"
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let web = root.join("web");
    assert!(
        web.join("node_modules/playwright-core").exists(),
        "playwright-core is missing: run `npm ci` in {}",
        web.display()
    );
    let test = TestDb::new(Backend::Sqlite, "browser").await;
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 3_000,
            seed: 2,
            days: 3.0,
            now: NOW,
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    add_big_workflow(&db).await;
    db.close().await;

    let mut child = Command::new(env!("CARGO_BIN_EXE_pandamon"))
        .args(["serve", "--db", &test.url, "--listen", "127.0.0.1:0"])
        .env_remove("PANDAMON_DB")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("pandamon starts");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("pandamon prints its url").unwrap();
        if let Some(rest) = line
            .split("at ")
            .nth(1)
            .filter(|r| r.starts_with("http://"))
        {
            break rest.trim_end_matches('/').to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let shots = root.join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    // A screenshot left by an earlier run must not pass for this one's.
    let shot = shots.join("jobs-failed.png");
    let worker_shot = shots.join("harvester-job.png");
    let path_shot = shots.join("path-6-task.png");
    for old in [&shot, &worker_shot, &path_shot] {
        let _ = std::fs::remove_file(old);
    }
    let output = Command::new("node")
        .args(["--test", "tests/browser.test.mjs"])
        .current_dir(&web)
        .env("PANDAMON_URL", &url)
        .env(
            "PANDAMON_QUERY",
            "date_from=2026-09-20T14:13:20&date_to=2026-09-21T14:13:20",
        )
        .env("SCREENSHOT_DIR", &shots)
        .env("BIG_REQUEST", BIG_REQUEST.to_string())
        .env("BIG_TASKS", (BIG_LAYERS * BIG_WIDTH).to_string())
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs (install nodejs)");
    drop(server);
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "browser test failed:\n{report}");
    // Measurements the pages report (the DAG's drawing time, for BENCHMARKS.md).
    for line in report.lines().filter(|l| l.contains(" drawn in ")) {
        println!("{line}");
    }
    assert!(report.contains("# pass 5"), "{report}");
    assert!(shot.exists(), "the browser test leaves its screenshot");
    assert!(
        worker_shot.exists(),
        "the Harvester walk leaves its screenshot"
    );
    assert!(
        path_shot.exists(),
        "the shifter's path leaves its screenshots"
    );
    test.cleanup().await;
}
