//! Sets `cfg(segpool_std)` when neither model checker is enabled: the build whose primitives are std's
//! (`src/sync.rs`). It stands for `not(any(feature = "loom", feature = "shuttle"))`, which every std-only item
//! (the reference strategies, the kernel backends, CPU pinning, the comparison command) would otherwise spell out.
//! Cargo passes it to every target of the package: the library, the binary, the tests, benches and doctests.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(segpool_std)");
    let loom = std::env::var_os("CARGO_FEATURE_LOOM").is_some();
    let shuttle = std::env::var_os("CARGO_FEATURE_SHUTTLE").is_some();
    if !loom && !shuttle {
        println!("cargo::rustc-cfg=segpool_std");
    }
}
