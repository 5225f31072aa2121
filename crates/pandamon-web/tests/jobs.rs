//! `/jobs/` on every backend: totals, facets and error counts against independent SQL, paging,
//! projection, narrowing links and bad input.

mod common;
use common::{get, get_json};

use axum::http::StatusCode;
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::{Catalog, Db, schema, with_pool};
use pandamon_testkit::{TestDb, on_every_backend};
use pandamon_web::AppState;
use serde_json::Value as Json;
use sqlx::AssertSqlSafe;

const NOW: i64 = 1_790_000_000; // 2026-09-21 14:13:20
const FROM: &str = "2026-09-17T14:13:20";
const TO: &str = "2026-09-21T14:13:20";

/// Independent SQL: one GROUP BY over the union of the four job tables in the window.
async fn grouped(db: &Db, column: &str, extra: &str) -> Vec<(String, i64)> {
    let d = db.dialect();
    let union: Vec<String> = [
        "jobsdefined4",
        "jobsactive4",
        "jobsarchived4",
        "jobsarchived",
    ]
    .iter()
    .map(|t| format!("SELECT * FROM {}", db.qualified(Catalog::get().table(t))))
    .collect();
    let cast = if d == pandamon_store::Dialect::MySql {
        "CHAR"
    } else {
        "VARCHAR(300)"
    };
    let sql = format!(
        "SELECT CAST({c} AS {cast}), COUNT(*) FROM ({u}) j WHERE {m} >= '2026-09-17 14:13:20' AND {m} <= '2026-09-21 14:13:20' {extra} GROUP BY {c}",
        c = d.quote(column),
        u = union.join(" UNION ALL "),
        m = d.quote("modificationtime"),
    );
    let rows: Vec<(Option<String>, i64)> = with_pool!(db, pool => sqlx::query_as(AssertSqlSafe(sql.clone())).fetch_all(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}")));
    let mut out: Vec<(String, i64)> = rows
        .into_iter()
        .map(|(k, n)| {
            (
                k.map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "Not specified".into()),
                n,
            )
        })
        .collect();
    out.sort();
    out
}

fn facet(json: &Json, field: &str) -> Vec<(String, i64)> {
    let list = json["selectionsummary"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == field)
        .unwrap_or_else(|| panic!("no facet {field}"))["list"]
        .as_array()
        .unwrap();
    let mut out: Vec<(String, i64)> = list
        .iter()
        .map(|k| {
            let name = match &k["kname"] {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            (name, k["kvalue"].as_i64().unwrap())
        })
        .collect();
    out.sort();
    out
}

async fn jobs_page_matches_independent_counts(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let config = SimConfig {
        jobs: 2_000,
        seed: 8,
        days: 5.0,
        now: NOW,
    };
    pandamon_sim::simulate(&db, config, Box::new(Silent))
        .await
        .unwrap();
    let state = AppState::new(db.clone(), None);
    let base = format!("/jobs/?json&date_from={FROM}&date_to={TO}");
    let json = get_json(&state, &base).await;
    assert_eq!(
        json["tables"].as_array().unwrap().len(),
        4,
        "a 4-day window reads the archive"
    );

    // Totals and facets against GROUP BY over all jobs of the window.
    let statuses = grouped(&db, "jobstatus", "").await;
    let total: i64 = statuses.iter().map(|(_, n)| n).sum();
    assert!(total > 500, "{total}");
    assert_eq!(json["totaljobs"].as_i64().unwrap(), total);
    assert_eq!(facet(&json, "jobstatus"), statuses);
    for (field, column) in [
        ("computingsite", "computingsite"),
        ("produsername", "produsername"),
        ("attemptnr", "attemptnr"),
        ("gshare", "gshare"),
        ("cloud", "cloud"),
        ("jeditaskid", "jeditaskid"),
        ("resourcetype", "resource_type"),
    ] {
        assert_eq!(
            facet(&json, field),
            grouped(&db, column, "").await,
            "{field}"
        );
    }

    // Error summary against per-component GROUP BY over failed and holding jobs.
    let errors = json["errsByCount"].as_array().unwrap();
    assert!(!errors.is_empty());
    for (component, column, extra) in [
        ("pilot", "piloterrorcode", ""),
        ("executor", "exeerrorcode", ""),
        ("taskbuffer", "taskbuffererrorcode", "AND superrorcode = 0"),
        ("jobdispatcher", "jobdispatchererrorcode", ""),
    ] {
        let filter = format!("AND jobstatus IN ('failed', 'holding') AND {column} > 0 {extra}");
        let expected: Vec<(String, i64)> = grouped(&db, column, &filter)
            .await
            .into_iter()
            .map(|(code, n)| (format!("{component}:{code}"), n))
            .collect();
        let mut found: Vec<(String, i64)> = errors
            .iter()
            .filter(|e| {
                e["error"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{component}:"))
            })
            .map(|e| {
                (
                    e["error"].as_str().unwrap().to_string(),
                    e["count"].as_i64().unwrap(),
                )
            })
            .collect();
        found.sort();
        assert_eq!(found, expected, "{component}");
    }
    let first = &errors[0];
    for key in [
        "error",
        "codename",
        "codeval",
        "diag",
        "desc",
        "count",
        "example_pandaid",
    ] {
        assert!(
            !first[key].is_null(),
            "errsByCount entry lacks {key}: {first}"
        );
    }
    assert!(first["cat"]["name"].is_string());

    // Paging: disjoint pages in modificationtime order; a projection returns only the fields asked.
    let page1 = get_json(
        &state,
        &format!("{base}&display_limit=50&fields=pandaid,modificationtime"),
    )
    .await;
    let page2 = get_json(
        &state,
        &format!("{base}&display_limit=50&page=2&fields=pandaid,modificationtime"),
    )
    .await;
    let ids = |j: &Json| -> Vec<i64> {
        j["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["pandaid"].as_i64().unwrap())
            .collect()
    };
    let (a, b) = (ids(&page1), ids(&page2));
    assert_eq!((a.len(), b.len()), (50, 50));
    assert!(a.iter().all(|x| !b.contains(x)));
    let times: Vec<String> = page1["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["modificationtime"].as_str().unwrap().to_string())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "not sorted by modificationtime desc"
    );
    let keys: Vec<&String> = page1["jobs"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["pandaid", "modificationtime"]);
    assert_eq!(
        page1["pages"].as_u64().unwrap(),
        (total as u64).div_ceil(50)
    );

    // Binned facets link to selections with the same counts.
    for field in ["minramcount", "neventsrange", "priorityrange"] {
        let values = facet(&json, field);
        assert_eq!(values.iter().map(|(_, n)| n).sum::<i64>(), total, "{field}");
        for (name, n) in values.iter().filter(|(k, _)| k != "Not specified").take(3) {
            let narrowed = get_json(&state, &format!("{base}&{field}={name}")).await;
            assert_eq!(
                narrowed["totaljobs"].as_i64().unwrap(),
                *n,
                "{field}={name}"
            );
        }
    }

    // A facet value narrows the selection to exactly its count.
    let (failed_count, link) = {
        let (_, html) = get(&state, &format!("/jobs/?date_from={FROM}&date_to={TO}")).await;
        let marker = "data-value=\"failed\"";
        let at = html.find(marker).expect("failed is a facet value");
        let href_start = html[..at].rfind("href=\"").unwrap() + 6;
        let href = html[href_start..]
            .split('"')
            .next()
            .unwrap()
            .replace("&amp;", "&")
            .replace("&#38;", "&");
        (
            statuses.iter().find(|(s, _)| s == "failed").unwrap().1,
            href,
        )
    };
    let narrowed = get_json(&state, &format!("/jobs/{link}&json")).await;
    assert_eq!(narrowed["totaljobs"].as_i64().unwrap(), failed_count);
    assert_eq!(
        facet(&narrowed, "jobstatus"),
        vec![("failed".to_string(), failed_count)]
    );

    // The error summary page agrees with the same counts, and splits them by site.
    let errors_page = get_json(
        &state,
        &format!("/errors/?json&date_from={FROM}&date_to={TO}"),
    )
    .await;
    assert_eq!(errors_page["errsByCount"], json["errsByCount"]);
    let failed_by_site = grouped(
        &db,
        "computingsite",
        "AND jobstatus IN ('failed', 'holding')",
    )
    .await;
    // sortby=alpha|count orders the tables as bigmon does; anything else is a 400 naming it.
    let by_name = get_json(
        &state,
        &format!("/errors/?json&date_from={FROM}&date_to={TO}&sortby=alpha"),
    )
    .await;
    let keys = |j: &Json, table: &str, key: &str| -> Vec<String> {
        j[table]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[key].as_str().unwrap().to_string())
            .collect()
    };
    let mut sorted = keys(&by_name, "errsByCount", "error");
    sorted.sort();
    assert_eq!(keys(&by_name, "errsByCount", "error"), sorted);
    let mut sites = keys(&by_name, "errsBySite", "name");
    sites.sort();
    assert_eq!(keys(&by_name, "errsBySite", "name"), sites);
    let counts: Vec<i64> = errors_page["errsByCount"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["count"].as_i64().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    let (status, body) = get(&state, "/errors/?json&sortby=size").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("sortby"), "{body}");
    // bigmon's jobSummary: the failing jobs' attributes (JOB_FIELDS_ERROR_VIEW) as facets.
    let site_facet = errors_page["jobSummary"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "computingsite")
        .expect("a computingsite facet");
    let mut facet: Vec<(String, i64)> = site_facet["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["kname"].as_str().unwrap().to_string(),
                v["kvalue"].as_i64().unwrap(),
            )
        })
        .collect();
    facet.sort();
    let mut expected_facet = failed_by_site.clone();
    expected_facet.sort();
    assert_eq!(facet, expected_facet);
    for site in errors_page["errsBySite"].as_array().unwrap() {
        let name = site["name"].as_str().unwrap();
        let expected = failed_by_site
            .iter()
            .find(|(s, _)| s == name)
            .map_or(0, |(_, n)| *n);
        assert_eq!(site["toterrjobs"].as_i64().unwrap(), expected, "{name}");
    }
    let by_site: i64 = errors_page["errsBySite"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["toterrors"].as_i64().unwrap())
        .sum();
    let by_code: i64 = errors_page["errsByCount"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["count"].as_i64().unwrap())
        .sum();
    assert_eq!(by_site, by_code);
    let failing: i64 = failed_by_site.iter().map(|(_, n)| n).sum();
    let in_histogram: i64 = errors_page["histogram"]["series"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
        })
        .sum();
    assert_eq!(
        in_histogram, failing,
        "the error histogram counts every failed and holding job once"
    );
    let (status, html) = get(&state, &format!("/errors/?date_from={FROM}&date_to={TO}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"errors-by-site\""));

    // Bad input: 400 naming the parameter; injection is a literal; unknown parameters are noted.
    let (status, body) = get(&state, "/jobs/?json&days=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("'days'"), "{body}");
    let (status, body) = get(&state, "/jobs/?json&sortby=colour").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("'sortby'"), "{body}");
    let injected = get_json(
        &state,
        "/jobs/?json&days=30&computingsite=x'%3B%20DROP%20TABLE%20jobsactive4%3B--",
    )
    .await;
    assert_eq!(injected["totaljobs"], 0);
    assert!(db.table_counts(&["jobsactive4"]).await.is_ok());
    let noted = get_json(&state, "/jobs/?json&colour=blue&display_limit=1").await;
    assert!(noted["notes"][0].as_str().unwrap().contains("colour"));
    db.close().await;
}
on_every_backend!(jobs_page_matches_independent_counts);

async fn job_page_shows_one_job_with_its_history(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let config = SimConfig {
        jobs: 1_000,
        seed: 9,
        days: 2.0,
        now: NOW,
    };
    pandamon_sim::simulate(&db, config, Box::new(Silent))
        .await
        .unwrap();
    let state = AppState::new(db.clone(), None);
    // A retried job that failed and was retried again has a chain both ways.
    let d = db.dialect();
    let sql = format!(
        "SELECT h.{new} FROM {h} h JOIN {h} h2 ON h2.{old} = h.{new} ORDER BY h.{new} LIMIT 1",
        new = d.quote("newpandaid"),
        old = d.quote("oldpandaid"),
        h = db.qualified(Catalog::get().table("jedi_job_retry_history")),
    );
    let pandaid: i64 = with_pool!(db, pool => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(pool).await.unwrap());
    let json = get_json(&state, &format!("/job/{pandaid}/?json")).await;
    assert_eq!(json["job"]["pandaid"].as_i64().unwrap(), pandaid);
    assert!(
        json["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["type"] == "input")
    );
    // The input files' JEDI records: as many as an independent join finds.
    let joined = format!(
        "SELECT COUNT(*) FROM {c} c JOIN {f} f ON c.{t} = f.{t} AND c.{ds} = f.{ds} AND c.{fid} = f.{fid} \
         WHERE f.{p} = {pandaid} AND f.{ty} = 'input'",
        c = db.qualified(Catalog::get().table("jedi_dataset_contents")),
        f = db.qualified(Catalog::get().table("filestable4")),
        t = d.quote("jeditaskid"),
        ds = d.quote("datasetid"),
        fid = d.quote("fileid"),
        p = d.quote("pandaid"),
        ty = d.quote("type"),
    );
    let expected: i64 = with_pool!(db, pool => sqlx::query_scalar(AssertSqlSafe(joined)).fetch_one(pool).await.unwrap());
    assert!(expected > 0, "the retried job read files");
    assert_eq!(json["dsfiles"].as_array().unwrap().len() as i64, expected);
    assert!(!json["retries_up"].as_array().unwrap().is_empty());
    assert!(!json["retries_down"].as_array().unwrap().is_empty());
    assert_eq!(
        json["retries_up"][0]["newpandaid"].as_i64().unwrap(),
        pandaid
    );
    assert_eq!(json["job"]["parentid"], json["retries_up"][0]["oldpandaid"]);
    let statuslog = json["statuslog"].as_array().unwrap();
    assert_eq!(statuslog.first().unwrap()["jobstatus"], "pending");
    assert_eq!(
        statuslog.last().unwrap()["jobstatus"],
        json["job"]["jobstatus"]
    );
    if json["job"]["jobstatus"] == "failed" {
        let errors = json["errors"].as_array().unwrap();
        assert!(!errors.is_empty());
        assert!(
            errors
                .iter()
                .all(|e| !e["description"].as_str().unwrap().is_empty())
        );
    }
    // Log links come from the job's own data: its pilot id, its worker, its log file.
    let links = &json["links"];
    let pilot = json["job"]["pilotid"].as_str().unwrap_or("");
    if pilot.starts_with("http") {
        assert_eq!(links["pilotstdout"], pilot.split('|').next().unwrap());
    }
    if let Some(worker) = json["workers"].as_array().unwrap().first() {
        assert_eq!(links["workerstdout"], worker["stdout"]);
    }
    if json["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["type"] == "log")
    {
        let tarball = links["logtarball"].as_str().expect("a log tarball link");
        let (status, _) = get(&state, tarball).await;
        assert_eq!(status, StatusCode::OK, "{tarball}");
    }
    let (status, html) = get(&state, &format!("/job/{pandaid}/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("Job {pandaid}")));
    for href in links.as_object().unwrap().values() {
        let href = href.as_str().unwrap().replace('&', "&amp;");
        assert!(html.contains(&href), "the page links {href}");
    }
    // File sizes read as sizes, not raw byte counts.
    for size in json["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["fsize"].as_i64())
    {
        if size >= 1_000 {
            assert!(
                !html.contains(&format!("<td>{size}</td>")),
                "raw size {size}"
            );
        }
    }
    let (status, body) = get(&state, "/job/12abc/?json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("'pandaid'"));
    let (status, _) = get(&state, "/job/1/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    db.close().await;
}
on_every_backend!(job_page_shows_one_job_with_its_history);
