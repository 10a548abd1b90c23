//! Two jobs. First, sets `cfg(segpool_std)` when neither model checker is enabled: the build whose primitives are
//! std's (`src/sync.rs`). It stands for `not(any(feature = "loom", feature = "shuttle"))`, which every std-only
//! item (the reference strategies, the kernel backends, CPU pinning, the comparison command) would otherwise spell
//! out. Cargo passes it to every target of the package: the library, the binary, the tests, benches and doctests.
//!
//! Second, records the compiler's version (`$RUSTC -V`) in `SEGPOOL_RUSTC_VERSION`, which the comparison command
//! writes into its provenance (`src/bin/segpool/provenance.rs`): a result says which compiler built the code it
//! measured. "unknown" if the compiler cannot be asked.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=RUSTC");
    println!("cargo::rustc-check-cfg=cfg(segpool_std)");
    let loom = std::env::var_os("CARGO_FEATURE_LOOM").is_some();
    let shuttle = std::env::var_os("CARGO_FEATURE_SHUTTLE").is_some();
    if !loom && !shuttle {
        println!("cargo::rustc-cfg=segpool_std");
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo::rustc-env=SEGPOOL_RUSTC_VERSION={version}");
}
