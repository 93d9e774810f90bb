//! The `nurture` binary: everything lives in the library.

/// mimalloc: delivery allocates many short-lived buffers per message (render, MIME, SMTP);
/// glibc malloc cost ~20% of delivery CPU in the benchmark.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    nurture::cli::main()
}
