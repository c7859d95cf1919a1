//! `switchboard kpis`: a tenant's KPIs on a running server, as a table
//! with a sparkline per KPI; a rebuild from the event log; and the
//! definitions (the README's table is this command's output).

use std::process::ExitCode;

use serde_json::Value;
use switchboard_core::kpi::{DEFINITIONS, Unit};

use crate::cli_api::{Server, query_value};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Every KPI over a span, with its trend per day or week.
    Show(ShowArgs),
    /// Recompute a tenant's tallies from its event log.
    Rebuild(RebuildArgs),
    /// What every KPI counts (`--markdown` prints README.md's table).
    Definitions {
        #[arg(long)]
        markdown: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[arg(long)]
    tenant: String,
    /// First day, YYYY-MM-DD (default: 29 days before --to).
    #[arg(long)]
    from: Option<String>,
    /// Last day, YYYY-MM-DD (default: today in the tenant's zone).
    #[arg(long)]
    to: Option<String>,
    #[arg(long)]
    channel: Option<String>,
    #[arg(long)]
    intent: Option<String>,
    /// `day` or `week`.
    #[arg(long, default_value = "day")]
    granularity: String,
    #[command(flatten)]
    server: Server,
}

#[derive(Debug, clap::Args)]
pub struct RebuildArgs {
    #[arg(long)]
    tenant: String,
    #[command(flatten)]
    server: Server,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Definitions { markdown: true } => print!("{}", switchboard_core::kpi::markdown()),
        Command::Definitions { markdown: false } => {
            for definition in DEFINITIONS {
                println!("{} ({})\n  {}\n", definition.title, definition.id, definition.definition);
            }
        }
        Command::Rebuild(args) => {
            let spinner = indicatif::ProgressBar::new_spinner()
                .with_message(format!("folding {}'s event log again", args.tenant));
            spinner.enable_steady_tick(std::time::Duration::from_millis(120));
            let path = format!("/v1/tenants/{}/kpis/rebuild", query_value(&args.tenant));
            let rebuilt: Value = args.server.call(http::Method::POST, &path)?;
            spinner.finish_with_message(format!(
                "folded {} events into {}'s tallies",
                rebuilt["events"], args.tenant
            ));
        }
        Command::Show(args) => show(args)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn show(args: ShowArgs) -> anyhow::Result<()> {
    let mut query = vec![format!("granularity={}", query_value(&args.granularity))];
    for (name, value) in
        [("from", &args.from), ("to", &args.to), ("channel", &args.channel), ("intent", &args.intent)]
    {
        if let Some(value) = value {
            query.push(format!("{name}={}", query_value(value)));
        }
    }
    let path = format!("/v1/tenants/{}/kpis?{}", query_value(&args.tenant), query.join("&"));
    let answer: Value = args.server.call(http::Method::GET, &path)?;
    println!("{} from {} to {} ({})\n", args.tenant, answer["from"], answer["to"], answer["zone"]);
    let series = answer["series"].as_array().cloned().unwrap_or_default();
    for definition in DEFINITIONS {
        let value = &answer["total"]["kpis"][definition.id];
        let trend: Vec<Option<f64>> =
            series.iter().map(|period| period["kpis"][definition.id]["value"].as_f64()).collect();
        println!(
            "{:<44} {:>12}  {}",
            definition.title,
            shown(value["value"].as_f64(), definition.unit),
            sparkline(&trend)
        );
    }
    Ok(())
}

/// A value as people read it.
pub fn shown(value: Option<f64>, unit: Unit) -> String {
    let Some(value) = value else { return "-".to_owned() };
    match unit {
        Unit::Duration if value < 1000.0 => format!("{value:.0} ms"),
        Unit::Duration if value < 120_000.0 => format!("{:.1} s", value / 1000.0),
        Unit::Duration if value < 7_200_000.0 => format!("{:.1} min", value / 60_000.0),
        Unit::Duration => format!("{:.1} h", value / 3_600_000.0),
        Unit::Share => format!("{:.1} %", value * 100.0),
        Unit::Count => format!("{value:.0}"),
        Unit::Mean => format!("{value:.2}"),
        Unit::Money | Unit::MoneyPerDay => format!("{:.2}", value / 100.0),
    }
}

/// A trend in eight heights; a gap where nothing was counted.
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    let (low, high) = known.iter().fold((f64::MAX, f64::MIN), |(low, high), &v| (low.min(v), high.max(v)));
    values
        .iter()
        .map(|value| match value {
            None => ' ',
            Some(_) if high <= low => BARS[3],
            Some(value) => BARS[(((value - low) / (high - low)) * 7.0).round() as usize],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_spans_low_to_high_with_gaps() {
        assert_eq!(sparkline(&[Some(0.0), Some(7.0), None, Some(3.5)]), "▁█ ▅");
        assert_eq!(sparkline(&[Some(2.0), Some(2.0)]), "▄▄");
    }

    #[test]
    fn values_read_in_their_units() {
        assert_eq!(shown(Some(1500.0), Unit::Duration), "1.5 s");
        assert_eq!(shown(Some(0.256), Unit::Share), "25.6 %");
        assert_eq!(shown(None, Unit::Count), "-");
    }
}
