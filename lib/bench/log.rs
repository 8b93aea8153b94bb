//! `-log-level` as mqtt-stresser has it: 0 nothing, 1 errors, 2 debug, 3 both, on stderr,
//! each line prefixed `ERROR: ` or `DEBUG: ` and the time of day (UTC) with microseconds.
//! The library logs through `tracing`; this installs the subscriber that prints it.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// mqtt-stresser's log line format.
struct StresserFormat;

impl<S, N> FormatEvent<S, N> for StresserFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let prefix = if *event.metadata().level() == Level::ERROR {
            "ERROR"
        } else {
            "DEBUG"
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let secs = now.as_secs() % 86_400;
        write!(
            writer,
            "{prefix}: {:02}:{:02}:{:02}.{:06} ",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            now.subsec_micros()
        )?;
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Installs the stderr logger for `level` (0 to 3); level 0 installs nothing.
pub fn init(level: u8) {
    if level == 0 {
        return;
    }
    let filter = filter_fn(move |meta| {
        let error = *meta.level() == Level::ERROR;
        meta.target().starts_with("comqtt")
            && match level {
                1 => error,
                2 => !error && *meta.level() <= Level::DEBUG,
                _ => *meta.level() <= Level::DEBUG,
            }
    });
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .event_format(StresserFormat);
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init();
}
