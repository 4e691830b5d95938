use super::kgrams::*;
use super::*;
use crate::normalize::Normalized;

/// Deterministic English-like prose from a fixed vocabulary.
pub(crate) fn prose(seed: u64, words: usize) -> String {
    const VOCAB: &[&str] = &[
        "the",
        "board",
        "approved",
        "revenue",
        "forecast",
        "for",
        "next",
        "quarter",
        "and",
        "asked",
        "management",
        "to",
        "review",
        "customer",
        "contracts",
        "with",
        "regional",
        "partners",
        "before",
        "signing",
        "new",
        "agreements",
        "of",
        "market",
        "growth",
        "risk",
        "plan",
        "budget",
        "team",
        "meeting",
        "strategy",
        "sales",
        "in",
        "a",
        "on",
    ];
    let mut v = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut out = String::new();
    for i in 0..words {
        v = v
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.push_str(VOCAB[(v >> 33) as usize % VOCAB.len()]);
        out.push(if i % 13 == 12 { '.' } else { ' ' });
        if i % 13 == 12 {
            out.push(' ');
        }
    }
    out
}

/// Pseudo-random numbers from `seed` (a linear congruential
/// generator, its state folded).
fn numbers(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        seed ^ (seed >> 29)
    }
}

fn sorted(v: Vec<(u64, u64)>) -> Vec<u64> {
    let mut v: Vec<u64> = v.into_iter().map(|(h, _)| h).collect();
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn excerpt_found_unrelated_not() {
    let doc = prose(1, 600);
    let fp = DocumentFingerprint::new("board", &doc);
    let words: Vec<&str> = doc.split(' ').collect();
    let excerpt = words[200..380]
        .join(" ")
        .to_uppercase()
        .replace(". ", ".\r\n");
    let message = sorted(kgram_hashes(&format!(
        "Hi team, see <b>below</b>:\n{excerpt}\nthanks"
    )));
    assert!(fp.similarity(&message) >= 20, "{}", fp.similarity(&message));
    let unrelated = sorted(kgram_hashes(&prose(2, 2000)));
    assert!(
        fp.similarity(&unrelated) < 5,
        "{}",
        fp.similarity(&unrelated)
    );
}

/// A document's fingerprint, and a message (normalized, lowercased)
/// with 300 of its words between unrelated prose.
fn minutes_pasted() -> (DocumentFingerprint, String) {
    let doc = prose(3, 800);
    let fp = DocumentFingerprint::new("minutes", &doc);
    let words: Vec<&str> = doc.split(' ').collect();
    let text = format!(
        "{} {} {}",
        prose(4, 300),
        words[100..400].join(" "),
        prose(5, 300)
    );
    (fp, Normalized::new(&text).lower().to_owned())
}

#[test]
fn the_filter_finds_exactly_what_full_hashing_finds() {
    let (fp, lower) = minutes_pasted();
    assert_eq!(fp.filter.len(), fp.hashes.len());
    let index: HashSet<u64> = fp.hashes.iter().copied().collect();
    let filter = KgramFilter::new(fp.filter.iter().copied());
    let mut full = Vec::new();
    for_each_kgram(&lower, None, |h, _| full.push(h));
    let mut filtered = Vec::new();
    for_each_kgram(&lower, Some(&filter), |h, _| filtered.push(h));
    assert!(
        filtered.len() * 4 < full.len(),
        "the filter skips most k-grams"
    );
    let found = |v: &[u64]| {
        sorted(v.iter().map(|&h| (h, 0)).collect())
            .into_iter()
            .filter(|h| index.contains(h))
            .collect::<Vec<_>>()
    };
    assert_eq!(found(&filtered), found(&full));
    assert!(fp.similarity(&found(&full)) >= 20);
}

#[test]
fn the_confirming_filter_turns_away_most_false_passes() {
    let mut next = numbers(11);
    let held: Vec<u64> = (0..200_000).map(|_| next()).collect();
    let filter = KgramFilter::new(held.iter().copied());
    assert!(held.iter().all(|&h| filter.holds_for_test(h)));
    let others: Vec<u64> = (0..1_000_000).map(|_| next()).collect();
    let passing = others
        .iter()
        .filter(|&&h| filter.passes_for_test(h))
        .count();
    let held_too = others.iter().filter(|&&h| filter.holds_for_test(h)).count();
    // About one in sixty passes the first word; of those, about one
    // in fifty the confirming one.
    assert!((8_000..30_000).contains(&passing), "{passing}");
    assert!(held_too * 20 < passing, "{held_too} of {passing}");
}

#[test]
fn a_small_library_rules_out_most_kgrams_by_their_top_bits() {
    let mut next = numbers(13);
    let held: Vec<u64> = (0..2000).map(|_| next()).collect();
    let filter = KgramFilter::new(held.iter().copied());
    assert!(held.iter().all(|&h| filter.may_hold_for_test(h)));
    let others: Vec<u64> = (0..100_000).map(|_| next()).collect();
    let passing = others
        .iter()
        .filter(|&&h| filter.may_hold_for_test(h))
        .count();
    // 2,000 values of 65,536 set: about 3%.
    assert!((1_500..4_500).contains(&passing), "{passing}");
    // A larger library has no such test: everything may be held.
    let large = KgramFilter::new((0..3000).map(|_| next()));
    assert!(others.iter().all(|&h| large.may_hold_for_test(h)));
}

#[test]
fn the_confirming_bits_are_in_another_word_of_the_same_cache_line() {
    let mut next = numbers(12);
    let held: Vec<u64> = (0..100_000).map(|_| next()).collect();
    let filter = KgramFilter::new(held.iter().copied());
    let mut steps = [0usize; 8];
    for &h in &held {
        let (first, confirm) = filter.words_for_test(h);
        assert_eq!(first / 8, confirm / 8, "{h:#x}");
        assert_ne!(first, confirm, "{h:#x}");
        steps[(confirm + 8 - first) % 8] += 1;
    }
    // Every other word of the line is used, about equally.
    assert!(steps[1..].iter().all(|&n| n > 100_000 / 7 / 2), "{steps:?}");
}

#[test]
fn a_large_filter_reports_the_same_kgrams_places_and_words() {
    let (fp, lower) = minutes_pasted();
    let index: HashSet<u64> = fp.hashes.iter().copied().collect();
    // The document's k-grams among enough others to make the filter
    // large, so the prefetching loop runs.
    let filler = (0..400_000u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let filter = KgramFilter::new(fp.filter.iter().copied().chain(filler));
    assert!(filter.is_large());
    let run = |filter: Option<&KgramFilter>| {
        let (mut grams, mut seen) = (Vec::new(), Vec::new());
        for_each_kgram_and_word(
            &lower,
            filter,
            |h, cheap, at| {
                if index.contains(&h) {
                    grams.push((h, cheap, at));
                }
            },
            |w: &[u8], cheap| seen.push((w.to_vec(), cheap)),
        );
        (grams, seen)
    };
    let (large, large_words) = run(Some(&filter));
    let (full, full_words) = run(None);
    assert!(large.len() > 50, "the pasted passage is found");
    assert_eq!(large, full);
    assert_eq!(large_words, full_words);
}

#[test]
fn block_word_split_matches_a_plain_split() {
    // Texts of every length around the 64-byte blocks, words of every
    // length around the 8-byte loads, at every alignment.
    let mut numbers = numbers(7);
    let mut next = move || (numbers() >> 4) as usize;
    // Mostly separators (short words), then mostly letters (long ones).
    let alphabets: [&[u8]; 2] = [
        b"ab9Z -.,\n\t_@[`{/:",
        b"abcdefghijklmnopqrstuvwxyz0189XYZ ",
    ];
    for (len, alphabet) in (0..300)
        .chain([1000, 4096])
        .flat_map(|len| alphabets.map(|a| (len, a)))
    {
        let text: String = (0..len)
            .map(|_| alphabet[next() % alphabet.len()] as char)
            .collect();
        let expected: Vec<(&[u8], u64)> = text
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| (w.as_bytes(), cheap_word_hash(w.as_bytes())))
            .collect();
        let mut found = Vec::new();
        for_each_word(&text, |w, h| found.push((w, h)));
        assert_eq!(found, expected, "{text:?}");
    }
    let long = "x".repeat(70) + " " + &"y".repeat(64);
    let mut found = Vec::new();
    for_each_word(&long, |w: &[u8], _| found.push(w.len()));
    assert_eq!(found, [70, 64]);
}

#[test]
fn version_1_files_are_still_read() {
    let v2 = FingerprintSet {
        documents: vec![DocumentFingerprint::new("memo", &prose(6, 100))],
    };
    let mut v1: serde_json::Value = serde_json::from_str(&v2.to_json()).unwrap();
    v1["version"] = 1.into();
    v1["documents"][0].as_object_mut().unwrap().remove("filter");
    let read = FingerprintSet::from_json(&v1.to_string()).unwrap();
    assert_eq!(read.documents[0].hashes, v2.documents[0].hashes);
    assert!(read.documents[0].filter.is_empty());
}
