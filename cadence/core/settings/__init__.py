"""The sections of ``cadence.toml`` that ``cadence.core.config`` parses, one module each."""
