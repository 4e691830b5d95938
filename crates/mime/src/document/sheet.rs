//! Spreadsheets (.xlsx, .xlsm, .ods) through `calamine`: every sheet's name
//! and cells, cells separated by tabs and rows by newlines.
//!
//! Runs in an extraction worker process (see [`crate::worker`]): calamine
//! can be made to allocate without bound. `.xlsx` sheets are read cell by
//! cell (a sheet that names cells `A1` and `XFD1048576` is two cells, not
//! a 17-billion-cell grid); `.ods` has no such reader in calamine and is
//! read as a range, within the worker's memory cap.

use std::fmt::Write;
use std::io::Cursor;

use calamine::{open_workbook_auto_from_rs, Data, DataRef, Reader, Sheets};

use crate::worker::Extracted;

/// Extracts the text of a workbook. The container's declared uncompressed
/// size is checked against `allowance` first; the text stops at it.
pub(crate) fn extract(data: &[u8], allowance: u64) -> Result<Extracted, String> {
    let declared = declared_size(data)?;
    if declared > allowance {
        return Err(format!(
            "limit exceeded: workbook expands to {declared} bytes, over the {allowance} allowed"
        ));
    }
    let cap = usize::try_from(allowance).unwrap_or(usize::MAX);
    let mut book = open_workbook_auto_from_rs(Cursor::new(data))
        .map_err(|e| format!("workbook unreadable: {e}"))?;
    let mut text = String::new();
    let mut truncated = false;
    for name in book.sheet_names() {
        text.push_str(&name);
        text.push('\n');
        let done = match &mut book {
            Sheets::Xlsx(xlsx) => {
                let mut cells = xlsx
                    .worksheet_cells_reader(&name)
                    .map_err(|e| format!("sheet {name:?} unreadable: {e}"))?;
                let mut row = None;
                let mut in_row = 0usize;
                loop {
                    let cell = match cells.next_cell() {
                        Ok(Some(cell)) => cell,
                        Ok(None) => break true,
                        Err(e) => return Err(format!("sheet {name:?} unreadable: {e}")),
                    };
                    let (r, _) = cell.get_position();
                    if row != Some(r) {
                        if row.is_some() {
                            text.push('\n');
                        }
                        row = Some(r);
                        in_row = 0;
                    }
                    // Cells keep their separation, not their distance:
                    // a sparse sheet costs its cells, not its extent.
                    if in_row > 0 {
                        text.push('\t');
                    }
                    in_row += 1;
                    push_ref(&mut text, cell.get_value());
                    if text.len() > cap {
                        break false;
                    }
                }
            }
            _ => {
                let range = book
                    .worksheet_range(&name)
                    .map_err(|e| format!("sheet {name:?} unreadable: {e}"))?;
                let mut complete = true;
                for row in range.rows() {
                    for (i, cell) in row.iter().enumerate() {
                        if i > 0 {
                            text.push('\t');
                        }
                        push_data(&mut text, cell);
                    }
                    text.push('\n');
                    if text.len() > cap {
                        complete = false;
                        break;
                    }
                }
                complete
            }
        };
        text.push('\n');
        if !done {
            truncated = true;
            break;
        }
    }
    Ok(Extracted {
        text,
        expanded: declared,
        truncated,
        unscannable: None,
    })
}

fn push_number(text: &mut String, f: f64) {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        let _ = write!(text, "{}", f as i64);
    } else {
        let _ = write!(text, "{f}");
    }
}

fn push_data(text: &mut String, cell: &Data) {
    match cell {
        Data::Empty => {}
        Data::String(s) => text.push_str(s),
        Data::Float(f) => push_number(text, *f),
        other => {
            let _ = write!(text, "{other}");
        }
    }
}

fn push_ref(text: &mut String, cell: &DataRef<'_>) {
    match cell {
        DataRef::Empty => {}
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => text.push_str(s),
        DataRef::SharedString(s) => text.push_str(s),
        DataRef::Float(f) => push_number(text, *f),
        DataRef::Int(i) => {
            let _ = write!(text, "{i}");
        }
        DataRef::Bool(b) => {
            let _ = write!(text, "{b}");
        }
        DataRef::DateTime(d) => {
            let _ = write!(text, "{d}");
        }
        DataRef::Error(e) => {
            let _ = write!(text, "{e}");
        }
    }
}

fn declared_size(data: &[u8]) -> Result<u64, String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(data))
        .map_err(|e| format!("workbook container unreadable: {e}"))?;
    let mut total = 0u64;
    for i in 0..zip.len() {
        let entry = zip
            .by_index_raw(i)
            .map_err(|e| format!("workbook container unreadable: {e}"))?;
        if entry.encrypted() {
            return Err("password-protected document".into());
        }
        total = total.saturating_add(entry.size());
    }
    Ok(total)
}
