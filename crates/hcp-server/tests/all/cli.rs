//! The command line as an operator uses it, on a SQLite file.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_haochaping"))
}

struct Dir(std::path::PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An address already taken, so that `demo` seeds and then fails to listen, without any name lookup.
fn taken() -> (std::net::TcpListener, String) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    (l, addr)
}

fn run(dir: &Dir, args: &[&str]) -> (i32, String, String) {
    let out = bin().current_dir(&dir.0).env_remove("HCP_DATABASE_URL").env_remove("HCP_MASTER_KEY").args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn operator_commands_and_verify() {
    let dir = Dir(std::env::temp_dir().join(format!("hcp-cli-{}", uuid::Uuid::new_v4().simple())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let (code, out, err) = run(&dir, &["migrate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(dir.0.join("haochaping.db").exists(), "the default database is a file in the working directory");

    // Master data from CSV; a bad row names its line and keeps what came before.
    std::fs::write(dir.0.join("units.csv"), "code,name,parent_code,kind,region_code,credit_code,hall_stationed\nLX,陇县人民政府,,county,610327,,0\nLX-A,甲单位,LX,department,610327,,是\nLX-B,乙单位,NOPE,department,610327,,0\n").unwrap();
    let (code, _, err) = run(&dir, &["import", "units", "units.csv"]);
    assert_ne!(code, 0);
    assert!(err.contains("第 4 行"), "{err}");
    std::fs::write(dir.0.join("windows.csv"), "code,name,unit_code\nW1,一号窗口,LX-A\n").unwrap();
    let (code, out, err) = run(&dir, &["import", "windows", "windows.csv"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("imported 1 windows"));

    // Keys: the key alone is the last line.
    let (code, out, err) = run(&dir, &["keys", "create", "--kind", "device", "--unit", "LX-A", "--window", "W1"]);
    assert_eq!(code, 0, "{err}");
    let key = out.lines().last().unwrap();
    assert!(key.starts_with("hcp_device_") && key.len() > 40, "{out}");
    let (code, _, err) = run(&dir, &["keys", "create", "--kind", "device", "--unit", "LX-A"]);
    assert_ne!(code, 0, "a device key needs a window");
    assert!(err.contains("窗口"), "{err}");

    // Staff accounts: the password policy holds.
    let (code, _, err) =
        run(&dir, &["users", "create", "--username", "u1", "--password", "short", "--role", "unit_handler", "--unit", "LX-A"]);
    assert_ne!(code, 0);
    assert!(err.contains("密码"), "{err}");
    let (code, out, err) =
        run(&dir, &["users", "create", "--username", "u1", "--password", "Longer-pass-2026", "--role", "unit_handler", "--unit", "LX-A"]);
    assert_eq!(code, 0, "{out}{err}");

    let (code, out, _) = run(&dir, &["verify"]);
    assert_eq!(code, 0);
    assert!(out.contains("ledger intact: 0 entries"), "{out}");
    let (code, _, _) = run(&dir, &["--help"]);
    assert_eq!(code, 0);
    let (code, _, err) = run(&dir, &["--database", "mysql://x", "migrate"]);
    assert_ne!(code, 0);
    assert!(err.contains("不支持的数据库地址"), "{err}");
}

#[test]
fn demo_database_verifies_and_keeps_phones_encrypted() {
    let dir = Dir(std::env::temp_dir().join(format!("hcp-demo-{}", uuid::Uuid::new_v4().simple())));
    std::fs::create_dir_all(&dir.0).unwrap();
    // Seed a small demo without serving: `demo` with an address in use seeds, then fails to listen.
    let (_hold, addr) = taken();
    let (_, out, err) = run(&dir, &["demo", "--matters", "300", "--listen", &addr]);
    assert!(out.contains("陇县"), "{out}{err}");
    let seed_out = format!("{out}{err}");
    assert!(err.contains("无法监听"), "{err}");
    let (code, out, err) = run(&dir, &["verify"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ledger intact"), "{out}");
    let ratings: usize = out.split(", ").nth(1).and_then(|s| s.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(ratings > 150, "most demo matters are rated: {out}");
    // No applicant's or rater's phone number or name is stored in plain text: decrypt them with the
    // instance key, then look for each in the raw database file and its write-ahead log.
    let secrets = hcp_server::secrets::load(&dir.0.join("haochaping-secret.key")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = format!("sqlite://{}", dir.0.join("haochaping.db").display());
    let personal: Vec<String> = rt.block_on(async {
        let db = hcp_storage::Db::connect(&url).await.unwrap();
        let hcp_storage::Db::Sqlite(p) = &db else { unreachable!() };
        let mut out = Vec::new();
        for (name, phone) in sqlx::query_as::<_, (Vec<u8>, Option<Vec<u8>>)>("SELECT applicant_name, applicant_phone FROM matters")
            .fetch_all(p)
            .await
            .unwrap()
        {
            out.push(secrets.decrypt(&name).unwrap());
            if let Some(ph) = phone {
                out.push(secrets.decrypt(&ph).unwrap());
            }
        }
        for (phone,) in
            sqlx::query_as::<_, (Vec<u8>,)>("SELECT rater_phone FROM ratings WHERE rater_phone IS NOT NULL").fetch_all(p).await.unwrap()
        {
            out.push(secrets.decrypt(&phone).unwrap());
        }
        db.close().await;
        out
    });
    assert!(personal.len() > 300, "{}", personal.len());
    let mut raw = std::fs::read(dir.0.join("haochaping.db")).unwrap();
    raw.extend(std::fs::read(dir.0.join("haochaping.db-wal")).unwrap_or_default());
    for p in personal.iter().filter(|p| p.len() >= 9) {
        assert!(!raw.windows(p.len()).any(|w| w == p.as_bytes()), "{p} is stored in plain text");
    }
    // A seeded demo is not seeded twice.
    let (_, out, _) = run(&dir, &["demo", "--listen", &addr]);
    assert!(out.contains("数据库已有数据"), "{out}");

    // Serve it with every log line on, use it as staff and as a business system would (including the one
    // view that shows a rater's number), then look for every personal datum in what was logged.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let log_path = dir.0.join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = bin()
        .current_dir(&dir.0)
        .env_remove("HCP_DATABASE_URL")
        .env_remove("HCP_MASTER_KEY")
        .env("HCP_LOG", "trace")
        .args(["serve", "--listen", &listen])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let new_key = |args: &[&str]| {
        let (code, out, err) = run(&dir, args);
        assert_eq!(code, 0, "{out}{err}");
        out.lines().last().unwrap().trim().to_string()
    };
    let system_key = new_key(&["keys", "create", "--kind", "system", "--unit", "LX"]);
    let device_key = new_key(&["keys", "create", "--kind", "device", "--unit", "LX-ZWZX", "--window", "ZX-01"]);
    let sms_key = new_key(&["keys", "create", "--kind", "sms_gateway", "--unit", "LX"]);
    let hotline_key = new_key(&["keys", "create", "--kind", "hotline", "--unit", "LX"]);
    let province_key = new_key(&["keys", "create", "--kind", "province", "--unit", "LX"]);
    let base = format!("http://{listen}/api/v1");
    let new_phones = ["13922223333", "13911112222", "13933334444", "13955556666", "13977778888"];
    rt.block_on(async {
        let c = reqwest::Client::new();
        for _ in 0..100 {
            if c.get(format!("{base}/healthz")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let r = c.post(format!("{base}/session")).json(&serde_json::json!({"username": "gaj_handler", "password": "Longxian-2026"})).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
        let cases: serde_json::Value = c.get(format!("{base}/cases")).header("cookie", &cookie).send().await.unwrap().json().await.unwrap();
        let open = cases.as_array().unwrap().iter().find(|x| x["state"] != "closed" && x["real_name"] == true).cloned();
        if let Some(case) = open {
            let r = c.get(format!("{base}/cases/{}/contact", case["id"].as_str().unwrap())).header("cookie", &cookie).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200);
        }
        let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap();
        let m = serde_json::json!({"matter_no": "LOG-1", "item_code": "61032701001", "unit_code": "LX-SCJ", "accepted_at": now, "completed_at": now,
            "applicant": {"kind": "person", "name": "吴十", "phone": new_phones[0]}});
        assert_eq!(c.post(format!("{base}/matters")).bearer_auth(&system_key).json(&m).send().await.unwrap().status().as_u16(), 201);
        let svc: serde_json::Value = c.post(format!("{base}/matters/LOG-1/services")).bearer_auth(&system_key)
            .json(&serde_json::json!({"window_code": "ZX-01"})).send().await.unwrap().json().await.unwrap();
        let r = c.post(format!("{base}/ratings")).bearer_auth(&device_key)
            .json(&serde_json::json!({"matter_no": "LOG-1", "service_no": svc["service_no"], "channel": "pad", "level": 1, "reasons": ["105"],
                "rater": {"name": "郑十一", "phone": new_phones[1], "id_number": "11010519491231002X"}}))
            .send().await.unwrap();
        assert_eq!(r.status().as_u16(), 201);
        // A bad request with personal data in it is answered without echoing it, and not logged either.
        let r = c.post(format!("{base}/ratings")).bearer_auth(&device_key)
            .json(&serde_json::json!({"matter_no": "LOG-1", "channel": "pad", "level": 9, "rater": {"phone": new_phones[1]}}))
            .send().await.unwrap();
        assert!(!r.text().await.unwrap().contains(new_phones[1]));
        // The machine channels: LOG-S's applicant is invited by SMS and replies 2, then a reason; the hotline
        // rates LOG-2 by the caller's number; the province sends a real-name rating of LOG-3.
        let m = serde_json::json!({"matter_no": "LOG-S", "item_code": "61032701001", "unit_code": "LX-SCJ", "accepted_at": now, "completed_at": now,
            "applicant": {"kind": "person", "name": "吴十", "phone": new_phones[4]}});
        assert_eq!(c.post(format!("{base}/matters")).bearer_auth(&system_key).json(&m).send().await.unwrap().status().as_u16(), 201);
        let sms = |text: &str| serde_json::json!({"from": new_phones[4], "text": text});
        for text in ["2", "201"] {
            let r = c.post(format!("{base}/sms/inbound")).bearer_auth(&sms_key).json(&sms(text)).send().await.unwrap();
            let v: serde_json::Value = r.json().await.unwrap();
            assert!(v["outcome"] == "rated" || v["outcome"] == "reasons_added", "{v}");
            assert!(!v.to_string().contains(new_phones[4]));
        }
        for (no, phone) in [("LOG-2", new_phones[2]), ("LOG-3", "13966667777")] {
            let m = serde_json::json!({"matter_no": no, "item_code": "61032701001", "unit_code": "LX-SCJ", "accepted_at": now, "completed_at": now,
                "applicant": {"kind": "person", "name": "吴十", "phone": phone}});
            assert_eq!(c.post(format!("{base}/matters")).bearer_auth(&system_key).json(&m).send().await.unwrap().status().as_u16(), 201);
        }
        let r = c.post(format!("{base}/hotline/ratings")).bearer_auth(&hotline_key)
            .json(&serde_json::json!({"call_id": "CALL-1", "caller_phone": new_phones[2], "key": 1, "reasons": ["106"]}))
            .send().await.unwrap();
        assert_eq!(r.status().as_u16(), 201);
        let r = c.post(format!("{base}/province/ratings")).bearer_auth(&province_key)
            .json(&serde_json::json!({"record_id": "SX-1", "matter_no": "LOG-3", "level": 2, "reasons": ["202"], "rated_at": now,
                "rater": {"name": "冯十二", "phone": new_phones[3]}}))
            .send().await.unwrap();
        assert_eq!(r.status().as_u16(), 201);
        // Let the notifier run over the new case.
        tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    });
    let _ = server.kill();
    let _ = server.wait();
    let logged = std::fs::read_to_string(&log_path).unwrap();
    assert!(logged.len() > 1_000, "trace logging was on: {}", logged.len());
    for p in personal
        .iter()
        .map(String::as_str)
        .chain(new_phones)
        .chain(["郑十一", "吴十", "冯十二", "11010519491231002X"])
        .filter(|p| p.len() >= 6)
    {
        assert!(!logged.contains(p), "{p} appears in the logs");
        assert!(!seed_out.contains(p), "{p} appears in the demo's output");
    }
    let mut raw = std::fs::read(dir.0.join("haochaping.db")).unwrap();
    raw.extend(std::fs::read(dir.0.join("haochaping.db-wal")).unwrap_or_default());
    for p in new_phones {
        assert!(!raw.windows(p.len()).any(|w| w == p.as_bytes()), "{p} is stored in plain text");
    }

    // Rotating the personal-data key: a second line in the key file, everything re-encrypted, still verifiable
    // and readable with the file.
    let (code, out, err) = run(&dir, &["keys", "rotate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ratings") && out.contains("ledger still intact"), "{out}");
    let lines = std::fs::read_to_string(dir.0.join("haochaping-secret.key")).unwrap();
    assert_eq!(lines.lines().count(), 2);
    assert!(dir.0.join("haochaping-secret.previous").exists());
    let (code, out, _) = run(&dir, &["verify"]);
    assert_eq!(code, 0, "{out}");
    let rotated = hcp_server::secrets::load(&dir.0.join("haochaping-secret.key")).unwrap();
    let first_only = hcp_storage::pii::Secrets::from_master(&hex::decode(lines.lines().next().unwrap()).unwrap()).unwrap();
    rt.block_on(async {
        let db = hcp_storage::Db::connect(&url).await.unwrap();
        let hcp_storage::Db::Sqlite(p) = &db else { unreachable!() };
        let names: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT applicant_name FROM matters").fetch_all(p).await.unwrap();
        assert!(names.len() >= 300);
        for (n,) in names {
            assert!(!rotated.is_stale(&n));
            first_only.decrypt(&n).unwrap();
        }
        // The invitations' phones too (the serve above invited LOG-S's applicant).
        let phones: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT phone FROM invitations").fetch_all(p).await.unwrap();
        assert!(!phones.is_empty());
        for (ph,) in phones {
            assert!(!rotated.is_stale(&ph));
            first_only.decrypt(&ph).unwrap();
        }
        db.close().await;
    });
}

#[test]
fn verify_names_the_first_tampered_record() {
    let dir = Dir(std::env::temp_dir().join(format!("hcp-tamper-{}", uuid::Uuid::new_v4().simple())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let (_hold, addr) = taken();
    let (_, out, err) = run(&dir, &["demo", "--matters", "60", "--listen", &addr]);
    assert!(out.contains("正在写入"), "{out}{err}");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = format!("sqlite://{}", dir.0.join("haochaping.db").display());
    let victim: i64 = rt.block_on(async {
        let db = hcp_storage::Db::connect(&url).await.unwrap();
        let hcp_storage::Db::Sqlite(p) = &db else { unreachable!() };
        sqlx::query("DROP TRIGGER ratings_no_update").execute(p).await.unwrap();
        let seq: i64 =
            sqlx::query_scalar("SELECT l.seq FROM ratings r JOIN ledger l ON l.ref_id = r.id WHERE r.level >= 3 ORDER BY l.seq LIMIT 1")
                .fetch_one(p)
                .await
                .unwrap();
        // A good review turned bad (a rating's level moved, on the record that counts).
        sqlx::query("UPDATE ratings SET level = 1 WHERE id = (SELECT ref_id FROM ledger WHERE seq = $1)")
            .bind(seq)
            .execute(p)
            .await
            .unwrap();
        db.close().await;
        seq
    });
    let (code, _, err) = run(&dir, &["verify"]);
    assert_eq!(code, 1);
    assert!(err.contains(&format!("第 {victim} 条")), "{err}");
}

#[test]
fn province_commands_for_the_operator() {
    let dir = Dir(std::env::temp_dir().join(format!("hcp-cli-{}", uuid::Uuid::new_v4().simple())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let (code, out, err) = run(&dir, &["province", "status"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ledger entries not yet planned: 0") && out.contains("last success: never"), "{out}");
    let (code, _, err) = run(&dir, &["province", "replay", "evaluation|LX001|x|1"]);
    assert_eq!(code, 2);
    assert!(err.contains("记录标识格式不正确"), "{err}");
    let (code, out, _) = run(&dir, &["province", "replay"]);
    assert_eq!(code, 0);
    assert!(out.contains("0 records queued again"), "{out}");
    // Nothing was sent: whatever the province lists is unknown here, and the command says so with exit 1.
    std::fs::write(dir.0.join("held.csv"), "op,projectNo,serviceNumber,assessNumber,stepNo\naddEvaluateService,LX001,0\n").unwrap();
    let (code, out, _) = run(&dir, &["province", "reconcile", "held.csv"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("held by the province, unknown here: 1") && out.contains("service|LX001|0"), "{out}");
    std::fs::write(dir.0.join("bad.csv"), "addEvaluate,LX001,zero,1\n").unwrap();
    let (code, _, err) = run(&dir, &["province", "reconcile", "bad.csv"]);
    assert_eq!(code, 2);
    assert!(err.contains("第 1 行无法识别"), "{err}");
    // A link half configured is refused at start, naming what is missing.
    let (code, _, err) = run(&dir, &["serve", "--listen", "127.0.0.1:0", "--province-url", "http://127.0.0.1:9"]);
    assert_eq!(code, 2);
    assert!(err.contains("--province-public-key"), "{err}");
}

#[test]
fn a_station_imports_its_spreadsheet_of_matters_saved_in_gbk() {
    let dir = Dir(std::env::temp_dir().join(format!("hcp-cli-{}", uuid::Uuid::new_v4().simple())));
    std::fs::create_dir_all(&dir.0).unwrap();
    // Master data saved by Excel on Chinese Windows: GBK, read as such.
    let (units, _, _) = encoding_rs::GBK.encode(
        "code,name,parent_code,kind,region_code,credit_code,hall_stationed\nLX,陇县人民政府,,county,610327,,0\nLX-CG,城关镇人民政府,LX,town,610327100,,0\nLX-CG-V1,东关社区便民服务站,LX-CG,village,610327100201,,0\n",
    );
    std::fs::write(dir.0.join("units.csv"), &units).unwrap();
    let (code, out, err) = run(&dir, &["import", "units", "units.csv"]);
    assert_eq!(code, 0, "{out}{err}");
    std::fs::write(dir.0.join("items.csv"), "code,name,item_type,owner_unit_code\n61032705043,残疾人两项补贴申领,05,LX\n").unwrap();
    assert_eq!(run(&dir, &["import", "items", "items.csv"]).0, 0);
    let (code, _, err) = run(
        &dir,
        &["users", "create", "--username", "dongguan", "--password", "Strong-pass-2026", "--role", "unit_handler", "--unit", "LX-CG-V1"],
    );
    assert_eq!(code, 0, "{err}");
    let sheet = "办件编号,事项编码,单位编码,申请人,受理时间,办结时间,承诺时限\nV1-001,61032705043,LX-CG-V1,王秀兰,2026-11-20 09:30,2026-11-20 10:00,10工作日\nV1-002,61032705043,LX-CG,李四,2026-11-21 09:30,,\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(sheet);
    std::fs::write(dir.0.join("办件.csv"), &gbk).unwrap();
    // Without an account to import as: told how, nothing imported.
    let (code, _, err) = run(&dir, &["import", "matters", "办件.csv"]);
    assert_eq!(code, 2);
    assert!(err.contains("--as"), "{err}");
    // As the station: its own matter is imported; the town's is refused by line, in Chinese (exit 1).
    let (code, out, _) = run(&dir, &["import", "matters", "办件.csv", "--as", "dongguan"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("imported 1 matters") && out.contains("1 refused") && out.contains("第 3 行"), "{out}");
}
