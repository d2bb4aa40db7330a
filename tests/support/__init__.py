"""Real and fake servers the tests start, and helpers to read plugin output."""
