//! Printable reports: a titled A4 table that breaks across pages with its header repeated,
//! totals under it and page numbers, as a PDF with its font embedded (DejaVu Sans, under
//! `assets/fonts/` with its licence) so the text can be extracted (`pdftotext`). The
//! logbook uses it; the reimbursement statements will too.

use krilla::Document;
use krilla::geom::{PathBuilder, Point};
use krilla::page::PageSettings;
use krilla::paint::Stroke;
use krilla::text::{Font, TextDirection};

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// A4 landscape, in points: tables of many columns fit.
const PAGE: (f32, f32) = (842.0, 595.0);
const MARGIN: f32 = 40.0;
const ROW: f32 = 13.0;
const SIZE: f32 = 8.5;
/// DejaVu Sans averages a little over half an em per character.
const CHAR_EM: f32 = 0.56;

/// A column: its heading, width in points and whether numbers align right.
#[derive(Debug, Clone)]
pub struct Column {
    /// The heading.
    pub heading: &'static str,
    /// Width, points.
    pub width: f32,
    /// Right-aligned (numbers).
    pub right: bool,
}

/// What to print.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// The title, in bold at the top of the first page.
    pub title: String,
    /// Lines under the title (fleet, vehicle, period...).
    pub subtitle: Vec<String>,
    /// The columns.
    pub columns: Vec<Column>,
    /// The rows, one cell per column.
    pub rows: Vec<Vec<String>>,
    /// Lines after the table (totals), in bold.
    pub totals: Vec<String>,
    /// Lines at the very end (generation time, signature line).
    pub closing: Vec<String>,
}

/// Text that fits `width` points at `size`, cut with an ellipsis.
fn fit(text: &str, width: f32, size: f32) -> String {
    let max = ((width - 4.0) / (size * CHAR_EM)).floor().max(1.0) as usize;
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// Where `text` starts in column `c` at `x`: numbers end 10 points before the next
/// column, text starts 2 points into its own.
fn place(c: &Column, x: f32, text: &str) -> f32 {
    if c.right {
        x + c.width - 10.0 - text.chars().count() as f32 * SIZE * CHAR_EM
    } else {
        x + 2.0
    }
}

/// The PDF of `table`.
pub fn pdf(table: &Table) -> Result<Vec<u8>, String> {
    let regular = Font::new(REGULAR.into(), 0).ok_or("the embedded font cannot be read")?;
    let bold = Font::new(BOLD.into(), 0).ok_or("the embedded font cannot be read")?;
    // Lay the pages out first, so each can say "page n of N".
    let usable = PAGE.1 - 2.0 * MARGIN - 2.0 * ROW;
    let first_rows =
        ((usable - (2.0 + table.subtitle.len() as f32) * ROW) / ROW).floor() as usize - 1;
    let next_rows = (usable / ROW).floor() as usize - 1;
    let mut pages: Vec<&[Vec<String>]> = Vec::new();
    let mut rest: &[Vec<String>] = &table.rows;
    let mut capacity = first_rows.max(1);
    loop {
        let take = capacity.min(rest.len());
        pages.push(&rest[..take]);
        rest = &rest[take..];
        capacity = next_rows.max(1);
        if rest.is_empty() {
            break;
        }
    }
    let tail_lines = table.totals.len() + table.closing.len() + 2;
    let last_room = if pages.len() == 1 {
        first_rows
    } else {
        next_rows
    };
    let tail_on_new_page = pages.last().map_or(0, |p| p.len()) + tail_lines > last_room + 1;
    let count = pages.len() + usize::from(tail_on_new_page);

    let mut document = Document::new();
    let settings = PageSettings::from_wh(PAGE.0, PAGE.1).ok_or("bad page size")?;
    for (index, rows) in pages.iter().enumerate() {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        let mut y = MARGIN;
        let text = |surface: &mut krilla::surface::Surface,
                    x: f32,
                    y: f32,
                    font: &Font,
                    size: f32,
                    s: &str| {
            surface.draw_text(
                Point::from_xy(x, y),
                font.clone(),
                size,
                s,
                false,
                TextDirection::Auto,
            );
        };
        if index == 0 {
            y += ROW;
            text(&mut surface, MARGIN, y, &bold, 14.0, &table.title);
            y += 4.0;
            for line in &table.subtitle {
                y += ROW;
                text(&mut surface, MARGIN, y, &regular, 9.5, line);
            }
            y += ROW;
        }
        // The header, repeated on every page, with a rule under it.
        y += ROW;
        let mut x = MARGIN;
        for c in &table.columns {
            let heading = fit(c.heading, c.width, SIZE);
            let at = place(c, x, &heading);
            text(&mut surface, at, y, &bold, SIZE, &heading);
            x += c.width;
        }
        let mut rule = PathBuilder::new();
        rule.move_to(MARGIN, y + 3.0);
        rule.line_to(PAGE.0 - MARGIN, y + 3.0);
        if let Some(path) = rule.finish() {
            surface.set_stroke(Some(Stroke {
                width: 0.5,
                ..Stroke::default()
            }));
            surface.draw_path(&path);
            surface.set_stroke(None);
        }
        for row in rows.iter() {
            y += ROW;
            let mut x = MARGIN;
            for (c, cell) in table.columns.iter().zip(row) {
                let cell = fit(cell, c.width, SIZE);
                let at = place(c, x, &cell);
                text(&mut surface, at, y, &regular, SIZE, &cell);
                x += c.width;
            }
        }
        let last = index + 1 == pages.len();
        if last && !tail_on_new_page {
            y += ROW;
            tail(&mut surface, &mut y, table, &regular, &bold);
        }
        let footer = format!("Page {} of {count}", index + 1);
        text(
            &mut surface,
            PAGE.0 - MARGIN - 60.0,
            PAGE.1 - MARGIN / 2.0,
            &regular,
            8.0,
            &footer,
        );
        surface.finish();
        page.finish();
    }
    if tail_on_new_page {
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        let mut y = MARGIN;
        tail(&mut surface, &mut y, table, &regular, &bold);
        let footer = format!("Page {count} of {count}");
        surface.draw_text(
            Point::from_xy(PAGE.0 - MARGIN - 60.0, PAGE.1 - MARGIN / 2.0),
            regular.clone(),
            8.0,
            &footer,
            false,
            TextDirection::Auto,
        );
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| format!("the PDF could not be made: {e:?}"))
}

/// The totals and closing lines.
fn tail(
    surface: &mut krilla::surface::Surface,
    y: &mut f32,
    table: &Table,
    regular: &Font,
    bold: &Font,
) {
    for line in &table.totals {
        *y += ROW;
        surface.draw_text(
            Point::from_xy(MARGIN, *y),
            bold.clone(),
            9.5,
            line,
            false,
            TextDirection::Auto,
        );
    }
    *y += ROW;
    for line in &table.closing {
        *y += ROW * 1.5;
        surface.draw_text(
            Point::from_xy(MARGIN, *y),
            regular.clone(),
            9.0,
            line,
            false,
            TextDirection::Auto,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn long_cells_are_cut_with_an_ellipsis() {
        assert_eq!(fit("Depot", 100.0, 8.5), "Depot");
        let cut = fit(&"x".repeat(100), 60.0, 8.5);
        assert!(cut.ends_with('…') && cut.chars().count() < 20, "{cut}");
    }
}
