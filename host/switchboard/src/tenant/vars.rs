//! `${NAME}` and `${NAME:-default}` in the operator's `tenant.toml`.
//!
//! Expansion runs on parsed string values, one at a time, never on the
//! file's text: a variable's value (or a crafted default) can only ever
//! become part of the string it was written in, not new keys, tables or
//! lines. Only the operator's file is expanded; what a tenant sets through
//! its API lives in `managed.toml` and is never expanded (see `managed.rs`).
//!
//! `$${` stands for a literal `${`.

use anyhow::bail;

/// Where variables come from (the environment, in `serve`).
pub type Vars<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Expand every string value in `table`, keys excluded. Errors name the
/// value's dotted key path.
pub(crate) fn expand_table(table: &mut toml::Table, vars: Vars<'_>) -> anyhow::Result<()> {
    for (key, value) in table.iter_mut() {
        expand_value(value, vars, key)?;
    }
    Ok(())
}

fn expand_value(value: &mut toml::Value, vars: Vars<'_>, path: &str) -> anyhow::Result<()> {
    match value {
        toml::Value::String(text) => match expand(text, vars) {
            Ok(expanded) => *text = expanded,
            Err(problem) => bail!("{path}: {problem}"),
        },
        toml::Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                expand_value(item, vars, &format!("{path}[{index}]"))?;
            }
        }
        toml::Value::Table(table) => {
            for (key, item) in table.iter_mut() {
                expand_value(item, vars, &format!("{path}.{key}"))?;
            }
        }
        toml::Value::Integer(_)
        | toml::Value::Float(_)
        | toml::Value::Boolean(_)
        | toml::Value::Datetime(_) => {}
    }
    Ok(())
}

/// One string with its variables replaced.
pub(crate) fn expand(text: &str, vars: Vars<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if rest[..start].ends_with('$') {
            // `$${`: a literal `${`.
            out.push_str(&rest[..start - 1]);
            out.push_str("${");
            rest = &rest[start + 2..];
            continue;
        }
        out.push_str(&rest[..start]);
        let Some(length) = rest[start + 2..].find('}') else {
            return Err("unclosed `${` (write `$${` for a literal one)".to_owned());
        };
        let inner = &rest[start + 2..start + 2 + length];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        if !is_variable_name(name) {
            return Err(format!("`${{{inner}}}`: {name:?} is not a variable name (letters, digits and _)"));
        }
        match vars(name).or_else(|| default.map(str::to_owned)) {
            Some(value) => out.push_str(&value),
            None => return Err(format!("variable {name} is not set and has no default")),
        }
        rest = &rest[start + 2 + length + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `text` as a value the expander gives back unchanged.
pub(crate) fn escape(text: &str) -> String {
    text.replace("${", "$${")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop(name: &str) -> Option<String> {
        (name == "SHOP").then(|| "http://127.0.0.1:9".to_owned())
    }

    #[test]
    fn variables_are_replaced_with_defaults() {
        assert_eq!(expand("a ${SHOP}/x ${PORT:-80} b", &shop).unwrap(), "a http://127.0.0.1:9/x 80 b");
        assert!(expand("${MISSING}", &shop).unwrap_err().contains("MISSING is not set"));
        assert_eq!(expand("cost: $${SHOP}", &shop).unwrap(), "cost: ${SHOP}");
        assert_eq!(expand(&escape("${SHOP} and $${SHOP}"), &shop).unwrap(), "${SHOP} and $${SHOP}");
    }

    #[test]
    fn a_value_cannot_reach_past_its_own_string() {
        // The closing brace must be in the same value: the next value's `}`
        // is not in reach, so nothing between them is swallowed.
        let mut table: toml::Table =
            toml::from_str("a = \"${SHOP:-x\"\nb = \"}\"\n[plugins.x]\nc = \"${SHOP\"\nd = \"}\"").unwrap();
        let error = expand_table(&mut table, &shop).unwrap_err().to_string();
        assert!(error.starts_with("a: unclosed"), "{error}");
    }

    #[test]
    fn only_variable_names_are_looked_up() {
        let lookups = std::cell::RefCell::new(Vec::new());
        let recording = |name: &str| {
            lookups.borrow_mut().push(name.to_owned());
            None
        };
        assert!(expand("${a b:-c}", &recording).is_err());
        assert!(expand("${1X}", &recording).is_err());
        assert!(lookups.borrow().is_empty());
    }

    #[test]
    fn expansion_keeps_the_shape_of_the_file() {
        let mut table: toml::Table =
            toml::from_str("[plugins.x]\nconfig = { url = \"${EVIL}\" }\nlist = [\"${EVIL}\"]").unwrap();
        let evil = |_: &str| Some("\"\n[plugins.x.grants]\nkv = true\n".to_owned());
        expand_table(&mut table, &evil).unwrap();
        let plugin = table["plugins"]["x"].as_table().unwrap();
        assert_eq!(plugin.len(), 2, "no key was added: {plugin:?}");
        assert!(plugin["config"]["url"].as_str().unwrap().contains("[plugins.x.grants]"));
    }
}
