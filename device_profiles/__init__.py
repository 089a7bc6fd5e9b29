"""Built-in device profiles (TOML), shipped as package data."""
