//! A command line split into arguments the way a POSIX shell splits words, without a shell:
//! no variables, no globbing, no command substitution, so a setting such as
//! `google-chrome --profile-directory="Profile 2" {url}` runs exactly the program it names.

/// Splits `text` into words: whitespace separates them; double quotes keep spaces (inside
/// them a backslash escapes only `"`, `\`, `$` and `` ` ``); single quotes keep everything;
/// outside quotes a backslash takes the next character as it is. `""` is an empty word. An
/// unclosed quote or a trailing backslash is an error, in one line.
pub fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    // A word has started even while empty, after `""` or `''`.
    let mut started = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            '\\' => {
                word.push(chars.next().ok_or("it ends with a lone backslash")?);
                started = true;
            }
            '\'' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a ' quote is not closed".to_owned()),
                    }
                }
            }
            '"' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("a \" quote is not closed".to_owned()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("a \" quote is not closed".to_owned()),
                    }
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<String> {
        split_words(text).unwrap()
    }

    #[test]
    fn whitespace_separates_words_and_runs_of_it_count_once() {
        assert_eq!(
            split("  firefox   -P\twork {url} "),
            ["firefox", "-P", "work", "{url}"]
        );
        assert!(split("   ").is_empty());
    }

    #[test]
    fn quotes_keep_spaces_and_join_with_what_touches_them() {
        assert_eq!(
            split(r#"google-chrome --profile-directory="Profile 2" {url}"#),
            ["google-chrome", "--profile-directory=Profile 2", "{url}"]
        );
        assert_eq!(
            split(r#"open -a 'Google Chrome' {url}"#),
            ["open", "-a", "Google Chrome", "{url}"]
        );
        assert_eq!(split(r#"a"b c"'d e'f"#), ["ab cd ef"]);
        assert_eq!(split(r#"x "" '' y"#), ["x", "", "", "y"]);
    }

    #[test]
    fn backslashes_escape_as_a_shell_would() {
        assert_eq!(split(r"a\ b c\'d"), ["a b", "c'd"]);
        assert_eq!(split(r#""say \"hi\" \n""#), [r#"say "hi" \n"#]);
        assert_eq!(split(r"'no \escape'"), [r"no \escape"]);
        assert_eq!(split(r"C:\\Program\ Files"), [r"C:\Program Files"]);
    }

    #[test]
    fn an_unbalanced_quote_is_an_error_of_one_line() {
        for (text, why) in [
            (r#"firefox -P "work {url}"#, "a \" quote is not closed"),
            ("firefox -P 'work {url}", "a ' quote is not closed"),
            (r#"firefox "a\"#, "a \" quote is not closed"),
            (r"firefox \", "it ends with a lone backslash"),
        ] {
            assert_eq!(split_words(text), Err(why.to_owned()), "{text}");
        }
    }
}
