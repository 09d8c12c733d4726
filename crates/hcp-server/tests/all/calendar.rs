//! The official working-day calendar through HTTP, on SQLite and PostgreSQL.

use crate::common;

use serde_json::Value;

async fn add(app: &common::TestApp, date: &str, days: &str) -> (u16, Value) {
    app.get(&format!("/calendar/add-working-days?date={date}&days={days}"), None).await
}

both!(deadlines_follow_the_official_calendar, |app| {
    // (arrival day, N, last allowed day): 2025 and 2026 holiday periods, make-up working weekends included.
    let cases = [
        ("2025-01-24", "1", "2025-01-26"), // Friday → make-up Sunday before 春节
        ("2025-01-27", "1", "2025-02-05"), // 春节 01-28..02-04 skipped
        ("2025-01-27", "4", "2025-02-08"), // …then Wed, Thu, Fri, make-up Saturday 02-08
        ("2025-01-27", "5", "2025-02-10"), // …Sunday off, Monday
        ("2025-09-30", "1", "2025-10-09"), // 国庆+中秋 10-01..10-08
        ("2025-09-30", "5", "2025-10-14"), // 09, 10, 11 (Sat, make-up), 13, 14
        ("2025-12-31", "1", "2026-01-04"), // 元旦 2026, make-up Sunday 01-04
        ("2026-02-13", "5", "2026-02-27"), // 02-14 (Sat, make-up), 春节 02-15..02-23, 24, 25, 26, 27
        ("2026-04-30", "1", "2026-05-06"), // 劳动节 05-01..05-05
        ("2026-09-30", "1", "2026-10-08"), // 国庆 10-01..10-07
        ("2026-11-30", "0", "2026-11-30"),
    ];
    for (date, n, want) in cases {
        let (s, v) = add(&app, date, n).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["date"], want, "{date} + {n}: {v}");
        assert_eq!(v["provisional"], false);
    }
    let (_, v) = add(&app, "2026-09-30", "1").await;
    assert_eq!(v["overdue_from"], "2026-10-09T00:00:00+08:00");

    // A year whose notice is not loaded: Monday–Friday, marked provisional, with a warning.
    let (s, v) = add(&app, "2026-12-30", "3").await;
    assert_eq!(s, 200);
    assert_eq!((v["date"].as_str(), v["provisional"].as_bool()), (Some("2027-01-04"), Some(true)), "{v}");
    assert!(v["warning"].as_str().unwrap().contains("2027"));

    // Bad input: clear codes, the field named.
    for (date, n, code, field) in [
        ("2026-02-30", "1", "invalid_date", "date"),
        ("yesterday", "1", "invalid_date", "date"),
        ("2026-06-01", "-1", "invalid_days", "days"),
        ("2026-06-01", "400", "invalid_days", "days"),
        ("2026-06-01", "x", "invalid_days", "days"),
        ("2019-06-03", "1", "calendar_not_loaded", "date"),
        ("2031-06-03", "1", "calendar_not_loaded", "date"),
    ] {
        let (s, v) = add(&app, date, n).await;
        assert_eq!((s, v["error"]["code"].as_str()), (422, Some(code)), "{date} {n}: {v}");
        assert_eq!(v["error"]["details"]["field"], field);
    }
    let (s, _) = app.get("/calendar/add-working-days?date=2026-06-01", None).await;
    assert_eq!(s, 400, "a missing parameter is refused");

    // The year view lists holidays and make-up working days and counts working days.
    let (s, v) = app.get("/calendar?year=2026", None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["working_days_in_year"], 248);
    let days = v["days"].as_array().unwrap();
    assert!(days.iter().any(|d| d["date"] == "2026-02-28" && d["kind"] == "workday"));
    assert!(days.iter().any(|d| d["date"] == "2026-10-05" && d["kind"] == "holiday"));
    let (_, v) = app.get("/calendar?year=2027", None).await;
    assert_eq!(v["loaded"], false);
    assert!(v["warnings"][0].as_str().unwrap().contains("2027"));

    // Loading the 2027 notice (here an invented one) changes the answer at once after a reload.
    hcp_app::settings::import_calendar(
        &app.state,
        "date,kind,holiday\n2027-01-01,holiday,元旦\n2027-01-04,holiday,测试\n".as_bytes(),
        "test",
    )
    .await
    .unwrap();
    app.state.reload_calendar().await.unwrap();
    let (_, v) = add(&app, "2026-12-30", "3").await;
    assert_eq!((v["date"].as_str(), v["provisional"].as_bool()), (Some("2027-01-06"), Some(false)), "{v}");
    // A malformed notice is refused whole, naming the line; what was loaded stays.
    let err =
        hcp_app::settings::import_calendar(&app.state, "2027-01-09,holiday,x\n2027-01-06,workday,y\n".as_bytes(), "bad").await.unwrap_err();
    assert!(err.to_string().contains("第 2 行"), "{err}");
    app.state.reload_calendar().await.unwrap();
    let (_, v) = add(&app, "2026-12-30", "3").await;
    assert_eq!(v["date"], "2027-01-06");
    app
});
