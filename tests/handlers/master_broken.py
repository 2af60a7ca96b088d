"""Test handler whose import fails, as a handler with a missing library would."""

raise ImportError("master_broken needs the library 'no_such_backend': pip install no_such_backend")
