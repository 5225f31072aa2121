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
    assert!(report.contains("# pass 4"), "{report}");
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
