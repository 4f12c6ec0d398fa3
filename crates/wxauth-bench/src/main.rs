//! `wxauth-bench`: starts the simulator in-process and `wxauth-server` as a child process, then
//! measures new-user logins, returning logins, authenticated GETs and scan-login status polls
//! at a fixed concurrency, the server's memory idle and under load, and what holding scan-login
//! event streams open costs it, and the OpenID provider's endpoints: single-sign-on
//! authorizations, code-for-token exchanges, introspections, discovery and the JWK Set. In the
//! same run it measures the floor the
//! dependencies allow — the simulator alone answering `jscode2session`, and on PostgreSQL the
//! database alone running each scenario's statements (`pgbench`) — and prints wxauth's rate as
//! a fraction of it, which varies much less than the machine's speed does. Prints a summary
//! against the targets.
//!
//! Run it through `bench/run.sh`, which builds the release binaries first.

mod floor;
mod http1;
mod oidc;
mod traffic;

use std::borrow::Cow;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use hdrhistogram::Histogram;
use wxauth_sim::{NewUser, SimApp, SimConfig, SimHandle, SimState, Simulator};

use crate::http1::{Connection, contains, get_bearer, post_json};
use crate::traffic::Traffic;

const APPID: &str = "wxbenchminiprog01";
const SECRET: &str = "bench-secret";
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const JWT_SECRET: &str = "bench-jwt-secret-that-is-long-enough-0123456";

#[derive(Debug, Parser)]
#[command(name = "wxauth-bench")]
struct Args {
    /// The server binary (a release build).
    #[arg(long, default_value = "target/release/wxauth-server")]
    server_bin: PathBuf,
    /// `sqlite` for a fresh temporary file, or the URL of an empty PostgreSQL/MySQL database.
    #[arg(long, default_value = "sqlite")]
    database: String,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Logins of users who have never signed in.
    #[arg(long, default_value_t = 20_000)]
    new_users: usize,
    /// Logins of users who have an account.
    #[arg(long, default_value_t = 60_000)]
    returning: usize,
    /// Distinct returning users the logins cycle through.
    #[arg(long, default_value_t = 2_000)]
    returning_users: usize,
    /// Authenticated GETs of /api/v1/me.
    #[arg(long, default_value_t = 200_000)]
    gets: usize,
    /// Mini Program scan-logins started before the status polls (each draws a code).
    #[arg(long, default_value_t = 500)]
    qr_logins: usize,
    /// Status polls of those scan-logins.
    #[arg(long, default_value_t = 100_000)]
    qr_polls: usize,
    /// Event streams of scan-logins held open at once by the one server (0 skips it).
    #[arg(long, default_value_t = 10_000)]
    qr_streams: usize,
    /// OpenID code-for-token exchanges at /oidc/token, each of a code a signed-in browser's
    /// /oidc/authorize gave just before (those single-sign-on authorizations are measured too;
    /// 0 skips both).
    #[arg(long, default_value_t = 20_000)]
    oidc_codes: usize,
    /// Introspections of OpenID access tokens at /oidc/introspect (0 skips them).
    #[arg(long, default_value_t = 200_000)]
    introspections: usize,
    /// The OpenID scenarios' signing algorithm, `EdDSA` or `RS256`: the bench client's ID
    /// tokens, and the provider's first key (which signs access tokens). RS256 is every client's
    /// default; EdDSA is what a deployment that wants cheap tokens configures.
    #[arg(long, default_value = "EdDSA")]
    oidc_alg: String,
    /// GETs of the OpenID discovery document, and as many of the JWK Set (0 skips them). The
    /// provider is on when any of these three is.
    #[arg(long, default_value_t = 100_000)]
    discovery: usize,
    /// Seconds of returning logins at half the rate measured above, sent on a fixed schedule
    /// (0 skips it): what a stall costs shows as the maximum latency and the requests over
    /// 100 ms.
    #[arg(long, default_value_t = 0)]
    steady_seconds: u64,
    /// Where to write the results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Seconds each pgbench floor runs (PostgreSQL only; 0 skips them).
    #[arg(long, default_value_t = 8)]
    floor_seconds: u64,
}

struct Run {
    name: &'static str,
    requests: usize,
    errors: u64,
    elapsed: Duration,
    latency_us: Histogram<u64>,
    /// The server's traffic with its database during the run (PostgreSQL and MySQL).
    database: Option<Traffic>,
    /// What the run's [`Expect::keep`] took from the answers.
    kept: Vec<String>,
}

impl Run {
    /// Adds a later run of the same scenario to this one: its requests, errors, latencies,
    /// time and traffic.
    fn absorb(&mut self, other: Run) -> anyhow::Result<()> {
        self.requests += other.requests;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.latency_us.add(&other.latency_us)?;
        self.database = match (self.database, other.database) {
            (Some(a), Some(b)) => Some(a.plus(b)),
            (a, b) => a.or(b),
        };
        self.kept.extend(other.kept);
        Ok(())
    }

    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }

    /// Requests that took longer than `ms` milliseconds.
    fn over_ms(&self, ms: u64) -> u64 {
        self.latency_us.len() - self.latency_us.count_between(0, ms * 1000)
    }
}

/// Where a run's requests come from.
enum Requests {
    /// Made before the run.
    Ready(Vec<Vec<u8>>),
    /// `count` requests, cycling through these (made before the run).
    Cycle {
        requests: Vec<Vec<u8>>,
        count: usize,
    },
    /// Made by number just before each is sent: a WeChat code made minutes before would expire.
    Made { count: usize, make: MakeRequest },
}

type MakeRequest = Box<dyn Fn(usize) -> anyhow::Result<Vec<u8>> + Send + Sync>;

impl Requests {
    fn len(&self) -> usize {
        match self {
            Self::Ready(requests) => requests.len(),
            Self::Cycle { count, .. } | Self::Made { count, .. } => *count,
        }
    }

    fn get(&self, i: usize) -> anyhow::Result<Cow<'_, [u8]>> {
        match self {
            Self::Ready(requests) => Ok(Cow::Borrowed(&requests[i])),
            Self::Cycle { requests, .. } => requests
                .get(i % requests.len().max(1))
                .map(|request| Cow::Borrowed(request.as_slice()))
                .context("no requests to cycle through"),
            Self::Made { make, .. } => make(i).map(Cow::Owned),
        }
    }
}

/// What every answer of a run must be, and what the run keeps of each.
/// Takes a value from an answer's head (status line and headers) and body.
type Keep = fn(&str, &[u8]) -> Option<String>;

#[derive(Clone, Copy)]
struct Expect {
    status: u16,
    /// Text the body must contain.
    body: Option<&'static str>,
    /// Takes a value from an answer's head (status line and headers) and body, into
    /// [`Run::kept`]; an answer it finds nothing in is an error.
    keep: Option<Keep>,
}

impl Expect {
    /// `200 OK`, whatever the body.
    const OK: Self = Self {
        status: 200,
        body: None,
        keep: None,
    };
}

/// Fires all requests over `connections` keep-alive connections, as fast as they complete.
async fn load(
    addr: &str,
    name: &'static str,
    requests: Vec<Vec<u8>>,
    connections: usize,
) -> anyhow::Result<Run> {
    drive(
        addr,
        name,
        Requests::Ready(requests),
        connections,
        None,
        Expect::OK,
    )
    .await
}

/// Sends `requests` over `connections` keep-alive connections: each as soon as a connection is
/// free or, with an `interval`, on a fixed schedule, one every `interval`. On a schedule each
/// latency counts from the moment its request was due, not from when a connection came free to
/// send it, so a stall is counted for every request it delayed. An answer other than `expect`
/// counts as an error.
async fn drive(
    addr: &str,
    name: &'static str,
    requests: Requests,
    connections: usize,
    interval: Option<Duration>,
    expect: Expect,
) -> anyhow::Result<Run> {
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (requests, next, errors, addr) = (
            requests.clone(),
            next.clone(),
            errors.clone(),
            addr.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            let mut conn = Connection::open(&addr).await?;
            let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
            let mut kept = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests.len() {
                    break;
                }
                let t0 = match interval {
                    Some(interval) => {
                        let due = started + interval.mul_f64(i as f64);
                        tokio::time::sleep_until(due).await;
                        due
                    }
                    None => tokio::time::Instant::now(),
                };
                let request = requests.get(i)?;
                let (res, head) = match expect.keep {
                    Some(_) => conn.send_with_head(&request).await?,
                    None => (conn.send(&request).await?, String::new()),
                };
                hist.record(t0.elapsed().as_micros().max(1) as u64)?;
                let ok = res.status == expect.status
                    && expect
                        .body
                        .is_none_or(|text| contains(&res.body, text.as_bytes()))
                    && expect.keep.is_none_or(|keep| match keep(&head, &res.body) {
                        Some(value) => {
                            kept.push(value);
                            true
                        }
                        None => false,
                    });
                if !ok && errors.fetch_add(1, Ordering::Relaxed) < 3 {
                    eprintln!(
                        "{name}: HTTP {}: {}",
                        res.status,
                        String::from_utf8_lossy(&res.body)
                    );
                }
            }
            anyhow::Ok((hist, kept))
        }));
    }
    let mut latency_us = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut kept = Vec::new();
    for task in tasks {
        let (hist, values) = task.await??;
        latency_us.add(hist)?;
        kept.extend(values);
    }
    Ok(Run {
        name,
        requests: requests.len(),
        errors: errors.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        latency_us,
        database: None,
        kept,
    })
}

/// Logins of the first `users` returning users (signed in once already), `count` in all,
/// cycling through them, each with a fresh code.
fn returning_logins(
    state: &SimState,
    host: &str,
    users: usize,
    count: usize,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let per_user = count.div_ceil(users);
    let mut codes = Vec::with_capacity(users);
    for i in 0..users {
        let openid = format!("oBENCHRET{i:08}");
        codes.push(
            state
                .login_codes(APPID, &openid, per_user)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
    }
    let mut requests = Vec::with_capacity(count);
    'fill: for round in 0..per_user {
        for user_codes in &codes {
            if requests.len() == count {
                break 'fill;
            }
            requests.push(post_json(
                host,
                "/api/v1/miniprogram/login",
                &login_body(&user_codes[round]),
            ));
        }
    }
    Ok(requests)
}

/// [`load`] against the server, with its database traffic during the run.
async fn load_server(
    host: &str,
    name: &'static str,
    requests: Vec<Vec<u8>>,
    connections: usize,
    database: Option<(u32, u16)>,
) -> anyhow::Result<Run> {
    let requests = Requests::Ready(requests);
    load_server_with(host, name, requests, connections, database, Expect::OK).await
}

/// [`load_server`] with any [`Requests`] and answers other than `200 OK`.
async fn load_server_with(
    host: &str,
    name: &'static str,
    requests: Requests,
    connections: usize,
    database: Option<(u32, u16)>,
    expect: Expect,
) -> anyhow::Result<Run> {
    let before = database.and_then(|(pid, port)| Traffic::now(pid, port));
    let mut run = drive(host, name, requests, connections, None, expect).await?;
    if let (Some(before), Some((pid, port))) = (before, database) {
        run.database = Traffic::now(pid, port).map(|after| after.since(before));
    }
    Ok(run)
}

fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

struct Server {
    child: Child,
    addr: String,
    /// An admin API key, made when the OpenID provider is on (to register its client).
    admin_key: Option<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The server binary with the bench's configuration, the subcommand still to add: the
/// environment, and the OpenID provider's file (`--config`) when there is one.
fn server_command(
    args: &Args,
    sim: &SimHandle,
    addr: &str,
    database: &str,
    oidc_config: Option<&std::path::Path>,
) -> Command {
    let mut command = Command::new(&args.server_bin);
    if let Some(file) = oidc_config {
        command.arg("--config").arg(file);
    }
    command
        .env_clear()
        .env("WXAUTH__SERVER__LISTEN", addr)
        .env("WXAUTH__DATABASE__URL", database)
        .env(
            "WXAUTH__DATABASE__MAX_CONNECTIONS",
            std::env::var("WXAUTH_BENCH_POOL").unwrap_or_else(|_| "16".into()),
        )
        .env("WXAUTH__SECRETS__MASTER_KEY", MASTER_KEY)
        .env("WXAUTH__JWT__SECRET", JWT_SECRET)
        // The load comes from one IP: per-IP limits would measure the limiter.
        .env("WXAUTH__RATE_LIMITS__ENABLED", "false")
        // Room for the held event streams, all from this one address.
        .env("WXAUTH__SERVER__MAX_CONNECTIONS", "16384")
        .env("WXAUTH__SERVER__MAX_CONNECTIONS_PER_IP", "0")
        .env(
            "WXAUTH__LOG__LEVEL",
            std::env::var("WXAUTH_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .env("WXAUTH__WECHAT__API_BASE_URL", sim.base_url())
        // WeChat's OAuth pages (the OpenID sign-in inside WeChat) are the simulator's too.
        .env("WXAUTH__WECHAT__OPEN_BASE_URL", sim.base_url())
        .env("WXAUTH__AUTH__DEFAULT_APP", "bench")
        .env("WXAUTH__APPS__BENCH__KIND", "mini_program")
        .env("WXAUTH__APPS__BENCH__APPID", APPID)
        .env("WXAUTH__APPS__BENCH__SECRET", SECRET);
    if oidc_config.is_some() {
        // The Official Account the OpenID client signs in with inside WeChat
        // (`oidc::OA_KEY`).
        command
            .env("WXAUTH__APPS__BENCHOA__KIND", "official_account")
            .env("WXAUTH__APPS__BENCHOA__APPID", oidc::OA_APPID)
            .env("WXAUTH__APPS__BENCHOA__SECRET", oidc::OA_SECRET);
    }
    // Settings to try (`WXAUTH__SERVER__WORKERS=1 bash bench/run.sh`) override the above.
    command.envs(std::env::vars().filter(|(key, _)| key.starts_with("WXAUTH__")));
    command
}

/// A new admin API key, from the server's command line (`admin-keys create`).
fn create_admin_key(mut command: Command) -> anyhow::Result<String> {
    let output = command
        .args(["admin-keys", "create", "--name", "bench"])
        .output()
        .context("cannot run wxauth-server admin-keys create")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    // "admin key … created; it is shown only this once:", then the key on its own line.
    match stdout.lines().map(str::trim).rfind(|line| !line.is_empty()) {
        Some(key) if output.status.success() && key.starts_with("wxa_") => Ok(key.to_owned()),
        _ => bail!(
            "wxauth-server admin-keys create failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// Starts the server; with `provider`, as an OpenID provider too (issuer `http://<its
/// address>`, an RS256 key made for the run, the Official Account), with an admin key made for
/// it.
async fn start_server(
    args: &Args,
    sim: &SimHandle,
    dir: &std::path::Path,
    provider: bool,
) -> anyhow::Result<Server> {
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let database = if args.database == "sqlite" {
        format!("sqlite://{}/bench.db?mode=rwc", dir.display())
    } else {
        args.database.clone()
    };
    let oidc_config = if provider {
        let file = dir.join("oidc.toml");
        // OpenID Connect needs an RS256 key whatever else there is.
        let mut keys = vec![("RS256", oidc::generate_key(&args.server_bin, "rs256")?)];
        if args.oidc_alg == "EdDSA" {
            keys.insert(0, ("EdDSA", oidc::generate_key(&args.server_bin, "eddsa")?));
        }
        std::fs::write(&file, oidc::config_toml(&format!("http://{addr}"), &keys))?;
        Some(file)
    } else {
        None
    };
    // Made before the server starts: the command migrates the database first, as the server
    // would, and the server finds the key in it.
    let admin_key = match &oidc_config {
        Some(file) => Some(create_admin_key(server_command(
            args,
            sim,
            &addr,
            &database,
            Some(file.as_path()),
        ))?),
        None => None,
    };
    let log = std::fs::File::create(dir.join("server.log"))?;
    let child = server_command(args, sim, &addr, &database, oidc_config.as_deref())
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", args.server_bin.display()))?;
    let server = Server {
        child,
        addr,
        admin_key,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut conn) = Connection::open(&server.addr).await
            && let Ok(res) = conn
                .send(format!("GET /readyz HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr).as_bytes())
                .await
            && res.status == 200
        {
            return Ok(server);
        }
        if Instant::now() > deadline {
            bail!(
                "the server did not become ready; see {}",
                dir.join("server.log").display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn login_body(code: &str) -> String {
    format!("{{\"code\":\"{code}\"}}")
}

/// Creates `count` fake WeChat users (`<prefix><n>`) in the simulator and returns one login
/// request each: their first, which registers them.
fn first_logins(
    state: &SimState,
    host: &str,
    prefix: &str,
    count: usize,
) -> anyhow::Result<Vec<Vec<u8>>> {
    (0..count)
        .map(|i| {
            let openid = format!("{prefix}{i:08}");
            state
                .create_user(NewUser::new(APPID).openid(&openid))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let code = state
                .login_code(APPID, &openid)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(post_json(
                host,
                "/api/v1/miniprogram/login",
                &login_body(&code),
            ))
        })
        .collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let provider = args.oidc_codes > 0 || args.introspections > 0 || args.discovery > 0;
    let mut apps = vec![SimApp::mini_program(APPID, SECRET)];
    if provider {
        apps.push(SimApp::official_account(oidc::OA_APPID, oidc::OA_SECRET));
    }
    let sim = Simulator::spawn(SimConfig {
        workers: 1,
        rate_limits: false,
        apps,
        ..SimConfig::default()
    })
    .await?;
    let state = sim.state().clone();
    let server = start_server(&args, &sim, dir.path(), provider).await?;
    let pid = server.child.id();
    let host = server.addr.clone();
    let backend = args
        .database
        .split(':')
        .next()
        .unwrap_or("sqlite")
        .to_owned();
    eprintln!(
        "wxauth-bench: {backend}, server pid {pid} at {host}, simulator at {}",
        sim.base_url()
    );

    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_kb = rss_kb(pid, "VmRSS:");

    // Sample the server's memory while the load runs.
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(idle_kb));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kb(pid, "VmRSS:"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    let mut runs = Vec::new();
    let database = traffic::database_port(&args.database).map(|port| (pid, port));

    let sim_floor = {
        let sim_host = sim.base_url().trim_start_matches("http://").to_owned();
        let openid = "oBENCHSIM";
        state
            .create_user(NewUser::new(APPID).openid(openid))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let codes = state
            .login_codes(APPID, openid, 50_000)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let requests = codes
            .iter()
            .map(|code| {
                format!(
                    "GET /sns/jscode2session?appid={APPID}&secret={SECRET}&js_code={code}&grant_type=authorization_code HTTP/1.1\r\nHost: {sim_host}\r\n\r\n"
                )
                .into_bytes()
            })
            .collect();
        load(&sim_host, "simulator alone", requests, args.connections).await?
    };

    // The returning users sign in once first (not measured), so that every scenario runs on
    // tables that hold accounts.
    let users = args.returning_users.max(1);
    let warmup = first_logins(&state, &host, "oBENCHRET", users)?;
    let mut tokens = Vec::new();
    {
        let mut conn = Connection::open(&host).await?;
        for request in &warmup {
            let res = conn.send(request).await?;
            if tokens.len() < args.connections.max(1)
                && let Ok(body) = serde_json::from_slice::<serde_json::Value>(&res.body)
                && let Some(token) = body["accessToken"].as_str()
            {
                tokens.push(token.to_owned());
            }
        }
    }
    // Production's autovacuum analyses tables as they grow; this machine's PostgreSQL runs
    // without it, and a planner without statistics answers the batched reads with sequential
    // scans (authenticated GETs at about a third of their rate). Analyse as autovacuum would have.
    if backend == "postgres" {
        floor::analyze(&args.database)?;
    }

    // New users: each login creates an account.
    let requests = first_logins(&state, &host, "oBENCHNEW", args.new_users)?;
    runs.push(
        load_server(
            &host,
            "new-user logins",
            requests,
            args.connections,
            database,
        )
        .await?,
    );

    // Returning users: logins cycling through those signed in above.
    let requests = returning_logins(&state, &host, users, args.returning)?;
    runs.push(
        load_server(
            &host,
            "returning logins",
            requests,
            args.connections,
            database,
        )
        .await?,
    );

    // Authenticated GETs.
    if tokens.is_empty() {
        bail!("no access token from the warm-up logins");
    }
    let requests = (0..args.gets)
        .map(|i| get_bearer(&host, "/api/v1/me", &tokens[i % tokens.len()]))
        .collect();
    runs.push(
        load_server(
            &host,
            "authenticated GETs",
            requests,
            args.connections,
            database,
        )
        .await?,
    );

    // Scan-login status polls, spread over logins waiting for their scan.
    let login_ids = start_qr_logins(&host, args.qr_logins.max(1)).await?;
    let requests = (0..args.qr_polls)
        .map(|i| {
            let path = format!(
                "/api/v1/miniprogram/qr-logins/{}",
                login_ids[i % login_ids.len()]
            );
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
        })
        .collect();
    runs.push(
        load_server(
            &host,
            "scan-login polls",
            requests,
            args.connections,
            database,
        )
        .await?,
    );

    // The OpenID provider's endpoints.
    runs.extend(oidc_runs(&args, &state, &server, database).await?);

    // A steady rate, half the maximum measured above.
    let steady = if args.steady_seconds > 0 {
        let rate = runs
            .iter()
            .find(|r| r.name == "returning logins")
            .map_or(1.0, |r| r.rate() / 2.0);
        let count = (rate * args.steady_seconds as f64) as usize;
        let (state, login_host) = (state.clone(), host.clone());
        let make: MakeRequest = Box::new(move |i| {
            let openid = format!("oBENCHRET{:08}", i % users);
            let code = state
                .login_codes(APPID, &openid, 1)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .remove(0);
            Ok(post_json(
                &login_host,
                "/api/v1/miniprogram/login",
                &login_body(&code),
            ))
        });
        let requests = Requests::Made { count, make };
        let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
        let name = "steady returning logins";
        Some(
            drive(
                &host,
                name,
                requests,
                args.connections,
                Some(interval),
                Expect::OK,
            )
            .await?,
        )
    } else {
        None
    };

    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let peak_kb = peak.load(Ordering::Relaxed).max(rss_kb(pid, "VmHWM:"));
    let idle_after_kb = rss_kb(pid, "VmRSS:");

    // Event streams held open: what each costs the server in memory.
    let streams = if args.qr_streams > 0 {
        Some(hold_streams(&host, pid, &login_ids, args.qr_streams).await?)
    } else {
        None
    };

    // The database alone, on the rows wxauth just wrote, while wxauth idles.
    let mut db_floors = Vec::new();
    if backend == "postgres" && args.floor_seconds > 0 {
        // Of the scenarios that ran.
        for (name, script) in floor::SCENARIOS
            .into_iter()
            .filter(|(name, _)| runs.iter().any(|r| r.name == *name))
        {
            let floor = floor::pgbench(
                &args.database,
                dir.path(),
                name,
                script,
                args.connections,
                args.floor_seconds,
            )?;
            db_floors.push((name, floor.per_second));
        }
    }
    let floors: Vec<Floors> = runs
        .iter()
        .map(|r| {
            let db = db_floors
                .iter()
                .find(|(name, _)| *name == r.name)
                .map(|(_, rate)| *rate);
            // Logins need the simulator too; GETs and polls only the database.
            let sim = r.name.ends_with("logins").then(|| sim_floor.rate());
            Floors { sim, db }
        })
        .collect();

    print_summary(
        &backend,
        &args,
        &runs,
        &floors,
        steady.as_ref(),
        streams.as_ref(),
        &Memory {
            idle_kb,
            peak_kb,
            after_kb: idle_after_kb,
        },
    );
    if let Some(path) = &args.json {
        let results: Vec<_> = runs
            .iter()
            .zip(&floors)
            .map(|(r, f)| {
                serde_json::json!({
                    "scenario": r.name, "requests": r.requests, "errors": r.errors,
                    "per_second": r.rate().round(), "p50_ms": r.ms(0.5), "p99_ms": r.ms(0.99), "max_ms": r.ms(1.0),
                    "database_per_request": r.database.map(|t| serde_json::json!({
                        "sent_bytes": t.sent as f64 / r.requests as f64,
                        "received_bytes": t.received as f64 / r.requests as f64,
                        "writes": t.writes as f64 / r.requests as f64,
                    })),
                    "floor": {
                        "simulator_per_second": f.sim.map(f64::round),
                        "database_per_second": f.db.map(f64::round),
                        "fraction": f.fraction(r.rate()),
                    },
                })
            })
            .collect();
        let steady = steady.as_ref().map(|r| {
            serde_json::json!({
                "seconds": args.steady_seconds, "requests": r.requests, "errors": r.errors,
                "per_second": r.rate().round(), "p99_ms": r.ms(0.99), "max_ms": r.ms(1.0),
                "over_100_ms": r.over_ms(100),
            })
        });
        let doc = serde_json::json!({
            "database": backend, "connections": args.connections, "runs": results, "steady": steady,
            "memory_mb": { "idle": idle_kb as f64 / 1024.0, "peak": peak_kb as f64 / 1024.0 },
        });
        std::fs::write(path, serde_json::to_vec_pretty(&doc)?)?;
    }
    drop(server);
    sim.stop().await;
    if std::env::var_os("WXAUTH_BENCH_LOG").is_some() {
        std::fs::copy(dir.path().join("server.log"), "bench/results/server.log")?;
    }
    let failed: u64 = runs.iter().chain(&steady).map(|r| r.errors).sum();
    if failed > 0 {
        bail!("{failed} requests failed");
    }
    Ok(())
}

/// The OpenID provider's scenarios, each skipped at 0: single-sign-on authorizations and the
/// exchanges of their codes, introspections, discovery and the JWK Set.
async fn oidc_runs(
    args: &Args,
    state: &SimState,
    server: &Server,
    database: Option<(u32, u16)>,
) -> anyhow::Result<Vec<Run>> {
    let host = server.addr.as_str();
    let mut runs = Vec::new();
    if args.oidc_codes > 0 || args.introspections > 0 {
        let admin_key = server
            .admin_key
            .as_deref()
            .context("no admin key: the OpenID provider is off")?;
        let issuer = format!("http://{host}");
        // The client names the bench's Mini Program too, as a first-party client would.
        let rp =
            oidc::RelyingParty::set_up(state, host, &issuer, admin_key, "bench", &args.oidc_alg)
                .await?;

        // A code lives 60 s at most: each round has the signed-in browser draw codes at
        // /oidc/authorize, then redeems them all; the first round is small, the others last
        // about 20 s of the slower of the two, so no code is older than about 40 s.
        let authorize = rp.authorize(host);
        let (mut authorizations, mut exchanges) = (None, None);
        let (mut left, mut round) = (args.oidc_codes, 2_000);
        while left > 0 {
            let count = left.min(round);
            left -= count;
            let requests = Requests::Cycle {
                requests: vec![authorize.clone()],
                count,
            };
            let expect = Expect {
                status: 302,
                body: None,
                keep: Some(oidc::code_of),
            };
            let name = "SSO authorizations";
            let mut minted =
                load_server_with(host, name, requests, args.connections, database, expect).await?;
            let requests = std::mem::take(&mut minted.kept)
                .iter()
                .map(|code| rp.redeem(host, code))
                .collect();
            let expect = Expect {
                status: 200,
                body: Some("\"access_token\""),
                keep: None,
            };
            let requests = Requests::Ready(requests);
            let name = "code exchanges";
            let redeemed =
                load_server_with(host, name, requests, args.connections, database, expect).await?;
            round = ((20.0 * minted.rate().min(redeemed.rate())) as usize).clamp(1_000, 50_000);
            merge(&mut authorizations, minted)?;
            merge(&mut exchanges, redeemed)?;
        }
        runs.extend(authorizations);
        runs.extend(exchanges);

        if args.introspections > 0 {
            // A token per connection, each of its own grant (not timed).
            let tokens = rp.access_tokens(host, args.connections.max(1)).await?;
            let requests = tokens
                .iter()
                .map(|token| rp.introspect(host, token))
                .collect();
            let requests = Requests::Cycle {
                requests,
                count: args.introspections,
            };
            let expect = Expect {
                status: 200,
                body: Some("\"active\":true"),
                keep: None,
            };
            let name = "introspections";
            runs.push(
                load_server_with(host, name, requests, args.connections, database, expect).await?,
            );
        }
    }
    if args.discovery > 0 {
        for (name, path, body) in [
            (
                "OIDC discovery",
                "/.well-known/openid-configuration",
                "\"issuer\"",
            ),
            ("OIDC JWK Set", "/.well-known/jwks.json", "\"keys\""),
        ] {
            let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes();
            let requests = Requests::Cycle {
                requests: vec![request],
                count: args.discovery,
            };
            let expect = Expect {
                status: 200,
                body: Some(body),
                keep: None,
            };
            runs.push(
                load_server_with(host, name, requests, args.connections, database, expect).await?,
            );
        }
    }
    Ok(runs)
}

/// Adds `run` to `total` (the first run becomes it).
fn merge(total: &mut Option<Run>, run: Run) -> anyhow::Result<()> {
    match total.take() {
        Some(mut sum) => {
            sum.absorb(run)?;
            *total = Some(sum);
        }
        None => *total = Some(run),
    }
    Ok(())
}

/// The floors that bound one scenario.
struct Floors {
    /// The simulator alone answering `jscode2session`.
    sim: Option<f64>,
    /// The database alone running the scenario's statements.
    db: Option<f64>,
}

impl Floors {
    /// The lower floor: what the slowest dependency allows.
    fn rate(&self) -> Option<f64> {
        match (self.sim, self.db) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn fraction(&self, rate: f64) -> Option<f64> {
        self.rate()
            .map(|floor| (rate / floor * 100.0).round() / 100.0)
    }
}

/// Whether any of the runs is named one of `names`.
fn find_any(runs: &[Run], names: &[&str]) -> bool {
    runs.iter().any(|r| names.contains(&r.name))
}

/// The server's resident set: once ready, at its highest under load, and after the load.
struct Memory {
    idle_kb: u64,
    peak_kb: u64,
    after_kb: u64,
}

fn print_summary(
    backend: &str,
    args: &Args,
    runs: &[Run],
    floors: &[Floors],
    steady: Option<&Run>,
    streams: Option<&Streams>,
    memory: &Memory,
) {
    let Memory {
        idle_kb,
        peak_kb,
        after_kb: idle_after_kb,
    } = *memory;
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let _ = writeln!(
        o,
        "\nwxauth benchmark: {backend}, {} connections, {cpus} CPUs (server, simulator and load generator on one machine)\n",
        args.connections
    );
    let _ = writeln!(
        o,
        "{:<20} {:>9} {:>7} {:>9} {:>8} {:>8} {:>8} {:>10} {:>10} {:>9}",
        "scenario",
        "requests",
        "errors",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "sim alone",
        "db alone",
        "of floor"
    );
    let cell = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
    for (r, f) in runs.iter().zip(floors) {
        let _ = writeln!(
            o,
            "{:<20} {:>9} {:>7} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>10} {:>10} {:>9}",
            r.name,
            r.requests,
            r.errors,
            r.rate(),
            r.ms(0.5),
            r.ms(0.99),
            r.ms(1.0),
            cell(f.sim),
            cell(f.db),
            f.fraction(r.rate())
                .map_or_else(|| "-".to_owned(), |x| format!("{:.0} %", x * 100.0)),
        );
    }
    let _ = writeln!(
        o,
        "\nfloors: the simulator alone (jscode2session) and, on PostgreSQL, the database alone \
         running the scenario's statements (pgbench); \"of floor\" is wxauth over the lower one"
    );
    if find_any(runs, &["SSO authorizations", "code exchanges"]) {
        let _ = writeln!(
            o,
            "OpenID: SSO authorizations are /oidc/authorize in a browser signed in once through \
             WeChat, each answering a code; code exchanges redeem those codes at /oidc/token \
             (in rounds: a code lives 60 s); ID and access tokens signed with {}",
            args.oidc_alg
        );
    }
    if runs.iter().any(|r| r.database.is_some()) {
        let _ = writeln!(
            o,
            "\ndatabase traffic per request (the server's connections, from the kernel's counters)\n{:<20} {:>10} {:>14} {:>8}",
            "scenario", "sent B", "received B", "writes"
        );
        for r in runs {
            if let Some(t) = r.database {
                let per = |v: u64| v as f64 / r.requests.max(1) as f64;
                let _ = writeln!(
                    o,
                    "{:<20} {:>10.0} {:>14.0} {:>8.2}",
                    r.name,
                    per(t.sent),
                    per(t.received),
                    per(t.writes)
                );
            }
        }
    }
    if let Some(r) = steady {
        let _ = writeln!(
            o,
            "\nsteady rate: {} returning logins at {:.0}/s (half the maximum) over {} s, each timed \
             from when it was due: p99 {:.2} ms, max {:.2} ms, {} over 100 ms, {} errors",
            r.requests,
            r.rate(),
            args.steady_seconds,
            r.ms(0.99),
            r.ms(1.0),
            r.over_ms(100),
            r.errors
        );
    }
    let mb = |kb: u64| kb as f64 / 1024.0;
    if let Some(st) = streams {
        let _ = writeln!(
            o,
            "\nscan-login event streams: {} open at once (each with its first event) in {:.1} s, \
             server RSS {:.1} MB with them open ({:.1} MB before), {:.2} KB per stream",
            st.open,
            st.opened_in.as_secs_f64(),
            mb(st.rss_kb),
            mb(st.before_kb),
            st.rss_kb.saturating_sub(st.before_kb) as f64 / st.open.max(1) as f64
        );
    }
    let _ = writeln!(
        o,
        "\nserver memory (RSS): idle {:.1} MB, peak under load {:.1} MB, after load {:.1} MB",
        mb(idle_kb),
        mb(peak_kb),
        mb(idle_after_kb)
    );
    let find = |name: &str| runs.iter().find(|r| r.name == name);
    let returning_target = if backend == "sqlite" {
        5_000.0
    } else {
        3_000.0
    };
    let mut checks = Vec::new();
    if let Some(r) = find("returning logins") {
        checks.push((
            format!("returning logins >= {returning_target:.0}/s"),
            r.rate() >= returning_target,
        ));
        checks.push((
            "returning-login p99 <= 25 ms".to_owned(),
            r.ms(0.99) <= 25.0,
        ));
    }
    if let Some(r) = find("new-user logins") {
        checks.push(("new users >= 2000/s".to_owned(), r.rate() >= 2_000.0));
    }
    if let Some(r) = find("authenticated GETs") {
        let target = if backend == "sqlite" {
            20_000.0
        } else {
            15_000.0
        };
        checks.push((
            format!("authenticated GETs >= {target:.0}/s"),
            r.rate() >= target,
        ));
    }
    for (r, f) in runs.iter().zip(floors) {
        if let Some(fraction) = f.fraction(r.rate()).filter(|_| f.db.is_some()) {
            checks.push((format!("{} >= 60 % of the floor", r.name), fraction >= 0.6));
        }
    }
    if let Some(r) = steady {
        checks.push((
            "steady rate: no request over 100 ms".to_owned(),
            r.over_ms(100) == 0,
        ));
    }
    if let Some(r) = find("scan-login polls") {
        checks.push(("scan-login polls >= 5000/s".to_owned(), r.rate() >= 5_000.0));
    }
    for (name, target) in [
        ("code exchanges", 3_000.0),
        ("introspections", 20_000.0),
        ("OIDC discovery", 30_000.0),
        ("OIDC JWK Set", 30_000.0),
    ] {
        if let Some(r) = find(name) {
            checks.push((format!("{name} >= {target:.0}/s"), r.rate() >= target));
            checks.push((format!("{name} p99 <= 25 ms"), r.ms(0.99) <= 25.0));
        }
    }
    if let Some(st) = streams {
        checks.push((
            format!("{} event streams open at <= 64 MB", args.qr_streams),
            st.open == args.qr_streams && mb(st.rss_kb) <= 64.0,
        ));
    }
    checks.push(("idle memory <= 20 MB".to_owned(), mb(idle_kb) <= 20.0));
    checks.push(("memory under load <= 64 MB".to_owned(), mb(peak_kb) <= 64.0));
    let _ = writeln!(o, "\ntargets:");
    for (name, ok) in checks {
        let _ = writeln!(o, "  [{}] {name}", if ok { "met" } else { "MISSED" });
    }
}

/// Starts `count` Mini Program scan-logins (each draws a code at the simulator); their ids.
async fn start_qr_logins(host: &str, count: usize) -> anyhow::Result<Vec<String>> {
    let mut conn = Connection::open(host).await?;
    let request = post_json(host, "/api/v1/miniprogram/qr-logins", "{}");
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        let res = conn.send(&request).await?;
        let body: serde_json::Value = serde_json::from_slice(&res.body)
            .with_context(|| format!("scan-login start: HTTP {}", res.status))?;
        let id = body["loginId"]
            .as_str()
            .with_context(|| format!("scan-login start: {body}"))?;
        ids.push(id.to_owned());
    }
    Ok(ids)
}

/// What holding event streams open cost.
struct Streams {
    open: usize,
    opened_in: Duration,
    before_kb: u64,
    rss_kb: u64,
}

/// Opens `count` event streams over the logins, each its own connection, waits for every
/// first event, and reads the server's memory with all of them open.
async fn hold_streams(
    host: &str,
    pid: u32,
    login_ids: &[String],
    count: usize,
) -> anyhow::Result<Streams> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let before_kb = rss_kb(pid, "VmRSS:");
    let started = Instant::now();
    let mut open = Vec::with_capacity(count);
    // A few hundred at a time: the accept queue is finite.
    for chunk in (0..count).collect::<Vec<_>>().chunks(256) {
        let mut opening = Vec::with_capacity(chunk.len());
        for &i in chunk {
            let request = format!(
                "GET /api/v1/miniprogram/qr-logins/{} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n",
                login_ids[i % login_ids.len()]
            );
            let host = host.to_owned();
            opening.push(tokio::spawn(async move {
                let mut stream = tokio::net::TcpStream::connect(&host).await?;
                stream.write_all(request.as_bytes()).await?;
                let mut buf = vec![0u8; 1024];
                let mut filled = 0;
                // Until the first event has arrived in full.
                while !buf[..filled].windows(3).any(|w| w == b"}\n\n") {
                    if filled == buf.len() {
                        bail!("the first event is larger than 1 KB");
                    }
                    let n = stream.read(&mut buf[filled..]).await?;
                    if n == 0 {
                        bail!("the stream closed before its first event");
                    }
                    filled += n;
                }
                anyhow::Ok(stream)
            }));
        }
        for task in opening {
            open.push(task.await??);
        }
    }
    let opened_in = started.elapsed();
    // Long enough for the allocator to hand back what the openings freed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_kb = rss_kb(pid, "VmRSS:");
    let streams = Streams {
        open: open.len(),
        opened_in,
        before_kb,
        rss_kb,
    };
    drop(open);
    Ok(streams)
}
