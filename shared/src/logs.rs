//! Where log lines go and in which shape. Under Lambda the function's `LoggingConfig` sets
//! `AWS_LAMBDA_LOG_FORMAT` (`JSON` or `Text`) and `AWS_LAMBDA_LOG_LEVEL`; keygate follows them
//! as `lambda_runtime::tracing::init_default_subscriber` does, with two additions: other
//! crates are held at WARN (the SDK and the runtime log request contents at DEBUG and
//! TRACE), and metric records (see [`crate::metrics`]) are written as bare Embedded Metric
//! Format lines in JSON mode and as text otherwise.

use std::io::Write;

use tracing::level_filters::LevelFilter;
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{Targets, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

use crate::metrics::{METRICS_FIELD, METRICS_TARGET};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One line of text per event: the default, and what a developer reads locally.
    Text,
    /// One JSON object per line, fields at the top level, for CloudWatch Logs Insights.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
    /// keygate's own level; other crates never log below WARN.
    pub level: LevelFilter,
}

impl LogSettings {
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads `AWS_LAMBDA_LOG_FORMAT` and `AWS_LAMBDA_LOG_LEVEL` (Lambda's names; `FATAL`
    /// counts as `ERROR`); anything unset or unknown means text at INFO.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let format = match lookup("AWS_LAMBDA_LOG_FORMAT") {
            Some(format) if format.eq_ignore_ascii_case("json") => LogFormat::Json,
            _ => LogFormat::Text,
        };
        let level = match lookup("AWS_LAMBDA_LOG_LEVEL")
            .unwrap_or_default()
            .to_ascii_uppercase()
            .as_str()
        {
            "TRACE" => LevelFilter::TRACE,
            "DEBUG" => LevelFilter::DEBUG,
            "WARN" => LevelFilter::WARN,
            "ERROR" | "FATAL" => LevelFilter::ERROR,
            _ => LevelFilter::INFO,
        };
        Self { format, level }
    }
}

/// The subscriber for `settings`, writing to `writer` (stdout under Lambda; a buffer in tests).
pub fn subscriber<W>(settings: LogSettings, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Clone + Send + Sync + 'static,
{
    let level = settings.level;
    let targets = Targets::new()
        .with_default(level.min(LevelFilter::WARN))
        .with_target("lambda_runtime", level.min(LevelFilter::INFO))
        .with_target("keygate", level);
    let without_metrics = targets
        .clone()
        .with_target(METRICS_TARGET, LevelFilter::OFF);
    let layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = match settings.format {
        LogFormat::Text => vec![
            // Metric records (the authorizer's line among them) print as their JSON.
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_target(false)
                .without_time()
                .with_writer(writer)
                .with_filter(targets)
                .boxed(),
        ],
        LogFormat::Json => vec![
            // No time (each CloudWatch event carries its own) and no span (the runtime's
            // span repeats the request id every line already names): a line holds only what
            // nothing else records.
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .without_time()
                .with_current_span(false)
                .with_span_list(false)
                .with_target(false)
                .with_writer(writer.clone())
                .with_filter(without_metrics)
                .boxed(),
            MetricLines { writer }
                .with_filter(filter_fn(|meta| meta.target() == METRICS_TARGET))
                .boxed(),
        ],
    };
    tracing_subscriber::registry().with(layers)
}

/// Installs the subscriber the environment asks for, writing to stdout.
pub fn init_from_env() {
    let subscriber = subscriber(LogSettings::from_env(), std::io::stdout);
    // A second call (tests, a process that initialised already) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Writes each metric record's JSON as its own line, untouched: CloudWatch reads Embedded
/// Metric Format only from a log line that is the EMF object itself.
struct MetricLines<W> {
    writer: W,
}

impl<S, W> Layer<S> for MetricLines<W>
where
    S: Subscriber,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut record = RecordField(None);
        event.record(&mut record);
        if let Some(line) = record.0 {
            let mut writer = self.writer.make_writer();
            let _ = writer.write_all(format!("{line}\n").as_bytes());
        }
    }
}

struct RecordField(Option<String>);

impl tracing::field::Visit for RecordField {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == METRICS_FIELD {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == METRICS_FIELD {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_lambda_logging_variables() {
        let settings = |format: Option<&str>, level: Option<&str>| {
            LogSettings::from_lookup(|name| match name {
                "AWS_LAMBDA_LOG_FORMAT" => format.map(str::to_owned),
                "AWS_LAMBDA_LOG_LEVEL" => level.map(str::to_owned),
                _ => None,
            })
        };
        assert_eq!(
            settings(None, None),
            LogSettings {
                format: LogFormat::Text,
                level: LevelFilter::INFO
            }
        );
        assert_eq!(settings(Some("JSON"), None).format, LogFormat::Json);
        assert_eq!(settings(Some("json"), None).format, LogFormat::Json);
        assert_eq!(settings(Some("Text"), None).format, LogFormat::Text);
        assert_eq!(settings(None, Some("DEBUG")).level, LevelFilter::DEBUG);
        assert_eq!(settings(None, Some("fatal")).level, LevelFilter::ERROR);
        assert_eq!(settings(None, Some("loud")).level, LevelFilter::INFO);
    }
}
