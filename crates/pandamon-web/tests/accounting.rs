//! `/accounting/jobs/` on every backend: the JSON contract, its numbers against SQL over the
//! job tables, top N with "other", the CSV against the JSON, the page, and bad input.

mod common;
use common::{count, get, get_json, simulated_recently};

use axum::http::StatusCode;
use pandamon_store::{StateConfig, StateStore};
use pandamon_testkit::{TestDb, on_every_backend};
use pandamon_web::AppState;
use serde_json::Value as Json;

const HOUR: i64 = 3_600;

fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .naive_utc()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

fn sql_time(t: i64) -> String {
    iso(t).replace('T', " ")
}

/// Completed jobs of every job table that ended in `[from, to)` and match `extra`.
fn completed_count(from: i64, to: i64, extra: &str) -> String {
    let parts: Vec<String> = ["jobsactive4", "jobsarchived4", "jobsarchived"]
        .iter()
        .map(|t| {
            format!(
                "SELECT pandaid FROM {{{t}}} WHERE jobstatus IN ('finished', 'failed', 'cancelled', 'closed') \
                 AND endtime >= '{}' AND endtime < '{}'{extra}",
                sql_time(from),
                sql_time(to)
            )
        })
        .collect();
    format!(
        "SELECT COUNT(DISTINCT pandaid) FROM ({}) jobs",
        parts.join(" UNION ALL ")
    )
}

/// GET `uri`, which must answer 200 with `content_type`: the body.
async fn image(state: &AppState, uri: &str, content_type: &str) -> Vec<u8> {
    let response = common::request(state, uri).await;
    assert_eq!(response.status(), StatusCode::OK, "{uri}");
    assert_eq!(response.headers()["content-type"], content_type, "{uri}");
    axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec()
}

fn total(series: &Json) -> f64 {
    series["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum()
}

/// A workload of the last day (see [`simulated_recently`]), its job and transfer rollups built,
/// served from a state store; and the day before the workload's end as the window asked.
struct RolledUp {
    db: pandamon_store::Db,
    state: AppState,
    now: i64,
    /// The window, whole hours, and its URL parameters.
    from: i64,
    to: i64,
    window: String,
}

async fn rolled_up(test: &TestDb, jobs: u64, seed: u64) -> RolledUp {
    use pandamon_accounting::{rollup, transfers};
    let (db, now) = simulated_recently(test, jobs, seed).await;
    let store = StateStore::open(&StateConfig::default(), &db)
        .await
        .unwrap();
    let (from, to) = (now - 4 * 86_400, now + HOUR);
    let categories = rollup::categories(&db).await;
    rollup::rebuild(&db, &store, &categories, from, to)
        .await
        .unwrap();
    let sites = transfers::rse_sites(&db).await;
    transfers::rebuild(&db, &store, &sites, from, to, now)
        .await
        .unwrap();
    let from = now - 86_400 - (now - 86_400).rem_euclid(HOUR);
    let to = from + 86_400;
    RolledUp {
        state: AppState::new(db.clone(), None).with_state(store),
        db,
        now,
        from,
        to,
        window: format!("date_from={}&date_to={}", iso(from), iso(to)),
    }
}

async fn accounting_answers_match_sql(test: &TestDb) {
    let RolledUp {
        db,
        state,
        now,
        from,
        to,
        window,
    } = rolled_up(test, 4_000, 17).await;

    // The contract: one day at 1 h is 24 bins; every site's series adds up to its SQL count.
    let json = get_json(
        &state,
        &format!("/accounting/jobs/?json&metric=jobs&groupby=computingsite&bin=1h&{window}"),
    )
    .await;
    assert_eq!(json["metric"], "jobs");
    assert_eq!(json["groupby"], "computingsite");
    assert_eq!(json["bin"], "1h");
    let bins = json["bins"].as_array().unwrap();
    assert_eq!(bins.len(), 24);
    assert_eq!(bins[0], iso(from).as_str());
    let series = json["series"].as_array().unwrap();
    assert!(series.len() > 2, "several sites");
    let mut sum = 0.0;
    for s in series {
        let site = s["name"].as_str().unwrap();
        assert_eq!(s["values"].as_array().unwrap().len(), 24);
        let expected = count(
            &db,
            &completed_count(from, to, &format!(" AND computingsite = '{site}'")),
        )
        .await;
        assert_eq!(total(s) as i64, expected, "{site}");
        sum += total(s);
    }
    assert_eq!(json["total"].as_f64().unwrap(), sum);
    assert_eq!(sum as i64, count(&db, &completed_count(from, to, "")).await);

    // By final status, only failed jobs of one cloud.
    let by_status = get_json(
        &state,
        &format!("/accounting/jobs/?json&groupby=jobstatus&bin=6h&{window}"),
    )
    .await;
    assert_eq!(by_status["bins"].as_array().unwrap().len(), 4);
    for s in by_status["series"].as_array().unwrap() {
        let status = s["name"].as_str().unwrap();
        let expected = count(
            &db,
            &completed_count(from, to, &format!(" AND jobstatus = '{status}'")),
        )
        .await;
        assert_eq!(total(s) as i64, expected, "{status}");
    }
    let site = series[0]["name"].as_str().unwrap();
    let failed_there = get_json(
        &state,
        &format!("/accounting/jobs/?json&groupby=jobstatus&jobstatus=failed&computingsite={site}&{window}"),
    )
    .await;
    let failed_total = failed_there["total"].as_f64().unwrap() as i64;
    assert_eq!(
        failed_total,
        count(
            &db,
            &completed_count(
                from,
                to,
                &format!(" AND jobstatus = 'failed' AND computingsite = '{site}'")
            )
        )
        .await
    );

    // Top N keeps N series and sums the rest into "other".
    let top = get_json(&state, &format!("/accounting/jobs/?json&top=2&{window}")).await;
    let top_series = top["series"].as_array().unwrap();
    assert_eq!(top_series.len(), 3);
    assert_eq!(top_series[2]["name"], "other");
    assert_eq!(top["total"], json["total"]);

    // The CSV is the plotted numbers: a header and a row per bin.
    let (status, csv) = get(
        &state,
        &format!("/accounting/jobs/?format=csv&top=2&{window}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 25);
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(header[0], "bin");
    assert_eq!(header[3], "other");
    let first: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(first[0], iso(from));
    for (k, s) in top_series.iter().enumerate() {
        assert_eq!(
            first[k + 1].parse::<f64>().unwrap(),
            s["values"][0].as_f64().unwrap()
        );
    }

    // The same chart drawn on the server: an SVG naming the series, a PNG that decodes.
    let svg = image(
        &state,
        &format!("/accounting/jobs/?format=svg&top=2&{window}"),
        "image/svg+xml",
    )
    .await;
    let svg = String::from_utf8(svg).unwrap();
    assert!(svg.starts_with("<svg"));
    for s in top_series {
        assert!(
            svg.contains(s["name"].as_str().unwrap()),
            "{} in the SVG",
            s["name"]
        );
    }
    let png = image(
        &state,
        &format!("/accounting/jobs/?format=png&{window}"),
        "image/png",
    )
    .await;
    let reader = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .unwrap();
    assert!(reader.info().width > 0 && reader.info().height > 0);
    let (status, body) = get(
        &state,
        &format!("/accounting/hs06/?json&format=png&{window}"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // The page: chart, table, links to the jobs it counts.
    let (status, html) = get(&state, &format!("/accounting/jobs/?{window}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"accounting-chart\""));
    assert!(html.contains("id=\"accounting-table\""));
    assert!(html.contains("/jobs/?date_from="));

    // Efficiency is a percentage; HS06 and hours are numbers.
    let eff = get_json(
        &state,
        &format!("/accounting/jobs/?json&metric=cpueff&groupby=activity&bin=1d&{window}"),
    )
    .await;
    let eff_total = eff["total"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&eff_total), "{eff_total}");

    // The HS06 report of one day by queue: jobs and CPU hours as SQL counts them; the CSV is
    // the table to the last digit; by site, the same total.
    let day = now - 86_400 - (now - 86_400).rem_euclid(86_400);
    let days = format!(
        "date_from={}&date_to={}",
        &iso(day)[..10],
        &iso(day + 86_400)[..10]
    );
    let report = get_json(&state, &format!("/accounting/hs06/?json&by=queue&{days}")).await;
    let rows = report["rows"].as_array().unwrap();
    assert!(rows.len() > 2, "several queues");
    for r in rows.iter().take(5) {
        let queue = r["name"].as_str().unwrap();
        let only = format!(" AND computingsite = '{queue}'");
        assert_eq!(
            r["jobs"].as_i64().unwrap(),
            count(&db, &completed_count(day, day + 86_400, &only)).await,
            "{queue}"
        );
        let cpu = count(
            &db,
            &completed_count(day, day + 86_400, &only)
                .replace(
                    "COUNT(DISTINCT pandaid)",
                    &common::sum(&db, "cpuconsumptiontime"),
                )
                .replace("SELECT pandaid FROM", "SELECT cpuconsumptiontime FROM"),
        )
        .await;
        let hours = r["cpu_hours"].as_f64().unwrap();
        assert!(
            (hours * 3_600.0 - cpu as f64).abs() < 2.0,
            "{queue}: {hours} h vs {cpu} s"
        );
        assert!(r["hs06_hours"].as_f64().unwrap() >= 0.0);
    }
    let (status, csv) = get(
        &state,
        &format!("/accounting/hs06/?format=csv&by=queue&{days}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), rows.len() + 2, "header, rows, total");
    assert!(lines[0].starts_with("queue,hs06_hours,core_hours,cpu_hours,jobs"));
    for (line, r) in lines[1..].iter().zip(rows) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], r["name"].as_str().unwrap());
        assert_eq!(
            cells[1].parse::<f64>().unwrap(),
            r["hs06_hours"].as_f64().unwrap()
        );
        assert_eq!(
            cells[4].parse::<i64>().unwrap(),
            r["jobs"].as_i64().unwrap()
        );
    }
    let by_site = get_json(&state, &format!("/accounting/hs06/?json&by=site&{days}")).await;
    assert_eq!(by_site["total"]["jobs"], report["total"]["jobs"]);
    assert_eq!(
        report["total"]["jobs"].as_i64().unwrap(),
        count(&db, &completed_count(day, day + 86_400, "")).await
    );
    let (status, html) = get(&state, &format!("/accounting/hs06/?by=federation&{days}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"hs06-table\""));
    // A queue's row leads to its site's dashboard, and its jobs count to those jobs.
    let (_, html) = get(&state, &format!("/accounting/hs06/?by=queue&{days}")).await;
    let queue = rows[0]["name"].as_str().unwrap();
    assert!(
        html.contains(&format!("href=\"/accounting/site/{queue}/?date_from=")),
        "{queue}"
    );
    assert!(html.contains(&format!("href=\"/jobs/?computingsite={queue}&#38;jobstatus=finished|failed|cancelled|closed&#38;date_from=")), "{queue}");
    // `hours` asks for the whole days that hold them, up to the end of today.
    let real = chrono::Utc::now().timestamp();
    let today = real - real.rem_euclid(86_400);
    let recent = get_json(&state, "/accounting/hs06/?json&hours=30").await;
    let first = real - 30 * HOUR;
    assert_eq!(
        recent["date_from"],
        iso(first - first.rem_euclid(86_400)).as_str(),
        "{recent}"
    );
    assert_eq!(recent["date_to"], iso(today + 86_400).as_str());

    // The site dashboard of the busiest queue's site over one day: finished and failed jobs by
    // activity, and failed by error category, as SQL counts them on the site's queues.
    let queue = rows[0]["name"].as_str().unwrap();
    let site = get_json(&state, &format!("/accounting/site/{queue}/?json&{days}")).await;
    let queues: Vec<String> = site["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| format!("'{}'", q.as_str().unwrap()))
        .collect();
    assert!(queues.contains(&format!("'{queue}'")));
    let on_site = format!(" AND computingsite IN ({})", queues.join(", "));
    for (key, status) in [("finished", "finished"), ("failed", "failed")] {
        let rolled: i64 = site["by_activity"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g[key].as_i64().unwrap())
            .sum();
        let expected = count(
            &db,
            &completed_count(
                day,
                day + 86_400,
                &format!("{on_site} AND jobstatus = '{status}'"),
            ),
        )
        .await;
        assert_eq!(rolled, expected, "{key}");
        if key == "failed" {
            let by_category: i64 = site["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["failed"].as_i64().unwrap())
                .sum();
            assert_eq!(by_category, expected, "failed by category");
        }
    }
    let (status, html) = get(&state, &format!("/accounting/site/{queue}/?{days}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"site-activities\""));
    let svg = image(
        &state,
        &format!("/accounting/site/{queue}/?format=svg&{days}"),
        "image/svg+xml",
    )
    .await;
    assert!(
        String::from_utf8(svg).unwrap().contains("finished"),
        "the status series"
    );
    let (status, body) = get(
        &state,
        &format!("/accounting/site/{queue}/?format=csv&{days}"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = get(&state, "/accounting/site/NO-SUCH-SITE/?json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Bad input: 400 naming the parameter and what is valid.
    for (query, needle) in [
        ("metric=bogus", "'metric'"),
        ("groupby=bogus", "computingsite"),
        ("bin=5m", "'bin'"),
        ("bin=10m&days=365", "'bin'"),
        ("date_from=yesterday", "'date_from'"),
        ("sitename=X", "unknown parameter 'sitename'"),
        ("top=0", "'top'"),
    ] {
        let (status, body) = get(&state, &format!("/accounting/jobs/?json&{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(body.contains(needle), "{query}: {body}");
    }
    for (query, needle) in [
        ("month=november", "'month'"),
        ("by=planet", "'by'"),
        ("date_from=2026-12-01&date_to=2026-11-01", "'date_to'"),
    ] {
        let (status, body) = get(&state, &format!("/accounting/hs06/?json&{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(body.contains(needle), "{query}: {body}");
    }
}
on_every_backend!(accounting_answers_match_sql);

/// The Site Status Board: each site's jobs by state as SQL counts them, worst efficiency first.
async fn site_status_board_matches_sql(test: &TestDb) {
    let (db, _) = simulated_recently(test, 3_000, 29).await;
    let state = AppState::new(db.clone(), None);
    let board = get_json(&state, "/ssb/?json&days=30").await;
    let sites = board.as_array().unwrap();
    assert!(sites.len() > 10, "every site of the queues");
    let efficiencies: Vec<f64> = sites
        .iter()
        .filter_map(|s| s["job_efficiency"].as_f64())
        .collect();
    assert!(efficiencies.len() > 3);
    assert!(efficiencies.windows(2).all(|w| w[0] <= w[1]), "worst first");
    for site in sites
        .iter()
        .filter(|s| s["finished"].as_i64() > Some(0))
        .take(4)
    {
        let queues: Vec<String> = site["queues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| format!("'{}'", q["queue"].as_str().unwrap()))
            .collect();
        for (key, statuses) in [
            ("finished", "'finished'"),
            ("failed", "'failed'"),
            ("running", "'running'"),
            ("pending", "'defined', 'waiting', 'assigned', 'activated'"),
        ] {
            let parts: Vec<String> = ["jobsdefined4", "jobsactive4", "jobsarchived4", "jobsarchived"]
                .iter()
                .map(|t| {
                    format!(
                        "SELECT pandaid FROM {{{t}}} WHERE computingsite IN ({}) AND jobstatus IN ({statuses})",
                        queues.join(", ")
                    )
                })
                .collect();
            let expected = count(
                &db,
                &format!(
                    "SELECT COUNT(DISTINCT pandaid) FROM ({}) jobs",
                    parts.join(" UNION ALL ")
                ),
            )
            .await;
            assert_eq!(
                site[key].as_i64().unwrap(),
                expected,
                "{} {key}",
                site["site"]
            );
        }
    }
    let (status, html) = get(&state, "/ssb/?days=30").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"ssb\""));
    assert!(html.contains("/jobs/?"), "counts link to their jobs");
    assert!(html.contains("href=\"/site/"), "queues link to their pages");
}
on_every_backend!(site_status_board_matches_sql);

/// Transfer events of `[from, to)` matching `condition` (on the events `e`, the source
/// endpoint `s` and the destination endpoint `d`), counted by SQL.
fn transfer_count(from: i64, to: i64, condition: &str) -> String {
    format!(
        "SELECT COUNT(*) FROM {{transfer_events}} e JOIN {{ddm_endpoint}} s ON s.ddm_endpoint_name = e.src_rse \
         JOIN {{ddm_endpoint}} d ON d.ddm_endpoint_name = e.dst_rse \
         WHERE e.transferred_at >= '{}' AND e.transferred_at < '{}' AND {condition}",
        sql_time(from),
        sql_time(to)
    )
}

/// The transfer dashboard, the site page's transfers and the SSB's transfer efficiency against
/// SQL over the events; CSV, images and bad input.
async fn transfer_dashboard_matches_sql(test: &TestDb) {
    let RolledUp {
        db,
        state,
        now,
        from,
        to,
        window,
    } = rolled_up(test, 4_000, 23).await;

    let json = get_json(
        &state,
        &format!("/accounting/transfers/?json&metric=files&groupby=dst_site&bin=1h&{window}"),
    )
    .await;
    assert_eq!(json["bins"].as_array().unwrap().len(), 24);
    let series = json["series"].as_array().unwrap();
    assert!(series.len() > 2, "several destinations");
    for s in series {
        let site = s["name"].as_str().unwrap();
        let expected = count(
            &db,
            &transfer_count(
                from,
                to,
                &format!("e.event_type = 'transfer-done' AND d.site_name = '{site}'"),
            ),
        )
        .await;
        assert_eq!(total(s) as i64, expected, "{site}");
    }
    let done = count(
        &db,
        &transfer_count(from, to, "e.event_type = 'transfer-done'"),
    )
    .await;
    let failed = count(
        &db,
        &transfer_count(from, to, "e.event_type = 'transfer-failed'"),
    )
    .await;
    assert!(failed > 0, "some attempts failed");
    assert_eq!(json["total"].as_f64(), Some(done as f64));
    assert_eq!(json["all"]["done"].as_i64(), Some(done));
    assert_eq!(json["all"]["failed"].as_i64(), Some(failed));
    let reasons: i64 = json["failure_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["failures"].as_i64().unwrap())
        .sum();
    assert_eq!(reasons, failed, "every failure has its reason");
    let groups: i64 = json["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["done"].as_i64().unwrap())
        .sum();
    assert_eq!(groups, done);

    // Efficiency over the window, and 10-minute bins from the minute rollups.
    let eff = get_json(
        &state,
        &format!("/accounting/transfers/?json&metric=efficiency&groupby=activity&bin=10m&{window}"),
    )
    .await;
    assert_eq!(eff["bins"].as_array().unwrap().len(), 144);
    let expected = 100.0 * done as f64 / (done + failed) as f64;
    assert!((eff["total"].as_f64().unwrap() - expected).abs() < 0.001);
    let activities: Vec<&str> = eff["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(activities.contains(&"Production Input"), "{activities:?}");

    // The CSV is the plotted numbers; the images carry the series.
    let (status, csv) = get(
        &state,
        &format!("/accounting/transfers/?format=csv&metric=files&groupby=dst_site&top=3&{window}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 25, "a header and a row per bin");
    let csv_total: f64 = lines[1..]
        .iter()
        .flat_map(|l| l.split(',').skip(1))
        .map(|v| v.parse::<f64>().unwrap())
        .sum();
    assert_eq!(csv_total as i64, done);
    let svg = image(
        &state,
        &format!("/accounting/transfers/?format=svg&groupby=activity&{window}"),
        "image/svg+xml",
    )
    .await;
    assert!(String::from_utf8(svg).unwrap().contains("Production"));
    let png = image(
        &state,
        &format!("/accounting/transfers/?format=png&{window}"),
        "image/png",
    )
    .await;
    assert_eq!(&png[1..4], b"PNG");
    let (status, html) = get(&state, &format!("/accounting/transfers/?{window}")).await;
    assert_eq!(status, StatusCode::OK);
    for id in [
        "transfer-summary",
        "accounting-chart",
        "transfer-groups",
        "transfer-reasons",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
    }

    // The site page: transfers into the site by activity, over whole days.
    let site = series[0]["name"].as_str().unwrap().to_string();
    let day = now - now.rem_euclid(86_400) - 86_400;
    let days = format!(
        "date_from={}&date_to={}",
        &iso(day)[..10],
        &iso(day + 86_400)[..10]
    );
    let page = get_json(&state, &format!("/accounting/site/{site}/?json&{days}")).await;
    let into: i64 = page["transfers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["direction"] == "in")
        .map(|t| t["done"].as_i64().unwrap())
        .sum();
    assert_eq!(
        into,
        count(
            &db,
            &transfer_count(
                day,
                day + 86_400,
                &format!("e.event_type = 'transfer-done' AND d.site_name = '{site}'")
            )
        )
        .await
    );

    // The SSB: each site's transfers at either end in its window.
    let board = get_json(
        &state,
        &format!(
            "/ssb/?json&date_from={}&date_to={}",
            iso(now - 6 * HOUR),
            iso(now)
        ),
    )
    .await;
    let row = board
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["site"] == site.as_str())
        .expect("the site on the board");
    let (a, b) = (now - 6 * HOUR, now);
    let (a, b) = (a - a.rem_euclid(60), b - b.rem_euclid(60) + 60);
    for (key, event) in [
        ("transfers_done", "transfer-done"),
        ("transfers_failed", "transfer-failed"),
    ] {
        let ends = count(
            &db,
            &transfer_count(
                a,
                b,
                &format!("e.event_type = '{event}' AND s.site_name = '{site}'"),
            ),
        )
        .await
            + count(
                &db,
                &transfer_count(
                    a,
                    b,
                    &format!("e.event_type = '{event}' AND d.site_name = '{site}'"),
                ),
            )
            .await;
        assert_eq!(row[key].as_i64(), Some(ends), "{site} {key}");
    }

    // Bad input: 400 naming the parameter.
    for (query, needle) in [
        ("metric=bogus", "'metric'"),
        ("groupby=bogus", "dst_site"),
        ("bin=30m", "'bin'"),
        ("bin=10m&days=60", "'bin'"),
        ("computingsite=X", "unknown parameter 'computingsite'"),
    ] {
        let (status, body) = get(&state, &format!("/accounting/transfers/?json&{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(body.contains(needle), "{query}: {body}");
    }
}
on_every_backend!(transfer_dashboard_matches_sql);
