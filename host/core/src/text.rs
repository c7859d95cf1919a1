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

/// Whether two normalised words are forms of the same word.
pub fn same_word(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let shorter = a.len().min(b.len());
    if shorter < 4 {
        return false;
    }
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    common == shorter || common >= (shorter - 2).max(4)
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
        for (a, b) in
            [("заказ", "заказа"), ("записаться", "запись"), ("вернуть", "вернуть"), ("bookings", "booking")]
        {
            assert!(same_word(a, b), "{a} ~ {b}");
        }
        for (a, b) in [("мой", "мои"), ("price", "prize"), ("cancel", "candle"), ("book", "boot")] {
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
    fn the_script_gives_the_language() {
        assert_eq!(guess_locale("Сколько стоит?"), Some("ru"));
        assert_eq!(guess_locale("Այս շաբաթ ազատ ե՞ք"), Some("hy"));
        assert_eq!(guess_locale("how much"), Some("en"));
        assert_eq!(guess_locale("+374 91 000000"), None);
        assert_eq!(guess_locale("ani@example.com"), None);
        assert_eq!(guess_locale("заказ A-1001"), Some("ru"));
    }
}
