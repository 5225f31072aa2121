//! Column storage: dictionary codes in the narrowest integer type that holds them, and the
//! dictionaries themselves (text or integer values, code 0 meaning NULL).

use rustc_hash::FxHashMap;

/// Dictionary codes of one column, one per row, widened from `u8` to `u16` to `u32` as the
/// dictionary grows.
#[derive(Debug, Clone)]
pub(crate) enum Codes {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

impl Codes {
    /// Codes of the narrowest type that holds `max_code`, with room for `capacity` rows.
    pub(crate) fn for_max(max_code: u32, capacity: usize) -> Codes {
        if max_code <= u32::from(u8::MAX) {
            Codes::U8(Vec::with_capacity(capacity))
        } else if max_code <= u32::from(u16::MAX) {
            Codes::U16(Vec::with_capacity(capacity))
        } else {
            Codes::U32(Vec::with_capacity(capacity))
        }
    }

    #[inline]
    pub(crate) fn get(&self, row: usize) -> u32 {
        match self {
            Codes::U8(v) => u32::from(v[row]),
            Codes::U16(v) => u32::from(v[row]),
            Codes::U32(v) => v[row],
        }
    }

    /// Widens the storage if `code` does not fit.
    fn fit(&mut self, code: u32) {
        match self {
            Codes::U8(v) if code > u32::from(u8::MAX) => {
                *self = if code > u32::from(u16::MAX) {
                    Codes::U32(v.iter().map(|c| u32::from(*c)).collect())
                } else {
                    Codes::U16(v.iter().map(|c| u16::from(*c)).collect())
                }
            }
            Codes::U16(v) if code > u32::from(u16::MAX) => {
                *self = Codes::U32(v.iter().map(|c| u32::from(*c)).collect())
            }
            _ => {}
        }
    }

    pub(crate) fn push(&mut self, code: u32) {
        self.fit(code);
        // `fit` made every code fit its type.
        match self {
            Codes::U8(v) => v.push(code as u8),
            Codes::U16(v) => v.push(code as u16),
            Codes::U32(v) => v.push(code),
        }
    }

    pub(crate) fn set(&mut self, row: usize, code: u32) {
        self.fit(code);
        match self {
            Codes::U8(v) => v[row] = code as u8,
            Codes::U16(v) => v[row] = code as u16,
            Codes::U32(v) => v[row] = code,
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        match self {
            Codes::U8(v) => v.capacity(),
            Codes::U16(v) => v.capacity() * 2,
            Codes::U32(v) => v.capacity() * 4,
        }
    }

    /// Adds, for every row in `rows`, one to `counts[code]`. Four interleaved counter arrays
    /// keep runs of equal codes from waiting on each other's increments.
    pub(crate) fn count(&self, rows: &[u32], counts: &mut [u64]) {
        match self {
            Codes::U8(v) => count_into(v, rows, counts),
            Codes::U16(v) => count_into(v, rows, counts),
            Codes::U32(v) => count_into(v, rows, counts),
        }
    }
}

fn count_into<T: Copy + Into<u32>>(codes: &[T], rows: &[u32], counts: &mut [u64]) {
    let n = counts.len();
    let mut lanes = vec![0u32; n * 4];
    let (a, rest) = lanes.split_at_mut(n);
    let (b, rest) = rest.split_at_mut(n);
    let (c, d) = rest.split_at_mut(n);
    let mut quads = rows.chunks_exact(4);
    for q in &mut quads {
        a[codes[q[0] as usize].into() as usize] += 1;
        b[codes[q[1] as usize].into() as usize] += 1;
        c[codes[q[2] as usize].into() as usize] += 1;
        d[codes[q[3] as usize].into() as usize] += 1;
    }
    for &r in quads.remainder() {
        a[codes[r as usize].into() as usize] += 1;
    }
    for (k, total) in counts.iter_mut().enumerate() {
        *total += u64::from(a[k]) + u64::from(b[k]) + u64::from(c[k]) + u64::from(d[k]);
    }
}

/// The rows of every value of a dictionary column: the rows holding code `k` are
/// `rows[starts[k]..starts[k + 1]]`, in row order. Built in two passes over the column (count,
/// then place), for selections that name a few values of a column with many.
#[derive(Debug)]
pub(crate) struct Postings {
    starts: Vec<u32>,
    rows: Vec<u32>,
}

impl Postings {
    pub(crate) fn build(codes: &Codes, values: usize, len: usize) -> Postings {
        let mut starts = vec![0u32; values + 1];
        for i in 0..len {
            starts[codes.get(i) as usize + 1] += 1;
        }
        for k in 1..starts.len() {
            starts[k] += starts[k - 1];
        }
        let mut next = starts.clone();
        let mut rows = vec![0u32; len];
        for i in 0..len {
            let slot = &mut next[codes.get(i) as usize];
            rows[*slot as usize] = i as u32;
            *slot += 1;
        }
        Postings { starts, rows }
    }

    /// The rows holding `code`.
    pub(crate) fn rows(&self, code: usize) -> &[u32] {
        match (self.starts.get(code), self.starts.get(code + 1)) {
            (Some(&a), Some(&b)) => &self.rows[a as usize..b as usize],
            _ => &[],
        }
    }
}

/// The distinct values of a column; code 0 is NULL.
#[derive(Debug, Clone)]
pub(crate) enum Dict {
    Text {
        values: Vec<Box<str>>,
        codes: FxHashMap<Box<str>, u32>,
        /// The code looked up last: rows in table order often repeat it, and comparing is
        /// cheaper than hashing.
        last: u32,
    },
    Int {
        values: Vec<i64>,
        codes: FxHashMap<i64, u32>,
        last: u32,
    },
}

/// One dictionary value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Entry<'a> {
    Null,
    Text(&'a str),
    Int(i64),
}

impl Dict {
    pub(crate) fn text() -> Dict {
        Dict::Text {
            values: vec![Box::from("")],
            codes: FxHashMap::default(),
            last: 0,
        }
    }

    pub(crate) fn int() -> Dict {
        Dict::Int {
            values: vec![0],
            codes: FxHashMap::default(),
            last: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Dict::Text { values, .. } => values.len(),
            Dict::Int { values, .. } => values.len(),
        }
    }

    /// The code of a text value, adding it if new. Only for text dictionaries.
    pub(crate) fn text_code(&mut self, value: &str) -> Option<u32> {
        let Dict::Text {
            values,
            codes,
            last,
        } = self
        else {
            return None;
        };
        if *last != 0 && *values[*last as usize] == *value {
            return Some(*last);
        }
        let c = match codes.get(value) {
            Some(&c) => c,
            None => {
                let c = values.len() as u32;
                values.push(Box::from(value));
                codes.insert(Box::from(value), c);
                c
            }
        };
        *last = c;
        Some(c)
    }

    /// The code of an integer value, adding it if new. Only for integer dictionaries.
    pub(crate) fn int_code(&mut self, value: i64) -> Option<u32> {
        let Dict::Int {
            values,
            codes,
            last,
        } = self
        else {
            return None;
        };
        if *last != 0 && values[*last as usize] == value {
            return Some(*last);
        }
        let c = match codes.get(&value) {
            Some(&c) => c,
            None => {
                let c = values.len() as u32;
                values.push(value);
                codes.insert(value, c);
                c
            }
        };
        *last = c;
        Some(c)
    }

    /// The code of a value already held, without adding it.
    pub(crate) fn code_of(&self, value: Entry<'_>) -> Option<u32> {
        match (self, value) {
            (_, Entry::Null) => Some(0),
            (Dict::Text { codes, .. }, Entry::Text(t)) => codes.get(t).copied(),
            (Dict::Int { codes, .. }, Entry::Int(v)) => codes.get(&v).copied(),
            _ => None,
        }
    }

    pub(crate) fn entry(&self, code: u32) -> Entry<'_> {
        if code == 0 {
            return Entry::Null;
        }
        match self {
            Dict::Text { values, .. } => Entry::Text(&values[code as usize]),
            Dict::Int { values, .. } => Entry::Int(values[code as usize]),
        }
    }

    pub(crate) fn text_of(&self, code: u32) -> Option<&str> {
        match self.entry(code) {
            Entry::Text(t) => Some(t),
            _ => None,
        }
    }

    pub(crate) fn int_of(&self, code: u32) -> Option<i64> {
        match self.entry(code) {
            Entry::Int(v) => Some(v),
            _ => None,
        }
    }

    /// A dictionary of only the codes marked `used`, and the old-to-new code map.
    pub(crate) fn retain(&self, used: &[bool]) -> (Dict, Vec<u32>) {
        let mut remap = vec![0u32; self.len()];
        let mut kept = match self {
            Dict::Text { .. } => Dict::text(),
            Dict::Int { .. } => Dict::int(),
        };
        for (code, is_used) in used.iter().enumerate().skip(1) {
            if !*is_used {
                continue;
            }
            remap[code] = match (self.entry(code as u32), &mut kept) {
                (Entry::Text(t), kept) => kept.text_code(t).unwrap_or(0),
                (Entry::Int(v), kept) => kept.int_code(v).unwrap_or(0),
                (Entry::Null, _) => 0,
            };
        }
        (kept, remap)
    }

    /// Approximate heap bytes: the values and the lookup table.
    pub(crate) fn bytes(&self) -> usize {
        match self {
            Dict::Text { values, codes, .. } => {
                let text: usize = values.iter().map(|v| v.len()).sum();
                values.capacity() * 16 + 2 * text + codes.capacity() * 25
            }
            Dict::Int { values, codes, .. } => values.capacity() * 8 + codes.capacity() * 17,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_widen_and_keep_their_values() {
        let mut codes = Codes::for_max(0, 4);
        for c in [0, 1, 255] {
            codes.push(c);
        }
        assert!(matches!(codes, Codes::U8(_)));
        codes.push(256);
        assert!(matches!(codes, Codes::U16(_)));
        codes.set(0, 70_000);
        assert!(matches!(codes, Codes::U32(_)));
        assert_eq!(
            (0..4).map(|i| codes.get(i)).collect::<Vec<_>>(),
            vec![70_000, 1, 255, 256]
        );
    }

    #[test]
    fn counting_covers_every_listed_row() {
        let mut codes = Codes::for_max(3, 10);
        for c in [1, 2, 2, 3, 3, 3, 0, 1, 2] {
            codes.push(c);
        }
        let mut counts = vec![0u64; 4];
        codes.count(&[0, 1, 2, 3, 4, 5, 6, 7, 8], &mut counts);
        assert_eq!(counts, vec![1, 2, 3, 3]);
        codes.count(&[5], &mut counts);
        assert_eq!(counts, vec![1, 2, 3, 4]);
    }

    #[test]
    fn postings_list_every_row_of_each_value_in_order() {
        let mut codes = Codes::for_max(3, 9);
        for c in [1, 2, 2, 3, 3, 3, 0, 1, 2] {
            codes.push(c);
        }
        let postings = Postings::build(&codes, 4, 9);
        assert_eq!(postings.rows(0), &[6]);
        assert_eq!(postings.rows(1), &[0, 7]);
        assert_eq!(postings.rows(2), &[1, 2, 8]);
        assert_eq!(postings.rows(3), &[3, 4, 5]);
        assert!(
            postings.rows(4).is_empty(),
            "a code past the dictionary has no rows"
        );
    }

    #[test]
    fn retained_dictionaries_drop_unused_values() {
        let mut dict = Dict::text();
        for v in ["a", "b", "c"] {
            dict.text_code(v);
        }
        let (kept, remap) = dict.retain(&[true, false, true, true]);
        assert_eq!(kept.len(), 3);
        assert_eq!(remap, vec![0, 0, 1, 2]);
        assert_eq!(kept.text_of(remap[3]), Some("c"));
    }
}
