fn main() -> std::process::ExitCode {
    ikev1d::cli::main()
}
