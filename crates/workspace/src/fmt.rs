//! `terrane fmt`: every configuration file under some paths rewritten in canonical
//! form (`terrane_lang::fmt`), each file replaced atomically with its permissions kept.

use std::path::{Path, PathBuf};

/// What a formatting run found, file by file.
#[derive(Debug, Default)]
pub struct FmtReport {
    /// Files not in canonical form (rewritten, unless it was only a check).
    pub changed: Vec<PathBuf>,
    /// Files that do not parse, with the parser's message; left as they are.
    pub unparsable: Vec<(PathBuf, String)>,
    /// Files that could not be rewritten, with why.
    pub unwritable: Vec<(PathBuf, String)>,
}

/// Formats the `.tf` and `.tfvars` files under `roots` (files given directly are
/// formatted whatever their name), in path order; `write` rewrites the files that
/// change.
pub fn format_files(roots: &[PathBuf], recursive: bool, write: bool) -> FmtReport {
    let mut files = Vec::new();
    for r in roots {
        terrane_lang::fmt::collect_files(r, recursive, &mut files);
    }
    files.sort();
    let mut report = FmtReport::default();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        match terrane_lang::fmt::format_source(&text) {
            Ok(formatted) if formatted != text => {
                if write {
                    if let Err(e) = replace(&f, formatted.as_bytes()) {
                        report.unwritable.push((f.clone(), e.to_string()));
                    }
                }
                report.changed.push(f);
            }
            Ok(_) => {}
            Err(msg) => report.unparsable.push((f, msg)),
        }
    }
    report
}

/// Replaces `path` with `bytes` through a temporary file beside it, keeping the
/// file's permissions: a crash leaves the old file or the new one, never half of it.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let perms = std::fs::metadata(path)?.permissions();
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.terrane-fmt"));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.set_permissions(perms)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn rewrites_in_place_keeping_the_mode_and_reports_what_it_could_not() {
        let dir = tempfile::tempdir().unwrap();
        let ugly = dir.path().join("main.tf");
        std::fs::write(&ugly, "a   =  1\n").unwrap();
        std::fs::set_permissions(&ugly, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(dir.path().join("ok.tf"), "a = 1\n").unwrap();
        std::fs::write(dir.path().join("bad.tf"), "a = {\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x   =  1\n").unwrap();

        let check = format_files(&[dir.path().to_path_buf()], false, false);
        assert_eq!(check.changed, std::slice::from_ref(&ugly));
        assert_eq!(std::fs::read_to_string(&ugly).unwrap(), "a   =  1\n");
        assert_eq!(check.unparsable.len(), 1);
        assert!(check.unparsable[0].0.ends_with("bad.tf"));

        let done = format_files(&[dir.path().to_path_buf()], false, true);
        assert_eq!(done.changed, std::slice::from_ref(&ugly));
        assert!(done.unwritable.is_empty());
        assert_eq!(std::fs::read_to_string(&ugly).unwrap(), "a = 1\n");
        let mode = std::fs::metadata(&ugly).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "the file keeps its mode");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("terrane-fmt"))
            .collect();
        assert!(leftovers.is_empty());
        assert!(format_files(&[dir.path().to_path_buf()], false, false)
            .changed
            .is_empty());
    }
}
