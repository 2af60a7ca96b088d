"""The storage daemon's back end: a SQLite catalogue of records and a balanced tree of files under data_dir."""
