use super::*;

const SALT: &[u8] = b"a salt of more than sixteen bytes";

/// Rows of two columns or more, values in up to ten rows.
fn two_columns() -> RowRule {
    RowRule {
        min_columns: 2,
        primary: None,
        max_value_rows: 10,
    }
}

/// A CSV of `header` and `rows` generated rows, each `row(i)` (with its
/// newline).
fn table_of(header: &str, rows: usize, row: impl Fn(usize) -> String) -> String {
    (0..rows)
        .map(row)
        .fold(format!("{header}\n"), |t, r| t + &r)
}

fn built(table: &str) -> Vec<u8> {
    let mut out = Vec::new();
    build_from_csv(table.as_bytes(), SALT, &[], 10, &mut out).unwrap();
    out
}

#[test]
fn the_index_holds_no_cell_text_and_knows_its_salt() {
    let table = "name,account\nZebulon Quixote,ACC-55501234\nMarguerite Plimsoll,ACC-55509876\n";
    let bytes = built(table);
    for needle in [
        "zebulon", "Zebulon", "quixote", "55501234", "plimsoll", "55509876",
    ] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} is in the index"
        );
    }
    let index = EdmIndex::from_bytes(bytes.clone(), SALT).unwrap();
    assert_eq!(index.columns(), ["name", "account"]);
    assert_eq!(index.rows(), 2);
    assert!(matches!(
        EdmIndex::from_bytes(bytes, b"another salt, sixteen bytes or more"),
        Err(EdmError::WrongSalt(_))
    ));
}

#[test]
fn damaged_indexes_are_refused_or_harmless() {
    let table = table_of("a,b,c", 300, |i| {
        format!("name {i},{},x{i}y\n", 1_000_000 + i * 7)
    });
    let bytes = built(&table);
    // Every truncation is refused.
    for len in (0..bytes.len()).step_by(97) {
        assert!(EdmIndex::from_bytes(bytes[..len].to_vec(), SALT).is_err());
    }
    // Flipped bytes anywhere: refused, or loaded and searched safely.
    let text = "name 17 1000119 x17y and more words 1000126 name 18";
    let lower = crate::normalize::Normalized::new(text).lower().to_owned();
    let rule = two_columns();
    for at in (0..bytes.len()).step_by(13) {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x5a;
        if let Ok(index) = EdmIndex::from_bytes(damaged, SALT) {
            let _ = find_rows(
                &index,
                &lower,
                &search::tests::words_of(&lower),
                rule,
                &|_, _, _| false,
            );
        }
    }
    let index = EdmIndex::from_bytes(bytes, SALT).unwrap();
    let rows: Vec<u32> = find_rows(
        &index,
        &lower,
        &search::tests::words_of(&lower),
        rule,
        &|_, _, _| false,
    )
    .1
    .iter()
    .map(|r| r.row)
    .collect();
    assert_eq!(rows, [18, 19]);
}

#[test]
fn an_opened_index_reads_its_filters_as_they_are_in_the_file() {
    let table = table_of("a,b", 500, |i| {
        format!("name{i} surname{i},{}\n", 2_000_000 + i * 3)
    });
    let bytes = built(&table);
    let path = std::env::temp_dir().join(format!("sluice-edm-open-{}.edm", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let opened = EdmIndex::open(&path, SALT).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(opened.filters, Filters::Copied(_)));
    let in_memory = EdmIndex::from_bytes(bytes, SALT).unwrap();
    assert_eq!(opened.filters(), in_memory.filters());
    assert_eq!(opened.word_filter(), in_memory.word_filter());
    // And a row is found through the copied filters.
    let lower = "name17 surname17 wrote from 2000051";
    let rule = two_columns();
    let words = || search::tests::words_of(lower);
    let rows = |index: &EdmIndex| -> Vec<u32> {
        find_rows(index, lower, &words(), rule, &|_, _, _| false)
            .1
            .iter()
            .map(|r| r.row)
            .collect()
    };
    assert_eq!(rows(&opened), [18]);
    assert_eq!(rows(&in_memory), [18]);
}

#[test]
fn short_salts_and_bad_tables_are_errors() {
    assert!(matches!(Keys::new(b"short\n"), Err(EdmError::Salt(_))));
    let mut out = Vec::new();
    for bad in ["a,a\n1,2\n", "a,b\n", "a,b\n1,2,3\n", ",b\n1,2\n"] {
        assert!(
            build_from_csv(bad.as_bytes(), SALT, &[], 10, &mut out).is_err(),
            "{bad:?}"
        );
    }
    let picked = build_from_csv("a,b\n1,2\n".as_bytes(), SALT, &["c".into()], 10, &mut out);
    // A byte order mark is not part of the first column's name.
    let bom = build_from_csv(
        "\u{feff}a,b\n1,2\n".as_bytes(),
        SALT,
        &["a".into()],
        10,
        &mut out,
    );
    assert_eq!(bom.unwrap().columns, ["a"]);
    assert!(matches!(picked, Err(EdmError::Table(m)) if m.contains("no column \"c\"")));
}

#[test]
fn repeated_values_are_reported_per_column() {
    let mut table = String::from("name,city\n");
    for i in 0..30 {
        table.push_str(&format!(
            "Person {i},{}\n",
            if i % 2 == 0 { "London" } else { "Paris" }
        ));
    }
    let mut out = Vec::new();
    let report = build_from_csv(table.as_bytes(), SALT, &[], 10, &mut out).unwrap();
    assert_eq!(report.rows, 30);
    assert_eq!(
        report.repeated,
        [RepeatedColumn {
            column: "city".into(),
            values: 2,
            most_rows: 15
        }]
    );
    assert_eq!(report.bytes, out.len() as u64);
}

#[test]
fn words_left_out_by_remembered_verdicts_change_no_answer() {
    // Names, phones (written in groups; the table has their digits
    // alone, so no cell has the groups as words) and accounts, among
    // words no cell has. An index that has seen the words leaves out
    // those no cell has; a fresh one judges every word. Their answers
    // must be the same.
    let table = table_of("name,phone,account", 60, |i| {
        format!(
            "Name{} Surname{},{}{}{},ACC-{}\n",
            i % 17,
            i,
            200 + i,
            300 + i % 9,
            4000 + i,
            77_000 + i
        )
    });
    let bytes = built(&table);
    let seasoned = EdmIndex::from_bytes(bytes.clone(), SALT).unwrap();
    let table_words: Vec<String> = (0..60)
        .flat_map(|i| {
            [
                format!("name{}", i % 17),
                format!("surname{i}"),
                format!("{}-{} {}", 200 + i, 300 + i % 9, 4000 + i),
                format!("acc-{}", 77_000 + i),
                format!("{}", 300 + i % 9),
            ]
        })
        .collect();
    let other_words = [
        "the", "and", "of", "call", "3rd", "x9", "a1b", "to", "from", ".", "-",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let texts: Vec<String> = (0..400)
        .map(|_| {
            let text: Vec<&str> = (0..4 + next(40))
                .map(|_| match next(2) {
                    0 => table_words[next(table_words.len())].as_str(),
                    _ => other_words[next(other_words.len())],
                })
                .collect();
            crate::normalize::Normalized::new(&text.join(" "))
                .lower()
                .to_owned()
        })
        .collect();
    for lower in &texts {
        find_rows(
            &seasoned,
            lower,
            &search::tests::words_of(lower),
            two_columns(),
            &|_, _, _| false,
        );
    }
    let (mut left_out, mut rows) = (0, 0);
    let mut needed = Vec::new();
    for lower in &texts {
        let every_word = search::tests::words_of(lower);
        let count =
            words::needed_words(seasoned.verdicts().slots(), lower, &every_word, &mut needed);
        left_out += every_word.len() - count;
        let fresh = EdmIndex::from_bytes(bytes.clone(), SALT).unwrap();
        let every = find_rows(&fresh, lower, &every_word, two_columns(), &|_, _, _| false);
        let found = find_rows(&seasoned, lower, &every_word, two_columns(), &|_, _, _| {
            false
        });
        let spans = |cells: &[search::CellHit]| -> Vec<_> {
            cells
                .iter()
                .map(|c| (c.span.clone(), c.entries.clone()))
                .collect()
        };
        assert_eq!(spans(&found.0), spans(&every.0), "{lower}");
        assert_eq!(found.1, every.1, "{lower}");
        rows += found.1.len();
    }
    assert!(left_out > 1000, "only {left_out} words left out");
    assert!(rows > 20, "only {rows} rows found");
}
