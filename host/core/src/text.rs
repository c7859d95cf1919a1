//! Words in Russian, Armenian and English without a model: normalisation,
//! tolerant word matching and language guessing. The understanding pass
//! (`understand.rs`) builds on it.
//!
//! Matching is deliberately simple and predictable, so a tenant can reason
//! about it: case and punctuation are ignored (including Armenian marks such
//! as `՞` written inside a word), and two words match when one is a prefix of
//! the other, or they share a stem of all but the last two letters. That
//! covers most Russian and Armenian endings ("заказ" / "заказа",
//! "записаться" / "запись") without a dictionary.

use crate::flow::Phrases;

/// Lowercase words, with punctuation removed. Armenian emphasis and question
/// marks sit inside words, so they are dropped rather than split on.
pub fn words(text: &str) -> Vec<String> {
    let mut cleaned = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            // Armenian apostrophe, emphasis, question mark: inside words.
            '\u{055A}' | '\u{055B}' | '\u{055C}' | '\u{055E}' | '\'' | '’' => {}
            character if character.is_alphanumeric() => cleaned.extend(character.to_lowercase()),
            _ => cleaned.push(' '),
        }
    }
    cleaned.split_whitespace().map(|word| word.replace('ё', "е")).collect()
}

/// Whether two normalised words are forms of the same word: equal; one
/// the other plus an ending of up to three letters ("заказ" / "заказа");
/// sharing a stem of all but the shorter's last two letters ("записаться" /
/// "запись"); or one typo apart in words of five letters or more ("суботу",
/// "Firday", "manger").
pub fn same_word(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (shorter, longer) = (a.len().min(b.len()), a.len().max(b.len()));
    if shorter < 4 {
        return false;
    }
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    // A stem of six letters or more takes any ending ("տեղափոխ"); a short
    // one at most three letters ("after" is not "afternoon").
    let ending = if common == shorter {
        shorter >= 6 || longer - shorter <= 3
    } else {
        common >= (shorter - 2).max(4)
    };
    ending || (shorter >= 5 && longer >= 6 && typos(&a, &b) <= 1)
}

/// One typo away, in a word of six letters or more ("завтро", "Firday";
/// "среди" is not "среду").
pub fn one_typo(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    a.len().min(b.len()) >= 6 && typos(&a, &b) <= 1
}

/// Edits between two words, counting a swap of neighbours as one
/// (optimal string alignment distance).
fn typos(a: &[char], b: &[char]) -> usize {
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1).min(rows[i][j - 1] + 1).min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// Where `phrase` starts in `message` (its words in order, others between).
pub fn phrase_at(message: &[String], phrase: &[String]) -> Option<usize> {
    let first = phrase.first()?;
    (0..message.len()).filter(|&start| same_word(&message[start], first)).find(|&start| {
        let mut rest = message[start + 1..].iter();
        phrase[1..].iter().all(|wanted| rest.by_ref().any(|word| same_word(word, wanted)))
    })
}

/// Whether every word of `phrase` occurs in `message`, in order.
pub fn contains_phrase(message: &[String], phrase: &[String]) -> bool {
    let mut rest = message.iter();
    !phrase.is_empty() && phrase.iter().all(|wanted| rest.by_ref().any(|word| same_word(word, wanted)))
}

/// Whether `message` contains any of the phrases, in any locale.
pub fn mentions_any(message: &[String], phrases: &Phrases) -> bool {
    phrases.values().flatten().any(|phrase| contains_phrase(message, &words(phrase)))
}

/// Russian and Armenian typed in Latin letters ("skolko stoit", "inchqan
/// arji"), spelled back in their own scripts so trigger phrases and options
/// match: the words in Cyrillic, then in Armenian letters. Empty for a
/// message with no Latin words.
pub fn transliterations(said: &[String]) -> [Vec<String>; 2] {
    if !said.iter().any(|word| word.chars().any(|c| c.is_ascii_lowercase())) {
        return [Vec::new(), Vec::new()];
    }
    [
        said.iter().map(|word| spell(word, CYRILLIC)).collect(),
        said.iter().map(|word| armenian(word)).collect(),
    ]
}

/// Latin to Cyrillic, longest first.
const CYRILLIC: &[(&str, &str)] = &[
    ("shch", "щ"),
    ("tsya", "тся"),
    ("tsa", "ться"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("ts", "ц"),
    ("ya", "я"),
    ("yu", "ю"),
    ("yo", "е"),
    ("ye", "е"),
    ("a", "а"),
    ("b", "б"),
    ("v", "в"),
    ("g", "г"),
    ("d", "д"),
    ("e", "е"),
    ("z", "з"),
    ("i", "и"),
    ("j", "й"),
    ("k", "к"),
    ("l", "л"),
    ("m", "м"),
    ("n", "н"),
    ("o", "о"),
    ("p", "п"),
    ("r", "р"),
    ("s", "с"),
    ("t", "т"),
    ("u", "у"),
    ("f", "ф"),
    ("h", "х"),
    ("c", "ц"),
    ("w", "в"),
    ("x", "кс"),
    ("y", "ы"),
    ("q", "к"),
];

/// Latin to Armenian, longest first; a final `y` is the article `ը`.
const ARMENIAN: &[(&str, &str)] = &[
    ("gh", "ղ"),
    ("ch", "չ"),
    ("sh", "շ"),
    ("zh", "ժ"),
    ("kh", "խ"),
    ("ts", "ց"),
    ("dz", "ձ"),
    ("th", "թ"),
    ("ou", "ու"),
    ("a", "ա"),
    ("b", "բ"),
    ("g", "գ"),
    ("d", "դ"),
    ("e", "ե"),
    ("z", "զ"),
    ("t", "տ"),
    ("i", "ի"),
    ("l", "լ"),
    ("x", "խ"),
    ("c", "ց"),
    ("k", "կ"),
    ("h", "հ"),
    ("m", "մ"),
    ("y", "յ"),
    ("n", "ն"),
    ("o", "ո"),
    ("p", "պ"),
    ("j", "ջ"),
    ("r", "ր"),
    ("s", "ս"),
    ("v", "վ"),
    ("u", "ու"),
    ("f", "ֆ"),
    ("q", "ք"),
    ("w", "վ"),
];

fn armenian(word: &str) -> String {
    match word.strip_suffix('y') {
        Some(stem) if !stem.is_empty() && word.is_ascii() => spell(stem, ARMENIAN) + "ը",
        _ => spell(word, ARMENIAN),
    }
}

fn spell(word: &str, table: &[(&str, &str)]) -> String {
    if !word.is_ascii() {
        return word.to_owned();
    }
    let mut out = String::new();
    let mut rest = word;
    while !rest.is_empty() {
        match table.iter().find(|(latin, _)| rest.starts_with(latin)) {
            Some((latin, native)) => {
                out.push_str(native);
                rest = &rest[latin.len()..];
            }
            None => {
                let next = rest.chars().next().map_or(1, char::len_utf8);
                out.push_str(&rest[..next]);
                rest = &rest[next..];
            }
        }
    }
    out
}

/// The language a message is written in, by its script: Armenian and Cyrillic
/// letters are unambiguous here; Latin is taken as English.
pub fn guess_locale(text: &str) -> Option<&'static str> {
    let (mut armenian, mut cyrillic, mut latin) = (0, 0, 0);
    // Emails, order numbers and the like are Latin whatever the language.
    let prose =
        text.split_whitespace().filter(|token| !token.contains(|c: char| c == '@' || c.is_ascii_digit()));
    for character in prose.flat_map(str::chars) {
        match character {
            '\u{0530}'..='\u{058F}' => armenian += 1,
            '\u{0400}'..='\u{04FF}' => cyrillic += 1,
            'a'..='z' | 'A'..='Z' => latin += 1,
            _ => {}
        }
    }
    let most = armenian.max(cyrillic).max(latin);
    match most {
        // One or two letters ("A-1001", "ok") are too little to go on.
        0..=2 => None,
        _ if most == armenian => Some("hy"),
        _ if most == cyrillic => Some("ru"),
        _ => Some("en"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str) -> Vec<String> {
        words(text)
    }

    #[test]
    fn words_drop_case_punctuation_and_armenian_marks() {
        assert_eq!(w("Գինը ինչքա՞ն է"), ["գինը", "ինչքան", "է"]);
        assert_eq!(w("Где мой ЗАКАЗ?!"), ["где", "мой", "заказ"]);
        assert_eq!(w("how much, please..."), ["how", "much", "please"]);
        assert_eq!(w("Ещё"), ["еще"]);
    }

    #[test]
    fn word_forms_match_but_short_words_must_be_exact() {
        for (a, b) in [
            ("заказ", "заказа"),
            ("записаться", "запись"),
            ("вернуть", "вернуть"),
            ("bookings", "booking"),
            ("суботу", "субботу"),
            ("firday", "friday"),
            ("manger", "manager"),
            ("админстратор", "администратор"),
            ("տեղափոխությունը", "տեղափոխ"),
        ] {
            assert!(same_word(a, b), "{a} ~ {b}");
        }
        for (a, b) in [
            ("мой", "мои"),
            ("price", "prize"),
            ("cancel", "candle"),
            ("book", "boot"),
            ("after", "afternoon"),
            ("перевезти", "перенести"),
        ] {
            assert!(!same_word(a, b), "{a} !~ {b}");
        }
    }

    #[test]
    fn phrases_match_in_order_with_words_between() {
        assert!(contains_phrase(&w("Где же мой заказ?"), &w("где заказ")));
        assert!(!contains_phrase(&w("заказ где"), &w("где заказ")));
        assert!(!contains_phrase(&w("anything"), &[]));
    }

    #[test]
    fn latin_letters_are_spelled_back() {
        let [ru, hy] = transliterations(&w("skolko stoit pereezd"));
        assert_eq!(ru, ["сколко", "стоит", "переезд"]);
        assert!(contains_phrase(&ru, &w("сколько стоит")));
        let [_, hy2] = transliterations(&w("barev, inchqan arji"));
        assert_eq!(hy2[1], "ինչքան");
        assert!(hy.len() == 3);
        assert_eq!(transliterations(&w("Сколько стоит")), [Vec::<String>::new(), Vec::new()]);
    }

    #[test]
    fn the_script_gives_the_language() {
        assert_eq!(guess_locale("Сколько стоит?"), Some("ru"));
        assert_eq!(guess_locale("Այս շաբաթ ազատ ե՞ք"), Some("hy"));
        assert_eq!(guess_locale("how much"), Some("en"));
        assert_eq!(guess_locale("+374 91 000000"), None);
        assert_eq!(guess_locale("ani@example.com"), None);
        assert_eq!(guess_locale("заказ A-1001"), Some("ru"));
    }
}
