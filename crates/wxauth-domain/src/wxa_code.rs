//! How a Mini Program draws the code of a web scan-login (WeChat's `getwxacodeunlimit`): which
//! page the code opens, in which build, and whether WeChat checks that the page exists.

use std::fmt;
use std::str::FromStr;

use crate::ValidationError;

/// Which build of the Mini Program a code opens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum MiniProgramEnv {
    #[default]
    Release,
    Trial,
    Develop,
}

impl MiniProgramEnv {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Release => "release",
            Self::Trial => "trial",
            Self::Develop => "develop",
        }
    }
}

impl fmt::Display for MiniProgramEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MiniProgramEnv {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "release" => Ok(Self::Release),
            "trial" => Ok(Self::Trial),
            "develop" => Ok(Self::Develop),
            _ => Err(ValidationError::new(
                "qrLogin.envVersion",
                "must be one of release, trial, develop",
            )),
        }
    }
}

/// A Mini Program page path as WeChat wants it in a code: `pages/login/index`, no leading `/`
/// and no query (parameters travel in the scene).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiniProgramPage(String);

impl MiniProgramPage {
    pub const MAX_CHARS: usize = 128;

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let field = "qrLogin.page";
        if s.is_empty() || s.len() > Self::MAX_CHARS {
            return Err(ValidationError::new(field, "must be 1 to 128 characters"));
        }
        if s.starts_with('/') {
            return Err(ValidationError::new(field, "must not start with /"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '.');
        if !s.chars().all(allowed) {
            return Err(ValidationError::new(
                field,
                "may only contain letters, digits and / _ - . (parameters go in the scene)",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MiniProgramPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The code a Mini Program shows for web scan-login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiniProgramCode {
    /// The page the code opens; the home page when `None`.
    pub page: Option<MiniProgramPage>,
    pub env_version: MiniProgramEnv,
    /// Whether WeChat refuses a page the published version does not have. Off only while the
    /// page is not released yet.
    pub check_path: bool,
}

impl Default for MiniProgramCode {
    /// WeChat's defaults: the release build's home page, path checked.
    fn default() -> Self {
        Self {
            page: None,
            env_version: MiniProgramEnv::Release,
            check_path: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_relative_paths_without_parameters() {
        assert_eq!(
            MiniProgramPage::parse("pages/login/index")
                .unwrap()
                .as_str(),
            "pages/login/index"
        );
        for bad in [
            "",
            "/pages/login/index",
            "pages/login?x=1",
            "pages/登录",
            "a b",
        ] {
            let e = MiniProgramPage::parse(bad).unwrap_err();
            assert_eq!(e.field, "qrLogin.page", "{bad}");
        }
        assert!(MiniProgramPage::parse(&"p".repeat(129)).is_err());
    }

    #[test]
    fn env_versions_round_trip_through_their_names() {
        for env in [
            MiniProgramEnv::Release,
            MiniProgramEnv::Trial,
            MiniProgramEnv::Develop,
        ] {
            assert_eq!(env.as_str().parse::<MiniProgramEnv>().unwrap(), env);
        }
        assert!("beta".parse::<MiniProgramEnv>().is_err());
    }

    #[test]
    fn the_default_code_is_wechats_default() {
        let code = MiniProgramCode::default();
        assert_eq!(code.page, None);
        assert_eq!(code.env_version, MiniProgramEnv::Release);
        assert!(code.check_path);
    }
}
