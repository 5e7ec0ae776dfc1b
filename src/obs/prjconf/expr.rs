//! rpm's expression language as obs-build evaluates `%if` (after macro expansion):
//! numbers, `"strings"`, `v"versions"` (compared as strings), bare words, `!`, unary
//! `-`, `* /`, `+ -`, comparisons, `&&`, `||` and parentheses.

#[derive(Debug, Clone, PartialEq)]
enum V {
    Num(i64),
    Str(String),
}

impl V {
    fn truth(&self) -> bool {
        match self {
            V::Num(n) => *n != 0,
            V::Str(s) => !s.is_empty(),
        }
    }
    fn as_str(&self) -> String {
        match self {
            V::Num(n) => n.to_string(),
            V::Str(s) => s.clone(),
        }
    }
}

/// Parentheses and prefix operators nest at most this deep; deeper expressions are
/// unreadable (false) instead of overflowing the stack.
const MAX_NESTING: u32 = 256;

/// The truth of an `%if` expression; unreadable expressions are false (obs-build skips).
pub fn truth(s: &str) -> bool {
    let mut p = P {
        s: s.as_bytes(),
        i: 0,
        depth: 0,
    };
    match p.or() {
        Some(v) => {
            p.ws();
            v.truth()
        }
        None => false,
    }
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
    /// Open parentheses and prefix operators around the current position.
    depth: u32,
}

impl P<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, t: &str) -> bool {
        self.ws();
        if self.s[self.i..].starts_with(t.as_bytes()) {
            self.i += t.len();
            true
        } else {
            false
        }
    }
    fn or(&mut self) -> Option<V> {
        let mut v = self.and()?;
        while self.eat("||") {
            let r = self.and()?;
            v = if v.truth() { v } else { r };
        }
        Some(v)
    }
    fn and(&mut self) -> Option<V> {
        let mut v = self.cmp()?;
        while self.eat("&&") {
            let r = self.cmp()?;
            v = if v.truth() { r } else { v };
        }
        Some(v)
    }
    fn cmp(&mut self) -> Option<V> {
        let mut v = self.add()?;
        loop {
            let op = ["==", "!=", ">=", "<=", ">", "<"]
                .into_iter()
                .find(|op| self.eat(op));
            let Some(op) = op else { return Some(v) };
            let r = self.add()?;
            let ord = match (&v, &r) {
                (V::Num(a), V::Num(b)) => a.cmp(b),
                _ => v.as_str().cmp(&r.as_str()),
            };
            use std::cmp::Ordering::*;
            let b = match op {
                "==" => ord == Equal,
                "!=" => ord != Equal,
                ">=" => ord != Less,
                "<=" => ord != Greater,
                ">" => ord == Greater,
                _ => ord == Less,
            };
            v = V::Num(b as i64);
        }
    }
    fn add(&mut self) -> Option<V> {
        let mut v = self.mul()?;
        loop {
            if self.eat("+") {
                let r = self.mul()?;
                v = match (v, r) {
                    (V::Num(a), V::Num(b)) => V::Num(a.wrapping_add(b)),
                    (a, b) => V::Str(a.as_str() + &b.as_str()),
                };
            } else if self.peek_minus() {
                self.i += 1;
                let r = self.mul()?;
                v = V::Num(num(&v)?.wrapping_sub(num(&r)?));
            } else {
                return Some(v);
            }
        }
    }
    fn peek_minus(&mut self) -> bool {
        self.ws();
        self.s.get(self.i) == Some(&b'-')
    }
    fn mul(&mut self) -> Option<V> {
        let mut v = self.unary()?;
        loop {
            if self.eat("*") {
                let r = self.unary()?;
                v = V::Num(num(&v)?.wrapping_mul(num(&r)?));
            } else if self.eat("/") {
                let r = num(&self.unary()?)?;
                if r == 0 {
                    return None;
                }
                // wrapping: i64::MIN / -1 overflows
                v = V::Num(num(&v)?.wrapping_div(r));
            } else {
                return Some(v);
            }
        }
    }
    fn unary(&mut self) -> Option<V> {
        self.depth += 1;
        let v = if self.depth > MAX_NESTING {
            None
        } else {
            self.operand()
        };
        self.depth -= 1;
        v
    }
    fn operand(&mut self) -> Option<V> {
        self.ws();
        if self.eat("!") {
            let v = self.unary()?;
            return Some(V::Num(!v.truth() as i64));
        }
        if self.peek_minus() {
            self.i += 1;
            let v = self.unary()?;
            return Some(V::Num(num(&v)?.wrapping_neg()));
        }
        if self.eat("(") {
            let v = self.or()?;
            if !self.eat(")") {
                return None;
            }
            return Some(v);
        }
        self.ws();
        let rest = &self.s[self.i..];
        match rest.first()? {
            b'"' => {
                let end = rest[1..].iter().position(|&c| c == b'"')?;
                let s = String::from_utf8_lossy(&rest[1..1 + end]).into_owned();
                self.i += end + 2;
                Some(V::Str(s))
            }
            b'v' if rest.get(1) == Some(&b'"') => {
                let end = rest[2..].iter().position(|&c| c == b'"')?;
                let s = String::from_utf8_lossy(&rest[2..2 + end]).into_owned();
                self.i += end + 3;
                Some(V::Str(s))
            }
            c if c.is_ascii_digit() => {
                let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
                let v = std::str::from_utf8(&rest[..n]).ok()?.parse::<i64>().ok()?;
                self.i += n;
                Some(V::Num(v))
            }
            c if c.is_ascii_alphabetic() => {
                let n = rest
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                let s = String::from_utf8_lossy(&rest[..n]).into_owned();
                self.i += n;
                Some(V::Str(s))
            }
            _ => None,
        }
    }
}

fn num(v: &V) -> Option<i64> {
    match v {
        V::Num(n) => Some(*n),
        V::Str(s) => s.trim().parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::truth;

    #[test]
    fn expressions() {
        assert!(truth(" 1"));
        assert!(!truth(" 0"));
        assert!(truth(r#" "a" == "a""#));
        assert!(!truth(r#" "a" == "b" || "c" != "c""#));
        assert!(truth(r#" "a" == "b" || "c" == "c""#));
        assert!(truth(" 01"));
        assert!(!truth(" 0 && 1"));
        assert!(truth(" 1500 >= 1315"));
        assert!(truth(" !(1 > 2)"));
        assert!(!truth(" \"\""));
        assert!(!truth(" ==garbage"));
    }

    #[test]
    fn overflow_and_nesting_do_not_panic() {
        // i64::MIN built by wrapping arithmetic, then negated and divided by -1
        assert!(truth("-(0-9223372036854775807-1)"));
        assert!(truth("(0-9223372036854775807-1) / -1"));
        assert!(!truth("1 / 0"));
        // deeper than MAX_NESTING: unreadable, false, and no stack overflow
        assert!(!truth(&format!(
            "{}1{}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        )));
        assert!(!truth(&"!".repeat(100_000)));
        assert!(truth(&format!("{}1{}", "(".repeat(200), ")".repeat(200))));
    }
}
