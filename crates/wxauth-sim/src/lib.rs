//! A WeChat server-API simulator, written from `docs/wechat-protocol.md` (the repository's protocol notes),
//! quirks included: success bodies without `errcode`, errors with HTTP 200, `text/plain` JSON from
//! `jscode2session`, single-use codes, stable versus plain access tokens, `qrscene_` prefixes,
//! safe-mode event encryption with 32-byte PKCS#7 blocks.
//!
//! One job: stand in for `api.weixin.qq.com`, `open.weixin.qq.com` and `mp.weixin.qq.com` in tests
//! and local stacks, and let tests steer it (fake users, codes, a movable clock, injected faults)
//! through [`SimState`] in-process or the `/__sim/` HTTP control API.
//!
//! Forbidden dependencies: no other wxauth crate. In particular the simulator must not share code
//! with the WeChat client (`wxauth-wechat`): both are written from the same document, so a
//! misreading on either side shows up as a failing test instead of being shared.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use wxauth_sim::{SimApp, SimConfig, Simulator, NewUser};
//! let sim = Simulator::spawn(SimConfig::default().with_app(SimApp::mini_program("wx1", "s1"))).await?;
//! let user = sim.state().create_user(NewUser::new("wx1")).expect("user");
//! let code = sim.state().login_code("wx1", &user.openid).expect("code");
//! // GET {base_url}/sns/jscode2session?appid=wx1&secret=s1&js_code={code}&grant_type=authorization_code
//! # let _ = (sim.base_url(), code);
//! sim.stop().await;
//! # Ok(()) }
//! ```

mod api;
mod clock;
mod config;
mod config_file;
mod control;
pub mod crypto;
mod error;
mod events;
mod faults;
mod ids;
mod mini_code;
mod phone;
mod qr_image;
mod server;
mod state;
mod stats;
mod store;
mod wx_error;

pub use config::{EventMode, SimApp, SimAppKind, SimConfig};
pub use config_file::SimFile;
pub use error::SimError;
pub use events::{Delivery, EventKind, EventReport, PushEvent, UrlCheckReport};
pub use faults::{Endpoint, Fault, FaultTarget};
pub use phone::SimPhone;
pub use server::{SimHandle, Simulator};
pub use state::{OAuthConsent, SimState, WxaCodeScan};
pub use stats::{SimStats, TokenFetches};
pub use store::users::{NewUser, SimUser};
