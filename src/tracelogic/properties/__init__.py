"""The standard library of .spec files, importable as ``std.NAME``."""
