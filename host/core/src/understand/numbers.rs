//! Numbers as customers write them: amounts of money (`150000 драм`,
//! `150 тыс`, `150k`, `AMD 150,000`, `֏150 000`, `около 150000`) and counts
//! of something (`40 стульев`, `12 км`).

use serde::{Deserialize, Serialize};

use super::tokens::Token;

/// A number in a message, with what it is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantity {
    pub value: f64,
    /// An ISO code when a currency is named (`драм`, `֏`, `$`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The word right after the number: its unit or noun (`км`, `стульев`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub word: Option<String>,
    /// Written with a multiplier (`тыс`, `k`): an amount, not a count.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scaled: bool,
    /// "около", "about", "մոտ".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approximate: bool,
}

impl Quantity {
    /// Named with a currency or a multiplier: money, not a count.
    pub fn is_money(&self) -> bool {
        self.currency.is_some() || self.scaled
    }
}

/// Every number not already taken by a date, phone or order number.
pub fn find(tokens: &[Token], used: &mut [bool]) -> Vec<Quantity> {
    let mut found = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        if used[index] {
            index += 1;
            continue;
        }
        match at(tokens, used, index) {
            Some((end, quantity)) => {
                used[index..end].iter_mut().for_each(|flag| *flag = true);
                found.push(quantity);
                index = end;
            }
            None => index += 1,
        }
    }
    found
}

/// A number starting at `index` (perhaps after "около" or a currency), and
/// the index just past everything it took.
fn at(tokens: &[Token], used: &[bool], index: usize) -> Option<(usize, Quantity)> {
    let free = |at: usize| at < tokens.len() && !used[at];
    let mut cursor = index;
    let approximate = tokens[cursor].is(APPROXIMATE);
    if approximate {
        cursor += 1;
    }
    let mut currency = None;
    if free(cursor)
        && let Some(code) = currency_of(&tokens[cursor].text)
    {
        currency = Some(code);
        cursor += 1;
    }
    if !free(cursor) {
        return None;
    }
    let (mut value, mut scaled, grouped) = number(&tokens[cursor].text)?;
    let first_digits = tokens[cursor].text.len();
    cursor += 1;
    // "150 000", "1 200 000": groups of three digits written apart.
    if !grouped && !scaled && first_digits <= 3 {
        while free(cursor) && tokens[cursor].is_digits() && tokens[cursor].text.len() == 3 {
            value = value * 1000.0 + tokens[cursor].text.parse::<f64>().ok()?;
            cursor += 1;
        }
    }
    if free(cursor)
        && let Some(factor) = multiplier(&tokens[cursor].text)
    {
        value *= factor;
        scaled = true;
        cursor += 1;
    }
    if currency.is_none()
        && free(cursor)
        && let Some(code) = currency_of(&tokens[cursor].text)
    {
        currency = Some(code);
        cursor += 1;
    }
    let mut word = None;
    if currency.is_none() && free(cursor) {
        let next = &tokens[cursor];
        let wordy = next.text.chars().all(char::is_alphabetic) && next.text.chars().count() >= 2;
        if wordy && !next.is(FUNCTION_WORDS) {
            word = Some(next.text.clone());
            cursor += 1;
        }
    }
    if approximate && index + 1 == cursor {
        return None;
    }
    Some((cursor, Quantity { value, currency: currency.map(str::to_owned), word, scaled, approximate }))
}

const APPROXIMATE: &[&str] = &[
    "около",
    "примерно",
    "где-то",
    "about",
    "around",
    "approximately",
    "roughly",
    "~",
    "մոտ",
    "մոտավորապես",
];

/// Short words that follow a number without being what it counts.
const FUNCTION_WORDS: &[&str] = &[
    "на", "за", "в", "во", "и", "или", "по", "до", "от", "к", "с", "the", "and", "or", "for", "to", "at",
    "on", "in", "of", "by", "и", "է", "եմ", "ու", "և", "կամ", "էլ", "per",
];

/// `150000`, `150,000`, `150.000`, `1 200.50` (the groups come later),
/// `5,5`, `150k`, `150к`, `1.5m`: the value, whether a multiplier was
/// attached, and whether thousands were grouped inside the token.
fn number(text: &str) -> Option<(f64, bool, bool)> {
    let (digits, factor) = match text.strip_suffix(['k', 'к']) {
        Some(digits) => (digits, Some(1000.0)),
        None => match text.strip_suffix('m') {
            Some(digits) => (digits, Some(1_000_000.0)),
            None => (text, None),
        },
    };
    if digits.is_empty() || !digits.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if !digits.chars().all(|c| c.is_ascii_digit() || c == ',' || c == '.') {
        return None;
    }
    let separators: Vec<char> = digits.chars().filter(|c| !c.is_ascii_digit()).collect();
    let groups: Vec<&str> = digits.split([',', '.']).collect();
    let thousands = groups.len() >= 2
        && groups[1..].iter().all(|group| group.len() == 3)
        && groups[0].len() <= 3
        && (groups.len() > 2 || separators[0] == ',' || groups[0] != "0");
    let value: f64 = if thousands && (groups.len() > 2 || separators.iter().all(|c| *c == separators[0])) {
        groups.concat().parse().ok()?
    } else if groups.len() == 2 {
        format!("{}.{}", groups[0], groups[1]).parse().ok()?
    } else if groups.len() == 1 {
        digits.parse().ok()?
    } else {
        // "1,200.50": the last separator is the decimal point.
        let (whole, fraction) = digits.rsplit_once(['.', ',']).unwrap_or((digits, ""));
        format!("{}.{fraction}", whole.replace([',', '.'], "")).parse().ok()?
    };
    Some((value * factor.unwrap_or(1.0), factor.is_some(), groups.len() > 1 && thousands))
}

fn multiplier(word: &str) -> Option<f64> {
    match word {
        "тыс" | "тысяч" | "тысячи" | "тысяча" | "тыщ" | "k" | "к" | "thousand" | "հազար" | "hazar" => {
            Some(1000.0)
        }
        "млн" | "миллион" | "миллиона" | "миллионов" | "million" | "միլիոն" => {
            Some(1_000_000.0)
        }
        _ => None,
    }
}

/// The ISO code of a currency as people write it.
pub fn currency_of(word: &str) -> Option<&'static str> {
    let code = match word {
        "֏" | "amd" | "драм" | "драма" | "драмов" | "դրամ" | "դր" | "dram" | "drams" => {
            "AMD"
        }
        "$" | "usd" | "dollar" | "dollars" | "доллар" | "доллара" | "долларов" | "դոլար" => {
            "USD"
        }
        "€" | "eur" | "euro" | "euros" | "евро" | "եվրո" => "EUR",
        "₽" | "rub" | "руб" | "рубль" | "рубля" | "рублей" | "ռուբլի" => "RUB",
        _ => return None,
    };
    Some(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::understand::tokens::tokenize;

    fn quantities(text: &str) -> Vec<Quantity> {
        let tokens = tokenize(text);
        let mut used = vec![false; tokens.len()];
        find(&tokens, &mut used)
    }

    fn money(text: &str) -> (f64, Option<String>) {
        let found = quantities(text);
        let first = found.first().unwrap_or_else(|| panic!("a number in {text:?}"));
        (first.value, first.currency.clone())
    }

    #[test]
    fn amounts_in_every_way_people_write_them() {
        let amd = Some("AMD".to_owned());
        for text in [
            "150000 драм",
            "150 000 драм",
            "AMD 150,000",
            "֏150 000",
            "150.000 дрaм",
            "Бюджет около 150000 драм",
        ] {
            let (value, _) = money(text);
            assert_eq!(value, 150_000.0, "{text}");
        }
        assert_eq!(money("֏150 000"), (150_000.0, amd.clone()));
        assert_eq!(money("AMD 150,000"), (150_000.0, amd.clone()));
        assert_eq!(money("150 тыс"), (150_000.0, None));
        assert_eq!(money("150k"), (150_000.0, None));
        assert_eq!(money("150к драм"), (150_000.0, amd));
        assert_eq!(money("$299.50"), (299.5, Some("USD".to_owned())));
        assert_eq!(money("5,5"), (5.5, None));
        assert_eq!(money("1,200.50 usd"), (1200.5, Some("USD".to_owned())));
        assert!(quantities("около 150000").first().is_some_and(|q| q.approximate));
        assert!(quantities("150 тыс").first().is_some_and(Quantity::is_money));
    }

    #[test]
    fn counts_keep_their_noun() {
        let found = quantities("закупку 40 стульев на 600000 драм");
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].value, found[0].word.as_deref()), (40.0, Some("стульев")));
        assert!(!found[0].is_money());
        assert_eq!((found[1].value, found[1].currency.as_deref()), (600_000.0, Some("AMD")));
        let found = quantities("12 км");
        assert_eq!(found[0].word.as_deref(), Some("км"));
        let found = quantities("3 на 4");
        assert_eq!(found[0].word, None);
    }
}
