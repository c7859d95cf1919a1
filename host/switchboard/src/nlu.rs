//! The understanding corpus (`tests/nlu/*.toml`) scored against the tenants'
//! flows: `switchboard nlu eval` and the test that holds the targets.

use std::path::{Path, PathBuf};

use anyhow::Context;
use switchboard_core::calendar::{Calendar, CalendarConfig};
use switchboard_core::flow::Flow;
use switchboard_core::understand::eval::{Corpus, Report, evaluate};

/// The corpus files of `dir`, sorted.
pub fn corpus_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("no corpus at {}: pass --corpus DIR", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Score one corpus file; `tenant` overrides the tenant directory it names.
pub fn evaluate_file(file: &Path, tenant: Option<&Path>) -> anyhow::Result<Report> {
    let text = std::fs::read_to_string(file).with_context(|| format!("failed to read {}", file.display()))?;
    let corpus: Corpus =
        toml::from_str(&text).with_context(|| format!("{} is not a corpus file", file.display()))?;
    let dir = match tenant {
        Some(dir) => dir.to_owned(),
        None => file.parent().unwrap_or(Path::new(".")).join(&corpus.tenant),
    };
    let (flow, calendar) = load(&dir)?;
    let now = corpus
        .now
        .parse::<jiff::Timestamp>()
        .with_context(|| format!("{}: now {:?} is not RFC 3339", file.display(), corpus.now))?
        .as_millisecond();
    Ok(evaluate(&flow, &calendar, now, &corpus.cases))
}

/// A tenant's flow and calendar, without its plugins.
fn load(dir: &Path) -> anyhow::Result<(Flow, Calendar)> {
    let tenant_file = dir.join("tenant.toml");
    let text = std::fs::read_to_string(&tenant_file).with_context(|| {
        format!("failed to read {}: is {} a tenant directory?", tenant_file.display(), dir.display())
    })?;
    let table: toml::Table =
        text.parse().with_context(|| format!("{} is not TOML", tenant_file.display()))?;
    let flow_name = table.get("flow").and_then(toml::Value::as_str).unwrap_or("flow.toml");
    let plugins =
        table.get("plugins").and_then(toml::Value::as_table).map(|plugins| plugins.keys().cloned().collect());
    let calendar: CalendarConfig = table
        .get("calendar")
        .cloned()
        .map(toml::Value::try_into)
        .transpose()
        .with_context(|| format!("{}: [calendar]", tenant_file.display()))?
        .unwrap_or_default();
    let flow_path = dir.join(flow_name);
    let source = std::fs::read_to_string(&flow_path)
        .with_context(|| format!("failed to read {}", flow_path.display()))?;
    let flow = Flow::parse(&flow_path.display().to_string(), &source, &plugins.unwrap_or_default())
        .map_err(|problems| anyhow::anyhow!("{problems}"))?;
    let calendar =
        Calendar::new(&calendar).with_context(|| format!("{}: [calendar]", tenant_file.display()))?;
    Ok((flow, calendar))
}
