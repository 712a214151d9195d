//! The runs of digits in a text, found once a scan for every number-shaped detector (cards,
//! phones, SSNs, IPv4, IBANs are searched only around them: `detect.rs`), eight bytes at a
//! time with SWAR, since most of a text is not digits.
//!
//! Invariant: every slice is bounds-checked (no `unsafe`); each step moves forward.

use std::cell::OnceCell;

/// A run of digits joined by at most two of ` .-/:()+` between each: a number as text writes
/// it (`2024`, `4111 1111 1111 1111`, `(020) 7946 0958`, `192.168.1.20`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Run {
    pub start: usize,
    pub end: usize,
    pub digits: usize,
    pub dots: usize,
}

/// A text's runs of digits, found once (and only when a number-shaped detector asks) for every
/// detector that reads it.
pub struct Numbers<'t> {
    pub(super) text: &'t str,
    runs: OnceCell<Vec<Run>>,
}

impl<'t> Numbers<'t> {
    pub fn new(text: &'t str) -> Self {
        Numbers {
            text,
            runs: OnceCell::new(),
        }
    }

    pub(super) fn runs(&self) -> &[Run] {
        self.runs.get_or_init(|| runs(self.text.as_bytes()))
    }
}

/// The bytes of `word` that are ASCII digits, as the high bit of each (little-endian), eight
/// bytes at a time: a byte is a digit exactly when it XOR `'0'` is below 10, and "below n" is
/// the classic borrow test. A borrow can flag a byte above a true one, never below, so the
/// lowest bit set is exact (all [`next_digit`] reads).
fn digit_bits(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (ONES * u64::from(b'0'));
    x.wrapping_sub(ONES * 10) & !x & HIGH
}

/// Where the first ASCII digit at or after `from` is: 32 bytes a step while there is none
/// (most prose), then the word that holds one.
fn next_digit(bytes: &[u8], mut from: usize) -> Option<usize> {
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default());
    while from + 32 <= bytes.len() {
        let bits = [word(from), word(from + 8), word(from + 16), word(from + 24)].map(digit_bits);
        if bits.iter().all(|bits| *bits == 0) {
            from += 32;
            continue;
        }
        let (place, bits) = (bits.iter().enumerate()).find(|(_, bits)| **bits != 0)?;
        return Some(from + place * 8 + (bits.trailing_zeros() / 8) as usize);
    }
    while from + 8 <= bytes.len() {
        let bits = digit_bits(word(from));
        if bits != 0 {
            return Some(from + (bits.trailing_zeros() / 8) as usize);
        }
        from += 8;
    }
    (from..bytes.len()).find(|&at| bytes[at].is_ascii_digit())
}

/// The runs of digits in `bytes`, in order.
fn runs(bytes: &[u8]) -> Vec<Run> {
    let joins = |b: u8| matches!(b, b' ' | b'.' | b'-' | b'/' | b':' | b'(' | b')' | b'+');
    let mut runs = Vec::new();
    let mut at = 0;
    while let Some(start) = next_digit(bytes, at) {
        let (mut end, mut digits, mut dots) = (start, 0, 0);
        loop {
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
                digits += 1;
            }
            let gap = (bytes[end..].iter()).take(3).take_while(|b| joins(**b)).count();
            if gap <= 2 && bytes.get(end + gap).is_some_and(u8::is_ascii_digit) {
                dots += bytes[end..end + gap].iter().filter(|b| **b == b'.').count();
                end += gap;
            } else {
                break;
            }
        }
        runs.push(Run {
            start,
            end,
            digits,
            dots,
        });
        at = end;
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_digits_are_found_eight_bytes_at_a_time_with_their_joins() {
        let text = "in 2024, call (020) 7946 0958 or 4111-1111; ip 10.0.0.1 and x7 é 1";
        let found: Vec<(&str, usize, usize)> = (runs(text.as_bytes()).iter())
            .map(|run| (&text[run.start..run.end], run.digits, run.dots))
            .collect();
        assert_eq!(
            found,
            [
                ("2024", 4, 0),
                ("020) 7946 0958", 11, 0),
                ("4111-1111", 8, 0),
                ("10.0.0.1", 5, 3),
                ("7", 1, 0),
                ("1", 1, 0)
            ]
        );
        for word in [
            *b"abcdefgh",
            *b"\xff\xfe~~~~~~",
            *b"ABCDEFGH",
            *b"////::::",
            *b"\xb0\xb9\xf0\xf9////",
        ] {
            assert_eq!(digit_bits(u64::from_le_bytes(word)), 0, "{word:?}");
        }
        for at in 0..8 {
            let mut word = *b"////::::";
            word[at] = b'0' + at as u8;
            assert_eq!(
                digit_bits(u64::from_le_bytes(word)).trailing_zeros() / 8,
                at as u32,
                "{word:?}"
            );
        }
        // The first digit is found wherever it is, past whole blocks without one, and the
        // lowest flag is exact after a byte that borrows (`0` then `:`).
        let mut text = vec![b'x'; 100];
        for at in [0, 7, 8, 31, 32, 63, 64, 90, 99] {
            text.fill(b'x');
            text[at] = b'5';
            assert_eq!(next_digit(&text, 0), Some(at), "{at}");
            assert_eq!(next_digit(&text, at + 1), None, "{at}");
        }
        assert_eq!(next_digit(b"ab0:1", 0), Some(2));
        assert_eq!(next_digit(b"", 0), None);
    }
}
