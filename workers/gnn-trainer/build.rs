//! Link settings for libtorch.
//!
//! * An rpath to the libtorch directory torch-sys built against (`DEP_TCH_LIBTORCH_LIB`), so
//!   that `cargo test` and the CLI run without `LD_LIBRARY_PATH`; `$ORIGIN/lib` after it, so a
//!   binary carried with its libraries in a `lib/` beside it runs anywhere. `LD_LIBRARY_PATH`
//!   still wins (the linker writes RUNPATH, which is searched after it).
//! * CUDA: rustc links with `--as-needed`, which drops `libtorch_cuda.so` (nothing names its
//!   symbols; it registers CUDA with libtorch when loaded). Without it the binary is CPU-only
//!   and needs none of the CUDA libraries (cuBLAS, cuDNN, ...: gigabytes). Set
//!   `STREAMFORGE_TORCH_CUDA=1` at build time to link it anyway, for a GPU build.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rerun-if-env-changed=STREAMFORGE_TORCH_CUDA");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        if std::env::var("STREAMFORGE_TORCH_CUDA").is_ok_and(|v| v == "1")
            && std::path::Path::new(&lib).join("libtorch_cuda.so").exists()
        {
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
        }
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN/lib");
}
