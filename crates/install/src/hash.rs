//! Provider package hashes, as the lock file records them.
//!
//! - `h1:` is Go's `golang.org/x/mod/sumdb/dirhash.Hash1` over the package's files: for
//!   each file, sorted by its `/`-separated path relative to the package root, the line
//!   `SHA256HEX  PATH\n`; the hash is the base64 (standard, padded) SHA-256 of those
//!   lines. An unpacked directory and the `.zip` it came from have the same `h1:`.
//! - `zh:` is the hex SHA-256 of the `.zip` file itself (the "legacy" scheme a registry's
//!   `SHA256SUMS` lists); it can be checked only against an archive.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// A package hash as written in the lock file, `SCHEME:VALUE`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash(String);

/// The hash schemes Terraform knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashScheme {
    /// `h1:`, over the package contents.
    H1,
    /// `zh:`, over the `.zip` archive.
    Zip,
    /// A scheme this version does not know; never matches a package.
    Other,
}

/// Why a hash could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("cannot hash the package at {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot hash the package at {path}: {source}")]
    Zip {
        path: PathBuf,
        source: zip::result::ZipError,
    },
    #[error("cannot hash the package at {path}: file names with newlines are not supported")]
    NewlineInName { path: PathBuf },
    #[error("cannot hash the package at {path}: it is not a directory")]
    NotADirectory { path: PathBuf },
}

/// A hash string without a `scheme:` prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot interpret {0:?} as a provider hash: hash string must start with a scheme keyword followed by a colon")]
pub struct InvalidHash(pub String);

impl Hash {
    /// Parses `SCHEME:VALUE`; any scheme is accepted (an unknown one never matches).
    pub fn parse(given: &str) -> Result<Hash, InvalidHash> {
        match given.find(':') {
            Some(colon) if colon >= 1 => Ok(Hash(given.to_string())),
            _ => Err(InvalidHash(given.to_string())),
        }
    }

    pub fn scheme(&self) -> HashScheme {
        match self.0.split_once(':').map(|(scheme, _)| scheme) {
            Some("h1") => HashScheme::H1,
            Some("zh") => HashScheme::Zip,
            _ => HashScheme::Other,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `zh:` hash of a zip archive's SHA-256 digest.
    pub fn zip_from_digest(digest: &[u8]) -> Hash {
        Hash(format!("zh:{}", hex::encode(digest)))
    }

    /// Whether Terraform can check this kind of hash against a package (`h1:` or `zh:`):
    /// its "preferred" hashes, the ones a package must match one of.
    pub fn is_checkable(&self) -> bool {
        self.scheme() != HashScheme::Other
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `h1:` hash of an unpacked package directory (which may be a symlink). Files are
/// found as Go's `filepath.Walk` finds them: symlinks inside are not followed into, but
/// a symlink to a file is hashed as that file.
pub fn hash_dir(dir: &Path) -> Result<Hash, HashError> {
    let root = fs::canonicalize(dir).map_err(|source| HashError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if !root.is_dir() {
        return Err(HashError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    let mut files = Vec::new();
    collect_files(&root, "", &mut files)?;
    let mut entries = Vec::with_capacity(files.len());
    for name in files {
        let path = root.join(&name);
        let digest = sha256_file(&path)?;
        entries.push((name.into_bytes(), digest));
    }
    summary_hash(dir, entries)
}

fn collect_files(dir: &Path, prefix: &str, files: &mut Vec<String>) -> Result<(), HashError> {
    let io_error = |source| HashError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if entry.file_type().map_err(io_error)?.is_dir() {
            collect_files(&entry.path(), &rel, files)?;
        } else {
            files.push(rel);
        }
    }
    Ok(())
}

/// The `h1:` hash of a zip archive's entries (Go's `dirhash.HashZip`): every entry,
/// directories included, by its name in the archive.
pub fn hash_zip(archive: &Path) -> Result<Hash, HashError> {
    let zip_error = |source| HashError::Zip {
        path: archive.to_path_buf(),
        source,
    };
    let file = fs::File::open(archive).map_err(|source| HashError::Io {
        path: archive.to_path_buf(),
        source,
    })?;
    let mut zip = zip::ZipArchive::new(io::BufReader::new(file)).map_err(zip_error)?;
    let mut entries = Vec::with_capacity(zip.len());
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).map_err(zip_error)?;
        let name = entry.name_raw().to_vec();
        let mut hasher = Sha256::new();
        io::copy(&mut entry, &mut hasher).map_err(|source| HashError::Io {
            path: archive.to_path_buf(),
            source,
        })?;
        entries.push((name, hasher.finalize().to_vec()));
    }
    summary_hash(archive, entries)
}

/// The `zh:` hash of a zip archive: the SHA-256 of the file.
pub fn hash_zip_file(archive: &Path) -> Result<Hash, HashError> {
    Ok(Hash::zip_from_digest(&sha256_file(archive)?))
}

fn summary_hash(path: &Path, mut entries: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Hash, HashError> {
    entries.sort();
    let mut summary = Sha256::new();
    for (name, digest) in entries {
        if name.contains(&b'\n') {
            return Err(HashError::NewlineInName {
                path: path.to_path_buf(),
            });
        }
        summary.update(hex::encode(digest).as_bytes());
        summary.update(b"  ");
        summary.update(&name);
        summary.update(b"\n");
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(summary.finalize());
    Ok(Hash(format!("h1:{encoded}")))
}

fn sha256_file(path: &Path) -> Result<Vec<u8>, HashError> {
    let io_error = |source| HashError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = fs::File::open(path).map_err(io_error)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer).map_err(io_error)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher.finalize().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// The `h1:` Terraform 1.15 recorded for a package holding one file,
    /// `terraform-provider-x_v1.2.3`, with the contents below (the oracle test
    /// `tests/it` checks the same against the running Terraform).
    #[test]
    fn h1_of_a_directory_matches_terraform() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("terraform-provider-x_v1.2.3"),
            "#!/bin/sh\necho hi\n",
        )
        .unwrap();
        assert_eq!(
            hash_dir(dir.path()).unwrap().as_str(),
            "h1:yC8yQr6Avqra6JSFxpUPvjS4MBcW/MhZ2zPiopCcd1k="
        );
    }

    /// Go's dirhash: `sha256(file)  name\n` lines sorted by name, nested paths with `/`.
    #[test]
    fn h1_is_dirhash_over_sorted_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("b"), "bee").unwrap();
        fs::write(dir.path().join("sub/a"), "ay").unwrap();
        fs::write(dir.path().join("A"), "").unwrap();
        let mut summary = String::new();
        for (name, content) in [("A", ""), ("b", "bee"), ("sub/a", "ay")] {
            summary.push_str(&format!(
                "{}  {name}\n",
                hex::encode(Sha256::digest(content))
            ));
        }
        let expected = format!(
            "h1:{}",
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(summary.as_bytes()))
        );
        assert_eq!(hash_dir(dir.path()).unwrap().as_str(), expected);
    }

    #[test]
    fn a_zip_hashes_like_its_contents() {
        let dir = tempfile::tempdir().unwrap();
        let unpacked = dir.path().join("unpacked");
        fs::create_dir(&unpacked).unwrap();
        fs::write(
            unpacked.join("terraform-provider-x_v1.2.3"),
            "#!/bin/sh\necho x 1.2.3\n",
        )
        .unwrap();
        let archive = dir.path().join("p.zip");
        let mut writer = zip::ZipWriter::new(fs::File::create(&archive).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        writer
            .start_file("terraform-provider-x_v1.2.3", options)
            .unwrap();
        writer.write_all(b"#!/bin/sh\necho x 1.2.3\n").unwrap();
        writer.finish().unwrap();
        assert_eq!(hash_zip(&archive).unwrap(), hash_dir(&unpacked).unwrap());
        let zh = hash_zip_file(&archive).unwrap();
        assert_eq!(
            zh.as_str(),
            format!(
                "zh:{}",
                hex::encode(Sha256::digest(fs::read(&archive).unwrap()))
            )
        );
        assert_eq!(zh.scheme(), HashScheme::Zip);
    }

    #[test]
    fn hash_strings() {
        assert_eq!(Hash::parse("h1:abc").unwrap().scheme(), HashScheme::H1);
        assert_eq!(Hash::parse("zh:abc").unwrap().scheme(), HashScheme::Zip);
        assert_eq!(Hash::parse("h9:abc").unwrap().scheme(), HashScheme::Other);
        assert!(Hash::parse(":abc").is_err());
        assert!(Hash::parse("abc").is_err());
    }
}
