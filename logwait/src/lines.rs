//! Splitting what is read from the log into lines, in bounded memory, and
//! matching them against the pattern.

use regex::bytes::Regex;

/// A line is matched (and printed) on at most its first this many bytes, so
/// a log holding one endless line cannot take all memory.
pub const MAX_LINE: usize = 64 * 1024;

/// The pattern: plain text is one more regex, escaped, so both match alike
/// (on bytes: a log that is not UTF-8 still works).
#[derive(Debug, Clone)]
pub struct Pattern(Regex);

impl Pattern {
    pub fn new(text: &str, is_regex: bool) -> Result<Self, String> {
        if text.is_empty() {
            return Err("empty PATTERN: every line would match".into());
        }
        if text.contains('\n') {
            return Err(format!(
                "PATTERN {text:?} holds a newline: it is matched against one line at a time, \
                 so it could never match"
            ));
        }
        let source = if is_regex {
            text.to_owned()
        } else {
            regex::escape(text)
        };
        regex::bytes::RegexBuilder::new(&source)
            .size_limit(1 << 20)
            .build()
            .map(Self)
            .map_err(|e| format!("invalid regex {text:?}: {e}"))
    }

    pub fn is_match(&self, line: &[u8]) -> bool {
        self.0.is_match(line)
    }
}

/// Bytes in, complete lines out. The newline is not part of a line; a line
/// longer than [`MAX_LINE`] keeps its first `MAX_LINE` bytes.
#[derive(Debug, Default)]
pub struct Lines {
    /// The start of a line whose newline has not been read yet.
    partial: Vec<u8>,
    /// Drop everything up to the next newline (the rest of a line that was
    /// begun before we started, or of one cut at `MAX_LINE`).
    skipping: bool,
}

impl Lines {
    /// Starts in the middle of a line: its rest is not a line of its own.
    pub fn skip_to_next_line(&mut self) {
        self.partial.clear();
        self.skipping = true;
    }

    /// Forgets any line begun (the file was truncated or replaced).
    pub fn reset(&mut self) {
        self.partial.clear();
        self.skipping = false;
    }

    /// Feeds `data`, calling `line` for each line it completes until `line`
    /// returns true (done). Returns true if it did.
    pub fn feed(&mut self, mut data: &[u8], mut line: impl FnMut(&[u8]) -> bool) -> bool {
        while !data.is_empty() {
            let end = memchr::memchr(b'\n', data);
            let piece = &data[..end.unwrap_or(data.len())];
            if !self.skipping {
                if end.is_some() && self.partial.is_empty() {
                    // The whole line is in `data`: no copy.
                    if line(&piece[..piece.len().min(MAX_LINE)]) {
                        return true;
                    }
                } else {
                    let room = MAX_LINE - self.partial.len();
                    self.partial
                        .extend_from_slice(&piece[..piece.len().min(room)]);
                    if end.is_some() {
                        let done = line(&self.partial);
                        self.partial.clear();
                        if done {
                            return true;
                        }
                    } else if self.partial.len() == MAX_LINE {
                        // Cut here; what follows up to the newline is dropped.
                        let done = line(&self.partial);
                        self.partial.clear();
                        self.skipping = true;
                        if done {
                            return true;
                        }
                    }
                }
            }
            match end {
                Some(end) => {
                    self.skipping = false;
                    data = &data[end + 1..];
                }
                None => data = &[],
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines_of(chunks: &[&[u8]], skip: bool) -> Vec<Vec<u8>> {
        let mut lines = Lines::default();
        if skip {
            lines.skip_to_next_line();
        }
        let mut out = Vec::new();
        for chunk in chunks {
            lines.feed(chunk, |l| {
                out.push(l.to_vec());
                false
            });
        }
        out
    }

    #[test]
    fn lines_across_chunks() {
        assert_eq!(
            lines_of(&[b"ab", b"c\nde\n", b"f"], false),
            vec![b"abc".to_vec(), b"de".to_vec()]
        );
        assert_eq!(
            lines_of(&[b"\n\nx\n"], false),
            vec![b"".to_vec(), b"".to_vec(), b"x".to_vec()]
        );
    }

    #[test]
    fn the_rest_of_a_line_begun_before_is_skipped() {
        assert_eq!(
            lines_of(&[b"tail of old", b" line\nnew\n"], true),
            vec![b"new".to_vec()]
        );
    }

    #[test]
    fn a_huge_line_is_cut_and_the_next_one_is_whole() {
        let huge = vec![b'x'; MAX_LINE * 3 + 5];
        let out = lines_of(
            &[&huge[..MAX_LINE + 7], &huge[MAX_LINE + 7..], b"\nok\n"],
            false,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].len(), MAX_LINE);
        assert_eq!(out[1], b"ok");
        let mut whole = huge.clone();
        whole.extend(b"\nok\n");
        let out = lines_of(&[&whole], false);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].len(), MAX_LINE);
    }

    #[test]
    fn feeding_stops_when_told() {
        let mut lines = Lines::default();
        let mut seen = 0;
        assert!(lines.feed(b"a\nb\nc\n", |_| {
            seen += 1;
            seen == 2
        }));
        assert_eq!(seen, 2);
    }

    #[test]
    fn text_is_text_and_regex_is_regex() {
        let text = Pattern::new("a.c (ready)", false).unwrap();
        assert!(text.is_match(b"x a.c (ready) y"));
        assert!(!text.is_match(b"abc ready"));
        let re = Pattern::new(r"listening on \d+$", true).unwrap();
        assert!(re.is_match(b"now listening on 8080"));
        assert!(!re.is_match(b"listening on port"));
        assert!(Pattern::new("ready", false)
            .unwrap()
            .is_match(b"\xff\xfe ready"));
        let err = Pattern::new("(", true).unwrap_err();
        assert!(err.starts_with("invalid regex \"(\""), "{err}");
        assert!(Pattern::new("", false).is_err());
        for regex in [false, true] {
            let err = Pattern::new("ready\nnow", regex).unwrap_err();
            assert!(err.contains("holds a newline"), "{err}");
        }
    }

    proptest! {
        #[test]
        fn lines_are_the_same_however_the_bytes_are_split(
            data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'a'), any::<u8>()], 0..300),
            cut in 0usize..300,
        ) {
            let cut = cut.min(data.len());
            let whole = lines_of(&[&data], false);
            let split = lines_of(&[&data[..cut], &data[cut..]], false);
            prop_assert_eq!(&whole, &split);
            let expected: Vec<Vec<u8>> = data.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
            prop_assert_eq!(whole.len(), expected.len() - 1);
        }

        #[test]
        fn arbitrary_patterns_never_panic(text in any::<String>(), regex in any::<bool>()) {
            let _ = Pattern::new(&text, regex);
        }
    }
}
