//! Embeds the built-in rule pack: every `rules/*.rego` file, in name order.

use std::fmt::Write as _;

fn main() {
    println!("cargo:rerun-if-changed=rules");
    let mut files: Vec<_> = std::fs::read_dir("rules")
        .expect("the rules directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rego"))
        .collect();
    files.sort();
    let mut out = String::from("/// The built-in rule pack: (file name, Rego text).\npub const PACK: &[(&str, &str)] = &[\n");
    for p in files {
        println!("cargo:rerun-if-changed={}", p.display());
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        // The text itself, not an `include_str!` of an absolute path: a target
        // directory shared by two checkouts of the same commit (CI's clone and a
        // working tree) must not compile one checkout's rules from the other's path.
        let text = std::fs::read_to_string(&p).expect("a rule file");
        writeln!(out, "    ({name:?}, {text:?}),").unwrap();
    }
    out.push_str("];\n");
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("pack.rs");
    std::fs::write(dest, out).unwrap();
}
