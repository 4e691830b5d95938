//! Attachments and archive entries: format detection, extraction in
//! process or in a worker, archives recursively.

use crate::charset;
use crate::containment::guarded;
use crate::document::archive::{self, Allowance, Listing, Stop};
use crate::document::{self, office, Format};
use crate::html::html_to_text;
use crate::limits::Exceeded;
use crate::location::{Field, Location};
use crate::worker;
use crate::Limits;

use super::{extract, Context, PartInfo, Section, Walker};

impl Walker<'_> {
    /// An attachment or archive entry: detect its format and extract.
    pub(super) fn document(
        &mut self,
        data: Vec<u8>,
        info: &PartInfo,
        archive_path: Option<&str>,
        charset: Option<&str>,
        ctx: &Context,
    ) {
        let location = info.location(archive_path);
        if let Err(e) = self.budget.check_time() {
            self.unscannable(location, e);
            return;
        }
        let name = archive_path
            .and_then(|p| p.rsplit('/').next())
            .or(info.filename.as_deref());
        let declared = if archive_path.is_some() {
            "application/octet-stream"
        } else {
            info.content_type.as_str()
        };
        let ctx = &Context {
            section: if ctx.section == Section::Body && info.filename.is_some() {
                Section::Attachments
            } else {
                ctx.section
            },
            ..ctx.clone()
        };
        match document::sniff(&data, declared, name) {
            Format::Text => self.text(location, charset::decode_owned(data, charset), ctx),
            Format::Html => self.text(
                location,
                html_to_text(&charset::decode(&data, charset)),
                ctx,
            ),
            Format::Rtf => {
                let result = guarded("rtf", || Ok(document::rtf::to_text(&data)));
                self.leaf_text(location, result, ctx);
            }
            Format::Pdf => self.isolated(worker::Kind::Pdf, &data, location, ctx),
            Format::Spreadsheet => self.isolated(worker::Kind::Spreadsheet, &data, location, ctx),
            format @ (Format::Docx | Format::Pptx | Format::OpenDocumentText) => {
                let allowance = self.budget.part_allowance();
                let result = guarded("office", || office::extract(&data, format, allowance));
                self.leaf_document(location, result, ctx);
            }
            Format::EncryptedOffice => {
                self.unscannable(location, "password-protected Office document")
            }
            Format::Message if archive_path.is_some() => {
                self.archived_message(&data, location, ctx)
            }
            Format::Message => self.embedded_message(&data, info, ctx.clone()),
            format @ (Format::Zip | Format::Gzip | Format::Tar) => {
                self.archive(format, data, info, archive_path, ctx)
            }
            Format::Unsupported(reason) => self.unsupported(location, reason),
        }
    }

    /// Runs an extractor that input can make allocate or loop without
    /// bound, in a worker process (or where [`worker`] is told to), with
    /// the part's allowance and the message's deadline.
    pub(super) fn isolated(
        &mut self,
        kind: worker::Kind,
        data: &[u8],
        location: Location,
        ctx: &Context,
    ) {
        let allowance = self.budget.part_allowance();
        let result = worker::extract(
            kind,
            data,
            allowance,
            self.budget.deadline,
            self.budget.limits.max_scan_time,
        );
        match result {
            Ok(extracted) => {
                if let Some(reason) = &extracted.unscannable {
                    self.unscannable(location.clone(), reason);
                }
                let document = office::DocumentText {
                    text: extracted.text,
                    expanded: extracted.expanded,
                    truncated: extracted.truncated,
                };
                self.leaf_document(location, Ok(document), ctx);
            }
            Err(reason) => self.unscannable(location, reason),
        }
    }

    pub(super) fn leaf_text(
        &mut self,
        location: Location,
        result: Result<String, String>,
        ctx: &Context,
    ) {
        match result {
            Ok(text) => {
                self.budget.charge(text.len() as u64);
                self.text(location, text, ctx);
            }
            Err(reason) => self.unscannable(location, reason),
        }
    }

    pub(super) fn leaf_document(
        &mut self,
        location: Location,
        result: Result<office::DocumentText, String>,
        ctx: &Context,
    ) {
        match result {
            Ok(doc) => {
                self.budget.charge(doc.expanded);
                if doc.truncated {
                    self.unscannable(location.clone(), self.budget.allowance_reason());
                }
                self.text(location, doc.text, ctx);
            }
            Err(reason) => self.unscannable(location, reason),
        }
    }

    pub(super) fn archive(
        &mut self,
        format: Format,
        data: Vec<u8>,
        info: &PartInfo,
        archive_path: Option<&str>,
        ctx: &Context,
    ) {
        let location = info.location(archive_path);
        let depth = ctx.depth + 1;
        if let Err(e) = self.budget.check_depth(depth) {
            self.unscannable(location, e);
            return;
        }
        let allowance = Allowance {
            max_entries: self.budget.limits.max_archive_entries,
            per_entry: self.budget.limits.max_part_bytes,
            total: self.budget.remaining_expanded(),
        };
        let inner_name = {
            let name = archive_path
                .and_then(|p| p.rsplit('/').next())
                .or(info.filename.as_deref())
                .unwrap_or("data.gz");
            let lower = name.to_ascii_lowercase();
            if lower.ends_with(".tgz") {
                format!("{}.tar", &name[..name.len() - 4])
            } else if lower.ends_with(".gz") {
                name[..name.len() - 3].to_owned()
            } else {
                name.to_owned()
            }
        };
        let result: Result<Listing, String> = guarded("archive", || match format {
            Format::Zip => archive::read_zip(&data, allowance),
            Format::Gzip => archive::read_gzip(&data, inner_name, allowance),
            _ => archive::read_tar(&data, allowance),
        });
        let listing = match result {
            Ok(l) => l,
            Err(reason) => {
                self.unscannable(location, reason);
                return;
            }
        };
        let join = |path: &str| match archive_path {
            Some(parent) => format!("{parent}/{path}"),
            None => path.to_owned(),
        };
        for (path, reason) in &listing.problems {
            self.unscannable(info.location(Some(&join(path))), reason);
        }
        match listing.stopped {
            Some(Stop::TooManyEntries) => {
                self.unscannable(
                    location.clone(),
                    Exceeded::ArchiveEntries(self.budget.limits.max_archive_entries),
                );
            }
            Some(Stop::OutOfBytes) => self.unscannable(
                location.clone(),
                Exceeded::ExpandedBytes(self.budget.limits.max_expanded_bytes),
            ),
            None => {}
        }
        let nested = Context {
            depth,
            ..ctx.clone()
        };
        if format == Format::Gzip {
            // .tgz / .tar.gz: the tar inside is the archive the user sees;
            // do not add a level for the decompressed stream.
            if let [entry] = &listing.entries[..] {
                if document::sniff(&entry.data, "application/octet-stream", Some(&entry.path))
                    == Format::Tar
                {
                    let entry = listing.entries.into_iter().next().expect("one entry");
                    self.budget.charge(entry.data.len() as u64);
                    self.archive(Format::Tar, entry.data, info, archive_path, ctx);
                    return;
                }
            }
        }
        for entry in listing.entries {
            let path = join(&entry.path);
            if let Err(e) = self.budget.take_part() {
                self.unscannable(info.location(Some(&path)), e);
                break;
            }
            if entry.truncated {
                self.unscannable(
                    info.location(Some(&path)),
                    Exceeded::PartBytes(self.budget.limits.max_part_bytes),
                );
            }
            self.budget.charge(entry.data.len() as u64);
            self.document(entry.data, info, Some(&path), None, &nested);
        }
    }

    /// A message file inside an archive has no RFC 3501 part numbers of
    /// its own: its texts are reported at the archive entry's location
    /// (subjects keep `field: "subject"`).
    pub(super) fn archived_message(&mut self, data: &[u8], location: Location, ctx: &Context) {
        let depth = ctx.depth + 1;
        if let Err(e) = self.budget.check_depth(depth) {
            self.unscannable(location, e);
            return;
        }
        let limits = Limits {
            max_depth: self.budget.limits.max_depth.min(Limits::DEPTH_CEILING) - depth,
            max_expanded_bytes: self.budget.remaining_expanded(),
            max_scan_time: self.budget.remaining_time(),
            ..self.budget.limits.clone()
        };
        let inner = extract(data, &limits);
        let nested = Context {
            depth,
            section: Section::Attachments,
            alternative: None,
            in_digest: false,
        };
        for part in inner.parts {
            self.budget.charge(part.text.len() as u64);
            let field = part.location.field.filter(|f| *f == Field::Subject);
            self.text(
                Location {
                    field,
                    ..location.clone()
                },
                part.text,
                &nested,
            );
        }
        for skipped in inner.unscannable {
            self.unscannable(location.clone(), skipped.reason);
        }
        for skipped in inner.unsupported {
            self.unsupported(location.clone(), skipped.reason);
        }
    }
}
