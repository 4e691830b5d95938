//! Synthetic workloads for Sluice's benchmarks: English-like text with a
//! Zipf word distribution, and dictionaries drawn from its vocabulary, so
//! the criterion benches and the end-to-end ripgrep comparison scan the
//! same kind of input.
#![deny(missing_docs)]

/// A small deterministic PRNG (PCG-like LCG); benchmarks must be repeatable.
pub struct Lcg(u64);

impl Lcg {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Lcg(seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407))
    }

    /// The next 31 random bits.
    pub fn next_u31(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
}

const SYLLABLES: &[&str] = &[
    "an", "ber", "con", "da", "el", "for", "gen", "ho", "in", "ja", "ker", "lo", "man", "ne", "or",
    "pro", "qua", "re", "sa", "ter", "un", "ver", "wa", "xi", "yo", "zen", "ti", "ca", "mi", "sto",
    "ple", "ment", "tion", "al", "ry", "ing",
];

/// The vocabulary: `n` distinct pseudo-English words, most frequent first.
pub fn vocabulary(n: usize) -> Vec<String> {
    let mut rng = Lcg::new(7);
    let mut seen = std::collections::HashSet::new();
    let mut words = Vec::with_capacity(n);
    let common = [
        "the", "of", "and", "to", "a", "in", "is", "for", "that", "on", "with", "as", "by", "at",
        "from",
    ];
    for w in common {
        seen.insert(w.to_owned());
        words.push(w.to_owned());
    }
    while words.len() < n {
        let len = 1 + rng.next_u31() as usize % 4;
        let w: String = (0..len)
            .map(|_| SYLLABLES[rng.next_u31() as usize % SYLLABLES.len()])
            .collect();
        if seen.insert(w.clone()) {
            words.push(w);
        }
    }
    words
}

/// About `bytes` of text: sentences of Zipf-distributed words from
/// `vocabulary`, capitalized, with punctuation, numbers and line breaks.
pub fn english_like(vocabulary: &[String], bytes: usize, seed: u64) -> String {
    let mut rng = Lcg::new(seed);
    // Zipf by inverse transform on a precomputed cumulative table.
    let weights: Vec<f64> = (1..=vocabulary.len()).map(|r| 1.0 / r as f64).collect();
    let total: f64 = weights.iter().sum();
    let mut cumulative = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for w in weights {
        acc += w / total;
        cumulative.push(acc);
    }
    let mut out = String::with_capacity(bytes + 200);
    let mut line = 0usize;
    while out.len() < bytes {
        let words = 6 + rng.next_u31() as usize % 14;
        for i in 0..words {
            let u = rng.next_u31() as f64 / (1u64 << 31) as f64;
            let idx = cumulative
                .partition_point(|&c| c < u)
                .min(vocabulary.len() - 1);
            let w = &vocabulary[idx];
            if i == 0 {
                let mut c = w.chars();
                if let Some(f) = c.next() {
                    out.extend(f.to_uppercase());
                    out.push_str(c.as_str());
                }
            } else {
                out.push_str(w);
            }
            if rng.next_u31().is_multiple_of(40) {
                out.push_str(&format!(" {}", rng.next_u31() % 10_000));
            }
            out.push(if i + 1 == words {
                '.'
            } else if rng.next_u31().is_multiple_of(12) {
                ','
            } else {
                ' '
            });
            if i + 1 != words && out.as_bytes()[out.len() - 1] == b',' {
                out.push(' ');
            }
            line += w.len() + 1;
            if line > 70 {
                out.push('\n');
                line = 0;
            } else if i + 1 == words {
                out.push(' ');
            }
        }
    }
    out
}

/// `n` dictionary terms from the less frequent part of `vocabulary`
/// (a quarter of them two-word phrases), as a DLP dictionary would hold
/// names and phrases rather than stop words.
pub fn dictionary_terms(vocabulary: &[String], n: usize, seed: u64) -> Vec<String> {
    let mut rng = Lcg::new(seed);
    let lo = vocabulary.len() / 20;
    let mut seen = std::collections::HashSet::new();
    let mut terms = Vec::with_capacity(n);
    while terms.len() < n {
        let pick =
            |rng: &mut Lcg| &vocabulary[lo + rng.next_u31() as usize % (vocabulary.len() - lo)];
        let t = if rng.next_u31().is_multiple_of(4) {
            format!("{} {}", pick(&mut rng), pick(&mut rng))
        } else {
            pick(&mut rng).clone()
        };
        if seen.insert(t.clone()) {
            terms.push(t);
        }
    }
    terms
}

/// Base64 with CRLF every 76 characters, as mail clients send attachments.
pub fn base64_lines(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() * 4 / 3 + data.len() / 38 + 4);
    for (i, c) in data.chunks(3).enumerate() {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            out.push(if k <= c.len() {
                A[(n >> (18 - 6 * k)) as usize & 63] as char
            } else {
                '='
            });
        }
        if i % 19 == 18 {
            out.push_str("\r\n");
        }
    }
    out
}

/// A customer table for exact data match: `rows` rows of `name,email,
/// phone,account`. First names are 2,000 words of [`vocabulary`] that
/// the generated mail uses now and then (as "Will", "Grace" or "Bill"
/// are English words), surnames 10,000 words it never uses; emails,
/// phones and accounts are distinct per row.
pub fn customer_table(rows: usize, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let vocab = vocabulary(30_000);
    let mut rng = Lcg::new(99);
    let cap = |w: &str| {
        let mut c = w.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect::<String>())
            .unwrap_or_default()
    };
    writeln!(out, "name,email,phone,account")?;
    for i in 0..rows {
        let first = &vocab[2_000 + rng.next_u31() as usize % 2_000];
        let last = &vocab[20_000 + rng.next_u31() as usize % 10_000];
        writeln!(
            out,
            "{} {},{first}.{last}{i}@mail{}.example,+1 {:03}-{:03}-{:04},ACC-{:08}",
            cap(first),
            cap(last),
            i % 1000,
            200 + rng.next_u31() % 800,
            rng.next_u31() % 1000,
            rng.next_u31() % 10_000,
            10_000_000 + i
        )?;
    }
    Ok(())
}
