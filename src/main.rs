//! The `gateway` binary: a thin entry point; the commands live in `gateway::cli`.

use clap::Parser;

/// jemalloc for the whole process: Rust's allocations, and SQLite's too (its `malloc` and
/// `free` resolve to jemalloc's unprefixed ones). glibc's allocator took 18% of the gateway's
/// CPU in `perf` (`malloc_consolidate`, `unlink_chunk`: messages, rows and HTTP bodies of every
/// size freed on other threads than the ones that made them); with jemalloc the gateway took
/// 0.55-0.56 ms of CPU per order against 0.66 (README, Performance).
#[cfg(all(target_os = "linux", not(target_env = "msvc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    let cli = gateway::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(gateway::cli::execute(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
