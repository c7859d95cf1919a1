//! The understanding corpus in `tests/nlu/` holds its targets: intents and
//! entities each at least 95 % (`switchboard nlu eval` prints the detail).

use switchboard::nlu::{corpus_files, evaluate_file};
use switchboard_core::understand::eval::Report;

use crate::support::repo_root;

#[test]
fn the_corpus_is_understood_to_target() {
    let files = corpus_files(&repo_root().join("tests/nlu")).expect("the corpus");
    let mut total = Report::default();
    for file in &files {
        total
            .merge(evaluate_file(file, None).unwrap_or_else(|error| panic!("{}: {error:#}", file.display())));
    }
    assert!(total.intents.total >= 300, "at least 300 utterances, found {}", total.intents.total);
    for lang in ["ru", "hy", "en"] {
        assert!(total.intents_by_lang.get(lang).is_some_and(|tally| tally.total >= 50), "{lang} is covered");
    }
    let misses: Vec<String> = total
        .misses
        .iter()
        .map(|miss| format!("{:?}: {} expected {}, got {}", miss.text, miss.what, miss.expected, miss.got))
        .collect();
    assert!(
        total.intents.percent() >= 95.0 && total.entities.percent() >= 95.0,
        "intents {:.1} %, entities {:.1} % (target 95 %); misses:\n{}",
        total.intents.percent(),
        total.entities.percent(),
        misses.join("\n")
    );
}
