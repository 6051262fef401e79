//! Embeds the web app (`web/`) in the binary: writes `$OUT_DIR/web_assets.rs`, a table of
//! every file under `web/` (its path relative to `web/` and its bytes through
//! `include_bytes!`), and a version string that changes whenever any byte does, so the
//! app's asset URLs can be cached for a year. Only the standard library is used, so the
//! build script costs no crate builds.

use std::{
    env, fs,
    path::{Path, PathBuf},
};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    println!("cargo:rerun-if-changed=web");
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    files.sort();
    // FNV-1a over every path and content: a cache buster, not a security measure.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    let mut table = String::from(
        "/// Every file of `web/`: its path below `web/` and its bytes.\npub static FILES: &[(&str, &[u8])] = &[\n",
    );
    for (rel, path) in &files {
        feed(rel.as_bytes());
        feed(&fs::read(path).expect("read a web file"));
        table.push_str(&format!("    ({rel:?}, include_bytes!({:?})),\n", path.display().to_string()));
    }
    table.push_str("];\n");
    table.push_str(&format!(
        "/// Changes whenever a file of `web/` does: the asset URLs' version segment.\npub const VERSION: &str = \"{:012x}\";\n",
        hash & 0xffff_ffff_ffff
    ));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("web_assets.rs");
    fs::write(out, table).expect("write web_assets.rs");
}

/// Files below `dir`, skipping dot files and `node_modules` (a developer's tools, never served).
fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "node_modules" {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            out.push((rel, path));
        }
    }
}
