fn main() -> std::process::ExitCode {
    httplib_host::cli_main()
}
