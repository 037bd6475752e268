//! Copying a child's output to ours as it arrives, whole lines at a time, with secrets replaced
//! by `****`. Lines are never held until the child exits; bytes are moved in the chunks the
//! pipe delivers, and a chunk is only rebuilt when a secret actually occurs in it.

use std::io::{Read, Write};

use memchr::memmem::Finder;

const CHUNK: usize = 64 * 1024;
const MASK: &[u8] = b"****";

pub struct Redactor {
    finders: Vec<Finder<'static>>,
}

impl Redactor {
    pub fn new(secrets: &[&str]) -> Redactor {
        let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
        // Longest first, so a URL is masked whole before the password inside it is.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor {
            finders: secrets
                .into_iter()
                .map(|s| Finder::new(s.as_bytes()).into_owned())
                .collect(),
        }
    }

    /// `text` with every secret masked; borrowed when there is nothing to mask.
    pub fn apply<'a>(&self, text: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        if !self.finders.iter().any(|f| f.find(text).is_some()) {
            return std::borrow::Cow::Borrowed(text);
        }
        let mut current = text.to_vec();
        for finder in &self.finders {
            let needle = finder.needle();
            let mut out = Vec::with_capacity(current.len());
            let mut start = 0;
            for at in finder.find_iter(&current) {
                out.extend_from_slice(&current[start..at]);
                out.extend_from_slice(MASK);
                start = at + needle.len();
            }
            out.extend_from_slice(&current[start..]);
            current = out;
        }
        std::borrow::Cow::Owned(current)
    }

    /// The longest secret, in bytes: how much of an unfinished line must be held back so that a
    /// secret split across two reads is still seen whole.
    fn longest(&self) -> usize {
        self.finders.first().map_or(0, |f| f.needle().len())
    }
}

/// Relays `from` to `to` until end of input. Complete lines are written (and flushed) as soon as
/// they arrive; an unfinished line is held until its end comes, unless it grows past 64 KiB.
pub fn relay(mut from: impl Read, mut to: impl Write, redactor: &Redactor) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut held = 0usize;
    loop {
        if held == buf.len() {
            // A very long line: pass on all but a tail that could hold the start of a secret.
            let keep = redactor.longest().min(held);
            let cut = held - keep;
            to.write_all(&redactor.apply(&buf[..cut]))?;
            to.flush()?;
            buf.copy_within(cut..held, 0);
            held = keep;
        }
        let n = match from.read(&mut buf[held..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let end = held + n;
        match memchr::memrchr(b'\n', &buf[held..end]) {
            Some(pos) => {
                let lines_end = held + pos + 1;
                to.write_all(&redactor.apply(&buf[..lines_end]))?;
                to.flush()?;
                buf.copy_within(lines_end..end, 0);
                held = end - lines_end;
            }
            None => held = end,
        }
    }
    if held > 0 {
        to.write_all(&redactor.apply(&buf[..held]))?;
    }
    to.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_secrets_even_across_reads() {
        /// Hands out its data a few bytes at a time, as a pipe might.
        struct Trickle(Vec<u8>, usize);
        impl Read for Trickle {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = out.len().min(3).min(self.0.len() - self.1);
                out[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
                self.1 += n;
                Ok(n)
            }
        }
        let redactor = Redactor::new(&["s3cret", "postgresql://u:s3cret@h/db"]);
        let input =
            b"connecting to postgresql://u:s3cret@h/db\npassword s3cret ok\nno newline s3cret"
                .to_vec();
        let mut out = Vec::new();
        relay(Trickle(input, 0), &mut out, &redactor).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "connecting to ****\npassword **** ok\nno newline ****"
        );
    }

    #[test]
    fn long_lines_are_passed_on_and_still_masked() {
        let redactor = Redactor::new(&["s3cret"]);
        let mut input = vec![b'x'; CHUNK * 3];
        input.extend_from_slice(b"s3cret\n");
        let mut out = Vec::new();
        relay(&input[..], &mut out, &redactor).unwrap();
        assert_eq!(out.len(), CHUNK * 3 + 5);
        assert!(out.ends_with(b"****\n"));
    }
}
