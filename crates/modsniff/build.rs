//! Compiles the constructor that sets mimalloc's defaults before it initialises
//! (csrc/alloc_defaults.c says why).

fn main() {
    println!("cargo:rerun-if-changed=csrc/alloc_defaults.c");
    // libmimalloc-sys (`links = "mimalloc"`) exports its header directory.
    let include = std::env::var("DEP_MIMALLOC_INCLUDE_DIR")
        .expect("libmimalloc-sys exports DEP_MIMALLOC_INCLUDE_DIR");
    cc::Build::new()
        .file("csrc/alloc_defaults.c")
        .include(include)
        // Priority 100 is below mimalloc's 101 on purpose (the file says why); GCC reserves
        // 0-100 for the implementation and warns.
        .flag_if_supported("-Wno-prio-ctor-dtor")
        .compile("modsniff_alloc_defaults");
}
