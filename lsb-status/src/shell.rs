//! Just enough of a shell reader to follow an init script the way a person
//! does: words with their quotes kept, split into simple commands, each
//! command knowing the function, `case` arm and loop it sits in. Nothing is
//! run or expanded here; [`crate::unit`] gives the words meaning.

/// One simple command: its words as written (quotes kept, redirections
/// dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub words: Vec<String>,
    /// 1-based line of its first word.
    pub line: usize,
    /// The innermost function it is defined in.
    pub function: Option<String>,
    /// The patterns of every `case` arm around it, innermost last.
    pub arms: Vec<Vec<String>>,
    /// Inside a `for`/`while`/`until` loop.
    pub in_loop: bool,
    /// Ended by `&`: run in the background.
    pub background: bool,
    /// Runs only under a condition: inside `if`/`case`, or after `&&`/`||`.
    pub conditional: bool,
}

/// Why a script could not be read as shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String, usize),
    /// `;`, newline, `|`.
    Sep,
    /// `&&`, `||`.
    AndOr,
    /// `&` (background).
    Amp,
    CaseEnd,
    Open,
    Close,
}

/// Scripts nest a few levels; a deeper nesting is not an init script.
const MAX_DEPTH: usize = 64;

/// Splits a script into tokens.
#[allow(clippy::too_many_lines)] // one loop over characters reads best whole
fn tokens(text: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut word = String::new();
    let mut word_line = 1;
    let mut line = 1;
    let mut i = 0;
    let mut skip_next_word = false;
    let flush = |word: &mut String, out: &mut Vec<Token>, skip: &mut bool, at: usize| {
        if !word.is_empty() {
            if *skip {
                *skip = false;
            } else {
                out.push(Token::Word(std::mem::take(word), at));
            }
            word.clear();
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if chars.get(i + 1) == Some(&'\n') => {
                i += 2;
                line += 1;
                continue;
            }
            '\\' => {
                if word.is_empty() {
                    word_line = line;
                }
                word.push(c);
                if let Some(&next) = chars.get(i + 1) {
                    word.push(next);
                }
                i += 2;
                continue;
            }
            '#' if word.is_empty() => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            ' ' | '\t' | '\r' => flush(&mut word, &mut out, &mut skip_next_word, word_line),
            '\n' => {
                flush(&mut word, &mut out, &mut skip_next_word, word_line);
                out.push(Token::Sep);
                line += 1;
            }
            ';' => {
                flush(&mut word, &mut out, &mut skip_next_word, word_line);
                if chars.get(i + 1) == Some(&';') {
                    i += 1;
                    out.push(Token::CaseEnd);
                } else {
                    out.push(Token::Sep);
                }
            }
            '&' | '|' => {
                flush(&mut word, &mut out, &mut skip_next_word, word_line);
                if chars.get(i + 1) == Some(&c) {
                    i += 1;
                    out.push(Token::AndOr);
                } else if c == '&' {
                    out.push(Token::Amp);
                } else {
                    out.push(Token::Sep);
                }
            }
            '(' if !(word.is_empty() && chars.get(i + 1) == Some(&'(')) => {
                flush(&mut word, &mut out, &mut skip_next_word, word_line);
                out.push(Token::Open);
            }
            ')' => {
                flush(&mut word, &mut out, &mut skip_next_word, word_line);
                out.push(Token::Close);
            }
            '<' | '>' => {
                // A redirection: drop its fd number, itself and its target.
                if word.bytes().all(|b| b.is_ascii_digit()) {
                    word.clear();
                } else {
                    flush(&mut word, &mut out, &mut skip_next_word, word_line);
                }
                while matches!(chars.get(i + 1), Some('>' | '<' | '&' | '|')) {
                    i += 1;
                }
                // `>&2`, `2>&1`: the target is glued on; else the next word.
                let mut j = i + 1;
                while matches!(chars.get(j), Some(' ' | '\t')) {
                    j += 1;
                }
                if j == i + 1 && matches!(chars.get(j), Some('(')) {
                    // Process substitution `<(...)`: one word, not a group.
                    let end = group_end(&chars, j, 0).ok_or_else(|| ParseError {
                        line,
                        message: "unterminated process substitution".into(),
                    })?;
                    line += chars[j..=end].iter().filter(|&&c| c == '\n').count();
                    word_line = line;
                    word.extend(&chars[j..=end]);
                    i = end + 1;
                    continue;
                }
                skip_next_word = true;
                word_line = line;
            }
            '(' if word.is_empty() && chars.get(i + 1) == Some(&'(') => {
                // `(( arithmetic ))`: one word; its `&` and `|` are operators
                // of the arithmetic, not of the shell.
                word_line = line;
                let end = group_end(&chars, i, 0).ok_or_else(|| ParseError {
                    line,
                    message: "unterminated ((".into(),
                })?;
                line += chars[i..=end].iter().filter(|&&c| c == '\n').count();
                word.extend(&chars[i..=end]);
                i = end + 1;
                continue;
            }
            '\'' | '"' | '`' => {
                if word.is_empty() {
                    word_line = line;
                }
                let end = quoted_end(&chars, i, c, 0).ok_or_else(|| ParseError {
                    line,
                    message: format!(
                        "unterminated {c} quote (or nested more than {MAX_DEPTH} deep)"
                    ),
                })?;
                line += chars[i..=end].iter().filter(|&&c| c == '\n').count();
                word.extend(&chars[i..=end]);
                i = end + 1;
                continue;
            }
            '$' if matches!(chars.get(i + 1), Some('(' | '{')) => {
                if word.is_empty() {
                    word_line = line;
                }
                let end = dollar_end(&chars, i, 0).ok_or_else(|| ParseError {
                    line,
                    message: format!(
                        "unterminated ${} (or nested more than {MAX_DEPTH} deep)",
                        chars[i + 1]
                    ),
                })?;
                line += chars[i..=end].iter().filter(|&&c| c == '\n').count();
                word.extend(&chars[i..=end]);
                i = end + 1;
                continue;
            }
            _ => {
                if word.is_empty() {
                    word_line = line;
                }
                word.push(c);
            }
        }
        i += 1;
    }
    flush(&mut word, &mut out, &mut skip_next_word, word_line);
    out.push(Token::Sep);
    Ok(out)
}

/// The index of the quote that closes the one at `start`.
fn quoted_end(chars: &[char], start: usize, quote: char, nesting: usize) -> Option<usize> {
    if nesting > MAX_DEPTH {
        return None;
    }
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if quote != '\'' => i += 1,
            '$' if quote == '"' && matches!(chars.get(i + 1), Some('(' | '{')) => {
                i = dollar_end(chars, i, nesting + 1)?;
            }
            c if c == quote => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the bracket that closes `$(`, `$((` or `${` at `start`.
fn dollar_end(chars: &[char], start: usize, nesting: usize) -> Option<usize> {
    group_end(chars, start + 1, nesting)
}

/// The index of the bracket that closes the `(` or `{` at `open_at`.
fn group_end(chars: &[char], open_at: usize, nesting: usize) -> Option<usize> {
    if nesting > MAX_DEPTH {
        return None;
    }
    let (open, close) = if chars[open_at] == '(' {
        ('(', ')')
    } else {
        ('{', '}')
    };
    let mut depth = 0usize;
    let mut i = open_at;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '\'' if open == '(' => i = quoted_end(chars, i, '\'', nesting + 1)?,
            '"' => i = quoted_end(chars, i, '"', nesting + 1)?,
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[derive(Debug)]
enum Frame {
    Function(String),
    Brace,
    /// An `if`; `arm` is the action its branch runs for when the
    /// conditions test the script's argument (`if [ "$1" = start ]`):
    /// `*` in the `else` branch, like a case's default arm.
    If {
        arm: Option<Vec<String>>,
        on_action: bool,
    },
    Loop,
    /// A `case`; `Some` while inside an arm.
    Case(Option<Vec<String>>),
    Paren,
}

/// Reads a script into its simple commands.
#[allow(clippy::too_many_lines)] // one loop over tokens, as `tokens` is over characters
pub fn commands(text: &str) -> Result<Vec<Command>, ParseError> {
    let tokens = tokens(text)?;
    let mut stack: Vec<Frame> = Vec::new();
    let mut out = Vec::new();
    let mut words: Vec<(String, usize)> = Vec::new();
    let mut pending_function: Option<String> = None;
    let mut after_and_or = false;
    let mut last_line = 1;
    let mut arm_start = 0;
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        i += 1;
        // A case pattern: words up to `)`.
        if words.is_empty() {
            if let Some(Frame::Case(arm @ None)) = stack.last_mut() {
                match token {
                    Token::Word(w, _) if w == "esac" => {
                        stack.pop();
                    }
                    Token::Word(..) => {
                        *arm = Some(patterns(&tokens, &mut i));
                        arm_start = out.len();
                    }
                    _ => {}
                }
                continue;
            }
        }
        match token {
            Token::Word(w, line) => {
                last_line = *line;
                if w == "in" && words.len() == 2 && words[0].0 == "case" {
                    // `case WORD in`: patterns follow, on this line or the next.
                    stack.push(Frame::Case(None));
                    words.clear();
                    continue;
                }
                words.push((w.clone(), *line));
            }
            Token::Open if words.len() == 1 && tokens.get(i) == Some(&Token::Close) => {
                // `name()`: a function; its body is the next group.
                pending_function = Some(words.pop().map(|w| w.0).unwrap_or_default());
                i += 1;
            }
            Token::Open if words.is_empty() => {
                stack.push(Frame::Paren);
            }
            Token::Open => {
                // `(` inside a command (arrays: `X=(a b)`): keep it as text.
                words.push(("(".into(), last_line));
            }
            Token::Close | Token::CaseEnd | Token::Sep | Token::Amp | Token::AndOr => {
                end_command(
                    &mut words,
                    &mut stack,
                    &mut out,
                    &mut pending_function,
                    *token == Token::Amp,
                    after_and_or,
                );
                after_and_or = *token == Token::AndOr;
                match token {
                    Token::Close => {
                        if let Some(Frame::Paren) = stack.last() {
                            stack.pop();
                        }
                    }
                    Token::CaseEnd => {
                        if out.len() == arm_start {
                            // An empty arm (`stop) ;;`) is the null command `:`.
                            end_command(
                                &mut vec![(":".to_owned(), last_line)],
                                &mut stack,
                                &mut out,
                                &mut pending_function,
                                false,
                                false,
                            );
                        }
                        if let Some(Frame::Case(arm)) = stack.last_mut() {
                            *arm = None;
                        }
                    }
                    _ => {}
                }
            }
        }
        if stack.len() > MAX_DEPTH {
            return Err(ParseError {
                line: last_line,
                message: format!("nested more than {MAX_DEPTH} levels deep"),
            });
        }
    }
    Ok(out)
}

/// An `if`/`elif` condition that tests the script's argument (`[ "$1" =
/// start ]`, `test "x$1" = xstop`): the innermost `if` branch is that
/// action's arm.
fn test_of_action(condition: &[(String, usize)]) -> Option<String> {
    let w: Vec<&str> = condition.iter().map(|(w, _)| w.as_str()).collect();
    let (["[" | "[[", left, "=" | "==", right, "]" | "]]"] | ["test", left, "=" | "==", right]) =
        w[..]
    else {
        return None;
    };
    let unquote = |t: &str| t.trim_matches(|c| c == '"' || c == '\'').to_owned();
    let (left, right) = (unquote(left), unquote(right));
    let argument = |t: &str| {
        ["$1", "${1}"]
            .iter()
            .find_map(|a| t.strip_suffix(a))
            .map(str::to_owned)
    };
    let action = match (argument(&left), argument(&right)) {
        (Some(prefix), None) => right.strip_prefix(&prefix).map(str::to_owned),
        (None, Some(prefix)) => left.strip_prefix(&prefix).map(str::to_owned),
        _ => None,
    };
    action.filter(|a| !a.is_empty() && !a.contains('$'))
}

/// A case arm's patterns: the words from `tokens[at - 1]` up to `)`;
/// `at` is left after the `)`.
fn patterns(tokens: &[Token], at: &mut usize) -> Vec<String> {
    let mut i = *at - 1;
    let mut out = Vec::new();
    while i < tokens.len() && tokens[i] != Token::Close {
        if let Token::Word(w, _) = &tokens[i] {
            if w != "(" {
                out.push(w.clone());
            }
        }
        i += 1;
    }
    *at = i + 1;
    out
}

/// Words that open or close a block, and what may follow them on the same
/// command (`then start-stop-daemon ...`).
fn end_command(
    words: &mut Vec<(String, usize)>,
    stack: &mut Vec<Frame>,
    out: &mut Vec<Command>,
    pending_function: &mut Option<String>,
    background: bool,
    after_and_or: bool,
) {
    let mut start = 0;
    // The action an `if`/`elif` here tests for: its branch's arm, from the
    // next command on (the test itself runs for every action).
    let mut tested = None;
    while let Some((word, _)) = words.get(start) {
        match word.as_str() {
            "if" => {
                stack.push(Frame::If {
                    arm: None,
                    on_action: false,
                });
                tested = test_of_action(&words[start + 1..]);
            }
            "elif" => {
                if let Some(Frame::If { arm, .. }) = stack.last_mut() {
                    *arm = None;
                }
                tested = test_of_action(&words[start + 1..]);
            }
            "else" => {
                if let Some(Frame::If { arm, on_action }) = stack.last_mut() {
                    *arm = on_action.then(|| vec!["*".to_owned()]);
                }
            }
            "while" | "until" | "for" | "select" => {
                stack.push(Frame::Loop);
                if word != "while" && word != "until" {
                    // `for NAME in WORDS`: nothing to run in this command.
                    words.clear();
                    return;
                }
            }
            "then" | "do" | "!" => {}
            "fi" | "done" | "esac" => {
                stack.pop();
            }
            "{" => stack.push(match pending_function.take() {
                Some(name) => Frame::Function(name),
                None => Frame::Brace,
            }),
            "}" => {
                // `}` closes the innermost brace group (a loop or if left
                // open by odd text is closed with it).
                while let Some(frame) = stack.pop() {
                    if matches!(frame, Frame::Function(_) | Frame::Brace) {
                        break;
                    }
                }
            }
            "case" => {
                stack.push(Frame::Case(None));
                words.clear();
                return;
            }
            "function" if words.len() >= 2 => {
                *pending_function = Some(words[start + 1].0.clone());
                start += 2;
                continue;
            }
            _ => break,
        }
        start += 1;
    }
    if start < words.len() {
        let line = words[start].1;
        out.push(Command {
            words: words[start..].iter().map(|w| w.0.clone()).collect(),
            line,
            function: stack.iter().rev().find_map(|f| match f {
                Frame::Function(name) => Some(name.clone()),
                _ => None,
            }),
            arms: stack
                .iter()
                .filter_map(|f| match f {
                    Frame::Case(Some(p)) | Frame::If { arm: Some(p), .. } => Some(p.clone()),
                    _ => None,
                })
                .collect(),
            in_loop: stack.iter().any(|f| matches!(f, Frame::Loop)),
            background,
            conditional: after_and_or
                || stack
                    .iter()
                    .any(|f| matches!(f, Frame::If { .. } | Frame::Case(_))),
        });
    }
    // In a function, `$1` is the function's own argument.
    let in_function = stack.iter().any(|f| matches!(f, Frame::Function(_)));
    let tested = tested.filter(|_| !in_function);
    if let (Some(action), Some(Frame::If { arm, on_action })) = (tested, stack.last_mut()) {
        *arm = Some(vec![action]);
        *on_action = true;
    }
    words.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn words(text: &str) -> Vec<Vec<String>> {
        commands(text)
            .unwrap()
            .into_iter()
            .map(|c| c.words)
            .collect()
    }

    #[test]
    fn words_keep_quotes_and_lose_redirections() {
        assert_eq!(
            words("a \"b c\" 'd' $(e f) ${g:-h i} >/dev/null 2>&1 \\\n  j\n"),
            [["a", "\"b c\"", "'d'", "$(e f)", "${g:-h i}", "j"]]
        );
        assert_eq!(words("x > /dev/null || y"), [["x"], ["y"]]);
        assert_eq!(words("echo hi >&2; z"), [vec!["echo", "hi"], vec!["z"]]);
    }

    #[test]
    fn if_on_the_argument_is_an_arm() {
        let text = "\
if [ \"$1\" = start ]; then
  a
elif test \"x$1\" = \"xstop\"; then
  b
  if [ -f x ]; then c; fi
elif [ -f y ]; then
  d
else
  e
fi
if [ -f z ]; then f; else g; fi
h() { if [ \"$1\" = start ]; then i; fi; }
";
        let arms: Vec<(String, Vec<Vec<String>>)> = commands(text)
            .unwrap()
            .into_iter()
            .map(|c| (c.words[0].clone(), c.arms))
            .collect();
        let arm = |a: &[&str]| a.iter().map(|p| vec![(*p).to_owned()]).collect::<Vec<_>>();
        let want = [
            ("[", arm(&[])),
            ("a", arm(&["start"])),
            ("test", arm(&[])),
            ("b", arm(&["stop"])),
            ("[", arm(&["stop"])),
            ("c", arm(&["stop"])),
            ("[", arm(&[])),
            ("d", arm(&[])),
            ("e", arm(&["*"])),
            ("[", arm(&[])),
            ("f", arm(&[])),
            ("g", arm(&[])),
            ("[", arm(&[])),
            ("i", arm(&[])),
        ];
        let want: Vec<(String, Vec<Vec<String>>)> =
            want.into_iter().map(|(w, a)| (w.to_owned(), a)).collect();
        assert_eq!(arms, want);
    }

    #[test]
    fn functions_arms_and_loops_are_known() {
        let text = "\
f() {
  start-stop-daemon --start
}
case \"$1\" in
  start|restart)
    f
    ;;
  reload) for x in a b; do kill -HUP 1; done ;;
esac
g &
";
        let cmds = commands(text).unwrap();
        let ssd = &cmds[0];
        assert_eq!(ssd.function.as_deref(), Some("f"));
        assert_eq!(ssd.line, 2);
        let call = cmds.iter().find(|c| c.words == ["f"]).unwrap();
        assert_eq!(call.arms, [vec!["start".to_owned(), "restart".to_owned()]]);
        assert_eq!(call.function, None);
        let kill = cmds.iter().find(|c| c.words[0] == "kill").unwrap();
        let empty = commands("case $1 in\n  stop) ;;\nesac\n").unwrap();
        assert_eq!(empty[0].words, [":"]);
        assert_eq!(empty[0].arms, [vec!["stop".to_owned()]]);
        assert!(kill.in_loop);
        assert_eq!(kill.arms, [vec!["reload".to_owned()]]);
        let g = cmds.last().unwrap();
        assert!(g.background && g.arms.is_empty() && !g.conditional);
        assert!(call.conditional);
    }

    #[test]
    fn arithmetic_and_process_substitution_are_words() {
        assert_eq!(
            words("if (( (8#$m & 022) != 0 )); then x; fi\nexec {n}<> <(:)\n"),
            [
                vec!["(( (8#$m & 022) != 0 ))"],
                vec!["x"],
                vec!["exec", "{n}"]
            ]
        );
    }

    #[test]
    fn if_then_on_one_line() {
        let cmds = commands("if [ -r /etc/default/x ]; then . /etc/default/x; fi\n").unwrap();
        assert_eq!(cmds[1].words, [".", "/etc/default/x"]);
        assert!(cmds[1].conditional);
        let cmds = commands("[ -z \"$X\" ] && X=1\nY=2\n").unwrap();
        assert_eq!(
            cmds.iter().map(|c| c.conditional).collect::<Vec<_>>(),
            [false, true, false]
        );
    }

    #[test]
    fn unterminated_quotes_are_errors_with_a_line() {
        let err = commands("a\nb \"c\nd\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("unterminated \" quote"));
        assert!(commands("x=$(a\n").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let text = format!("x={}{}\n", "\"$(".repeat(100_000), ")\"".repeat(100_000));
        let err = commands(&text).unwrap_err();
        assert!(
            err.message.contains("nested more than 64 deep"),
            "{}",
            err.message
        );
    }

    proptest! {
        #[test]
        fn any_text_reads_without_panic(text in "[ -~\n\t]{0,300}") {
            let _ = commands(&text);
        }

        #[test]
        fn shell_like_text_reads_without_panic(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("case $1 in".to_owned()), Just("esac".to_owned()),
                    Just("start)".to_owned()), Just(";;".to_owned()),
                    Just("f() {".to_owned()), Just("}".to_owned()),
                    Just("if x; then".to_owned()), Just("fi".to_owned()),
                    Just("for a in b; do".to_owned()), Just("done".to_owned()),
                    Just("(".to_owned()), Just(")".to_owned()),
                    "[a-z$=\"' -]{0,12}",
                ],
                0..40,
            )
        ) {
            let _ = commands(&parts.join("\n"));
        }
    }
}
