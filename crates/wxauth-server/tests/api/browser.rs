//! The demo page in a real browser: headless Chromium, driven through ChromeDriver (WebDriver),
//! signs in with web OAuth and with scan-to-login against the server and the simulator.
//!
//! Needs Debian's `chromium` and `chromedriver` (`.ci/browser-deps` installs them). Without them
//! the tests say so and return, except in CI (`CI` set), where they fail.

use std::future::Future;
use std::net::TcpListener;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use wxauth_sim::{NewUser, OAuthConsent};
use wxauth_testkit::{Apps, Backend, TestApp, TestOptions};

use crate::admin::admin;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The longest any one step may take: starting the browser, loading a page, signing in.
const WAIT: Duration = Duration::from_secs(15);
/// How often a wait looks at the page again.
const POLL: Duration = Duration::from_millis(100);

/// Whether the browser and its driver are installed. In CI they must be.
fn browser_installed() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} missing: CI installs chromium and chromedriver (.ci/browser-deps), so the browser \
         tests may not be skipped there",
        missing.join(" and ")
    );
    eprintln!(
        "skipping the browser test: {} not installed (run .ci/browser-deps)",
        missing.join(" and ")
    );
    false
}

/// The ChromeDriver process; killed when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Chromium session and the ChromeDriver that runs it. [`Browser::close`] ends the session
/// properly; dropping it without (a failed start) kills ChromeDriver and Chromium, which
/// ChromeDriver would otherwise leave running when it is killed itself.
struct Browser {
    client: Option<Client>,
    /// Chromium's browser process, as ChromeDriver reports it.
    chromium_pid: Option<u32>,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        let profile = tempfile::Builder::new()
            .prefix("wxauth-chromium-")
            .tempdir()
            .expect("a temporary Chromium profile");
        let (driver, port) = start_driver().await;
        let mut browser = Browser {
            client: None,
            chromium_pid: None,
            _driver: driver,
            _profile: profile,
        };
        let Value::Object(capabilities) = json!({
            "browserName": "chrome",
            "timeouts": { "implicit": 0, "pageLoad": WAIT.as_millis(), "script": 5_000 },
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    // This machine has no network: without these Chromium's own background
                    // connections are refused and get in the way.
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    format!("--user-data-dir={}", browser._profile.path().display()),
                ],
            },
        }) else {
            unreachable!("capabilities are an object")
        };
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let client = within(
            "opening a Chromium session",
            builder.connect(&format!("http://127.0.0.1:{port}")),
        )
        .await;
        browser.chromium_pid = client
            .capabilities()
            .and_then(|c| c.get("goog:processID"))
            .and_then(Value::as_u64)
            .and_then(|pid| u32::try_from(pid).ok());
        browser.client = Some(client);
        browser
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("the session is open")
    }

    /// Ends the session (ChromeDriver quits Chromium); `Drop` then stops ChromeDriver and kills
    /// whatever is left.
    async fn close(mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        match tokio::time::timeout(WAIT, client.close()).await {
            Ok(Ok(())) => {
                if let Some(pid) = self.chromium_pid {
                    let deadline = Instant::now() + Duration::from_secs(5);
                    while chromium_runs(pid) && Instant::now() < deadline {
                        tokio::time::sleep(POLL).await;
                    }
                }
            }
            Ok(Err(e)) => eprintln!("closing the browser session failed ({e}): killing it"),
            Err(_) => eprintln!("closing the browser session took over {WAIT:?}: killing it"),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(pid) = self.chromium_pid
            && chromium_runs(pid)
        {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(2);
            while chromium_runs(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Then `driver` is killed and the profile removed.
    }
}

/// Whether `pid` is still a running Chromium (and not a process that got its number since).
fn chromium_runs(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| cmdline.windows(5).any(|w| w == b"chrom"))
}

/// Starts ChromeDriver on a free port and waits until it is ready. Another process may take
/// the port between picking and binding it, which makes ChromeDriver exit: then another port.
async fn start_driver() -> (Driver, u16) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let mut exits = Vec::new();
    for _ in 0..3 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut driver = Driver(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting chromedriver"),
        );
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = driver.0.try_wait().expect("chromedriver's state") {
                exits.push(status);
                break;
            }
            let ready = http
                .get(format!("http://127.0.0.1:{port}/status"))
                .send()
                .await
                .ok();
            if let Some(res) = ready
                && let Ok(status) = res.json::<Value>().await
                && status["value"]["ready"] == true
            {
                return (driver, port);
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver was not ready within {WAIT:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }
    panic!("chromedriver would not start: it exited with {exits:?}");
}

/// Starts the app (SQLite: the browser tests are about the page, not the database) and the
/// browser, runs `test`, then closes the session and shuts the app down whether or not `test`
/// failed; a failure is raised after that.
async fn in_browser(test: impl AsyncFnOnce(&TestApp, &Client)) {
    in_browser_with(TestOptions::default(), test).await;
}

/// [`in_browser`] with the app's options.
pub(crate) async fn in_browser_with(
    options: TestOptions,
    test: impl AsyncFnOnce(&TestApp, &Client),
) {
    if !browser_installed() {
        return;
    }
    let (browser, app) = tokio::join!(Browser::start(), TestApp::spawn(Backend::Sqlite, options));
    let outcome = AssertUnwindSafe(test(&app, browser.client()))
        .catch_unwind()
        .await;
    browser.close().await;
    app.shutdown().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// One WebDriver step with a deadline; an error or a timeout fails the test, naming the step.
pub(crate) async fn within<T, E: std::fmt::Display>(
    what: &str,
    step: impl Future<Output = Result<T, E>>,
) -> T {
    match tokio::time::timeout(WAIT, step).await {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => panic!("{what}: {e}"),
        Err(_) => panic!("{what}: no answer within {WAIT:?}"),
    }
}

/// Evaluates the JavaScript expression `check` in the page every [`POLL`] until it is truthy,
/// and returns its value. Fails at once when the page shows an error (`data-error` on
/// `<body>`), and after [`WAIT`] otherwise, with what the page shows. Errors while the page
/// navigates are retried.
pub(crate) async fn wait_until(browser: &Client, what: &str, check: &str) -> Value {
    let script = format!(
        "const error = document.body && document.body.dataset.error;
         if (error) return {{ error }};
         const value = ({check});
         return value ? {{ value }} : null;"
    );
    let deadline = Instant::now() + WAIT;
    let mut last;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left.max(POLL), browser.execute(&script, Vec::new())).await {
            Ok(Ok(Value::Null)) => last = "not yet".into(),
            Ok(Ok(found)) => {
                if let Some(error) = found.get("error") {
                    panic!(
                        "waiting for {what}, the page failed: {error}; {}",
                        describe(browser).await
                    );
                }
                return found["value"].clone();
            }
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = "the page did not answer".into(),
        }
        if Instant::now() >= deadline {
            panic!(
                "no {what} within {WAIT:?} (last check: {last}); {}",
                describe(browser).await
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Where the page is and what its status lines say, for failure messages.
async fn describe(browser: &Client) -> String {
    let script = "const text = id => { const e = document.getElementById(id); return e ? e.textContent : null; };
        return { url: location.href, oauthStatus: text('oauth-status'), qrStatus: text('qr-status'),
                 signedIn: (document.body && document.body.dataset.signedIn) || null };";
    match tokio::time::timeout(Duration::from_secs(2), browser.execute(script, Vec::new())).await {
        Ok(Ok(page)) => format!("the page: {page}"),
        Ok(Err(e)) => format!("the page cannot be read: {e}"),
        Err(_) => "the page does not answer".into(),
    }
}

async fn click(browser: &Client, id: &str) {
    within(&format!("clicking #{id}"), async {
        browser.find(Locator::Id(id)).await?.click().await
    })
    .await;
}

/// The element's text as rendered (empty when hidden).
async fn text(browser: &Client, id: &str) -> String {
    within(&format!("reading #{id}"), async {
        browser.find(Locator::Id(id)).await?.text().await
    })
    .await
}

/// Lets the `oa` app's OAuth come back to this server's demo page. The testkit allows only
/// `Apps::FRONTEND`, and this server's port is known only once it runs, so the rule is added
/// through the admin API. PUT replaces the definition: every field is sent back as it is, the
/// allow-list with the demo page added; the write-only secrets, omitted, keep their values.
async fn allow_demo_page(app: &TestApp, key: &str) {
    let res = admin(
        app,
        key,
        reqwest::Method::GET,
        "/api/v1/admin/apps/oa",
        None,
    )
    .await;
    assert_eq!(res.status(), 200);
    let current: Value = res.json().await.unwrap();
    let mut put = serde_json::Map::new();
    for field in [
        "kind",
        "name",
        "appid",
        "registration",
        "apiBaseUrl",
        "openBaseUrl",
        "mpBaseUrl",
        "enabled",
    ] {
        put.insert(field.into(), current[field].clone());
    }
    let demo = app.url("/demo/");
    let mut allowed = current["redirectAllowList"].as_array().unwrap().clone();
    allowed.push(json!(demo));
    put.insert("redirectAllowList".into(), Value::Array(allowed));
    let res = admin(
        app,
        key,
        reqwest::Method::PUT,
        "/api/v1/admin/apps/oa",
        Some(Value::Object(put)),
    )
    .await;
    assert_eq!(res.status(), 200);
    let saved: Value = res.json().await.unwrap();
    assert_eq!(saved["redirectAllowList"], json!([Apps::FRONTEND, demo]));
    assert_eq!(saved["appid"], Apps::OA_APPID);
    assert_eq!(saved["eventTokenSet"], true, "the secrets stay: {saved}");
    assert_eq!(
        saved["encodingAesKeySet"], true,
        "the secrets stay: {saved}"
    );
}

/// Asserts, through the admin API, that the user `id` exists and signs in to `oa` as `openid`;
/// returns the account.
async fn assert_oa_account(app: &TestApp, key: &str, id: &str, openid: &str) -> Value {
    let res = admin(
        app,
        key,
        reqwest::Method::GET,
        &format!("/api/v1/admin/users/{id}"),
        None,
    )
    .await;
    assert_eq!(res.status(), 200, "the user {id} the page shows");
    let account: Value = res.json().await.unwrap();
    assert_eq!(account["user"]["id"], id);
    let identities = account["identities"].as_array().unwrap();
    assert!(
        identities.iter().any(|i| i["app"] == Apps::OA
            && i["kind"] == "official_account"
            && i["openid"] == openid),
        "{account}"
    );
    account
}

#[tokio::test]
async fn logging_in_with_wechat_on_the_demo_page_comes_back_signed_in() {
    in_browser(async |app, browser| {
        let key = app.admin_key().await;
        allow_demo_page(app, &key).await;
        let sim = app.sim.state();
        let openid = sim
            .create_user(NewUser::new(Apps::OA_APPID).nickname("Browser Tester"))
            .unwrap()
            .openid;
        // WeChat's authorize page approves at once, as this user.
        sim.set_consent(
            Apps::OA_APPID,
            OAuthConsent::Approve {
                openid: openid.clone(),
            },
        )
        .unwrap();

        within(
            "opening the demo page",
            browser.goto(&app.url("/demo/?app=oa")),
        )
        .await;
        assert_eq!(text(browser, "app").await, "oa");
        click(browser, "oauth").await;
        let id = wait_until(
            browser,
            "sign-in back from WeChat",
            "document.body && document.body.dataset.signedIn",
        )
        .await;
        let id = id.as_str().unwrap();

        let url = within("reading the URL", browser.current_url()).await;
        assert_eq!(url.path(), "/demo/callback", "{url}");
        assert!(url.query_pairs().any(|(k, _)| k == "code"), "{url}");
        assert_eq!(text(browser, "user-id").await, id);
        assert_eq!(text(browser, "user-name").await, "(Browser Tester)");
        assert_eq!(
            text(browser, "oauth-status").await,
            format!("signed in; would now go to {}", app.url("/demo/"))
        );

        let account = assert_oa_account(app, &key, id, &openid).await;
        assert_eq!(account["user"]["nickname"], "Browser Tester");
    })
    .await;
}

#[tokio::test]
async fn scanning_the_demo_pages_qr_code_signs_the_page_in() {
    in_browser(async |app, browser| {
        within(
            "opening the demo page",
            browser.goto(&app.url("/demo/?app=oa")),
        )
        .await;
        click(browser, "qr-start").await;
        // The ticket is shown and the QR code, a PNG from WeChat's (the simulator's)
        // showqrcode, has loaded.
        let ticket = wait_until(
            browser,
            "the QR code",
            "(() => {
                const img = document.getElementById('qr');
                const ticket = document.getElementById('qr-ticket').textContent;
                return ticket && img.complete && img.naturalWidth > 0 ? ticket : null;
            })()",
        )
        .await;
        let ticket = ticket.as_str().unwrap();
        assert!(text(browser, "qr-login-id").await.starts_with("ql_"));
        assert_eq!(text(browser, "qr-status").await, "waiting for a scan…");

        let scanner = app
            .sim
            .state()
            .create_user(NewUser::new(Apps::OA_APPID))
            .unwrap()
            .openid;
        let report = within(
            "scanning the QR code",
            app.sim.state().scan(ticket, &scanner),
        )
        .await;
        assert!(report.delivery.delivered, "{report:?}");

        let id = wait_until(
            browser,
            "sign-in after the scan",
            "document.body && document.body.dataset.signedIn",
        )
        .await;
        let id = id.as_str().unwrap();
        assert_eq!(text(browser, "qr-status").await, "signed in");
        assert_eq!(text(browser, "user-id").await, id);

        let key = app.admin_key().await;
        assert_oa_account(app, &key, id, &scanner).await;
    })
    .await;
}

#[tokio::test]
async fn scanning_the_demo_pages_mini_program_code_and_confirming_signs_the_page_in() {
    in_browser(async |app, browser| {
        within("opening the demo page", browser.goto(&app.url("/demo/"))).await;
        click(browser, "mpqr-start").await;
        // The code, a PNG the simulator drew for getwxacodeunlimit, served by wxauth, has loaded.
        let src = wait_until(
            browser,
            "the Mini Program code",
            "(() => {
                const img = document.getElementById('mpqr');
                return img.complete && img.naturalWidth > 0 ? img.src : null;
            })()",
        )
        .await;
        assert!(text(browser, "mpqr-login-id").await.starts_with("mql_"));
        assert_eq!(text(browser, "mpqr-status").await, "waiting for a scan…");

        // The phone: WeChat scans the image the page shows and opens the Mini Program, which
        // reports the scan with a fresh wx.login code and, once the user agrees, confirms.
        let openid = app.new_mp_user();
        let image = app
            .client
            .get(src.as_str().unwrap())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let opened = app.sim.state().scan_wxacode_image(&openid, &image).unwrap();
        let scanned: Value = app
            .post(
                "/api/v1/miniprogram/qr-logins/scan",
                serde_json::json!({ "scene": opened.scene, "code": opened.code }),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(scanned["request"]["ip"], "127.0.0.1", "{scanned}");
        wait_until(
            browser,
            "the page to see the scan",
            "document.getElementById('mpqr-status').textContent.startsWith('scanned') || null",
        )
        .await;
        let res = app
            .post_auth(
                "/api/v1/miniprogram/qr-logins/confirm",
                scanned["confirmToken"].as_str().unwrap(),
                serde_json::json!({ "scene": opened.scene }),
            )
            .await;
        assert_eq!(res.status(), 200);

        let id = wait_until(
            browser,
            "sign-in after the confirmation",
            "document.body && document.body.dataset.signedIn",
        )
        .await;
        let id = id.as_str().unwrap();
        assert_eq!(text(browser, "mpqr-status").await, "signed in");

        let key = app.admin_key().await;
        let res = admin(
            app,
            &key,
            reqwest::Method::GET,
            &format!("/api/v1/admin/users/{id}"),
            None,
        )
        .await;
        let account: Value = res.json().await.unwrap();
        let identities = account["identities"].as_array().unwrap();
        assert!(
            identities
                .iter()
                .any(|i| i["app"] == Apps::MP && i["openid"] == openid),
            "{account}"
        );
    })
    .await;
}
