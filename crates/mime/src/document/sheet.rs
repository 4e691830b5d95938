//! Spreadsheets (.xlsx, .xlsm, .ods) through `calamine`: every sheet's name
//! and cells, cells separated by tabs and rows by newlines.

use std::fmt::Write;
use std::io::Cursor;

use calamine::{open_workbook_auto_from_rs, Data, Reader};

use super::office::DocumentText;

/// Extracts the text of a workbook. `calamine` expands whole sheets in
/// memory, so the container's declared uncompressed size is checked against
/// `allowance` first.
pub(crate) fn extract(data: Vec<u8>, allowance: u64) -> Result<DocumentText, String> {
    let declared = declared_size(&data)?;
    if declared > allowance {
        return Err(format!(
            "limit exceeded: workbook expands to {declared} bytes, over the {allowance} allowed"
        ));
    }
    let mut book = open_workbook_auto_from_rs(Cursor::new(data))
        .map_err(|e| format!("workbook unreadable: {e}"))?;
    let mut text = String::new();
    for name in book.sheet_names() {
        let range = match book.worksheet_range(&name) {
            Ok(r) => r,
            Err(e) => return Err(format!("sheet {name:?} unreadable: {e}")),
        };
        text.push_str(&name);
        text.push('\n');
        for row in range.rows() {
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    text.push('\t');
                }
                match cell {
                    Data::Empty => {}
                    Data::String(s) => text.push_str(s),
                    Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                        let _ = write!(text, "{}", *f as i64);
                    }
                    other => {
                        let _ = write!(text, "{other}");
                    }
                }
            }
            text.push('\n');
        }
    }
    Ok(DocumentText {
        text,
        expanded: declared,
        truncated: false,
    })
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
