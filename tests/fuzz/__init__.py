"""Coverage-guided fuzzing with atheris: harness.py (run as a module, never imported by pytest, since
importing it instruments replimend's modules) and test_atheris.py (bounded runs in subprocesses)."""

#: Set to an exception's name, it makes the fuzzed parser raise it (harness.py, test_atheris.py).
BREAK_ENV = "REPLIMEND_FUZZ_BREAK"
