//! Giving an init script's words their values without running anything:
//! variables assigned at the top of the script are followed; what only the
//! defaults file (`/etc/default/NAME`) decides at run time is kept as a
//! variable for systemd to expand from `EnvironmentFile=`.

use std::collections::{BTreeMap, HashMap, HashSet};

/// A piece of a value: literal text, or a variable systemd expands.
/// `bool`: quoted in the script (not split into words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Lit(String, bool),
    Sym(String, bool),
}

pub type Value = Vec<Seg>;

/// How a word is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A path or name the unit must spell out (program, pid file, user):
    /// the script's own value, whatever a defaults file might change.
    Literal,
    /// An argument: what the defaults file may change stays `$VAR`.
    Runtime,
}

#[derive(Debug, Clone)]
struct Var {
    literal: Result<Value, String>,
    runtime: Result<Value, String>,
    /// Assigned before a defaults file was sourced: that file may change it.
    overridable: bool,
}

/// The variables of a script, as its top level leaves them.
#[derive(Debug, Default)]
pub struct Env {
    vars: HashMap<String, Var>,
    /// Names assigned only inside functions (values known at run time only).
    pub function_vars: HashSet<String>,
    /// A defaults file has been sourced.
    pub sourced: bool,
    /// Values the script gives a variable the defaults file may override:
    /// `Environment=` lines, should the variable appear in `ExecStart=`.
    pub defaults: BTreeMap<String, String>,
    /// How deep `${X:-${Y:-...}}` goes right now.
    depth: usize,
}

/// `${X:-${Y:-...}}` deeper than this is no init script: refused, not
/// followed down the stack.
const MAX_NESTING: usize = 16;

impl Env {
    /// Records `name=word` (a top-level assignment).
    pub fn assign(&mut self, name: &str, word: &str) {
        // An assignment never splits; how the value splits is up to where
        // it is used.
        let unquote = |value: Value| -> Value {
            value
                .into_iter()
                .map(|s| match s {
                    Seg::Lit(t, _) => Seg::Lit(t, false),
                    Seg::Sym(n, _) => Seg::Sym(n, false),
                })
                .collect()
        };
        let literal = self.expand(word, Mode::Literal).map(unquote);
        let runtime = self.expand(word, Mode::Runtime).map(unquote);
        self.vars.insert(
            name.to_owned(),
            Var {
                literal,
                runtime,
                overridable: false,
            },
        );
    }

    /// Records a variable whose value cannot be known.
    pub fn forget(&mut self, name: &str, why: &str) {
        self.vars.insert(
            name.to_owned(),
            Var {
                literal: Err(why.to_owned()),
                runtime: Err(why.to_owned()),
                overridable: false,
            },
        );
    }

    /// Whether `name` has a value an assignment under a condition could
    /// change (one the script set, or one the defaults file may set).
    pub fn has_value(&self, name: &str) -> bool {
        match self.vars.get(name) {
            Some(var) => var.runtime.is_ok(),
            None => self.sourced,
        }
    }

    /// A defaults file was sourced here: what was assigned so far may change.
    pub fn source_defaults(&mut self) {
        self.sourced = true;
        for var in self.vars.values_mut() {
            var.overridable = true;
        }
    }

    /// One word's value, or why it has none that can be written down.
    pub fn expand(&mut self, word: &str, mode: Mode) -> Result<Value, String> {
        if self.depth >= MAX_NESTING {
            return Err(format!("expansions nested more than {MAX_NESTING} deep"));
        }
        self.depth += 1;
        let value = self.expand_word(word, mode);
        self.depth -= 1;
        value
    }

    fn expand_word(&mut self, word: &str, mode: Mode) -> Result<Value, String> {
        let chars: Vec<char> = word.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        let mut quoted = false;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '"' => quoted = !quoted,
                '\'' if !quoted => {
                    let end = chars[i + 1..]
                        .iter()
                        .position(|&c| c == '\'')
                        .map_or(chars.len(), |p| i + 1 + p);
                    push_lit(&mut out, &chars[i + 1..end.min(chars.len())], true);
                    i = end;
                }
                '\\' => {
                    if let Some(&next) = chars.get(i + 1) {
                        push_lit(&mut out, &[next], true);
                    }
                    i += 1;
                }
                '`' => return Err(format!("`{word}` runs a command")),
                '$' => {
                    let (value, next) = self.dollar(&chars, i, quoted, mode, word)?;
                    out.extend(value);
                    i = next;
                    continue;
                }
                _ => push_lit(&mut out, &[c], quoted),
            }
            i += 1;
        }
        Ok(out)
    }

    /// `$NAME`, `${NAME}`, `${NAME:-word}` and friends at `chars[start]`;
    /// returns the value and the index after it.
    fn dollar(
        &mut self,
        chars: &[char],
        start: usize,
        quoted: bool,
        mode: Mode,
        word: &str,
    ) -> Result<(Value, usize), String> {
        let next = chars.get(start + 1).copied();
        let is_name = |c: &char| c.is_ascii_alphanumeric() || *c == '_';
        match next {
            Some('{') => {
                let end = close_brace(chars, start + 1)
                    .ok_or_else(|| format!("`{word}`: unterminated ${{"))?;
                let inner: String = chars[start + 2..end].iter().collect();
                let name_len = inner.chars().take_while(is_name).count();
                let (name, rest) = inner.split_at(name_len);
                if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                    return Err(format!("`{word}` needs the script's arguments"));
                }
                let op = ["==", ":-", ":=", ":+", "-", "=", "+"]
                    .iter()
                    .find(|op| rest.starts_with(**op) && **op != "==");
                let value = match op {
                    None if rest.is_empty() => self.lookup(name, quoted, mode, None)?,
                    None => {
                        return Err(format!(
                            "`{word}` transforms ${name} with `{rest}` at run time"
                        ))
                    }
                    Some(op) => {
                        let arg = &rest[op.len()..];
                        self.lookup(name, quoted, mode, Some((op, arg)))?
                    }
                };
                Ok((value, end + 1))
            }
            Some('(') => Err(format!("`{word}` runs a command")),
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let len = chars[start + 1..].iter().take_while(|c| is_name(c)).count();
                let name: String = chars[start + 1..start + 1 + len].iter().collect();
                Ok((self.lookup(&name, quoted, mode, None)?, start + 1 + len))
            }
            Some(c) if c.is_ascii_digit() || "@*#?$!-".contains(c) => {
                Err(format!("`{word}` needs the script's arguments or state"))
            }
            _ => Ok((vec![Seg::Lit("$".into(), quoted)], start + 1)),
        }
    }

    fn lookup(
        &mut self,
        name: &str,
        quoted: bool,
        mode: Mode,
        op: Option<(&str, &str)>,
    ) -> Result<Value, String> {
        let requote = |value: Value| -> Value {
            value
                .into_iter()
                .map(|s| match s {
                    Seg::Lit(t, q) => Seg::Lit(t, q || quoted),
                    Seg::Sym(n, q) => Seg::Sym(n, q || quoted),
                })
                .collect()
        };
        let own = match self.vars.get(name) {
            Some(var) => {
                let value = match mode {
                    Mode::Literal => var.literal.clone(),
                    Mode::Runtime => var.runtime.clone(),
                };
                let value = value?;
                if mode == Mode::Runtime && var.overridable {
                    if let Some(text) = plain(&value) {
                        self.defaults.insert(name.to_owned(), text);
                        Some(vec![Seg::Sym(name.to_owned(), quoted)])
                    } else {
                        Some(requote(value))
                    }
                } else {
                    Some(requote(value))
                }
            }
            None if self.function_vars.contains(name) => {
                return Err(format!("${name} is set inside a function, at run time"))
            }
            // Only the defaults file can set it.
            None if self.sourced => match (mode, op) {
                (Mode::Literal, None) => {
                    return Err(format!(
                        "${name} is set only by the defaults file, at run time"
                    ))
                }
                _ => None,
            },
            // Unset: init starts scripts with an empty environment.
            None => {
                return Ok(match op {
                    Some(("-" | ":-" | "=" | ":=", arg)) => requote(self.expand(arg, mode)?),
                    _ => Vec::new(),
                })
            }
        };
        let Some((op, arg)) = op else {
            return Ok(own.unwrap_or_else(|| vec![Seg::Sym(name.to_owned(), quoted)]));
        };
        let raw_arg = arg;
        let arg = requote(self.expand(arg, mode)?);
        let empty = own
            .as_ref()
            .is_some_and(|v| plain(v).is_some_and(|t| t.is_empty()));
        match (op, own) {
            // A path: the script's own default.
            ("-" | ":-" | "=" | ":=", None) if mode == Mode::Literal => Ok(arg),
            // The defaults file may set it; its default goes to Environment=.
            ("-" | ":-" | "=" | ":=", None) => {
                // The default as the script spells it, should the
                // default itself be something the defaults file may change.
                let text = plain(&arg).or_else(|| {
                    self.expand(raw_arg, Mode::Literal)
                        .ok()
                        .as_ref()
                        .and_then(plain)
                });
                if let Some(text) = text {
                    self.defaults.insert(name.to_owned(), text);
                    Ok(vec![Seg::Sym(name.to_owned(), quoted)])
                } else {
                    Err(format!("${{{name}{op}...}} depends on the defaults file"))
                }
            }
            ("-" | ":-" | "=" | ":=", Some(v)) => {
                Ok(if empty && op.starts_with(':') { arg } else { v })
            }
            (_, None) => Err(format!("${{{name}{op}...}} depends on the defaults file")),
            (_, Some(_)) => Ok(if empty { Vec::new() } else { arg }),
        }
    }
}

fn push_lit(out: &mut Value, chars: &[char], quoted: bool) {
    if let Some(Seg::Lit(text, q)) = out.last_mut() {
        if *q == quoted {
            text.extend(chars);
            return;
        }
    }
    out.push(Seg::Lit(chars.iter().collect(), quoted));
}

fn close_brace(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, &c) in chars.iter().enumerate().skip(open) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether a word uses the script's arguments (`$1`, `$@`, ...), which are
/// never there when systemd runs the daemon.
pub fn needs_arguments(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes
        .windows(2)
        .any(|w| w[0] == b'$' && (w[1].is_ascii_digit() || b"@*#".contains(&w[1])))
        || bytes
            .windows(3)
            .any(|w| &w[..2] == b"${" && (w[2].is_ascii_digit() || b"@*#".contains(&w[2])))
}

/// The text of a value made only of literals.
pub fn plain(value: &Value) -> Option<String> {
    value
        .iter()
        .map(|s| match s {
            Seg::Lit(t, _) => Some(t.as_str()),
            Seg::Sym(..) => None,
        })
        .collect()
}

/// A word made of pieces once the shell has split it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// `$NAME` alone as a word: systemd splits it at blanks.
    Split(String),
    /// `${NAME}` inside a word: systemd keeps it one word.
    Whole(String),
}

/// Splits values into words as the shell would (unquoted literal text at
/// blanks), keeping variables for systemd.
pub fn split_words(values: &[Value]) -> Vec<Vec<Piece>> {
    let mut words = Vec::new();
    for value in values {
        let mut current: Vec<Piece> = Vec::new();
        let mut started = false;
        for seg in value {
            match seg {
                Seg::Lit(text, true) => {
                    started = true;
                    current.push(Piece::Text(text.clone()));
                }
                Seg::Lit(text, false) => {
                    let mut parts = text.split([' ', '\t', '\n']).peekable();
                    while let Some(part) = parts.next() {
                        if !part.is_empty() {
                            started = true;
                            current.push(Piece::Text(part.to_owned()));
                        }
                        if parts.peek().is_some() && started {
                            words.push(std::mem::take(&mut current));
                            started = false;
                        }
                    }
                }
                Seg::Sym(name, quoted) => {
                    started = true;
                    current.push(if *quoted {
                        Piece::Whole(name.clone())
                    } else {
                        Piece::Split(name.clone())
                    });
                }
            }
        }
        if started {
            words.push(current);
        }
    }
    // `$NAME` glued to text cannot be split by systemd: keep it one word.
    for word in &mut words {
        if word.len() > 1 {
            for piece in word.iter_mut() {
                if let Piece::Split(name) = piece {
                    *piece = Piece::Whole(std::mem::take(name));
                }
            }
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(env: &mut Env, word: &str) -> Result<String, String> {
        env.expand(word, Mode::Literal)
            .map(|v| plain(&v).expect("literal"))
    }

    #[test]
    fn assignments_are_followed() {
        let mut env = Env::default();
        env.assign("NAME", "nginx");
        env.assign("PIDFILE", "\"/run/${NAME}.pid\"");
        assert_eq!(lit(&mut env, "$PIDFILE").unwrap(), "/run/nginx.pid");
        assert_eq!(lit(&mut env, "'$NAME'").unwrap(), "$NAME");
        assert_eq!(lit(&mut env, "${UNSET:-/etc/x}").unwrap(), "/etc/x");
        assert_eq!(lit(&mut env, "${NAME:+x}").unwrap(), "x");
        assert_eq!(lit(&mut env, "a${UNSET:+.x}").unwrap(), "a");
        assert!(lit(&mut env, "$(cat /x)")
            .unwrap_err()
            .contains("runs a command"));
        assert!(lit(&mut env, "${NAME##*/}")
            .unwrap_err()
            .contains("transforms"));
        assert!(lit(&mut env, "$1").unwrap_err().contains("arguments"));
    }

    #[test]
    fn a_later_literal_wins_over_a_computed_value() {
        let mut env = Env::default();
        env.assign("PID", "$(awk x)");
        assert!(lit(&mut env, "$PID").is_err());
        env.assign("PID", "/run/nginx.pid");
        assert_eq!(lit(&mut env, "$PID").unwrap(), "/run/nginx.pid");
    }

    #[test]
    fn what_the_defaults_file_may_change_stays_a_variable() {
        let mut env = Env::default();
        env.assign("DAEMON_ARGS", "/etc/redis/redis.conf");
        env.source_defaults();
        env.assign("OPTS", "\"-c /etc/s.conf $OPTS\"");
        let args = env.expand("$DAEMON_ARGS", Mode::Runtime).unwrap();
        assert_eq!(args, [Seg::Sym("DAEMON_ARGS".into(), false)]);
        assert_eq!(env.defaults["DAEMON_ARGS"], "/etc/redis/redis.conf");
        // The program itself is spelt out.
        assert_eq!(
            lit(&mut env, "$DAEMON_ARGS").unwrap(),
            "/etc/redis/redis.conf"
        );
        let opts = env.expand("$OPTS", Mode::Runtime).unwrap();
        let words = split_words(&[opts]);
        assert_eq!(
            words,
            [
                vec![Piece::Text("-c".into())],
                vec![Piece::Text("/etc/s.conf".into())],
                vec![Piece::Split("OPTS".into())]
            ]
        );
        assert!(lit(&mut env, "$ONLY_IN_DEFAULTS").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_recursed() {
        let mut env = Env::default();
        let word = format!("{}x{}", "${a:-".repeat(50_000), "}".repeat(50_000));
        assert!(env
            .expand(&word, Mode::Runtime)
            .unwrap_err()
            .contains("nested more than 16"));
    }

    #[test]
    fn words_split_like_the_shell() {
        let mut env = Env::default();
        env.assign("A", "\"-x 1\"");
        let values: Vec<Value> = ["$A", "\"$A\"", "--opt=$B"]
            .iter()
            .map(|w| env.expand(w, Mode::Runtime).unwrap())
            .collect();
        let words = split_words(&values);
        assert_eq!(
            words,
            [
                vec![Piece::Text("-x".into())],
                vec![Piece::Text("1".into())],
                vec![Piece::Text("-x 1".into())],
                vec![Piece::Text("--opt=".into())],
            ]
        );
    }
}
