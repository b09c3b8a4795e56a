# Makes the top-level model files importable in tests from a source checkout without installing it.
