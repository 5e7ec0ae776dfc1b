//! Plain-text tables whose columns are as wide as their widest cell, so that no value
//! (a long emulator path, "i686 (linux32)") pushes the rest of its row out of line.

/// Render `header` and `rows` with one space between columns; the last column is not
/// padded.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.push_str(&" ".repeat(widths[i] - cell.chars().count() + 1));
            }
        }
        text.trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn every_column_starts_at_the_same_place_in_every_row() {
        let rows = vec![
            vec!["i586".into(), "i686 (linux32)".into(), "native".into()],
            vec![
                "aarch64".into(),
                "aarch64".into(),
                "/usr/bin/qemu-aarch64-static".into(),
            ],
        ];
        let text = render(&["ARCH", "UNAME", "EMULATOR"], &rows);
        let starts: Vec<usize> = text
            .lines()
            .map(|l| {
                l.find("native")
                    .or(l.find("/usr"))
                    .or(l.find("EMULATOR"))
                    .unwrap()
            })
            .collect();
        assert!(starts.windows(2).all(|w| w[0] == w[1]), "{text}");
    }
}
