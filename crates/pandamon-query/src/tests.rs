use super::*;

const NOW: i64 = 1_790_000_000; // 2026-09-21 14:13:20 UTC

fn parse(query: &str) -> Result<Selection, QueryError> {
    let pairs: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    Selection::parse(
        pairs,
        Defaults {
            window_hours: 12,
            now: NOW,
            vocabulary: &fields::JOBS,
        },
    )
}

fn sql(query: &str, dialect: SqlDialect) -> (String, Vec<Value>) {
    parse(query).unwrap().where_sql(dialect, 1)
}

fn t(s: &str) -> Value {
    Value::Time(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap())
}

/// URL → SQL for PostgreSQL, the reference table of the language.
#[test]
fn urls_compile_to_bound_postgres_sql() {
    let window = "\"modificationtime\" >= CAST($1 AS TIMESTAMP) AND \"modificationtime\" <= CAST($2 AS TIMESTAMP)";
    let (text, params) = sql("", SqlDialect::Postgres);
    assert_eq!(text, window);
    assert_eq!(
        params,
        vec![t("2026-09-21 02:13:20"), t("2026-09-21 14:13:20")]
    );
    let (text, _) = sql("jobstatus=failed", SqlDialect::Postgres);
    assert_eq!(
        text,
        format!(
            "\"jobstatus\" = $1 AND {}",
            window.replace("$2", "$3").replace("$1", "$2")
        )
    );
    let exact: &[(&str, &str)] = &[
        ("jeditaskid=42", "\"jeditaskid\" = $1"),
        ("pandaid=1|2,3", "\"pandaid\" IN ($1, $2, $3)"),
        (
            "jeditaskid=!7",
            "(\"jeditaskid\" IS NULL OR NOT (\"jeditaskid\" = $1))",
        ),
        ("taskid=Not specified", "\"jeditaskid\" IS NULL"),
        ("jobname=mc23*", "UPPER(\"jobname\") LIKE $1 ESCAPE '!'"),
        (
            "pandaid=5&computingsite=CERN*|BNL",
            "\"pandaid\" = $1 AND (UPPER(\"computingsite\") LIKE $2 ESCAPE '!' OR \"computingsite\" = $3)",
        ),
        (
            "pandaid=5&jobstatus=failed|finished",
            "\"pandaid\" = $1 AND (\"jobstatus\" = $2 OR \"jobstatus\" = $3)",
        ),
        (
            "pandaid=5&jobstatus=failed,closed",
            "\"pandaid\" = $1 AND (\"jobstatus\" = $2 OR \"jobstatus\" = $3)",
        ),
        (
            "pandaid=5&specialhandling=sj",
            "\"pandaid\" = $1 AND UPPER(\"specialhandling\") LIKE $2 ESCAPE '!'",
        ),
        (
            "pandaid=5&cloud=!US",
            "\"pandaid\" = $1 AND (\"cloud\" IS NULL OR NOT (\"cloud\" = $2))",
        ),
        (
            "pandaid=5&gshare=Not specified",
            "\"pandaid\" = $1 AND (\"gshare\" IS NULL OR \"gshare\" = '')",
        ),
        (
            "pandaid=5&nucleus=*",
            "\"pandaid\" = $1 AND (\"nucleus\" IS NOT NULL AND \"nucleus\" <> '')",
        ),
        (
            "pandaid=5&computingsite=*UCORE,!CERN*",
            "\"pandaid\" = $1 AND (UPPER(\"computingsite\") LIKE $2 ESCAPE '!' AND (\"computingsite\" IS NULL OR NOT (UPPER(\"computingsite\") LIKE $3 ESCAPE '!')))",
        ),
        (
            "reqid=52001&priorityrange=500:900",
            "\"reqid\" = $1 AND \"currentpriority\" BETWEEN $2 AND $3",
        ),
        (
            "reqid=1&neventsrange=1000-",
            "\"reqid\" = $1 AND \"nevents\" >= $2",
        ),
        (
            "reqid=1&jobtype=analysis",
            "\"reqid\" = $1 AND (\"prodsourcelabel\" = $2 OR \"prodsourcelabel\" = $3)",
        ),
        (
            "reqid=1&minramcount=2-3GB",
            "\"reqid\" = $1 AND \"minramcount\" BETWEEN $2 AND $3",
        ),
        (
            "reqid=1&minramcount=4000",
            "\"reqid\" = $1 AND \"minramcount\" = $2",
        ),
    ];
    let (_, params) = sql("reqid=1&minramcount=2-3GB", SqlDialect::Postgres);
    assert_eq!(params[1..], [Value::Int(2_000), Value::Int(2_999)]);
    for (url, expected) in exact {
        let (text, _) = sql(url, SqlDialect::Postgres);
        assert_eq!(&text, expected, "{url}");
    }
}

#[test]
fn values_are_bound_never_spliced() {
    let (text, params) = sql(
        "jobname=x'; DROP TABLE jobsactive4; --&pandaid=1",
        SqlDialect::Postgres,
    );
    assert!(!text.contains("DROP"), "{text}");
    assert_eq!(
        params[0],
        Value::from("x'; DROP TABLE jobsactive4; --".to_string())
    );
    // Wildcard metacharacters of LIKE in a value are escaped.
    let (_, params) = sql("pandaid=1&jobname=a_b!c*", SqlDialect::MySql);
    assert_eq!(params[1], Value::from("A!_B!!C%".to_string()));
    let (text, _) = sql("pandaid=1&user=smith", SqlDialect::MySql);
    assert!(
        text.contains("UPPER(`produsername`) LIKE ? ESCAPE '!'"),
        "{text}"
    );
}

#[test]
fn dialects_differ_only_in_quoting_and_placeholders() {
    let url = "pandaid=1|2&computingsite=CERN*&durationmin=10-60";
    let (pg, _) = sql(url, SqlDialect::Postgres);
    let (my, _) = sql(url, SqlDialect::MySql);
    let (lite, _) = sql(url, SqlDialect::Sqlite);
    let (ora, params) = sql(url, SqlDialect::Oracle);
    assert!(pg.starts_with("\"pandaid\" IN ($1, $2)"), "{pg}");
    assert!(my.starts_with("`pandaid` IN (?, ?)"), "{my}");
    assert!(lite.starts_with("\"pandaid\" IN (?, ?)"), "{lite}");
    assert!(
        ora.starts_with("PANDAID IN (:1, :2) AND UPPER(COMPUTINGSITE) LIKE :3 ESCAPE '!'"),
        "{ora}"
    );
    assert!(pg.contains("EXTRACT(EPOCH FROM"), "{pg}");
    assert!(my.contains("TIMESTAMPDIFF(SECOND"), "{my}");
    assert!(lite.contains("strftime('%s'"), "{lite}");
    // pandaid ×2, site, and per duration bound: now and the limit.
    assert_eq!(params.len(), 7);
    assert_eq!(my.matches('?').count(), params.len());
    assert_eq!(lite.matches('?').count(), params.len());
}

#[test]
fn time_windows_follow_bigmon() {
    let day = 86_400;
    assert_eq!(parse("").unwrap().window, Some((NOW - 12 * 3_600, NOW)));
    assert_eq!(
        parse("hours=3").unwrap().window,
        Some((NOW - 3 * 3_600, NOW))
    );
    assert_eq!(parse("days=2").unwrap().window, Some((NOW - 2 * day, NOW)));
    // An id lifts the default window, unless a window is named too.
    assert_eq!(parse("jeditaskid=5").unwrap().window, None);
    assert_eq!(
        parse("jeditaskid=5&days=1").unwrap().window,
        Some((NOW - day, NOW))
    );
    assert_eq!(parse("jobname=abc").unwrap().window, None);
    assert!(parse("jeditaskid=5").unwrap().needs_archive());
    assert!(!parse("days=2").unwrap().needs_archive());
    assert!(parse("days=3").unwrap().needs_archive());
    let s = parse("date_from=2026-09-01&date_to=2026-09-02T12:00").unwrap();
    assert_eq!(
        s.window,
        Some((1_788_220_800, 1_788_220_800 + day + 12 * 3_600))
    );
    assert_eq!(
        parse("earlierthan=2").unwrap().window,
        Some((NOW - 14 * 3_600, NOW - 2 * 3_600))
    );
    let s = parse("starttimerange=2026-09-01|2026-09-02").unwrap();
    assert_eq!(s.window, None);
    assert_eq!(
        s.conds,
        vec![Cond::Time {
            column: "starttime",
            from: 1_788_220_800,
            to: 1_788_220_800 + day
        }]
    );
}

#[test]
fn bad_values_name_the_parameter() {
    let cases: &[(&str, &str)] = &[
        ("days=abc", "days"),
        ("days=-1", "days"),
        ("hours=99999999", "hours"),
        ("jeditaskid=12x", "jeditaskid"),
        ("pandaid=", "pandaid"),
        ("date_from=yesterday", "date_from"),
        ("date_from=2026-09-02&date_to=2026-09-01", "date_from"),
        ("priorityrange=900:500", "priorityrange"),
        ("priorityrange=high", "priorityrange"),
        ("sortby=colour", "sortby"),
        ("limit=99999999999", "limit"),
        ("display_limit=1000000", "display_limit"),
        ("jobtype=chores", "jobtype"),
        ("fields=pandaid,password", "fields"),
        ("jobname=abc%", "jobname"),
        ("starttimerange=2026-09-01", "starttimerange"),
        ("computingsite=", "computingsite"),
    ];
    for (url, param) in cases {
        let err = parse(url).unwrap_err();
        assert_eq!(err.param, *param, "{url}: {err}");
        assert!(
            err.to_string()
                .starts_with(&format!("invalid value for parameter '{param}'"))
        );
    }
}

#[test]
fn unknown_parameters_are_noted_not_fatal() {
    let s = parse("jobstatus=failed&colour=blue&json&timestamp=123").unwrap();
    assert_eq!(
        s.notes,
        vec!["parameter 'colour' is not known here and was ignored".to_string()]
    );
    assert_eq!(s.ignored, vec!["colour".to_string()]);
    assert_eq!(s.conds.len(), 2);
}

#[test]
fn sorting_and_paging() {
    let s = parse("sortby=priority-ascending&display_limit=50&page=3&limit=1000").unwrap();
    assert_eq!(
        s.sort,
        Sort {
            column: "currentpriority",
            descending: false
        }
    );
    assert_eq!((s.display_limit, s.page, s.limit), (50, 3, Some(1000)));
    assert_eq!(
        s.order_sql(SqlDialect::Postgres),
        "\"currentpriority\" ASC, \"pandaid\" ASC"
    );
    assert_eq!(
        parse("sortby=pandaid")
            .unwrap()
            .order_sql(SqlDialect::MySql),
        "`pandaid` DESC"
    );
    assert_eq!(
        parse("").unwrap().sort,
        Sort {
            column: "modificationtime",
            descending: true
        }
    );
}

struct Job(
    Vec<(&'static str, Option<&'static str>)>,
    Vec<(&'static str, Option<i64>)>,
);

impl JobView for Job {
    fn text(&self, column: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(c, _)| *c == column)
            .and_then(|(_, v)| *v)
    }
    fn int(&self, column: &str) -> Option<i64> {
        self.1
            .iter()
            .find(|(c, _)| *c == column)
            .and_then(|(_, v)| *v)
    }
    fn time(&self, column: &str) -> Option<i64> {
        self.int(column)
    }
}

#[test]
fn in_memory_evaluation_has_the_sql_meaning() {
    let job = Job(
        vec![
            ("computingsite", Some("CERN-PROD_UCORE")),
            ("jobstatus", Some("failed")),
            ("gshare", None),
            ("produsername", Some("Anna Smith")),
            ("specialhandling", Some("sj,rb")),
        ],
        vec![
            ("pandaid", Some(10)),
            ("jeditaskid", None),
            ("modificationtime", Some(NOW - 60)),
            ("starttime", Some(NOW - 3_600)),
            ("endtime", Some(NOW - 600)),
            ("currentpriority", Some(700)),
        ],
    );
    let yes = [
        "",
        "computingsite=cern*",
        "computingsite=*UCORE,!BNL*",
        "jobstatus=finished|failed",
        "jobstatus=!finished",
        "gshare=Not specified",
        "gshare=!Analysis",
        "jeditaskid=!5",
        "jeditaskid=Not specified",
        "user=smith",
        "specialhandling=rb",
        "priorityrange=600:800",
        "durationmin=40-60",
        "pandaid=9|10",
    ];
    let no = [
        "computingsite=CERN",
        "computingsite=!CERN*",
        "jobstatus=finished",
        "gshare=*",
        "jeditaskid=5",
        "jeditaskid=!Not specified",
        "user=jones",
        "priorityrange=800:",
        "durationmin=0-30",
        "hours=12&earlierthan=1",
    ];
    for url in yes {
        assert!(parse(url).unwrap().matches(&job), "{url} should match");
    }
    for url in no {
        assert!(!parse(url).unwrap().matches(&job), "{url} should not match");
    }
}

#[test]
fn task_parameters_use_the_task_vocabulary() {
    let pairs = vec![
        ("status", "running|ready"),
        ("username", "smith"),
        ("jobtype", "analysis"),
    ];
    let s = Selection::parse(
        pairs,
        Defaults {
            window_hours: 24 * 7,
            now: NOW,
            vocabulary: &fields::TASKS,
        },
    )
    .unwrap();
    assert_eq!(s.window, Some((NOW - 7 * 86_400, NOW)));
    assert_eq!(
        s.notes,
        vec!["parameter 'jobtype' is not known here and was ignored".to_string()]
    );
    let (sql, _) = s.where_sql(SqlDialect::Postgres, 1);
    assert!(
        sql.starts_with("(\"status\" = $1 OR \"status\" = $2) AND UPPER(\"username\") LIKE $3"),
        "{sql}"
    );
    assert_eq!(
        s.order_sql(SqlDialect::Postgres),
        "\"modificationtime\" DESC, \"jeditaskid\" DESC"
    );
    let s = Selection::parse(
        vec![("jeditaskid", "40000001")],
        Defaults {
            window_hours: 168,
            now: NOW,
            vocabulary: &fields::TASKS,
        },
    )
    .unwrap();
    assert_eq!(s.window, None);
    let err = Selection::parse(
        vec![("sortby", "pandaid")],
        Defaults {
            window_hours: 168,
            now: NOW,
            vocabulary: &fields::TASKS,
        },
    )
    .unwrap_err();
    assert_eq!(err.param, "sortby");
}

#[test]
fn glob_is_case_insensitive_with_stars_anywhere() {
    assert!(glob_match("*ucore", "CERN-PROD_UCORE"));
    assert!(glob_match("c*n*", "CERN"));
    assert!(glob_match("*", ""));
    assert!(!glob_match("c*x", "CERN"));
    assert!(glob_match("a*b*c", "aXbYbZc"));
}

/// A window can be moved or dropped (bigmon's auto-extension) without touching other filters.
#[test]
fn windows_move_and_name_their_column() {
    let selection = Selection::parse(
        [("status", "failed"), ("harvesterid", "CERN_A")],
        Defaults {
            window_hours: 12,
            now: NOW,
            vocabulary: &fields::WORKERS,
        },
    )
    .unwrap();
    assert_eq!(selection.window, Some((NOW - 12 * 3_600, NOW)));
    assert_eq!(selection.window_column(), Some("submittime"));
    let moved = selection.with_window("submittime", Some((100, 200)));
    assert_eq!(moved.window, Some((100, 200)));
    let (text, params) = moved.where_sql(SqlDialect::Postgres, 1);
    assert!(
        text.contains("\"status\"") && text.contains("\"harvesterid\""),
        "{text}"
    );
    assert_eq!(text.matches("\"submittime\" >=").count(), 1, "{text}");
    assert!(
        params.contains(&Value::Time(
            chrono::DateTime::from_timestamp(100, 0)
                .unwrap()
                .naive_utc()
        ))
    );
    let unbounded = selection.with_window("submittime", None);
    assert_eq!(unbounded.window_column(), None);
    let (text, _) = unbounded.where_sql(SqlDialect::Postgres, 1);
    assert!(!text.contains("submittime"), "{text}");
}

#[test]
fn job_windows_longer_than_the_limit_name_their_parameter() {
    let limit = crate::fields::MAX_JOB_WINDOW_DAYS;
    for (query, param) in [
        (format!("days={}", limit + 1), "days"),
        (format!("hours={}", (limit + 1) * 24), "hours"),
        (
            "date_from=2020-01-01&date_to=2026-01-01".to_string(),
            "date_from",
        ),
    ] {
        let err = parse(&query).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("invalid value for parameter '{param}'"))
                && err.contains("limit of 180 days"),
            "{query}: {err}"
        );
    }
    // At the limit, and without a window (an id narrows it), a selection.
    assert!(parse(&format!("days={limit}")).is_ok());
    assert!(parse("jeditaskid=42").unwrap().window.is_none());
}

/// bigmon's names for event-service jobs and job types select what their numbers select.
#[test]
fn event_service_names_and_job_type_aliases() {
    let params = |q: &str| sql(&format!("reqid=1&{q}"), SqlDialect::Postgres).1;
    assert_eq!(params("eventservice=jumbo"), params("eventservice=4"));
    assert_eq!(
        params("eventservice=eventservice|esmerge"),
        params("eventservice=1|2")
    );
    assert_eq!(params("eventservice=!esmerge"), params("eventservice=!2"));
    assert_eq!(params("jobtype=esmerge"), params("eventservice=2"));
    assert_eq!(params("jobtype=analy"), params("jobtype=analysis"));
    assert_eq!(params("jobtype=prod"), params("jobtype=production"));
    assert_eq!(
        params("eventservice=all"),
        params("eventservice=1|2|3|4|5|6")
    );
    let not2 = parse("eventservice=not2").unwrap();
    let es = |v: Option<i64>| {
        not2.matches(&Job(
            vec![],
            vec![("eventservice", v), ("modificationtime", Some(NOW - 60))],
        ))
    };
    assert!(es(None) && es(Some(0)) && es(Some(1)) && !es(Some(2)));
    let err = parse("eventservice=sometimes").unwrap_err().to_string();
    assert!(
        err.contains("'eventservice'") && err.contains("jumbo"),
        "{err}"
    );
}

/// A form's checkboxes send `fields=` once per column: they add up, in order, without repeats.
#[test]
fn repeated_fields_add_up() {
    let s = parse("fields=pandaid,jobstatus&fields=computingsite&fields=jobstatus").unwrap();
    assert_eq!(
        s.fields.unwrap(),
        vec!["pandaid", "jobstatus", "computingsite"]
    );
    assert!(parse("fields=pandaid&fields=password").is_err());
}
