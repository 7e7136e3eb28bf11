//! Help for a name the checker does not know: "did you mean" the closest known name
//! (edit distance, through `strsim`), and the spelling a Python programmer reaches
//! for (`True`, `None`, `append`, `lambda`, ...).

/// The candidate closest to `name`, if it is close enough to be a likely typo: at
/// most one edit per three characters (at least one), transpositions counting as one
/// edit. Ties go to the alphabetically first candidate, so the answer is stable.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let len = name.chars().count();
    let limit = (len / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name && !c.starts_with('<'))
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        // Replacing every character of a short name is not a typo (`z` is not `x`).
        .filter(|&(d, _)| d <= limit && d < len)
        .min()
        .map(|(_, c)| c)
}

/// What to write instead of a Python spelling that BetterPython does not have.
pub fn python_hint(name: &str) -> Option<&'static str> {
    Some(match name {
        "True" | "False" => "booleans are written `true` and `false`",
        "None" => "there is no `None`: use a value of the type (`0`, `\"\"`, an empty container)",
        "append" => "arrays grow with `array_push(xs, x)`",
        "input" => "a line of standard input is `read_line()`",
        "range" => "`range(a, b)` exists only as the loop `for i in range(a, b):`",
        "lambda" => "lambdas are written `fn(x: int) -> int: x + 1`",
        "elsif" | "elseif" => "write `elif`",
        "nil" | "null" => "there is no null value: use a value of the type",
        _ => return None,
    })
}

/// The note for an unknown `name` among `candidates`: a Python hint or the closest
/// candidate.
pub fn note<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    if let Some(hint) = python_hint(name) {
        return Some(hint.to_string());
    }
    closest(name, candidates).map(|c| format!("did you mean '{c}'?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested_and_far_ones_are_not() {
        let known = ["total", "count", "str_upper", "array_len"];
        assert_eq!(closest("totl", known), Some("total"));
        assert_eq!(closest("str_uper", known), Some("str_upper"));
        assert_eq!(closest("arary_len", known), Some("array_len"));
        assert_eq!(closest("xyz", known), None);
        assert_eq!(
            closest("z", ["x", "y"]),
            None,
            "a one-letter name is not a typo of another"
        );
        assert_eq!(
            closest("total", known),
            None,
            "the name itself is not a suggestion"
        );
    }

    #[test]
    fn python_spellings_get_their_hint_first() {
        assert_eq!(
            note("True", ["true"]),
            Some("booleans are written `true` and `false`".to_string())
        );
        assert_eq!(note("cout", ["count"]), Some("did you mean 'count'?".to_string()));
    }
}
