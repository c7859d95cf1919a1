//! `switchboard nlu eval`: how well the built-in understanding reads the
//! corpus, per language and per entity kind, and what it missed.

use std::path::PathBuf;
use std::process::ExitCode;

use switchboard::nlu::{corpus_files, evaluate_file};
use switchboard_core::understand::eval::{Report, Tally};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The corpus directory (`*.toml`, one per tenant).
    #[arg(long, default_value = "tests/nlu")]
    corpus: PathBuf,
    /// Score against this tenant directory instead of the one each file names
    /// (one corpus file, for a tenant's own flow).
    #[arg(long)]
    tenant: Option<PathBuf>,
    /// Exit non-zero below this accuracy, in percent, for intents or entities.
    #[arg(long, default_value_t = 95.0)]
    target: f64,
    /// Misses to list.
    #[arg(long, default_value_t = 40)]
    misses: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut total = Report::default();
    for file in corpus_files(&args.corpus)? {
        total.merge(evaluate_file(&file, args.tenant.as_deref())?);
    }
    let line = |name: &str, tally: &Tally| {
        let bar = "█".repeat((tally.percent() / 5.0).round() as usize);
        println!("  {name:<10} {:>5.1} %  {:>4}/{:<4} {bar}", tally.percent(), tally.hits, tally.total);
    };
    println!("intent");
    line("all", &total.intents);
    for (lang, tally) in &total.intents_by_lang {
        line(lang, tally);
    }
    println!("entities");
    line("all", &total.entities);
    for (lang, tally) in &total.entities_by_lang {
        line(lang, tally);
    }
    for (kind, tally) in &total.entities_by_kind {
        line(kind, tally);
    }
    if !total.misses.is_empty() {
        println!("misses ({}; first {}):", total.misses.len(), args.misses.min(total.misses.len()));
        for miss in total.misses.iter().take(args.misses) {
            println!("  {:?}: {} expected {}, got {}", miss.text, miss.what, miss.expected, miss.got);
        }
    }
    let below = total.intents.percent() < args.target || total.entities.percent() < args.target;
    if below {
        eprintln!(
            "below the {:.0} % target: fix the misses above, or the corpus if it is wrong",
            args.target
        );
    }
    Ok(if below { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
