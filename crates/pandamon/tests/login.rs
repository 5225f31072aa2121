//! Login through a real OpenID Connect provider: panva's `oidc-provider` run by Node from
//! `web/tests/oidc-provider.mjs`, pandamon serving a simulated database, Chromium (driven by
//! `web/tests/login.test.mjs`) logging in through the provider's form: code flow with PKCE,
//! callback, session, the user's own page, API tokens made, used and revoked, preferences,
//! logout, and forged, replayed and expired states refused.

use pandamon_sim::{Silent, SimConfig};
use pandamon_store::schema;
use pandamon_testkit::{Backend, TestDb};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Seconds a login may stay at the provider: short, so that the test can outwait it.
const LOGIN_TIMEOUT_S: u64 = 6;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first line of `child`'s output holding `marker`, and what follows it.
fn wait_for(child: &mut Child, marker: &str) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let found = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the process ended before printing {marker:?}"))
            .unwrap();
        if let Some(i) = line.find(marker) {
            break line[i + marker.len()..].trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_log_in_through_a_real_openid_provider() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "the login test needs Chromium at {chromium}: install Debian's chromium package or set CHROMIUM"
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let web = root.join("web");
    for package in ["playwright-core", "oidc-provider"] {
        assert!(
            web.join("node_modules").join(package).exists(),
            "{package} is missing: run `npm ci` in {}",
            web.display()
        );
    }
    let test = TestDb::new(Backend::Sqlite, "login").await;
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 2_000,
            seed: 5,
            days: 3.0,
            // Ending now: `/user/` lists the users of the last day.
            now: chrono::Utc::now().timestamp(),
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    db.close().await;

    // pandamon's address first: the provider registers its callback.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let callback = format!("{base}/login/callback/");
    let mut provider = Command::new("node")
        .arg("tests/oidc-provider.mjs")
        .current_dir(&web)
        .env("PANDAMON_CALLBACK", &callback)
        .env("OIDC_CLIENT_SECRET", "login-test-secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node runs (install nodejs)");
    let issuer = wait_for(&mut provider, "issuer ");
    let _provider = Running(provider);

    let dir = std::env::temp_dir().join(format!("pandamon-login-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("pandamon.toml");
    std::fs::write(
        &config,
        format!(
            "[auth]\nissuer = \"{issuer}\"\nclient_id = \"pandamon\"\nredirect_url = \"{callback}\"\nlogin_timeout_s = {LOGIN_TIMEOUT_S}\n\
             [state]\nfile = \"{}\"\n",
            dir.join("state.db").display()
        ),
    )
    .unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_pandamon"))
        .args(["--config", config.to_str().unwrap()])
        .args([
            "serve",
            "--db",
            &test.url,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env_remove("PANDAMON_DB")
        .env("PANDAMON_AUTH_CLIENT_SECRET", "login-test-secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("pandamon starts");
    wait_for(&mut server, "at http://");
    let _server = Running(server);

    let shots = root.join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("login-own-page.png");
    let _ = std::fs::remove_file(&shot);
    let output = Command::new("node")
        .args(["--test", "tests/login.test.mjs"])
        .current_dir(&web)
        .env("PANDAMON_URL", &base)
        .env("ISSUER", &issuer)
        .env("LOGIN_TIMEOUT_S", LOGIN_TIMEOUT_S.to_string())
        .env("SCREENSHOT_DIR", &shots)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs (install nodejs)");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "login test failed:\n{report}");
    assert!(report.contains("# fail 0"), "{report}");
    assert!(shot.exists(), "the login test leaves its screenshot");
    let _ = std::fs::remove_dir_all(&dir);
    test.cleanup().await;
}
