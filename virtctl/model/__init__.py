"""Pure KubeVirt objects: kinds, names, printable status, builders. No I/O, no third-party imports
beyond PyYAML where a builder renders YAML."""
