//! Configuration: the IOS dialect (first class) and TOML, with line numbers.
