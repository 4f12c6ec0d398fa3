//! The user's phone number from a `getPhoneNumber` button code.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use wxauth_domain::{OpenId, WechatAppId};

use crate::api::{non_empty, token_text};
use crate::client::AppClient;
use crate::error::WechatError;
use crate::lenient;
use crate::transport::Call;

/// The phone number WeChat vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PhoneInfo {
    /// With the country code for non-mainland numbers (`+1...`).
    #[serde(rename = "phoneNumber")]
    pub phone_number: String,
    /// Without any country code.
    #[serde(rename = "purePhoneNumber")]
    pub pure_phone_number: String,
    /// A string in WeChat's examples; some clients see a number. Always text here.
    #[serde(rename = "countryCode", deserialize_with = "lenient::string_or_number")]
    pub country_code: String,
    pub watermark: PhoneWatermark,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PhoneWatermark {
    pub timestamp: i64,
    pub appid: WechatAppId,
}

#[derive(Deserialize)]
struct PhoneAnswer {
    phone_info: PhoneInfo,
}

#[derive(Serialize)]
struct PhoneBody<'a> {
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    openid: Option<&'a str>,
}

impl AppClient {
    /// Exchanges a phone code (from the button's `e.detail.code`, not a `wx.login` code;
    /// single-use, 5 minutes). With `openid`, WeChat also checks that the code is that user's.
    pub async fn phone_number(
        &self,
        access_token: &SecretString,
        code: &str,
        openid: Option<&OpenId>,
    ) -> Result<PhoneInfo, WechatError> {
        let body = PhoneBody {
            code: non_empty("code", code)?,
            openid: openid.map(OpenId::as_str),
        };
        let call = Call::post_json(
            "/wxa/business/getuserphonenumber",
            vec![("access_token", token_text(access_token)?)],
            &body,
        )?;
        let answer: PhoneAnswer = self.call_json(&call).await?;
        Ok(answer.phone_info)
    }
}
