//! The pepper's versions, read from SSM Parameter Store once per cold start: the only call
//! keygate makes outside its table.

use aws_sdk_ssm::config::{BehaviorVersion, StalledStreamProtectionConfig};
use aws_sdk_ssm::error::DisplayErrorContext;
use aws_sdk_ssm::types::ParameterType;

use super::Store;
use crate::config::{Config, ConfigError};
use crate::domain::pepper::Peppers;

const PARAMETER: &str = "KEYGATE_PEPPER_PARAMETER";

impl Store {
    /// Every version of the SecureString parameter the configuration names, decrypted, less
    /// those it revokes; no pepper when it names none. A parameter that cannot be read stops
    /// the function at init, naming the parameter and the reason, never a value.
    pub async fn load_peppers(&self, config: &Config) -> Result<Peppers, ConfigError> {
        let Some(name) = &config.pepper_parameter else {
            return Ok(Peppers::none());
        };
        let invalid = |reason: String| ConfigError::Invalid {
            name: PARAMETER,
            reason: format!("{name}: {reason}"),
        };
        let mut versions = Vec::new();
        let mut pages = self
            .ssm_client(config)
            .get_parameter_history()
            .name(name)
            .with_decryption(true)
            .max_results(50)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| invalid(DisplayErrorContext(&error).to_string()))?;
            for parameter in page.parameters() {
                if parameter.r#type() != Some(&ParameterType::SecureString) {
                    return Err(invalid(format!(
                        "version {} is not a SecureString",
                        parameter.version()
                    )));
                }
                let version = u32::try_from(parameter.version()).map_err(|_| {
                    invalid(format!("version {} is out of range", parameter.version()))
                })?;
                let value = parameter.value().unwrap_or_default().as_bytes().to_vec();
                versions.push((version, value));
            }
        }
        Peppers::new(versions, config.revoked_pepper_versions.clone())
            .map_err(|error| invalid(error.to_string()))
    }

    /// An SSM client sharing the DynamoDB client's HTTPS client (one trust store, one
    /// connection pool), credentials, region and timeouts.
    fn ssm_client(&self, config: &Config) -> aws_sdk_ssm::Client {
        let dynamodb = self.client().config();
        let mut builder = aws_sdk_ssm::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
        builder.set_region(dynamodb.region().cloned());
        builder.set_http_client(dynamodb.http_client());
        builder.set_timeout_config(dynamodb.timeout_config().cloned());
        builder.set_credentials_provider(Some(super::credentials(config.ssm_endpoint.as_deref())));
        builder.set_endpoint_url(config.ssm_endpoint.clone());
        aws_sdk_ssm::Client::from_conf(builder.build())
    }
}
