//! Embeds the project files `ordertrail init` writes (sql/, config/, data-fixtures/) into the
//! binary, so that an installed binary needs no checkout: `$OUT_DIR/bundled.rs` lists each
//! file's path and bytes.

use std::path::{Path, PathBuf};

const ROOTS: [&str; 3] = ["sql", "config", "data-fixtures"];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut files = Vec::new();
    for root in ROOTS {
        println!("cargo:rerun-if-changed={root}");
        collect(&manifest, &manifest.join(root), &mut files);
    }
    files.sort();
    let mut out =
        String::from("/// The files `ordertrail init` writes: path in the project, bytes.\n");
    out.push_str("pub static FILES: &[(&str, &[u8])] = &[\n");
    for (rel, abs) in &files {
        out.push_str(&format!("    ({rel:?}, include_bytes!({abs:?})),\n"));
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("bundled.rs");
    std::fs::write(dest, out).expect("write bundled.rs");
}

fn collect(manifest: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "__pycache__" {
            continue;
        }
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(manifest, &path, files);
        } else {
            let rel = path
                .strip_prefix(manifest)
                .expect("under the manifest dir")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push((rel, path.display().to_string()));
        }
    }
}
