//! Splitting a message into tokens that keep what dates, amounts and order
//! numbers are made of (`26.11`, `150,000`, `A-1001`, `15:00`) and drop the
//! punctuation around them.

/// One word or number of a message, normalised: lowercase, `ё` as `е`,
/// Armenian marks written inside a word removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    /// Byte range in the original message.
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn is(&self, forms: &[&str]) -> bool {
        forms.contains(&self.text.as_str())
    }

    /// The token starts with one of `stems` (`пятниц` for пятница, пятницу).
    pub fn starts(&self, stems: &[&str]) -> bool {
        stems.iter().any(|stem| self.text.starts_with(stem))
    }

    pub fn is_digits(&self) -> bool {
        !self.text.is_empty() && self.text.bytes().all(|byte| byte.is_ascii_digit())
    }
}

/// Characters that stay inside a token when letters or digits surround them.
fn joins(character: char) -> bool {
    matches!(character, '.' | ',' | '/' | ':' | '-' | '@' | '+' | '_')
}

/// Armenian apostrophe, emphasis and question marks, and the apostrophe: written inside words.
fn inside_word_mark(character: char) -> bool {
    matches!(character, '\u{055A}' | '\u{055B}' | '\u{055C}' | '\u{055E}' | '\'' | '’')
}

/// Currency signs are tokens of their own, so `֏150` is a sign and a number.
fn sign(character: char) -> bool {
    matches!(character, '֏' | '$' | '€' | '₽' | '£')
}

pub fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    let characters: Vec<(usize, char)> = text.char_indices().collect();
    let flush = |current: &mut String, start: usize, end: usize, tokens: &mut Vec<Token>| {
        let trimmed = current.trim_end_matches(joins);
        let trimmed = trimmed.trim_start_matches(|c: char| joins(c) && c != '+');
        if !trimmed.is_empty() {
            tokens.push(Token { text: trimmed.replace('ё', "е"), start, end });
        }
        current.clear();
    };
    for (index, &(offset, character)) in characters.iter().enumerate() {
        if inside_word_mark(character) {
            continue;
        }
        if character.is_alphanumeric() {
            if current.is_empty() {
                start = offset;
            }
            current.extend(character.to_lowercase());
            continue;
        }
        if sign(character) {
            flush(&mut current, start, offset, &mut tokens);
            tokens.push(Token {
                text: character.to_string(),
                start: offset,
                end: offset + character.len_utf8(),
            });
            continue;
        }
        let next_is_word = characters.get(index + 1).is_some_and(|(_, next)| next.is_alphanumeric());
        if joins(character) && (next_is_word || character == '+') && (!current.is_empty() || character == '+')
        {
            if current.is_empty() {
                start = offset;
            }
            current.push(character);
            continue;
        }
        flush(&mut current, start, offset, &mut tokens);
    }
    flush(&mut current, start, text.len(), &mut tokens);
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<String> {
        tokenize(text).into_iter().map(|token| token.text).collect()
    }

    #[test]
    fn tokens_keep_dates_amounts_and_ids_whole() {
        assert_eq!(texts("Купил 26.11, за 150,000 драм!"), ["купил", "26.11", "за", "150,000", "драм"]);
        assert_eq!(texts("заказ A-1001?"), ["заказ", "a-1001"]);
        assert_eq!(texts("в 15:00."), ["в", "15:00"]);
        assert_eq!(texts("֏150 000"), ["֏", "150", "000"]);
        assert_eq!(texts("+374 91 123456"), ["+374", "91", "123456"]);
        assert_eq!(texts("Վաղը կգա՞ք"), ["վաղը", "կգաք"]);
        assert_eq!(texts("ani@example.com"), ["ani@example.com"]);
        assert_eq!(texts("Ещё - нет"), ["еще", "нет"]);
    }

    #[test]
    fn spans_point_into_the_original() {
        let text = "на 26 ноября";
        let tokens = tokenize(text);
        assert_eq!(&text[tokens[2].start..tokens[2].end], "ноября");
    }
}
