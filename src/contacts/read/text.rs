//! Delimited text files as people's tools write them: `,` `;` or tab separated (detected from
//! the header row, or `--delimiter`), in UTF-8 with or without BOM, UTF-16 with BOM (Excel's
//! "Unicode text"), or a legacy code page (Windows-1256, Windows-1252, ISO-8859-6, ...)
//! detected with chardetng or named with `--encoding`. A file that is not valid in the encoding
//! used is refused before any row is read, with the line of the first bad byte, the likely
//! encoding and the flag — never rows dropped silently. Line numbers are the file's own: the
//! line where a row starts, whatever its line endings or multi-line cells.

use super::{ReadError, ReadOptions, Table};
use crate::contacts::import::Rejection;
use encoding_rs::Encoding;
use std::collections::VecDeque;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Opens a delimited text file.
pub fn open(path: &Path, opts: &ReadOptions) -> Result<Table, ReadError> {
    let label = path.display().to_string();
    let fail = |message: String| ReadError {
        file: label.clone(),
        message,
    };
    let io = |e: std::io::Error| fail(e.to_string());
    let (encoding, how) = choose_encoding(path, opts).map_err(fail)?;
    let file = std::fs::File::open(path).map_err(io)?;
    let decoded: Box<dyn Read + Send> = if encoding == encoding_rs::UTF_8 && how != "UTF-8 with BOM" {
        Box::new(BufReader::with_capacity(1 << 16, file))
    } else {
        Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding))
                .bom_override(true)
                .strip_bom(true)
                .build(BufReader::with_capacity(1 << 16, file)),
        )
    };
    // The header row decides the delimiter: peek at the beginning, then read it again.
    let mut head = Vec::with_capacity(1 << 16);
    let mut decoded = decoded;
    decoded.by_ref().take(1 << 16).read_to_end(&mut head).map_err(io)?;
    let delimiter = match opts.delimiter {
        Some(d) => d,
        None => detect_delimiter(&head),
    };
    let newlines = Arc::new(Mutex::new(Newlines::default()));
    let counted = LineCounter {
        inner: std::io::Cursor::new(head).chain(decoded),
        offset: 0,
        newlines: newlines.clone(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .trim(csv::Trim::All)
        .delimiter(delimiter)
        .from_reader(counted);
    let mut record = csv::StringRecord::new();
    let header_read = reader.read_record(&mut record).map_err(|e| fail(format!("header row: {e}")))?;
    if !header_read {
        return Err(fail(
            "the file is empty: the first row must name the columns (email, phone, first_name...)".into(),
        ));
    }
    let headers: Vec<String> = record.iter().map(|h| h.trim_start_matches('\u{feff}').to_string()).collect();
    let shown = match delimiter {
        b'\t' => "tab".to_string(),
        b',' => "comma".to_string(),
        b';' => "semicolon".to_string(),
        b'|' => "pipe".to_string(),
        d => format!("{:?}", d as char),
    };
    let rows = TextRows {
        reader,
        record,
        newlines,
        label: label.clone(),
    };
    Ok(Table {
        label,
        headers,
        header_line: 1,
        described: format!("{how}, {shown}-separated"),
        rows: Box::new(rows),
    })
}

/// The encoding to read with, and how it was chosen (for the summary).
fn choose_encoding(path: &Path, opts: &ReadOptions) -> Result<(&'static Encoding, String), String> {
    let mut start = [0u8; 3];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut start))
        .map_err(|e| e.to_string())?;
    if let Some((bom, _)) = Encoding::for_bom(&start[..n]) {
        let how = if bom == encoding_rs::UTF_8 {
            "UTF-8 with BOM".to_string()
        } else {
            format!("{} (byte order mark)", bom.name())
        };
        return Ok((bom, how));
    }
    let named = match &opts.encoding {
        Some(name) => Some(Encoding::for_label(name.trim().as_bytes()).ok_or_else(|| {
            format!("--encoding {name:?}: unknown encoding (e.g. utf-8, windows-1256, windows-1252, iso-8859-6, utf-16le)")
        })?),
        None => None,
    };
    let encoding = named.unwrap_or(encoding_rs::UTF_8);
    match first_malformed(path, encoding).map_err(|e| e.to_string())? {
        None if named.is_some() => Ok((encoding, format!("{} (--encoding)", encoding.name()))),
        None => Ok((encoding, "UTF-8".to_string())),
        Some(line) => {
            let likely = detect(path).map_err(|e| e.to_string())?;
            if named.is_none() && likely != encoding_rs::UTF_8 && first_malformed(path, likely).map_err(|e| e.to_string())?.is_none() {
                return Ok((likely, format!("{} (detected: the file is not UTF-8)", likely.name())));
            }
            Err(format!(
                "line {line}: the file is not valid {}; it looks like {} — run again with `--encoding {}` \
                 (or save it from your spreadsheet as \"CSV UTF-8\")",
                encoding.name(),
                likely.name(),
                likely.name().to_ascii_lowercase()
            ))
        }
    }
}

/// The line of the first byte sequence that is not valid in `encoding`, or `None`.
fn first_malformed(path: &Path, encoding: &'static Encoding) -> std::io::Result<Option<u64>> {
    let mut file = BufReader::with_capacity(1 << 16, std::fs::File::open(path)?);
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let (mut input, mut output) = (vec![0u8; 1 << 16], vec![0u8; 3 << 16]);
    let mut line = 1u64;
    loop {
        let n = file.read(&mut input)?;
        let last = n == 0;
        let mut consumed = 0;
        loop {
            let (result, read, written) = decoder.decode_to_utf8_without_replacement(&input[consumed..n], &mut output, last);
            line += output[..written].iter().filter(|b| **b == b'\n').count() as u64;
            consumed += read;
            match result {
                encoding_rs::DecoderResult::InputEmpty => break,
                encoding_rs::DecoderResult::OutputFull => continue,
                encoding_rs::DecoderResult::Malformed(_, _) => return Ok(Some(line)),
            }
        }
        if last {
            return Ok(None);
        }
    }
}

/// The encoding chardetng finds most likely for the whole file.
fn detect(path: &Path) -> std::io::Result<&'static Encoding> {
    let mut file = BufReader::new(std::fs::File::open(path)?);
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        detector.feed(&buf[..n], n == 0);
        if n == 0 {
            return Ok(detector.guess(None, chardetng::Utf8Detection::Deny));
        }
    }
}

/// `,` `;` or tab: whichever the header row (outside quotes) has most of; `,` on a tie.
fn detect_delimiter(head: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in head {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], std::cmp::Reverse(i))).unwrap_or(0);
    if counts[best] == 0 { b',' } else { [b',', b';', b'\t'][best] }
}

/// Offsets of the newlines read so far that no row has been numbered past yet.
#[derive(Default)]
struct Newlines {
    pending: VecDeque<u64>,
    before: u64,
}

impl Newlines {
    /// The 1-based line of the byte at `offset`.
    fn line_of(&mut self, offset: u64) -> u64 {
        // A CRLF row is reported as starting at the `\n` of the line before: `<=` counts it.
        while self.pending.front().is_some_and(|&n| n <= offset) {
            self.pending.pop_front();
            self.before += 1;
        }
        self.before + 1
    }
}

/// The newline positions (shared by the counting reader and the rows; never poisoned: no
/// code panics while holding it).
fn lock(newlines: &Mutex<Newlines>) -> std::sync::MutexGuard<'_, Newlines> {
    newlines.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Notes where every `\n` of the decoded text is, as the CSV reader pulls it.
struct LineCounter<R> {
    inner: R,
    offset: u64,
    newlines: Arc<Mutex<Newlines>>,
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut nl = lock(&self.newlines);
        for (i, b) in buf[..n].iter().enumerate() {
            if *b == b'\n' {
                nl.pending.push_back(self.offset + i as u64);
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

struct TextRows<R: Read> {
    reader: csv::Reader<LineCounter<R>>,
    record: csv::StringRecord,
    newlines: Arc<Mutex<Newlines>>,
    label: String,
}

impl<R: Read> Iterator for TextRows<R> {
    type Item = Result<super::RawRow, Rejection>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Ok(false) => return None,
                Ok(true) => {}
                Err(e) => {
                    let at = e.position().map(|p| p.byte()).unwrap_or(0);
                    let line = lock(&self.newlines).line_of(at);
                    return Some(Err(Rejection::new(&self.label, line, "-", format!("unreadable row: {e}"))));
                }
            }
            if self.record.iter().all(str::is_empty) {
                continue;
            }
            let at = self.record.position().map(|p| p.byte()).unwrap_or(0);
            let line = lock(&self.newlines).line_of(at);
            let cells = self.record.iter().map(str::to_string).collect();
            return Some(Ok(super::RawRow { line, cells }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delimiter_is_the_header_rows_own() {
        assert_eq!(detect_delimiter(b"email;first_name;\"a,b\"\nx,y,z,w\n"), b';');
        assert_eq!(detect_delimiter(b"email\tphone\n"), b'\t');
        assert_eq!(detect_delimiter(b"email,phone,\"x;y\"\n"), b',');
        assert_eq!(detect_delimiter(b"email\n"), b',');
    }

    #[test]
    fn lines_are_counted_from_the_rows_first_byte() {
        let mut n = Newlines::default();
        n.pending.extend([5, 12, 20]);
        assert_eq!(n.line_of(0), 1);
        assert_eq!(n.line_of(6), 2);
        assert_eq!(n.line_of(21), 4);
    }
}
