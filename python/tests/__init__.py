"""Unit tests of sso_torch that need no torch (run: python3 -m unittest discover -s python/tests -t python)."""
